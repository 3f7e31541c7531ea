/**
 * The calls of the last period as one charge rule counts them (upstream-rule.ts), in the two forms its
 * hypotheses ask of them: the sum since an instant (a sliding log: since one period ago), and the span of
 * fixed-window starts that would hold exactly a given amount.
 *
 * `ChargeSums` answers both in O(log n): the calls' distinct instants in order with running sums, so the
 * sum since any instant is a binary search and a subtraction. A call is inserted where its instant goes
 * (answers come in nearly in send order: the cost is the calls that overtook it, not the window), and the
 * instants one period old leave from the front. Exact only for amounts that are whole non-negative
 * numbers (sums of them are exact in a double and never fall along the instants); the learner recounts
 * (`recount`) while any call it remembers has another amount, or when judging an instant earlier than one
 * it judged.
 */

/** The start instants (lower, upper] of fixed windows that hold the amount asked (the hull of them). */
export interface StartSpan {
  readonly from: number;
  readonly to: number;
}

/** What the hypotheses of one charge rule ask of the calls they count. */
export interface PeriodCount {
  /** The amount of the calls made after `now - period`. */
  readonly sum: number;
  /**
   * The fixed windows that started at some s in (now - period, now] and hold `expected` (the calls made at
   * or after s): the hull of their starts, or undefined when none does.
   */
  span(expected: number): StartSpan | undefined;
}

/** The largest amount `ChargeSums` takes: sums of a period's calls stay far below 2^53. */
export const MAX_EXACT_AMOUNT = 2 ** 32;

/** Whether `amount` can be counted by `ChargeSums` exactly. */
export function exactAmount(amount: number): boolean {
  return Number.isInteger(amount) && amount >= 0 && amount <= MAX_EXACT_AMOUNT;
}

export class ChargeSums {
  // Distinct instants ascending from #head, and cum[i] the amount at instants at[0..i] (the array's own
  // origin: a compaction moves it).
  #at: number[] = [];
  #cum: number[] = [];
  #head = 0;

  /** Instants counted (the memory bound's measure). */
  get size(): number {
    return this.#at.length - this.#head;
  }

  clear(): void {
    this.#at = [];
    this.#cum = [];
    this.#head = 0;
  }

  /** Count `amount` (exactAmount) at instant `at`. */
  add(at: number, amount: number): void {
    const times = this.#at;
    const cum = this.#cum;
    const end = times.length;
    if (end === this.#head || at > (times[end - 1] as number)) {
      times.push(at);
      cum.push((end === 0 ? 0 : (cum[end - 1] as number)) + amount);
      return;
    }
    // Out of order: from the end, past the instants sent after it (the calls that overtook it).
    let i = end - 1;
    while (i >= this.#head && (times[i] as number) > at) i--;
    if (i < this.#head || (times[i] as number) !== at) {
      i++;
      times.splice(i, 0, at);
      cum.splice(i, 0, (i === 0 ? 0 : (cum[i - 1] as number)) + amount);
      for (let k = i + 1; k <= end; k++) cum[k] = (cum[k] as number) + amount;
      return;
    }
    for (let k = i; k < end; k++) cum[k] = (cum[k] as number) + amount;
  }

  /** Forget the instants at or before `until` (they can no longer count). */
  expire(until: number): void {
    const times = this.#at;
    let head = this.#head;
    while (head < times.length && (times[head] as number) <= until) head++;
    this.#head = head;
    if (head >= 256 && head * 2 >= times.length) {
      // Compact: the running sums restart from the first instant kept, so they stay small.
      const base = this.#cum[head - 1] as number;
      this.#at = times.slice(head);
      this.#cum = this.#cum.slice(head).map((c) => c - base);
      this.#head = 0;
    }
  }

  /** The calls of the period ending at `now` as a PeriodCount (valid until the next add or expire). */
  count(now: number, period: number): PeriodCount {
    const s = this.#firstAfter(now - period);
    const end = this.#at.length;
    const sum = this.#cumBefore(end) - this.#cumBefore(s);
    return { sum, span: (expected) => this.#span(now, period, s, expected) };
  }

  /** Index of the first instant kept after `t`. */
  #firstAfter(t: number): number {
    const times = this.#at;
    let lo = this.#head;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((times[mid] as number) > t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The amount at instants before index `i`. */
  #cumBefore(i: number): number {
    return i === 0 ? 0 : (this.#cum[i - 1] as number);
  }

  /**
   * With instants a_s < ... < a_{end-1} counted, a start in (a_{j-1}, a_j] (a_{s-1} = now - period, a_end =
   * now) holds the instants j.. end-1. Their sum falls with j, so the j that hold `expected` are one run
   * found by two binary searches on the running sums (a run longer than one: calls of amount 0); the span is the first one's lower end to the last
   * one's upper end (only j = end can be empty: a call made at `now` or later).
   */
  #span(now: number, period: number, s: number, expected: number): StartSpan | undefined {
    const end = this.#at.length;
    // S(j), the amount of the instants j.. end-1, exact (whole numbers): compared with `expected` as is.
    const total = this.#cumBefore(end);
    const first = this.#firstAtMost(s, end, total, expected, false);
    if (first > end || total - this.#cumBefore(first) !== expected) return undefined;
    let last = this.#firstAtMost(first, end, total, expected, true) - 1;
    const lower = (j: number): number => (j === s ? now - period : (this.#at[j - 1] as number));
    if (last === end && !(lower(end) < now)) last--;
    if (last < first) return undefined;
    return { from: lower(first), to: last === end ? now : (this.#at[last] as number) };
  }

  /** The first j in [lo, hi] with S(j) <= expected (`strict`: < expected); hi + 1 when none. S falls with j. */
  #firstAtMost(lo: number, hi: number, total: number, expected: number, strict: boolean): number {
    let a = lo;
    let b = hi + 1;
    while (a < b) {
      const mid = (a + b) >> 1;
      const suffix = total - this.#cumBefore(mid);
      if (strict ? suffix < expected : suffix <= expected) b = mid;
      else a = mid + 1;
    }
    return a;
  }
}

/** One call as the learner remembers it. */
export interface CountedCall {
  readonly at: number;
  readonly amount: number;
}

/**
 * The same answers by recounting the calls (any amounts, any instants): what the learner falls back to
 * where ChargeSums is not exact, and what its tests check it against.
 */
export function recount(calls: Iterable<CountedCall>, now: number, period: number): PeriodCount {
  const live: CountedCall[] = [];
  let sum = 0;
  for (const call of calls) {
    if (call.at <= now - period) continue;
    live.push(call);
    sum += call.amount;
  }
  // Calls are in answer order: sorted already, or nearly, and the sort is linear on such input.
  live.sort((a, b) => a.at - b.at);
  return { sum, span: (expected) => recountSpan(live, now, period, expected) };
}

function recountSpan(live: readonly CountedCall[], now: number, period: number, expected: number): StartSpan | undefined {
  let suffix = 0;
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (let k = live.length; k >= 0; k--) {
    // s in (at[k-1], at[k]] (with at[-1] = now - period, at[n] = now) holds the calls k.. n-1.
    if (k < live.length) suffix += (live[k] as CountedCall).amount;
    const lower = k === 0 ? now - period : (live[k - 1] as CountedCall).at;
    const upper = k === live.length ? now : (live[k] as CountedCall).at;
    // (lower, upper] is empty when both calls were made at the same instant: no start between them.
    if (suffix === expected && lower < upper) {
      from = Math.min(from, lower);
      to = Math.max(to, upper);
    }
  }
  return from > to ? undefined : { from, to };
}
