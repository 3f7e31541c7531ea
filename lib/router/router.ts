/**
 * The router: prepare a request, reserve quota for a candidate, call it through the SDK, learn from the
 * outcome, fall back or wait. One attempt loop serves every endpoint, streams included: a stream's call
 * has succeeded when its first chunk arrived. See docs/notes/router.md for the files and the way a
 * request travels through them.
 */
import type { Mistral } from '@mistralai/mistralai';
import type { ChatCompletionResponse, EmbeddingResponse, FIMCompletionResponse } from '@mistralai/mistralai/models/components/index.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Clock } from '../clock.js';
import { ConfigError, RouterError } from '../errors.js';
import type { Endpoint } from '../need.js';
import { DEFAULT_HEADER_BOUNDS } from '../quota/header-bounds.js';
import type { QuotaStore, Reservation } from '../quota/types.js';
import { costOf } from '../telemetry/cost.js';
import type { CallObserver } from '../telemetry/observer.js';
import { Accounting, type UsageReport } from './accounting.js';
import { Acquirer } from './acquire.js';
import { Budgets, type BudgetHold } from './budgets.js';
import { callDecision, emitDecision, estimatedUsd } from './call-decision.js';
import { Candidates } from './candidates.js';
import { CatalogView, type ModelLister, type RefreshReport } from './catalog-view.js';
import { Pauses } from './comeback.js';
import { passedOver, type Plan, type Routed } from './decision.js';
import { dryRun } from './dry-run.js';
import { RouterEventEmitter, type AttemptRecord } from './events.js';
import { Failures, newCallState } from './failures.js';
import { createLease, type Lease, type LeaseHost } from './lease.js';
import { Learning, type Usage } from './learning.js';
import { Observers, failedEnd, responseInfo } from './observe.js';
import { checkCallOptions, resolveOptions, type CallOptions, type RouterOptions, type Settings } from './options.js';
import { prepare, type PrepareContext, type RoutedChatRequest, type RoutedEmbeddingRequest, type RoutedFimRequest, type RoutedRequest } from './prepare.js';
import { SDK_CHAT, SDK_CHAT_STREAM, SDK_EMBEDDINGS, SDK_FIM, SDK_FIM_STREAM } from './sdk-send.js';
import { routedStream, type RoutedStream, type StreamHost } from './stream.js';
import type { ChunkShape, Opened, Transport } from './transport.js';
import { wireApi, type WireApi } from './wire-api.js';
import { WaitQueue, closedError } from './wait-queue.js';
import { createWorkspace, type Workspace } from './workspaces.js';

export class Router {
  readonly events = new RouterEventEmitter();
  readonly store: QuotaStore;
  readonly chat: {
    complete: (request: RoutedChatRequest, options?: CallOptions) => Promise<Routed<ChatCompletionResponse>>;
    stream: (request: RoutedChatRequest, options?: CallOptions) => Promise<RoutedStream>;
  };
  readonly embeddings: { create: (request: RoutedEmbeddingRequest, options?: CallOptions) => Promise<Routed<EmbeddingResponse>> };
  readonly fim: {
    complete: (request: RoutedFimRequest, options?: CallOptions) => Promise<Routed<FIMCompletionResponse>>;
    /** A FIM completion streamed: the same {@link RoutedStream} as `chat.stream` (resolves at the first chunk, settles at its end). */
    stream: (request: RoutedFimRequest, options?: CallOptions) => Promise<RoutedStream>;
  };
  /**
   * The same routed calls for front ends that speak Mistral's wire format (a gateway, the AI SDK provider):
   * wire bodies in, the upstream's JSON text or event stream out, sent without the SDK (see wire-api.ts).
   */
  readonly wire: WireApi;

