/**
 * What the router does when an attempt fails: policy.ts says what the error means (a pure function of
 * it); here that meaning is applied. The reservation is settled (the request reached the model) or
 * released, the headers are learned, and the action taken: exclude the pair for this call, cool the model
 * down, ask for a larger context, disable the workspace, or throw a typed error with no secret in it.
 */
import type { Model } from '../catalog/types.js';
import type { Clock } from '../clock.js';
import { AbortError, NeedError, UpstreamError, redactSecrets } from '../errors.js';
import type { CandidateRefusal, QuotaStore, Reservation } from '../quota/types.js';
import type { CallObservation } from '../telemetry/observer.js';
import { pairKey, type Candidates } from './candidates.js';
import type { CatalogView } from './catalog-view.js';
import type { PassedOver } from './decision.js';
import type { AttemptRecord, RouterEventEmitter } from './events.js';
import type { Learning } from './learning.js';
import type { Rejection } from './plan.js';
import { classifyFailure, type Failure } from './policy.js';
import { locateValidationIssue } from './sdk-validation.js';
import type { WaitQueue } from './wait-queue.js';
import type { Workspace } from './workspaces.js';

/** Error-handling state of a call between attempts. */
export interface CallState {
  readonly attempts: AttemptRecord[];
  /** (workspace, model) pair keys this call will not retry; created on the first failure. */
  excluded: Set<string> | undefined;
  minContext: number;
  lastError: Error | undefined;
  waitedMs: number;
  /** The refusals that came with the last reservation (candidates ahead of it without room). */
  refusals: readonly CandidateRefusal[];
  /** Telemetry watching this call (see router.observe), told of its waits. */
  observed: CallObservation | undefined;
  /** Candidates a monthly budget passed over (see budgets.ts). */
  budgetPassedOver: PassedOver[] | undefined;
}

const NO_REFUSALS: readonly CandidateRefusal[] = Object.freeze([]);

export function newCallState(): CallState {
  return { attempts: [], excluded: undefined, minContext: 0, lastError: undefined, waitedMs: 0, refusals: NO_REFUSALS, observed: undefined, budgetPassedOver: undefined };
}

export class Failures {
  readonly #store: QuotaStore;
  readonly #clock: Clock;
  readonly #events: RouterEventEmitter;
  readonly #view: CatalogView;
  readonly #candidates: Candidates;
  readonly #learning: Learning;
  readonly #queue: WaitQueue;
  readonly #secrets: readonly string[];
  readonly #cooldownMs: number;

  constructor(parts: {
    store: QuotaStore;
    clock: Clock;
    events: RouterEventEmitter;
    view: CatalogView;
    candidates: Candidates;
    learning: Learning;
    queue: WaitQueue;
    secrets: readonly string[];
    cooldownMs: number;
  }) {
    this.#store = parts.store;
    this.#clock = parts.clock;
    this.#events = parts.events;
    this.#view = parts.view;
    this.#candidates = parts.candidates;
    this.#learning = parts.learning;
    this.#queue = parts.queue;
    this.#secrets = parts.secrets;
    this.#cooldownMs = parts.cooldownMs;
  }

