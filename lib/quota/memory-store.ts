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
  W_BLOCKED,
  W_CONFIGURED,
  W_HELD,
  W_ID,
  W_LEARNED,
  W_TOUCHED,
  initWindow,
  quotaInvalid,
  validateActualTokens,
  validateObservation,
  validateCandidate,
  validateReserveRequest,
  windowAddAt,
  windowRetryAfterMs,
  windowStride,
  windowUsedAt,
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
  /**
   * How long a reservation stays pending before the store forgets it (its holder never settled or
   * released it: a lease forgotten by a bug). It then counts as settled at its estimate, as in the Redis
   * store: its hold goes, so its windows can be dropped once idle, and a late settle or release changes
   * nothing. Longer than your longest call, streams included.
   * @default 600000 (10 minutes)
   */
  readonly reservationTtlMs?: number;
}

/**
 * Where every window's numbers live: a few large Float64Array chunks, never reallocated, each holding
 * many windows back to back (see the layout in window.ts). A window is an address, `chunk << 16 | offset`.
 * Runs freed by dropped windows are reused by new windows of the same period, so the slab only grows with
 * the number of windows alive at once, never with the request rate.
 */
const CHUNK_BITS = 16;
const CHUNK_MASK = (1 << CHUNK_BITS) - 1;
/** The first chunk is small (a store with a handful of windows stays small); later ones double up to 2^16 numbers (512 KiB). */
const FIRST_CHUNK = 1 << 10;

class Slab {
  /** The chunks; `chunks[address >>> CHUNK_BITS]` holds the window at `address & CHUNK_MASK`. */
  readonly chunks: Float64Array[] = [];
  /** Free runs by stride (runs of one period are only reused by windows of a period with the same stride). */
  readonly #free = new Map<number, number[]>();
  /** Next unused offset in the last chunk. */
  #top = 0;
  #nextId = 1;

  /** Lay out a new empty window of `period`; returns its address and generation. */
  allocate(period: WindowPeriod): { address: number; id: number } {
    const stride = windowStride(period);
    let address = this.#free.get(stride)?.pop();
    if (address === undefined) {
      let chunk = this.chunks.length - 1;
      if (chunk < 0 || this.#top + stride > (this.chunks[chunk] as Float64Array).length) {
        chunk++;
        if (chunk >= 1 << (32 - CHUNK_BITS)) throw new RangeError('MemoryStore: window slab exhausted (32 GiB)');
        this.chunks.push(new Float64Array(chunk >= CHUNK_BITS - 10 ? 1 << CHUNK_BITS : FIRST_CHUNK << chunk));
        this.#top = 0;
      }
      address = ((chunk << CHUNK_BITS) | this.#top) >>> 0;
      this.#top += stride;
    }
    // Generations stay small integers (a window id is compared on every call; no overflow in practice).
    const id = this.#nextId++;
    initWindow(this.chunks[address >>> CHUNK_BITS] as Float64Array, address & CHUNK_MASK, period, id);
    return { address, id };
  }

  /** Give a window's run back: its generation no longer matches, so stale references see it is gone. */
  free(address: number, period: WindowPeriod): void {
    const stride = windowStride(period);
    (this.chunks[address >>> CHUNK_BITS] as Float64Array)[(address & CHUNK_MASK) + W_ID] = -1;
    let list = this.#free.get(stride);
    if (list === undefined) this.#free.set(stride, (list = []));
    list.push(address);
  }
}

/**
 * One window's identity and where its numbers are. Everything that changes per call (counts, holds,
 * blocks, limits) is in the slab; this object is read only off the hot path (lookups, refusals, snapshots).
 */
class WindowState {
  /** Set when the store let go of it (it was idle): its slab run may now hold another window. */
  dropped = false;
  readonly slab: Float64Array;
  readonly offset: number;

  constructor(
    readonly key: string,
    readonly workspace: string,
    readonly model: string | undefined,
    readonly kind: string,
    readonly unit: WindowUnit,
    readonly period: WindowPeriod,
    readonly address: number,
    readonly id: number,
    chunks: readonly Float64Array[],
  ) {
    this.slab = chunks[address >>> CHUNK_BITS] as Float64Array;
    this.offset = address & CHUNK_MASK;
  }

  get held(): number {
    return this.slab[this.offset + W_HELD] as number;
  }

  get blockedUntil(): number {
    return this.slab[this.offset + W_BLOCKED] as number;
  }

  set blockedUntil(until: number) {
    this.slab[this.offset + W_BLOCKED] = until;
  }

