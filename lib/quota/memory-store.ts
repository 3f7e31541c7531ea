/**
 * The embedded quota store: every window of one process in memory, bounded by lru-cache.
 *
 * Bounding without forgetting: lru-cache cannot refuse an eviction, so a window it evicts while it
 * still counts something (usage in its period, a pending reservation, a 429 block, or use by the call
 * in progress) moves to a `pinned` map instead of being dropped, and is dropped from there once idle.
 * The store therefore exceeds `maxWindows` only while more windows than that are genuinely busy.
 * Learned limits outlive their windows in a second small LRU, so an idle window that is dropped and
 * recreated does not fall back to "unknown".
 */
import { LRUCache } from 'lru-cache';
import { type Clock, systemClock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type {
  CandidateRefusal,
  QuotaCandidate,
  QuotaStore,
  ReserveRequest,
  ReserveResult,
  Reservation,
  UpstreamObservation,
  WindowPeriod,
  WindowRefusal,
  WindowSnapshot,
  WindowSpec,
  WindowUnit,
} from './types.js';
import { WINDOW_KINDS } from './types.js';
import {
  WindowCounter,
  quotaInvalid,
  validateActualTokens,
  validateObservation,
  validateCandidate,
  validateReserveRequest,
  validateWindowSpec,
} from './window.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Where time comes from. Inject a `FakeClock` in tests.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * How many windows to keep before evicting the least recently used idle ones. Busy windows (holding
   * usage, a reservation or a block) are never evicted, so the store can exceed this while they are.
   * @default 100_000
   */
  readonly maxWindows?: number;
}

/** One window's state: its counter plus what the store adds on top (limits, holds, blocks). */
class WindowState {
  /** Limit learned from upstream headers; null when none was. */
  learnedLimit: number | null;
  /** The limit the last candidate that used this window configured. */
  configuredLimit: number | null;
  /** Tokens or requests held by pending reservations. */
  held = 0;
  /** Epoch ms until which a 429 seen upstream blocks the window. */
  blockedUntil = 0;
  /** Number of the store operation that last used it: never evict a window mid-operation. */
  touchedBy = 0;
  /** Set when the store let go of it (it was idle): candidates that cached it must look it up again. */
  dropped = false;
  readonly counter: WindowCounter;

  constructor(
    readonly key: string,
    readonly workspace: string,
    readonly model: string | undefined,
    readonly kind: string,
    readonly unit: WindowUnit,
    readonly period: WindowPeriod,
    configuredLimit: number | null,
    learnedLimit: number | null,
  ) {
    this.counter = new WindowCounter(period);
    this.configuredLimit = configuredLimit;
    this.learnedLimit = learnedLimit;
  }

  get limit(): number | null {
    return this.learnedLimit ?? this.configuredLimit;
  }
}

/** What settle and release need to touch exactly the buckets reserve charged. */
interface PendingReservation {
  readonly states: readonly WindowState[];
  readonly tokens: number;
  readonly requests: number;
  readonly at: number;
}

/**
 * A candidate resolved once: its window keys and states, so the hot path neither builds strings nor
 * hashes them. `states` is replaced (never mutated) when one of them was dropped, so a pending
 * reservation holding the old array still points at the states it charged.
 */
interface ResolvedCandidate {
  readonly keys: readonly string[];
  readonly specs: readonly WindowSpec[];
  readonly isTokens: readonly boolean[];
  states: readonly WindowState[];
}

const unitSize = (): number => 1;

const NO_REFUSALS: readonly CandidateRefusal[] = Object.freeze([]);

/** Key of a window. NUL cannot appear in workspace or model names, so keys never collide. */
function windowKey(workspace: string, model: string | undefined, kind: string): string {
  return model === undefined ? `${workspace}\u0000\u0000${kind}` : `${workspace}\u0000${model}\u0000${kind}`;
}

/**
 * The in-process {@link QuotaStore}: exact sliding windows (see window.ts), atomic by construction
 * (reserve runs to completion without awaiting anything), bounded by lru-cache.
 *
 * @example
 * ```ts
 * const store = new MemoryStore();
 * const result = await store.reserve({ candidates, tokens: 1200 });
 * if (result.ok) await store.settle(result.reservation, usage.totalTokens);
 * ```
 */
export class MemoryStore implements QuotaStore {
  readonly #clock: Clock;
  readonly #windows: LRUCache<string, WindowState>;
  /** Busy windows lru-cache evicted; dropped from here once idle. */
  readonly #pinned = new Map<string, WindowState>();
  readonly #learned: LRUCache<string, number>;
  readonly #pending = new Map<string, PendingReservation>();
  readonly #resolved = new WeakMap<QuotaCandidate, ResolvedCandidate>();
  #operation = 1;
  #lastNow = Number.NEGATIVE_INFINITY;
  #nextId = 0;

