/**
 * The router: validate, estimate, plan, reserve, call through the SDK, settle, fall back, wait.
 * See DESIGN.md, "The way a request travels".
 */
import type { Mistral } from '@mistralai/mistralai';
import type { ChatCompletionRequest, ChatCompletionResponse, CompletionEvent, EmbeddingRequest, EmbeddingResponse, FIMCompletionRequest, FIMCompletionResponse } from '@mistralai/mistralai/models/components/index.js';
import type { EventStream } from '@mistralai/mistralai/lib/event-streams.js';
import { LRUCache } from 'lru-cache';
import type { Catalog } from '../catalog/catalog.js';
import { loadCatalog } from '../catalog/load.js';
import type { Capability, Model } from '../catalog/types.js';
import { systemClock, type Clock } from '../clock.js';
import { AbortError, ConfigError, NeedError, NoEligibleModelError, RouterError, UpstreamError, redactSecrets } from '../errors.js';
import { WorkspaceClient, type Attempt } from '../mistral/client.js';
import { normaliseNeed, tokenCount, type Endpoint, type Need, type NormalisedNeed, type Strategy, STRATEGIES } from '../need.js';
import { toUpstreamObservation } from '../quota/headers.js';
import { MemoryStore } from '../quota/memory/index.js';
import { WINDOW_KINDS, type CandidateRefusal, type QuotaCandidate, type QuotaStore, type Reservation, type ReserveRequest, type ReserveResult, type UpstreamObservation, type WindowSpec } from '../quota/types.js';
import { TokenEstimator } from '../tokens.js';
import { RouterEventEmitter, type AttemptRecord } from './events.js';
import { DEFAULT_UNKNOWN_CONTEXT_TOKENS, fitContext, rankModels, type RankedModels, type Rejection } from './plan.js';
import { classifyFailure, type Failure } from './policy.js';
import { WaitQueue, closedError } from './wait-queue.js';

/** Limits that replace a tier's for one workspace (e.g. the real ones from its console). */
export interface WorkspaceOverrides {
  readonly requestsPerSecond?: number | null;
  readonly models?: Readonly<Record<string, { readonly tokensPerMinute?: number | null; readonly tokensPerMonth?: number | null }>>;
}

/** One API key and its usage tier. */
export interface WorkspaceConfig {
  /** The name decisions, events and errors use (never the key). */
  readonly name: string;
  readonly apiKey: string;
  /** A tier name from the catalogue (e.g. `free`). */
  readonly tier: string;
  readonly overrides?: WorkspaceOverrides;
}

export interface RouterOptions {
  /** The workspaces (API keys) pooled by this router; each has its own requests-per-second window. */
  readonly workspaces: readonly WorkspaceConfig[];
  /** @default loadCatalog() (the bundled catalogue) */
  readonly catalog?: Catalog;
  /** Where quota lives. @default new MemoryStore({ clock }) */
  readonly store?: QuotaStore;
  /** @default systemClock */
  readonly clock?: Clock;
  /** How long a call may wait for quota before QuotaExhaustedError. @default 30_000 */
  readonly maxWaitMs?: number;
  /** Candidate order. @default 'smallest-sufficient' */
  readonly strategy?: Strategy;
  /** The API's base URL (the emulator's in tests). @default Mistral's */
  readonly serverURL?: string;
  /** Attempts per call, fallbacks included. @default 5 */
  readonly maxAttempts?: number;
  /** How long a model is avoided after capacity errors, 5xx, connection errors and timeouts. @default 30_000 */
  readonly cooldownMs?: number;
  /** Per-attempt timeout. @default 120_000 */
  readonly timeoutMs?: number;
  /** Output tokens reserved when a chat or FIM request sets no maxTokens. @default 1024 */
  readonly defaultMaxTokens?: number;
  /** A model whose context window is unknown takes requests up to this size. @default 32_768 */
  readonly unknownContextTokens?: number;
  /** @default new TokenEstimator() */
  readonly tokenEstimator?: TokenEstimator;
  /** Plans cached per need. @default 500 */
  readonly planCacheSize?: number;
  /**
   * Fallbacks of a model named in a request (`model: 'mistral-small-2506'`), tried right after it, before
   * the rest of the eligible models in strategy order. Ids or aliases. @default {}
   */
  readonly fallbacks?: Readonly<Record<string, readonly string[]>>;
}

/** Routing fields added to every SDK request shape. */
export interface RoutingFields {
  /** What the request needs; absent = whatever the endpoint and the content imply. */
  readonly need?: Need;
  /** Per-call wait bound (overrides the router's). */
  readonly maxWaitMs?: number;
}

export type RoutedChatRequest = Omit<ChatCompletionRequest, 'model'> & { readonly model?: string } & RoutingFields;
export type RoutedEmbeddingRequest = Omit<EmbeddingRequest, 'model'> & { readonly model?: string } & RoutingFields;
export type RoutedFimRequest = Omit<FIMCompletionRequest, 'model'> & { readonly model?: string } & RoutingFields;

/** Per-call options (like the SDK's). */
export interface CallOptions {
  /** Cancels a wait or a call in flight. */
  readonly signal?: AbortSignal;
  /** Per-attempt timeout. */
  readonly timeoutMs?: number;
}

/** A candidate of a plan: a (workspace, model) pair, and whether it has room now (dry runs). */
export interface PlanCandidate {
  readonly model: string;
  readonly workspace: string;
  readonly contextWindow: number | null;
  /** Dry runs only: whether every window has room for the request now. */
  readonly room?: boolean;
  /** Dry runs only: why not (the first full window), when `room` is false. */
  readonly quota?: string;
}

/** The plan of one request: candidates in order and every rejected model with its reason. */
export interface Plan {
  readonly endpoint: Endpoint;
  readonly need: NormalisedNeed;
  readonly tokens: { readonly prompt: number; readonly maxOutput: number; readonly total: number };
  readonly candidates: readonly PlanCandidate[];
  readonly rejected: readonly Rejection[];
}

/** Quota held by {@link Router.reserve} for a call the caller makes itself. */
export interface Lease {
  /** The model to call (an endpoint id, not an alias). */
  readonly model: string;
  /** The workspace whose API key to use (by name). */
  readonly workspace: string;
  readonly estimatedTokens: number;
  readonly waitedMs: number;
  /** The candidates ahead of this one passed over for quota (see {@link Decision.passedOver}). */
  readonly passedOver: readonly PassedOver[];
  readonly plan: Plan;
  /**
   * The call happened: replace the estimate by its usage (without `totalTokens`, the estimate stands); pass
   * its response headers to learn limits. Idempotent. A usage count that is not a whole number >= 0 is a
   * NeedError and leaves the lease open (settle again, or release).
   */
  settle(usage?: { readonly promptTokens?: number; readonly totalTokens?: number }, headers?: Headers): Promise<void>;
  /** The call never reached Mistral: return everything. Idempotent. */
  release(): Promise<void>;
}

/** The explanation attached to every result as `routing`. */
export interface Decision {
  readonly endpoint: Endpoint;
  readonly model: string;
  readonly workspace: string;
  readonly attempts: readonly AttemptRecord[];
  /**
   * The candidates ahead of the chosen one that were passed over for quota when the call went out (the
   * quota fallback: e.g. mistral-small-2506 out of tokens per minute -> open-mistral-nemo): which windows
   * had no room, and when the first of them has room again. Empty when the first candidate took it.
   */
  readonly passedOver: readonly PassedOver[];
  readonly waitedMs: number;
  readonly tokens: { readonly estimated: number; readonly used: number | undefined };
  readonly plan: Plan;
}

