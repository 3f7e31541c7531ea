/**
 * `mistral-router/redis`: the quota store a fleet shares. Ten instances of an application on one API key
 * share one requests-per-second window and one tokens-per-minute budget per model, because Mistral meters
 * the workspace, not the process; this store keeps those windows in Redis so every instance sees them.
 *
 * It is a separate entry point so that users without Redis never load ioredis (an optional peer
 * dependency). The key layout, the Lua and the time source are documented in `redis-scripts.ts`.
 *
 * @example
 * ```ts
 * import { RedisStore } from 'mistral-router/redis';
 * const store = new RedisStore({ redis: process.env.REDIS_URL, onStoreError: 'fail-open' });
 * store.on('fallback', (event) => console.warn('quota is local until Redis answers', event.error.message));
 * ```
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { systemClock, type Clock } from '../clock.js';
import { RouterError, StoreError, StoreUnavailableError } from '../errors.js';
import { Deadlines } from '../deadlines.js';
import { MemoryStore } from './memory/index.js';
import {
  AFTER_SCRIPT,
  CANCEL_SCRIPT,
  INSPECT_SCRIPT,
  RESERVE_SCRIPT,
  EXPIRY_MARGIN,
  layoutCode,
  parseLayoutCode,
  parseWindowKey,
  windowKey,
  workspaceKeys,
  workspaceRegistryKey,
  type WorkspaceKeys,
} from './redis-scripts.js';
import type {
  CandidateRefusal,
  QuotaCandidate,
  QuotaStore,
  Reservation,
  ReserveRequest,
  ReserveResult,
  UpstreamObservation,
  WindowRefusal,
  WindowSnapshot,
  WindowSpec,
} from './types.js';
import { WINDOW_KINDS } from './types.js';
import { quotaInvalid, validateActualTokens, validateCandidate, validateObservation, validateReserveRequest } from './validate.js';

export { StoreError, StoreUnavailableError } from '../errors.js';
export type { QuotaStore, Reservation, ReserveRequest, ReserveResult, UpstreamObservation, WindowSnapshot } from './types.js';
export { prefixPattern } from './redis-scripts.js';

/** What the store does when Redis cannot be reached. */
export type StoreErrorPolicy = 'fail-closed' | 'fail-open';

/** The store operations, as named in events. */
export type RedisStoreOperation = 'reserve' | 'settle' | 'release' | 'observe' | 'snapshot' | 'pendingReservations';

/** Something the store wants its owner to know about its connection to Redis. */
export type RedisStoreEvent =
  | {
      /** An operation could not reach Redis (each failure, whatever the policy). */
      readonly type: 'storeError';
      readonly operation: RedisStoreOperation;
      readonly policy: StoreErrorPolicy;
      readonly error: StoreUnavailableError;
    }
  | {
      /** fail-open only: a local memory store now answers reserve; the fleet no longer shares this quota. */
      readonly type: 'fallback';
      readonly error: StoreUnavailableError;
    }
  | {
      /** Redis answers again after a failure; `replayed` settles/releases kept during the outage were sent. */
      readonly type: 'recovered';
      readonly unavailableForMs: number;
      readonly replayed: number;
    };

/** The event names of {@link RedisStoreEvent}. */
export type RedisStoreEventType = RedisStoreEvent['type'];

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * The Redis to use: a connected ioredis client (standalone or Cluster; the store leaves it open on
   * close), or ioredis options or a `redis://` URL (the store creates, owns and closes the client, with
   * settings that make failures quick: no offline queue, no command resend, endless reconnect with backoff).
   *
   * A client you pass keeps its own settings; `enableOfflineQueue: false` makes an outage answer at once
   * instead of after `commandTimeoutMs`.
   * @default 'redis://127.0.0.1:6379'
   */
  readonly redis?: Redis | Cluster | RedisOptions | string;
  /**
   * Prefix of every key (see the key layout in redis-scripts.ts). Stores with different prefixes share nothing.
   * @default 'mr:'
   */
  readonly keyPrefix?: string;
  /**
   * The time source. Leave it unset in production: each script then reads Redis's own clock (`TIME`), the
   * one clock every instance of a fleet shares, so sub-second windows do not depend on host clock skew.
   * Tests pass a FakeClock; every instance sharing a prefix must then use the same clock.
   * @default Redis server time
   */
  readonly clock?: Clock;
  /**
   * When Redis cannot be reached: `fail-closed` rejects with {@link StoreUnavailableError} (the router then
   * waits within its bound or throws); `fail-open` answers from a local memory store (each process then
   * meters alone, so a fleet can exceed the workspace's limits) and returns to Redis when it answers.
   * @default 'fail-closed'
   */
  readonly onStoreError?: StoreErrorPolicy;
  /** Called with every {@link RedisStoreEvent} (also available through `store.on(type, listener)`). */
  readonly onEvent?: (event: RedisStoreEvent) => void;
  /**
   * Longest a call waits for Redis (connecting included) before it counts as unavailable. No call stays
   * pending longer than this.
   * @default 1000
   */
  readonly commandTimeoutMs?: number;
  /**
   * How long a reservation stays pending before the store forgets it (its holder crashed, or never
   * settled it): it then counts as settled at its estimate. Longer than your longest call, stream included.
   * @default 600000 (10 minutes)
   */
  readonly reservationTtlMs?: number;
  /**
   * The local store used under `fail-open` while Redis is unreachable.
   * @default a MemoryStore on the same clock, with the same reservationTtlMs
   */
  readonly createFallbackStore?: () => QuotaStore;
  /**
   * Grants: when this process makes decisions on one candidate at a high rate (two or more within
   * 100 ms), a decision that goes to Redis also asks for a grant, up to as many more decisions of its size
   * as the process made in the last 100 ms (at most 256). Redis charges the grant in the same atomic
   * script, only where every window keeps room (a grant takes at most a quarter of what a window has
   * left), and the process then takes those decisions locally, without a round trip, until the end of the
   * bucket the grant charged (at most 50 ms for a requests-per-second window, never more than 250 ms).
   * Every decision taken from a grant lands in the buckets it would have charged itself, so no window ever
   * admits more than its limit, across the fleet; what a grant did not use goes back to Redis when it ends
   * (the capacity it held meanwhile is the price: other processes may see a refusal a grant's unused part
   * caused, for at most its lifetime). Settles of decisions taken from a grant are local until it ends,
   * then ordinary pending reservations. `snapshot()` and `pendingReservations()` end this process's grants
   * first, so they report exact figures. At low rates (or small limits: the free tier's 1 request per
   * second never gives a grant) nothing changes: every decision is one script. `false`: never ask.
   * @default true
   */
  readonly localGrants?: boolean;
}

/**
 * A candidate resolved once per candidate object (plans are cached above the store): its keys and the
 * script arguments that never change, so a decision only concatenates prebuilt pieces.
 */
interface ResolvedCandidate {
  readonly keys: WorkspaceKeys;
  /** The window keys, in the candidate's order. */
  readonly windowKeys: readonly string[];
  /** One layout code per window (period letter + unit letter). */
  readonly codes: readonly string[];
  /** ` :w:K :m:M:K...`: the window keys without the tag, ending a pending member. */
  readonly suffix: string;
  /** The configured limit of each window as RESERVE_SCRIPT takes it ('' = unknown). */
  readonly limits: readonly string[];
}

