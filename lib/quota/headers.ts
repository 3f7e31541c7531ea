/**
 * What Mistral's responses say about quota: both families of rate-limit headers, `Retry-After`,
 * `x-ratelimit-reset-*` when present, the deprecation notice (what a refusal's body means and the store's
 * observation of a whole response are in upstream-response.ts).
 *
 * Header values come from the network and are never trusted: a value that is not a plain non-negative
 * integer (or is absurdly large, or is repeated) is dropped and listed in `malformed`, so a hostile or
 * broken proxy can at worst make us forget a hint, never admit more than a window allows.
 * Pure: the current time is a parameter (for HTTP dates and epoch resets).
 */
import type { WindowObservation, WindowPeriod, WindowScope, WindowUnit } from './types.js';

/** A header set as the SDK's hooks give it (WHATWG `Headers`) or as a plain record (any key case). */
export type HeaderSource =
  | { forEach(callback: (value: string, name: string) => void): void; get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | number | null | undefined>>;

/** Why a header value was ignored. */
export type MalformedReason = 'not-a-number' | 'negative' | 'not-an-integer' | 'too-large' | 'repeated' | 'inconsistent' | 'bad-date';

/** One header value that was ignored, and why. */
export interface MalformedHeader {
  /** Lower-case header name. */
  readonly header: string;
  /** The raw value (joined with `, ` when repeated). */
  readonly value: string;
  readonly reason: MalformedReason;
}

/** Everything the rate-limit headers of one response said. */
export interface ParsedRateLimitHeaders {
  /** One entry per window the headers mention, with what they reported of it. */
  readonly windows: WindowObservation[];
  /** ms to wait from `Retry-After` (seconds or HTTP date), when present and sane. */
  readonly retryAfterMs: number | undefined;
  /** Tokens the upstream charged for this call (`x-ratelimit-tokens-query-cost` / `ratelimitbysize-query-cost`). */
  readonly queryCost: number | undefined;
  /** Epoch ms of `x-model-deprecation-timestamp`, when present and parseable. */
  readonly deprecationAt: number | undefined;
  /** `mistral-correlation-id`, for logs. */
  readonly correlationId: string | undefined;
  /** Values that were ignored. */
  readonly malformed: MalformedHeader[];
}

/**
 * Largest count accepted from a header. No Mistral tier comes near 10^15 tokens; anything larger is a
 * broken or hostile value, and beyond 2^53 it would not even be an exact integer.
 */
export const MAX_HEADER_COUNT = 1e15;

/**
 * Longest wait accepted from `Retry-After` or a reset header: a little over the longest month, since a
 * monthly quota can legitimately reset weeks away. Longer is treated as malformed.
 */
export const MAX_HEADER_WAIT_MS = 32 * 86_400_000;

/** Epoch seconds start here (2001-09-09); a smaller reset value is a duration in seconds. */
const EPOCH_SECONDS_THRESHOLD = 1e9;

type Field = 'limit' | 'remaining' | 'resetMs';

interface WindowTarget {
  readonly kind: string;
  readonly unit: WindowUnit;
  readonly period: WindowPeriod;
  readonly scope: WindowScope;
}

/**
 * A window named by a header's unit and period. Requests are metered per workspace and tokens per model
 * (mistral-api-facts.md); a combination not in WINDOW_KINDS (say tokens per second) still gets a window,
 * named the same way, so a new header needs no new code.
 */
function targetOf(unit: WindowUnit, period: WindowPeriod): WindowTarget {
  return { kind: `${unit}-per-${period}`, unit, period, scope: unit === 'requests' ? 'workspace' : 'model' };
}

const UNIT_WORDS: Readonly<Record<string, WindowUnit>> = { tokens: 'tokens', req: 'requests', requests: 'requests' };
const PERIOD_WORDS: Readonly<Record<string, WindowPeriod>> = { second: 'second', minute: 'minute', month: 'month' };
const FIELD_WORDS: Readonly<Record<string, Field>> = { limit: 'limit', remaining: 'remaining', reset: 'resetMs' };

/** `x-ratelimit-{limit|remaining|reset}-{tokens|req}-{second|minute|month}` (the current family). */
const CURRENT_FAMILY = /^x-ratelimit-(limit|remaining|reset)-(tokens|req|requests)-(second|minute|month)$/;
/** `x-ratelimitbysize-{limit|remaining|reset}-{minute|month}` (the older family, tokens). */
const OLDER_FAMILY = /^x-ratelimitbysize-(limit|remaining|reset)-(minute|month)$/;
/** `ratelimitbysize-{limit|remaining|reset}`: the older family's un-suffixed form, the per-minute token window. */
const OLDER_BARE = /^ratelimitbysize-(limit|remaining|reset)$/;

/** Which window and field a header reports, or undefined for a header that is not a window count. */
function classifyHeader(name: string): { target: WindowTarget; field: Field } | undefined {
  // The same dozen names come on every response: classify each name once.
  let known = classified.get(name);
  if (known === undefined && !classified.has(name)) {
    known = classifyHeaderName(name);
    if (classified.size < 1_000) classified.set(name, known); // bounded: a hostile upstream cannot grow it
  }
  return known;
}

const classified = new Map<string, { target: WindowTarget; field: Field } | undefined>();

function classifyHeaderName(name: string): { target: WindowTarget; field: Field } | undefined {
  let match = CURRENT_FAMILY.exec(name);
  if (match !== null) {
    return { target: targetOf(UNIT_WORDS[match[2] as string] as WindowUnit, PERIOD_WORDS[match[3] as string] as WindowPeriod), field: FIELD_WORDS[match[1] as string] as Field };
  }
  match = OLDER_FAMILY.exec(name);
  if (match !== null) return { target: targetOf('tokens', PERIOD_WORDS[match[2] as string] as WindowPeriod), field: FIELD_WORDS[match[1] as string] as Field };
  match = OLDER_BARE.exec(name);
  if (match !== null) return { target: targetOf('tokens', 'minute'), field: FIELD_WORDS[match[1] as string] as Field };
  return undefined;
}

/** The first letters of every name {@link HeaderParse.visit} reads (x, r, m, either case). */
const READ_FIRST = new Set([120, 88, 114, 82, 109, 77]);

/**
 * A plain record's headers that {@link HeaderParse.visit} may read, under lower-case names (any key case);
 * repeats, in arrays or across cases, kept apart. The dozen others a response carries are not copied.
 */
function collectRecord(source: Readonly<Record<string, unknown>>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (key: string, value: string) => {
    const list = out.get(key);
    if (list === undefined) out.set(key, [value]);
    else list.push(value);
  };
  for (const name of Object.keys(source)) {
    if (!READ_FIRST.has(name.charCodeAt(0))) continue;
    const value = source[name];
    if (value === undefined || value === null) continue;
    const key = name.toLowerCase();
    if (Array.isArray(value)) for (const item of value) add(key, String(item));
    else add(key, String(value));
  }
  return out;
}

type Parsed = { ok: true; value: number } | { ok: false; reason: MalformedReason };

/** A plain non-negative decimal integer, nothing else (no sign, exponent, fraction, hex, list). */
export function parseCount(raw: string): Parsed {
  // Fast path: up to 15 plain digits (every real count), read without trim, regex or allocation.
  const length = raw.length;
  if (length > 0 && length <= 15) {
    let value = 0;
    let i = 0;
    for (; i < length; i++) {
      const digit = raw.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (i === length) return { ok: true, value };
  }
  const text = raw.trim();
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    return value > MAX_HEADER_COUNT ? { ok: false, reason: 'too-large' } : { ok: true, value };
  }
  const number = Number(text);
  if (text === '' || Number.isNaN(number)) return { ok: false, reason: 'not-a-number' };
  if (number < 0) return { ok: false, reason: 'negative' };
  if (!Number.isFinite(number)) return { ok: false, reason: 'too-large' };
  return { ok: false, reason: 'not-an-integer' };
}

/** Seconds as a plain non-negative decimal (`2`, `0.5`), to ms; at most {@link MAX_HEADER_WAIT_MS}. */
function parseSeconds(text: string): Parsed {
  if (!/^\d+(\.\d+)?$/.test(text)) {
    const number = Number(text);
    if (text === '' || Number.isNaN(number)) return { ok: false, reason: 'not-a-number' };
    return { ok: false, reason: number < 0 ? 'negative' : 'too-large' };
  }
  const ms = Math.ceil(Number(text) * 1000);
  return ms > MAX_HEADER_WAIT_MS ? { ok: false, reason: 'too-large' } : { ok: true, value: ms };
}

/** An HTTP date (IMF-fixdate, RFC 850 or asctime, as RFC 9110 allows) as epoch ms. */
function parseHttpDate(text: string): number | undefined {
  // Date.parse alone accepts nonsense ("1", "x 2"); require a weekday or month name as HTTP dates have.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : at;
}

/** `Retry-After`: delay-seconds or an HTTP date, as ms from `now` (a past date is 0). */
export function parseRetryAfter(raw: string, now: number): Parsed {
  const text = raw.trim();
  if (/^[-+\d.]/.test(text)) return parseSeconds(text);
  const at = parseHttpDate(text);
  if (at === undefined) return { ok: false, reason: 'bad-date' };
  const ms = Math.max(0, at - now);
  return ms > MAX_HEADER_WAIT_MS ? { ok: false, reason: 'too-large' } : { ok: true, value: ms };
}

/**
 * A reset header: seconds until the reset, or (some servers) the reset instant in epoch seconds, told
 * apart by size; returned as ms from `now`.
 */
function parseReset(raw: string, now: number): Parsed {
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text) && Number(text) >= EPOCH_SECONDS_THRESHOLD) {
    const ms = Math.max(0, Math.ceil(Number(text) * 1000 - now));
    return ms > MAX_HEADER_WAIT_MS ? { ok: false, reason: 'too-large' } : { ok: true, value: ms };
  }
  return parseRetryAfter(text, now);
}