/** A candidate passed over for quota (see {@link Decision.passedOver}). */
export interface PassedOver {
  readonly workspace: string;
  readonly model: string;
  /** The window kinds that had no room (e.g. `tokens-per-minute`, `requests-per-second`). */
  readonly windows: readonly string[];
  /** ms until it has room again, as the store saw it; Infinity when the request never fits it. */
  readonly retryAfterMs: number;
}

const NONE_PASSED_OVER: readonly PassedOver[] = Object.freeze([]);
const NO_REFUSALS: readonly CandidateRefusal[] = Object.freeze([]);

function passedOver(refusals: readonly CandidateRefusal[]): readonly PassedOver[] {
  if (refusals.length === 0) return NONE_PASSED_OVER;
  return refusals.map((r) => ({ workspace: r.workspace, model: r.model, windows: r.windows.map((w) => w.kind), retryAfterMs: r.retryAfterMs }));
}

export type Routed<T> = T & { routing: Decision };

/** A routed stream: the SDK's event stream, with the decision (usage filled in when the stream ends). */
export type RoutedStream = AsyncIterable<CompletionEvent> & { routing: Decision };

interface Prepared {
  readonly endpoint: Endpoint;
  readonly plan: Plan;
  readonly models: readonly Model[];
  readonly estimated: number;
  readonly promptEstimate: number;
  /** The estimator's ratio when promptEstimate was made (calibration compares against it). */
  readonly ratio: number;
  readonly maxWaitMs: number;
  /** The caller's request; `toSdkRequest` strips the routing fields when the call goes out. */
  readonly request: Record<string, unknown>;
}

interface Workspace {
  readonly config: WorkspaceConfig;
  readonly client: WorkspaceClient;
  disabled: boolean;
  /** Window kinds learned from headers that the tier did not define (e.g. requests-per-minute). */
  readonly learnedKinds: Map<string, WindowSpec>;
  /** The tier's windows per model, with this workspace's limits and overrides (built once per model). */
  readonly tierWindows: Map<string, WindowSpec[]>;
  /** Limits the headers reported, per window kind, per model ('' for workspace-scoped windows). */
  readonly knownLimits: Map<string, Map<string, number | null>>;
}

/** Error-handling state of a call between attempts. */
interface CallState {
  readonly attempts: AttemptRecord[];
  /** (workspace, model) pairs this call will not retry; created on the first failure. */
  excluded: Set<string> | undefined;
  minContext: number;
  lastError: Error | undefined;
  waitedMs: number;
  /** The refusals that came with the last reservation (candidates ahead of it without room). */
  refusals: readonly CandidateRefusal[];
}

/** The longest delay a timer can hold (setTimeout's limit): every option that becomes a timer stays under it. */
const MAX_TIMER_MS = 2_147_483_647;

function positiveInteger(option: string, value: number | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || !Number.isInteger(value)) {
    throw new ConfigError(option, `expected a whole number from ${min} to ${max}, received ${String(value)}`);
  }
  return value;
}

/** Checks a call's options before anything is reserved. */
function checkCallOptions(options: CallOptions | undefined): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object') throw new NeedError('options', 'expected { signal?, timeoutMs? }');
  const { signal, timeoutMs } = options;
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function')) {
    throw new NeedError('options.signal', 'expected an AbortSignal');
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMER_MS)) {
    throw new NeedError('options.timeoutMs', `expected a whole number of ms from 1 to ${MAX_TIMER_MS}, received ${String(timeoutMs)}`);
  }
}

/** A usage count a caller reports on a lease: absent, or a whole number of tokens >= 0. */
function usageCount(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new NeedError(field, `expected a whole number of tokens >= 0, received ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return value;
}

/** A limit an override gives: null (unknown: unmetered) or a whole number >= 0. */
function overrideLimit(field: string, value: unknown): void {
  if (value !== undefined && value !== null && !(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) {
    throw new ConfigError(field, `expected a whole number >= 0 or null, received ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
}

/**
 * A workspace's overrides, checked, with model aliases resolved to ids (the windows are built per id, so an
 * override under an alias or a misspelt id would be ignored without a word).
 */
function checkOverrides(field: string, overrides: WorkspaceOverrides, catalog: Catalog): WorkspaceOverrides {
  if (overrides === null || typeof overrides !== 'object') throw new ConfigError(field, 'expected { requestsPerSecond?, models? }');
  for (const key of Object.keys(overrides)) {
    if (key !== 'requestsPerSecond' && key !== 'models') throw new ConfigError(`${field}.${key}`, 'unknown field; known: requestsPerSecond, models');
  }
  overrideLimit(`${field}.requestsPerSecond`, overrides.requestsPerSecond);
  if (overrides.models === undefined) return overrides;
  if (overrides.models === null || typeof overrides.models !== 'object') throw new ConfigError(`${field}.models`, 'expected { [model]: { tokensPerMinute?, tokensPerMonth? } }');
  const models: Record<string, { tokensPerMinute?: number | null; tokensPerMonth?: number | null }> = {};
  for (const [name, limits] of Object.entries(overrides.models)) {
    const at = `${field}.models.${name}`;
    const id = catalog.resolve(name);
    if (id === undefined) throw new ConfigError(at, 'unknown model id or alias');
    if (limits === null || typeof limits !== 'object') throw new ConfigError(at, 'expected { tokensPerMinute?, tokensPerMonth? }');
    for (const key of Object.keys(limits)) {
      if (key !== 'tokensPerMinute' && key !== 'tokensPerMonth') throw new ConfigError(`${at}.${key}`, 'unknown field; known: tokensPerMinute, tokensPerMonth');
    }
    overrideLimit(`${at}.tokensPerMinute`, limits.tokensPerMinute);
    overrideLimit(`${at}.tokensPerMonth`, limits.tokensPerMonth);
    if (models[id] !== undefined) throw new ConfigError(at, `${id} is overridden twice (by id and by alias)`);
    models[id] = limits;
  }
  return { ...overrides, models };
}

const QUOTA_STORE_METHODS = ['reserve', 'settle', 'release', 'observe', 'snapshot', 'pendingReservations', 'close'] as const;
const ESTIMATOR_METHODS = ['estimateInputs', 'estimateText', 'estimateFim', 'estimateMessages', 'observe'] as const;

/** `value` has every method in `methods` (a duck-typed store or estimator), else a ConfigError naming `option`. */
function checkMethods(option: string, value: unknown, methods: readonly string[]): void {
  if (value === undefined) return;
  const missing = value === null || typeof value !== 'object' ? methods : methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) throw new ConfigError(option, `expected an object with ${missing.join(', ')}()`);
}

export class Router {
  readonly events = new RouterEventEmitter();
  readonly catalog: Catalog;
  readonly store: QuotaStore;
  readonly chat: {
    complete: (request: RoutedChatRequest, options?: CallOptions) => Promise<Routed<ChatCompletionResponse>>;
    stream: (request: RoutedChatRequest, options?: CallOptions) => Promise<RoutedStream>;
  };
  readonly embeddings: { create: (request: RoutedEmbeddingRequest, options?: CallOptions) => Promise<Routed<EmbeddingResponse>> };
  readonly fim: { complete: (request: RoutedFimRequest, options?: CallOptions) => Promise<Routed<FIMCompletionResponse>> };