  /** An attempt failed with `error`: records it on `state`, then returns (try the next candidate) or throws. */
  async handle(state: CallState, models: readonly Model[], reservation: Reservation, workspace: Workspace, attemptId: string, started: number, error: unknown): Promise<void> {
    const failure = classifyFailure(error);
    const hookHeaders = workspace.client.takeHeaders(attemptId);
    state.attempts.push({ workspace: reservation.workspace, model: reservation.model, outcome: failure.kind, status: failure.status, durationMs: this.#clock.now() - started });
    const learning = this.#learning;
    // The request reached the model: it stays counted, its tokens return. Otherwise everything returns.
    if (failure.reachedUpstream) await learning.bookkeeping('settle', () => this.#store.settle(reservation, 0));
    else await learning.bookkeeping('release', () => this.#store.release(reservation));
    const headers = failure.headers ?? hookHeaders;
    if (headers !== undefined) await learning.bookkeeping('observe', () => learning.learn(workspace, reservation.model, failure.status ?? 0, headers, failure.body, reservation.tokens));
    void this.#queue.pump();
    const upstream = this.#upstreamError(failure, reservation, error);
    state.lastError = upstream;
    switch (failure.action) {
      case 'throw':
        if (failure.kind === 'aborted') throw new AbortError('The request was aborted by its AbortSignal.', { cause: error });
        if (failure.kind === 'invalid-request' && !failure.reachedUpstream) {
          // The zod tree says which field: name it, not the whole request (its JSON dump helps nobody).
          const issue = locateValidationIssue(error) ?? { field: 'request', message: failure.message.slice(0, 200) };
          const message = redactSecrets(`${issue.message.slice(0, 120)}; the SDK refused the request before sending it`, this.#secrets);
          throw new NeedError({ field: issue.field, message, cause: sanitiseCause(error, this.#secrets) });
        }
        throw upstream;
      case 'block-window':
        // The headers' observation blocked the window in the store: the next reserve passes the pair over
        // while others have room, or waits for the block to end (within maxWaitMs) when none has. Without
        // headers nothing blocks it, so this call leaves the pair alone.
        // When other candidates remain, the call moves on to them at once whatever the store made of the
        // headers (a limit it distrusts blocks nothing): the pair is left out of this call.
        if (headers === undefined || this.#candidates.forCall(models, addTo(state.excluded, reservation), state.minContext).length > 0) {
          (state.excluded ??= new Set()).add(pairKey(reservation.workspace, reservation.model));
        }
        break;
      case 'cooldown-model': {
        const until = this.#clock.now() + this.#cooldownMs;
        this.#candidates.coolDown(reservation.model, until, failure.kind);
        this.#events.emit('cooldown', { model: reservation.model, until, reason: failure.kind });
        break;
      }
      case 'larger-context': {
        const window = this.#view.catalog.model(reservation.model)?.contextWindow ?? 0;
        state.minContext = Math.max(state.minContext, window + 1);
        break;
      }
      case 'model-unavailable':
        // Not served to this workspace (retired early, not in its plan): every call passes the pair over for
        // a while, this one at once.
        this.#view.markUnavailable(reservation.workspace, reservation.model, failure.status);
        (state.excluded ??= new Set()).add(pairKey(reservation.workspace, reservation.model));
        break;
      case 'disable-workspace':
        this.#candidates.disable(workspace);
        this.#events.emit('workspaceDisabled', { workspace: reservation.workspace, status: failure.status });
        break;
    }
    this.#events.emit('fallback', { from: { workspace: reservation.workspace, model: reservation.model }, reason: failure.kind, status: failure.status, action: failure.action });
  }

  #upstreamError(failure: Failure, reservation: { workspace: string; model: string }, cause: unknown): UpstreamError {
    const body = failure.body === undefined ? undefined : redactSecrets(failure.body, this.#secrets);
    const status = failure.status === undefined ? failure.kind : `HTTP ${failure.status}`;
    const message = redactSecrets(`${reservation.model} via workspace ${reservation.workspace} failed (${status}, ${failure.kind})${body ? `: ${body.slice(0, 300)}` : `: ${failure.message}`}`, this.#secrets);
    return new UpstreamError(message, {
      status: failure.status,
      body,
      isRetryable: failure.action !== 'throw',
      model: reservation.model,
      workspace: reservation.workspace,
    }, { cause: sanitiseCause(cause, this.#secrets) });
  }
}

/** `excluded` with the reservation's pair added (a new set: the call's own is changed only if the pair is left out). */
function addTo(excluded: ReadonlySet<string> | undefined, reservation: Reservation): Set<string> {
  const set = new Set(excluded);
  set.add(pairKey(reservation.workspace, reservation.model));
  return set;
}

/**
 * The reasons of a plan's rejections, counted (NoEligibleModelError's message): reasons that differ only
 * in their numbers (sizes, dates, versions) are one group, shown by its first reason as it was written.
 */
export function summariseRejections(rejected: readonly Rejection[]): string {
  const groups = new Map<string, { first: string; count: number }>();
  for (const r of rejected) {
    const shape = r.reason.replace(/\d+/g, '#');
    const group = groups.get(shape);
    if (group === undefined) groups.set(shape, { first: r.reason, count: 1 });
    else group.count++;
  }
  return [...groups.values()].map(({ first, count }) => (count === 1 ? `1 × ${first}` : `${count} × ${first} (or alike)`)).join('; ') || 'the catalogue is empty';
}

/** Keep an SDK error as `cause` without the request (whose headers hold the key). */
export function sanitiseCause(error: unknown, secrets: readonly string[]): Error {
  if (!(error instanceof Error)) return new Error(redactSecrets(String(error), secrets));
  const copy = new Error(redactSecrets(error.message, secrets));
  copy.name = error.name;
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number') Object.assign(copy, { statusCode: status });
  return copy;
}