  /** Limit learned from upstream headers; null when none was. */
  get learnedLimit(): number | null {
    const learned = this.slab[this.offset + W_LEARNED] as number;
    return Number.isNaN(learned) ? null : learned;
  }

  set learnedLimit(limit: number | null) {
    this.slab[this.offset + W_LEARNED] = limit ?? Number.NaN;
  }

  /** The limit in force: learned, else configured by the last candidate that used it; null = unknown. */
  get limit(): number | null {
    const learned = this.slab[this.offset + W_LEARNED] as number;
    if (!Number.isNaN(learned)) return learned;
    const configured = this.slab[this.offset + W_CONFIGURED] as number;
    return Number.isNaN(configured) ? null : configured;
  }

  usedAt(now: number): number {
    return windowUsedAt(this.slab, this.offset, now);
  }
}

/** What settle and release need to touch exactly the buckets reserve charged. */
interface PendingReservation {
  /** The number in the reservation's id (`m<seq>`). */
  readonly seq: number;
  /** The chosen candidate's `refs` when it was charged (see {@link ResolvedCandidate}). */
  readonly refs: readonly number[];
  readonly tokens: number;
  readonly requests: number;
  readonly at: number;
}

/**
 * Numbers per window in {@link ResolvedCandidate.refs}: slab address, generation, 1 if it counts tokens,
 * configured limit (NaN = unknown).
 */
const REF = 4;

/**
 * A candidate resolved once: its window keys and states, so the hot path neither builds strings nor
 * hashes them. The hot path only needs `refs` (kept in a WeakMap of its own, so a call reads the
 * candidate, one array and the slab): per window, its slab address, its generation (to notice a window
 * dropped and its run reused), whether it counts tokens and its configured limit. `refs` and `states`
 * are replaced (never mutated) when a window was dropped, so a pending reservation holding the old
 * `refs` still names the windows it charged.
 */
interface ResolvedCandidate {
  readonly keys: readonly string[];
  readonly specs: readonly WindowSpec[];
  /** Configured limit of each window, NaN = unknown (null). */
  readonly limits: readonly number[];
  refs: readonly number[];
  states: readonly WindowState[];
}

/** Pending reservations are found by the number in their id: a ring of recent ones, older ones in a Map. */
const PENDING_RING = 1024;

/** The number in a reservation id this store made (`m` and a canonical decimal), or -1. */
function sequenceOf(id: string): number {
  const length = id.length;
  if (length < 2 || length > 17 || id.charCodeAt(0) !== 109 || id.charCodeAt(1) === 48) return -1;
  let seq = 0;
  for (let i = 1; i < length; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    seq = seq * 10 + digit;
  }
  return Number.isSafeInteger(seq) ? seq : -1;
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
  /** Pending reservations by `seq & (PENDING_RING - 1)`; one that outlives its slot moves to #pendingOld. */
  readonly #pending: (PendingReservation | undefined)[] = new Array<PendingReservation | undefined>(PENDING_RING).fill(undefined);
  readonly #pendingOld = new Map<number, PendingReservation>();
  #pendingCount = 0;
  /** reservationTtlMs. */
  readonly #ttl: number;
  /** When the oldest pending reservation expires (Infinity when none is pending): see #reap. */
  #nextExpiry = Number.POSITIVE_INFINITY;
  readonly #resolved = new WeakMap<QuotaCandidate, ResolvedCandidate>();
  /** The hot part of #resolved: each candidate's current `refs`. */
  readonly #refs = new WeakMap<QuotaCandidate, readonly number[]>();
  /** The `refs` the current operation used (the first #opRefsLength), so eviction spares their windows. */
  readonly #opRefs: (readonly number[])[] = [];
  #opRefsLength = 0;
  readonly #slab = new Slab();
  #operation = 1;
  #lastNow = Number.NEGATIVE_INFINITY;
  #nextId = 0;

  constructor({ clock = systemClock, maxWindows = 100_000, reservationTtlMs = 600_000 }: MemoryStoreOptions = {}) {
    if (!Number.isSafeInteger(maxWindows) || maxWindows < 1) {
      throw new ConfigError('maxWindows', `must be an integer >= 1, received ${String(maxWindows)}`);
    }
    if (!Number.isSafeInteger(reservationTtlMs) || reservationTtlMs < 1) {
      throw new ConfigError('reservationTtlMs', `must be a positive integer of ms, received ${String(reservationTtlMs)}`);
    }
    this.#ttl = reservationTtlMs;
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
        else this.#drop(state);
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
    const { slab, offset } = state;
    return (
      !this.#usedByOperation(state) &&
      slab[offset + W_HELD] === 0 &&
      (slab[offset + W_BLOCKED] as number) <= now &&
      windowUsedAt(slab, offset, now) === 0
    );
  }

  /**
   * Whether the operation in progress uses the window: looked up by #state during it, or part of a
   * candidate it resolved from cache (found by scanning the few `refs` it used: this only runs on eviction).
   */
  #usedByOperation(state: WindowState): boolean {
    if (state.slab[state.offset + W_TOUCHED] === this.#operation) return true;
    for (let i = 0; i < this.#opRefsLength; i++) {
      const refs = this.#opRefs[i] as readonly number[];
      for (let r = 0; r < refs.length; r += REF) if (refs[r] === state.address && refs[r + 1] === state.id) return true;
    }
    return false;
  }

  /** Start a store operation: windows it uses are never evicted until the next one starts. */
  #beginOperation(): void {
    this.#operation++;
    this.#opRefsLength = 0;
  }

