/**
 * Every error mistral-router throws on purpose is a {@link RouterError} with a stable string `code`.
 * Subclasses carry structured fields; `cause` is kept. No message, field or cause of these errors
 * ever contains an API key: messages name workspaces, never keys.
 *
 * Each class has a `Symbol.for` marker so that `RouterError.isInstance(e)` works across two copies of
 * the package (a bundled one and a hoisted one), where `instanceof` would not.
 */

const routerErrorMarker = Symbol.for('mistral-router.error');

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
  | 'QUOTA_INVALID'
  | 'STORE_UNAVAILABLE'
  | 'STORE_FAILED'
  | 'UPSTREAM_ERROR'
  | 'ABORTED'
  | 'CONFIG_INVALID'
  | 'STREAM_FAILED'
  | 'ROUTER_CLOSED'
  | 'ATTEMPTS_EXHAUSTED'
  | 'GATEWAY_UNAUTHORIZED'
  | 'GATEWAY_FORBIDDEN'
  | 'GATEWAY_NOT_FOUND'
  | 'GATEWAY_BAD_REQUEST'
  | 'GATEWAY_BODY_TOO_LARGE'
  | 'GATEWAY_METHOD_NOT_ALLOWED'
  | 'GATEWAY_CLOSING';

export interface RouterErrorOptions {
  readonly cause?: unknown;
}

/** The base class of every error mistral-router throws on purpose. */
export class RouterError extends Error {
  readonly code: RouterErrorCode;
  readonly [routerErrorMarker] = true;

  constructor(code: RouterErrorCode, message: string, options: RouterErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RouterError';
    this.code = code;
  }

  /** True for any RouterError, also one thrown by another copy of this package. */
  static isInstance(error: unknown): error is RouterError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[routerErrorMarker] === true;
  }
}

/** Where in a catalogue file a problem was found. */
export interface CatalogErrorLocation {
  /** The file (path, or `<bundled>/models.yaml` for the shipped catalogue). */
  readonly file: string;
  /** 1-based line, when known. */
  readonly line?: number;
  /** 1-based column, when known. */
  readonly column?: number;
  /** JSON pointer to the field, e.g. `/models/3/contextWindow`. */
  readonly pointer?: string;
}

/** `file:line:column: message (at pointer)`: how every error located in a file reads. */
function located(message: string, location: CatalogErrorLocation): string {
  const where = `${location.file}${location.line === undefined ? '' : `:${location.line}`}${location.column === undefined ? '' : `:${location.column}`}`;
  const field = location.pointer === undefined || location.pointer === '' ? '' : ` (at ${location.pointer})`;
  return `${where}: ${message}${field}`;
}

/** A catalogue file that cannot be used. The whole file is refused; nothing of it is loaded. */
export class CatalogError extends RouterError {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly pointer: string | undefined;

  constructor(code: RouterErrorCode, message: string, location: CatalogErrorLocation, options: RouterErrorOptions = {}) {
    super(code, located(message, location), options);
    this.name = 'CatalogError';
    this.file = location.file;
    this.line = location.line;
    this.column = location.column;
    this.pointer = location.pointer;
  }
}

/**
 * A gateway configuration file that cannot be served (`CONFIG_INVALID`): YAML syntax, a schema violation,
 * an unset `${ENV}` variable, a duplicate key name, a route no model can serve. Located like a
 * {@link CatalogError}: file, line and the JSON pointer of the field.
 */
export class ConfigFileError extends RouterError {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly pointer: string | undefined;

  constructor(message: string, location: CatalogErrorLocation, options: RouterErrorOptions = {}) {
    super('CONFIG_INVALID', located(message, location), options);
    this.name = 'ConfigFileError';
    this.file = location.file;
    this.line = location.line;
    this.column = location.column;
    this.pointer = location.pointer;
  }
}

/** A need or request that can never be served as written (unknown capability, negative token count...). */
export class NeedError extends RouterError {
  /** The field of the need or request that was wrong, e.g. `need.capabilities[1]`. */
  readonly field: string;

  constructor(field: string, message: string, options: RouterErrorOptions = {}) {
    super('NEED_INVALID', `${field}: ${message}`, options);
    this.name = 'NeedError';
    this.field = field;
  }
}

/** Options given to a constructor or factory that cannot work. Mirrors TypeError but carries a code. */
export class ConfigError extends RouterError {
  readonly option: string;

  constructor(option: string, message: string, options: RouterErrorOptions = {}) {
    super('CONFIG_INVALID', `${option}: ${message}`, options);
    this.name = 'ConfigError';
    this.option = option;
  }
}

/** A structural view of a plan, kept loose here so that errors.ts imports nothing. */
export interface PlanLike {
  readonly candidates: readonly unknown[];
  readonly rejected: readonly unknown[];
}

