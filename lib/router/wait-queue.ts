/**
 * Fair waiting for quota. When no candidate has room, a call waits here in FIFO order until the
 * earliest moment one will. One timer for the whole queue (no busy polling), set at the earliest
 * `retryAfterMs` the store reported; on that timer, and whenever capacity is returned (settle,
 * release), the queue is tried in order. A waiter never jumps ahead of an earlier one that wants the
 * same (workspace, model) pair, so waiting calls are served in arrival order; waiters that want
 * different pairs do not block each other (no head-of-line blocking across needs), except for a
 * workspace-wide window: a new call queues behind a waiter that the workspace's requests-per-second
 * window refused, whatever model it wants (that slot is the waiter's first). A waiter that can
 * no longer make its bound leaves the queue in that pass and holds nobody back; one that reaches its
 * bound gets a last try first (capacity may return at that very moment).
 */
import type { Clock } from '../clock.js';
import { AbortError, RouterError, type PlanLike } from '../errors.js';
import type { CandidateRefusal, QuotaStore, Reservation, ReserveRequest, ReserveResult } from '../quota/types.js';
import { asStoreError, closedError, exhausted, isUnavailable } from './wait-errors.js';
import { Claims, NO_WORKSPACES, keysOf, openPart, refusedWorkspaces, type Waiter } from './waiters.js';

export { closedError } from './wait-errors.js';

const PUMPED: Promise<void> = Promise.resolve();
/** How often a wait re-asks a store that failed (fail-closed: wait up to the bound, then throw). */
export const STORE_RETRY_MS = 250;

/** What `acquire` resolves with. */
export interface Acquired {
  readonly reservation: Reservation;
  /** ms spent waiting in the queue. */
  readonly waitedMs: number;
  /** The candidates ahead of the admitted one that had no room at that moment, and why. */
  readonly refusals: readonly CandidateRefusal[];
}

/** Called when a call starts waiting: its label, how long the store said, and the queue length. */
export type WaitListener = (info: { label: string; retryAfterMs: number; queueLength: number }) => void;

/** The store failed to take back a reservation the queue no longer needs (its waiter aborted meanwhile): the queue goes on (Redis recovers it at expiry). */
export type StoreErrorListener = (operation: 'release', error: unknown) => void;

export class WaitQueue {
  readonly #store: QuotaStore;
  readonly #clock: Clock;
  #queue: Waiter[] = [];
  /** Waiters still queued (the array may hold finished ones until it is compacted). */
  #waiting = 0;
  /** What the queued waiters hold: new arrivals check conflicts in O(candidates). */
  readonly #claims = new Claims();
  #timer: (() => void) | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #pumping = false;
  #pumpAgain = false;
  /** Counts the calls to pump(): each says capacity may have come back (see acquire). */
  #returns = 0;
  #closed = false;
  /** Store calls of a remote store not answered yet: close() waits for them before the store closes. */
  readonly #busy = new Set<Promise<unknown>>();

  readonly #onWait: WaitListener | undefined;
  readonly #onStoreError: StoreErrorListener | undefined;

  /** The store's synchronous reserve, when it has one (see QuotaStore.reserveSync). */
  readonly #reserveSync: ((request: ReserveRequest) => ReserveResult) | undefined;

  constructor(store: QuotaStore, clock: Clock, onWait?: WaitListener, onStoreError?: StoreErrorListener) {
    this.#store = store;
    this.#reserveSync = typeof store.reserveSync === 'function' ? store.reserveSync.bind(store) : undefined;
    this.#clock = clock;
    this.#onWait = onWait;
    this.#onStoreError = onStoreError;
  }

