/**
 * Fail-open around any {@link QuotaStore}: while the primary (say a Redis store) cannot be reached, a
 * fallback (say a memory store) answers, and the primary takes over again once it answers. The model is
 * rate-limiter-flexible's "insurance" limiter, kept outside every store so that any store gets it and no
 * store has to know about another.
 *
 * What a fleet gives up meanwhile: each process meters alone in its fallback, so together they can exceed
 * the workspace's limits until the primary is back. Without the wrapper a store fails closed: it rejects
 * with StoreUnavailableError and the router waits within its bound, then throws.
 *
 * @example
 * ```ts
 * import { MemoryStore, createFallbackStore } from 'mistral-router';
 * import { RedisStore } from 'mistral-router/redis';
 * const store = createFallbackStore(new RedisStore({ redis: process.env.REDIS_URL }), new MemoryStore());
 * store.on('fallback', (event) => console.warn('quota is local until Redis answers:', event.error.message));
 * ```
 */
import { systemClock, type Clock } from '../clock.js';
import { RouterError, StoreUnavailableError } from '../errors.js';
import { StoreEvents, type StoreOperation } from './store-events.js';
import type { QuotaStore, Reservation, ReserveRequest, ReserveResult, UpstreamObservation, WindowSnapshot } from './types.js';

/** The store operations, as named in events. */
export type FallbackStoreOperation = StoreOperation;

/** What the wrapper tells its owner when it switches between its stores. */
export type FallbackStoreEvent =
  | {
      /** The primary failed as unavailable: the fallback answers from now on (once per outage). */
      readonly type: 'fallback';
      readonly operation: FallbackStoreOperation;
      readonly error: Error;
    }
  | {
      /** The primary answered again after an outage: it answers from now on. */
      readonly type: 'recovered';
      /** From the first failure to this answer, on the wrapper's clock. */
      readonly unavailableForMs: number;
    };

/** The event names of {@link FallbackStoreEvent}. */
export type FallbackStoreEventType = FallbackStoreEvent['type'];

/** Options of {@link createFallbackStore}. */
export interface FallbackStoreOptions {
  /**
   * Which failures of the primary send a call to the fallback. Any other failure is thrown as it is: a
   * refused command (StoreError) or bad input (RouterError QUOTA_INVALID, TypeError) would fail in the
   * fallback just the same, or should not be hidden.
   * @default a StoreUnavailableError (code `STORE_UNAVAILABLE`, also from another copy of the package)
   */
  readonly isUnavailable?: (error: unknown) => boolean;
  /**
   * While the primary is unavailable, a call tries it again once this long has passed since its last
   * failure (one call at a time); the other calls go straight to the fallback, so that an outage does not
   * make every call wait for the primary's own timeout. 0: every call tries the primary first.
   * @default 1000
   */
  readonly retryAfterMs?: number;
  /**
   * The time of `retryAfterMs` and of `unavailableForMs`.
   * @default systemClock
   */
  readonly clock?: Clock;
  /** Called with every {@link FallbackStoreEvent} (also available through `store.on(type, listener)`). */
  readonly onEvent?: (event: FallbackStoreEvent) => void;
}

const STORE_METHODS = ['reserve', 'settle', 'release', 'observe', 'snapshot', 'pendingReservations', 'close'] as const;

/**
 * A {@link QuotaStore} answering from `primary`, or from `fallback` while `primary` is unavailable.
 *
 * - reserve, observe, snapshot: the primary; on an unavailable failure, the fallback. While the primary
 *   is unavailable they go to the fallback directly, but for one call every `retryAfterMs` that tries the
 *   primary first: the first one it answers ends the outage.
 * - settle, release: in the store that issued the reservation (the object reserve returned), whatever
 *   happened since. A settle the primary cannot take resolves all the same (fail-open): the primary keeps
 *   it or forgets it (a RedisStore keeps it and sends it when Redis answers; its reservation TTL is the
 *   backstop).
 * - pendingReservations: the fallback's plus the primary's (when it answers).
 * - close: both.
 */
export class FallbackStore extends StoreEvents<FallbackStoreEvent> implements QuotaStore {
  readonly #primary: QuotaStore;
  readonly #fallback: QuotaStore;
  readonly #isUnavailable: (error: unknown) => boolean;
  readonly #retryAfterMs: number;
  readonly #clock: Clock;
  /** Reservations the fallback issued: settled there. */
  readonly #issued = new WeakSet<Reservation>();
  /** The outage: its first and its latest failure (clock ms); undefined while the primary answers. */
  #down: { readonly since: number; last: number } | undefined;
  /** A call is trying the primary during an outage: the others go to the fallback. */
  #probing = false;