  readonly #clock: Clock;
  readonly #view: CatalogView;
  readonly #listers: readonly ModelLister[];
  readonly #settings: Settings;
  readonly #workspaces: readonly Workspace[];
  readonly #context: PrepareContext;
  readonly #queue: WaitQueue;
  /** Calls sleeping until a model cooling down is back (see comeback.ts). */
  readonly #pauses: Pauses;
  readonly #acquirer: Acquirer;
  readonly #learning: Learning;
  readonly #failures: Failures;
  readonly #streamHost: StreamHost;
  readonly #leaseHost: LeaseHost;
  /** Ends each stream still open (see close()). */
  readonly #openStreams = new Set<() => Promise<void>>();
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Calls between their start and their answer (a stream: until it is handed over, then #openStreams). */
  #inFlight = 0;
  /** Resolves close()'s wait for the calls in flight. */
  #drained: (() => void) | undefined;
  #attemptSeq = 0;
  readonly #accounting: Accounting;
  readonly #observers = new Observers();

  constructor(options: RouterOptions) {
    const resolved = resolveOptions(options);
    const { catalog, store, clock, settings, tokens } = resolved;
    this.store = store;
    this.#clock = clock;
    this.#settings = settings;
    this.#workspaces = resolved.workspaces.map((config) => createWorkspace(config, resolved.serverURL, settings.timeoutMs, resolved.fetch));
    const secrets = resolved.workspaces.map((w) => w.apiKey);
    const view = (this.#view = new CatalogView(catalog, clock, this.events, settings.unavailableMs));
    this.#listers = this.#workspaces.map((w) => ({ workspace: w.config.name, list: async () => (await w.client.sdk.models.list()).data ?? [] }));
    const budgets = new Budgets(store, clock, this.events, resolved.workspaces.map((w) => ({ name: w.name, budgets: w.budgets })), resolved.budgets);
    const candidates = new Candidates(view, this.#workspaces, clock, settings.unknownContextTokens, resolved.planCacheSize, budgets.active ? budgets : undefined);
    this.#context = { view, tokens, settings, fallbacks: resolved.fallbacks, candidates, plainNeeds: new Map() };
    const bounds = { ...DEFAULT_HEADER_BOUNDS, maxRetryAfterMs: settings.maxRetryAfterMs };
    const learning = (this.#learning = new Learning(store, clock, this.events, view, candidates, tokens, secrets, bounds));
    this.#queue = new WaitQueue(
      store,
      clock,
      ({ label, retryAfterMs, queueLength }) => this.events.emit('wait', { endpoint: label, retryAfterMs, queueLength }),
      (operation, error) => learning.storeError(operation, error),
    );
    learning.queue = this.#queue;
    this.#pauses = new Pauses(clock);
    this.#acquirer = new Acquirer({ store, clock, events: this.events, candidates, learning, queue: this.#queue, pauses: this.#pauses, isClosed: () => this.#closed });
    const accounting = (this.#accounting = new Accounting(budgets, store, clock, learning, () => this.#view.catalog, () => void this.#queue.pump()));
    this.#failures = new Failures({ store, clock, events: this.events, view, candidates, learning, queue: this.#queue, secrets, cooldownMs: settings.cooldownMs });
    const cost = (endpoint: Endpoint, model: string, usage: Usage | undefined) => (usage === undefined ? null : costOf(this.#view.catalog.model(model), endpoint, usage));
    this.#streamHost = { events: this.events, learning, accounting, secrets, now: () => clock.now(), cost, openStreams: this.#openStreams, isClosed: () => this.#closed };
    this.#leaseHost = { store, learning, accounting, queue: this.#queue, cost, counted: (work) => this.#counted(work), now: () => clock.now() };

    this.chat = {
      complete: (request, callOptions) => this.#call('chat', request, callOptions, SDK_CHAT) as Promise<Routed<ChatCompletionResponse>>,
      stream: (request, callOptions) => this.#call('chat', request, callOptions, SDK_CHAT_STREAM) as Promise<RoutedStream>,
    };
    this.embeddings = { create: (request, callOptions) => this.#call('embeddings', request, callOptions, SDK_EMBEDDINGS) as Promise<Routed<EmbeddingResponse>> };
    this.fim = {
      complete: (request, callOptions) => this.#call('fim', request, callOptions, SDK_FIM) as Promise<Routed<FIMCompletionResponse>>,
      stream: (request, callOptions) => this.#call('fim', request, callOptions, SDK_FIM_STREAM) as Promise<RoutedStream>,
    };
    this.wire = wireApi((endpoint, view, callOptions, transport, outgoing) => this.#call(endpoint, view, callOptions, transport, outgoing));
  }

  /** The catalogue the router plans with: the bundled (or given) one, with the refreshed model lists merged over it. */
  get catalog(): Catalog {
    return this.#view.catalog;
  }

  /**
   * Fetch every workspace's `GET /v1/models` (the SDK's `models.list()`) and merge the cards over the bundled
   * catalogue: from the next call on, plans use the merged view, and a model a workspace's list leaves out is
   * not a candidate for that workspace. A workspace whose list fails keeps its last good one (a
   * `catalogRefreshFailed` event); bad cards are skipped (`cardSkipped`). Concurrent calls share one refresh.
   */
  refreshCatalog(): Promise<RefreshReport> {
    return this.#view.refresh(this.#listers);
  }

  /** The automatic refresh (`refreshCatalog: { intervalMs }`): started by a call once the interval passed, never awaited by it. */
  #maybeRefresh(): void {
    const interval = this.#settings.refreshIntervalMs;
    if (interval === undefined) return;
    const last = this.#view.refreshedAt;
    if (last !== undefined && this.#clock.now() - last < interval) return;
    // A failure is already an event per workspace; the refresh never fails a call.
    this.#view.refresh(this.#listers).catch(() => {});
  }

  /**
   * Watch every routed call from now on (telemetry: `instrumentRouter` and `createPrometheusMetrics` from
   * `mistral-router/telemetry` register one). Returns a function that stops watching.
   */
  observe(observer: CallObserver): () => void {
    return this.#observers.add(observer);
  }

  /**
   * Spend this month: this process's calls per workspace and model (USD of the priced ones, tokens, calls
   * whose price is unknown), and every monthly budget with the store's figures (fleet-wide).
   */
  usage(): Promise<UsageReport> {
    return this.#accounting.usage();
  }

  /** The SDK client of a workspace, for endpoints the router does not route (files, agents...). */
  sdk(workspace: string): Mistral {
    const found = this.#workspaces.find((w) => w.config.name === workspace);
    if (found === undefined) throw new ConfigError('workspace', `unknown workspace ${JSON.stringify(workspace)}`);
    return found.client.sdk;
  }

  /**
   * A dry run: the plan for a request, with whether each candidate has quota now. Calls nothing upstream
   * and reserves nothing. `options.signal` stops it between the store's snapshots (AbortError).
   */
  async plan(endpoint: Endpoint, request: RoutedRequest, options?: CallOptions): Promise<Plan> {
    checkCallOptions(options);
    const prepared = prepare(this.#context, endpoint, request as unknown as Record<string, unknown>);
    return dryRun(this.store, this.#clock, this.#view.catalog, (name) => this.#workspace(name), prepared, options?.signal);
  }

  /**
   * Hold quota for a request without calling Mistral, for callers who make the call themselves (their own
   * client, an endpoint the router does not wrap): the same validation, plan, FIFO wait and reservation
   * as a routed call. Settle the lease with the call's real usage (and its response headers, so the router
   * learns), or release it if the call never reached Mistral. Until then the tokens stay held.
   */
  async reserve(endpoint: Endpoint, request: RoutedRequest, options?: CallOptions): Promise<Lease> {
    checkCallOptions(options);
    const prepared = prepare(this.#context, endpoint, request as unknown as Record<string, unknown>);
    const state = newCallState();
    // A lease is a routed call the caller sends itself: observed (before the first await, in the caller's
    // context) from here to its settle or release (lease.ts), its one attempt being the caller's call.
    const startedAt = this.#observers.active ? this.#clock.now() : 0;
    const observed = this.#observers.active ? this.#observers.start(prepared, false, startedAt, true) : undefined;
    if (observed === undefined && !this.#accounting.budgeted(options?.budget)) {
      // Unobserved and unbudgeted (the decision benchmark's path): a synchronous store with room grants the
      // lease with nothing awaited, so close() has nothing to wait for; a wait is counted in flight.
      const acquiring = this.#acquirer.acquire(prepared, state, options?.signal);
      const reservation = acquiring instanceof Promise ? await this.#counted(() => this.#leaseGranted(acquiring, undefined)) : acquiring;
      return createLease(this.#leaseHost, prepared, reservation, this.#workspace(reservation.workspace), state, passedOver(state.refusals), undefined);
    }
    state.observed = observed;
    // In flight until the lease is handed over: close() waits, and a lease granted after it began is given back.
    const acquiring = this.#counted(async () => {
      for (;;) {
        const granted = await this.#acquirer.acquire(prepared, state, options?.signal);
        const budgeted = this.#accounting.budgeted(options?.budget);
        const held = budgeted ? await this.#accounting.hold(prepared, granted, state, options?.budget) : undefined;
        if (budgeted && held === undefined) continue; // a budget passed it over
        return [await this.#leaseGranted(granted, held), held] as const;
      }
    });
    const [reservation, hold] = await (observed === undefined ? acquiring : acquiring.catch((error: unknown) => {
      observed.end(failedEnd(state, error, this.#clock.now() - startedAt));
      throw error;
    }));
    const passed = state.budgetPassedOver === undefined ? passedOver(state.refusals) : [...state.budgetPassedOver, ...passedOver(state.refusals)];
    const watch = observed === undefined ? undefined : { observed, startedAt, estimatedCostUsd: estimatedUsd(this.#view.catalog, prepared, reservation.model) };
    return createLease(this.#leaseHost, prepared, reservation, this.#workspace(reservation.workspace), state, passed, hold, watch);
  }

  /** A lease's reservation once granted: given back (with its budget hold) if the router closed meanwhile. */
  async #leaseGranted(granted: Reservation | Promise<Reservation>, held: BudgetHold | undefined): Promise<Reservation> {
    const reservation = await granted;
    if (this.#closed) {
      await this.#learning.bookkeeping('release', () => this.store.release(reservation));
      await this.#accounting.release(held);
      throw closedError();
    }
    return reservation;
  }

  /**
   * Stop: new calls are refused (`ROUTER_CLOSED`), calls waiting for quota are rejected (`ROUTER_CLOSED`),
   * streams still open end (their readers get `STREAM_FAILED`), calls in flight are let finish (each within
   * its attempt's timeout; one that would need another attempt gets `ROUTER_CLOSED`), so that every
   * reservation is settled or released before the store closes. Calling it again returns the same promise.
   * Leases from `reserve()` are the caller's: settle them before closing.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      const queueClosed = this.#queue.close();
      this.#pauses.close();
      await Promise.all([...this.#openStreams].map((closeStream) => closeStream()));
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      // Streams handed over while close() waited, ending since (each stays open until settled).
      await Promise.all([...this.#openStreams].map((closeStream) => closeStream()));
      // The queue's own store calls (a pump's reserve, a release of what came too late) answered.
      await queueClosed;
      await this.store.close();
    })().catch((error: unknown) => {
      // A store that failed to close may be closed again by the next close().
      this.#closing = undefined;
      throw error;
    });
    return this.#closing;
  }

  /** Runs `work` as a call in flight (close() waits for it). The attempt loop counts inline. */
  async #counted<T>(work: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#callEnded();
    }
  }

  /** A call ended: the last one of a closing router lets close() go on. */
  #callEnded(): void {
    if (--this.#inFlight === 0 && this.#drained !== undefined) {
      this.#drained();
      this.#drained = undefined;
    }
  }

  #workspace(name: string): Workspace {
    return this.#workspaces.find((w) => w.config.name === name) as Workspace;
  }

  /**
   * The attempt loop of every routed call: reserve for the next candidate, send (`transport`: the SDK, or
   * the wire for `router.wire`, which sends `outgoing` rather than the request it routes by), and on
   * failure let failures.ts decide (next candidate, or throw). A call that succeeded is settled and
   * answered; a stream is handed over past its first chunk, and settles when it ends (stream.ts).
   */
  async #call(endpoint: Endpoint, request: object, options: CallOptions | undefined, transport: Transport, outgoing?: object): Promise<object> {
    checkCallOptions(options);
    this.#maybeRefresh();
    const prepared = prepare(this.#context, endpoint, request as Record<string, unknown>);
    const state = newCallState();
    // Only an observer reads when the call started.
    const watching = this.#observers.active;
    const callStarted = watching ? this.#clock.now() : 0;
    // Started before the first await: an observer sees the caller's async context (its active span).
    const streams = transport.streams;
    const sent = outgoing ?? prepared.request;
    const observed = watching ? this.#observers.start(prepared, streams, callStarted) : undefined;
    state.observed = observed;
    // In flight until answered; a stream from its hand-over on is in #openStreams instead.
    this.#inFlight++;
    try {
      while (state.attempts.length < this.#settings.maxAttempts) {
        const acquiring = this.#acquirer.acquire(prepared, state, options?.signal);
        const reservation = acquiring instanceof Promise ? await acquiring : acquiring;
        // A budget without room for this candidate passed it over (and gave its quota back): the next one.
        const budgeted = this.#accounting.budgeted(options?.budget);
        const hold = budgeted ? await this.#accounting.hold(prepared, reservation, state, options?.budget) : undefined;
        if (budgeted && hold === undefined) continue;
        const workspace = this.#workspace(reservation.workspace);
        const attemptId = `${++this.#attemptSeq}`;
        if (this.events.has('decision')) emitDecision(this.events, this.#view.catalog, prepared, reservation, state);
        const started = this.#clock.now();
        const watched = observed?.attempt({ workspace: reservation.workspace, model: reservation.model, attempt: state.attempts.length + 1, estimatedCostUsd: estimatedUsd(this.#view.catalog, prepared, reservation.model), startedAt: started });
        // A stream's attempt (its timeout, the caller's signal) lasts until the stream ends, not its first chunk.
        const attempt = workspace.client.attempt(attemptId, options?.signal, options?.timeoutMs);
        let result: unknown;
        try {
          result = await (watched?.run === undefined ? transport.send(workspace, sent, reservation.model, attempt, attemptId) : watched.run(() => transport.send(workspace, sent, reservation.model, attempt, attemptId)));
        } catch (error) {
          attempt.finish();
          await this.#accounting.release(hold);
          try {
            await this.#failures.handle(state, prepared.models, reservation, workspace, attemptId, started, error);
          } finally {
            watched?.end(state.attempts[state.attempts.length - 1] as AttemptRecord);
          }
          continue;
        }
        const record: AttemptRecord = { workspace: reservation.workspace, model: reservation.model, outcome: 'ok', status: 200, durationMs: this.#clock.now() - started };
        state.attempts.push(record);
        watched?.end(record);
        if (streams) {
          const routing = callDecision(this.#view.catalog, prepared, reservation, state, undefined);
          if (routing.warnings.length > 0) this.#view.reportLifecycle(reservation.model, this.#view.lifecycle());
          const watch = observed === undefined ? undefined : { observed, startedAt: callStarted, waitedMs: state.waitedMs };
          return routedStream(this.#streamHost, { prepared, reservation, workspace, attempt, attemptId, watch, hold, ...(result as Opened<unknown>) }, routing, transport.chunks as ChunkShape<unknown>);
        }
        attempt.finish();
        const usage: Usage | undefined = transport.usage(result);
        const settling = this.#learning.succeeded(prepared, reservation, workspace, attemptId, usage);
        if (settling !== undefined) await settling;
        const routing = callDecision(this.#view.catalog, prepared, reservation, state, usage);
        const accounted = this.#accounting.spent(hold, reservation, routing.cost);
        if (accounted !== undefined) await accounted;
        if (routing.warnings.length > 0) this.#view.reportLifecycle(reservation.model, this.#view.lifecycle());
        if (this.events.has('done')) this.events.emit('done', { endpoint, ok: true, attempts: routing.attempts, cost: routing.cost });
        observed?.end({ ok: true, routing, attempts: routing.attempts, waitedMs: state.waitedMs, response: responseInfo(transport.body(result)), errorType: undefined, durationMs: this.#clock.now() - callStarted, firstChunkMs: undefined });
        return transport.answer(result, routing);
      }
      throw state.lastError ?? new RouterError('ATTEMPTS_EXHAUSTED', `Gave up after ${this.#settings.maxAttempts} attempts.`);
    } catch (error) {
      if (this.events.has('done')) this.events.emit('done', { endpoint, ok: false, attempts: state.attempts, cost: null });
      observed?.end(failedEnd(state, error, this.#clock.now() - callStarted));
      throw error;
    } finally {
      this.#callEnded();
    }
  }
}

/** Create a router. See {@link RouterOptions}. */
export function createRouter(options: RouterOptions): Router {
  return new Router(options);
}
