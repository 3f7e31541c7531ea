import { GRANT_SHARE, MAX_GRANT_MS } from '../keys.js';
import { BASE, WINDOWS } from './shared.js';

/**
 * reserve: decide a batch of reservations, in order, each taking the first of its candidates whose every
 * window admits its cost: one atomic step for the whole batch (every decision of one tick of one process
 * travels in one script). Decisions of a batch see each other's charges exactly as consecutive scripts
 * would; the windows touched are read once (one HMGET each) and written once, at the end (one HSET each),
 * and the pending members of a workspace are added by one ZADD.
 *
 * KEYS: for each workspace g its `pending` and `windows` keys (KEYS[2g-1], KEYS[2g]), then the distinct
 * window keys of the batch (window w is KEYS[2G + w]).
 * ARGV: now ('' = Redis TIME), reservation ttl ms, G (workspaces), D (distinct candidates), R (decisions);
 * then D candidate definitions, one argument each: `g|window count|member suffix|w|layout code|configured
 * limit|w|code|limit...` ('' = unknown limit; names are URI-encoded, so `|` never occurs in them), read only
 * for the candidates a decision reaches (a decision whose first candidate has room reads one); then R
 * decisions: id, tokens, requests, want (the grant asked for, 0 = none), C, and C candidate numbers (1..D,
 * in the caller's order), or C = 0 for "every definition, in order" (one decision, or decisions sharing one
 * candidate list).
 *
 * A grant: a decision admitted by the first candidate of its list with `want` >= 2 also charges, in the same
 * step, up to `want` more decisions of its size (tokens and requests) to that candidate's windows, as long
 * as each window keeps room: a window gives at most 1/GRANT_SHARE of the room left after the decision. The
 * grant is one more pending member (`id+`, its tokens and requests), and it is valid until the end of the
 * bucket it charged in the window with the shortest buckets (and at most MAX_GRANT_MS, or a tenth of the
 * reservation TTL): a decision the process takes from it locally
 * before then lands in exactly the buckets it would have charged itself, so every window's arithmetic
 * (and the limit) holds as if each had run this script. The process splits the grant when it ends (see
 * AFTER_SCRIPT): what it did not use goes back, the decisions still pending become members of their own.
 *
 * Returns `{ now, decision1, ..., decisionR }`, each decision the number of the candidate taken (1-based in
 * its list) when the first candidate it tried was admitted, `{ 2, n, until }` when it was admitted by the
 * first candidate with a grant of n more decisions valid until `until` (store ms), else `{ ok, candidate
 * (0 when none), refusals... }`, a refusal being `{ candidate, retryAfterMs, { window, limit, used, needed,
 * retryAfterMs, blocked }... }` (-1 = never / unknown: Lua numbers cross to Redis as integers, so Infinity
 * and null travel as -1).
 */
