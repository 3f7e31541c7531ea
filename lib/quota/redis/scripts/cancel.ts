import { BASE, GIVE_BACK } from './shared.js';

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
