/**
 * The Lua scripts of the Redis store, and the key layout they share. Everything the Redis store keeps
 * lives under the keys described here; nothing else writes them.
 *
 * ## Key layout
 *
 * `P` is the key prefix (default `mr:`); `W` and `M` are the workspace and model names passed through
 * `encodeURIComponent` (so `{`, `}`, `:` and whitespace in a name cannot break the layout); `K` is a window
 * kind, encoded the same way. Every key of one workspace carries the hash tag `{PW}`, so every script touches
 * one hash slot and runs unchanged on Redis Cluster.
 *
 * | key | type | holds | expires |
 * |---|---|---|---|
 * | `{PW}:w:K` | hash | a workspace-scoped window (e.g. requests-per-second) | see below |
 * | `{PW}:m:M:K` | hash | a model-scoped window (e.g. tokens-per-minute of model M) | see below |
 * | `{PW}:windows` | set | the window keys of the workspace (for snapshot and 429s of unknown kind) | 35 days, renewed |
 * | `{PW}:pending` | zset | one member per pending reservation, scored by its expiry (store ms) | 2 x reservation TTL, renewed |
 * | `{PW}:grants` | hash | grant id -> its expiry (store ms), while its member is pending (removed by its split or cancel) | 2 x reservation TTL, renewed with every grant |
 * | `{PW}:early` | hash | decisions taken from a grant that another instance settled before the grant was split (field: its id; value: the token and request deltas applied) | when the newest such grant's member expires |
 * | `{P}workspaces` | set | encoded workspace names (for snapshot() and pendingReservations() of all workspaces) | 35 days, refreshed |
 *
 * A window hash has one field per sub-bucket, named by the bucket's absolute index (`floor(t / bucketMs)`,
 * or months since January 1970 for the calendar month, as in window.ts), holding the count admitted in that
 * bucket, and:
 *
 * | field | holds |
 * |---|---|
 * | `t` | the running total of every bucket still in the hash (what the window holds) |
 * | `o` | the oldest bucket index counted in `t`: buckets below it were subtracted and deleted |
 * | `p` | the layout code: period letter (`s` second, `m` minute, `d` rolling-30d, `M` month) + unit (`t`/`r`) |
 * | `c` | the configured limit last seen in a reserve (absent = unknown) |
 * | `l` | the limit learned from upstream headers (replaces `c`) |
 * | `b` | epoch ms until which an upstream 429 blocks the window |
 *
 * The kind, model and scope are the key itself. A reserve script (one decision or a batch of them) reads
 * `t o c l b` and the current bucket with one HMGET per window and writes the bucket and `t` with one HSET
 * per window, whatever the window's length and however many decisions charged it: buckets
 * that slid out are subtracted from `t` and deleted lazily, when a decision first sees a bucket index past
 * `o + N` (at most once per bucket width). Every bucket field lies in `[o, o + N]`, so a hash holds at most
 * N + 1 buckets (constant memory whatever the request rate).
 *
 * A pending reservation is one zset member, `id tokens requests :suffix1 :suffix2 ...` (the window keys
 * it charged, without the `{PW}` tag), scored `at + reservationTtlMs`; a grant (see RESERVE_SCRIPT) is one
 * member too, its id the id of the decision that asked for it plus `+`. Settle rebuilds the member from the
 * Reservation and removes it (a miss means already settled, released or expired); snapshot parses the
 * members for `held`. Expired members (a crashed holder) are removed when a reserve renews the key's
 * expiry (at most once per reservation TTL) and before every snapshot; their charge stays counted at the
 * estimate, as if settled.
 *
 * Expiry: a sliding window key expires when its newest bucket has slid out (`(k + N + 1) * bucketMs - now`)
 * plus a margin; a month window at the end of its month plus a day; both are extended to cover a 429 block
 * and to keep a learned limit for a day. The expiry only moves when a new bucket opens, so steady traffic
 * pays no PEXPIRE.
 *
 * Requires Redis 5 or later: the scripts read `TIME` and then write, which Redis replicates by effects
 * from 5.0 on (earlier versions needed `redis.replicate_commands()`), and HSET takes several fields.
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
import type { WindowPeriod, WindowUnit } from './types.js';
import { windowGeometry } from './window.js';

/** Redis key names of one workspace. */
export interface WorkspaceKeys {
  /** The hash tag `{PW}` every key of the workspace starts with. */
  readonly tag: string;
  readonly windows: string;
  readonly pending: string;
}