  /** Keeps `operation` in #busy until it settles. */
  #track<T>(operation: Promise<T>): Promise<T> {
    this.#busy.add(operation);
    const done = () => this.#busy.delete(operation);
    operation.then(done, done);
    return operation;
  }

  /** Calls waiting now. */
  get length(): number {
    return this.#waiting;
  }

  /**
   * The fast path of a store with a synchronous reserve: when nobody waits, ask it at once (no promise, no
   * microtask turn). Its answer, admitted or not; undefined when this path does not apply. A refusal goes
   * to {@link WaitQueue.acquire} as `first`, which then waits, throws or reports as usual.
   */
  tryNow(request: ReserveRequest, signal: AbortSignal | undefined): ReserveResult | undefined {
    if (this.#waiting !== 0 || signal?.aborted || this.#reserveSync === undefined) return undefined;
    return this.#reserveSync(request);
  }

  /**
   * Reserve for `request`, waiting in the queue up to `maxWaitMs` when there is no room.
   * `onWait` is told, as the queue's own listener is, when this call starts to wait.
   * @throws QuotaExhaustedError (with retryAfterMs) when no room comes within the bound,
   *   StoreUnavailableError when the store stayed down until the bound, AbortError on abort.
   */
  async acquire(request: ReserveRequest, maxWaitMs: number, signal: AbortSignal | undefined, plan: PlanLike | undefined, label = '', first?: ReserveResult, onWait?: WaitListener): Promise<Acquired> {
    if (this.#closed) {
      if (first?.ok) await this.#giveBack(first.reservation);
      throw closedError();
    }
    if (signal?.aborted) throw new AbortError();
    const since = this.#clock.now();
    // The pair keys cost an allocation per candidate: only needed when someone waits already, or to wait.
    let keys = this.#waiting === 0 ? undefined : keysOf(request);
    if (keys === undefined || !this.#claims.conflict(keys, request)) {
      let result: ReserveResult | undefined = first;
      let storeError: Error | undefined;
      let returns = this.#returns;
      const ask = async () => {
        try {
          // A synchronous store answers at once: no promise, no microtask turn on the hot path.
          result = this.#reserveSync !== undefined ? this.#reserveSync(request) : await this.#track(this.#store.reserve(request));
          storeError = undefined;
        } catch (error) {
          if (!isUnavailable(error)) throw asStoreError(error);
          storeError = error as Error;
          result = undefined;
        }
      };
      if (result === undefined) await ask();
      // Capacity that came back while a remote store answered (a settle, a release: their pump found
      // nobody waiting) makes its refusal stale: ask again, twice at most.
      for (let again = 0; again < 2 && result?.ok === false && this.#returns !== returns && !signal?.aborted && !this.#closed; again++) {
        returns = this.#returns;
        await ask();
      }
      if (signal?.aborted || this.#closed) {
        // Aborted (or the router closed) while a remote store answered: give back what it granted, queue nothing.
        if (result?.ok) await this.#giveBack(result.reservation);
        throw this.#closed ? closedError() : new AbortError('The request was aborted while waiting for quota.');
      }
      if (result?.ok) return { reservation: result.reservation, waitedMs: 0, refusals: result.refusals };
      const retryAfterMs = result === undefined ? STORE_RETRY_MS : result.retryAfterMs;
      if (retryAfterMs > maxWaitMs) throw exhausted(retryAfterMs, maxWaitMs, plan, storeError);
      this.#waits(onWait, { label, retryAfterMs, queueLength: this.#waiting + 1 });
      keys ??= keysOf(request);
      const acquired = this.#enqueue(request, keys, since, since + maxWaitMs, signal, plan, result, storeError);
      // Capacity came back while the store answered (a settle, a release: their pump found nobody waiting):
      // the refusal may be stale already, so try the queue now instead of at the refusal's retry time.
      if (this.#returns !== returns) void this.pump();
      return acquired;
    }
    if (this.#closed) throw closedError();
    this.#waits(onWait, { label, retryAfterMs: 0, queueLength: this.#waiting + 1 });
    const acquired = this.#enqueue(request, keys, since, since + maxWaitMs, signal, plan, undefined, undefined);
    void this.pump();
    return acquired;
  }

  /** A call starts to wait: the queue's listener and the call's own hear of it. */
  #waits(onWait: WaitListener | undefined, info: Parameters<WaitListener>[0]): void {
    this.#onWait?.(info);
    onWait?.(info);
  }

  #enqueue(
    request: ReserveRequest,
    keys: readonly string[],
    since: number,
    deadline: number,
    signal: AbortSignal | undefined,
    plan: PlanLike | undefined,
    refused: ReserveResult | undefined,
    storeError: Error | undefined,
  ): Promise<Acquired> {
    return new Promise<Acquired>((resolve, reject) => {
      // Closed meanwhile (a `wait` listener may call router.close()): nobody would serve it.
      if (this.#closed) {
        reject(closedError());
        return;
      }
      const onAbort = () => {
        if (this.#remove(waiter)) {
          reject(new AbortError('The request was aborted while waiting for quota.'));
          void this.pump(); // its place is free: the next waiter may go
        }
      };
      const cancelDeadline = this.#clock.setTimer(() => void this.#expire(waiter), deadline - since);
      const waiter: Waiter = {
        request,
        keys,
        deadline,
        since,
        plan,
        resolve,
        reject,
        lastRetryAfterMs: 0,
        lastAskedAt: since,
        lastStoreError: storeError,
        workspaces: NO_WORKSPACES,
        queued: true,
        cleanup: () => {
          cancelDeadline();
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
      this.#waiting++;
      this.#claims.add(waiter);
      // A refusal (or a failed store: `storeError`) came before queueing; none when it queued behind another.
      if (refused !== undefined || storeError !== undefined) {
        const retryAfterMs = this.#note(waiter, refused);
        if (storeError !== undefined) waiter.lastStoreError = storeError;
        this.#schedule(retryAfterMs);
      }
    });
  }

  #remove(waiter: Waiter): boolean {
    if (!waiter.queued) return false;
    waiter.queued = false;
    this.#waiting--;
    this.#claims.remove(waiter);
    waiter.cleanup();
    // Compact lazily: removing from the middle of a long queue one by one would be quadratic.
    if (this.#queue.length > 32 && this.#waiting < this.#queue.length / 2) this.#queue = this.#queue.filter((w) => w.queued);
    return true;
  }

  /**
   * Pump in `inMs` (at least 1 ms: a store refusing with 0, "try again now", is asked again on the next
   * timer, never in a loop without one), unless a pump comes sooner already.
   */
  #schedule(inMs: number): void {
    if (this.#closed) return;
    inMs = Math.max(1, inMs);
    const at = this.#clock.now() + inMs;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    this.#timer?.();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      void this.pump();
    }, inMs);
  }

  /** Try the waiting calls in order. Called on the timer and whenever capacity may have returned. */
  pump(): Promise<void> {
    this.#returns++;
    // Nobody waits (every settle of an idle router): no async frame, one shared settled promise.
    if (this.#waiting === 0 || this.#closed) return PUMPED;
    if (!this.#pumping) return this.#pump();
    this.#pumpAgain = true;
    return PUMPED;
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        const blocked = new Set<string>();
        let earliest = Number.POSITIVE_INFINITY;
        const queue = this.#queue; // a compaction replaces the array; this pass walks the one it started on
        for (let i = 0; i < queue.length; i++) {
          const waiter = queue[i] as Waiter;
          if (!waiter.queued) continue; // served, aborted or timed out meanwhile
          // Pairs an earlier waiter still waits for are its; this waiter may take only the others now.
          const request = blocked.size === 0 ? waiter.request : openPart(waiter, blocked);
          if (request === undefined) continue; // an earlier waiter wants every pair this one wants
          let result: ReserveResult | undefined;
          try {
            result = await this.#track(this.#store.reserve(request));
          } catch (error) {
            waiter.lastStoreError = isUnavailable(error) ? (error as Error) : asStoreError(error);
            if (!isUnavailable(error)) {
              if (this.#remove(waiter)) waiter.reject(waiter.lastStoreError);
              continue;
            }
          }
          if (result?.ok) {
            await this.#hand(waiter, result);
            continue;
          }
          const retryAfterMs = this.#note(waiter, result);
          if (request === waiter.request && this.#clock.now() + retryAfterMs > waiter.deadline) {
            // It leaves the queue, so it holds nobody back: the waiters behind it are tried in this pass.
            if (this.#remove(waiter)) waiter.reject(exhausted(retryAfterMs, waiter.deadline - waiter.since, waiter.plan, waiter.lastStoreError));
            continue;
          }
          for (const key of waiter.keys) blocked.add(key);
          earliest = Math.min(earliest, retryAfterMs);
        }
        if (Number.isFinite(earliest)) this.#schedule(earliest);
      } while (this.#pumpAgain && this.#waiting > 0);
    } finally {
      this.#pumping = false;
    }
  }

  /** Resolve a waiter with its reservation, or give the reservation back when the waiter left meanwhile. */
  async #hand(waiter: Waiter, admitted: ReserveResult & { ok: true }): Promise<void> {
    if (this.#remove(waiter)) {
      waiter.resolve({ reservation: admitted.reservation, waitedMs: this.#clock.now() - waiter.since, refusals: admitted.refusals });
      return;
    }
    await this.#giveBack(admitted.reservation); // aborted (or timed out) while the store answered
  }

  /** Return a reservation nobody will use; a store that fails here is reported, never thrown. */
  async #giveBack(reservation: Reservation): Promise<void> {
    try {
      await this.#track(this.#store.release(reservation));
    } catch (error) {
      this.#onStoreError?.('release', error);
    }
  }

  /** Record a refusal (or, `undefined`, a store that failed) on the waiter; how long until it may fit. */
  #note(waiter: Waiter, result: ReserveResult | undefined): number {
    const retryAfterMs = result === undefined || result.ok ? STORE_RETRY_MS : result.retryAfterMs;
    waiter.lastRetryAfterMs = retryAfterMs;
    waiter.lastAskedAt = this.#clock.now();
    if (result !== undefined) {
      waiter.lastStoreError = undefined;
      if (waiter.queued) this.#claims.setWorkspaces(waiter, refusedWorkspaces(result));
    }
    return retryAfterMs;
  }

  /**
   * A waiter's bound is reached. Capacity may return at that very moment (a wait of exactly `maxWaitMs`),
   * so it gets one last try, on the pairs no earlier waiter still waits for (FIFO). Then it leaves, with
   * the time the store last gave minus what has passed since; for pairs an earlier waiter holds, no sooner
   * than that waiter's.
   */
  async #expire(waiter: Waiter): Promise<void> {
    if (!waiter.queued) return;
    const { blocked, aheadMs } = this.#ahead(waiter);
    const request = blocked.size === 0 ? waiter.request : openPart(waiter, blocked);
    if (request !== undefined) {
      let result: ReserveResult | undefined;
      try {
        result = await this.#track(this.#store.reserve(request));
      } catch (error) {
        waiter.lastStoreError = isUnavailable(error) ? (error as Error) : asStoreError(error);
      }
      if (result?.ok) {
        await this.#hand(waiter, result);
        return;
      }
      if (result !== undefined || isUnavailable(waiter.lastStoreError)) this.#note(waiter, result);
    }
    if (!this.#remove(waiter)) return;
    const storeError = waiter.lastStoreError;
    if (storeError !== undefined && !isUnavailable(storeError)) {
      waiter.reject(storeError);
      return;
    }
    const own = this.#remaining(waiter);
    // Tried on every pair: the store's answer. On some: the sooner of its answer and the waiter ahead's.
    // On none (every pair held by earlier waiters): no sooner than the waiter ahead.
    const retryAfterMs = request === waiter.request ? own : request !== undefined ? Math.min(own, aheadMs) : Math.max(own, aheadMs);
    waiter.reject(exhausted(retryAfterMs, waiter.deadline - waiter.since, waiter.plan, storeError));
  }

  /** What the store last said for a waiter, less the time passed since. */
  #remaining(waiter: Waiter): number {
    const { lastRetryAfterMs } = waiter;
    return Number.isFinite(lastRetryAfterMs) ? Math.max(0, lastRetryAfterMs - (this.#clock.now() - waiter.lastAskedAt)) : lastRetryAfterMs;
  }

  /**
   * The pairs that waiters queued before this one still wait for, and the latest of their remaining waits
   * among those that want a pair this one wants.
   */
  #ahead(waiter: Waiter): { blocked: Set<string>; aheadMs: number } {
    const blocked = new Set<string>();
    let aheadMs = 0;
    for (const other of this.#queue) {
      if (other === waiter) break;
      if (!other.queued) continue;
      for (const key of other.keys) blocked.add(key);
      if (other.keys.some((k) => waiter.keys.includes(k))) aheadMs = Math.max(aheadMs, this.#remaining(other));
    }
    return { blocked, aheadMs };
  }

  /**
   * Router closing: reject every waiter, and every later acquire, with ROUTER_CLOSED (a reservation a
   * remote store grants after this is given back). Resolves once the store calls already made have
   * answered (and what they granted was given back), so the store can close after it.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.();
    this.#timer = undefined;
    for (const waiter of [...this.#queue]) {
      if (this.#remove(waiter)) waiter.reject(new RouterError('ROUTER_CLOSED', 'The router was closed while this call waited for quota.'));
    }
    while (this.#busy.size > 0) await Promise.allSettled([...this.#busy]);
  }
}
