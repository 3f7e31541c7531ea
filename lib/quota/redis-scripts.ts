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
 * | `{PW}:windows` | set | the window keys of the workspace (for snapshot and 429s of unknown kind) | with the longest window |
 * | `{PW}:pending` | zset | pending reservation id -> expiry (store ms) | reservation TTL + margin |
 * | `{PW}:reservations` | hash | pending reservation id -> `tokens requests at key1 key2 ...` | reservation TTL + margin |
 * | `{P}workspaces` | set | encoded workspace names (for snapshot() and pendingReservations() of all workspaces) | 35 days, refreshed |
 *
 * A window hash has one field per sub-bucket, named by the bucket's absolute index (`floor(t / bucketMs)`,
 * or months since January 1970 for the calendar month, as in window.ts), holding the count admitted in that bucket; plus the
 * fields `kind`, `unit`, `period`, `scope`, `model` (its spec, written once), `cfg` (the configured limit
 * last seen in a reserve), `learned` (the limit learned from upstream headers) and `blocked` (epoch ms
 * until which an upstream 429 blocks it). Buckets older than the window are deleted whenever the window
 * is written, so a hash holds at most N + 1 buckets (constant memory whatever the request rate).
 *
 * Expiry: a sliding window key expires when its newest bucket has slid out (`(k + N + 1) * bucketMs - now`)
 * plus a margin; a month window at the end of its month plus a day; both are extended to cover a 429 block
 * and to keep a learned limit for a day. A crashed process's reservations expire from `pending` (reaped by
 * the next script that touches the workspace); their charge stays counted at the estimate, as if settled.
 *
 * ## Time
 *
 * Each script reads the time itself with Redis `TIME` unless the caller passes one (tests inject a
 * FakeClock). One clock for the whole fleet: the hosts of a fleet drift apart by milliseconds to seconds,
 * and a window of 50 ms sub-buckets judged by several clocks would admit or refuse by the skew rather
 * than by usage. Redis's clock is the one every instance already shares, and reading it inside the script
 * costs nothing (no extra round trip) and cannot race with the check.
 *
 * ## The arithmetic
 *
 * Exactly the one described in `types.ts` and implemented by `window.ts`: a sliding window of N buckets
 * admits at bucket k when `sum(k-N .. k) + cost <= limit`; the month is one fixed bucket; `learned`
 * replaces `cfg`; no limit at all admits everything; `blocked` refuses everything until it passes.
 */

/** Redis key names of one workspace. See the module comment for the layout. */
export interface WorkspaceKeys {
  /** The hash tag `{PW}` every key of the workspace starts with. */
  readonly tag: string;
  readonly windows: string;
  readonly pending: string;
  readonly reservations: string;
}

/** Encodes one name segment so that no workspace, model or kind can change the shape of a key. */
export function encodeSegment(name: string): string {
  return encodeURIComponent(name);
}

/** The keys of one workspace under `prefix`. */
export function workspaceKeys(prefix: string, workspace: string): WorkspaceKeys {
  const tag = `{${prefix}${encodeSegment(workspace)}}`;
  return { tag, windows: `${tag}:windows`, pending: `${tag}:pending`, reservations: `${tag}:reservations` };
}

/** The key of one window: workspace-scoped (`model` undefined) or model-scoped. */
export function windowKey(tag: string, kind: string, model: string | undefined): string {
  return model === undefined ? `${tag}:w:${encodeSegment(kind)}` : `${tag}:m:${encodeSegment(model)}:${encodeSegment(kind)}`;
}

/** The set of every workspace the store has written under `prefix`. */
export function workspaceRegistryKey(prefix: string): string {
  return `{${prefix}}workspaces`;
}

