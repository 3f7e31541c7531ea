import { BASE } from './shared.js';

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
