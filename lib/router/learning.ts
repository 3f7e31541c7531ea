/**
 * What a call's outcome teaches: its usage settles the reservation and calibrates the token estimator;
 * its response headers feed the store's windows (learned limits, lower remaining, 429 blocks) and may show
 * a limit (`limitsLearned`) or a window kind the tier did not define (metered from then on).
 *
 * Bookkeeping after a call must not turn the call's outcome into a store error: the answer is the
 * caller's either way. A store failure here is a `storeError` event (a fail-closed Redis store recovers
 * the held tokens when the reservation expires).
 */
import type { Clock } from '../clock.js';
import { redactSecrets } from '../errors.js';
import { toUpstreamObservation } from '../quota/headers.js';
import type { QuotaStore, Reservation, UpstreamObservation } from '../quota/types.js';
import type { TokenEstimator } from '../tokens.js';
import type { Candidates } from './candidates.js';
import type { CatalogView } from './catalog-view.js';
import type { RouterEventEmitter } from './events.js';
import type { Prepared } from './prepare.js';
import type { WaitQueue } from './wait-queue.js';
import { tierWindows, type Workspace } from './workspaces.js';

export type BookkeepingOperation = 'settle' | 'release' | 'observe';

/** The usage a response reports (the SDK's camel-cased fields). */
export interface Usage {
  readonly promptTokens?: number;
  /** The output tokens: with `promptTokens`, what the call's cost is computed from. */
  readonly completionTokens?: number;
  readonly totalTokens?: number;
}

export class Learning {
  readonly #store: QuotaStore;
  readonly #clock: Clock;
  readonly #events: RouterEventEmitter;
  readonly #view: CatalogView;
  readonly #candidates: Candidates;
  readonly #tokens: TokenEstimator;
  readonly #secrets: readonly string[];
  #queue: WaitQueue | undefined;
  /** Whether the store settles and observes synchronously (see QuotaStore.settleSync): no promise then. */
  readonly #syncSettle: boolean;
  readonly #syncObserve: boolean;

  constructor(store: QuotaStore, clock: Clock, events: RouterEventEmitter, view: CatalogView, candidates: Candidates, tokens: TokenEstimator, secrets: readonly string[]) {
    this.#store = store;
    this.#clock = clock;
    this.#events = events;
    this.#view = view;
    this.#candidates = candidates;
    this.#tokens = tokens;
    this.#secrets = secrets;
    this.#syncSettle = typeof store.settleSync === 'function';
    this.#syncObserve = typeof store.observeSync === 'function';
  }

  /** The queue to wake when capacity returns (it reports its own store errors here, so it comes second). */
  set queue(queue: WaitQueue) {
    this.#queue = queue;
  }

  /**
   * A call succeeded: calibrate the estimator, settle at its usage (the estimate without one), learn from
   * its headers, wake the queue. A promise only when the store needs one.
   */
  succeeded(prepared: Prepared, reservation: Reservation, workspace: Workspace, attemptId: string, usage: Usage | undefined): Promise<void> | undefined {
    const used = usage?.totalTokens;
    if (typeof usage?.promptTokens === 'number') this.calibrate(prepared, usage.promptTokens);
    const headers = workspace.client.takeHeaders(attemptId);
    const settling = this.settleAndLearn(workspace, reservation, typeof used === 'number' && used >= 0 ? used : reservation.tokens, headers);
    const queue = this.#queue as WaitQueue;
    if (settling === undefined) {
      if (queue.length > 0) void queue.pump();
      return undefined;
    }
    return settling.then(() => void queue.pump());
  }

  /** The real prompt size of a prepared request: the estimator corrects its ratio. */
  calibrate(prepared: Prepared, promptTokens: number): void {
    this.#tokens.observe(prepared.promptEstimate, promptTokens, prepared.ratio);
  }

  /**
   * Settle a reservation and learn from the response's headers. Both go out together (the store sees the
   * settle first: both stores run operations in the order they are called), so a remote store costs one
   * round trip here, not two. In that order the upstream's remaining is compared with usage that already
   * holds the real count, not the estimate.
   */
  settleAndLearn(workspace: Workspace, reservation: Reservation, tokens: number, headers: Headers | undefined): Promise<void> | undefined {
    const store = this.#store;
    if (this.#syncSettle && this.#syncObserve) {
      try {
        store.settleSync?.(reservation, tokens);
      } catch (error) {
        this.storeError('settle', error);
      }
      if (headers !== undefined) {
        try {
          this.learn(workspace, reservation.model, 200, headers, undefined);
        } catch (error) {
          this.storeError('observe', error);
        }
      }
      return undefined;
    }
    const settled = this.bookkeeping('settle', () => store.settle(reservation, tokens));
    if (headers === undefined) return settled;
    return Promise.all([settled, this.bookkeeping('observe', () => this.learn(workspace, reservation.model, 200, headers, undefined))]).then(() => undefined);
  }

  /** Runs a store operation whose failure is reported (`storeError`), never thrown. */
  async bookkeeping(operation: BookkeepingOperation, run: () => Promise<unknown> | undefined): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.storeError(operation, error);
    }
  }

  storeError(operation: BookkeepingOperation, error: unknown): void {
    this.#events.emit('storeError', { operation, message: redactSecrets((error as Error).message ?? String(error), this.#secrets) });
  }

  /**
   * Feed a response's headers to the quota store, then note what they taught: emit limitsLearned for new
   * limits, add learned window kinds. Synchronous with a store that observes synchronously.
   */
  learn(workspace: Workspace, model: string, status: number, headers: Headers, body: string | undefined): Promise<void> | undefined {
    const { observation, headers: parsed } = toUpstreamObservation({ workspace: workspace.config.name, model, status, headers, body, now: this.#clock.now() });
    // The API announces a retirement on the model's own responses: the plans follow from the next call.
    if (parsed.deprecationAt !== undefined && this.#view.noteRetirement(model, parsed.deprecationAt)) {
      this.#view.reportLifecycle(model, this.#view.lifecycle());
    }
    if (observation.windows.length === 0 && observation.rateLimited === undefined) return undefined;
    const store = this.#store;
    if (this.#syncObserve) {
      store.observeSync?.(observation);
      this.#noteLimits(workspace, model, observation.windows);
      return undefined;
    }
    return store.observe(observation).then(() => this.#noteLimits(workspace, model, observation.windows));
  }

  #noteLimits(workspace: Workspace, model: string, windows: UpstreamObservation['windows']): void {
    if (windows.length === 0) return;
    const configured = tierWindows(this.#view.catalog, workspace, model);
    for (const window of windows) {
      if (!configured.some((w) => w.kind === window.kind) && !workspace.learnedKinds.has(window.kind)) {
        this.#candidates.learnKind(workspace, { kind: window.kind, unit: window.unit, period: window.period, scope: window.scope, limit: null });
      }
      // A limit of 0 comes with 429s: a refusal, not the tier's limit; the stores do not learn it either.
      if (window.limit === undefined || window.limit === 0) continue;
      let known = workspace.knownLimits.get(window.kind);
      if (known === undefined) workspace.knownLimits.set(window.kind, (known = new Map()));
      const scoped = window.scope === 'workspace' ? '' : model;
      const previous = known.has(scoped) ? (known.get(scoped) as number | null) : (configured.find((w) => w.kind === window.kind)?.limit ?? null);
      if (previous !== window.limit) {
        known.set(scoped, window.limit);
        this.#events.emit('limitsLearned', { workspace: workspace.config.name, model, kind: window.kind, limit: window.limit, previous });
      }
    }
  }
}
