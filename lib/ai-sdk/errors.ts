/**
 * The router's errors as the AI SDK expects a provider's: a failed API call is an `APICallError`, whose
 * `isRetryable` and `retry-after-ms` header drive `maxRetries` in `generateText` and the rest.
 *
 * The router has already done what retrying can do when one of these reaches the application: it fell
 * back over the candidates, up to `maxAttempts`. So an upstream failure is `isRetryable: false`, or the
 * AI SDK's retries (2 by default) would multiply the router's attempts (3 x 5 requests). The exception is
 * quota: `QUOTA_EXHAUSTED` sent nothing, and says exactly when capacity returns, so it is retryable when
 * that moment is within the minute the AI SDK honours a `retry-after-ms` for (beyond it the SDK would retry
 * on its own backoff, too early), with the header set so that the retry comes when there is room.
 *
 * Errors that are not about a call (a bad need, no eligible model, a store or config failure, abort,
 * router closed) stay the router's own typed errors: nothing upstream could have answered differently.
 */
import { APICallError } from '@ai-sdk/provider';
import { QuotaExhaustedError, RouterError, type RouterErrorCode } from '../errors.js';

const routerErrorMarker = Symbol.for('mistral-router.error');

/** The longest `retry-after-ms` the AI SDK waits for (its getRetryDelayInMs); past it, not retryable. */
export const AI_SDK_MAX_RETRY_AFTER_MS = 60_000;

/** Router error codes that mean "the API call failed", mapped to {@link RouterAPICallError}. */
const CALL_FAILURES: ReadonlySet<RouterErrorCode> = new Set(['QUOTA_EXHAUSTED', 'UPSTREAM_ERROR', 'ATTEMPTS_EXHAUSTED', 'STREAM_FAILED']);

/**
 * A router error that is an AI SDK `APICallError` (`APICallError.isInstance` is true), with the router's
 * `code` (`RouterError.isInstance` is true too) and, for quota, `retryAfterMs`. The original error is `cause`.
 */
export class RouterAPICallError extends APICallError {
  readonly code: RouterErrorCode;
  /** For `QUOTA_EXHAUSTED`: ms until the earliest candidate has room (`Infinity`: never); else undefined. */
  readonly retryAfterMs: number | undefined;
  readonly [routerErrorMarker] = true;

  constructor(error: RouterError, url: string, requestBodyValues: unknown) {
    const quota = error instanceof QuotaExhaustedError || error.code === 'QUOTA_EXHAUSTED' ? (error as QuotaExhaustedError) : undefined;
    const retryAfterMs = quota?.retryAfterMs;
    const upstream = error as { status?: number; body?: string };
    const finite = retryAfterMs !== undefined && Number.isFinite(retryAfterMs);
    super({
      message: error.message,
      url,
      requestBodyValues,
      statusCode: quota !== undefined ? 429 : upstream.status,
      responseBody: upstream.body,
      responseHeaders: finite ? { 'retry-after-ms': String(Math.ceil(retryAfterMs)), 'retry-after': String(Math.ceil(retryAfterMs / 1000)) } : undefined,
      isRetryable: finite && retryAfterMs < AI_SDK_MAX_RETRY_AFTER_MS,
      cause: error,
      data: { code: error.code, ...(retryAfterMs === undefined ? {} : { retryAfterMs: finite ? retryAfterMs : null }) },
    });
    this.code = error.code;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * What the application gets for an error of the router: a {@link RouterAPICallError} for a failed call,
 * the router's own typed error otherwise, anything else as it is.
 */
export function toAISDKError(error: unknown, url: string, requestBodyValues: unknown): unknown {
  if (RouterError.isInstance(error) && CALL_FAILURES.has(error.code) && !APICallError.isInstance(error)) return new RouterAPICallError(error, url, requestBodyValues);
  return error;
}
