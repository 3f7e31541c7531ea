/**
 * What one upstream response means for routing: a 429/503 body classified (the workspace's quota, or
 * Mistral's capacity for the model), and the whole response turned into the store's observation (the
 * windows its headers report, and which window a quota refusal blocks for how long).
 */
import { parseRateLimitHeaders, type HeaderSource, type ParsedRateLimitHeaders } from './headers.js';
import type { UpstreamObservation, WindowObservation, WindowPeriod } from './types.js';
import { WINDOW_KINDS } from './types.js';
import { bucketStart, monthIndex } from './window.js';

/**
 * What an error response means for routing: `quota` (the workspace's rate limit: throttle that window),
 * `capacity` (Mistral's capacity for the model: try another model, do not throttle the workspace),
 * or `other`.
 */
export type UpstreamRefusalKind = 'quota' | 'capacity' | 'other';

/** The classification of a 429/503 response, with the body's own code and message when it had them. */
export interface UpstreamRefusal {
  readonly kind: UpstreamRefusalKind;
  /** The body's `code` (`1300`, `3505`...), as a string. */
  readonly code: string | undefined;
  /** The body's `type` (`rate_limited`, `service_tier_capacity_exceeded`...). */
  readonly type: string | undefined;
  readonly message: string | undefined;
}

/**
 * Classify an error response by status and body (text or parsed JSON), following the bodies seen in the
 * wild (mistral-api-facts.md). Capacity is checked first: it has been seen as a 429 too, and treating
 * it as quota would throttle a workspace that still has room on other models. A 429 with an
 * unrecognised body is quota (that is what the status means); any other status is `other` unless the
 * body says otherwise.
 */
export function classifyUpstreamRefusal(status: number, body: unknown): UpstreamRefusal {
  const fields = bodyFields(body);
  const { code, type, message } = fields;
  const text = message ?? '';
  let kind: UpstreamRefusalKind = 'other';
  if (code === '3505' || type === 'service_tier_capacity_exceeded' || /capacity exceeded/i.test(text)) kind = 'capacity';
  else if (code === '1300' || type === 'rate_limited' || /rate limit exceeded/i.test(text) || status === 429) kind = 'quota';
  return { kind, code, type, message };
}

function bodyFields(body: unknown): { code: string | undefined; type: string | undefined; message: string | undefined } {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      // A plain-text body: its words are the message.
      return { code: undefined, type: undefined, message: body };
    }
  }
  if (value === null || typeof value !== 'object') return { code: undefined, type: undefined, message: undefined };
  const record = value as Record<string, unknown>;
  const pick = (key: string) => {
    const field = record[key];
    return typeof field === 'string' || typeof field === 'number' ? String(field) : undefined;
  };
  return { code: pick('code'), type: pick('type'), message: pick('message') ?? pick('detail') };
}

/** How long a 429 blocks a window when neither `Retry-After` nor a reset header says. */
export const DEFAULT_BLOCK_MS = 60_000;

/** Inputs of {@link toUpstreamObservation}: one response of one call. */
export interface ResponseFacts {
  readonly workspace: string;
  readonly model: string;
  /** HTTP status (200 for a success). */
  readonly status: number;
  readonly headers: HeaderSource;
  /** The error body, for a 429/503. */
  readonly body?: unknown;
  /** Current epoch ms. */
  readonly now: number;
}

/**
 * Turn one response into what a store's `observe` takes, plus the parsed headers and the refusal kind.
 *
 * A quota 429 blocks the window whose `remaining` is 0 (tokens before requests, minute before month), or
 * every window of the pair when no header says which (the store decides what that covers). The block
 * lasts `Retry-After`, else that window's reset header, else until its period turns (next second,
 * minute, or month for the month window), else {@link DEFAULT_BLOCK_MS}. A capacity refusal blocks
 * nothing: the model, not the workspace, is short.
 */
export function toUpstreamObservation(facts: ResponseFacts): {
  observation: UpstreamObservation;
  headers: ParsedRateLimitHeaders;
  refusal: UpstreamRefusal | undefined;
} {
  const headers = parseRateLimitHeaders(facts.headers, facts.now);
  const refusal = facts.status >= 400 ? classifyUpstreamRefusal(facts.status, facts.body) : undefined;
  const base = { workspace: facts.workspace, model: facts.model, windows: headers.windows };
  if (refusal?.kind !== 'quota') return { observation: base, headers, refusal };
  // "Requests rate limit exceeded" is the workspace's request rate, whatever the token headers say: block
  // the request window the headers show empty, else requests per second (the limit every tier sets).
  const requestRefusal = /requests rate limit/i.test(refusal.message ?? '');
  const empty = headers.windows.filter((w) => w.remaining === 0 && (!requestRefusal || w.unit === 'requests'));
  const full: Pick<WindowObservation, 'kind' | 'period' | 'resetMs'> | undefined =
    empty.sort((a, b) => blockOrder(a) - blockOrder(b))[0] ?? (requestRefusal ? WINDOW_KINDS.requestsPerSecond : undefined);
  const blockedForMs = headers.retryAfterMs ?? full?.resetMs ?? (full === undefined ? DEFAULT_BLOCK_MS : untilPeriodTurns(full.period, facts.now));
  const rateLimited = full === undefined ? { blockedForMs } : { kind: full.kind, blockedForMs };
  return { observation: { ...base, rateLimited }, headers, refusal };
}

/** Tokens before requests and short periods before long ones: the most likely culprit first. */
function blockOrder(window: WindowObservation): number {
  const periods: readonly WindowPeriod[] = ['second', 'minute', 'rolling-30d', 'month'];
  return (window.unit === 'tokens' ? 0 : 10) + periods.indexOf(window.period);
}

/** ms from `now` until the upstream's own window of this period turns over (its fixed boundary). */
function untilPeriodTurns(period: WindowPeriod, now: number): number {
  if (period === 'month') return bucketStart('month', monthIndex(now) + 1) - now;
  const length = period === 'second' ? 1_000 : period === 'minute' ? 60_000 : DEFAULT_BLOCK_MS;
  return length - (now % length);
}
