/**
 * Which clock the Redis store reads, for what: written once, here. Everything else asks a {@link StoreTime}.
 *
 * | time | what it decides | source |
 * |---|---|---|
 * | window time | every bucket, limit, block and reservation (`Reservation.at`, `retryAfterMs`) | Redis `TIME`, read inside each script; the injected `clock`'s now() instead when there is one (sent as ARGV[1]) |
 * | local time | a grant's deadline and the timer that ends it, the daily refresh of the workspace registry, how long an outage lasted | the injected `clock` (now() and setTimer()), else a monotonic clock |
 * | real time | `commandTimeoutMs` (each command, the wait for a connection, QUIT) | always a real timer: it bounds a socket, which a fake clock cannot make answer |
 *
 * Why Redis's clock for the windows: the hosts of a fleet drift apart by milliseconds to seconds, and a
 * window of 50 ms sub-buckets judged by several clocks would admit or refuse by the skew rather than by
 * usage. Redis's clock is the one every instance already shares, and reading it inside the script costs
 * no round trip and cannot race with the check. Key lifetimes (PEXPIRE) are durations computed from the
 * same time, applied by Redis in its own real time.
 *
 * A grant's deadline is local: it is taken locally, without asking Redis. It counts from the local time
 * read before the grant's script left, so it ends no later than the bucket it charged in Redis's time.
 *
 * Tests inject a FakeClock: the scripts take its time, grants end when it is advanced past their deadline,
 * and every instance sharing a key prefix must then use the same clock.
 */
import { monotonicClock, type Clock } from '../../clock.js';

/** The clocks of one store. */
export interface StoreTime {
  /** ARGV[1] of every script: the injected clock's time, or '' (the script reads Redis `TIME`). */
  scriptNow(): number | '';
  /** This process's clock: grant deadlines and timers, the registry refresh, outage lengths. */
  readonly local: Clock;
}

/** The clocks of a store given `clock` (the `clock` option; undefined in production). */
export function storeTime(clock: Clock | undefined): StoreTime {
  if (clock === undefined) return { scriptNow: () => '', local: monotonicClock };
  return { scriptNow: () => clock.now(), local: clock };
}
