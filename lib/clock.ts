/**
 * Time is injected everywhere below the CLI: the quota windows, the router's waits and the emulator's
 * metering read a {@link Clock}, so tests advance a fake clock instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (like `Date.now()`). */
  now(): number;
  /**
   * Call `callback` once `ms` milliseconds of this clock have passed. Returns a function that cancels it.
   * The system clock uses `setTimeout`; a fake clock fires it when advanced past the deadline.
   */
  setTimer(callback: () => void, ms: number): () => void;
}

/** The real clock: `Date.now()` and `setTimeout` (unref'd, so a pending wait never holds the process open). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, ms) {
    const handle = setTimeout(callback, Math.max(0, ms));
    return () => clearTimeout(handle);
  },
};

/**
 * A monotonic clock for durations only (its now() is `performance.now()`, not epoch ms): it never steps
 * when the host's time is set. Its timer is unref'd: a timer that outlives the work it bounds must not keep
 * a finished process alive (whatever really waits, a socket, keeps the process alive by itself).
 */
export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimer(callback, ms) {
    const handle = setTimeout(callback, Math.max(0, ms));
    handle.unref?.();
    return () => clearTimeout(handle);
  },
};

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every timer that falls due, in order,
 * moving `now()` to each timer's deadline before calling it.
 */
export class FakeClock implements Clock {
  #now: number;
  #timers: FakeTimer[] = [];
  #nextId = 1;

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.#now = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, ms: number): () => void {
    const timer: FakeTimer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t.id !== timer.id);
    };
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Move time forward by `ms`, firing due timers in deadline order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new TypeError(`FakeClock.advance: ms must be >= 0, received ${ms}`);
    this.#runUntil(this.#now + ms);
  }

  /** Move time to an absolute instant (never backwards). */
  set(at: number | Date): void {
    const target = typeof at === 'number' ? at : at.getTime();
    if (target < this.#now) throw new TypeError(`FakeClock.set: time cannot go backwards (${target} < ${this.#now})`);
    this.#runUntil(target);
  }

  /**
   * Advance in steps, letting promise callbacks run between timers. Use when the code under test
   * schedules new timers from async continuations.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#now + ms;
    do await flushMicrotasks();
    while (this.#runNext(target));
    this.#now = target;
    await flushMicrotasks();
  }

  #nextDue(limit: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (t.at <= limit && (best === undefined || t.at < best.at || (t.at === best.at && t.id < best.id))) best = t;
    }
    return best;
  }

  /** Fires the earliest timer due by `limit` (time moves to it); false when none is due. */
  #runNext(limit: number): boolean {
    const due = this.#nextDue(limit);
    if (due === undefined) return false;
    this.#timers = this.#timers.filter((t) => t.id !== due.id);
    this.#now = Math.max(this.#now, due.at);
    due.callback();
    return true;
  }

  #runUntil(target: number): void {
    while (this.#runNext(target));
    this.#now = target;
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}
