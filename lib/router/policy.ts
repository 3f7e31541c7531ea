/**
 * The fallback policy: what a failed call means and what the router does next. A pure function of the
 * error (the SDK's, or a network one), so every branch is tested without a server.
 *
 * | failure | action |
 * |---|---|
 * | 429 for the workspace's quota | block that window until it resets (from headers), next candidate at once; none left: wait for the window within maxWaitMs |
 * | capacity exceeded (code 3505, even as 503), 5xx, connection error, timeout | cool the model down (circuit breaker), next candidate; none left: wait for the cooldown within maxWaitMs, else ModelCoolingDownError |
 * | prompt too large for the model's context | next candidate with a larger window |
 * | 401 / 403 | that workspace is out, next workspace |
 * | "Invalid model" (400 code 1500 / `invalid_model`, 404 `unknown_model`) | that (workspace, model) is not served: passed over for a while, next candidate, nothing charged |
 * | other 400 / 422 | the caller's mistake: thrown at once |
 * | aborted by the caller | thrown at once |
 */
import { classifyUpstreamRefusal } from '../quota/upstream-response.js';

export type FailureKind =
  | 'quota'
  | 'capacity'
  | 'server-error'
  | 'connection'
  | 'timeout'
  | 'context-too-long'
  | 'unauthorized'
  | 'invalid-request'
  | 'invalid-model'
  | 'aborted'
  | 'unknown';

export type FailureAction = 'block-window' | 'cooldown-model' | 'larger-context' | 'disable-workspace' | 'model-unavailable' | 'throw';

export interface Failure {
  readonly kind: FailureKind;
  readonly action: FailureAction;
  /** HTTP status, when the upstream answered. */
  readonly status: number | undefined;
  /** Response body text, when there was one. */
  readonly body: string | undefined;
  /** Response headers, when the upstream answered (fed to the quota engine). */
  readonly headers: Headers | undefined;
  /** Whether the call reached the model (then its request counts against the upstream's window). */
  readonly reachedUpstream: boolean;
  readonly message: string;
}

interface HttpErrorShape {
  readonly statusCode: number;
  readonly body?: unknown;
  readonly headers?: unknown;
  readonly message?: string;
}

function isHttpError(error: unknown): error is HttpErrorShape {
  return typeof error === 'object' && error !== null && typeof (error as HttpErrorShape).statusCode === 'number';
}

const CONTEXT_TOO_LONG = /too large for model|maximum context length|context length|too many tokens/i;

/**
 * Whether an answer is Mistral's "this model is not served here": 400 with code `1500` or type
 * `invalid_model` (what the API sends for a retired or unknown model), or 404 with code `unknown_model`
 * (what its docs describe). Read from the error object's fields, not its wording.
 */
export function isInvalidModel(status: number, body: string | undefined): boolean {
  if ((status !== 400 && status !== 404) || body === undefined || body === '') return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return false;
  }
  if (parsed === null || typeof parsed !== 'object') return false;
  const { code, type } = parsed as { code?: unknown; type?: unknown };
  if (status === 400) return code === '1500' || code === 1500 || type === 'invalid_model';
  return code === 'unknown_model';
}

/** Classify an error thrown by an SDK call (or by the network under it). */
export function classifyFailure(error: unknown): Failure {
  const message = error instanceof Error ? error.message : String(error);
  if (isHttpError(error)) {
    const status = error.statusCode;
    const body = typeof error.body === 'string' ? error.body : error.body === undefined ? undefined : JSON.stringify(error.body);
    const headers = error.headers instanceof Headers ? error.headers : undefined;
    const base = { status, body, headers, reachedUpstream: true, message };
    if (status === 429 || status === 503) {
      const refusal = classifyUpstreamRefusal(status, body ?? '');
      if (refusal.kind === 'capacity') return { ...base, kind: 'capacity', action: 'cooldown-model' };
      if (status === 429) return { ...base, kind: 'quota', action: 'block-window' };
      return { ...base, kind: 'server-error', action: 'cooldown-model' };
    }
    if (status === 401 || status === 403) return { ...base, kind: 'unauthorized', action: 'disable-workspace' };
    if (status >= 500) return { ...base, kind: 'server-error', action: 'cooldown-model' };
    if ((status === 400 || status === 422) && CONTEXT_TOO_LONG.test(body ?? '')) return { ...base, kind: 'context-too-long', action: 'larger-context' };
    if (status === 408) return { ...base, kind: 'timeout', action: 'cooldown-model' };
    // Refused before any model ran: nothing was spent, so the attempt's reservation is released whole.
    if (isInvalidModel(status, body)) return { ...base, kind: 'invalid-model', action: 'model-unavailable', reachedUpstream: false };
    return { ...base, kind: 'invalid-request', action: 'throw' };
  }
  const name = error instanceof Error ? error.name : '';
  const base = { status: undefined, body: undefined, headers: undefined, message };
  // The SDK refused the request before sending it (its schema): the caller's mistake, nothing reached Mistral.
  if (name === 'SDKValidationError' || name === 'InvalidRequestError') return { ...base, kind: 'invalid-request', action: 'throw', reachedUpstream: false };
  // A caller's abort comes after the request was handed to the SDK (a signal aborted earlier stops the call
  // before it is sent): it may have reached the model, so it counts as reached, like a dropped connection.
  if (name === 'RequestAbortedError' || name === 'AbortError') return { ...base, kind: 'aborted', action: 'throw', reachedUpstream: true };
  if (name === 'RequestTimeoutError' || name === 'TimeoutError') return { ...base, kind: 'timeout', action: 'cooldown-model', reachedUpstream: true };
  if (name === 'ConnectionError' || /ECONNREFUSED|ECONNRESET|socket hang up|terminated|fetch failed|other side closed/i.test(message)) {
    // A connection that failed may or may not have reached the model: count it as reached, so the
    // window never under-counts what the upstream may have metered.
    return { ...base, kind: 'connection', action: 'cooldown-model', reachedUpstream: true };
  }
  return { ...base, kind: 'unknown', action: 'throw', reachedUpstream: true };
}