/** `x-model-deprecation-timestamp`: epoch seconds, epoch ms, or an ISO/HTTP date, as epoch ms. */
function parseTimestamp(raw: string): number | undefined {
  const text = raw.trim();
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    // Ten-digit values are seconds (until 2286); thirteen-digit ones are ms.
    return value < 1e11 ? value * 1000 : value;
  }
  const at = Date.parse(text);
  return Number.isNaN(at) || !/[A-Za-z-]/.test(text) ? undefined : at;
}

/**
 * Parse the rate-limit headers of one Mistral response (a 200 or a 429).
 *
 * Both families map to the same windows: `x-ratelimit-*-tokens-minute` and `x-ratelimitbysize-*-minute`
 * and `ratelimitbysize-*` to `tokens-per-minute`; `*-tokens-month` / `*-month` to `tokens-per-month`;
 * `*-req-minute` to `requests-per-minute`. When two headers report the same field of a window, the
 * lower value is kept (the conservative reading). A `remaining` above its `limit` is dropped as
 * inconsistent.
 *
 * @param headers A WHATWG `Headers` or a plain record.
 * @param now Current epoch ms, to turn HTTP dates and epoch resets into waits.
 */
export function parseRateLimitHeaders(headers: HeaderSource, now: number): ParsedRateLimitHeaders {
  const parse = new HeaderParse(now);
  if (typeof (headers as { forEach?: unknown }).forEach === 'function' && typeof (headers as { get?: unknown }).get === 'function') {
    // A WHATWG Headers object gives lower-case names and has already joined repeats with ", " (which the
    // count parser refuses as repeated). Visited directly: this runs after every call.
    (headers as { forEach(callback: (value: string, name: string) => void): void }).forEach((value, name) => parse.visit(name, value, 1));
  } else {
    for (const [name, values] of collectRecord(headers as Readonly<Record<string, unknown>>)) parse.visit(name, values.join(', '), values.length);
  }
  return parse.result();
}