/** One decision of a RESERVE_SCRIPT reply: ok, candidate (1-based, 0 = none), then its refusals. */
type DecisionReply = Array<number | Array<number | number[]>>;

/** A decision waiting for its batch. */
interface QueuedDecision {
  readonly id: string;
  readonly tokens: number;
  readonly requests: number;
  /** The grant asked for (see RESERVE_SCRIPT): 0 = none. */
  readonly want: number;
  readonly candidates: readonly ResolvedCandidate[];
  resolve(reply: [number, DecisionReply, number]): void;
  reject(error: unknown): void;
}

/**
 * A grant (see RESERVE_SCRIPT and the `localGrants` option): decisions on one candidate, charged in Redis
 * as one pending member, that this process takes locally until `deadline`.
 */
interface Grant {
  /** The id of the decision that asked for it, plus `+`; a decision taken from it is `id/n`. */
  readonly id: string;
  readonly candidate: ResolvedCandidate;
  /** The demand whose grant it is (while open). */
  readonly demand: Demand;
  /** The slot group of its workspace ('' on a standalone Redis). */
  readonly group: string;
  /** Store time it was charged at (the buckets every decision taken from it lands in). */
  readonly at: number;
  /** Tokens and requests its member holds in Redis. */
  readonly tokens: number;
  readonly requests: number;
  /** What is left to take. */
  tokensLeft: number;
  requestsLeft: number;
  /** Local time (see #localNow) from which it is no longer used. */
  readonly deadline: number;
  next: number;
  /** Decisions taken from it and not settled yet: id -> [tokens, requests]. */
  readonly open: Map<string, [number, number]>;
  /** Ids of the decisions settled or released here (another instance may have settled one too). */
  readonly settled: string[];
  /** What the settled ones used. */
  usedTokens: number;
  usedRequests: number;
  /**
   * `open`: decisions may be taken; `closed`: ended, its split not sent yet or to be sent again (after an
   * outage); `splitting`: the split is on its way; `done`: split, or given up on.
   */
  phase: 'open' | 'closed' | 'splitting' | 'done';
  /** Its split was sent once (it may have run even if no answer came): settles go to Redis from then on. */
  sent: boolean;
  splitting: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** How this process used one candidate lately, and the grant it holds on it. */
interface Demand {
  since: number;
  count: number;
  previous: number;
  asking: boolean;
  grant: Grant | undefined;
}

/** A settle, release or observe waiting for its batch: its KEYS and its part of ARGV (see AFTER_SCRIPT). */
interface QueuedPiece {
  readonly kind: 'settle' | 'observe';
  readonly keys: readonly string[];
  readonly args: ReadonlyArray<string | number>;
  resolve(applied: unknown): void;
  reject(error: unknown): void;
}

type InspectReply = [number, number, Array<[string, string, number, string, string, string, number]>];

type ScriptRunner = (...args: Array<string | number>) => Promise<unknown>;
type ScriptName = 'reserve' | 'after' | 'inspect' | 'cancel';

const SCRIPTS: Record<ScriptName, string> = {
  reserve: RESERVE_SCRIPT,
  after: AFTER_SCRIPT,
  inspect: INSPECT_SCRIPT,
  cancel: CANCEL_SCRIPT,
};

/** Replies that mean "Redis cannot serve now", as opposed to a bug in a script or a bad argument. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|OOM|NOREPLICAS|MOVED|ASK)\b/;

/** Most decisions one reserve script takes (a tick with more sends several scripts). */
const MAX_BATCH = 64;
/** Decisions that leave at once when no reserve script of their group is in flight (see #decide). */
const EARLY_BATCH = 8;

/** The period over which demand for a candidate is counted (local ms), and the most decisions one grant holds. */
const DEMAND_PERIOD_MS = 100;
const MAX_GRANT = 256;

/** Settles and releases kept while Redis is unreachable; beyond this the reservation TTL is the backstop. */
const MAX_DEFERRED = 10_000;

const DEFAULT_URL = 'redis://127.0.0.1:6379';

/**
 * A {@link QuotaStore} in Redis, shared by every process that uses the same Redis and key prefix.
 *
 * Each decision is one Lua script (EVALSHA, reloaded on NOSCRIPT), and the decisions of one tick share it
 * (see RESERVE_SCRIPT: decided in call order, each atomic), as do the settles and releases of one tick
 * and its observations (AFTER_SCRIPT, sent before the decisions of the same tick, so capacity given back
 * is seen by the calls that start beside it): reserve over a candidate list, settle, release and
 * observe are atomic per workspace. Candidates of several workspaces: on a standalone Redis the
 * whole list is still one script; on a Cluster the list is cut into runs of consecutive candidates of one
 * workspace, tried in order, one script each, so the first candidate with room still wins and each run is
 * atomic within its workspace (Mistral's metering unit; two workspaces never share a window).
 */
export class RedisStore implements QuotaStore {
  readonly #redis: Redis | Cluster;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #clock: Clock | undefined;
  readonly #policy: StoreErrorPolicy;
  readonly #timeoutMs: number;
  /** Bounds every command by commandTimeoutMs with one timer (a timer per command cost 20-35 µs each). */
  readonly #deadlines: Deadlines;
  readonly #reservationTtlMs: number;
  readonly #createFallback: () => QuotaStore;
  readonly #runners: Record<ScriptName, ScriptRunner>;
  readonly #resolved = new WeakMap<QuotaCandidate, ResolvedCandidate>();
  /** The candidate each reservation of this store charged, so settle rebuilds nothing. */
  readonly #charged = new WeakMap<Reservation, ResolvedCandidate>();
  /** Workspaces this process added to the registry, with when (wall ms): refreshed daily, since it expires. */
  readonly #registered = new Map<string, number>();
  readonly #listeners = new Map<RedisStoreEventType, Set<(event: never) => void>>();
  readonly #idPrefix = randomBytes(6).toString('base64url');
  #nextId = 0;
  /** Decisions waiting for the end of the tick, by slot group ('' on a standalone Redis). */
  readonly #batches = new Map<string, QueuedDecision[]>();
  /** Reserve scripts sent and not answered yet, by slot group. */
  readonly #inFlight = new Map<string, number>();
  /** Settles, releases and observations waiting for the end of the tick, by slot group. */
  readonly #pieces = new Map<string, QueuedPiece[]>();
  #fallback: QuotaStore | undefined;
  /**
   * Ids of reservations the fallback store issued, with when (wall ms): they are settled there, never in
   * Redis. One nobody settles is forgotten after reservationTtlMs, as the stores forget it.
   */
  readonly #fallbackIds = new Map<string, number>();
  /** Settles/releases that could not reach Redis, by reservation id, replayed when it answers. */
  readonly #deferred = new Map<string, () => Promise<unknown>>();
  /** When Redis became unreachable (store time), undefined while it answers. */
  #downSince: number | undefined;
  #closed = false;
  /** close() began: no grant is used or opened any more (its splits are still sent). */
  #closing: Promise<void> | undefined;
  readonly #detach: () => void;
  readonly #grantsOn: boolean;
  readonly #demand = new WeakMap<ResolvedCandidate, Demand>();
  /** Grants not split yet, by id: settles of the decisions taken from them are local. */
  readonly #grants = new Map<string, Grant>();
  /** Decisions that asked for a grant and whose grant is not open yet (close() waits for them). */
  readonly #asking = new Set<Promise<void>>();
  /** 429s observed so far, by workspace tag: a grant asked for before one and given after it ends at once. */
  readonly #blocks = new Map<string, number>();