  /** Let go of an idle window: its slab run goes back to the free list. */
  #drop(state: WindowState): void {
    if (state.dropped) return;
    state.dropped = true;
    this.#slab.free(state.address, state.period);
  }

  /** The `refs` of a candidate (see {@link ResolvedCandidate}), its windows looked up or created when needed. */
  #resolve(candidate: QuotaCandidate, index: number): readonly number[] {
    const refs = this.#refs.get(candidate);
    if (refs !== undefined) {
      const chunks = this.#slab.chunks;
      let live = true;
      for (let r = 0; r < refs.length; r += REF) {
        const address = refs[r] as number;
        // A dropped window's run is free or holds another window: its generation no longer matches.
        if ((chunks[address >>> CHUNK_BITS] as Float64Array)[(address & CHUNK_MASK) + W_ID] !== refs[r + 1]) {
          live = false;
          break;
        }
      }
      if (live) {
        this.#opRefs[this.#opRefsLength++] = refs;
        return refs;
      }
    }
    return this.#lookUp(candidate, index);
  }

  /**
   * First use of a candidate, or one of its windows was dropped while idle: look every window up again
   * (recreating as needed). Recency in the LRU is refreshed here only, not on every call: it decides which
   * idle window goes first, never whether a busy one is kept, so staleness costs churn, not correctness.
   */
  #lookUp(candidate: QuotaCandidate, index: number): readonly number[] {
    let resolved = this.#resolved.get(candidate);
    if (resolved === undefined) {
      validateCandidate(candidate, `candidates[${index}]`);
      const specs = [...candidate.windows];
      const keys = specs.map((spec) => windowKey(candidate.workspace, spec.scope === 'workspace' ? undefined : candidate.model, spec.kind));
      // The configured limits are read once, with the rest of the candidate (which is validated once and
      // cached by object): spec objects are often built by spread, which puts `limit` out of the object,
      // and reading it on every call costs a cache miss or two per window with many pairs.
      const limits = specs.map((spec) => spec.limit ?? Number.NaN);
      resolved = { specs, keys, limits, refs: [], states: [] };
      this.#resolved.set(candidate, resolved);
    }
    const { specs, keys, limits } = resolved;
    const states = specs.map((spec, w) =>
      this.#state(keys[w] as string, candidate.workspace, spec.scope === 'workspace' ? undefined : candidate.model, spec, spec.limit),
    );
    // Built in one go (one allocation, numbers unboxed): the hot path reads nothing else.
    const refs = new Array<number>(states.length * REF);
    states.forEach((state, w) => {
      refs[w * REF] = state.address;
      refs[w * REF + 1] = state.id;
      refs[w * REF + 2] = state.unit === 'tokens' ? 1 : 0;
      refs[w * REF + 3] = limits[w] as number;
    });
    resolved.states = states;
    resolved.refs = refs;
    this.#refs.set(candidate, refs);
    this.#opRefs[this.#opRefsLength++] = refs;
    return refs;
  }

  /** The window states of a candidate resolved by #resolve (for refusals). */
  #statesOf(candidate: QuotaCandidate): readonly WindowState[] {
    return (this.#resolved.get(candidate) as ResolvedCandidate).states;
  }

  /** The state of a window, created (with any learned limit) when first used. */
  #state(key: string, workspace: string, model: string | undefined, spec: Omit<WindowSpec, 'limit'>, configuredLimit: number | null): WindowState {
    let state = this.#windows.get(key) ?? this.#pinned.get(key);
    if (state === undefined) {
      this.#sweepPinned();
      const { address, id } = this.#slab.allocate(spec.period);
      state = new WindowState(key, workspace, model, spec.kind, spec.unit, spec.period, address, id, this.#slab.chunks);
      state.slab[state.offset + W_CONFIGURED] = configuredLimit ?? Number.NaN;
      state.learnedLimit = this.#learned.get(key) ?? null;
      state.slab[state.offset + W_TOUCHED] = this.#operation;
      this.#windows.set(key, state);
    }
    state.slab[state.offset + W_TOUCHED] = this.#operation;
    return state;
  }

  /** Drop up to a few idle pinned windows per new window: amortised O(1), and the pinned map drains. */
  #sweepPinned(): void {
    let budget = 4;
    for (const [key, state] of this.#pinned) {
      if (budget-- === 0) break;
      this.#pinned.delete(key);
      if (this.#isIdle(state, this.#lastNow)) this.#drop(state);
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
    this.#beginOperation();
    const now = this.#now();
    if (now >= this.#nextExpiry) this.#reap(now);
    let refusals: CandidateRefusal[] | undefined;
    for (let c = 0; c < candidates.length; c++) {
      const candidate = candidates[c] as QuotaCandidate;
      const refs = this.#resolve(candidate, c);
      // Read after #resolve: creating a window may add a chunk.
      const chunks = this.#slab.chunks;
      let fits = true;
      for (let r = 0; r < refs.length; r += REF) {
        const address = refs[r] as number;
        const slab = chunks[address >>> CHUNK_BITS] as Float64Array;
        const o = address & CHUNK_MASK;
        const configured = refs[r + 3] as number;
        slab[o + W_CONFIGURED] = configured;
        const learned = slab[o + W_LEARNED] as number;
        // A learned limit takes precedence; NaN (x !== x) is an unknown limit: unmetered.
        const limit = learned === learned ? learned : configured;
        if ((slab[o + W_BLOCKED] as number) > now || (limit === limit && windowUsedAt(slab, o, now) + (refs[r + 2] === 1 ? tokens : requests) > limit)) {
          fits = false;
        }
      }
      if (fits) {
        // Every window has room: commit to all of them (nothing awaited in between, so this is atomic).
        for (let r = 0; r < refs.length; r += REF) {
          const address = refs[r] as number;
          const slab = chunks[address >>> CHUNK_BITS] as Float64Array;
          const o = address & CHUNK_MASK;
          const cost = refs[r + 2] === 1 ? tokens : requests;
          windowAddAt(slab, o, now, now, cost);
          slab[o + W_HELD] = (slab[o + W_HELD] as number) + cost;
        }
        const seq = ++this.#nextId;
        const id = `m${seq}`;
        this.#addPending({ seq, refs, tokens, requests, at: now });
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
      (refusals ??= []).push(this.#refusal(candidate, c, this.#statesOf(candidate), tokens, requests, now));
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
    tokens: number,
    requests: number,
    now: number,
  ): CandidateRefusal {
    const windows: WindowRefusal[] = [];
    let retryAfterMs = 0;
    states.forEach((state) => {
      const needed = state.unit === 'tokens' ? tokens : requests;
      const blocked = state.blockedUntil > now;
      const wait = Math.max(blocked ? state.blockedUntil - now : 0, windowRetryAfterMs(state.slab, state.offset, now, needed, state.limit));
      if (wait === 0) return;
      windows.push({
        kind: state.kind,
        scope: state.model === undefined ? 'workspace' : 'model',
        limit: state.limit ?? Number.POSITIVE_INFINITY,
        used: state.usedAt(now),
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
    // The real usage lands where the estimate was: estimates move capacity in time, never lose it.
    if (pending !== undefined) this.#giveBack(pending, actualTokens - pending.tokens, 0);
  }

  /** {@inheritDoc QuotaStore.release} */
  async release(reservation: Reservation): Promise<void> {
    this.releaseSync(reservation);
  }

  /** The synchronous body of {@link MemoryStore.release}. */
  releaseSync(reservation: Reservation): void {
    const pending = this.#take(reservation);
    if (pending !== undefined) this.#giveBack(pending, -pending.tokens, -pending.requests);
  }

  /**
   * End a pending reservation: its holds go, and each window it charged gets `tokenDelta` or
   * `requestDelta` (by its unit) in the bucket the reservation was charged in.
   */
  #giveBack(pending: PendingReservation, tokenDelta: number, requestDelta: number): void {
    // The last instant seen, not a fresh clock read: the ring only needs a time no older than its head,
    // and skipping the read is a tenth of the hot path. A bucket that left the window since is dropped
    // at the next advance, adjusted or not.
    const now = this.#lastNow;
    const { refs, tokens, requests, at } = pending;
    const chunks = this.#slab.chunks;
    for (let r = 0; r < refs.length; r += REF) {
      const address = refs[r] as number;
      const slab = chunks[address >>> CHUNK_BITS] as Float64Array;
      const o = address & CHUNK_MASK;
      // Dropped since (it was idle, so this reservation held nothing there): nothing left to adjust.
      if (slab[o + W_ID] !== refs[r + 1]) continue;
      const countsTokens = refs[r + 2] === 1;
      slab[o + W_HELD] = (slab[o + W_HELD] as number) - (countsTokens ? tokens : requests);
      const delta = countsTokens ? tokenDelta : requestDelta;
      if (delta !== 0) windowAddAt(slab, o, now, at, delta);
    }
  }

  /** Remove and return a pending reservation; undefined when already settled or released (idempotence). */
  #take(reservation: Reservation): PendingReservation | undefined {
    if (reservation === null || typeof reservation !== 'object' || typeof reservation.id !== 'string') {
      throw quotaInvalid('reservation', 'must be a Reservation returned by reserve');
    }
    const seq = sequenceOf(reservation.id);
    if (seq < 0) return undefined;
    const slot = seq & (PENDING_RING - 1);
    let pending = this.#pending[slot];
    if (pending !== undefined && pending.seq === seq) {
      this.#pending[slot] = undefined;
    } else {
      pending = this.#pendingOld.get(seq);
      if (pending === undefined) return undefined;
      this.#pendingOld.delete(seq);
    }
    this.#pendingCount--;
    return pending;
  }

  #addPending(pending: PendingReservation): void {
    const slot = pending.seq & (PENDING_RING - 1);
    const older = this.#pending[slot];
    if (older !== undefined) this.#pendingOld.set(older.seq, older);
    this.#pending[slot] = pending;
    this.#pendingCount++;
    if (this.#nextExpiry === Number.POSITIVE_INFINITY) this.#nextExpiry = pending.at + this.#ttl;
  }

  /**
   * Forget the reservations pending for reservationTtlMs or longer: each counts as settled at its
   * estimate (its charge stays, its hold goes). Runs when the oldest one expires (checked by reserve,
   * snapshot and pendingReservations), so it costs nothing while reservations are settled in time: one
   * pass over the ring and the older ones, which are in the order they were made, so the pass over them
   * stops at the first one still valid.
   */
  #reap(now: number): void {
    const cutoff = now - this.#ttl;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [seq, pending] of this.#pendingOld) {
      if (pending.at > cutoff) {
        oldest = pending.at;
        break;
      }
      this.#pendingOld.delete(seq);
      this.#forget(pending);
    }
    for (let slot = 0; slot < PENDING_RING; slot++) {
      const pending = this.#pending[slot];
      if (pending === undefined) continue;
      if (pending.at > cutoff) {
        if (pending.at < oldest) oldest = pending.at;
        continue;
      }
      this.#pending[slot] = undefined;
      this.#forget(pending);
    }
    this.#nextExpiry = oldest + this.#ttl;
  }

  #forget(pending: PendingReservation): void {
    this.#pendingCount--;
    this.#giveBack(pending, 0, 0);
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
    this.#beginOperation();
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
        const used = state.usedAt(now);
        const ours = limit - used;
        if (window.remaining < ours) windowAddAt(state.slab, state.offset, now, now, ours - window.remaining);
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
    if (now >= this.#nextExpiry) this.#reap(now);
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
        used: state.usedAt(now),
        held: state.held,
        blockedUntil: state.blockedUntil > now ? state.blockedUntil : undefined,
        learned: state.learnedLimit !== null,
      });
    }
    return out;
  }

  /** {@inheritDoc QuotaStore.pendingReservations} */
  async pendingReservations(): Promise<number> {
    const now = this.#now();
    if (now >= this.#nextExpiry) this.#reap(now);
    return this.#pendingCount;
  }

  /** Windows currently kept (in the LRU and pinned). For tests and the memory benchmark. */
  get windowCount(): number {
    return this.#windows.size + this.#pinned.size;
  }

  /** {@inheritDoc QuotaStore.close} Nothing to free: no timers or connections. */
  async close(): Promise<void> {}
}
