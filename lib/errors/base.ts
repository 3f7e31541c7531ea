/** The base class, its codes and markers, and the redaction every error message goes through (see ../errors.ts). */

const routerErrorMarker = Symbol.for('mistral-router.error');

/** Whether `value` carries `marker` (set by a class of this package, of any copy). */
export function hasMarker(value: unknown, marker: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
}

/** A wait an error reports: a finite number of ms >= 0 (a caller sleeps on it). */
export function finiteWait(retryAfterMs: number): number {
  if (typeof retryAfterMs !== 'number' || !Number.isFinite(retryAfterMs) || retryAfterMs < 0) {
    throw new TypeError(`retryAfterMs: expected a finite number of ms >= 0, received ${String(retryAfterMs)}`);
  }
  return retryAfterMs;
}

/** Stable error codes. Match on these, not on messages. */
export type RouterErrorCode =
  | 'CATALOG_SYNTAX'
  | 'CATALOG_SCHEMA'
  | 'CATALOG_DUPLICATE_ID'
  | 'CATALOG_ALIAS_UNKNOWN'
  | 'CATALOG_ALIAS_AMBIGUOUS'
  | 'CATALOG_TIER_UNKNOWN_MODEL'
  | 'CATALOG_FILE'
  | 'CATALOG_UNKNOWN_MODEL'
  | 'CATALOG_UNKNOWN_TIER'
  | 'CATALOG_REFRESH'
  | 'CATALOG_REPLACEMENT_LOOP'
  | 'CATALOG_ENCODING'
  | 'NEED_INVALID'
  | 'NO_ELIGIBLE_MODEL'
  | 'QUOTA_EXHAUSTED'
  | 'COOLING_DOWN'
  | 'QUOTA_INVALID'
  | 'STORE_UNAVAILABLE'
  | 'STORE_FAILED'
  | 'UPSTREAM_ERROR'
  | 'ABORTED'
  | 'CONFIG_INVALID'
  | 'TRACE_INVALID'
  | 'STREAM_FAILED'
  | 'ROUTER_CLOSED'
  | 'ATTEMPTS_EXHAUSTED'
  | 'GATEWAY_UNAUTHORIZED'
  | 'GATEWAY_FORBIDDEN'
  | 'GATEWAY_NOT_FOUND'
  | 'GATEWAY_BAD_REQUEST'
  | 'GATEWAY_BODY_TOO_LARGE'
  | 'GATEWAY_UNSUPPORTED_ENCODING'
  | 'GATEWAY_METHOD_NOT_ALLOWED'
  | 'GATEWAY_CLOSING';

export interface RouterErrorOptions {
  readonly cause?: unknown;
}

/** The named fields of a {@link RouterError}. */
export interface RouterErrorFields extends RouterErrorOptions {
  readonly code: RouterErrorCode;
  readonly message: string;
}

/** The base class of every error mistral-router throws on purpose. */
export class RouterError extends Error {
  readonly code: RouterErrorCode;
  readonly [routerErrorMarker] = true;

  constructor(fields: RouterErrorFields);
  constructor(code: RouterErrorCode, message: string, options?: RouterErrorOptions);
  constructor(code: RouterErrorCode | RouterErrorFields, message = '', options: RouterErrorOptions = {}) {
    const fields = typeof code === 'object' ? code : { code, message, cause: options.cause };
    super(fields.message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'RouterError';
    this.code = fields.code;
  }

  /** True for any RouterError (of every class), also one thrown by another copy of this package. */
  static isInstance(error: unknown): error is RouterError {
    return hasMarker(error, routerErrorMarker);
  }
}

/**
 * Remove anything that looks like a bearer token, an API key or a URL's credentials from a string. Used on upstream bodies
 * and messages before they are put into errors and events (an upstream may echo a header back).
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    const { whole, fragments } = secretPatterns(secret);
    out = out.replace(whole, '[redacted]');
    if (fragments !== undefined) out = out.replace(fragments, '[redacted]');
  }
  return out.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [redacted]').replace(URL_CREDENTIALS, '$1[redacted]@');
}

/** A run this long of a secret is redacted on its own: an upstream may echo a key cut short, wrapped or re-cased. */
const SECRET_FRAGMENT = 16;

const patterns = new Map<string, { whole: RegExp; fragments: RegExp | undefined }>();

/** The secret in any letter case, and (a long one) every run of {@link SECRET_FRAGMENT} characters of it. */
function secretPatterns(secret: string): { whole: RegExp; fragments: RegExp | undefined } {
  let found = patterns.get(secret);
  if (found === undefined) {
    const escape = (part: string) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    const runs: string[] = [];
    for (let i = 0; i + SECRET_FRAGMENT <= secret.length && secret.length > SECRET_FRAGMENT; i++) runs.push(escape(secret.slice(i, i + SECRET_FRAGMENT)));
    found = { whole: new RegExp(escape(secret), 'gi'), fragments: runs.length === 0 ? undefined : new RegExp(runs.join('|'), 'gi') };
    // Bounded: the secrets are the configuration's keys, but nothing should grow without end.
    if (patterns.size >= 1_000) patterns.clear();
    patterns.set(secret, found);
  }
  return found;
}

/** The user and password of a URL (`https://user:pass@host`). */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;