/** A glob matching every key under `prefix` (for tests and tooling that flush one prefix). */
export function prefixPattern(prefix: string): string {
  return `{${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
}

/** Lifetimes, in ms, beyond the strict minimum (clock skew, a script running at the edge of a bucket). */
export const EXPIRY_MARGIN = {
  sliding: 2_000,
  month: 86_400_000,
  learnedLimit: 86_400_000,
  registry: 35 * 86_400_000,
} as const;

/**
 * Helpers shared by every script: the time, bucket indices (including the calendar month, by Howard
 * Hinnant's days-from-civil arithmetic, since Lua has no UTC calendar), window loading and the admission
 * check. A window description `w` is `{ key, bms, n, unit, limit }`: `bms` = sub-bucket width in ms (0 for
 * the calendar month), `n` = N, `unit` = `t` (tokens) or `r` (requests), `limit` = configured limit or nil.
 */
const PRELUDE = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local SLIDE_MARGIN = ${EXPIRY_MARGIN.sliding}
local MONTH_MARGIN = ${EXPIRY_MARGIN.month}
local LEARNED_KEEP = ${EXPIRY_MARGIN.learnedLimit}
local floor = math.floor

local function now_ms(arg)
  local n = tonumber(arg)
  if n then return n end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
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

local function bucket(t, w)
  if w.bms == 0 then return month_index(t) end
  return floor(t / w.bms)
end

local function bucket_start(j, w)
  if w.bms == 0 then return month_start(j) end
  return j * w.bms
end

local cache = {}
local function load(key)
  local st = cache[key]
  if st then return st end
  local raw = redis.call('HGETALL', key)
  st = { b = {}, meta = {}, exists = #raw > 0 }
  for i = 1, #raw, 2 do
    local idx = tonumber(raw[i])
    if idx then st.b[idx] = tonumber(raw[i + 1]) else st.meta[raw[i]] = raw[i + 1] end
  end
  cache[key] = st
  return st
end

-- Usage from bucket 'from' on (buckets after the current one only exist if the clock stepped back:
-- counting them is the conservative choice).
local function used_from(st, from)
  local s = 0
  for idx, v in pairs(st.b) do
    if idx >= from then s = s + v end
  end
  return s
end

local function limit_of(st, w)
  return tonumber(st.meta.learned) or w.limit
end

-- nil when the window admits 'cost' now; otherwise { limit (-1 unknown), used, cost, retryAfterMs (-1 never), blocked 0/1 }.
local function check(st, w, cost, now)
  local k = bucket(now, w)
  local lim = limit_of(st, w)
  local used = used_from(st, k - w.n)
  local blocked = tonumber(st.meta.blocked) or 0
  local is_blocked = blocked > now
  if not is_blocked and (lim == nil or used + cost <= lim) then return nil end
  local retry = 0
  if lim ~= nil and cost > lim then
    retry = -1
  elseif lim ~= nil and used + cost > lim then
    if w.bms == 0 then
      retry = month_start(k + 1) - now
    else
      -- Move forward bucket by bucket; at bucket j, bucket j - N - 1 has slid out.
      local s, j, last = used, k, k
      for idx in pairs(st.b) do if idx > last then last = idx end end
      repeat
        j = j + 1
        local v = st.b[j - w.n - 1]
        if v then s = s - v end
      until s + cost <= lim or j > last + w.n
      retry = j * w.bms - now
    end
  end
  if is_blocked and retry ~= -1 and blocked - now > retry then retry = blocked - now end
  return { lim or -1, used, cost, retry, is_blocked and 1 or 0 }
end

local function ttl_of(st, w, now)
  local k = bucket(now, w)
  local t
  if w.bms == 0 then t = month_start(k + 1) - now + MONTH_MARGIN
  else t = (k + w.n + 1) * w.bms - now + SLIDE_MARGIN end
  local blocked = tonumber(st.meta.blocked)
  if blocked and blocked - now + SLIDE_MARGIN > t then t = blocked - now + SLIDE_MARGIN end
  if st.meta.learned and t < LEARNED_KEEP then t = LEARNED_KEEP end
  return floor(t)
end

-- Deletes buckets that slid out of the window (constant memory per window).
local function prune(st, key, k, w)
  local stale = {}
  for idx in pairs(st.b) do
    if idx < k - w.n then stale[#stale + 1] = idx end
  end
  if #stale > 0 then
    redis.call('HDEL', key, unpack(stale))
    for _, idx in ipairs(stale) do st.b[idx] = nil end
  end
end

-- Forgets reservations whose holder never settled them (a crashed process). Their charge stays counted.
local function reap(pending_key, reservations_key, now, max)
  local expired = redis.call('ZRANGEBYSCORE', pending_key, '-inf', now, 'LIMIT', 0, max)
  if #expired > 0 then
    redis.call('ZREM', pending_key, unpack(expired))
    redis.call('HDEL', reservations_key, unpack(expired))
  end
end
`;

/**
 * reserve: take the first candidate whose every window admits the cost, in one atomic step.
 *
 * KEYS: for each workspace g of the batch, three keys (`pending`, `reservations`, `windows`), then every
 * window key. ARGV: now ('' = Redis TIME), id, tokens, requests, reservation ttl ms, G (workspaces),
 * C (candidates), then per candidate: workspace group (1-based), window count, and per window: key index
 * (into KEYS), bucket ms, N, unit, limit ('' = unknown), kind, period, scope, model ('' = workspace scope).
 *
 * Returns `{ 1, candidate (1-based), now, refusals }` or `{ 0, 0, now, refusals }`, where refusals is a list
 * of `{ candidate, retryAfterMs, { window, limit, used, needed, retryAfterMs, blocked }... }` (-1 = never /
 * unknown: Lua numbers cross to Redis as integers, so Infinity and null travel as -1).
 */
export const RESERVE_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
local id, tokens, requests, ttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local groups, count = tonumber(ARGV[6]), tonumber(ARGV[7])
local a = 8
local refusals = {}
for c = 1, count do
  local g, nw = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local windows = {}
  for i = 1, nw do
    windows[i] = { key = KEYS[tonumber(ARGV[a])], bms = tonumber(ARGV[a + 1]), n = tonumber(ARGV[a + 2]),
      unit = ARGV[a + 3], limit = tonumber(ARGV[a + 4]), kind = ARGV[a + 5], period = ARGV[a + 6],
      scope = ARGV[a + 7], model = ARGV[a + 8], cfg = ARGV[a + 4] }
    a = a + 9
  end
  local refused = {}
  local worst = 0
  local registry_key = KEYS[3 * g]
  for i, w in ipairs(windows) do
    local st = load(w.key)
    -- A window exists from its first check (as in the memory store), so snapshot shows a refusing
    -- candidate's windows too; spec and configured limit are written only when new or changed.
    if not st.exists then
      redis.call('HSET', w.key, 'kind', w.kind, 'unit', w.unit, 'period', w.period, 'scope', w.scope, 'model', w.model)
      redis.call('SADD', registry_key, w.key)
      redis.call('PEXPIRE', w.key, ttl_of(st, w, now))
      st.exists = true
    end
    if (st.meta.cfg or '') ~= w.cfg then
      if w.cfg == '' then redis.call('HDEL', w.key, 'cfg') else redis.call('HSET', w.key, 'cfg', w.cfg) end
      st.meta.cfg = w.cfg
    end
    local r = check(st, w, w.unit == 't' and tokens or requests, now)
    if r then
      refused[#refused + 1] = { i, r[1], r[2], r[3], r[4], r[5] }
      if r[4] == -1 or worst == -1 then worst = -1 elseif r[4] > worst then worst = r[4] end
    end
  end
  if #refused == 0 then
    local pending_key, reservations_key = KEYS[3 * g - 2], KEYS[3 * g - 1]
    local record = { tokens, requests, now }
    local renewed = false
    for _, w in ipairs(windows) do
      local st = cache[w.key]
      local k = bucket(now, w)
      local cost = w.unit == 't' and tokens or requests
      local fresh = st.b[k] == nil
      if cost > 0 then st.b[k] = (st.b[k] or 0) + cost; redis.call('HINCRBY', w.key, k, cost) end
      -- The expiry only moves when a new bucket opens ((k + N + 1) * bucketMs is fixed within a bucket),
      -- so steady traffic pays no PEXPIRE; old buckets are pruned at the same moment.
      if fresh then
        prune(st, w.key, k, w)
        redis.call('PEXPIRE', w.key, ttl_of(st, w, now))
        renewed = true
      end
      record[#record + 1] = w.key
    end
    -- The registry outlives every window it lists: it is renewed whenever one of their expiries moves.
    if renewed then redis.call('PEXPIRE', registry_key, ${EXPIRY_MARGIN.registry}) end
    reap(pending_key, reservations_key, now, 16)
    redis.call('ZADD', pending_key, now + ttl, id)
    redis.call('HSET', reservations_key, id, table.concat(record, ' '))
    redis.call('PEXPIRE', pending_key, ttl + SLIDE_MARGIN)
    redis.call('PEXPIRE', reservations_key, ttl + SLIDE_MARGIN)
    return { 1, c, now, refusals }
  end
  local entry = { c, worst }
  for _, r in ipairs(refused) do entry[#entry + 1] = r end
  refusals[#refusals + 1] = entry
end
return { 0, 0, now, refusals }
`;

/**
 * settle / release: give back (or charge) the difference in the buckets the reservation charged, once.
 *
 * KEYS: pending, reservations, then the reservation's window keys. ARGV: now ('' = TIME), id, at,
 * token delta, request delta, then per window: bucket ms, N, unit. A delta lands in the bucket of `at`
 * only while that bucket is still inside its window (after that it no longer counts anywhere), and only
 * if the window still exists (an expired key must not come back without its TTL).
 *
 * Returns 1 when applied, 0 when the reservation was already settled, released or expired (idempotent).
 */
export const SETTLE_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
local id, at, dt, dr = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('ZREM', KEYS[1], id) == 0 then return 0 end
redis.call('HDEL', KEYS[2], id)
local a = 6
for i = 3, #KEYS do
  local w = { bms = tonumber(ARGV[a]), n = tonumber(ARGV[a + 1]), unit = ARGV[a + 2] }
  a = a + 3
  local delta = w.unit == 't' and dt or dr
  local k, current = bucket(at, w), bucket(now, w)
  if delta ~= 0 and k >= current - w.n and k <= current and redis.call('EXISTS', KEYS[i]) == 1 then
    local v = redis.call('HINCRBY', KEYS[i], k, delta)
    if v <= 0 then redis.call('HDEL', KEYS[i], k) end
  end
end
return 1
`;

/**
 * observe: take what the upstream reported into the windows of one workspace.
 *
 * KEYS: registry (`windows`), one key per observed window, then (for a 429) the keys of the named kind at
 * both scopes, and last the window to create and block when no window is found. ARGV: now, number of
 * observed windows, per observed window: bucket ms, N, unit, kind, period, scope, model, limit, remaining
 * ('' = not reported); then blockedForMs ('' = no 429), the key prefix of the model's windows to block
 * when the named keys do not exist ('' = do not scan), and the spec (kind, unit, period, scope, model,
 * bucket ms, N) of the window to create.
 *
 * A reported limit becomes the window's `learned` limit. A reported remaining lower than ours means
 * someone else uses the workspace: the difference is charged to the current bucket, so our view matches
 * the upstream's. A 429 sets `blocked`. Windows unknown so far are created (a learned requests-per-minute
 * window needs no new code).
 */
export const OBSERVE_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
local count = tonumber(ARGV[2])
local a = 3
local function ensure(st, key, w)
  if not st.exists then
    redis.call('HSET', key, 'kind', w.kind, 'unit', w.unit, 'period', w.period, 'scope', w.scope, 'model', w.model)
    redis.call('SADD', KEYS[1], key)
    redis.call('PEXPIRE', KEYS[1], ${EXPIRY_MARGIN.registry})
    st.exists = true
  end
end
local touched = {}
for i = 1, count do
  local key = KEYS[1 + i]
  local w = { bms = tonumber(ARGV[a]), n = tonumber(ARGV[a + 1]), unit = ARGV[a + 2], kind = ARGV[a + 3],
    period = ARGV[a + 4], scope = ARGV[a + 5], model = ARGV[a + 6] }
  local limit, remaining = tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8])
  a = a + 9
  local st = load(key)
  ensure(st, key, w)
  if limit and limit > 0 then
    -- A limit of 0 (sent with 429s) is a refusal, not the tier's limit.
    redis.call('HSET', key, 'learned', limit)
    st.meta.learned = tostring(limit)
  end
  local lim = tonumber(st.meta.learned) or tonumber(st.meta.cfg)
  if remaining and lim then
    local k = bucket(now, w)
    local used = used_from(st, k - w.n)
    local extra = (lim - remaining) - used
    if extra > 0 then
      st.b[k] = (st.b[k] or 0) + extra
      redis.call('HINCRBY', key, k, extra)
    end
    prune(st, key, k, w)
  end
  touched[key] = w
end
local blocked_for, scan_prefix = tonumber(ARGV[a]), ARGV[a + 1]
if blocked_for then
  local until_ms = now + blocked_for
  local fallback_key = KEYS[#KEYS]
  local targets = {}
  for i = 2 + count, #KEYS - 1 do
    if load(KEYS[i]).exists then targets[#targets + 1] = KEYS[i] end
  end
  if #targets == 0 and scan_prefix ~= '' then
    -- Every window of the model: read from the registry rather than KEYS, which is safe on a Cluster
    -- because they share the workspace's hash tag (one slot).
    for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
      if string.sub(key, 1, #scan_prefix) == scan_prefix and load(key).exists then targets[#targets + 1] = key end
    end
  end
  if #targets == 0 then
    -- No window to block yet: create the one the caller named (a standard kind, or tokens-per-minute),
    -- so that the next reserve through it sees the 429.
    local w = { kind = ARGV[a + 2], unit = ARGV[a + 3], period = ARGV[a + 4], scope = ARGV[a + 5], model = ARGV[a + 6],
      bms = tonumber(ARGV[a + 7]), n = tonumber(ARGV[a + 8]) }
    ensure(load(fallback_key), fallback_key, w)
    targets[1] = fallback_key
    touched[fallback_key] = w
  end
  for _, key in ipairs(targets) do
    local st = cache[key]
    if (tonumber(st.meta.blocked) or 0) < until_ms then
      redis.call('HSET', key, 'blocked', until_ms)
      st.meta.blocked = tostring(until_ms)
    end
    touched[key] = touched[key] or {}
  end
end
for key, w in pairs(touched) do
  local st = cache[key]
  if w.n then redis.call('PEXPIRE', key, ttl_of(st, w, now))
  else
    local pttl = redis.call('PTTL', key)
    local need = tonumber(st.meta.blocked) - now + SLIDE_MARGIN
    if pttl < need then redis.call('PEXPIRE', key, need) end
  end
end
return 1
`;

/**
 * inspect: the state of every window of one workspace, and its pending reservations (expired ones reaped
 * first). KEYS: windows (registry), pending, reservations. ARGV: now ('' = TIME).
 *
 * Returns `{ now, pendingCount, windows }`, each window `{ key, kind, unit, period, scope, model, used,
 * cfg, learned, blocked, held }` with '' for absent values. `used` is computed here, with the bucket
 * layout stored in the window (`period`), since the caller may not know the window at all.
 */
export const INSPECT_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
local layouts = cjson.decode(ARGV[2])
reap(KEYS[2], KEYS[3], now, 1000)
local held = {}
local records = redis.call('HGETALL', KEYS[3])
for i = 2, #records, 2 do
  local parts = {}
  for part in string.gmatch(records[i], '%S+') do parts[#parts + 1] = part end
  for j = 4, #parts do
    held[parts[j]] = held[parts[j]] or { 0, 0 }
    held[parts[j]][1] = held[parts[j]][1] + tonumber(parts[1])
    held[parts[j]][2] = held[parts[j]][2] + tonumber(parts[2])
  end
end
local out = {}
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local st = load(key)
  if not st.exists then
    redis.call('SREM', KEYS[1], key)
  else
    local layout = layouts[st.meta.period] or { bucketMs = 0, buckets = 0 }
    local w = { bms = layout.bucketMs, n = layout.buckets }
    local h = held[key] or { 0, 0 }
    out[#out + 1] = { key, st.meta.kind or '', st.meta.unit or '', st.meta.period or '', st.meta.scope or '',
      st.meta.model or '', used_from(st, bucket(now, w) - w.n), st.meta.cfg or '', st.meta.learned or '',
      (tonumber(st.meta.blocked) or 0) > now and st.meta.blocked or '', st.meta.unit == 't' and h[1] or h[2] }
  end
end
return { now, redis.call('ZCARD', KEYS[2]), out }
`;

/**
 * cancel: release a reservation known only by its id, from its record. The store sends it right behind a
 * reserve whose answer timed out: on the same connection Redis runs them in order, so a reserve that did
 * run after all is undone instead of holding its cost until the reservation TTL.
 *
 * KEYS: pending, reservations. ARGV: now ('' = TIME), id, bucket layouts by period as JSON. The window
 * keys come from the record (same hash tag, so the same slot). Returns 1 when something was released.
 */
export const CANCEL_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
local id = ARGV[2]
local layouts = cjson.decode(ARGV[3])
local record = redis.call('HGET', KEYS[2], id)
if not record then return 0 end
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
local parts = {}
for part in string.gmatch(record, '%S+') do parts[#parts + 1] = part end
local tokens, requests, at = tonumber(parts[1]), tonumber(parts[2]), tonumber(parts[3])
for j = 4, #parts do
  local key = parts[j]
  local st = load(key)
  local layout = st.exists and layouts[st.meta.period]
  if layout then
    local w = { bms = layout.bucketMs, n = layout.buckets }
    local k, current = bucket(at, w), bucket(now, w)
    local delta = st.meta.unit == 't' and tokens or requests
    if delta > 0 and k >= current - w.n and k <= current then
      local v = redis.call('HINCRBY', key, k, -delta)
      if v <= 0 then redis.call('HDEL', key, k) end
    end
  end
end
return 1
`;
