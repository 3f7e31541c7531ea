/**
 * Every failure of a gateway request as an HTTP answer: the status, the headers (`Retry-After` on a 429
 * that will clear) and one body both families of clients read. Mistral's clients read the top-level
 * `{ object: 'error', message, type, param, code }`; OpenAI's read `error.message` (the `openai` package
 * builds its message from `body.error`), so the same fields are also under `error`.
 *
 * Messages come from the router's typed errors, which never hold an API key; an error that is not one
 * of them (a bug) is answered with a generic message, its text kept out of the response.
 */
import { ModelCoolingDownError, NeedError, NoEligibleModelError, QuotaExhaustedError, RouterError, UpstreamError, redactSecrets } from '../errors.js';
import { GatewayError } from './errors.js';
import { wireError } from '../mistral/wire.js';

/** An HTTP error answer, ready to write. */
export interface ErrorReply {
  readonly status: number;
  /** `Retry-After` in whole seconds, when the client should retry after a known delay. */
  readonly retryAfterSeconds: number | undefined;
  /** The JSON body. */
  readonly body: string;
  /** The error's `type` (also the access log's). */
  readonly type: string;
}

const TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  405: 'invalid_request_error',
  408: 'timeout_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  429: 'rate_limited',
  502: 'upstream_error',
  503: 'service_unavailable',
  504: 'upstream_timeout',
};

/** The body both Mistral's and OpenAI's clients read (see the module comment). */
export function errorBody(message: string, type: string, param: string | null, code: string | null): string {
  const flat = wireError(message, type, param, code);
  return JSON.stringify({ ...flat, error: { message, type, param, code } });
}

function reply(status: number, message: string, param: string | null, code: string | null, retryAfterSeconds?: number): ErrorReply {
  const type = TYPES[status] ?? 'api_error';
  return { status, retryAfterSeconds, body: errorBody(message, type, param, code), type };
}

/** The message of an upstream error body (Mistral's JSON), else undefined. */
function upstreamMessage(body: string | undefined): string | undefined {
  if (body === undefined || !body.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(body) as { message?: unknown; detail?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
    if (parsed.detail !== undefined) return JSON.stringify(parsed.detail).slice(0, 500);
  } catch {
    // Not JSON after all: the router's own message says what happened.
  }
  return undefined;
}

/**
 * The answer for an error thrown while serving a request. `secrets` are redacted once more from anything
 * that came from upstream (belt and braces: the router redacts them already).
 */
export function errorReply(error: unknown, secrets: readonly string[]): ErrorReply {
  if (GatewayError.isInstance(error)) return reply(error.status, error.message, error.param, error.code.slice('GATEWAY_'.length).toLowerCase());
  // Whole seconds, rounded up: a client that waits this long finds room (the router's figure is exact).
  if (QuotaExhaustedError.isInstance(error)) return reply(429, error.message, null, 'quota_exhausted', Math.ceil(error.retryAfterMs / 1000));
  if (ModelCoolingDownError.isInstance(error)) return reply(503, error.message, null, 'cooling_down', Math.ceil(error.retryAfterMs / 1000));
  if (NeedError.isInstance(error)) return reply(400, error.message, error.field, 'invalid_field');
  if (NoEligibleModelError.isInstance(error)) {
    // Mistral refused the gateway's own upstream keys: not the client's request, the gateway's configuration.
    if (error.workspacesOut.length > 0) return reply(503, error.message, null, 'upstream_unauthorized');
    return reply(400, error.message, 'model', 'no_eligible_model');
  }
  if (UpstreamError.isInstance(error)) {
    const status = error.status;
    const message = redactSecrets(upstreamMessage(error.body) ?? error.message, secrets);
    // The caller's own mistake, as the upstream judged it: its status, its message.
    if (status === 400 || status === 404 || status === 422) return reply(status, message, null, 'upstream_refused');
    const what = status === undefined ? 'did not answer' : `answered ${status}`;
    const statusOut = status === undefined && /timeout/i.test(error.message) ? 504 : 502;
    return reply(statusOut, `Upstream ${what} after every fallback (last: ${error.model ?? 'unknown model'}): ${message}`, null, status === undefined ? 'upstream_unreachable' : `upstream_${status}`);
  }
  if (RouterError.isInstance(error)) {
    switch (error.code) {
      case 'STORE_UNAVAILABLE':
      case 'STORE_FAILED':
      case 'ROUTER_CLOSED':
        return reply(503, error.message, null, error.code.toLowerCase());
      case 'CONFIG_INVALID':
      case 'NEED_INVALID':
        return reply(400, error.message, null, 'invalid_field');
      default:
        return reply(502, redactSecrets(error.message, secrets), null, error.code.toLowerCase());
    }
  }
  return reply(500, 'The gateway failed to serve this request (an internal error; see its log).', null, 'internal_error');
}
