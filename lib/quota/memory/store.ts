/**
 * The embedded quota store: every window of one process in memory. Its parts, one a file: the slab
 * the windows' numbers live in (slab.ts), the window table bounded by lru-cache (window-table.ts) with
 * an eviction that keeps busy windows (eviction.ts), candidates resolved once to slab references
 * (candidate-refs.ts) and the ring of pending reservations (pending-ring.ts).
 */
import { type Clock, systemClock } from '../../clock.js';
import { ConfigError } from '../../errors.js';
import { WINDOW_KINDS, type CandidateRefusal, type QuotaCandidate, type QuotaStore, type ReserveRequest, type ReserveResult, type Reservation } from '../types.js';
import type { UpstreamObservation, WindowRefusal, WindowSnapshot, WindowSpec } from '../types.js';
import { validateActualTokens, validateObservation, validateReserveRequest } from '../validate.js';
import { W_BLOCKED, W_CONFIGURED, W_HELD, W_ID, W_LEARNED, W_RULE, windowAddAt, windowRetryAfterMs } from '../window.js';
import { CandidateRefs } from './candidate-refs.js';
import { type PendingReservation, PendingRing } from './pending-ring.js';
import { probeRoom, RuleLogs } from './rule-logs.js';
import { CHUNK_BITS, CHUNK_MASK, REF } from './slab.js';
import { type WindowState, windowKey } from './window-state.js';
import { WindowTable } from './window-table.js';

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

