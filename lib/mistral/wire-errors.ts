/**
 * The errors of the wire transport (wire-client.ts), built with the very fields and names the router's
 * failure policy reads from the SDK's own errors (lib/router/policy.ts `classifyFailure`), so that a wire
 * call fails exactly as the same call through `@mistralai/mistralai` would: an HTTP answer that is not a
 * success is a {@link WireHTTPError} carrying `statusCode`, `body` (the text as sent: Mistral's
 * `{ message, type, param, code }`, "Invalid model"'s code 1500...) and `headers` (Retry-After,
 * x-ratelimit-*); a failed request is the SDK's own `RequestAbortedError`, `RequestTimeoutError`,
 * `ConnectionError` or `UnexpectedClientError`, chosen by the SDK's own tests of the cause.
 *
 * Neither the request nor its headers (the API key) are kept on any of them.
 */
import { isAbortError, isConnectionError, isTimeoutError } from '@mistralai/mistralai/lib/http.js';
import { ConnectionError, RequestAbortedError, RequestTimeoutError, UnexpectedClientError } from '@mistralai/mistralai/models/errors/httpclienterrors.js';

/** An upstream HTTP answer that is not a success, with what the failure policy reads of it. */
export class WireHTTPError extends Error {
  /** The HTTP status. */
  readonly statusCode: number;
  /** The response body as text. */
  readonly body: string;
  /** The response headers (rate limits, Retry-After, deprecation). */
  readonly headers: Headers;
  readonly contentType: string;

  constructor(statusCode: number, headers: Headers, body: string) {
    const contentType = headers.get('content-type') ?? '';
    const shown = body.length > 10_000 ? `${body.slice(0, 10_000)}...and ${body.length - 10_000} more chars` : body || '""';
    super(`API error occurred: Status ${statusCode}${contentType === 'application/json' ? '' : ` Content-Type ${contentType || '""'}`}. Body: ${shown}`);
    this.name = 'WireHTTPError';
    this.statusCode = statusCode;
    this.body = body;
    this.headers = headers;
    this.contentType = contentType;
  }
}

/** A response that is not what the endpoint answers (a success body that is not its JSON). */
export class WireResponseError extends Error {
  constructor(message: string) {
    super(message);
    // The SDK's name for the same failure (its response schema refused the body).
    this.name = 'ResponseValidationError';
  }
}

/** A request that failed before an answer (abort, timeout, connection), as the SDK names it. */
export function requestFailed(error: unknown): Error {
  if (isAbortError(error)) return new RequestAbortedError('Request aborted by client', { cause: error });
  if (isTimeoutError(error)) return new RequestTimeoutError('Request timed out', { cause: error });
  if (isConnectionError(error)) return new ConnectionError('Unable to make request', { cause: error });
  return new UnexpectedClientError('Unexpected HTTP client error', { cause: error });
}