/** Encodes one name segment so that no workspace, model or kind can change the shape of a key. */
export function encodeSegment(name: string): string {
  return encodeURIComponent(name);
}

/** The keys of one workspace under `prefix`. */
export function workspaceKeys(prefix: string, workspace: string): WorkspaceKeys {
  const tag = `{${prefix}${encodeSegment(workspace)}}`;
  return { tag, windows: `${tag}:windows`, pending: `${tag}:pending` };
}

/** The key of one window: workspace-scoped (`model` undefined) or model-scoped. */
export function windowKey(tag: string, kind: string, model: string | undefined): string {
  return model === undefined ? `${tag}:w:${encodeSegment(kind)}` : `${tag}:m:${encodeSegment(model)}:${encodeSegment(kind)}`;
}

/** Reads a window key back: its scope, model and kind (undefined when it is not a window key of `tag`). */
export function parseWindowKey(tag: string, key: string): { model: string | undefined; kind: string } | undefined {
  if (!key.startsWith(`${tag}:`)) return undefined;
  const rest = key.slice(tag.length + 1);
  if (rest.startsWith('w:')) return { model: undefined, kind: decodeURIComponent(rest.slice(2)) };
  if (!rest.startsWith('m:')) return undefined;
  const colon = rest.indexOf(':', 2);
  if (colon < 0) return undefined;
  return { model: decodeURIComponent(rest.slice(2, colon)), kind: decodeURIComponent(rest.slice(colon + 1)) };
}

/** The set of every workspace the store has written under `prefix`. */
export function workspaceRegistryKey(prefix: string): string {
  return `{${prefix}}workspaces`;
}

