/** Errors of routing: nothing can ever serve the request, or nothing has room (quota, cooldown) within the wait. */
import { RouterError, finiteWait, hasMarker, type RouterErrorOptions } from './base.js';

/** A structural view of a plan, kept loose here so that errors.ts imports nothing. */
export interface PlanLike {
  readonly candidates: readonly unknown[];
  readonly rejected: readonly unknown[];
}

export interface NoEligibleModelErrorFields extends RouterErrorOptions {
  readonly message: string;
  readonly plan: PlanLike;
  /** The workspaces that would serve the request but are out (Mistral refused their key, 401/403). */
  readonly workspacesOut?: readonly string[];
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
  /**
   * The workspaces that would serve the request but are out (Mistral refused their API key, 401/403):
   * not the request's fault but the router's configuration (the gateway answers 503). Empty otherwise.
   */
  readonly workspacesOut: readonly string[];
  readonly [noEligibleModelErrorMarker] = true;

  constructor(fields: NoEligibleModelErrorFields);
  constructor(message: string, plan: PlanLike, options?: RouterErrorOptions);
  constructor(message: string | NoEligibleModelErrorFields, plan?: PlanLike, options: RouterErrorOptions = {}) {
    const fields = typeof message === 'object' ? message : { message, plan: plan as PlanLike, cause: options.cause };
    super({ code: 'NO_ELIGIBLE_MODEL', message: fields.message, cause: fields.cause });
    this.name = 'NoEligibleModelError';
    this.plan = fields.plan;
    this.workspacesOut = fields.workspacesOut ?? [];
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