/** No model in the catalogue can serve the need at all (not a quota question: capability, context...). */
export class NoEligibleModelError extends RouterError {
  readonly plan: PlanLike;

  constructor(message: string, plan: PlanLike, options: RouterErrorOptions = {}) {
    super('NO_ELIGIBLE_MODEL', message, options);
    this.name = 'NoEligibleModelError';
    this.plan = plan;
  }
}

/** Eligible models exist, but none has quota left within the allowed wait. */
export class QuotaExhaustedError extends RouterError {
  /** Milliseconds from when the error was thrown until the earliest candidate has room; `Infinity` when never. */
  readonly retryAfterMs: number;
  readonly plan: PlanLike | undefined;

  constructor(message: string, retryAfterMs: number, plan?: PlanLike, options: RouterErrorOptions = {}) {
    super('QUOTA_EXHAUSTED', message, options);
    this.name = 'QuotaExhaustedError';
    this.retryAfterMs = retryAfterMs;
    this.plan = plan;
  }
}

/** The quota store (e.g. Redis) could not be reached, and the configured policy is fail-closed. */
export class StoreUnavailableError extends RouterError {
  constructor(message: string, options: RouterErrorOptions = {}) {
    super('STORE_UNAVAILABLE', message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The quota store failed in a way that waiting will not cure: Redis refused the command (`NOPERM` for a
 * user without EVALSHA, `WRONGTYPE` when other code wrote a key under the store's prefix), a script
 * error, or a custom store that threw something else. Not retried; `cause` holds the original error.
 * When the store failed during a reserve, nothing was reserved.
 */
export class StoreError extends RouterError {
  /** The store operation that failed. */
  readonly operation: string;

  constructor(message: string, operation: string, options: RouterErrorOptions = {}) {
    super('STORE_FAILED', message, options);
    this.name = 'StoreError';
    this.operation = operation;
  }
}

/** Mistral (or the emulator) answered with an error the router does not route around. */
export class UpstreamError extends RouterError {
  /** HTTP status, or undefined for a connection error or timeout. */
  readonly status: number | undefined;
  /** The response body as text, when there was one. */
  readonly body: string | undefined;
  /** Whether another attempt (same or another model) could succeed. */
  readonly isRetryable: boolean;
  /** The model the failed call went to. */
  readonly model: string | undefined;
  /** The workspace name (never its key) the failed call used. */
  readonly workspace: string | undefined;

  constructor(
    message: string,
    fields: { status?: number; body?: string; isRetryable: boolean; model?: string; workspace?: string },
    options: RouterErrorOptions = {},
  ) {
    super('UPSTREAM_ERROR', message, options);
    this.name = 'UpstreamError';
    this.status = fields.status;
    this.body = fields.body;
    this.isRetryable = fields.isRetryable;
    this.model = fields.model;
    this.workspace = fields.workspace;
  }
}

/** The caller aborted (AbortSignal) while the router waited or called. */
export class AbortError extends RouterError {
  constructor(message = 'The request was aborted by its AbortSignal.', options: RouterErrorOptions = {}) {
    super('ABORTED', message, options);
    this.name = 'AbortError';
  }
}

/** The HTTP status of each gateway refusal. */
const GATEWAY_STATUS = {
  GATEWAY_UNAUTHORIZED: 401,
  GATEWAY_FORBIDDEN: 403,
  GATEWAY_NOT_FOUND: 404,
  GATEWAY_BAD_REQUEST: 400,
  GATEWAY_BODY_TOO_LARGE: 413,
  GATEWAY_METHOD_NOT_ALLOWED: 405,
  GATEWAY_CLOSING: 503,
} as const;

export type GatewayErrorCode = keyof typeof GATEWAY_STATUS;

/**
 * The gateway refused an HTTP request before routing it: no or an unknown key (401), a route or model the
 * key may not use (403), an unknown route, model or path (404), a method the path does not take (405), a
 * body that is not JSON (400) or too large (413), or any request once the gateway is shutting down (503).
 */
export class GatewayError extends RouterError {
  /** The HTTP status the client gets. */
  readonly status: number;
  /** The request field at fault (`model`, `body`), when there is one. */
  readonly param: string | null;

  constructor(code: GatewayErrorCode, message: string, param: string | null = null, options: RouterErrorOptions = {}) {
    super(code, message, options);
    this.name = 'GatewayError';
    this.status = GATEWAY_STATUS[code];
    this.param = param;
  }
}

/**
 * Remove anything that looks like a bearer token or an API key from a string. Used on upstream bodies
 * and messages before they are put into errors and events (an upstream may echo a header back).
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [redacted]');
}