  constructor(options: RedisStoreOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('RedisStore: options must be an object');
    const {
      redis = DEFAULT_URL,
      keyPrefix = 'mr:',
      clock,
      onStoreError = 'fail-closed',
      onEvent,
      commandTimeoutMs = 1_000,
      reservationTtlMs = 600_000,
      createFallbackStore,
      localGrants = true,
    } = options;
    if (typeof localGrants !== 'boolean') throw new TypeError(`RedisStore: localGrants must be a boolean, received ${String(localGrants)}`);
    this.#grantsOn = localGrants;
    if (typeof keyPrefix !== 'string' || /[{}\s]/.test(keyPrefix)) {
      throw new TypeError(`RedisStore: keyPrefix must be a string without braces or whitespace, received ${JSON.stringify(keyPrefix)}`);
    }
    if (onStoreError !== 'fail-closed' && onStoreError !== 'fail-open') {
      throw new TypeError(`RedisStore: onStoreError must be 'fail-closed' or 'fail-open', received ${JSON.stringify(onStoreError)}`);
    }
    if (!(typeof commandTimeoutMs === 'number' && commandTimeoutMs > 0 && commandTimeoutMs <= 2_147_483_647)) {
      throw new TypeError(`RedisStore: commandTimeoutMs must be a positive number of ms up to 2147483647 (a timer's limit), received ${String(commandTimeoutMs)}`);
    }
    if (clock !== undefined && (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function')) {
      throw new TypeError('RedisStore: clock must be a Clock with a now() method');
    }
    if (createFallbackStore !== undefined && typeof createFallbackStore !== 'function') {
      throw new TypeError(`RedisStore: createFallbackStore must be a function returning a QuotaStore, received ${typeof createFallbackStore}`);
    }
    if (!(Number.isSafeInteger(reservationTtlMs) && reservationTtlMs > 0)) {
      throw new TypeError(`RedisStore: reservationTtlMs must be a positive integer of ms, received ${String(reservationTtlMs)}`);
    }
    if (onEvent !== undefined && typeof onEvent !== 'function') {
      throw new TypeError(`RedisStore: onEvent must be a function, received ${typeof onEvent}`);
    }
    this.#prefix = keyPrefix;
    this.#clock = clock;
    this.#policy = onStoreError;
    this.#timeoutMs = commandTimeoutMs;
    this.#deadlines = new Deadlines(commandTimeoutMs, () => new StoreUnavailableError(`RedisStore: Redis did not answer within ${commandTimeoutMs} ms.`));
    this.#reservationTtlMs = reservationTtlMs;
    this.#createFallback = createFallbackStore ?? (() => new MemoryStore(clock === undefined ? { reservationTtlMs } : { clock, reservationTtlMs }));
    if (onEvent !== undefined) for (const type of ['storeError', 'fallback', 'recovered'] as const) this.on(type, onEvent);

    if (redis instanceof Redis || redis instanceof Cluster) {
      this.#redis = redis;
      this.#ownsClient = false;
    } else {
      // Fail fast instead of queueing: a decision that waits for a reconnect is worse than a typed error the
      // router can wait on within its own bound. Never resend a command after a reconnect: a reserve may
      // already have run, and running it twice would hold the cost twice.
      const defaults: RedisOptions = {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        connectTimeout: commandTimeoutMs,
        retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1_000),
      };
      this.#redis = typeof redis === 'string' ? new Redis(redis, defaults) : new Redis({ ...defaults, ...redis });
      this.#ownsClient = true;
    }
    this.#runners = defineScripts(this.#redis);
    const onReady = () => void this.#recover();
    // Without an 'error' listener ioredis logs every failed reconnect attempt; failures reach callers
    // through the operations instead.
    const onError = () => {};
    this.#redis.on('ready', onReady);
    this.#redis.on('error', onError);
    this.#detach = () => {
      this.#redis.off('ready', onReady);
      // A client the store owns keeps the listener: closing it mid-connect still reports an error.
      if (!this.#ownsClient) this.#redis.off('error', onError);
    };
  }

  /** Listen to one kind of {@link RedisStoreEvent}. */
  on<T extends RedisStoreEventType>(type: T, listener: (event: Extract<RedisStoreEvent, { type: T }>) => void): this {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (event: never) => void);
    return this;
  }

  /** Stop listening. */
  off<T extends RedisStoreEventType>(type: T, listener: (event: Extract<RedisStoreEvent, { type: T }>) => void): this {
    this.#listeners.get(type)?.delete(listener as (event: never) => void);
    return this;
  }

  /** Whether calls are currently answered by the local fallback store (fail-open, Redis unreachable). */
  get usingFallback(): boolean {
    return this.#policy === 'fail-open' && this.#downSince !== undefined;
  }

