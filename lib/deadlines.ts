/**
 * One fixed timeout over many promises or watched operations, with one timer: the Redis store bounds its
 * commands with it, the router its attempts. A timer per command (setTimeout, then clearTimeout when the
 * answer comes) cost the Redis store 20–35 µs of CPU per decision on this project's machine; here a
 * command costs a slot in a ring, and the timer fires about once per timeout while commands keep coming.
 *
 * Every bound promise has the same timeout, so deadlines are added in order: the ring is a FIFO, the
 * timer waits for the oldest entry still pending, and answered entries are skipped when it fires.
 */
import { monotonicClock, type Clock } from './clock.js';

export class Deadlines {
  readonly #ms: number;
  readonly #timeoutError: () => Error;
  /** Capacity is a power of two; entry `seq` lives in slot `seq & mask` while `head <= seq < tail`. */
  #mask = 255;
  #deadlines = new Float64Array(256);
  #seqs = new Float64Array(256);
  #rejects: Array<((error: Error) => void) | undefined> = new Array<((error: Error) => void) | undefined>(256).fill(undefined);
  #head = 0;
  #tail = 0;
  #cancelTimer: (() => void) | undefined;
  readonly #clock: Clock;

  /**
   * @param ms the timeout of every bound promise
   * @param timeoutError the error a promise that did not settle in time rejects with
   * @param clock the time and the timer (tests inject a FakeClock and advance it)
   * @default clock `performance.now()` and an unref'd `setTimeout`
   */
  constructor(ms: number, timeoutError: () => Error, clock: Clock = monotonicClock) {
    this.#ms = ms;
    this.#timeoutError = timeoutError;
    this.#clock = clock;
  }

  /** Entries not yet answered nor timed out (answered ones waiting to be skipped are not counted). */
  get pending(): number {
    let count = 0;
    for (let seq = this.#head; seq < this.#tail; seq++) if (this.#rejects[seq & this.#mask] !== undefined) count++;
    return count;
  }

  /** `promise`, or a rejection with `timeoutError()` if it has not settled within the timeout. */
  bound<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const seq = this.#push(reject);
      promise.then(
        (value) => {
          this.#answered(seq);
          resolve(value);
        },
        (error: unknown) => {
          this.#answered(seq);
          reject(error);
        },
      );
    });
  }

  /**
   * Call `onTimeout` with `timeoutError()` if {@link Deadlines.done} is not called with the returned id
   * within the timeout (the router aborts an attempt's AbortController this way).
   */
  watch(onTimeout: (error: Error) => void): number {
    return this.#push(onTimeout);
  }

  /** The watched operation `id` finished in time: its callback will not be called. */
  done(id: number): void {
    this.#answered(id);
  }

  /** Reject every pending promise now with `error` (default: the timeout error) and stop the timer. */
  clear(error?: () => Error): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    for (let seq = this.#head; seq < this.#tail; seq++) {
      const slot = seq & this.#mask;
      const reject = this.#rejects[slot];
      this.#rejects[slot] = undefined;
      reject?.((error ?? this.#timeoutError)());
    }
    this.#head = this.#tail;
  }

  #push(reject: (error: Error) => void): number {
    if (this.#tail - this.#head > this.#mask) this.#grow();
    const seq = this.#tail++;
    const slot = seq & this.#mask;
    this.#deadlines[slot] = this.#clock.now() + this.#ms;
    this.#seqs[slot] = seq;
    this.#rejects[slot] = reject;
    if (this.#cancelTimer === undefined) this.#arm(this.#ms);
    return seq;
  }

  #answered(seq: number): void {
    const slot = seq & this.#mask;
    // The slot may hold a later entry by now (this one timed out and was passed): only clear our own.
    if (seq >= this.#head && this.#seqs[slot] === seq) this.#rejects[slot] = undefined;
  }

  #grow(): void {
    const capacity = (this.#mask + 1) * 2;
    const mask = capacity - 1;
    const deadlines = new Float64Array(capacity);
    const seqs = new Float64Array(capacity);
    const rejects = new Array<((error: Error) => void) | undefined>(capacity).fill(undefined);
    for (let seq = this.#head; seq < this.#tail; seq++) {
      const from = seq & this.#mask;
      const to = seq & mask;
      deadlines[to] = this.#deadlines[from] as number;
      seqs[to] = seq;
      rejects[to] = this.#rejects[from];
    }
    this.#mask = mask;
    this.#deadlines = deadlines;
    this.#seqs = seqs;
    this.#rejects = rejects;
  }

  #arm(ms: number): void {
    this.#cancelTimer = this.#clock.setTimer(() => this.#fire(), Math.max(1, Math.ceil(ms)));
  }

  #fire(): void {
    this.#cancelTimer = undefined;
    const now = this.#clock.now();
    while (this.#head < this.#tail) {
      const slot = this.#head & this.#mask;
      const reject = this.#rejects[slot];
      if (reject !== undefined) {
        // setTimeout may fire up to a millisecond early by this clock.
        if ((this.#deadlines[slot] as number) > now + 1) break;
        this.#rejects[slot] = undefined;
        reject(this.#timeoutError());
      }
      this.#head++;
    }
    // Sequence numbers only grow (never reset when the ring empties): a late answer to an entry that
    // timed out must never match a newer entry in the same slot.
    if (this.#head < this.#tail) this.#arm((this.#deadlines[this.#head & this.#mask] as number) - now);
  }
}
