/**
 * The options of the Redis store: their types, defaults and validation (once, in the constructor), and
 * the events the store emits about its connection.
 */
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { Clock } from '../../clock.js';
import type { StoreUnavailableError } from '../../errors.js';
import type { StoreOperation } from '../store-events.js';

/** The store operations, as named in events. */
export type RedisStoreOperation = StoreOperation;

/** Something the store wants its owner to know about its connection to Redis. */
export type RedisStoreEvent =
  | {
      /** An operation could not reach Redis (each failure; the operation rejects with `error`). */
      readonly type: 'storeError';
      readonly operation: RedisStoreOperation;
      readonly error: StoreUnavailableError;
    }
  | {
      /** Redis answers again after a failure; `replayed` settles/releases kept during the outage were sent. */
      readonly type: 'recovered';
      /** From the first failure to the first answer, in local time (see time.ts). */
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
   * Prefix of every key (see the key layout in keys.ts). Stores with different prefixes share nothing.
   * @default 'mr:'
   */
  readonly keyPrefix?: string;
  /**
   * The time source (see time.ts). Leave it unset in production: each script then reads Redis's own clock
   * (`TIME`), the one clock every instance of a fleet shares, so sub-second windows do not depend on host
   * clock skew, and grants end on a monotonic local clock. Tests pass a FakeClock (the windows and the grant
   * timers then follow it); every instance sharing a prefix must then use the same clock.
   * @default Redis server time
   */
  readonly clock?: Clock;
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

/** The options with their defaults, validated. */
export interface ResolvedRedisStoreOptions {
  readonly redis: Redis | Cluster | RedisOptions | string;
  readonly keyPrefix: string;
  readonly clock: Clock | undefined;
  readonly onEvent: ((event: RedisStoreEvent) => void) | undefined;
  readonly commandTimeoutMs: number;
  readonly reservationTtlMs: number;
  readonly localGrants: boolean;
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';

/** Defaults and validation: a misused option is a TypeError naming it and the value received. */
export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('RedisStore: options must be an object');
  const { redis = DEFAULT_URL, keyPrefix = 'mr:', clock, onEvent, commandTimeoutMs = 1_000, reservationTtlMs = 600_000, localGrants = true } = options;
  if (typeof localGrants !== 'boolean') throw new TypeError(`RedisStore: localGrants must be a boolean, received ${String(localGrants)}`);
  if (typeof keyPrefix !== 'string' || /[{}\s]/.test(keyPrefix)) {
    throw new TypeError(`RedisStore: keyPrefix must be a string without braces or whitespace, received ${JSON.stringify(keyPrefix)}`);
  }
  if (!(typeof commandTimeoutMs === 'number' && commandTimeoutMs > 0 && commandTimeoutMs <= 2_147_483_647)) {
    throw new TypeError(`RedisStore: commandTimeoutMs must be a positive number of ms up to 2147483647 (a timer's limit), received ${String(commandTimeoutMs)}`);
  }
  if (clock !== undefined && (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function' || typeof clock.setTimer !== 'function')) {
    throw new TypeError('RedisStore: clock must be a Clock with now() and setTimer() methods');
  }
  if (!(Number.isSafeInteger(reservationTtlMs) && reservationTtlMs > 0)) {
    throw new TypeError(`RedisStore: reservationTtlMs must be a positive integer of ms, received ${String(reservationTtlMs)}`);
  }
  if (onEvent !== undefined && typeof onEvent !== 'function') {
    throw new TypeError(`RedisStore: onEvent must be a function, received ${typeof onEvent}`);
  }
  return { redis, keyPrefix, clock, onEvent, commandTimeoutMs, reservationTtlMs, localGrants };
}