/** A glob matching every key under `prefix` (for tests and tooling that flush one prefix). */
export function prefixPattern(prefix: string): string {
  return `{${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
}

/**
 * A grant (see RESERVE_SCRIPT) takes at most 1/GRANT_SHARE of the room each window has left, so that one
 * process's grant never takes a window's last capacity, and several processes' grants together leave room.
 */
export const GRANT_SHARE = 4;

/** The longest a grant lives, whatever its windows' buckets (a month window's bucket is a month). */
export const MAX_GRANT_MS = 250;

/** Lifetimes, in ms, beyond the strict minimum (clock skew, a script running at the edge of a bucket). */
export const EXPIRY_MARGIN = {
  sliding: 2_000,
  month: 86_400_000,
  learnedLimit: 86_400_000,
  registry: 35 * 86_400_000,
} as const;

const PERIOD_LETTER: Readonly<Record<WindowPeriod, string>> = { second: 's', minute: 'm', 'rolling-30d': 'd', month: 'M' };
const LETTER_PERIOD: Readonly<Record<string, WindowPeriod>> = { s: 'second', m: 'minute', d: 'rolling-30d', M: 'month' };

/** The two-letter layout code of a window (period letter + unit letter), as the scripts and the `p` field use it. */
export function layoutCode(period: WindowPeriod, unit: WindowUnit): string {
  return `${PERIOD_LETTER[period]}${unit === 'tokens' ? 't' : 'r'}`;
}

/** The period and unit of a layout code read from Redis (undefined when it is not one). */
export function parseLayoutCode(code: string): { period: WindowPeriod; unit: WindowUnit } | undefined {
  const period = LETTER_PERIOD[code.charAt(0)];
  const unit = code.charAt(1) === 't' ? 'tokens' : code.charAt(1) === 'r' ? 'requests' : undefined;
  return period === undefined || unit === undefined || code.length !== 2 ? undefined : { period, unit };
}

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

/*
 * The scripts are assembled from the pieces below, each script taking only what it uses: EVALSHA runs
 * the whole chunk on every call, so every helper defined is a closure created on every call.
 */

/** Constants, time, layout geometry and bucket indices: every script. */
const BASE = `
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
const WINDOWS = `
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
const GIVE_BACK = `
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


/**
 * after a call: settles and releases, then observations, of one tick of one process, in one script (the
 * router settles a call and feeds its response's headers to the store together). Each is applied as
 * consecutive scripts would apply it, settles first, then observations, each kind in call order.
 *
 * ARGV: now ('' = TIME), S (settles and releases), M (observations), then the S settles' arguments, then the
 * M observations'. KEYS: the settles' keys, then the observations'. Returns one number per settle.
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
export const AFTER_SCRIPT = `${BASE}${WINDOWS}
local now = now_ms(ARGV[1])
local S, M = tonumber(ARGV[2]), tonumber(ARGV[3])
local a, k = 4, 1
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
return out
`;

/**
 * cancel: release a reservation whose reserve never answered (timeout, lost connection). The store sends
 * it right behind that reserve: on the same connection Redis runs them in order, so a reserve that did run
 * after all is undone instead of holding its cost until the reservation TTL.
 *
 * KEYS: pending, then the window keys of each candidate of the workspace in order. ARGV: now ('' = TIME),
 * reservation ttl, tokens, requests, the grant the decision asked for (0 = none), candidate count, then per candidate: its member, window count, and one
 * layout code per window. The candidate whose member is pending was the one taken; `at` is its score
 * minus the ttl; when it is the first candidate, a grant given with the decision (member `id+ ...`) is
 * released too. Returns 1 when something was released.
 */
export const CANCEL_SCRIPT = `${BASE}${GIVE_BACK}
local now = now_ms(ARGV[1])
local ttl, tokens, requests, want, count = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local a, kc = 7, 2
for c = 1, count do
  local member, nw = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score then
    redis.call('ZREM', KEYS[1], member)
    local at = tonumber(score) - ttl
    for i = 0, nw - 1 do give_back(KEYS[kc + i], ARGV[a + i], at, now, -tokens, -requests) end
    if c == 1 and want > 1 then
      -- The grant the decision may have been given with it: 'id+ n*tokens n*requests suffix' for one n in
      -- 2..want (what the script gave it). It goes too.
      local id, suffix = string.match(member, '^(%S+) %S+ %S+(.*)$')
      for n = 2, want do
        local gt, gr = string.format('%.0f', tokens * n), string.format('%.0f', requests * n)
        if redis.call('ZREM', KEYS[1], id .. '+ ' .. gt .. ' ' .. gr .. suffix) == 1 then
          redis.call('HDEL', sibling(KEYS[1], 'grants'), id .. '+')
          for i = 0, nw - 1 do give_back(KEYS[kc + i], ARGV[a + i], at, now, -tokens * n, -requests * n) end
          break
        end
      end
    end
    return 1
  end
  kc = kc + nw
  a = a + nw
end
return 0
`;


/**
 * inspect: the state of every window of one workspace, and its pending reservations (expired ones removed
 * first). KEYS: windows (registry), pending. ARGV: now ('' = TIME).
 *
 * Returns `{ now, pendingCount, windows }`, each window `{ key, layout code, used, cfg, learned, blocked,
 * held }` with '' for absent values. `used` is summed here from the buckets inside the window (read only:
 * a snapshot changes nothing), with the layout stored in the window.
 */
export const INSPECT_SCRIPT = `${BASE}
local now = now_ms(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local tag = string.sub(KEYS[1], 1, #KEYS[1] - #':windows')
local held = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local parts = {}
  for part in string.gmatch(member, '%S+') do parts[#parts + 1] = part end
  local tokens, requests = tonumber(parts[2]) or 0, tonumber(parts[3]) or 0
  for j = 4, #parts do
    local key = tag .. parts[j]
    local h = held[key] or { 0, 0 }
    h[1] = h[1] + tokens
    h[2] = h[2] + requests
    held[key] = h
  end
end
local out = {}
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local raw = redis.call('HGETALL', key)
  if #raw == 0 then
    redis.call('SREM', KEYS[1], key)
  else
    local f, b = {}, {}
    for i = 1, #raw, 2 do
      local idx = tonumber(raw[i])
      if idx then b[idx] = tonumber(raw[i + 1]) else f[raw[i]] = raw[i + 1] end
    end
    local bms, n, tok = geometry(f.p or '')
    local used = 0
    if bms then
      local from = bucket(now, bms) - n
      for idx, v in pairs(b) do
        if idx >= from then used = used + v end
      end
    end
    local h = held[key] or { 0, 0 }
    out[#out + 1] = { key, f.p or '', used, f.c or '', f.l or '', (tonumber(f.b) or 0) > now and f.b or '',
      tok and h[1] or h[2] }
  end
end
return { now, redis.call('ZCARD', KEYS[2]), out }
`;
