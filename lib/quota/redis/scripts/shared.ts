/**
 * The Lua every script shares: constants, time, layout geometry, bucket indices, and the window state of
 * the scripts that check or create windows. Each script takes only the pieces it uses: EVALSHA runs the
 * whole chunk on every call, so every helper defined is a closure created on every call.
 *
 * ## Time
 *
 * Each script reads the time itself with Redis `TIME` unless the caller passes one (tests inject a
 * FakeClock). One clock for the whole fleet: the hosts of a fleet drift apart by milliseconds to seconds,
 * and a window of 50 ms sub-buckets judged by several clocks would admit or refuse by the skew rather
 * than by usage. Redis's clock is the one every instance already shares, and reading it inside the script
 * costs nothing (no extra round trip) and cannot race with the check. Key lifetimes (PEXPIRE) are durations
 * computed from the same time, applied by Redis in its own real time.
 *
 * ## The arithmetic
 *
 * Exactly the one described in `types.ts` and implemented by `window.ts`: a sliding window of N buckets
 * admits at bucket k when `sum(k-N .. k) + cost <= limit`; the month is one fixed bucket; `learned`
 * replaces `cfg`; no limit at all admits everything; `blocked` refuses everything until it passes.
 * (`t` = the sum of buckets `o ..`, and after the lazy slide `o = k - N`, so `t` is that sum, buckets past
 * k included should the clock step back: the conservative choice.)
 */
import { windowGeometry } from '../../window.js';
import type { WindowPeriod } from '../../types.js';
import { EXPIRY_MARGIN, PERIOD_LETTER, layoutCode } from '../keys.js';

/**
 * `geometry(code)` returns `bucketMs (0 = calendar month), N, counts tokens` for every layout code, from
 * window.ts: an if-chain of interned-string comparisons, because a table built at the top of a script is
 * rebuilt on every call (EVALSHA runs the whole chunk each time).
 */
const GEOMETRY_BRANCHES = (Object.keys(PERIOD_LETTER) as WindowPeriod[])
  .flatMap((period) => {
    const { bucketMs, span } = windowGeometry(period);
    return (['tokens', 'requests'] as const).map(
      (unit) => `if code == '${layoutCode(period, unit)}' then return ${bucketMs ?? 0}, ${bucketMs === undefined ? 0 : span - 1}, ${unit === 'tokens'} end`,
    );
  })
  .join('\n  ');

/** Constants, time, layout geometry and bucket indices: every script. */
export const BASE = `
local floor = math.floor
local SLIDE_MARGIN = ${EXPIRY_MARGIN.sliding}
local MONTH_MARGIN = ${EXPIRY_MARGIN.month}
local LEARNED_KEEP = ${EXPIRY_MARGIN.learnedLimit}
local REGISTRY_KEEP = ${EXPIRY_MARGIN.registry}

local function now_ms(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
end

local function geometry(code)
  ${GEOMETRY_BRANCHES}
  return nil
end

local function month_index(t)
  local z = floor(t / 86400000) + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return (y - 1970) * 12 + (m - 1)
end


-- Another key of the workspace of a pending key ('{PW}:pending' -> '{PW}:name').
local function sibling(pending_key, name) return string.sub(pending_key, 1, #pending_key - #'pending') .. name end

local function bucket(t, bms)
  if bms == 0 then return month_index(t) end
  return floor(t / bms)
end
`;

/**
 * The window state, for the scripts that check or create windows (reserve, observe). A state `st` is
 * `{ key, reg, bms, n, tok, k, t, o, c, l, b, cur }`: the key and its workspace registry, bucket width
 * (0 = month), N, whether it counts tokens, the current bucket index, the running total, the oldest
 * counted bucket, the configured limit ('' = unknown), the learned limit (nil), the block end (0 = none),
 * the current bucket's count.
 */