/** The state of one {@link parseRateLimitHeaders} call. */
class HeaderParse {
  readonly #now: number;
  readonly malformed: MalformedHeader[] = [];
  readonly #windows = new Map<string, { target: WindowTarget; limit?: number; remaining?: number; resetMs?: number }>();
  #retryAfterMs: number | undefined = undefined;
  #queryCost: number | undefined = undefined;
  #deprecationAt: number | undefined = undefined;
  #correlationId: string | undefined = undefined;

  constructor(now: number) {
    this.#now = now;
  }

  /** One header: a lower-case name, its raw value, and how many values it had (more than one: repeated). */
  visit(name: string, raw: string, count: number): void {
    // Every name parsed below starts with x, r or m; a response carries a dozen others.
    const first = name.charCodeAt(0);
    if (first !== 120 && first !== 114 && first !== 109) return;
    if (name === 'mistral-correlation-id') {
      this.#correlationId = raw;
      return;
    }
    const header = classifyHeader(name);
    const isCost = header === undefined && (name === 'x-ratelimit-tokens-query-cost' || name === 'ratelimitbysize-query-cost');
    const isWait = header === undefined && name === 'retry-after';
    const isDeprecation = header === undefined && name === 'x-model-deprecation-timestamp';
    if (header === undefined && !isCost && !isWait && !isDeprecation) return;
    // Two values for one field (a record's array, or a Headers object's ", " join; dates have their own
    // commas): which one is true is unknowable, so neither is used.
    if (count > 1 || (!isWait && !isDeprecation && raw.includes(','))) {
      this.#reject(name, raw, 'repeated');
      return;
    }
    if (isDeprecation) {
      const at = parseTimestamp(raw);
      if (at === undefined) this.#reject(name, raw, 'bad-date');
      else this.#deprecationAt = at;
      return;
    }
    const parsed = isWait ? parseRetryAfter(raw, this.#now) : header?.field === 'resetMs' ? parseReset(raw, this.#now) : parseCount(raw);
    if (!parsed.ok) {
      this.#reject(name, raw, parsed.reason);
      return;
    }
    if (isWait) this.#retryAfterMs = parsed.value;
    else if (isCost) this.#queryCost = minDefined(this.#queryCost, parsed.value);
    else if (header !== undefined) {
      let entry = this.#windows.get(header.target.kind);
      if (entry === undefined) this.#windows.set(header.target.kind, (entry = { target: header.target }));
      entry[header.field] = minDefined(entry[header.field], parsed.value);
    }
  }

  #reject(header: string, value: string, reason: MalformedReason): void {
    this.malformed.push({ header, value, reason });
  }

  result(): ParsedRateLimitHeaders {
    const observations: WindowObservation[] = [];
    for (const { target, limit, remaining, resetMs } of this.#windows.values()) {
      let kept = remaining;
      if (limit !== undefined && remaining !== undefined && remaining > limit) {
        this.malformed.push({ header: `remaining-${target.kind}`, value: `${remaining} > limit ${limit}`, reason: 'inconsistent' });
        kept = undefined;
      }
      if (limit === undefined && kept === undefined && resetMs === undefined) continue;
      const observation: { -readonly [K in keyof WindowObservation]: WindowObservation[K] } = { kind: target.kind, unit: target.unit, period: target.period, scope: target.scope };
      if (limit !== undefined) observation.limit = limit;
      if (kept !== undefined) observation.remaining = kept;
      if (resetMs !== undefined) observation.resetMs = resetMs;
      observations.push(observation);
    }
    return { windows: observations, retryAfterMs: this.#retryAfterMs, queryCost: this.#queryCost, deprecationAt: this.#deprecationAt, correlationId: this.#correlationId, malformed: this.malformed };
  }
}

function minDefined(current: number | undefined, value: number): number {
  return current === undefined ? value : Math.min(current, value);
}
