/**
 * The emulator's windows, the ways an upstream can count: a fixed window (the clock's second or minute,
 * shifted by a phase, or the calendar month UTC) that starts over at each boundary, or a sliding log
 * that remembers every charge for exactly one period after it was made. Both keep exact counts: they
 * play the upstream, so they share nothing with the router's bucketed arithmetic (lib/quota), and a
 * bug there cannot hide behind the same bug here.
 *
 * A charge returns a handle, so that an upstream that corrects its charge after the call (prompt +
 * `max_tokens` at admission, the real usage afterwards) refunds it where it was made.
 */

/** Where one charge was made: the window's own reference to it, for {@link MeterWindow.correct}. */
export type ChargeHandle = number | SlidingEntry;

/** One metered count. Every method takes the instant it acts at; time never goes backwards. */
export interface MeterWindow {
  /** What the window holds at `now`. */
  used(now: number): number;
  /** Add `amount` at `now`. */
  charge(now: number, amount: number): ChargeHandle;
  /** Change an earlier charge by `delta` (negative refunds), if it still counts at `now`; never below 0. */
  correct(handle: ChargeHandle, now: number, delta: number): void;
  /** ms from `now` until `cost` more fits under `limit`: 0 when it fits, Infinity when it never will. */
  retryAfterMs(now: number, cost: number, limit: number): number;
  /** ms from `now` until the window next gives capacity back (its boundary; a log's oldest charge leaving). */
  resetMs(now: number): number;
}

/** How a minute window counts: the upstream shapes the emulator offers. */
export type WindowShape = 'fixed' | 'sliding';

/**
 * A window that starts over at every boundary `phaseMs + k * periodMs` (the month: 00:00 UTC on the 1st).
 * A charge belongs to the period it was made in; correcting it after the boundary changes nothing.
 */
export class FixedWindow implements MeterWindow {
  readonly #periodMs: number | 'month';
  readonly #phaseMs: number;
  #index = Number.NEGATIVE_INFINITY;
  #used = 0;
  // The current calendar month as [start, end), recomputed only when the clock leaves it.
  #monthStart = 0;
  #monthEnd = -1;

  constructor(periodMs: number | 'month', phaseMs = 0) {
    this.#periodMs = periodMs;
    this.#phaseMs = phaseMs;
  }

  used(now: number): number {
    this.#roll(now);
    return this.#used;
  }

  charge(now: number, amount: number): ChargeHandle {
    this.#roll(now);
    this.#used += amount;
    return this.#index;
  }

  correct(handle: ChargeHandle, now: number, delta: number): void {
    this.#roll(now);
    if (handle === this.#index) this.#used = Math.max(0, this.#used + delta);
  }

  retryAfterMs(now: number, cost: number, limit: number): number {
    if (cost > limit) return Number.POSITIVE_INFINITY;
    return this.used(now) + cost <= limit ? 0 : this.resetMs(now);
  }

  resetMs(now: number): number {
    this.#roll(now);
    return this.#endOf(this.#index) - now;
  }

  /** Start over when `now` is in another period. */
  #roll(now: number): void {
    const index = this.#indexOf(now);
    if (index !== this.#index) {
      this.#index = index;
      this.#used = 0;
    }
  }

  #indexOf(now: number): number {
    if (this.#periodMs !== 'month') return Math.floor((now - this.#phaseMs) / this.#periodMs);
    if (now < this.#monthStart || now >= this.#monthEnd) {
      const date = new Date(now);
      this.#monthStart = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
      this.#monthEnd = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    }
    return this.#monthStart;
  }

  #endOf(index: number): number {
    return this.#periodMs === 'month' ? this.#monthEnd : (index + 1) * this.#periodMs + this.#phaseMs;
  }
}

/** One charge of a sliding log. */
export interface SlidingEntry {
  readonly at: number;
  amount: number;
}

/**
 * A log of every charge of the last `periodMs`: a charge made at `t` counts while `now < t + periodMs`,
 * then leaves on the millisecond. Memory grows with the rate (an upstream can afford it; the router's
 * windows cannot, which is the point of comparing them).
 */
export class SlidingLog implements MeterWindow {
  readonly #periodMs: number;
  #entries: SlidingEntry[] = [];
  /** Index of the oldest entry still counted. */
  #head = 0;
  #total = 0;

  constructor(periodMs: number) {
    this.#periodMs = periodMs;
  }

  used(now: number): number {
    this.#expire(now);
    return this.#total;
  }

  charge(now: number, amount: number): ChargeHandle {
    this.#expire(now);
    const entry: SlidingEntry = { at: now, amount };
    this.#entries.push(entry);
    this.#total += amount;
    return entry;
  }

  correct(handle: ChargeHandle, now: number, delta: number): void {
    this.#expire(now);
    if (typeof handle === 'number' || handle.at + this.#periodMs <= now) return;
    const next = Math.max(0, handle.amount + delta);
    this.#total += next - handle.amount;
    handle.amount = next;
  }

  retryAfterMs(now: number, cost: number, limit: number): number {
    if (cost > limit) return Number.POSITIVE_INFINITY;
    let held = this.used(now);
    if (held + cost <= limit) return 0;
    // The oldest charges leave first: the answer is the moment the one that makes room leaves.
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i] as SlidingEntry;
      held -= entry.amount;
      if (held + cost <= limit) return entry.at + this.#periodMs - now;
    }
    return this.#periodMs;
  }

  resetMs(now: number): number {
    this.#expire(now);
    const oldest = this.#entries[this.#head];
    return oldest === undefined ? this.#periodMs : oldest.at + this.#periodMs - now;
  }

  #expire(now: number): void {
    const entries = this.#entries;
    let head = this.#head;
    while (head < entries.length && (entries[head] as SlidingEntry).at + this.#periodMs <= now) {
      this.#total -= (entries[head] as SlidingEntry).amount;
      head++;
    }
    if (head === entries.length) {
      this.#entries = [];
      this.#head = 0;
      this.#total = 0; // no drift left over from corrections once the log is empty
    } else if (head > 1024 && head * 2 > entries.length) {
      // Compact once most of the array is gone: amortised O(1) per charge.
      this.#entries = entries.slice(head);
      this.#head = 0;
    } else {
      this.#head = head;
    }
  }
}

/** A minute window of the given shape (`phaseMs` shifts a fixed window's boundaries). */
export function minuteWindow(shape: WindowShape, phaseMs: number): MeterWindow {
  return shape === 'sliding' ? new SlidingLog(60_000) : new FixedWindow(60_000, phaseMs);
}
