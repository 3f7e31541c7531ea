/**
 * The settle and release pieces of the after-a-call script (see index.ts for how it is composed): S of them,
 * from ARGV[a] and KEYS[k] on (the script's prologue sets `now`, `S`, `a` and `k`); each result goes to `out`.
 *
 * A settle or release gives back (or charges) the difference in the buckets its reservation charged, once.
 * Its arguments: window count, member (see the layout), at, token delta, request delta, A (members to add:
 * 0, or for a grant split the number of its decisions still pending), L (for a grant split, the number of
 * its decisions settled or released by its own instance), when A > 0 their score and the A members, the L
 * ids, and one layout code per window; its KEYS: its workspace's `pending` key, then its window keys.
 * A delta lands in the bucket of `at` only while that bucket still counts (after that it no longer counts
 * anywhere), and only if the window still exists. Its number in the reply: 1 when applied, 0 when it was
 * already settled, released or expired. A decision taken from a grant (id `G/n`, G the grant's id) that is
 * not pending yet because its grant was not split is applied all the same while the grant's member is
 * pending (the `grants` index says so), and noted in `early` with the deltas applied; the split then skips
 * it, or, when its own instance settled it too (one of the L ids), undoes that early delta: settled twice,
 * by any instances, a decision counts once. A window several settles touch is read once (one
 * HMGET of `o`, `t` and the first bucket; another bucket of the same window costs one HGET) and written
 * once (one HSET, and one HDEL for emptied buckets).
 */
export const SETTLE_PIECES = `
-- Settles and releases: S of them, from ARGV[a] and KEYS[k] on.
local wins, order = {}, {}
local out = {}
for j = 1, S do
  local nw, member = tonumber(ARGV[a]), ARGV[a + 1]
  local at, dt, dr, na = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local nl = tonumber(ARGV[a + 6])
  a = a + 7
  local adds = a
  if na > 0 then a = a + 1 + na end
  local locals = a
  a = a + nl
  local applied = redis.call('ZREM', KEYS[k], member) == 1
  if not applied then
    -- A decision taken from a grant not split yet, settled by another instance than the grant's: applied
    -- now, and marked so that the split does not make it a pending member.
    local sid = string.match(member, '^%S+')
    local gid = string.match(sid, '^(.+%+)/%w+$')
    if gid then
      -- The grant's expiry while it is pending (see the key layout).
      local score = tonumber(redis.call('HGET', sibling(KEYS[k], 'grants'), gid))
      if score and score <= now then score = nil end
      local early = sibling(KEYS[k], 'early')
      if score and redis.call('HSETNX', early, sid, dt .. ' ' .. dr) == 1 then
        applied = true
        if redis.call('PTTL', early) < score - now + SLIDE_MARGIN then redis.call('PEXPIRE', early, floor(score - now + SLIDE_MARGIN)) end
      end
    end
  end
  if not applied then
    out[j] = 0
  else
    out[j] = 1
    local gid = string.match(member, '^(%S+%+) ')
    if gid then redis.call('HDEL', sibling(KEYS[k], 'grants'), gid) end
    local early = sibling(KEYS[k], 'early')
    local check = (na > 0 or nl > 0) and redis.call('EXISTS', early) == 1
    if na > 0 then
      -- A grant split: the decisions it admitted that are not settled yet become pending reservations of
      -- their own, with the grant's expiry (but for those another instance settled already).
      local zadd = { KEYS[k] }
      for m = 1, na do
        local add = ARGV[adds + m]
        if not (check and redis.call('HDEL', early, string.match(add, '^%S+')) == 1) then
          zadd[#zadd + 1] = ARGV[adds]
          zadd[#zadd + 1] = add
        end
      end
      if #zadd > 1 then redis.call('ZADD', unpack(zadd)) end
    end
    if check then
      -- Decisions its own instance settled or released (their use is in dt and dr) that another instance
      -- settled early as well: the early delta is undone, so each counts once.
      for m = 0, nl - 1 do
        local id = ARGV[locals + m]
        local delta = redis.call('HGET', early, id)
        if delta then
          redis.call('HDEL', early, id)
          local edt, edr = string.match(delta, '^(%S+) (%S+)$')
          dt, dr = dt - tonumber(edt), dr - tonumber(edr)
        end
      end
    end
    for i = 1, nw do
      local key, code = KEYS[k + i], ARGV[a + i - 1]
      local bms, n, tok = geometry(code)
      local delta = tok and dt or dr
      if bms and delta ~= 0 then
        local kb = bucket(at, bms)
        if kb >= bucket(now, bms) - n then
          local w = wins[key]
          local v
          if not w then
            local r = redis.call('HMGET', key, 'o', 't', kb)
            w = { o = tonumber(r[1]), t = tonumber(r[2]), b = {} }
            wins[key] = w
            order[#order + 1] = key
            v = tonumber(r[3]) or 0
          else
            v = w.b[kb]
            if v == nil and w.o then v = tonumber(redis.call('HGET', key, kb)) or 0 end
          end
          -- A window that is gone (an expired key must not come back without its expiry), or a bucket
          -- already subtracted from t, takes nothing.
          if w.o and kb >= w.o then
            v = v + delta
            w.t = w.t + delta
            -- An emptied bucket goes; t keeps the sum of what remains.
            if v <= 0 then
              w.t = w.t - v
              v = 0
            end
            w.b[kb] = v
            w.dirty = true
          end
        end
      end
    end
  end
  a = a + nw
  k = k + 1 + nw
end
for _, key in ipairs(order) do
  local w = wins[key]
  if w.dirty then
    local set, gone = { key }, { key }
    for kb, v in pairs(w.b) do
      if v > 0 then
        set[#set + 1] = kb
        set[#set + 1] = v
      else
        gone[#gone + 1] = kb
      end
    end
    set[#set + 1] = 't'
    set[#set + 1] = w.t
    redis.call('HSET', unpack(set))
    if #gone > 1 then redis.call('HDEL', unpack(gone)) end
  end
end
`;