export const WINDOWS = `
local function month_start(j)
  j = j + 1970 * 12
  local y = floor(j / 12)
  local m = j - y * 12 + 1
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = floor((153 * mp + 2) / 5)
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return (era * 146097 + doe - 719468) * 86400000
end

local function ttl_of(st, now)
  local t
  if st.bms == 0 then t = month_start(st.k + 1) - now + MONTH_MARGIN
  else t = (st.k + st.n + 1) * st.bms - now + SLIDE_MARGIN end
  if st.b - now + SLIDE_MARGIN > t then t = st.b - now + SLIDE_MARGIN end
  if st.l and t < LEARNED_KEEP then t = LEARNED_KEEP end
  return floor(t)
end

-- Subtracts from t the buckets that slid out of the window (below k - N) and deletes them.
local function slide(st)
  local from, to, last = st.o, st.k - st.n - 1, st.o + st.n
  local fields = {}
  if to >= last then
    -- Everything counted slid out: no need to read what it was.
    for j = from, last do fields[#fields + 1] = j end
    st.t = 0
  else
    for j = from, to do fields[#fields + 1] = j end
    local values = redis.call('HMGET', st.key, unpack(fields))
    local s = 0
    for i = 1, #values do
      if values[i] then s = s + tonumber(values[i]) end
    end
    st.t = st.t - s
  end
  redis.call('HDEL', st.key, unpack(fields))
  st.o = st.k - st.n
  redis.call('HSET', st.key, 't', st.t, 'o', st.o)
end

-- Reads a window (one HMGET), creating it when missing (spec, configured limit, registry, expiry) and
-- sliding it to the current bucket. 'cfg' nil leaves the configured limit alone.
local function open(key, code, now, registry, cfg)
  local bms, n, tok = geometry(code)
  if not bms then error('unknown window layout ' .. tostring(code)) end
  local k = bucket(now, bms)
  local r = redis.call('HMGET', key, 't', 'o', 'c', 'l', 'b', k)
  local st = { key = key, reg = registry, bms = bms, n = n, tok = tok, k = k, c = r[3] or '', l = tonumber(r[4]),
    b = tonumber(r[5]) or 0, cur = tonumber(r[6]) or 0 }
  if r[1] then
    st.t, st.o = tonumber(r[1]), tonumber(r[2])
    if k - n > st.o then slide(st) end
    return st
  end
  -- New (or left by an older layout: start clean).
  redis.call('DEL', key)
  st.t, st.o, st.c, st.l, st.b, st.cur = 0, k - n, '', nil, 0, 0
  if cfg and cfg ~= '' then
    redis.call('HSET', key, 't', 0, 'o', st.o, 'p', code, 'c', cfg)
    st.c = cfg
  else
    redis.call('HSET', key, 't', 0, 'o', st.o, 'p', code)
  end
  redis.call('PEXPIRE', key, ttl_of(st, now))
  redis.call('SADD', registry, key)
  redis.call('PEXPIRE', registry, REGISTRY_KEEP)
  return st
end

-- nil when the window admits 'cost' now; otherwise { limit (-1 unknown), used, cost, retryAfterMs (-1 never), blocked 0/1 }.
local function check(st, cost, now, configured)
  local lim = st.l or configured
  local used = st.t
  local blocked = st.b > now
  if not blocked and (lim == nil or used + cost <= lim) then return nil end
  local retry = 0
  if lim ~= nil and cost > lim then
    retry = -1
  elseif lim ~= nil and used + cost > lim then
    if st.bms == 0 then
      retry = month_start(st.k + 1) - now
    else
      -- Every bucket lies in [o, o + N]: read them, then move forward bucket by bucket; at bucket j,
      -- bucket j - N - 1 has slid out. The current bucket is taken from the state: earlier decisions of
      -- the same batch charged it and are written back only at the end of the script.
      local fields = {}
      for j = st.o, st.o + st.n do fields[#fields + 1] = j end
      local values = redis.call('HMGET', st.key, unpack(fields))
      local b, last = {}, st.k
      for i = 1, #values do
        if values[i] then
          local idx = st.o + i - 1
          b[idx] = tonumber(values[i])
          if idx > last then last = idx end
        end
      end
      b[st.k] = st.cur
      local s, j = used, st.k
      repeat
        j = j + 1
        local v = b[j - st.n - 1]
        if v then s = s - v end
      until s + cost <= lim or j > last + st.n
      retry = j * st.bms - now
    end
  end
  if blocked and retry ~= -1 and st.b - now > retry then retry = st.b - now end
  return { lim or -1, used, cost, retry, blocked and 1 or 0 }
end
`;

/** Giving back (or charging) a delta in the bucket a reservation charged, one reservation at a time: cancel. */
export const GIVE_BACK = `
-- Adds 'delta' to the bucket of 'at' of one window, if that bucket still counts (inside the window seen
-- at 'now', not yet slid out of t) and the window still exists (an expired key must not come back
-- without its expiry).
local function give_back(key, code, at, now, dt, dr)
  local bms, n, tok = geometry(code)
  if not bms then return end
  local delta = tok and dt or dr
  if delta == 0 then return end
  local k = bucket(at, bms)
  if k < bucket(now, bms) - n then return end
  local r = redis.call('HMGET', key, 'o', 't', k)
  local o = tonumber(r[1])
  if not o or k < o then return end
  local v = (tonumber(r[3]) or 0) + delta
  local t = tonumber(r[2]) + delta
  if v > 0 then
    redis.call('HSET', key, k, v, 't', t)
  else
    -- An emptied bucket goes; t keeps the sum of what remains.
    redis.call('HDEL', key, k)
    redis.call('HSET', key, 't', t - v)
  end
end
`;