  readonly #clock: Clock;
  readonly #workspaces: Workspace[];
  /** Ends each stream still open (see close()). */
  readonly #openStreams = new Set<() => Promise<void>>();
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Calls between their start and their answer (a stream: until it is handed over, then #openStreams). */
  #inFlight = 0;
  /** Resolves close()'s wait for the calls in flight. */
  #drained: (() => void) | undefined;
  readonly #queue: WaitQueue;
  readonly #tokens: TokenEstimator;
  readonly #planCache: LRUCache<string, RankedModels>;
  #lastPlanKey: string | undefined;
  #lastPlan: RankedModels | undefined;
  readonly #cooldowns = new Map<string, number>();
  readonly #secrets: string[];
  readonly #fallbacks: ReadonlyMap<string, readonly string[]>;
  readonly #options: Required<Pick<RouterOptions, 'maxWaitMs' | 'strategy' | 'maxAttempts' | 'cooldownMs' | 'timeoutMs' | 'defaultMaxTokens' | 'unknownContextTokens'>>;
  #attemptSeq = 0;
  /** One candidate object per (workspace, model), reused so the store's per-candidate cache hits. */
  readonly #candidateObjects = new Map<string, QuotaCandidate>();
  /** Candidate lists per fitted model list, valid while #stateVersion is unchanged and no cooldown ends. */
  readonly #candidateLists = new WeakMap<readonly Model[], { version: number; validUntil: number; list: QuotaCandidate[] }>();
  /** The context check's result when every ranked model fits (the common case), per ranked list. */
  readonly #allFit = new WeakMap<RankedModels, { threshold: number; models: readonly Model[]; rejected: readonly Rejection[]; candidates: readonly PlanCandidate[] }>();
  /** Bumped when a workspace is disabled, a model cooled down, or a window kind learned. */
  #stateVersion = 0;

  constructor(options: RouterOptions) {
    if (options === null || typeof options !== 'object') throw new ConfigError('options', 'createRouter needs an options object');
    const { workspaces, catalog, store, clock = systemClock, strategy = 'smallest-sufficient', serverURL, tokenEstimator, planCacheSize } = options;
    if (!Array.isArray(workspaces) || workspaces.length === 0) throw new ConfigError('workspaces', 'expected at least one { name, apiKey, tier }');
    if (!STRATEGIES.includes(strategy)) throw new ConfigError('strategy', `expected one of ${STRATEGIES.join(', ')}, received ${JSON.stringify(strategy)}`);
    checkMethods('catalog', catalog, ['resolve', 'model', 'hasTier', 'limits', 'query']);
    checkMethods('store', store, QUOTA_STORE_METHODS);
    checkMethods('tokenEstimator', tokenEstimator, ESTIMATOR_METHODS);
    checkMethods('clock', clock, ['now', 'setTimer']);
    if (serverURL !== undefined && (typeof serverURL !== 'string' || !URL.canParse(serverURL) || !['http:', 'https:'].includes(new URL(serverURL).protocol))) {
      throw new ConfigError('serverURL', `expected an http(s) URL, received ${JSON.stringify(serverURL)}`);
    }
    this.catalog = catalog ?? loadCatalog();
    this.#clock = clock;
    this.store = store ?? new MemoryStore({ clock });
    this.#options = {
      maxWaitMs: positiveInteger('maxWaitMs', options.maxWaitMs, 30_000, 0, MAX_TIMER_MS),
      strategy,
      maxAttempts: positiveInteger('maxAttempts', options.maxAttempts, 5, 1),
      cooldownMs: positiveInteger('cooldownMs', options.cooldownMs, 30_000, 0, MAX_TIMER_MS),
      timeoutMs: positiveInteger('timeoutMs', options.timeoutMs, 120_000, 1, MAX_TIMER_MS),
      defaultMaxTokens: positiveInteger('defaultMaxTokens', options.defaultMaxTokens, 1024),
      unknownContextTokens: positiveInteger('unknownContextTokens', options.unknownContextTokens, DEFAULT_UNKNOWN_CONTEXT_TOKENS),
    };
    const names = new Set<string>();
    this.#workspaces = workspaces.map((config, index) => {
      const field = `workspaces[${index}]`;
      if (typeof config?.name !== 'string' || config.name === '') throw new ConfigError(`${field}.name`, 'expected a non-empty string');
      if (names.has(config.name)) throw new ConfigError(`${field}.name`, `duplicate workspace name ${JSON.stringify(config.name)}`);
      names.add(config.name);
      if (typeof config.apiKey !== 'string' || config.apiKey === '') throw new ConfigError(`${field}.apiKey`, 'expected a non-empty string');
      if (!this.catalog.hasTier(config.tier)) {
        throw new ConfigError(`${field}.tier`, `unknown tier ${JSON.stringify(config.tier)}; known: ${this.catalog.tiers.map((t) => t.name).join(', ')}`);
      }
      const overrides = config.overrides === undefined ? undefined : checkOverrides(`${field}.overrides`, config.overrides, this.catalog);
      return {
        config: overrides === undefined ? config : { ...config, overrides },
        client: new WorkspaceClient({ name: config.name, apiKey: config.apiKey, serverURL, timeoutMs: this.#options.timeoutMs }),
        disabled: false,
        learnedKinds: new Map(),
        tierWindows: new Map(),
        knownLimits: new Map(),
      };
    });
    this.#secrets = workspaces.map((w) => w.apiKey);
    this.#fallbacks = new Map(
      Object.entries(options.fallbacks ?? {}).map(([model, list]) => {
        const id = this.catalog.resolve(model);
        if (id === undefined) throw new ConfigError(`fallbacks.${model}`, 'unknown model id or alias');
        if (!Array.isArray(list)) throw new ConfigError(`fallbacks.${model}`, 'expected a list of model ids or aliases');
        list.forEach((fallback, index) => {
          if (this.catalog.resolve(fallback) === undefined) throw new ConfigError(`fallbacks.${model}[${index}]`, `unknown model ${JSON.stringify(fallback)}`);
        });
        return [id, list];
      }),
    );
    this.#queue = new WaitQueue(
      this.store,
      clock,
      ({ label, retryAfterMs, queueLength }) => this.events.emit('wait', { endpoint: label, retryAfterMs, queueLength }),
      (operation, error) => this.#storeError(operation, error),
    );
    this.#tokens = tokenEstimator ?? new TokenEstimator();
    this.#planCache = new LRUCache({ max: positiveInteger('planCacheSize', planCacheSize, 500, 1) });

    this.chat = {
      complete: (request, callOptions) => this.#run('chat', request, callOptions, (sdk, r, o) => sdk.chat.complete(r as ChatCompletionRequest, o)),
      stream: (request, callOptions) => this.#stream(request, callOptions),
    };
    this.embeddings = { create: (request, callOptions) => this.#run('embeddings', request, callOptions, (sdk, r, o) => sdk.embeddings.create(r as EmbeddingRequest, o)) };
    this.fim = { complete: (request, callOptions) => this.#run('fim', request, callOptions, (sdk, r, o) => sdk.fim.complete(r as FIMCompletionRequest, o)) };
  }

  /** The SDK client of a workspace, for endpoints the router does not route (files, agents...). */
  sdk(workspace: string): Mistral {
    const found = this.#workspaces.find((w) => w.config.name === workspace);
    if (found === undefined) throw new ConfigError('workspace', `unknown workspace ${JSON.stringify(workspace)}`);
    return found.client.sdk;
  }

  /**
   * A dry run: the plan for a request, with whether each candidate has quota now. Calls nothing upstream
   * and reserves nothing.
   */
  async plan(request: RoutedChatRequest | RoutedEmbeddingRequest | RoutedFimRequest, endpoint: Endpoint = 'chat'): Promise<Plan> {
    const prepared = this.#prepare(endpoint, request as unknown as Record<string, unknown>);
    const snapshots = new Map<string, Awaited<ReturnType<QuotaStore['snapshot']>>>();
    const now = this.#clock.now();
    const candidates: PlanCandidate[] = [];
    for (const candidate of prepared.plan.candidates) {
      let snapshot = snapshots.get(candidate.workspace);
      if (snapshot === undefined) snapshots.set(candidate.workspace, (snapshot = await this.store.snapshot(candidate.workspace)));
      let quota: string | undefined;
      for (const window of this.#windowsFor(this.#workspace(candidate.workspace), candidate.model)) {
        const state = snapshot.find((s) => s.kind === window.kind && (window.scope === 'workspace' ? s.model === undefined : s.model === candidate.model));
        const limit = state?.limit ?? window.limit;
        const cost = window.unit === 'requests' ? 1 : prepared.estimated;
        if (state?.blockedUntil !== undefined && state.blockedUntil > now) quota = `${window.kind} blocked by an upstream 429 for ${state.blockedUntil - now} ms`;
        else if (limit !== null && cost > limit) quota = `${window.kind}: the request (${cost}) exceeds the limit (${limit})`;
        else if (limit !== null && (state?.used ?? 0) + cost > limit) quota = `${window.kind} full: ${state?.used ?? 0} of ${limit} used`;
        if (quota !== undefined) break;
      }
      candidates.push({ ...candidate, room: quota === undefined, ...(quota === undefined ? {} : { quota }) });
    }
    return { ...prepared.plan, candidates };
  }

  /**
   * Hold quota for a request without calling Mistral, for callers who make the call themselves (their own
   * client, an endpoint the router does not wrap): the same validation, plan, FIFO wait and reservation
   * as a routed call. Settle the lease with the call's real usage (and its response headers, so the router
   * learns), or release it if the call never reached Mistral. Until then the tokens stay held.
   */
  async reserve(endpoint: Endpoint, request: RoutedChatRequest | RoutedEmbeddingRequest | RoutedFimRequest, options?: CallOptions): Promise<Lease> {
    checkCallOptions(options);
    const prepared = this.#prepare(endpoint, request as unknown as Record<string, unknown>);
    const state: CallState = { attempts: [], excluded: undefined, minContext: 0, lastError: undefined, waitedMs: 0, refusals: NO_REFUSALS };
    // In flight until the lease is handed over: close() waits, and a lease granted after it began is given back.
    const reservation = await this.#counted(async () => {
      const granted = await this.#acquire(prepared, state, options?.signal);
      if (this.#closed) {
        await this.#bookkeeping('release', () => this.store.release(granted));
        throw closedError();
      }
      return granted;
    });
    const workspace = this.#workspace(reservation.workspace);
    let open = true;
    return {
      model: reservation.model,
      workspace: reservation.workspace,
      estimatedTokens: prepared.estimated,
      waitedMs: state.waitedMs,
      passedOver: passedOver(state.refusals),
      plan: prepared.plan,
      // A settle or release begun before close() is in flight: close() waits for it before the store closes.
      settle: async (usage, headers) => {
        if (!open) return;
        // Refused before the lease closes: the caller can settle again with good numbers, or release.
        if (usage === null) usage = undefined;
        if (usage !== undefined && typeof usage !== 'object') throw new NeedError('usage', 'expected { promptTokens?, totalTokens? }');
        usageCount(usage?.promptTokens, 'usage.promptTokens');
        usageCount(usage?.totalTokens, 'usage.totalTokens');
        if (headers === null) headers = undefined;
        open = false;
        await this.#counted(async () => {
          if (usage?.promptTokens !== undefined) this.#tokens.observe(prepared.promptEstimate, usage.promptTokens, prepared.ratio);
          await this.#settleAndLearn(workspace, reservation, usage?.totalTokens ?? reservation.tokens, headers);
          void this.#queue.pump();
        });
      },
      release: async () => {
        if (!open) return;
        open = false;
        await this.#counted(async () => {
          await this.#bookkeeping('release', () => this.store.release(reservation));
          void this.#queue.pump();
        });
      },
    };
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

  /** Runs `work` as a call in flight (close() waits for it). The hot paths (#run, #stream) count inline. */
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

  // ---- preparing a call ------------------------------------------------------------------------

  #workspace(name: string): Workspace {
    return this.#workspaces.find((w) => w.config.name === name) as Workspace;
  }

  #prepare(endpoint: Endpoint, request: Record<string, unknown>): Prepared {
    if (request === null || typeof request !== 'object') throw new RouterError('NEED_INVALID', 'request: expected an object');
    const sdkRequest = request;
    const { need, maxWaitMs, model } = request as { need?: Need; maxWaitMs?: number; model?: unknown };
    if (model !== undefined && (typeof model !== 'string' || model === '')) throw new RouterError('NEED_INVALID', 'model: expected a model id or alias');
    const implied: Capability[] = [];
    const ratio = this.#tokens.ratio;
    let promptEstimate: number;
    let contextTokens: number;
    let maxOutput = 0;
    if (endpoint === 'embeddings') {
      const inputs = sdkRequest.inputs as string | string[] | undefined;
      if (inputs === undefined || (typeof inputs !== 'string' && !Array.isArray(inputs))) throw new RouterError('NEED_INVALID', 'inputs: expected a string or a list of strings');
      promptEstimate = this.#tokens.estimateInputs(inputs);
      contextTokens = Math.max(0, ...(typeof inputs === 'string' ? [inputs] : inputs).map((input) => this.#tokens.estimateText(String(input))));
    } else {
      maxOutput = tokenCount(sdkRequest.maxTokens, 'maxTokens') ?? this.#options.defaultMaxTokens;
      if (endpoint === 'fim') {
        if (typeof sdkRequest.prompt !== 'string') throw new RouterError('NEED_INVALID', 'prompt: expected a string');
        promptEstimate = this.#tokens.estimateFim(sdkRequest.prompt, sdkRequest.suffix as string | null | undefined);
      } else {
        if (!Array.isArray(sdkRequest.messages)) throw new RouterError('NEED_INVALID', 'messages: expected a list of messages');
        promptEstimate = this.#tokens.estimateMessages(sdkRequest.messages);
        implied.push(...impliedCapabilities(sdkRequest));
      }
      contextTokens = promptEstimate + maxOutput;
    }
    const configured = typeof model === 'string' ? this.#fallbacks.get(this.catalog.resolve(model) ?? model) : undefined;
    const withFallbacks = configured === undefined ? need : { ...need, prefer: [...configured, ...(need?.prefer ?? [])] };
    const normalised = normaliseNeed(withFallbacks, endpoint, implied, this.#options.strategy);
    const cacheKey = `${endpoint}\u0000${model ?? ''}\u0000${normalised.signature}`;
    // The last plan used is checked first: a service asking the same thing again and again skips the
    // LRU's bookkeeping (its recency update was a tenth of the decision).
    let ranked = cacheKey === this.#lastPlanKey ? this.#lastPlan : this.#planCache.get(cacheKey);
    if (ranked === undefined) {
      ranked = rankModels(this.catalog, normalised, model as string | undefined);
      this.#planCache.set(cacheKey, ranked);
    }
    this.#lastPlanKey = cacheKey;
    this.#lastPlan = ranked;
    const { models, rejected, candidates } = this.#fit(ranked, contextTokens, normalised.minContext);
    const estimated = promptEstimate + maxOutput;
    const plan: Plan = { endpoint, need: normalised, tokens: { prompt: promptEstimate, maxOutput, total: estimated }, candidates, rejected };
    const wait = maxWaitMs === undefined ? this.#options.maxWaitMs : positiveInteger('maxWaitMs', maxWaitMs, 0, 0, MAX_TIMER_MS);
    return { endpoint, plan, models, estimated, promptEstimate, ratio, maxWaitMs: wait, request };
  }

  /**
   * The context check. When the need sets no minimum and the request fits the smallest window of the
   * ranked models, every model fits: that result (and its plan candidates) is computed once per ranked list.
   */
  #fit(ranked: RankedModels, contextTokens: number, minContext: number): { models: readonly Model[]; rejected: readonly Rejection[]; candidates: readonly PlanCandidate[] } {
    if (minContext === 0) {
      let all = this.#allFit.get(ranked);
      if (all === undefined) {
        const threshold = Math.min(Number.MAX_SAFE_INTEGER, ...ranked.ranked.map((m) => m.contextWindow ?? this.#options.unknownContextTokens));
        all = { threshold, models: ranked.ranked, rejected: ranked.rejected, candidates: this.#planCandidates(ranked.ranked) };
        this.#allFit.set(ranked, all);
      }
      if (contextTokens <= all.threshold) return all;
    }
    const fitted = fitContext(ranked, contextTokens, minContext, this.#options.unknownContextTokens);
    return { models: fitted.models, rejected: fitted.rejected, candidates: this.#planCandidates(fitted.models) };
  }

  #planCandidates(models: readonly Model[]): PlanCandidate[] {
    const candidates: PlanCandidate[] = [];
    for (const m of models) for (const w of this.#workspaces) candidates.push({ model: m.id, workspace: w.config.name, contextWindow: m.contextWindow });
    return candidates;
  }

  /** The windows a call to `model` through `workspace` uses: the tier's (see #tierWindows), then any learned kinds. */
  #windowsFor(workspace: Workspace, model: string): WindowSpec[] {
    const windows = this.#tierWindows(workspace, model);
    return workspace.learnedKinds.size === 0 ? windows : [...windows, ...workspace.learnedKinds.values()];
  }

  /** The tier's windows of `model` through `workspace`, with its limits and overrides (built once). */
  #tierWindows(workspace: Workspace, model: string): WindowSpec[] {
    let windows = workspace.tierWindows.get(model);
    if (windows === undefined) {
      const limits = this.catalog.limits(workspace.config.tier, model);
      const overrides = workspace.config.overrides;
      const modelOverrides = overrides?.models?.[model];
      windows = [
        { ...WINDOW_KINDS.requestsPerSecond, limit: overrides?.requestsPerSecond !== undefined ? overrides.requestsPerSecond : limits.requestsPerSecond },
        { ...WINDOW_KINDS.tokensPerMinute, limit: modelOverrides?.tokensPerMinute !== undefined ? modelOverrides.tokensPerMinute : limits.tokensPerMinute },
        { ...WINDOW_KINDS.tokensPerMonth, limit: modelOverrides?.tokensPerMonth !== undefined ? modelOverrides.tokensPerMonth : limits.tokensPerMonth },
      ];
      workspace.tierWindows.set(model, windows);
    }
    return windows;
  }

  #quotaCandidates(prepared: Prepared, state: CallState): readonly QuotaCandidate[] {
    const now = this.#clock.now();
    const plain = state.excluded === undefined && state.minContext === 0;
    if (plain) {
      const cached = this.#candidateLists.get(prepared.models);
      if (cached !== undefined && cached.version === this.#stateVersion && now < cached.validUntil) return cached.list;
    }
    const list: QuotaCandidate[] = [];
    let validUntil = Number.POSITIVE_INFINITY;
    for (const model of prepared.models) {
      if ((model.contextWindow ?? Number.MAX_SAFE_INTEGER) < state.minContext) continue;
      const cooled = this.#cooldowns.get(model.id);
      if (cooled !== undefined && cooled > now) {
        validUntil = Math.min(validUntil, cooled);
        continue;
      }
      for (const workspace of this.#workspaces) {
        if (workspace.disabled || state.excluded?.has(`${workspace.config.name}\u0000${model.id}`)) continue;
        list.push(this.#candidate(workspace, model.id));
      }
    }
    if (plain) this.#candidateLists.set(prepared.models, { version: this.#stateVersion, validUntil, list });
    return list;
  }

  #candidate(workspace: Workspace, model: string): QuotaCandidate {
    const key = `${workspace.config.name}\u0000${model}`;
    let candidate = this.#candidateObjects.get(key);
    if (candidate === undefined) {
      candidate = { workspace: workspace.config.name, model, windows: this.#windowsFor(workspace, model) };
      this.#candidateObjects.set(key, candidate);
    }
    return candidate;
  }

  /** Something that changes candidate lists happened: drop the cached ones. */
  #invalidate(learnedWindows = false): void {
    this.#stateVersion++;
    if (learnedWindows) this.#candidateObjects.clear();
  }

  // ---- one routed call -------------------------------------------------------------------------

  /** A reservation for the call: at once from the embedded store when it has room and nobody waits, else through the queue. */
  #acquire(prepared: Prepared, state: CallState, signal: AbortSignal | undefined): Reservation | Promise<Reservation> {
    if (this.#closed) throw closedError();
    const candidates = this.#quotaCandidates(prepared, state);
    if (candidates.length === 0) {
      if (state.lastError !== undefined) throw state.lastError;
      throw new NoEligibleModelError(`No model in the catalogue can serve this ${prepared.endpoint} request: ${summariseRejections(prepared.plan.rejected)}`, prepared.plan);
    }
    const request = { candidates, tokens: prepared.estimated };
    const first = this.#queue.tryNow(request, signal);
    if (first?.ok) {
      state.refusals = first.refusals;
      return first.reservation;
    }
    return this.#wait(prepared, state, signal, request, first);
  }

  async #wait(prepared: Prepared, state: CallState, signal: AbortSignal | undefined, request: ReserveRequest, first: ReserveResult | undefined): Promise<Reservation> {
    try {
      const acquired = await this.#queue.acquire(request, Math.max(0, prepared.maxWaitMs - state.waitedMs), signal, prepared.plan, prepared.endpoint, first);
      state.waitedMs += acquired.waitedMs;
      state.refusals = acquired.refusals;
      if (signal?.aborted) {
        // Aborted as the reservation arrived: nothing was sent, so everything goes back.
        await this.#bookkeeping('release', () => this.store.release(acquired.reservation));
        void this.#queue.pump();
        throw new AbortError('The request was aborted while waiting for quota.');
      }
      return acquired.reservation;
    } catch (error) {
      if (RouterError.isInstance(error) && error.code === 'QUOTA_EXHAUSTED') {
        this.events.emit('exhausted', { endpoint: prepared.endpoint, retryAfterMs: (error as { retryAfterMs?: number }).retryAfterMs ?? 0 });
      }
      throw error;
    }
  }

  async #run<T extends object>(
    endpoint: Endpoint,
    request: object,
    options: CallOptions | undefined,
    send: (sdk: Mistral, request: Record<string, unknown>, options: Attempt['options']) => Promise<T>,
  ): Promise<Routed<T>> {
    checkCallOptions(options);
    const prepared = this.#prepare(endpoint, request as Record<string, unknown>);
    const state: CallState = { attempts: [], excluded: undefined, minContext: 0, lastError: undefined, waitedMs: 0, refusals: NO_REFUSALS };
    this.#inFlight++;
    try {
      while (state.attempts.length < this.#options.maxAttempts) {
        const acquiring = this.#acquire(prepared, state, options?.signal);
        const reservation = acquiring instanceof Promise ? await acquiring : acquiring;
        const workspace = this.#workspace(reservation.workspace);
        const attemptId = `${++this.#attemptSeq}`;
        if (this.events.has('decision')) this.events.emit('decision', { endpoint, workspace: reservation.workspace, model: reservation.model, attempt: state.attempts.length + 1, estimatedTokens: prepared.estimated, waitedMs: state.waitedMs });
        const started = this.#clock.now();
        let result: T;
        const attempt = workspace.client.attempt(attemptId, options?.signal, options?.timeoutMs);
        try {
          result = await send(workspace.client.sdk, toSdkRequest(prepared.request, reservation.model), attempt.options);
        } catch (error) {
          attempt.finish();
          await this.#onFailure(prepared, state, reservation, workspace, attemptId, started, error);
          continue;
        }
        attempt.finish();
        const usage = (result as { usage?: { promptTokens?: number; totalTokens?: number } }).usage;
        const settling = this.#onSuccess(prepared, reservation, workspace, attemptId, usage);
        if (settling !== undefined) await settling;
        state.attempts.push({ workspace: reservation.workspace, model: reservation.model, outcome: 'ok', status: 200, durationMs: this.#clock.now() - started });
        const routing: Decision = {
          endpoint,
          model: reservation.model,
          workspace: reservation.workspace,
          attempts: state.attempts,
          passedOver: passedOver(state.refusals),
          waitedMs: state.waitedMs,
          tokens: { estimated: prepared.estimated, used: usage?.totalTokens },
          plan: prepared.plan,
        };
        if (this.events.has('done')) this.events.emit('done', { endpoint, ok: true, attempts: state.attempts });
        return Object.assign(result, { routing });
      }
      throw state.lastError ?? new RouterError('ATTEMPTS_EXHAUSTED', `Gave up after ${this.#options.maxAttempts} attempts.`);
    } catch (error) {
      if (this.events.has('done')) this.events.emit('done', { endpoint, ok: false, attempts: state.attempts });
      throw error;
    } finally {
      this.#callEnded();
    }
  }

  /** Settle and learn after a call that succeeded; a promise only when the store is remote. */
  #onSuccess(prepared: Prepared, reservation: Reservation, workspace: Workspace, attemptId: string, usage: { promptTokens?: number; totalTokens?: number } | undefined): Promise<void> | undefined {
    const used = usage?.totalTokens;
    if (typeof usage?.promptTokens === 'number') this.#tokens.observe(prepared.promptEstimate, usage.promptTokens, prepared.ratio);
    const headers = workspace.client.takeHeaders(attemptId);
    const settling = this.#settleAndLearn(workspace, reservation, typeof used === 'number' && used >= 0 ? used : reservation.tokens, headers);
    if (settling === undefined) {
      if (this.#queue.length > 0) void this.#queue.pump();
      return undefined;
    }
    return settling.then(() => void this.#queue.pump());
  }

  /**
   * Settle, release and observe after a call must not turn the call's outcome into a store error: the
   * answer is the caller's either way. A store failure here is reported as a `storeError` event (a
   * fail-closed Redis store recovers the held tokens when the reservation expires).
   */
  /**
   * Settle a reservation and learn from the response's headers. Both go out together (the store sees the
   * settle first: both stores run operations in the order they are called), so a remote store costs one
   * round trip here, not two. In that order the upstream's remaining is compared with usage that already
   * holds the real count, not the estimate.
   */
  #settleAndLearn(workspace: Workspace, reservation: Reservation, tokens: number, headers: Headers | undefined): Promise<void> | undefined {
    const store = this.store;
    if (store instanceof MemoryStore) {
      // The embedded store settles and observes synchronously: no promise on the hot path.
      try {
        store.settleSync(reservation, tokens);
      } catch (error) {
        this.#storeError('settle', error);
      }
      if (headers !== undefined) {
        try {
          this.#learn(workspace, reservation.model, 200, headers, undefined);
        } catch (error) {
          this.#storeError('observe', error);
        }
      }
      return undefined;
    }
    const settled = this.#bookkeeping('settle', () => store.settle(reservation, tokens));
    if (headers === undefined) return settled;
    return Promise.all([settled, this.#bookkeeping('observe', () => this.#learn(workspace, reservation.model, 200, headers, undefined))]).then(() => undefined);
  }

  async #bookkeeping(operation: 'settle' | 'release' | 'observe', run: () => Promise<unknown> | undefined): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.#storeError(operation, error);
    }
  }

  #storeError(operation: 'settle' | 'release' | 'observe', error: unknown): void {
    this.events.emit('storeError', { operation, message: redactSecrets((error as Error).message ?? String(error), this.#secrets) });
  }

  /**
   * Feed a response's headers to the quota engine, then note what they taught: emit limitsLearned for new
   * limits, add learned window kinds. Synchronous with the embedded store (a promise otherwise).
   */
  #learn(workspace: Workspace, model: string, status: number, headers: Headers, body: string | undefined): Promise<void> | undefined {
    const { observation } = toUpstreamObservation({ workspace: workspace.config.name, model, status, headers, body, now: this.#clock.now() });
    if (observation.windows.length === 0 && observation.rateLimited === undefined) return undefined;
    const store = this.store;
    if (store instanceof MemoryStore) {
      store.observeSync(observation);
      this.#noteLimits(workspace, model, observation.windows);
      return undefined;
    }
    return store.observe(observation).then(() => this.#noteLimits(workspace, model, observation.windows));
  }

  #noteLimits(workspace: Workspace, model: string, windows: UpstreamObservation['windows']): void {
    if (windows.length === 0) return;
    const configured = this.#tierWindows(workspace, model);
    for (const window of windows) {
      if (!configured.some((w) => w.kind === window.kind) && !workspace.learnedKinds.has(window.kind)) {
        workspace.learnedKinds.set(window.kind, { kind: window.kind, unit: window.unit, period: window.period, scope: window.scope, limit: null });
        this.#invalidate(true);
      }
      // A limit of 0 comes with 429s: a refusal, not the tier's limit; the stores do not learn it either.
      if (window.limit === undefined || window.limit === 0) continue;
      let known = workspace.knownLimits.get(window.kind);
      if (known === undefined) workspace.knownLimits.set(window.kind, (known = new Map()));
      const scoped = window.scope === 'workspace' ? '' : model;
      const previous = known.has(scoped) ? (known.get(scoped) as number | null) : (configured.find((w) => w.kind === window.kind)?.limit ?? null);
      if (previous !== window.limit) {
        known.set(scoped, window.limit);
        this.events.emit('limitsLearned', { workspace: workspace.config.name, model, kind: window.kind, limit: window.limit, previous });
      }
    }
  }

  async #onFailure(prepared: Prepared, state: CallState, reservation: Reservation, workspace: Workspace, attemptId: string, started: number, error: unknown): Promise<void> {
    const failure = classifyFailure(error);
    const hookHeaders = workspace.client.takeHeaders(attemptId);
    state.attempts.push({ workspace: reservation.workspace, model: reservation.model, outcome: failure.kind, status: failure.status, durationMs: this.#clock.now() - started });
    // The request reached the model: it stays counted, its tokens return. Otherwise everything returns.
    if (failure.reachedUpstream) await this.#bookkeeping('settle', () => this.store.settle(reservation, 0));
    else await this.#bookkeeping('release', () => this.store.release(reservation));
    const headers = failure.headers ?? hookHeaders;
    if (headers !== undefined) await this.#bookkeeping('observe', () => this.#learn(workspace, reservation.model, failure.status ?? 0, headers, failure.body));
    void this.#queue.pump();
    const upstream = this.#upstreamError(failure, reservation, error);
    state.lastError = upstream;
    switch (failure.action) {
      case 'throw':
        if (failure.kind === 'aborted') throw new AbortError('The request was aborted by its AbortSignal.', { cause: error });
        if (failure.kind === 'invalid-request' && !failure.reachedUpstream) {
          throw new NeedError('request', redactSecrets(`the SDK refused the request before sending it: ${failure.message.slice(0, 500)}`, this.#secrets), { cause: sanitiseCause(error, this.#secrets) });
        }
        throw upstream;
      case 'block-window':
        (state.excluded ??= new Set()).add(`${reservation.workspace}\u0000${reservation.model}`);
        break;
      case 'cooldown-model': {
        const until = this.#clock.now() + this.#options.cooldownMs;
        this.#cooldowns.set(reservation.model, until);
        this.#invalidate();
        this.events.emit('cooldown', { model: reservation.model, until, reason: failure.kind });
        break;
      }
      case 'larger-context': {
        const window = this.catalog.model(reservation.model)?.contextWindow ?? 0;
        state.minContext = Math.max(state.minContext, window + 1);
        break;
      }
      case 'disable-workspace':
        workspace.disabled = true;
        this.#invalidate();
        this.events.emit('workspaceDisabled', { workspace: reservation.workspace, status: failure.status });
        break;
    }
    this.events.emit('fallback', { from: { workspace: reservation.workspace, model: reservation.model }, reason: failure.kind, status: failure.status, action: failure.action });
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

  // ---- streams ---------------------------------------------------------------------------------

  async #stream(request: RoutedChatRequest, options: CallOptions | undefined): Promise<RoutedStream> {
    checkCallOptions(options);
    const prepared = this.#prepare('chat', request as unknown as Record<string, unknown>);
    const state: CallState = { attempts: [], excluded: undefined, minContext: 0, lastError: undefined, waitedMs: 0, refusals: NO_REFUSALS };
    // In flight until handed over; from then on #openStreams holds it.
    this.#inFlight++;
    try {
      while (state.attempts.length < this.#options.maxAttempts) {
        const reservation = await this.#acquire(prepared, state, options?.signal);
        const workspace = this.#workspace(reservation.workspace);
        const attemptId = `${++this.#attemptSeq}`;
        if (this.events.has('decision')) this.events.emit('decision', { endpoint: 'chat', workspace: reservation.workspace, model: reservation.model, attempt: state.attempts.length + 1, estimatedTokens: prepared.estimated, waitedMs: state.waitedMs });
        const started = this.#clock.now();
        let iterator: AsyncIterator<CompletionEvent>;
        let first: IteratorResult<CompletionEvent>;
        // The attempt's timeout and the caller's signal cover the whole stream, not only its first chunk.
        const attempt = workspace.client.attempt(attemptId, options?.signal, options?.timeoutMs);
        try {
          const stream: EventStream<CompletionEvent> = await workspace.client.sdk.chat.stream(
            toSdkRequest(prepared.request, reservation.model) as unknown as ChatCompletionRequest,
            attempt.options,
          );
          iterator = stream[Symbol.asyncIterator]();
          first = await iterator.next(); // fall back only before the first chunk
        } catch (error) {
          attempt.finish();
          await this.#onFailure(prepared, state, reservation, workspace, attemptId, started, error);
          continue;
        }
        state.attempts.push({ workspace: reservation.workspace, model: reservation.model, outcome: 'ok', status: 200, durationMs: this.#clock.now() - started });
        const routing: { -readonly [K in keyof Decision]: Decision[K] } = {
          endpoint: 'chat',
          model: reservation.model,
          workspace: reservation.workspace,
          attempts: state.attempts,
          passedOver: passedOver(state.refusals),
          waitedMs: state.waitedMs,
          tokens: { estimated: prepared.estimated, used: undefined },
          plan: prepared.plan,
        };
        return this.#routedStream(prepared, reservation, workspace, attempt, attemptId, iterator, first, routing);
      }
      throw state.lastError ?? new RouterError('ATTEMPTS_EXHAUSTED', `Gave up after ${this.#options.maxAttempts} attempts.`);
    } catch (error) {
      if (this.events.has('done')) this.events.emit('done', { endpoint: 'chat', ok: false, attempts: state.attempts });
      throw error;
    } finally {
      this.#callEnded();
    }
  }

  /**
   * The stream handed to the caller, past its first chunk. It ends exactly once, whichever way it ends:
   * read to the end; stopped early by the caller (`break`, or `return()` before the first `next()`);
   * broken mid-stream (a typed `STREAM_FAILED`, or `AbortError` when the caller's signal fired); or never
   * read before its attempt's timeout or the caller's abort. Ending finishes the attempt (its timeout
   * stops, the caller's signal is unlinked), closes the connection, settles the reservation (at the
   * usage of the last chunk, else at the estimate: the model ran), learns from the response's headers,
   * and emits `done`.
   */
  #routedStream(
    prepared: Prepared,
    reservation: Reservation,
    workspace: Workspace,
    attempt: Attempt,
    attemptId: string,
    iterator: AsyncIterator<CompletionEvent>,
    first: IteratorResult<CompletionEvent>,
    routing: { -readonly [K in keyof Decision]: Decision[K] },
  ): RoutedStream {
    let phase: 'unread' | 'reading' | 'ended' = 'unread';
    let obtained = false;
    let usage: { promptTokens?: number; totalTokens?: number } | undefined;
    // A chunk with a finish reason ends the answer: a cancel after it cuts nothing.
    let complete = false;
    const note = (event: CompletionEvent) => {
      if (event.data.usage !== undefined) usage = event.data.usage as typeof usage;
      if (event.data.choices.some((choice) => choice.finishReason !== null && choice.finishReason !== undefined)) complete = true;
    };
    if (!first.done) note(first.value);
    let ending: Promise<void> | undefined;
    const closeUpstream = async (): Promise<void> => {
      try {
        await iterator.return?.();
      } catch {
        // The connection is already gone (dropped, timed out, aborted): nothing left to close.
      }
    };
    const end = (ok: boolean): Promise<void> => {
      if (ending !== undefined) return ending;
      phase = 'ended';
      attempt.finish();
      ending = (async () => {
        await closeUpstream();
        const settling = this.#onSuccess(prepared, reservation, workspace, attemptId, usage);
        if (settling !== undefined) await settling;
        routing.tokens = { estimated: prepared.estimated, used: usage?.totalTokens };
        if (this.events.has('done')) this.events.emit('done', { endpoint: 'chat', ok, attempts: routing.attempts });
      })();
      // Open until settled: a close() meanwhile waits for this ending before it closes the store.
      const closed = () => this.#openStreams.delete(closeOnRouterClose);
      ending.then(closed, closed);
      return ending;
    };
    /** Why the stream was cut short (timeout, abort, router closed); a reader gets it as a typed error. */
    let cancelled: Error | undefined;
    const closeOnRouterClose = (): Promise<void> => {
      // Abort the request first: a read waiting on a quiet connection then ends, and so can the stream.
      attempt.cancel(new RouterError('STREAM_FAILED', 'The router was closed while this stream was open.'));
      return end(complete);
    };
    this.#openStreams.add(closeOnRouterClose);
    // Its first chunk came after close(), which waits for this ending before it closes the store.
    if (this.#closed) void closeOnRouterClose();
    // The attempt's timeout or the caller's abort ends the stream at once, read or not: the connection is
    // cancelled and the reservation settled, even when nobody reads on.
    attempt.onCancel((reason) => {
      if (stopping) return; // the caller's own return(): see chunks.return
      if (!complete) cancelled = reason;
      void end(complete);
    });
    /** A next() waits on the connection (async generators queue return() behind it). */
    let waiting = false;
    /** The caller called return() while its next() waited: the stream stops as on `break`. */
    let stopping = false;
    const read = async function* (this: Router): AsyncGenerator<CompletionEvent> {
      // Ended unread: nothing to read, unless the first chunk already held the whole answer.
      if (phase === 'ended' && !complete) throw notReadable();
      phase = 'reading';
      try {
        let next = first;
        while (!next.done) {
          if (cancelled !== undefined) throw cancelled;
          yield next.value;
          waiting = true;
          try {
            next = await iterator.next();
          } finally {
            waiting = false;
          }
          if (!next.done) note(next.value);
        }
        // Closed by a cancel while waiting for the next chunk: the answer is cut short, not complete.
        if (cancelled !== undefined) throw cancelled;
      } catch (error) {
        // The answer was complete (its finish reason came) when the connection failed: nothing is missing.
        // Or the caller stopped while this read waited: its next() ends the stream as a `break` would.
        // Not when a cancel (timeout, abort, close) came first and the last chunk only after: the stream
        // was ended as failed (`done` said so), and the reader is told the same.
        if ((complete && cancelled === undefined) || stopping) return;
        // After the first chunk the caller has part of an answer: no fallback, a typed error.
        await end(false);
        const failure = classifyFailure(error);
        if (failure.kind === 'aborted') throw new AbortError('The stream was aborted by its AbortSignal.', { cause: sanitiseCause(error, this.#secrets) });
        throw new RouterError('STREAM_FAILED', redactSecrets(`The stream from ${reservation.model} (workspace ${reservation.workspace}) failed after its first chunk: ${failure.message}`, this.#secrets), { cause: sanitiseCause(error, this.#secrets) });
      } finally {
        // Completed, or the caller stopped early (break): the call happened, settle what we know.
        await end(true);
      }
    }.call(this);
    const notReadable = () => new RouterError('STREAM_FAILED', `This stream from ${reservation.model} (workspace ${reservation.workspace}) was already read, or not read within its attempt's timeout, or aborted before it was read.`);
    // A generator that never started skips its body (and its finally) on return()/throw(): end it here.
    const stopUnread = async () => {
      if (phase === 'unread') await end(true);
    };
    const chunks: AsyncIterableIterator<CompletionEvent> = {
      next: () => read.next(),
      return: async (value?: unknown) => {
        await stopUnread();
        if (waiting && phase === 'reading') {
          // A read waits on a quiet connection, and the generator would run return() only after it:
          // cancel the request so that the read ends now, as a `break` (settled, done ok).
          stopping = true;
          attempt.cancel(new RouterError('STREAM_FAILED', 'The caller stopped reading this stream.'));
          void end(true);
        }
        return read.return(value as undefined);
      },
      throw: async (error?: unknown) => {
        await stopUnread();
        return read.throw(error);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return {
      routing,
      [Symbol.asyncIterator]: () => {
        if (obtained || (phase === 'ended' && !complete)) throw notReadable();
        obtained = true;
        return chunks;
      },
    };
  }
}

/** The SDK's request: the caller's, without the routing fields, for the chosen model. */
function toSdkRequest(request: Record<string, unknown>, model: string): Record<string, unknown> {
  // Built as a literal with `model` first, then the caller's fields in their order: the shape of a request
  // written for the SDK. The SDK's zod-compiled parser took 17-26 µs more per call on the object that
  // rest + spread made ({ ...rest, model }), measured by profiling both against the SDK called directly.
  const sdkRequest: Record<string, unknown> = { model };
  for (const key of Object.keys(request)) {
    if (key !== 'need' && key !== 'maxWaitMs' && key !== 'model') sdkRequest[key] = request[key];
  }
  return sdkRequest;
}

/** Capabilities a chat request's content implies: images, audio, tools, JSON output. */
export function impliedCapabilities(request: Record<string, unknown>): Capability[] {
  const implied: Capability[] = [];
  const messages = request.messages as unknown[];
  let vision = false;
  let audio = false;
  for (const message of messages) {
    const content = (message as { content?: unknown } | null)?.content;
    if (!Array.isArray(content)) continue;
    for (const part of content) {
      const type = (part as { type?: unknown } | null)?.type;
      if (type === 'image_url') vision = true;
      else if (type === 'input_audio') audio = true;
    }
  }
  if (vision) implied.push('vision');
  if (audio) implied.push('audio');
  if (Array.isArray(request.tools) && request.tools.length > 0) implied.push('function_calling');
  const format = (request.responseFormat as { type?: string } | undefined)?.type;
  if (format === 'json_object' || format === 'json_schema') implied.push('json_mode');
  return implied;
}

function summariseRejections(rejected: readonly Rejection[]): string {
  const reasons = new Map<string, number>();
  for (const r of rejected) {
    const key = r.reason.replace(/\d+/g, 'N');
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  return [...reasons.entries()].map(([reason, count]) => `${count} × ${reason}`).join('; ') || 'the catalogue is empty';
}

/** Keep an SDK error as `cause` without the request (whose headers hold the key). */
function sanitiseCause(error: unknown, secrets: readonly string[]): Error {
  if (!(error instanceof Error)) return new Error(redactSecrets(String(error), secrets));
  const copy = new Error(redactSecrets(error.message, secrets));
  copy.name = error.name;
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number') Object.assign(copy, { statusCode: status });
  return copy;
}

/** Create a router. See {@link RouterOptions}. */
export function createRouter(options: RouterOptions): Router {
  return new Router(options);
}
