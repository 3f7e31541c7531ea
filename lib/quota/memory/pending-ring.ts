/**
 * The memory store's pending reservations, found by the number in their id: a ring of recent ones,
 * older ones (that outlived their slot) in a Map kept in the order they were made.
 */
import { quotaInvalid } from '../validate.js';
import type { Reservation } from '../types.js';

/** What settle and release need to touch exactly the buckets reserve charged. */
export interface PendingReservation {
  /** The number in the reservation's id (`m<seq>`). */
  readonly seq: number;
  /** The chosen candidate's `refs` when it was charged (see candidate-refs.ts). */
  readonly refs: readonly number[];
  readonly tokens: number;
  readonly requests: number;
  readonly at: number;
}

/** Slots of the ring (a power of two: a slot is `seq & (PENDING_RING - 1)`). */
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

/** Pending reservations with their expiry (reservationTtlMs). */
export class PendingRing {
  readonly #ring: (PendingReservation | undefined)[] = new Array<PendingReservation | undefined>(PENDING_RING).fill(undefined);
  readonly #older = new Map<number, PendingReservation>();
  /** How many are pending. */
  count = 0;
  /** When the oldest pending reservation expires (Infinity when none is pending): see {@link PendingRing.reap}. */
  nextExpiry = Number.POSITIVE_INFINITY;

  constructor(readonly ttlMs: number) {}

  add(pending: PendingReservation): void {
    const slot = pending.seq & (PENDING_RING - 1);
    const older = this.#ring[slot];
    if (older !== undefined) this.#older.set(older.seq, older);
    this.#ring[slot] = pending;
    this.count++;
    if (this.nextExpiry === Number.POSITIVE_INFINITY) this.nextExpiry = pending.at + this.ttlMs;
  }

  /** Remove and return a pending reservation; undefined when already settled or released (idempotence). */
  take(reservation: Reservation): PendingReservation | undefined {
    if (reservation === null || typeof reservation !== 'object' || typeof reservation.id !== 'string') {
      throw quotaInvalid('reservation', 'must be a Reservation returned by reserve');
    }
    const seq = sequenceOf(reservation.id);
    if (seq < 0) return undefined;
    const slot = seq & (PENDING_RING - 1);
    let pending = this.#ring[slot];
    if (pending !== undefined && pending.seq === seq) {
      this.#ring[slot] = undefined;
    } else {
      pending = this.#older.get(seq);
      if (pending === undefined) return undefined;
      this.#older.delete(seq);
    }
    this.count--;
    return pending;
  }

  /**
   * Remove the reservations pending for ttlMs or longer and hand each to `forget`. Runs when the
   * oldest one expires (the store checks `nextExpiry`), so it costs nothing while reservations are
   * settled in time: one pass over the ring and the older ones, which are in the order they were made,
   * so the pass over them stops at the first one still valid.
   */
  reap(now: number, forget: (pending: PendingReservation) => void): void {
    const cutoff = now - this.ttlMs;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [seq, pending] of this.#older) {
      if (pending.at > cutoff) {
        oldest = pending.at;
        break;
      }
      this.#older.delete(seq);
      this.count--;
      forget(pending);
    }
    for (let slot = 0; slot < PENDING_RING; slot++) {
      const pending = this.#ring[slot];
      if (pending === undefined) continue;
      if (pending.at > cutoff) {
        if (pending.at < oldest) oldest = pending.at;
        continue;
      }
      this.#ring[slot] = undefined;
      this.count--;
      forget(pending);
    }
    this.nextExpiry = oldest + this.ttlMs;
  }
}
