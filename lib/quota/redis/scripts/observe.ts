/**
 * The observation pieces of the after-a-call script (see index.ts): M of them, from ARGV[a] and KEYS[k] on,
 * after the settles (the prologue sets `now` and `M`; the settle pieces leave `a` and `k` past their own).
 *
 * KEYS and ARGV of a piece: `writeObserve` in protocol.ts (its workspace's registry and each observed
 * window with its layout code, limit and remaining; for a 429: blockedForMs, then the keys it may block:
 * the named kind at both scopes, else the model's windows the process knows, else the window to create).
 *
 * An observation takes what the upstream reported into the windows of a workspace. A 429 blocks, as the
 * memory store does, the named kind at whichever scope exists; else the model's windows that exist; else
 * the window to create (a standard kind's own, or tokens-per-minute). A reported limit becomes the
 * window's learned limit (`l`). A reported remaining lower
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
  local count = tonumber(ARGV[a])
  a = a + 1
  local registry = KEYS[k]
  for i = 1, count do
    local key = KEYS[k + i]
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
  local blocked_for, named, scanned, create_code = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), ARGV[a + 3]
  a = a + 4
  k = k + 1 + count
  if blocked_for then
    local until_ms = now + blocked_for
    local targets = {}
    -- The named kind's keys first; when none exists, the model's windows.
    for i = k, k + named + scanned - 1 do
      if i == k + named and #targets > 0 then break end
      local st = touched[KEYS[i]] or peek(KEYS[i], registry)
      if st then targets[#targets + 1] = st end
    end
    if #targets == 0 then
      -- No window to block yet: create the one the caller named (a standard kind, or tokens-per-minute),
      -- so that the next reserve through it sees the 429.
      local key = KEYS[k + named + scanned]
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
    k = k + named + scanned + 1
  end
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
