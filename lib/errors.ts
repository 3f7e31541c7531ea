/**
 * Every error mistral-router throws on purpose is a {@link RouterError} with a stable string `code`.
 * Subclasses carry structured fields; `cause` is kept. No message, field or cause of these errors
 * ever contains an API key: messages name workspaces, never keys.
 *
 * Each class has its own `Symbol.for('mistral-router.error.<Class>')` marker and a static `isInstance`
 * reading it, so that `NeedError.isInstance(e)` works across two copies of the package (a bundled one and
 * a hoisted one), where `instanceof` would not; `RouterError.isInstance` is true for every class.
 * Constructors take one object of named fields; the positional forms of earlier versions still work.
 */

const routerErrorMarker = Symbol.for('mistral-router.error');

/** Whether `value` carries `marker` (set by a class of this package, of any copy). */
export function hasMarker(value: unknown, marker: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
}

/** A wait an error reports: a finite number of ms >= 0 (a caller sleeps on it). */
function finiteWait(retryAfterMs: number): number {
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

export interface CatalogErrorFields extends RouterErrorFields, CatalogErrorLocation {}

/** `file:line:column: message (at pointer)`: how every error located in a file reads. */
export function locatedMessage(message: string, location: CatalogErrorLocation): string {
  const where = `${location.file}${location.line === undefined ? '' : `:${location.line}`}${location.column === undefined ? '' : `:${location.column}`}`;
  const field = location.pointer === undefined || location.pointer === '' ? '' : ` (at ${location.pointer})`;
  return `${where}: ${message}${field}`;
}

const catalogErrorMarker = Symbol.for('mistral-router.error.CatalogError');

/** A catalogue file that cannot be used. The whole file is refused; nothing of it is loaded. */
export class CatalogError extends RouterError {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly pointer: string | undefined;
  readonly [catalogErrorMarker] = true;

  constructor(fields: CatalogErrorFields);
  constructor(code: RouterErrorCode, message: string, location: CatalogErrorLocation, options?: RouterErrorOptions);
  constructor(code: RouterErrorCode | CatalogErrorFields, message = '', location?: CatalogErrorLocation, options: RouterErrorOptions = {}) {
    const fields: CatalogErrorFields = typeof code === 'object' ? code : { ...(location as CatalogErrorLocation), code, message, cause: options.cause };
    super({ code: fields.code, message: locatedMessage(fields.message, fields), cause: fields.cause });
    this.name = 'CatalogError';
    this.file = fields.file;
    this.line = fields.line;
    this.column = fields.column;
    this.pointer = fields.pointer;
  }

  static override isInstance(error: unknown): error is CatalogError { return hasMarker(error, catalogErrorMarker); }
}

/** `message` says what was wrong with `field`; the error's message is `<field>: <message>`. */
export interface NeedErrorFields extends RouterErrorOptions {
  readonly field: string;
  readonly message: string;
}

const needErrorMarker = Symbol.for('mistral-router.error.NeedError');

/** A need or request that can never be served as written (unknown capability, negative token count...). */
export class NeedError extends RouterError {
  /** The field of the need or request that was wrong, e.g. `need.capabilities[1]`. */
  readonly field: string;
  readonly [needErrorMarker] = true;

  constructor(fields: NeedErrorFields);
  constructor(field: string, message: string, options?: RouterErrorOptions);
  constructor(field: string | NeedErrorFields, message = '', options: RouterErrorOptions = {}) {
    const fields = typeof field === 'object' ? field : { field, message, cause: options.cause };
    super({ code: 'NEED_INVALID', message: `${fields.field}: ${fields.message}`, cause: fields.cause });
    this.name = 'NeedError';
    this.field = fields.field;
  }

  static override isInstance(error: unknown): error is NeedError { return hasMarker(error, needErrorMarker); }
}

/** `message` says what was wrong with `option`; the error's message is `<option>: <message>`. */
export interface ConfigErrorFields extends RouterErrorOptions {
  readonly option: string;
  readonly message: string;
}

const configErrorMarker = Symbol.for('mistral-router.error.ConfigError');

/** Options given to a constructor or factory that cannot work. Mirrors TypeError but carries a code. */
export class ConfigError extends RouterError {
  readonly option: string;
  readonly [configErrorMarker] = true;

  constructor(fields: ConfigErrorFields);
  constructor(option: string, message: string, options?: RouterErrorOptions);
  constructor(option: string | ConfigErrorFields, message = '', options: RouterErrorOptions = {}) {
    const fields = typeof option === 'object' ? option : { option, message, cause: options.cause };
    super({ code: 'CONFIG_INVALID', message: `${fields.option}: ${fields.message}`, cause: fields.cause });
    this.name = 'ConfigError';
    this.option = fields.option;
  }

  static override isInstance(error: unknown): error is ConfigError { return hasMarker(error, configErrorMarker); }
}

/** A structural view of a plan, kept loose here so that errors.ts imports nothing. */
export interface PlanLike {
  readonly candidates: readonly unknown[];
  readonly rejected: readonly unknown[];
}

export interface NoEligibleModelErrorFields extends RouterErrorOptions {
  readonly message: string;
  readonly plan: PlanLike;
}

const noEligibleModelErrorMarker = Symbol.for('mistral-router.error.NoEligibleModelError');

/**
 * Nothing this router knows can ever serve the request: no model in the catalogue has the capability or
 * the context, every workspace is out (401/403), or the request is larger than a limit of every candidate.
 * Not a question of waiting: a model cooling down is a {@link ModelCoolingDownError}, a full window a
 * {@link QuotaExhaustedError}.
 */
export class NoEligibleModelError extends RouterError {
  readonly plan: PlanLike;
  readonly [noEligibleModelErrorMarker] = true;

  constructor(fields: NoEligibleModelErrorFields);
  constructor(message: string, plan: PlanLike, options?: RouterErrorOptions);
  constructor(message: string | NoEligibleModelErrorFields, plan?: PlanLike, options: RouterErrorOptions = {}) {
    const fields = typeof message === 'object' ? message : { message, plan: plan as PlanLike, cause: options.cause };
    super({ code: 'NO_ELIGIBLE_MODEL', message: fields.message, cause: fields.cause });
    this.name = 'NoEligibleModelError';
    this.plan = fields.plan;
  }

  static override isInstance(error: unknown): error is NoEligibleModelError { return hasMarker(error, noEligibleModelErrorMarker); }
}

export interface QuotaExhaustedErrorFields extends RouterErrorOptions {
  readonly message: string;
  readonly retryAfterMs: number;
  readonly plan?: PlanLike;
}

const quotaExhaustedErrorMarker = Symbol.for('mistral-router.error.QuotaExhaustedError');

/** Eligible models exist, but none has quota left within the allowed wait. */
export class QuotaExhaustedError extends RouterError {
  /** Milliseconds from when the error was thrown until the earliest candidate has room. Always finite. */
  readonly retryAfterMs: number;
  readonly plan: PlanLike | undefined;
  readonly [quotaExhaustedErrorMarker] = true;

  constructor(fields: QuotaExhaustedErrorFields);
  constructor(message: string, retryAfterMs: number, plan?: PlanLike, options?: RouterErrorOptions);
  constructor(message: string | QuotaExhaustedErrorFields, retryAfterMs = 0, plan?: PlanLike, options: RouterErrorOptions = {}) {
    const fields = typeof message === 'object' ? message : { message, retryAfterMs, plan, cause: options.cause };
    super({ code: 'QUOTA_EXHAUSTED', message: fields.message, cause: fields.cause });
    this.name = 'QuotaExhaustedError';
    this.retryAfterMs = finiteWait(fields.retryAfterMs);
    this.plan = fields.plan;
  }

  static override isInstance(error: unknown): error is QuotaExhaustedError { return hasMarker(error, quotaExhaustedErrorMarker); }
}

/** A model (or one workspace's pair) the router avoids for a while, and until when. */
export interface CoolingModel {
  readonly model: string;
  /** Set when only this workspace's pair is passed over (it answered "Invalid model"). */
  readonly workspace?: string;
  /** The clock's epoch ms at which it is tried again. */
  readonly until: number;
  /** What caused it: a failure kind (`server-error`, `capacity`, `timeout`, `connection`, `invalid-model`). */
  readonly reason: string;
}

export interface ModelCoolingDownErrorFields extends RouterErrorOptions {
  readonly message: string;
  readonly retryAfterMs: number;
  readonly models: readonly CoolingModel[];
  readonly plan?: PlanLike;
}

const modelCoolingDownErrorMarker = Symbol.for('mistral-router.error.ModelCoolingDownError');

/**
 * Every model that can serve the request is cooling down (after a 5xx, a capacity refusal, a timeout or a
 * dropped connection) or passed over after "Invalid model", and none comes back within the call's
 * `maxWaitMs`. `retryAfterMs` says when the first is back; `cause` is the failure that cooled it, when
 * this call saw it.
 */
export class ModelCoolingDownError extends RouterError {
  /** ms until the first of `models` is tried again. Always finite. */
  readonly retryAfterMs: number;
  readonly models: readonly CoolingModel[];
  readonly plan: PlanLike | undefined;
  readonly [modelCoolingDownErrorMarker] = true;

  constructor(fields: ModelCoolingDownErrorFields) {
    super({ code: 'COOLING_DOWN', message: fields.message, cause: fields.cause });
    this.name = 'ModelCoolingDownError';
    this.retryAfterMs = finiteWait(fields.retryAfterMs);
    this.models = Object.freeze([...fields.models]);
    this.plan = fields.plan;
  }

  static override isInstance(error: unknown): error is ModelCoolingDownError { return hasMarker(error, modelCoolingDownErrorMarker); }
}

const storeUnavailableErrorMarker = Symbol.for('mistral-router.error.StoreUnavailableError');

/** The quota store (e.g. Redis) could not be reached, and the configured policy is fail-closed. */
export class StoreUnavailableError extends RouterError {
  readonly [storeUnavailableErrorMarker] = true;

  constructor(message: string, options: RouterErrorOptions = {}) {
    super({ code: 'STORE_UNAVAILABLE', message, cause: options.cause });
    this.name = 'StoreUnavailableError';
  }

  static override isInstance(error: unknown): error is StoreUnavailableError { return hasMarker(error, storeUnavailableErrorMarker); }
}

export interface StoreErrorFields extends RouterErrorOptions {
  readonly message: string;
  readonly operation: string;
}

const storeErrorMarker = Symbol.for('mistral-router.error.StoreError');

/**
 * The quota store failed in a way that waiting will not cure: Redis refused the command (`NOPERM` for a
 * user without EVALSHA, `WRONGTYPE` when other code wrote a key under the store's prefix), a script
 * error, or a custom store that threw something else. Not retried; `cause` holds the original error.
 * When the store failed during a reserve, nothing was reserved.
 */
export class StoreError extends RouterError {
  /** The store operation that failed. */
  readonly operation: string;
  readonly [storeErrorMarker] = true;

  constructor(fields: StoreErrorFields);
  constructor(message: string, operation: string, options?: RouterErrorOptions);
  constructor(message: string | StoreErrorFields, operation = '', options: RouterErrorOptions = {}) {
    const fields = typeof message === 'object' ? message : { message, operation, cause: options.cause };
    super({ code: 'STORE_FAILED', message: fields.message, cause: fields.cause });
    this.name = 'StoreError';
    this.operation = fields.operation;
  }

  static override isInstance(error: unknown): error is StoreError { return hasMarker(error, storeErrorMarker); }
}

/** What an upstream failure reports besides its message. */
export interface UpstreamFailureFields {
  /** HTTP status, or undefined for a connection error or timeout. */
  readonly status?: number;
  /** The response body as text, when there was one. */
  readonly body?: string;
  /** Whether another attempt (same or another model) could succeed. */
  readonly isRetryable: boolean;
  /** The model the failed call went to. */
  readonly model?: string;
  /** The workspace name (never its key) the failed call used. */
  readonly workspace?: string;
}

export interface UpstreamErrorFields extends UpstreamFailureFields, RouterErrorOptions {
  readonly message: string;
}

const upstreamErrorMarker = Symbol.for('mistral-router.error.UpstreamError');

/** Mistral (or the emulator) answered with an error the router does not route around. */
export class UpstreamError extends RouterError {
  readonly status: number | undefined;
  readonly body: string | undefined;
  readonly isRetryable: boolean;
  readonly model: string | undefined;
  readonly workspace: string | undefined;
  readonly [upstreamErrorMarker] = true;

  constructor(fields: UpstreamErrorFields);
  constructor(message: string, fields: UpstreamFailureFields, options?: RouterErrorOptions);
  constructor(message: string | UpstreamErrorFields, failure?: UpstreamFailureFields, options: RouterErrorOptions = {}) {
    const fields: UpstreamErrorFields = typeof message === 'object' ? message : { ...(failure as UpstreamFailureFields), message, cause: options.cause };
    super({ code: 'UPSTREAM_ERROR', message: fields.message, cause: fields.cause });
    this.name = 'UpstreamError';
    this.status = fields.status;
    this.body = fields.body;
    this.isRetryable = fields.isRetryable;
    this.model = fields.model;
    this.workspace = fields.workspace;
  }

  static override isInstance(error: unknown): error is UpstreamError { return hasMarker(error, upstreamErrorMarker); }
}

const abortErrorMarker = Symbol.for('mistral-router.error.AbortError');

/** The caller aborted (AbortSignal) while the router waited or called. */
export class AbortError extends RouterError {
  readonly [abortErrorMarker] = true;

  constructor(message = 'The request was aborted by its AbortSignal.', options: RouterErrorOptions = {}) {
    super({ code: 'ABORTED', message, cause: options.cause });
    this.name = 'AbortError';
  }

  static override isInstance(error: unknown): error is AbortError { return hasMarker(error, abortErrorMarker); }
}

/**
 * Remove anything that looks like a bearer token, an API key or a URL's credentials from a string. Used on upstream bodies
 * and messages before they are put into errors and events (an upstream may echo a header back).
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [redacted]').replace(URL_CREDENTIALS, '$1[redacted]@');
}

/** The user and password of a URL (`https://user:pass@host`). */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;
