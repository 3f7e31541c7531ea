/**
 * What one response's headers may impose on the windows. The parser (headers.ts) refuses values that are
 * not numbers; these are numbers that cannot be true, or that would lock a workspace or a model out on the
 * word of a single response (a broken or hostile proxy, a bug upstream):
 *
 * - a 429's block (`Retry-After`, a reset header, or the period's turn) lasts at most
 *   {@link HeaderBounds.maxRetryAfterMs}: `Retry-After: 2764799` would otherwise block for 32 days;
 * - a token limit below {@link HeaderBounds.minTokenLimit} (`x-ratelimit-limit-tokens-minute: 1`, an invented
 *   `x-ratelimit-limit-tokens-second: 5`) is set aside, with its window's remaining count, until
 *   {@link HeaderBounds.confirmations} responses in a row for the same (workspace, model) report it:
 *   believed at once, no request would ever fit again;
 * - every value set aside, here or by the parser, is listed, so the router can report it.
 *
 * Pure but for {@link LimitDoubts}, the bounded count of those reports, which the caller keeps.
 */
import type { MalformedReason, ParsedRateLimitHeaders } from './headers.js';
import type { UpstreamObservation, WindowObservation } from './types.js';

export interface HeaderBounds {
  /** The longest block a 429 may impose, ms. */
  readonly maxRetryAfterMs: number;
  /** Token limits below this are believed only once confirmed. */
  readonly minTokenLimit: number;
  /** How many responses in a row must report such a limit before it is believed. */
  readonly confirmations: number;
}

/**
 * Five minutes: every window Mistral meters per second or per minute turns within 60 s, so a longer
 * Retry-After for them cannot be the window's; five times that leaves room for a penalty or a skewed
 * clock. A month window really spent costs, under this ceiling, one refused request per pair every five
 * minutes (and the router's own month count, when the limit is known, refuses without asking); a false
 * month-long block would cost the month. One hundred tokens: a window that small cannot hold one short
 * chat request with its answer (the router reserves 1,024 output tokens unless told otherwise), and no
 * Mistral tier comes near it (the free tier allows 500,000 a minute); a test's emulator may still meter
 * a few hundred. Three responses: one garbled or hostile response is not enough, a real limit is
 * confirmed within seconds of traffic.
 */
export const DEFAULT_HEADER_BOUNDS: HeaderBounds = Object.freeze({ maxRetryAfterMs: 300_000, minTokenLimit: 100, confirmations: 3 });

export type IgnoredReason = MalformedReason | 'above-ceiling' | 'below-floor';

/** A header value the router did not take as sent, and why. */
export interface IgnoredHeader {
  /** Lower-case header name (for a limit set aside: its name in the current `x-ratelimit-*` family). */
  readonly header: string;
  readonly value: string;
  readonly reason: IgnoredReason;
}

const NOTHING_IGNORED: readonly IgnoredHeader[] = Object.freeze([]);

/**
 * Reports of a limit below the floor, per (workspace, model or workspace scope, window kind): how many
 * responses in a row said the same value. At most `max` keys (the oldest go first), whatever an upstream
 * invents.
 */
export class LimitDoubts {
  readonly #max: number;
  readonly #reports = new Map<string, { readonly limit: number; readonly count: number }>();

  constructor(max = 1_000) {
    this.#max = max;
  }

  get size(): number {
    return this.#reports.size;
  }

  /** One more response reports `limit` for `key`: whether `needed` in a row have now. */
  report(key: string, limit: number, needed: number): boolean {
    const previous = this.#reports.get(key);
    const count = previous?.limit === limit ? previous.count + 1 : 1;
    this.#reports.delete(key); // re-inserted last: the Map's order is the eviction order
    if (this.#reports.size >= this.#max) this.#reports.delete(this.#reports.keys().next().value as string);
    this.#reports.set(key, { limit, count });
    return count >= needed;
  }

  /** A plausible limit was reported for `key`: a low one must be confirmed again from scratch. */
  trusted(key: string): void {
    this.#reports.delete(key);
  }
}

const keyOf = (observation: UpstreamObservation, window: WindowObservation) =>
  `${observation.workspace}\u0000${window.scope === 'workspace' ? '' : observation.model}\u0000${window.kind}`;

/** The current family's name of a window's limit header. */
const limitHeader = (window: WindowObservation) => `x-ratelimit-limit-${window.unit === 'requests' ? 'req' : window.unit}-${window.period}`;

/**
 * `observation` within `bounds`, and the values set aside (the parser's `malformed` first). The same
 * observation object when nothing changed: this runs after every call.
 */
export function boundObservation(
  observation: UpstreamObservation,
  parsed: ParsedRateLimitHeaders,
  bounds: HeaderBounds,
  doubts: LimitDoubts,
): { observation: UpstreamObservation; ignored: readonly IgnoredHeader[] } {
  let ignored: IgnoredHeader[] | undefined = parsed.malformed.length === 0 ? undefined : parsed.malformed.map(({ header, value, reason }) => ({ header, value, reason }));
  const windows = observation.windows;
  let kept: WindowObservation[] | undefined;
  for (let i = 0; i < windows.length; i++) {
    const window = windows[i] as WindowObservation;
    const { limit } = window;
    const doubtful = window.unit === 'tokens' && limit !== undefined && limit > 0 && limit < bounds.minTokenLimit;
    if (!doubtful) {
      if (limit !== undefined && limit > 0 && doubts.size > 0) doubts.trusted(keyOf(observation, window));
      kept?.push(window);
      continue;
    }
    if (doubts.report(keyOf(observation, window), limit, bounds.confirmations)) {
      kept?.push(window);
      continue;
    }
    // Its remaining count came with it: set aside too (it would fill the window to the doubtful limit).
    kept ??= windows.slice(0, i);
    (ignored ??= []).push({ header: limitHeader(window), value: String(limit), reason: 'below-floor' });
  }
  const blocked = observation.rateLimited;
  const capped = blocked !== undefined && blocked.blockedForMs > bounds.maxRetryAfterMs;
  if (capped) {
    const source = blockSource(parsed, blocked.blockedForMs);
    if (source !== undefined) (ignored ??= []).push({ ...source, reason: 'above-ceiling' });
  }
  if (kept === undefined && !capped) return { observation, ignored: ignored ?? NOTHING_IGNORED };
  const bounded: UpstreamObservation = {
    ...observation,
    windows: kept ?? windows,
    ...(capped ? { rateLimited: { ...blocked, blockedForMs: bounds.maxRetryAfterMs } } : {}),
  };
  return { observation: bounded, ignored: ignored ?? NOTHING_IGNORED };
}

/** The header a block's length came from (in seconds, as sent), when one did (not the calendar's turn). */
function blockSource(parsed: ParsedRateLimitHeaders, blockedForMs: number): { header: string; value: string } | undefined {
  if (parsed.retryAfterMs === blockedForMs) return { header: 'retry-after', value: String(blockedForMs / 1000) };
  const window = parsed.windows.find((w) => w.resetMs === blockedForMs);
  if (window === undefined) return undefined;
  return { header: `x-ratelimit-reset-${window.unit === 'requests' ? 'req' : window.unit}-${window.period}`, value: String(blockedForMs / 1000) };
}