  constructor({ clock = systemClock, maxWindows = 100_000 }: MemoryStoreOptions = {}) {
    if (!Number.isSafeInteger(maxWindows) || maxWindows < 1) {
      throw new ConfigError('maxWindows', `must be an integer >= 1, received ${String(maxWindows)}`);
    }
    if (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function') {
      throw new ConfigError('clock', 'must be a Clock with a now() method');
    }
    this.#clock = clock;
    // maxSize with a unit size bounds the count like `max` does, but without `max`'s up-front
    // allocation of arrays for every slot (tens of ms and megabytes for an empty store).
    this.#learned = new LRUCache<string, number>({ maxSize: maxWindows, sizeCalculation: unitSize });
    this.#windows = new LRUCache<string, WindowState>({
      maxSize: maxWindows,
      sizeCalculation: unitSize,
      dispose: (state, key, reason) => {
        if (reason === 'evict' && !this.#isIdle(state, this.#lastNow)) this.#pinned.set(key, state);
        else state.dropped = true;
      },
    });
  }

  /** Store time: the clock, never going backwards (a rewinding system clock must not rewind buckets). */
  #now(): number {
    const now = this.#clock.now();
    if (now > this.#lastNow) this.#lastNow = now;
    return this.#lastNow;
  }

  #isIdle(state: WindowState, now: number): boolean {
    return state.touchedBy !== this.#operation && state.held === 0 && state.blockedUntil <= now && state.counter.isEmptyAt(now);
  }

  #resolve(candidate: QuotaCandidate, index: number): ResolvedCandidate {
    let resolved = this.#resolved.get(candidate);
    if (resolved === undefined) {
      validateCandidate(candidate, `candidates[${index}]`);
      const specs = [...candidate.windows];
      const keys = specs.map((spec) => windowKey(candidate.workspace, spec.scope === 'workspace' ? undefined : candidate.model, spec.kind));
      resolved = { specs, keys, isTokens: specs.map((spec) => spec.unit === 'tokens'), states: [] };
      this.#resolved.set(candidate, resolved);
    }
    const { states } = resolved;
    for (let w = 0; w < states.length; w++) {
      const state = states[w] as WindowState;
      if (state.dropped) break;
      state.touchedBy = this.#operation;
      if (w === states.length - 1) return resolved;
    }
    // First use, or a window was dropped while idle: look every window up again (recreating as needed).
    // Recency in the LRU is refreshed here only, not on every call: it decides which idle window goes
    // first, never whether a busy one is kept, so staleness costs churn, not correctness.
    resolved.states = resolved.specs.map((spec, w) =>
      this.#state(resolved.keys[w] as string, candidate.workspace, spec.scope === 'workspace' ? undefined : candidate.model, spec, spec.limit),
    );
    return resolved;
  }

  /** The state of a window, created (with any learned limit) when first used. */
  #state(key: string, workspace: string, model: string | undefined, spec: Omit<WindowSpec, 'limit'>, configuredLimit: number | null): WindowState {
    let state = this.#windows.get(key) ?? this.#pinned.get(key);
    if (state === undefined) {
      this.#sweepPinned();
      state = new WindowState(key, workspace, model, spec.kind, spec.unit, spec.period, configuredLimit, this.#learned.get(key) ?? null);
      this.#windows.set(key, state);
    }
    state.touchedBy = this.#operation;
    return state;
  }

  /** Drop up to a few idle pinned windows per new window: amortised O(1), and the pinned map drains. */
  #sweepPinned(): void {
    let budget = 4;
    for (const [key, state] of this.#pinned) {
      if (budget-- === 0) break;
      this.#pinned.delete(key);
      if (this.#isIdle(state, this.#lastNow)) state.dropped = true;
      else this.#pinned.set(key, state);
    }
  }

  /** {@inheritDoc QuotaStore.reserve} */
  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    return this.reserveSync(request);
  }

  /**
   * The synchronous body of {@link MemoryStore.reserve}, for callers (benchmarks, a router fast path)
   * that want to skip the promise. Same semantics.
   */
  reserveSync(request: ReserveRequest): ReserveResult {
    const requests = validateReserveRequest(request);
    const { tokens, candidates } = request;
    this.#operation++;
    const now = this.#now();
    let refusals: CandidateRefusal[] | undefined;
    for (let c = 0; c < candidates.length; c++) {
      const candidate = candidates[c] as QuotaCandidate;
      const { specs, isTokens, states } = this.#resolve(candidate, c);
      let fits = true;
      for (let w = 0; w < states.length; w++) {
        const state = states[w] as WindowState;
        state.configuredLimit = (specs[w] as WindowSpec).limit;
        const limit = state.limit;
        if (state.blockedUntil > now || (limit !== null && state.counter.usedAt(now) + (isTokens[w] ? tokens : requests) > limit)) fits = false;
      }
      if (fits) {
        // Every window has room: commit to all of them (nothing awaited in between, so this is atomic).
        for (let w = 0; w < states.length; w++) {
          const state = states[w] as WindowState;
          const cost = isTokens[w] ? tokens : requests;
          state.counter.addAt(now, now, cost);
          state.held += cost;
        }
        const id = `m${++this.#nextId}`;
        this.#pending.set(id, { states, tokens, requests, at: now });
        const reservation: Reservation = {
          id,
          workspace: candidate.workspace,
          model: candidate.model,
          candidateIndex: c,
          tokens,
          requests,
          at: now,
          windows: candidate.windows,
        };
        return { ok: true, reservation, refusals: refusals ?? NO_REFUSALS };
      }
      (refusals ??= []).push(this.#refusal(candidate, c, states, isTokens, tokens, requests, now));
    }
    const all = refusals ?? [];
    let retryAfterMs = Number.POSITIVE_INFINITY;
    for (const refusal of all) retryAfterMs = Math.min(retryAfterMs, refusal.retryAfterMs);
    return { ok: false, retryAfterMs, refusals: all };
  }

  /** Why a candidate was refused: each window without room, and when every one of them will have it. */
  #refusal(
    candidate: QuotaCandidate,
    candidateIndex: number,
    states: readonly WindowState[],
    isTokens: readonly boolean[],
    tokens: number,
    requests: number,
    now: number,
  ): CandidateRefusal {
    const windows: WindowRefusal[] = [];
    let retryAfterMs = 0;
    states.forEach((state, w) => {
      const needed = isTokens[w] ? tokens : requests;
      const blocked = state.blockedUntil > now;
      const wait = Math.max(blocked ? state.blockedUntil - now : 0, state.counter.retryAfterMs(now, needed, state.limit));
      if (wait === 0) return;
      windows.push({
        kind: state.kind,
        scope: state.model === undefined ? 'workspace' : 'model',
        limit: state.limit ?? Number.POSITIVE_INFINITY,
        used: state.counter.usedAt(now),
        needed,
        retryAfterMs: wait,
        blocked,
      });
      // Room only grows with time in each window, so all have room at the latest of their instants.
      retryAfterMs = Math.max(retryAfterMs, wait);
    });
    return { candidateIndex, workspace: candidate.workspace, model: candidate.model, retryAfterMs, windows };
  }

  /** {@inheritDoc QuotaStore.settle} */
  async settle(reservation: Reservation, actualTokens: number): Promise<void> {
    this.settleSync(reservation, actualTokens);
  }

  /** The synchronous body of {@link MemoryStore.settle}. */
  settleSync(reservation: Reservation, actualTokens: number): void {
    validateActualTokens(actualTokens);
    const pending = this.#take(reservation);
    if (pending === undefined) return;
    // The last instant seen, not a fresh clock read: the ring only needs a time no older than its head,
    // and skipping the read is a tenth of the hot path. A bucket that left the window since is dropped
    // at the next advance, refund or not.
    const now = this.#lastNow;
    const delta = actualTokens - pending.tokens;
    const { states } = pending;
    for (let w = 0; w < states.length; w++) {
      const state = states[w] as WindowState;
      if (state.unit === 'tokens') {
        state.held -= pending.tokens;
        // The real usage lands where the estimate was: estimates move capacity in time, never lose it.
        if (delta !== 0) state.counter.addAt(now, pending.at, delta);
      } else {
        state.held -= pending.requests;
      }
    }
  }

  /** {@inheritDoc QuotaStore.release} */
  async release(reservation: Reservation): Promise<void> {
    this.releaseSync(reservation);
  }

  /** The synchronous body of {@link MemoryStore.release}. */
  releaseSync(reservation: Reservation): void {
    const pending = this.#take(reservation);
    if (pending === undefined) return;
    const now = this.#lastNow;
    for (const state of pending.states) {
      const cost = state.unit === 'tokens' ? pending.tokens : pending.requests;
      state.held -= cost;
      state.counter.addAt(now, pending.at, -cost);
    }
  }

  /** Remove and return a pending reservation; undefined when already settled or released (idempotence). */
  #take(reservation: Reservation): PendingReservation | undefined {
    if (reservation === null || typeof reservation !== 'object' || typeof reservation.id !== 'string') {
      throw quotaInvalid('reservation', 'must be a Reservation returned by reserve');
    }
    const pending = this.#pending.get(reservation.id);
    if (pending !== undefined) this.#pending.delete(reservation.id);
    return pending;
  }

  /**
   * {@inheritDoc QuotaStore.observe}
   *
   * - A reported limit replaces the configured or unknown one (a limit of 0, which Mistral sends on
   *   429s, is a refusal, not the tier's limit: it is not learned).
   * - A reported remaining lower than ours raises our usage, in the current bucket, to match:
   *   someone else uses the workspace, and the upstream's view is the binding one.
   * - `rateLimited` blocks the named window (or, when unnamed, every model-scoped window of the pair,
   *   since a 429 does not say which model quota ran out but a workspace-wide block would starve the
   *   workspace's other models) for `blockedForMs`.
   */
  async observe(observation: UpstreamObservation): Promise<void> {
    this.observeSync(observation);
  }

  /** The synchronous body of {@link MemoryStore.observe}. */
  observeSync(observation: UpstreamObservation): void {
    validateObservation(observation);
    this.#operation++;
    const now = this.#now();
    const { workspace, model } = observation;
    for (const window of observation.windows) {
      const state = this.#observedState(workspace, model, window);
      if (window.limit !== undefined && window.limit > 0) {
        state.learnedLimit = window.limit;
        this.#learned.set(state.key, window.limit);
      }
      const limit = state.limit;
      if (window.remaining !== undefined && limit !== null) {
        const used = state.counter.usedAt(now);
        const ours = limit - used;
        if (window.remaining < ours) state.counter.addAt(now, now, ours - window.remaining);
      }
    }
    const { rateLimited } = observation;
    if (rateLimited === undefined) return;
    const until = now + rateLimited.blockedForMs;
    const targets = this.#blockTargets(workspace, model, rateLimited.kind);
    for (const state of targets) state.blockedUntil = Math.max(state.blockedUntil, until);
  }

  #observedState(workspace: string, model: string, window: Omit<WindowSpec, 'limit'>): WindowState {
    const scopedModel = window.scope === 'workspace' ? undefined : model;
    return this.#state(windowKey(workspace, scopedModel, window.kind), workspace, scopedModel, window, null);
  }

  /** The windows a 429 blocks: the named one at whichever scope it exists, else the pair's model windows. */
  #blockTargets(workspace: string, model: string, kind: string | undefined): WindowState[] {
    if (kind !== undefined) {
      const found = [windowKey(workspace, model, kind), windowKey(workspace, undefined, kind)]
        .map((key) => this.#windows.get(key) ?? this.#pinned.get(key))
        .filter((state): state is WindowState => state !== undefined);
      if (found.length > 0) return found;
      const known = Object.values(WINDOW_KINDS).find((spec) => spec.kind === kind);
      // An unknown kind with no window: block the pair's model windows rather than drop the 429.
      if (known !== undefined) return [this.#observedState(workspace, model, known)];
    }
    const prefix = windowKey(workspace, model, '');
    const found = [...this.#allStates()].filter((state) => state.key.startsWith(prefix));
    // No window of the pair is known yet: record the block on its tokens-per-minute window, the one
    // every tier defines, so the next reserve through that window sees it.
    return found.length > 0 ? found : [this.#observedState(workspace, model, WINDOW_KINDS.tokensPerMinute)];
  }

  *#allStates(): Iterable<WindowState> {
    yield* this.#windows.values();
    yield* this.#pinned.values();
  }

  /** {@inheritDoc QuotaStore.snapshot} */
  async snapshot(workspace?: string): Promise<WindowSnapshot[]> {
    const now = this.#now();
    const out: WindowSnapshot[] = [];
    for (const state of this.#allStates()) {
      if (workspace !== undefined && state.workspace !== workspace) continue;
      out.push({
        workspace: state.workspace,
        model: state.model,
        kind: state.kind,
        unit: state.unit,
        period: state.period,
        limit: state.limit,
        used: state.counter.usedAt(now),
        held: state.held,
        blockedUntil: state.blockedUntil > now ? state.blockedUntil : undefined,
        learned: state.learnedLimit !== null,
      });
    }
    return out;
  }

  /** {@inheritDoc QuotaStore.pendingReservations} */
  async pendingReservations(): Promise<number> {
    return this.#pending.size;
  }

  /** Windows currently kept (in the LRU and pinned). For tests and the memory benchmark. */
  get windowCount(): number {
    return this.#windows.size + this.#pinned.size;
  }

  /** {@inheritDoc QuotaStore.close} Nothing to free: no timers or connections. */
  async close(): Promise<void> {}
}
