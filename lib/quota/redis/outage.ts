/**
 * When Redis does not answer: what a failure means (an outage, a refusal, bad input), the settles and
 * releases kept meanwhile, and their replay when Redis answers again. The store fails closed: an
 * operation that cannot reach Redis rejects with StoreUnavailableError; fail-open is a wrapper around
 * any store (lib/quota/fallback-store.ts).
 */
import type { Clock } from '../../clock.js';
import { RouterError, StoreError, StoreUnavailableError } from '../../errors.js';
import { isUnavailable } from './connection.js';
import type { RedisStoreEvent, RedisStoreOperation } from './options.js';

/** Settles and releases kept while Redis is unreachable; beyond this the reservation TTL is the backstop. */
const MAX_DEFERRED = 10_000;

export class Outage {
  readonly #clock: Clock;
  readonly #emit: (event: RedisStoreEvent) => void;
  readonly #stopped: () => boolean;
  /** Settles/releases (and grant splits) that could not reach Redis, by id, replayed when it answers. */
  readonly #deferred = new Map<string, () => Promise<unknown>>();
  /** When Redis became unreachable (local time), undefined while it answers. */
  #downSince: number | undefined;

  /** @param stopped true once the store is closed: nothing is replayed then */
  constructor(clock: Clock, emit: (event: RedisStoreEvent) => void, stopped: () => boolean) {
    this.#clock = clock;
    this.#emit = emit;
    this.#stopped = stopped;
  }

  /** Operations waiting for Redis to answer again. */
  get deferred(): number {
    return this.#deferred.size;
  }

  /**
   * Keeps `send` (idempotent: a script applies a reservation once) for the replay, unless something is
   * kept under `id` already. False when there is no room left: the caller gives it up.
   */
  keep(id: string, send: () => Promise<unknown>): boolean {
    if (this.#deferred.has(id)) return true;
    if (this.#deferred.size >= MAX_DEFERRED) return false;
    this.#deferred.set(id, send);
    return true;
  }

  /**
   * Classifies a failure, returning the error the operation rejects with: a Redis outage becomes a
   * StoreUnavailableError (and a `storeError` event); a bad argument (a RouterError or TypeError of the
   * validation) stays as is; anything else Redis answered (`NOPERM`, `WRONGTYPE`, a script error) becomes
   * a {@link StoreError}: waiting would not cure it.
   */
  failed(operation: RedisStoreOperation, error: unknown): Error {
    if (!isUnavailable(error)) {
      if (RouterError.isInstance(error) || error instanceof TypeError) return error;
      const reason = error instanceof Error ? error.message : String(error);
      return new StoreError(`RedisStore: Redis refused ${operation}: ${reason}`, operation, { cause: error });
    }
    const unavailable =
      error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError(`RedisStore: Redis did not answer ${operation}: ${(error as Error).message}`, { cause: error });
    this.#downSince ??= this.#clock.now();
    this.#emit({ type: 'storeError', operation, error: unavailable });
    return unavailable;
  }

  /** Redis answered (a command, or a reconnection): the outage, if there is one, ends with the replay. */
  answered(): void {
    if (this.#downSince !== undefined) void this.#recover();
  }

  async #recover(): Promise<void> {
    if (this.#downSince === undefined || this.#stopped()) return;
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
        this.keep(id, send);
        this.#downSince ??= since;
      }
    }
    if (this.#downSince === undefined) this.#emit({ type: 'recovered', unavailableForMs: this.#clock.now() - since, replayed });
  }
}