  /** Settles and releases waiting for Redis to answer again. */
  get deferredOperations(): number {
    return this.#deferred.size;
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const requests = validateReserveRequest(request);
    const resolved = request.candidates.map((candidate, i) => this.#resolve(candidate, i));
    // From the moment close() begins (its grants are being split): no new quota.
    if (this.#closing !== undefined) throw new StoreUnavailableError('RedisStore: the store is closed.');
    if (this.usingFallback && !this.#isReady()) return this.#fallbackReserve(request);
    let demand: Demand | undefined;
    if (this.#grantsOn) {
      const now = this.#localNow();
      demand = this.#demandOf(resolved[0] as ResolvedCandidate, now);
      const local = this.#fromGrant(demand, request, requests, now);
      if (local !== undefined) return local;
    }
    try {
      return await this.#reserveInRedis(request, resolved, requests, demand);
    } catch (error) {
      await this.#failed('reserve', error);
      return this.#fallbackReserve(request);
    }
  }

  async settle(reservation: Reservation, actualTokens: number): Promise<void> {
    checkReservation(reservation);
    validateActualTokens(actualTokens);
    await this.#giveBack('settle', reservation, actualTokens - reservation.tokens, 0);
  }

  async release(reservation: Reservation): Promise<void> {
    checkReservation(reservation);
    await this.#giveBack('release', reservation, -reservation.tokens, -reservation.requests);
  }

  async observe(observation: UpstreamObservation): Promise<void> {
    validateObservation(observation);
    // A 429 means the upstream sees less room than the windows did: grants of the workspace end now.
    if (observation.rateLimited !== undefined) {
      const { tag } = workspaceKeys(this.#prefix, observation.workspace);
      this.#blocks.set(tag, (this.#blocks.get(tag) ?? 0) + 1);
      if (this.#grants.size > 0) void this.#endGrants(observation.workspace);
    }
    if (this.usingFallback && !this.#isReady()) return this.#fallbackStore().observe(observation);
    try {
      await this.#observeInRedis(observation);
    } catch (error) {
      await this.#failed('observe', error);
      await this.#fallbackStore().observe(observation);
    }
  }

  async snapshot(workspace?: string): Promise<WindowSnapshot[]> {
    if (this.usingFallback && !this.#isReady()) return this.#fallbackStore().snapshot(workspace);
    // What this process's grants hold and did not use goes back first, so the figures are exact.
    if (this.#grants.size > 0) await this.#endGrants(workspace);
    try {
      const inspected = await this.#inspect(workspace);
      return inspected.flatMap(({ workspace: name, reply }) => {
        const { tag } = workspaceKeys(this.#prefix, name);
        return reply[2].flatMap((row) => toSnapshot(name, tag, row) ?? []);
      });
    } catch (error) {
      await this.#failed('snapshot', error);
      return this.#fallbackStore().snapshot(workspace);
    }
  }

  /**
   * Reservations pending in Redis under this prefix (the whole fleet's: the store cannot tell its own from
   * another instance's once they are in Redis; expired ones excluded), plus the fallback store's.
   */
  async pendingReservations(): Promise<number> {
    const local = this.#fallback === undefined ? 0 : await this.#fallback.pendingReservations();
    if (this.usingFallback && !this.#isReady()) return local;
    // A grant is one member however many decisions it admitted: split, each open decision is one.
    if (this.#grants.size > 0) await this.#endGrants();
    try {
      const inspected = await this.#inspect(undefined);
      return local + inspected.reduce((sum, { reply }) => sum + Number(reply[1]), 0);
    } catch (error) {
      await this.#failed('pendingReservations', error);
      return local;
    }
  }

  /**
   * Stop: close the Redis client if the store created it, and the fallback store. Settles and releases
   * still deferred are dropped (their reservations expire after `reservationTtlMs`).
   */
  async close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Grants first: what they hold and did not use goes back, their open decisions become pending members.
    // A grant still on its way opens (and ends at once) before they are ended, when the store owns the
    // client (QUIT lets answers in flight arrive; each is bounded by commandTimeoutMs). On a client the
    // caller owns, a command in flight fails at close instead, and its cancel takes the grant with it.
    if (this.#ownsClient) while (this.#asking.size > 0) await Promise.all(this.#asking);
    await this.#endGrants();
    this.#closed = true;
    this.#detach();
    if (this.#ownsClient) {
      // QUIT lets answers in flight arrive; a client that is not connected has nothing to wait for.
      if (this.#isReady()) await withTimeout(this.#redis.quit(), this.#timeoutMs).catch(() => this.#redis.disconnect());
      else this.#redis.disconnect();
    }
    // Nothing stays pending past close: a command still unanswered (a client the caller owns) fails now.
    this.#deadlines.clear(() => new StoreUnavailableError('RedisStore: the store was closed before Redis answered.'));
    await this.#fallback?.close();
  }

  // ---- Redis operations -------------------------------------------------------------------------

  async #reserveInRedis(request: ReserveRequest, resolved: readonly ResolvedCandidate[], requests: number, demand: Demand | undefined): Promise<ReserveResult> {
    const candidates = request.candidates;
    const cluster = this.#redis instanceof Cluster;
    let refusals: CandidateRefusal[] | undefined;
    // One decision on a standalone Redis; runs of one workspace on a Cluster (a script stays within one slot).
    for (let start = 0; start < candidates.length; ) {
      let end = candidates.length;
      if (cluster) {
        const workspace = (candidates[start] as QuotaCandidate).workspace;
        end = start + 1;
        while (end < candidates.length && (candidates[end] as QuotaCandidate).workspace === workspace) end++;
      }
      const id = `${this.#idPrefix}.${(this.#nextId++).toString(36)}`;
      const run = start === 0 && end === candidates.length ? resolved : resolved.slice(start, end);
      const group = cluster ? (run[0] as ResolvedCandidate).keys.tag : '';
      // A grant is asked for on the request's first candidate only, by one decision at a time.
      const want = start === 0 && demand !== undefined && !demand.asking ? wanted(demand) : 0;
      // Until the grant it may bring is open (or known not to come), close() waits for this decision, and a
      // 429 observed meanwhile makes the grant end as soon as it opens.
      let answered: (() => void) | undefined;
      const tag = (resolved[0] as ResolvedCandidate).keys.tag;
      const blocks = this.#blocks.get(tag);
      if (want > 0) {
        (demand as Demand).asking = true;
        const asking = new Promise<void>((resolve) => (answered = resolve));
        this.#asking.add(asking);
        void asking.then(() => this.#asking.delete(asking));
      }
      let now: number;
      let decision: DecisionReply;
      let sentAt: number;
      try {
        [now, decision, sentAt] = await this.#decide(group, id, request.tokens, requests, want, run);
        if (decision[0] === 2) {
          // Admitted by the first candidate, with a grant of n more decisions like it until `until`.
          const [, n, until] = decision as [number, number, number];
          this.#openGrant(
            demand as Demand,
            {
              id: `${id}+`,
              candidate: resolved[0] as ResolvedCandidate,
              group,
              at: now,
              tokens: n * request.tokens,
              requests: n * requests,
              // `until` is the end of the bucket it charged, at most MAX_GRANT_MS and a tenth of the reservation
              // TTL away (its member, and those of its open decisions, expire reservationTtlMs after `at`).
              // Less 1 ms: Redis's TIME is read to the ms, rounded down.
              deadline: sentAt + (until - now) - 1,
            },
            this.#blocks.get(tag) !== blocks,
          );
        }
      } finally {
        if (want > 0) {
          (demand as Demand).asking = false;
          answered?.();
        }
      }
      // The script created the windows it checked, refused or not: list their workspaces for snapshot().
      for (let c = start; c < end; c++) this.#register((candidates[c] as QuotaCandidate).workspace);
      if (decision[0] !== 2 && decision.length > 2) {
        refusals ??= [];
        for (let i = 2; i < decision.length; i++) refusals.push(toCandidateRefusal(decision[i] as Array<number | number[]>, start, candidates));
      }
      if (decision[0] === 1 || decision[0] === 2) {
        const index = decision[0] === 2 ? start : start + (decision[1] as number) - 1;
        const candidate = candidates[index] as QuotaCandidate;
        const reservation: Reservation = {
          id,
          workspace: candidate.workspace,
          model: candidate.model,
          candidateIndex: index,
          tokens: request.tokens,
          requests,
          at: now,
          windows: candidate.windows,
        };
        this.#charged.set(reservation, resolved[index] as ResolvedCandidate);
        return { ok: true, reservation, refusals: refusals ?? [] };
      }
      start = end;
    }
    const all = refusals ?? [];
    return { ok: false, retryAfterMs: all.reduce((min, r) => Math.min(min, r.retryAfterMs), Number.POSITIVE_INFINITY), refusals: all };
  }

  /**
   * Queues one decision for the batch of this tick (`group` = the slot group: '' on a standalone Redis,
   * the workspace's tag on a Cluster). Every decision queued before the tick ends travels in one script,
   * with one exception: when no script of the group is in flight, the first EARLY_BATCH decisions leave at
   * once, so that Redis works on them while this process is still making the rest (otherwise a process
   * whose calls all finish together would leave Redis idle while it queues, then itself idle while Redis
   * runs). When Redis is the bottleneck, scripts are in flight and decisions gather into large batches.
   */
  #decide(group: string, id: string, tokens: number, requests: number, want: number, candidates: readonly ResolvedCandidate[]): Promise<[number, DecisionReply, number]> {
    return new Promise((resolve, reject) => {
      let queue = this.#batches.get(group);
      if (queue === undefined) {
        this.#batches.set(group, (queue = []));
        process.nextTick(() => this.#flush(group));
      }
      queue.push({ id, tokens, requests, want, candidates, resolve, reject });
      if (queue.length >= EARLY_BATCH && (this.#inFlight.get(group) ?? 0) === 0) this.#flush(group);
    });
  }

  /** Sends the decisions queued for `group`, at most MAX_BATCH per script. */
  #flush(group: string): void {
    const queue = this.#batches.get(group);
    if (queue === undefined) return;
    this.#batches.delete(group);
    try {
      this.#send(group, queue);
    } catch (error) {
      // Runs from process.nextTick: a throw here would be an uncaught exception. The batch fails instead.
      for (const decision of queue) decision.reject(error);
    }
  }

  #send(group: string, queue: QueuedDecision[]): void {
    // Settles, releases and observations queued before these decisions go first (one connection: Redis
    // runs scripts in the order sent), so capacity given back earlier in the tick is seen, as in the
    // memory store; a settle always refers to a reservation of an earlier script.
    this.#flushPieces(group);
    // Read before anything is sent: what can throw here must throw before a first chunk reaches Redis.
    const now = this.#now();
    // Local time before the scripts leave: a grant's deadline counts from here, so it ends no later than
    // its bucket in Redis's time (Redis read its clock after this).
    const sentAt = this.#localNow();
    for (let from = 0; from < queue.length; from += MAX_BATCH) {
      const batch = from === 0 && queue.length <= MAX_BATCH ? queue : queue.slice(from, from + MAX_BATCH);
      const { keys, args } = reserveCommand(batch, now, this.#reservationTtlMs);
      this.#inFlight.set(group, (this.#inFlight.get(group) ?? 0) + 1);
      const landed = () => {
        const left = (this.#inFlight.get(group) as number) - 1;
        if (left === 0) this.#inFlight.delete(group);
        else this.#inFlight.set(group, left);
      };
      this.#run('reserve', keys, args).then(
        (reply) => {
          landed();
          const [now] = reply as [number];
          // A decision admitted by the first candidate it tried comes back as that candidate's number alone.
          batch.forEach((decision, i) => {
            const answer = (reply as Array<DecisionReply | number>)[i + 1] as DecisionReply | number;
            decision.resolve([now, typeof answer === 'number' ? [1, answer] : answer, sentAt]);
          });
        },
        (error: unknown) => {
          landed();
          for (const decision of batch) {
            this.#cancel(decision.id, decision.tokens, decision.requests, decision.want, decision.candidates);
            decision.reject(error);
          }
        },
      );
    }
  }

  async #giveBack(operation: 'settle' | 'release', reservation: Reservation, tokenDelta: number, requestDelta: number): Promise<void> {
    if (this.#fallbackIds.delete(reservation.id)) {
      const fallback = this.#fallbackStore();
      await (operation === 'settle' ? fallback.settle(reservation, reservation.tokens + tokenDelta) : fallback.release(reservation));
      return;
    }
    if (this.#grants.size > 0) {
      // A decision taken from a grant is settled locally until its grant's split is first sent. From then on
      // it goes to Redis like any settle: pending there once the split ran, applied early (see AFTER_SCRIPT)
      // if the grant is still pending, kept for the replay like any settle if Redis cannot be reached. (A
      // split that timed out may have run: settling locally after it would be lost.)
      const grant = this.#grants.get(reservation.id.slice(0, reservation.id.lastIndexOf('/')));
      if (grant !== undefined && !grant.sent) {
        settleInGrant(grant, operation, reservation.id, tokenDelta);
        return;
      }
    }
    const candidate = this.#charged.get(reservation) ?? this.#resolve(reservation, 0);
    const group = this.#redis instanceof Cluster ? candidate.keys.tag : '';
    const keys = [candidate.keys.pending, ...candidate.windowKeys];
    const args: Array<string | number> = [candidate.codes.length, pendingMember(reservation.id, reservation.tokens, reservation.requests, candidate), reservation.at, tokenDelta, requestDelta, 0, 0, ...candidate.codes];
    const send = () => this.#queuePiece('settle', group, keys, args);
    try {
      await send();
    } catch (error) {
      // Kept and replayed when Redis answers (idempotent: the script applies a reservation once); if the
      // process stops first, the reservation expires in Redis after reservationTtlMs.
      // Only an outage is worth a replay: a refused command would be refused again.
      if (isUnavailable(error) && !this.#deferred.has(reservation.id) && this.#deferred.size < MAX_DEFERRED) this.#deferred.set(reservation.id, send);
      await this.#failed(operation, error);
    }
  }

  // ---- grants -----------------------------------------------------------------------------------

  /** Counts one decision on `candidate` (the first of its request) toward the demand that sizes a grant. */
  #demandOf(candidate: ResolvedCandidate, now: number): Demand {
    let demand = this.#demand.get(candidate);
    if (demand === undefined) {
      demand = { since: now, count: 0, previous: 0, asking: false, grant: undefined };
      this.#demand.set(candidate, demand);
    } else if (now - demand.since >= DEMAND_PERIOD_MS) {
      // The last period's count still speaks for the next one only if it just ended.
      demand.previous = now - demand.since < 2 * DEMAND_PERIOD_MS ? demand.count : 0;
      demand.count = 0;
      demand.since = now;
    }
    demand.count++;
    return demand;
  }

  /** A decision taken from the grant on the request's first candidate, when it is valid and has room. */
  #fromGrant(demand: Demand, request: ReserveRequest, requests: number, now: number): ReserveResult | undefined {
    const grant = demand.grant;
    if (grant === undefined) return undefined;
    if (now >= grant.deadline) {
      this.#closeGrant(grant);
      return undefined;
    }
    if (grant.tokensLeft < request.tokens || grant.requestsLeft < requests) {
      // Too small for this one: ended first, so that what it holds is back before this decision is made
      // (its split leaves ahead of the decision's script), and the decision is not refused because of it.
      this.#closeGrant(grant);
      return undefined;
    }
    grant.tokensLeft -= request.tokens;
    grant.requestsLeft -= requests;
    const id = `${grant.id}/${(grant.next++).toString(36)}`;
    grant.open.set(id, [request.tokens, requests]);
    const candidate = request.candidates[0] as QuotaCandidate;
    const reservation: Reservation = {
      id,
      workspace: candidate.workspace,
      model: candidate.model,
      candidateIndex: 0,
      tokens: request.tokens,
      requests,
      at: grant.at,
      windows: candidate.windows,
    };
    this.#charged.set(reservation, grant.candidate);
    return { ok: true, reservation, refusals: [] };
  }

  /** Opens a grant Redis gave; `stale` (a 429 was observed while it was on its way) ends it at once. */
  #openGrant(demand: Demand, from: Pick<Grant, 'id' | 'candidate' | 'group' | 'at' | 'tokens' | 'requests' | 'deadline'>, stale: boolean): void {
    if (demand.grant !== undefined) this.#closeGrant(demand.grant);
    const grant: Grant = {
      ...from,
      demand,
      tokensLeft: from.tokens,
      requestsLeft: from.requests,
      next: 0,
      open: new Map(),
      settled: [],
      usedTokens: 0,
      usedRequests: 0,
      phase: 'open',
      sent: false,
      splitting: undefined,
      timer: undefined,
    };
    this.#grants.set(grant.id, grant);
    const left = grant.deadline - this.#localNow();
    if (left <= 0 || stale || this.#closing !== undefined) {
      this.#closeGrant(grant);
      return;
    }
    demand.grant = grant;
    // Ends it on time when no decision comes to notice (with an injected clock: on this process's time).
    grant.timer = setTimeout(() => this.#closeGrant(grant), Math.ceil(left));
    grant.timer.unref?.();
  }

  /** Ends a grant: no decision is taken from it any more; its split leaves with the next script. */
  #closeGrant(grant: Grant): void {
    if (grant.phase !== 'open') return;
    grant.phase = 'closed';
    clearTimeout(grant.timer);
    if (grant.demand.grant === grant) grant.demand.grant = undefined;
    void this.#split(grant);
  }

  /** Splits a closed grant; an outage keeps it for the replay on recovery. Never rejects. */
  async #split(grant: Grant): Promise<void> {
    try {
      await this.#sendSplit(grant);
    } catch (error) {
      if (grant.phase === 'closed') {
        if (!this.#deferred.has(grant.id) && this.#deferred.size < MAX_DEFERRED) this.#deferred.set(grant.id, () => this.#sendSplit(grant));
        else if (!this.#deferred.has(grant.id)) {
          // Too much kept already: as for a settle, the reservation TTL is the backstop (its member expires).
          grant.phase = 'done';
          this.#grants.delete(grant.id);
        }
      }
      await this.#failed('settle', error).catch(() => {});
    }
  }

  /**
   * One AFTER_SCRIPT settle piece: the grant's member goes; what it charged and its decisions did not use
   * goes back; its decisions still open become pending members of their own (settled like any other).
   */
  #sendSplit(grant: Grant): Promise<void> {
    if (grant.phase !== 'closed') return Promise.resolve();
    const candidate = grant.candidate;
    const members: string[] = [];
    let tokens = grant.usedTokens;
    let requests = grant.usedRequests;
    for (const [id, [t, r]] of grant.open) {
      members.push(pendingMember(id, t, r, candidate));
      tokens += t;
      requests += r;
    }
    const keys = [candidate.keys.pending, ...candidate.windowKeys];
    const args: Array<string | number> = [
      candidate.codes.length,
      pendingMember(grant.id, grant.tokens, grant.requests, candidate),
      grant.at,
      tokens - grant.tokens,
      requests - grant.requests,
      members.length,
      grant.settled.length,
    ];
    if (members.length > 0) args.push(grant.at + this.#reservationTtlMs, ...members);
    args.push(...grant.settled, ...candidate.codes);
    grant.phase = 'splitting';
    grant.sent = true;
    const sending = this.#queuePiece('settle', grant.group, keys, args).then(
      () => {
        grant.phase = 'done';
        this.#grants.delete(grant.id);
      },
      (error: unknown) => {
        if (isUnavailable(error)) grant.phase = 'closed';
        else {
          // Refused (not an outage): sending it again would be refused again. The grant's member expires
          // after reservationTtlMs, counted at its full size; its decisions settle to nothing in Redis.
          grant.phase = 'done';
          this.#grants.delete(grant.id);
        }
        throw error;
      },
    );
    grant.splitting = sending.catch(() => {});
    return sending;
  }

  /** Ends every grant (of one workspace), and waits until their splits were answered. */
  async #endGrants(workspace?: string): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const grant of [...this.#grants.values()]) {
      if (workspace !== undefined && grant.candidate.keys.tag !== workspaceKeys(this.#prefix, workspace).tag) continue;
      this.#closeGrant(grant);
      if (grant.splitting !== undefined) waits.push(grant.splitting);
    }
    await Promise.all(waits);
  }

  /**
   * Queues one settle or release, or one observation, for the batch of this tick (`group` as in #decide):
   * everything queued before the tick ends travels in one AFTER_SCRIPT (at most MAX_BATCH pieces each),
   * settles first, then observations, each kind in call order. A failed script fails each of its pieces.
   */
  #queuePiece(kind: 'settle' | 'observe', group: string, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let queue = this.#pieces.get(group);
      if (queue === undefined) {
        this.#pieces.set(group, (queue = []));
        process.nextTick(() => this.#flushPieces(group));
      }
      queue.push({ kind, keys, args, resolve, reject });
    });
  }

  #flushPieces(group: string): void {
    const queue = this.#pieces.get(group);
    if (queue === undefined) return;
    this.#pieces.delete(group);
    try {
      this.#sendPieces(queue);
    } catch (error) {
      // As in #flush: never throw from process.nextTick.
      for (const piece of queue) piece.reject(error);
    }
  }

  #sendPieces(queue: QueuedPiece[]): void {
    const now = this.#now(); // as in #send: before anything is sent
    for (let from = 0; from < queue.length; from += MAX_BATCH) {
      const chunk = queue.slice(from, from + MAX_BATCH);
      const settles = chunk.filter((piece) => piece.kind === 'settle');
      const observations = chunk.filter((piece) => piece.kind === 'observe');
      const keys: string[] = [];
      const args: Array<string | number> = [now, settles.length, observations.length];
      for (const piece of [...settles, ...observations]) {
        keys.push(...piece.keys);
        args.push(...piece.args);
      }
      this.#run('after', keys, args).then(
        (reply) => {
          settles.forEach((piece, i) => piece.resolve((reply as unknown[])[i]));
          for (const piece of observations) piece.resolve(undefined);
        },
        (error: unknown) => chunk.forEach((piece) => piece.reject(error)),
      );
    }
  }

  /**
   * Undo a reserve whose answer never came (timeout, lost connection), in case Redis ran it anyway: sent
   * on the same connection, it runs after the reserve. Best effort; the reservation TTL is the backstop.
   */
  #cancel(id: string, tokens: number, requests: number, want: number, resolved: readonly ResolvedCandidate[]): void {
    const tags = new Set(resolved.map((candidate) => candidate.keys.tag));
    for (const tag of tags) {
      const ofWorkspace = resolved.filter((candidate) => candidate.keys.tag === tag);
      const keys: string[] = [(ofWorkspace[0] as ResolvedCandidate).keys.pending];
      const args: Array<string | number> = [this.#now(), this.#reservationTtlMs, tokens, requests, want, ofWorkspace.length];
      for (const r of ofWorkspace) {
        keys.push(...r.windowKeys);
        args.push(pendingMember(id, tokens, requests, r), r.codes.length, ...r.codes);
      }
      const runner = this.#runners.cancel;
      // Straight to the client: #command would refuse while the client is not ready, yet a request already
      // written to the socket may still run.
      withTimeout(runner(keys.length, ...keys, ...args), this.#timeoutMs * 10).catch(() => {});
    }
  }

  async #observeInRedis(observation: UpstreamObservation): Promise<void> {
    const ws = workspaceKeys(this.#prefix, observation.workspace);
    const keys = [ws.windows];
    // The first argument, the number of KEYS this observation uses, is filled in below.
    const args: Array<string | number> = [0, observation.windows.length];
    for (const window of observation.windows) {
      const model = window.scope === 'model' ? observation.model : undefined;
      keys.push(windowKey(ws.tag, window.kind, model));
      args.push(layoutCode(window.period, window.unit), countOrEmpty(window.limit), countOrEmpty(window.remaining));
    }
    const limited = observation.rateLimited;
    if (limited !== undefined) {
      // Which windows a 429 blocks, as the memory store decides: the named kind at whichever scope exists;
      // else a standard kind's own window; else every window of the model; else its tokens-per-minute.
      const standard = Object.values(WINDOW_KINDS).find((spec) => spec.kind === limited.kind);
      if (limited.kind !== undefined) keys.push(windowKey(ws.tag, limited.kind, undefined), windowKey(ws.tag, limited.kind, observation.model));
      const create = standard ?? WINDOW_KINDS.tokensPerMinute;
      keys.push(windowKey(ws.tag, create.kind, create.scope === 'model' ? observation.model : undefined));
      args.push(limited.blockedForMs, standard === undefined ? windowKey(ws.tag, '', observation.model) : '');
      args.push(layoutCode(create.period, create.unit));
    } else {
      args.push('', '', '');
    }
    args[0] = keys.length;
    await this.#queuePiece('observe', this.#redis instanceof Cluster ? ws.tag : '', keys, args);
    this.#register(observation.workspace);
  }

  /** Runs the inspect script over one workspace or every registered one. */
  async #inspect(workspace: string | undefined): Promise<Array<{ workspace: string; reply: InspectReply }>> {
    let names: string[];
    if (workspace !== undefined) names = [workspace];
    else {
      const registry = (await this.#command(() => this.#redis.smembers(workspaceRegistryKey(this.#prefix)))) as string[];
      names = registry.map((name) => decodeURIComponent(name));
    }
    return Promise.all(
      names.map(async (name) => {
        const ws = workspaceKeys(this.#prefix, name);
        const reply = (await this.#run('inspect', [ws.windows, ws.pending], [this.#now()])) as InspectReply;
        return { workspace: name, reply };
      }),
    );
  }

  /** Adds a workspace to the registry once per process (outside the scripts: it lives in another slot). */
  #register(workspace: string): void {
    let now: number;
    try {
      now = this.#wallNow();
    } catch {
      return; // best effort, and called after a reservation was made: it must not fail the reserve
    }
    if ((this.#registered.get(workspace) ?? Number.NEGATIVE_INFINITY) > now - 86_400_000) return;
    this.#registered.set(workspace, now);
    const key = workspaceRegistryKey(this.#prefix);
    this.#command(() => this.#redis.multi().sadd(key, encodeURIComponent(workspace)).pexpire(key, EXPIRY_MARGIN.registry).exec()).catch(() => {
      this.#registered.delete(workspace);
    });
  }

  #run(name: ScriptName, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const runner = this.#runners[name];
    return this.#command(() => runner(keys.length, ...keys, ...args));
  }

  /**
   * Sends one command when Redis is ready, or within `commandTimeoutMs` of a connection attempt in
   * progress; otherwise fails at once. Every outcome is bounded by the timeout.
   */
  async #command<T>(send: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError('RedisStore: the store is closed.');
    if (!this.#isReady()) await this.#awaitConnection();
    const result = await this.#deadlines.bound(send());
    // The first answer after a failure ends the outage (a timeout leaves the client 'ready', so no event would).
    if (this.#downSince !== undefined) void this.#recover();
    return result;
  }

  #isReady(): boolean {
    return this.#redis.status === 'ready';
  }

  async #awaitConnection(): Promise<void> {
    const status = this.#redis.status;
    if (status === 'wait') this.#redis.connect().catch(() => {});
    else if (status !== 'connecting' && status !== 'connect') {
      throw new StoreUnavailableError(`RedisStore: Redis is not connected (${status}).`);
    }
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.#redis.off('ready', onReady);
        this.#redis.off('error', onError);
        this.#redis.off('close', onClose);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onReady = () => done();
      const onError = (error: Error) => done(new StoreUnavailableError(`RedisStore: cannot connect to Redis: ${error.message}`, { cause: error }));
      const onClose = () => done(new StoreUnavailableError('RedisStore: the connection to Redis closed.'));
      const timer = setTimeout(() => onError(new Error(`no connection within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      this.#redis.on('ready', onReady);
      this.#redis.on('error', onError);
      this.#redis.on('close', onClose);
    });
  }

  // ---- failure policy ------------------------------------------------------------------------------

  /**
   * Classifies a failure: a Redis outage becomes a StoreUnavailableError (thrown under fail-closed, an
   * event under fail-open, which then lets the caller use the fallback); a bad argument (a RouterError
   * or TypeError of the validation) is rethrown as is; anything else Redis answered (`NOPERM`,
   * `WRONGTYPE`, a script error) becomes a {@link StoreError}: waiting or a local store would not cure it.
   */
  async #failed(operation: RedisStoreOperation, error: unknown): Promise<void> {
    if (!isUnavailable(error)) {
      if (RouterError.isInstance(error) || error instanceof TypeError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new StoreError(`RedisStore: Redis refused ${operation}: ${reason}`, operation, { cause: error });
    }
    const unavailable =
      error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError(`RedisStore: Redis did not answer ${operation}: ${(error as Error).message}`, { cause: error });
    const firstFailure = this.#downSince === undefined;
    if (firstFailure) this.#downSince = this.#wallNow();
    this.#emit({ type: 'storeError', operation, policy: this.#policy, error: unavailable });
    if (this.#policy === 'fail-closed') throw unavailable;
    if (firstFailure) this.#emit({ type: 'fallback', error: unavailable });
  }

  async #recover(): Promise<void> {
    if (this.#downSince === undefined || this.#closed) return;
    const since = this.#downSince;
    this.#downSince = undefined;
    const pending = [...this.#deferred];
    this.#deferred.clear();
    let replayed = 0;
    for (const [id, send] of pending) {
      try {
        await send();
        replayed++;
      } catch {
        // Still unreachable: keep it for the next recovery.
        if (this.#deferred.size < MAX_DEFERRED) this.#deferred.set(id, send);
        if (this.#downSince === undefined) this.#downSince = since;
      }
    }
    if (this.#downSince === undefined) this.#emit({ type: 'recovered', unavailableForMs: this.#wallNow() - since, replayed });
  }

  async #fallbackReserve(request: ReserveRequest): Promise<ReserveResult> {
    const result = await this.#fallbackStore().reserve(request);
    if (result.ok) {
      const now = this.#wallNow();
      // In the order they were issued: the expired ones are at the front.
      for (const [id, at] of this.#fallbackIds) {
        if (at > now - this.#reservationTtlMs) break;
        this.#fallbackIds.delete(id);
      }
      this.#fallbackIds.set(result.reservation.id, now);
    }
    return result;
  }

  #fallbackStore(): QuotaStore {
    if (this.#fallback === undefined) this.#fallback = this.#createFallback();
    return this.#fallback;
  }

  #emit(event: RedisStoreEvent): void {
    for (const listener of this.#listeners.get(event.type) ?? []) {
      try {
        (listener as (event: RedisStoreEvent) => void)(event);
      } catch {
        // A listener's bug must not turn a store answer into a failure.
      }
    }
  }

  // ---- helpers -----------------------------------------------------------------------------------

  /** Time argument of the scripts: '' lets the script read Redis TIME. */
  #now(): number | string {
    return this.#clock === undefined ? '' : this.#clock.now();
  }

  /** This process's time for grant deadlines: the injected clock, else a monotonic one. */
  #localNow(): number {
    return this.#clock === undefined ? performance.now() : this.#clock.now();
  }

  #wallNow(): number {
    return (this.#clock ?? systemClock).now();
  }

  /** Resolves (and validates) a candidate's keys once per candidate object: plans are cached above. */
  #resolve(candidate: QuotaCandidate, index: number): ResolvedCandidate {
    let resolved = this.#resolved.get(candidate);
    if (resolved === undefined) {
      validateCandidate(candidate, `candidates[${index}]`);
      const keys = workspaceKeys(this.#prefix, candidate.workspace);
      const windowKeys = candidate.windows.map((spec) => windowKey(keys.tag, spec.kind, spec.scope === 'model' ? candidate.model : undefined));
      const codes = candidate.windows.map((spec) => layoutCode(spec.period, spec.unit));
      const suffix = windowKeys.map((key) => ` ${key.slice(keys.tag.length)}`).join('');
      const limits = candidate.windows.map((spec) => (spec.limit === null ? '' : String(spec.limit)));
      resolved = { keys, windowKeys, codes, suffix, limits };
      this.#resolved.set(candidate, resolved);
    }
    return resolved;
  }
}

function defineScripts(redis: Redis | Cluster): Record<ScriptName, ScriptRunner> {
  const runners = {} as Record<ScriptName, ScriptRunner>;
  for (const [name, lua] of Object.entries(SCRIPTS) as Array<[ScriptName, string]>) {
    // Namespaced so that a client shared with other code (or another copy of this package) keeps its commands.
    const command = `mistralRouter_${name}`;
    if (typeof (redis as unknown as Record<string, unknown>)[command] !== 'function') redis.defineCommand(command, { lua });
    const method = (redis as unknown as Record<string, ScriptRunner>)[command] as ScriptRunner;
    runners[name] = (...args) => method.apply(redis, args);
  }
  return runners;
}

/** KEYS and ARGV of one RESERVE_SCRIPT run over a batch (see the script for the layout). */
function reserveCommand(batch: readonly QueuedDecision[], now: number | string, ttl: number): { keys: string[]; args: Array<string | number> } {
  const keys: string[] = [];
  const groups = new Map<string, number>();
  const windowKeys: string[] = [];
  const windows = new Map<string, number>();
  const definitions = new Map<ResolvedCandidate, number>();
  const defined: string[] = [];
  const numbers: number[][] = [];
  for (const decision of batch) {
    const listed: number[] = [];
    for (const candidate of decision.candidates) {
      let number = definitions.get(candidate);
      if (number === undefined) {
        definitions.set(candidate, (number = definitions.size + 1));
        let g = groups.get(candidate.keys.tag);
        if (g === undefined) {
          groups.set(candidate.keys.tag, (g = groups.size + 1));
          keys.push(candidate.keys.pending, candidate.keys.windows);
        }
        // One argument per candidate (see RESERVE_SCRIPT); names are URI-encoded, so '|' is a safe separator.
        let definition = `${g}|${candidate.codes.length}|${candidate.suffix}`;
        candidate.windowKeys.forEach((key, i) => {
          let w = windows.get(key);
          if (w === undefined) {
            windowKeys.push(key);
            windows.set(key, (w = windowKeys.length));
          }
          definition += `|${w}|${candidate.codes[i] as string}|${candidate.limits[i] as string}`;
        });
        defined.push(definition);
      }
      listed.push(number);
    }
    numbers.push(listed);
  }
  for (const key of windowKeys) keys.push(key);
  const args: Array<string | number> = [now, ttl, groups.size, definitions.size, batch.length];
  for (const definition of defined) args.push(definition);
  batch.forEach((decision, d) => {
    const listed = numbers[d] as number[];
    args.push(decision.id, decision.tokens, decision.requests, decision.want);
    // 0 = every definition in order (the common case: one decision, or decisions sharing one list).
    if (listed.length === defined.length && listed.every((number, i) => number === i + 1)) args.push(0);
    else args.push(listed.length, ...listed);
  });
  return { keys, args };
}

/** A reservation as reserve returned it (the memory store's check, and its error). */
function checkReservation(reservation: Reservation): void {
  if (reservation === null || typeof reservation !== 'object' || typeof reservation.id !== 'string' || !Array.isArray(reservation.windows)) {
    throw quotaInvalid('reservation', 'must be a Reservation returned by reserve');
  }
}

/** The pending member of a reservation (see the key layout in redis-scripts.ts). */
function pendingMember(id: string, tokens: number, requests: number, candidate: ResolvedCandidate): string {
  return `${id} ${tokens} ${requests}${candidate.suffix}`;
}

/** How many more decisions a grant should hold: the demand of the last 100 ms (0 = too little to ask). */
function wanted(demand: Demand): number {
  const recent = Math.max(demand.count, demand.previous);
  return recent < 2 ? 0 : Math.min(recent, MAX_GRANT);
}

/** Settles or releases one decision taken from a grant that is not split yet (a second time: nothing). */
function settleInGrant(grant: Grant, operation: 'settle' | 'release', id: string, tokenDelta: number): void {
  const taken = grant.open.get(id);
  if (taken === undefined) return;
  grant.open.delete(id);
  grant.settled.push(id);
  // Recorded only: what an estimate held beyond the actual use, or a released decision, is not taken again
  // from the grant. Another instance may have given the same back in Redis already (the split undoes that
  // there), and room given back twice, even for a moment, could admit past a limit.
  if (operation === 'settle') {
    const [tokens, requests] = taken;
    grant.usedTokens += tokens + tokenDelta;
    grant.usedRequests += requests;
  }
}

function countOrEmpty(value: number | undefined): number | string {
  return value !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : '';
}

function never(value: number): number {
  return value === -1 ? Number.POSITIVE_INFINITY : value;
}

function toCandidateRefusal(raw: Array<number | number[]>, start: number, candidates: readonly QuotaCandidate[]): CandidateRefusal {
  const index = start + (raw[0] as number) - 1;
  const candidate = candidates[index] as QuotaCandidate;
  const windows = (raw.slice(2) as number[][]).map(([position, limit, used, needed, retry, blocked]): WindowRefusal => {
    const spec = candidate.windows[(position as number) - 1] as WindowSpec;
    return {
      kind: spec.kind,
      scope: spec.scope,
      limit: never(limit as number),
      used: used as number,
      needed: needed as number,
      retryAfterMs: never(retry as number),
      blocked: blocked === 1,
    };
  });
  return { candidateIndex: index, workspace: candidate.workspace, model: candidate.model, retryAfterMs: never(raw[1] as number), windows };
}

function toSnapshot(workspace: string, tag: string, row: InspectReply[2][number]): WindowSnapshot | undefined {
  const [key, code, used, cfg, learned, blocked, held] = row;
  const name = parseWindowKey(tag, key);
  const layout = parseLayoutCode(code);
  if (name === undefined || layout === undefined) return undefined;
  const learnedLimit = learned === '' ? undefined : Number(learned);
  return {
    workspace,
    model: name.model,
    kind: name.kind,
    unit: layout.unit,
    period: layout.period,
    limit: learnedLimit ?? (cfg === '' ? null : Number(cfg)),
    used: Number(used),
    held: Number(held),
    blockedUntil: blocked === '' ? undefined : Number(blocked),
    learned: learnedLimit !== undefined,
  };
}

/** True for failures that mean "Redis cannot answer now" (connection, timeout, server busy/loading). */
function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (RouterError.isInstance(error) || error instanceof TypeError) return false;
  if (!(error instanceof Error)) return false;
  // ReplyError is what Redis answered: only a few replies mean the server cannot serve.
  if (error.name === 'ReplyError') return UNAVAILABLE_REPLY.test(error.message);
  return true;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreUnavailableError(`RedisStore: Redis did not answer within ${ms} ms.`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
