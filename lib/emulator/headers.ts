/**
 * The rate-limit headers the emulator sends, in either of the two families Mistral has used.
 * Values are integers, as in real captures. A window that is unmetered (limit `null`) sends no header:
 * that is how a router sees "unknown" upstream (and learns nothing it would have to unlearn).
 */
import type { HeaderFamily } from './options.js';
import type { MeterReading } from './meter.js';

/** Header name -> value, ready for `res.writeHead`. */
export type HeaderBag = Record<string, string | number>;

/**
 * Add the rate-limit headers for one (workspace, model) reading to `headers`.
 *
 * `current` family:
 * - `x-ratelimit-limit-tokens-minute`, `x-ratelimit-remaining-tokens-minute`
 * - `x-ratelimit-limit-tokens-month`, `x-ratelimit-remaining-tokens-month`
 * - `x-ratelimit-tokens-query-cost` (the request's token cost; on a refusal, what it would have cost)
 * - `x-ratelimit-limit-req-minute`, `x-ratelimit-remaining-req-minute` (only with a requests-per-minute limit)
 *
 * `legacy` family (2025 captures), instead of all of the above:
 * - `ratelimitbysize-limit`, `ratelimitbysize-remaining` (tokens per minute), `ratelimitbysize-reset`
 *   (seconds until the minute window ends), `ratelimitbysize-query-cost`
 * - `x-ratelimitbysize-limit-minute`, `x-ratelimitbysize-remaining-minute`,
 *   `x-ratelimitbysize-limit-month`, `x-ratelimitbysize-remaining-month`
 */
export function addRateLimitHeaders(headers: HeaderBag, family: HeaderFamily, reading: MeterReading, queryCost: number): HeaderBag {
  const { tokensPerMinute, tokensPerMonth, requestsPerMinute } = reading.limits;
  const minuteRemaining = tokensPerMinute === null ? 0 : Math.max(0, tokensPerMinute - reading.tokensThisMinute);
  const monthRemaining = tokensPerMonth === null ? 0 : Math.max(0, tokensPerMonth - reading.tokensThisMonth);
  if (family === 'legacy') {
    if (tokensPerMinute !== null) {
      headers['ratelimitbysize-limit'] = tokensPerMinute;
      headers['ratelimitbysize-remaining'] = minuteRemaining;
      headers['ratelimitbysize-reset'] = Math.ceil(reading.minuteResetMs / 1000);
      headers['x-ratelimitbysize-limit-minute'] = tokensPerMinute;
      headers['x-ratelimitbysize-remaining-minute'] = minuteRemaining;
    }
    headers['ratelimitbysize-query-cost'] = queryCost;
    if (tokensPerMonth !== null) {
      headers['x-ratelimitbysize-limit-month'] = tokensPerMonth;
      headers['x-ratelimitbysize-remaining-month'] = monthRemaining;
    }
    return headers;
  }
  if (tokensPerMinute !== null) {
    headers['x-ratelimit-limit-tokens-minute'] = tokensPerMinute;
    headers['x-ratelimit-remaining-tokens-minute'] = minuteRemaining;
  }
  if (tokensPerMonth !== null) {
    headers['x-ratelimit-limit-tokens-month'] = tokensPerMonth;
    headers['x-ratelimit-remaining-tokens-month'] = monthRemaining;
  }
  headers['x-ratelimit-tokens-query-cost'] = queryCost;
  if (requestsPerMinute !== null) {
    headers['x-ratelimit-limit-req-minute'] = requestsPerMinute;
    headers['x-ratelimit-remaining-req-minute'] = Math.max(0, requestsPerMinute - reading.requestsThisMinute);
  }
  return headers;
}