  constructor(primary: QuotaStore, fallback: QuotaStore, options: FallbackStoreOptions = {}) {
    super();
    checkStore(primary, 'primary');
    checkStore(fallback, 'fallback');
    if (primary === fallback) throw new TypeError('createFallbackStore: primary and fallback must be two stores, received the same one twice');
    if (options === null || typeof options !== 'object') throw new TypeError('createFallbackStore: options must be an object');
    const { isUnavailable = isStoreUnavailable, retryAfterMs = 1_000, clock = systemClock, onEvent } = options;
    if (typeof isUnavailable !== 'function') throw new TypeError(`createFallbackStore: isUnavailable must be a function, received ${typeof isUnavailable}`);
    if (!(typeof retryAfterMs === 'number' && retryAfterMs >= 0 && Number.isFinite(retryAfterMs))) {
      throw new TypeError(`createFallbackStore: retryAfterMs must be a finite number of ms >= 0, received ${String(retryAfterMs)}`);
    }
    if (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function') throw new TypeError('createFallbackStore: clock must be a Clock with a now() method');
    if (onEvent !== undefined && typeof onEvent !== 'function') throw new TypeError(`createFallbackStore: onEvent must be a function, received ${typeof onEvent}`);
    this.#primary = primary;
    this.#fallback = fallback;
    this.#isUnavailable = isUnavailable;
    this.#retryAfterMs = retryAfterMs;
    this.#clock = clock;
    this.listenAll(['fallback', 'recovered'], onEvent);
  }

  /** Whether the primary is unavailable (calls are answered by the fallback). */
  get usingFallback(): boolean {
    return this.#down !== undefined;
  }

  reserve(request: ReserveRequest): Promise<ReserveResult> {
    return this.#either(
      'reserve',
      () => this.#primary.reserve(request),
      async () => {
        const result = await this.#fallback.reserve(request);
        if (result.ok) this.#issued.add(result.reservation);
        return result;
      },
    );
  }

  settle(reservation: Reservation, actualTokens: number): Promise<void> {
    if (this.#issued.has(reservation)) return this.#fallback.settle(reservation, actualTokens);
    return this.#inPrimary('settle', () => this.#primary.settle(reservation, actualTokens));
  }

  release(reservation: Reservation): Promise<void> {
    if (this.#issued.has(reservation)) return this.#fallback.release(reservation);
    return this.#inPrimary('release', () => this.#primary.release(reservation));
  }

  observe(observation: UpstreamObservation): Promise<void> {
    return this.#either(
      'observe',
      () => this.#primary.observe(observation),
      () => this.#fallback.observe(observation),
    );
  }

  snapshot(workspace?: string): Promise<WindowSnapshot[]> {
    return this.#either(
      'snapshot',
      () => this.#primary.snapshot(workspace),
      () => this.#fallback.snapshot(workspace),
    );
  }

  async pendingReservations(): Promise<number> {
    const local = await this.#fallback.pendingReservations();
    return local + (await this.#either('pendingReservations', () => this.#primary.pendingReservations(), async () => 0));
  }

  /** Closes both stores (both are closed even when one fails; the first failure is thrown). */
  async close(): Promise<void> {
    const outcomes = await Promise.allSettled([this.#primary.close(), this.#fallback.close()]);
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** The primary unless it is unavailable (and not due for another try); the fallback when it fails so. */
  async #either<T>(operation: FallbackStoreOperation, primary: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    const down = this.#down;
    if (down !== undefined && (this.#probing || this.#clock.now() - down.last < this.#retryAfterMs)) return fallback();
    const probe = down !== undefined;
    if (probe) this.#probing = true;
    try {
      const value = await primary();
      this.#answered();
      return value;
    } catch (error) {
      if (!this.#isUnavailable(error)) throw error;
      this.#failed(operation, error);
    } finally {
      if (probe) this.#probing = false;
    }
    return fallback();
  }

  /**
   * A settle or release of the primary's reservation: only the primary can take it. An unavailable
   * failure starts (or continues) the outage and is not thrown; an answer does not end an outage, since
   * a store may take it without reaching its server (a RedisStore keeps it for later).
   */
  async #inPrimary(operation: FallbackStoreOperation, call: () => Promise<void>): Promise<void> {
    try {
      await call();
    } catch (error) {
      if (!this.#isUnavailable(error)) throw error;
      this.#failed(operation, error);
    }
  }

  #failed(operation: FallbackStoreOperation, error: unknown): void {
    const now = this.#clock.now();
    if (this.#down !== undefined) {
      this.#down.last = now;
      return;
    }
    this.#down = { since: now, last: now };
    const reason = error instanceof Error ? error : new StoreUnavailableError(`FallbackStore: the primary store failed ${operation}: ${String(error)}`, { cause: error });
    this.emit({ type: 'fallback', operation, error: reason });
  }

  #answered(): void {
    const down = this.#down;
    if (down === undefined) return;
    this.#down = undefined;
    this.emit({ type: 'recovered', unavailableForMs: this.#clock.now() - down.since });
  }
}

/**
 * Wraps `primary` so that `fallback` answers while `primary` is unavailable (fail-open). See
 * {@link FallbackStore} for what goes where, and {@link FallbackStoreOptions}.
 */
export function createFallbackStore(primary: QuotaStore, fallback: QuotaStore, options: FallbackStoreOptions = {}): FallbackStore {
  return new FallbackStore(primary, fallback, options);
}

/** The default of `isUnavailable`: an outage, as every store of this package reports one. */
function isStoreUnavailable(error: unknown): boolean {
  return error instanceof StoreUnavailableError || (RouterError.isInstance(error) && error.code === 'STORE_UNAVAILABLE');
}

function checkStore(store: QuotaStore, name: string): void {
  const missing = store === null || typeof store !== 'object' ? STORE_METHODS : STORE_METHODS.filter((method) => typeof store[method] !== 'function');
  if (missing.length > 0) throw new TypeError(`createFallbackStore: ${name} must be a QuotaStore, received ${store === null ? 'null' : typeof store} without ${missing.join(', ')}`);
}
