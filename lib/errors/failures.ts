/** Errors of the parts the router depends on: the quota store, the upstream, the caller's abort. */
import { RouterError, hasMarker, type RouterErrorOptions } from './base.js';

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