export const RESERVE_SCRIPT = `${BASE}${WINDOWS}
local now = now_ms(ARGV[1])
local ttl = tonumber(ARGV[2])
local G, D, R = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local kbase = 2 * G
local GRANT_SHARE = ${GRANT_SHARE}
local MAX_GRANT_MS = ${MAX_GRANT_MS}
-- Candidate definitions, split on first use, their numbers converted once (a batch reads one definition
-- for many decisions).
local defs = {}
local function def_of(d)
  local f = defs[d]
  if f then return f end
  f = {}
  local s, pos = ARGV[5 + d], 1
  while true do
    local bar = string.find(s, '|', pos, true)
    if not bar then f[#f + 1] = string.sub(s, pos) break end
    f[#f + 1] = string.sub(s, pos, bar - 1)
    pos = bar + 1
  end
  f[1], f[2] = tonumber(f[1]), tonumber(f[2])
  for p = 4, 3 + 3 * f[2], 3 do f[p] = tonumber(f[p]) end
  defs[d] = f
  return f
end
local a = 6 + D
local states = {}
local adds = {}
local grant_index = {}
-- Charges tokens and requests to every window of a candidate whose states are open.
local function charge(def, nw, tokens, requests)
  local p = 4
  for i = 1, nw do
    local st = states[def[p]]
    p = p + 3
    local cost = st.tok and tokens or requests
    if cost > 0 then
      -- A bucket opened now moves the key's expiry ((k + N + 1) * bucketMs is fixed within a bucket).
      if st.cur == 0 then st.fresh = true end
      st.cur = st.cur + cost
      st.t = st.t + cost
      st.dirty = true
    end
  end
end
local out = { now }
for r = 1, R do
  local id, tokens_s, requests_s, want, listed = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local tokens, requests = tonumber(tokens_s), tonumber(requests_s)
  local count = listed == 0 and D or listed
  local result = nil
  for c = 1, count do
    local def = def_of(listed == 0 and c or tonumber(ARGV[a + 4 + c]))
    local g, nw = def[1], def[2]
    local refused, worst = nil, 0
    local p = 4
    for i = 1, nw do
      local w, cfg = def[p], def[p + 2]
      local st = states[w]
      if not st then
        -- A window exists from its first check (as in the memory store), so snapshot shows a refusing
        -- candidate's windows too.
        st = open(KEYS[kbase + w], def[p + 1], now, KEYS[2 * g], cfg)
        st.cn = tonumber(cfg)
        states[w] = st
      end
      p = p + 3
      if st.c ~= cfg then
        if cfg == '' then redis.call('HDEL', st.key, 'c') else redis.call('HSET', st.key, 'c', cfg) end
        st.c = cfg
        st.cn = tonumber(cfg)
      end
      local cost = st.tok and tokens or requests
      local lim = st.l or st.cn
      -- The common case inline; check() explains a refusal.
      if st.b > now or (lim and st.t + cost > lim) then
        local rr = check(st, cost, now, st.cn)
        refused = refused or {}
        refused[#refused + 1] = { i, rr[1], rr[2], rr[3], rr[4], rr[5] }
        if rr[4] == -1 or worst == -1 then worst = -1 elseif rr[4] > worst then worst = rr[4] end
      end
    end
    if not refused then
      charge(def, nw, tokens, requests)
      local list = adds[g]
      if not list then list = {}; adds[g] = list end
      list[#list + 1] = now + ttl
      list[#list + 1] = id .. ' ' .. tokens_s .. ' ' .. requests_s .. def[3]
      -- Admitted with no refusal before: the candidate number alone (no table to build and send).
      if result then result[1], result[2] = 1, c else result = c end
      if want > 1 and c == 1 and nw > 0 then
        -- A grant: up to 'want' more decisions of this size on this candidate, charged now, each window
        -- giving at most 1/GRANT_SHARE of the room it has left; worth it from two decisions on.
        -- It lives while every window is in the bucket it charged, and no longer than MAX_GRANT_MS, nor a
        -- tenth of the reservation TTL (its member expires after it).
        local n = want
        local until_ms = now + math.min(MAX_GRANT_MS, floor(ttl / 10))
        p = 4
        for i = 1, nw do
          local st = states[def[p]]
          p = p + 3
          local cost = st.tok and tokens or requests
          local lim = st.l or st.cn
          if lim and cost > 0 then
            local cap = floor((lim - st.t) / (GRANT_SHARE * cost))
            if cap < n then n = cap end
          end
          local e = st.bms == 0 and month_start(st.k + 1) or (st.k + 1) * st.bms
          if e < until_ms then until_ms = e end
        end
        if n > 1 then
          charge(def, nw, tokens * n, requests * n)
          local grants = grant_index[g]
          if not grants then grants = {}; grant_index[g] = grants end
          grants[#grants + 1] = id .. '+'
          grants[#grants + 1] = now + ttl
          list[#list + 1] = now + ttl
          list[#list + 1] = id .. '+ ' .. string.format('%.0f', tokens * n) .. ' ' .. string.format('%.0f', requests * n) .. def[3]
          result = { 2, n, until_ms }
        end
      end
      break
    end
    local entry = { c, worst }
    for _, rf in ipairs(refused) do entry[#entry + 1] = rf end
    result = result or { 0, 0 }
    result[#result + 1] = entry
  end
  out[r + 1] = result
  a = a + 5 + listed
end
-- Write back every window charged, once; move expiries only where a bucket opened.
local registries = nil
for _, st in pairs(states) do
  if st.dirty then
    redis.call('HSET', st.key, st.k, st.cur, 't', st.t)
    if st.fresh then
      redis.call('PEXPIRE', st.key, ttl_of(st, now))
      registries = registries or {}
      registries[st.reg] = true
    end
  end
end
-- The registry outlives every window it lists: it is renewed whenever one of their expiries moves.
if registries then
  for reg in pairs(registries) do redis.call('PEXPIRE', reg, REGISTRY_KEEP) end
end
for g, list in pairs(grant_index) do
  -- The grants index (grant id -> its expiry), for settles of their decisions by other instances.
  local key = sibling(KEYS[2 * g - 1], 'grants')
  redis.call('HSET', key, unpack(list))
  redis.call('PEXPIRE', key, 2 * ttl + SLIDE_MARGIN)
end
for g, list in pairs(adds) do
  local pending_key = KEYS[2 * g - 1]
  redis.call('ZADD', pending_key, unpack(list))
  -- The pending key lives 2 x ttl and is renewed when less than ttl + margin is left, so it outlives its
  -- newest member. Looked at on every script: the last settle of a key deletes it (an empty zset), and the
  -- next ZADD creates it again without an expiry. Reaped of expired reservations when renewed: once per
  -- ttl, not once per reservation; never shortened by an instance with a shorter ttl.
  if redis.call('PTTL', pending_key) < ttl + SLIDE_MARGIN then
    redis.call('ZREMRANGEBYSCORE', pending_key, '-inf', now)
    redis.call('PEXPIRE', pending_key, 2 * ttl + SLIDE_MARGIN)
  end
end
return out
`;