const NO_REFUSALS: readonly CandidateRefusal[] = Object.freeze([]);

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
  readonly #table: WindowTable;
  readonly #candidates: CandidateRefs;
  readonly #pending: PendingRing;
  readonly #logs = new RuleLogs();
  #nextId = 0;

  constructor({ clock = systemClock, maxWindows = 100_000, reservationTtlMs = 600_000 }: MemoryStoreOptions = {}) {
    if (!Number.isSafeInteger(maxWindows) || maxWindows < 1) {
      throw new ConfigError('maxWindows', `must be an integer >= 1, received ${String(maxWindows)}`);
    }
    if (!Number.isSafeInteger(reservationTtlMs) || reservationTtlMs < 1) {
      throw new ConfigError('reservationTtlMs', `must be a positive integer of ms, received ${String(reservationTtlMs)}`);
    }
    this.#pending = new PendingRing(reservationTtlMs);
    if (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function') {
      throw new ConfigError('clock', 'must be a Clock with a now() method');
    }
    this.#clock = clock;
    this.#table = new WindowTable(maxWindows);
    this.#candidates = new CandidateRefs(this.#table);
  }

  /** Store time: the clock, never going backwards (a rewinding system clock must not rewind buckets). */
  #now(): number {
    const now = this.#clock.now();
    const table = this.#table;
    if (now > table.lastNow) table.lastNow = now;
    return table.lastNow;
  }

  /** Forget the reservations pending for reservationTtlMs or longer, when the oldest one has expired. */
  #reapIfDue(now: number): void {
    if (now >= this.#pending.nextExpiry) this.#pending.reap(now, this.#forget);
  }

  /** A reservation nobody settled in time counts as settled at its estimate: its charge stays, its hold goes. */
  readonly #forget = (pending: PendingReservation): void => {
    this.#giveBack(pending, 0, 0);
  };

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
    const fit = request.fitTokens ?? tokens;
    this.#table.eviction.beginOperation();
    const now = this.#now();
    this.#reapIfDue(now);
    let refusals: CandidateRefusal[] | undefined;
    for (let c = 0; c < candidates.length; c++) {
      const candidate = candidates[c] as QuotaCandidate;
      const refs = this.#candidates.resolve(candidate, c);
      // Read after CandidateRefs.resolve: creating a window may add a chunk.
      const chunks = this.#table.slab.chunks;
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
        if ((slab[o + W_BLOCKED] as number) > now || (limit === limit && this.#used(address, slab, o, now) + (refs[r + 2] === 1 ? fit : requests) > limit)) {
          fits = false;
        }
      }
      // The slow path: a fixed window whose phase is uncertain may take one call as a probe (rule-logs.ts).
      const probe = fits ? undefined : this.#logs.probe(refs, chunks, now, fit, requests);
      if (fits || probe !== undefined) {
        // Every window has room: commit to all of them (nothing awaited in between, so this is atomic).
        for (let r = 0; r < refs.length; r += REF) {
          const address = refs[r] as number;
          const slab = chunks[address >>> CHUNK_BITS] as Float64Array;
          const o = address & CHUNK_MASK;
          const cost = refs[r + 2] === 1 ? tokens : requests;
          windowAddAt(slab, o, now, now, cost);
          if (slab[o + W_RULE] === 1) this.#logs.log(address, slab, o)?.add(now, now, cost);
          slab[o + W_HELD] = (slab[o + W_HELD] as number) + cost;
        }
        const seq = ++this.#nextId;
        if (probe !== undefined) this.#logs.startProbe(probe, seq, now);
        const id = `m${seq}`;
        this.#pending.add({ seq, refs, tokens, requests, at: now });
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
      (refusals ??= []).push(this.#refusal(candidate, c, this.#candidates.statesOf(candidate), fit, requests, now));
    }
    const all = refusals ?? [];
    let retryAfterMs = Number.POSITIVE_INFINITY;
    for (const refusal of all) retryAfterMs = Math.min(retryAfterMs, refusal.retryAfterMs);
    return { ok: false, retryAfterMs, refusals: all };
  }

  /** What a window holds (RuleLogs.used: its ring's count, or the lower of its log's and its ring's). */
  #used(address: number, slab: Float64Array, o: number, now: number): number {
    return this.#logs.used(address, slab, o, now);
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
      const log = state.slab[state.offset + W_RULE] === 1 ? this.#logs.log(state.address, state.slab, state.offset) : undefined;
      // Each bound says when it will have room; the earlier one is safe (see #used).
      const ringRoom = windowRetryAfterMs(state.slab, state.offset, now, needed, state.limit);
      const room = log === undefined || state.limit === null ? ringRoom : Math.min(ringRoom, log.retryAfterMs(now, needed, state.limit), probeRoom(log, now, needed, state.limit));
      const wait = Math.max(blocked ? state.blockedUntil - now : 0, room);
      if (wait === 0) return;
      windows.push({
        kind: state.kind,
        scope: state.model === undefined ? 'workspace' : 'model',
        limit: state.limit ?? Number.POSITIVE_INFINITY,
        used: this.#used(state.address, state.slab, state.offset, now),
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
    const pending = this.#pending.take(reservation);
    // The real usage lands where the estimate was: estimates move capacity in time, never lose it.
    if (pending !== undefined) this.#giveBack(pending, actualTokens - pending.tokens, 0, true);
  }

  /** {@inheritDoc QuotaStore.release} */
  async release(reservation: Reservation): Promise<void> {
    this.releaseSync(reservation);
  }

  /** The synchronous body of {@link MemoryStore.release}. */
  releaseSync(reservation: Reservation): void {
    const pending = this.#pending.take(reservation);
    if (pending !== undefined) this.#giveBack(pending, -pending.tokens, -pending.requests);
  }

  /**
   * End a pending reservation: its holds go, and each window it charged gets `tokenDelta` or
   * `requestDelta` (by its unit) in the bucket the reservation was charged in.
   */
  #giveBack(pending: PendingReservation, tokenDelta: number, requestDelta: number, settled = false): void {
    // The last instant seen, not a fresh clock read: the ring only needs a time no older than its head,
    // and skipping the read is a tenth of the hot path. A bucket that left the window since is dropped
    // at the next advance, adjusted or not.
    const now = this.#table.lastNow;
    const { refs, tokens, requests, at } = pending;
    const chunks = this.#table.slab.chunks;
    for (let r = 0; r < refs.length; r += REF) {
      const address = refs[r] as number;
      const slab = chunks[address >>> CHUNK_BITS] as Float64Array;
      const o = address & CHUNK_MASK;
      // Dropped since (it was idle, so this reservation held nothing there): nothing left to adjust.
      if (slab[o + W_ID] !== refs[r + 1]) continue;
      const countsTokens = refs[r + 2] === 1;
      slab[o + W_HELD] = (slab[o + W_HELD] as number) - (countsTokens ? tokens : requests);
      const delta = countsTokens ? tokenDelta : requestDelta;
      if (slab[o + W_RULE] === 1) this.#giveBackRuled(address, slab, o, pending, countsTokens ? tokens : requests, delta, settled);
      else if (delta !== 0) windowAddAt(slab, o, now, at, delta);
    }
  }

  /**
   * The same for a window that counts by a learned rule. A settled charge moves to the instant of the
   * settle: the upstream admitted (or, charging after the fact, charged) the call somewhere between the
   * reservation and its answer, so dating it at the answer never frees it before the upstream does.
   */
  #giveBackRuled(address: number, slab: Float64Array, o: number, pending: PendingReservation, held: number, delta: number, settled: boolean): void {
    const now = this.#now();
    const at = pending.at;
    const log = this.#logs.log(address, slab, o);
    log?.endProbe(pending.seq);
    if (settled && now > at) {
      windowAddAt(slab, o, now, at, -held);
      windowAddAt(slab, o, now, now, held + delta);
      log?.add(now, at, -held);
      log?.add(now, now, held + delta);
    } else if (delta !== 0) {
      windowAddAt(slab, o, now, at, delta);
      log?.add(now, at, delta);
    }
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
    this.#table.eviction.beginOperation();
    const now = this.#now();
    const { workspace, model } = observation;
    for (const window of observation.windows) {
      const state = this.#observedState(workspace, model, window);
      if (window.limit !== undefined && window.limit > 0) {
        this.#table.learn(state, window.limit);
      }
      if (window.rule !== undefined) this.#logs.apply(state, window.rule, now);
      const limit = state.limit;
      if (window.remaining !== undefined && limit !== null) {
        const { slab, offset, address } = state;
        const ours = limit - this.#used(address, slab, offset, now);
        if (window.remaining < ours) {
          windowAddAt(slab, offset, now, now, ours - window.remaining);
          if (slab[offset + W_RULE] === 1) this.#logs.log(address, slab, offset)?.add(now, now, ours - window.remaining);
        }
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
    return this.#table.state(windowKey(workspace, scopedModel, window.kind), workspace, scopedModel, window, null);
  }

  /** The windows a 429 blocks: the named one at whichever scope it exists, else the pair's model windows. */
  #blockTargets(workspace: string, model: string, kind: string | undefined): WindowState[] {
    if (kind !== undefined) {
      const found = [windowKey(workspace, model, kind), windowKey(workspace, undefined, kind)]
        .map((key) => this.#table.find(key))
        .filter((state): state is WindowState => state !== undefined);
      if (found.length > 0) return found;
      const known = Object.values(WINDOW_KINDS).find((spec) => spec.kind === kind);
      // An unknown kind with no window: block the pair's model windows rather than drop the 429.
      if (known !== undefined) return [this.#observedState(workspace, model, known)];
    }
    const prefix = windowKey(workspace, model, '');
    const found = [...this.#table.all()].filter((state) => state.key.startsWith(prefix));
    // No window of the pair is known yet: record the block on its tokens-per-minute window, the one
    // every tier defines, so the next reserve through that window sees it.
    return found.length > 0 ? found : [this.#observedState(workspace, model, WINDOW_KINDS.tokensPerMinute)];
  }

  /** {@inheritDoc QuotaStore.snapshot} */
  async snapshot(workspace?: string): Promise<WindowSnapshot[]> {
    const now = this.#now();
    this.#reapIfDue(now);
    const out: WindowSnapshot[] = [];
    for (const state of this.#table.all()) {
      if (workspace !== undefined && state.workspace !== workspace) continue;
      out.push({
        workspace: state.workspace,
        model: state.model,
        kind: state.kind,
        unit: state.unit,
        period: state.period,
        limit: state.limit,
        used: this.#used(state.address, state.slab, state.offset, now),
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
    this.#reapIfDue(now);
    return this.#pending.count;
  }

  /** Phase probes sent so far (rule-logs.ts). For tests and the utilisation benchmark. */
  get probes(): number {
    return this.#logs.probes;
  }

  /** Windows currently kept (in the LRU and pinned). For tests and the memory benchmark. */
  get windowCount(): number {
    return this.#table.size;
  }

  /** {@inheritDoc QuotaStore.close} Nothing to free: no timers or connections. */
  async close(): Promise<void> {}
}
