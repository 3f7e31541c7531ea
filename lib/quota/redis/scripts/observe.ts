/**
 * The observation pieces of the after-a-call script (see index.ts): M of them, from ARGV[a] and KEYS[k] on,
 * after the settles (the prologue sets `now` and `M`; the settle pieces leave `a` and `k` past their own).
 *
 * An observation takes what the upstream reported into the windows of a workspace. Its arguments: the
 * number of KEYS it uses, the number of observed windows, per observed window: layout code, limit,
 * remaining ('' = not reported); then blockedForMs ('' = no 429), the key prefix of the model's windows to
 * block when the named keys do not exist ('' = do not scan), and the layout code of the window to create
 * ('' without a 429). Its KEYS: its workspace's registry (`windows`), one key per observed window, then
 * (for a 429) the keys of the named kind at both scopes, and last the window to create and block when no
 * window is found. A reported limit becomes the window's learned limit (`l`). A reported remaining lower
 * than ours means someone else uses the workspace: the difference is charged to the current bucket, so our
 * view matches the upstream's. A 429 sets `b`. Windows unknown so far are created (a learned
 * requests-per-minute window needs no new code). A window several observations touch is read once, and
 * its expiry moved once, at the end.
 */
export const OBSERVE_PIECES = `
-- Observations: M of them, from ARGV[a] and KEYS[k] on.
local touched = {}
-- A window known by name only (no layout to hand): nil when it does not exist, else its state, opened
-- with the layout it records (a later observation of the same window in this script goes on from it).
local function peek(key, registry)
  local r = redis.call('HMGET', key, 't', 'p')
  if not r[1] then return nil end
  if geometry(r[2]) then return open(key, r[2], now, registry, nil) end
  -- No layout readable (not written by this store): only its block is touched.
  return { key = key, b = tonumber(redis.call('HGET', key, 'b')) or 0 }
end
for _ = 1, M do
  local kb = k - 1
  local nkeys, count = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local registry = KEYS[kb + 1]
  for i = 1, count do
    local key = KEYS[kb + 1 + i]
    local st = touched[key]
    if not (st and st.bms) then
      -- Not opened yet, or only peeked without a layout: open it with the observed one.
      local peeked = st
      st = open(key, ARGV[a], now, registry, nil)
      if peeked and peeked.moved then st.moved = true end
    end
    local limit, remaining = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    a = a + 3
    if limit and limit > 0 and st.l ~= limit then
      -- A limit of 0 (sent with 429s) is a refusal, not the tier's limit. An unchanged one is not rewritten.
      redis.call('HSET', key, 'l', limit)
      st.l = limit
      st.moved = true
    end
    local lim = st.l or tonumber(st.c)
    if remaining and lim then
      local extra = (lim - remaining) - st.t
      if extra > 0 then
        if st.cur == 0 then st.moved = true end
        st.cur = st.cur + extra
        st.t = st.t + extra
        redis.call('HSET', key, st.k, st.cur, 't', st.t)
      end
    end
    touched[key] = st
  end
  local blocked_for, scan_prefix, create_code = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2]
  a = a + 3
  if blocked_for then
    local until_ms = now + blocked_for
    local targets = {}
    for i = kb + 2 + count, kb + nkeys - 1 do
      local st = touched[KEYS[i]] or peek(KEYS[i], registry)
      if st then targets[#targets + 1] = st end
    end
    if #targets == 0 and scan_prefix ~= '' then
      -- Every window of the model: read from the registry rather than KEYS, which is safe on a Cluster
      -- because they share the workspace's hash tag (one slot).
      for _, key in ipairs(redis.call('SMEMBERS', registry)) do
        if string.sub(key, 1, #scan_prefix) == scan_prefix then
          local st = touched[key] or peek(key, registry)
          if st then targets[#targets + 1] = st end
        end
      end
    end
    if #targets == 0 then
      -- No window to block yet: create the one the caller named (a standard kind, or tokens-per-minute),
      -- so that the next reserve through it sees the 429.
      local key = KEYS[kb + nkeys]
      targets[1] = touched[key] or open(key, create_code, now, registry, nil)
    end
    for _, st in ipairs(targets) do
      if st.b < until_ms then
        redis.call('HSET', st.key, 'b', until_ms)
        st.b = until_ms
        st.moved = true
      end
      touched[st.key] = st
    end
  end
  k = k + nkeys
end
-- Expiries move only where this script changed what they cover: a learned limit (kept a day), a block, a
-- bucket opened by the upstream's extra usage. Most observations change nothing and write nothing.
for key, st in pairs(touched) do
  if not st.moved then
    -- unchanged: the expiry set by whoever wrote the window still covers it
  elseif st.bms then redis.call('PEXPIRE', key, ttl_of(st, now))
  else
    local pttl = redis.call('PTTL', key)
    local need = st.b - now + SLIDE_MARGIN
    if pttl < need then redis.call('PEXPIRE', key, need) end
  end
end
`;
