/**
 * Pure window arithmetic shared by every store: which sub-bucket an instant falls in, where calendar
 * months start (UTC), how much a window holds, whether a cost fits, and exactly when it will.
 *
 * Nothing here does I/O or reads the time: every instant is a parameter, so the arithmetic is tested
 * with plain numbers and the Redis Lua can be checked against it. See types.ts for the model.
 */
import { PERIOD_LAYOUT, type WindowPeriod } from './types.js';
import { WINDOW_PERIODS, quotaInvalid } from './validate.js';

const DAY_MS = 86_400_000;

/** True for a calendar year with a 29 February (Gregorian rules). */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Days in a month of a year; `month` is 0-based (0 = January) as in `Date.UTC`. */
export function daysInMonth(year: number, month: number): number {
  // Day 0 of the next month is the last day of this one; Date.UTC normalises month overflow.
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/** Months since January 1970 (UTC) of the instant: the bucket index of a calendar-month window. */
export function monthIndex(at: number): number {
  const date = new Date(at);
  return (date.getUTCFullYear() - 1970) * 12 + date.getUTCMonth();
}

/** Epoch ms of 00:00 UTC on the 1st of the month with this index (see {@link monthIndex}). */
export function monthStart(index: number): number {
  // Date.UTC normalises any month number, negative ones included, to the right year.
  return Date.UTC(1970, index, 1);
}

/**
 * Width of one sub-bucket and how many buckets an admission sums (the current one and the N before it)
 * for a period. The calendar month has one bucket of variable width (`bucketMs` undefined).
 */
export interface WindowGeometry {
  /** The period's length in ms; for `month`, the length of the longest month (31 days). */
  readonly periodMs: number;
  /** Width of a sub-bucket in ms; undefined for the calendar month. */
  readonly bucketMs: number | undefined;
  /** Buckets summed by an admission: N + 1 for sliding periods, 1 for the calendar month. */
  readonly span: number;
}

const GEOMETRY: Readonly<Record<WindowPeriod, WindowGeometry>> = {
  second: geometryOf(PERIOD_LAYOUT.second),
  minute: geometryOf(PERIOD_LAYOUT.minute),
  'rolling-30d': geometryOf(PERIOD_LAYOUT['rolling-30d']),
  month: { periodMs: 31 * DAY_MS, bucketMs: undefined, span: 1 },
};

function geometryOf(layout: { readonly periodMs: number; readonly buckets: number }): WindowGeometry {
  return { periodMs: layout.periodMs, bucketMs: layout.periodMs / layout.buckets, span: layout.buckets + 1 };
}

/** The bucket layout of a period. Throws QUOTA_INVALID for an unknown period. */
export function windowGeometry(period: WindowPeriod): WindowGeometry {
  const geometry = GEOMETRY[period];
  if (geometry === undefined) throw quotaInvalid('period', `unknown window period ${JSON.stringify(period)}; expected one of ${WINDOW_PERIODS.join(', ')}`);
  return geometry;
}

/** Index of the bucket holding instant `at` (ms since the epoch) in a window of this period. */
export function bucketIndex(period: WindowPeriod, at: number): number {
  const { bucketMs } = windowGeometry(period);
  return bucketMs === undefined ? monthIndex(at) : Math.floor(at / bucketMs);
}

/** Epoch ms at which bucket `index` of a window of this period starts. */
export function bucketStart(period: WindowPeriod, index: number): number {
  const { bucketMs } = windowGeometry(period);
  return bucketMs === undefined ? monthStart(index) : index * bucketMs;
}

/**
 * Whether a window with `used` admits `cost` under `limit`. An unknown limit (`null`) admits anything:
 * the window is unmetered until a limit is learned.
 */
export function admits(used: number, cost: number, limit: number | null): boolean {
  return limit === null || used + cost <= limit;
}

/*
 * Window slab layout. A window is a run of doubles in a Float64Array (a "slab", shared by many windows:
 * the memory store packs every window into a few large slabs, so a window is just an offset and the hot
 * path reads one or two cache lines per window instead of chasing objects). The run is a header of
 * {@link WINDOW_HEADER} numbers followed by the ring of `span` sub-buckets. The ring slot of the head
 * (newest) bucket is not kept current: the head bucket lives in the header (`W_CUR`) and is written to
 * its slot when the ring advances, so reserve and settle in the current bucket touch the header only.
 *
 * The fields after W_CUR belong to the store (holds, blocks, limits); the arithmetic below ignores them.
 * Limits use NaN for "unknown" (null).
 */
/*
 * The first eight fields are what reserve and settle read: one cache line when the run is aligned.
 */
/** Generation of the window occupying the run (the store bumps it on reuse; -1 when free). */
export const W_ID = 0;
/** Epoch ms at which the bucket after the head starts (-Infinity before the first advance): below it, nothing to advance. */
export const W_NEXT = 1;
/** Epoch ms at which the head bucket starts. */
export const W_FROM = 2;
/** Running total of the live buckets (the head bucket included). */
export const W_TOTAL = 3;
/** Count of the head bucket. */
export const W_CUR = 4;
/** Store: epoch ms until which a 429 seen upstream blocks the window. */
export const W_BLOCKED = 5;
/** Store: limit learned from upstream headers, NaN when none was. */
export const W_LEARNED = 6;
/** Store: tokens or requests held by pending reservations. */
export const W_HELD = 7;
/** Store: limit configured by the last candidate that used the window, NaN when unknown. */
export const W_CONFIGURED = 8;
/** Index of the newest bucket the ring holds; slots for head-span+1 .. head are live. */
export const W_HEAD = 9;
/** Sub-bucket width in ms; 0 for the calendar month. */
export const W_BUCKET_MS = 10;
/** Number of buckets in the ring. */
export const W_SPAN = 11;
/** Store: number of the last store operation that looked the window up. */
export const W_TOUCHED = 12;
/** Store: 1 when the window counts by a rule learned from upstream (a charge log, charge-log.ts), else 0. */
export const W_RULE = 13;
/** Numbers before the ring. */
export const WINDOW_HEADER = 14;

/**
 * How close (ms) to a bucket edge the fast comparisons against W_NEXT / W_FROM stop trusting themselves
 * and compute the bucket index the exact way (`floor(at / bucketMs)`, or the calendar), so that bucket
 * assignment is bit-for-bit that of the division even for fractional instants.
 */
const EDGE_MS = 1;

/** Doubles a window of this period takes in a slab: the header and its ring. Throws QUOTA_INVALID for an unknown period. */
export function windowStride(period: WindowPeriod): number {
  return WINDOW_HEADER + windowGeometry(period).span;
}

/** Lay out an empty window of `period` at `o` (its {@link windowStride} numbers are overwritten). */
export function initWindow(slab: Float64Array, o: number, period: WindowPeriod, id: number): void {
  const { bucketMs, span } = windowGeometry(period);
  slab.fill(0, o, o + WINDOW_HEADER + span);
  slab[o + W_ID] = id;
  slab[o + W_HEAD] = Number.NEGATIVE_INFINITY;
  slab[o + W_BUCKET_MS] = bucketMs ?? 0;
  slab[o + W_LEARNED] = Number.NaN;
  slab[o + W_CONFIGURED] = Number.NaN;
  slab[o + W_SPAN] = span;
  slab[o + W_FROM] = Number.POSITIVE_INFINITY;
  slab[o + W_NEXT] = Number.NEGATIVE_INFINITY;
}

/** Ring position of a bucket index; indices before the epoch (fake clocks near 0) stay in range. */
function ringSlot(index: number, span: number): number {
  const slot = index % span;
  return slot < 0 ? slot + span : slot;
}

/** Bucket index of an instant in the window at `o`, without building a Date while it stays in the cached month. */
export function windowIndexAt(slab: Float64Array, o: number, at: number): number {
  const bucketMs = slab[o + W_BUCKET_MS] as number;
  if (bucketMs > 0) return Math.floor(at / bucketMs);
  if (at >= (slab[o + W_FROM] as number) && at < (slab[o + W_NEXT] as number)) return slab[o + W_HEAD] as number;
  return monthIndex(at);
}

/** Epoch ms at which bucket `index` of the window at `o` starts. */
export function windowStartOf(slab: Float64Array, o: number, index: number): number {
  const bucketMs = slab[o + W_BUCKET_MS] as number;
  return bucketMs > 0 ? index * bucketMs : monthStart(index);
}

/** Move the ring of the window at `o` to the bucket of `at`, dropping the buckets that left the window. */
export function windowAdvance(slab: Float64Array, o: number, at: number): void {
  // Still before the next bucket (or older than the head, which counts as the newest seen): nothing to do.
  if (at < (slab[o + W_NEXT] as number) - EDGE_MS) return;
  advanceSlow(slab, o, at);
}

function advanceSlow(slab: Float64Array, o: number, at: number): void {
  const head = slab[o + W_HEAD] as number;
  const bucketMs = slab[o + W_BUCKET_MS] as number;
  let index: number;
  if (bucketMs > 0) {
    index = Math.floor(at / bucketMs);
    if (index <= head) return;
  } else {
    if (at < (slab[o + W_NEXT] as number)) return;
    index = monthIndex(at);
    if (index <= head) return;
  }
  const span = slab[o + W_SPAN] as number;
  const ring = o + WINDOW_HEADER;
  if (index - head >= span) {
    slab.fill(0, ring, ring + span);
    slab[o + W_TOTAL] = 0;
  } else {
    // The head bucket goes to its slot, then the buckets now leaving the window are subtracted.
    slab[ring + ringSlot(head, span)] = slab[o + W_CUR] as number;
    let total = slab[o + W_TOTAL] as number;
    for (let j = head + 1; j <= index; j++) {
      const slot = ring + ringSlot(j, span);
      total -= slab[slot] as number;
      slab[slot] = 0;
    }
    slab[o + W_TOTAL] = total;
  }
  slab[o + W_CUR] = 0;
  slab[o + W_HEAD] = index;
  if (bucketMs > 0) {
    slab[o + W_FROM] = index * bucketMs;
    slab[o + W_NEXT] = (index + 1) * bucketMs;
  } else {
    slab[o + W_FROM] = monthStart(index);
    slab[o + W_NEXT] = monthStart(index + 1);
  }
}

/** What the window at `o` holds at `at`: the sum of the current bucket and the N before it. */
export function windowUsedAt(slab: Float64Array, o: number, at: number): number {
  windowAdvance(slab, o, at);
  return slab[o + W_TOTAL] as number;
}

/**
 * Add `amount` (negative to refund) to the bucket of instant `bucketAt` in the window at `o`, as seen
 * at `now`. A bucket that already left the window is not touched. Returns whether it applied.
 */
export function windowAddAt(slab: Float64Array, o: number, now: number, bucketAt: number, amount: number): boolean {
  windowAdvance(slab, o, now);
  let at: number;
  // Clearly inside the head bucket (the common case): no division, no second cache line.
  if (bucketAt >= (slab[o + W_FROM] as number) + EDGE_MS && bucketAt < (slab[o + W_NEXT] as number) - EDGE_MS) {
    at = o + W_CUR;
  } else {
    const head = slab[o + W_HEAD] as number;
    const index = windowIndexAt(slab, o, bucketAt);
    const span = slab[o + W_SPAN] as number;
    if (index === head) at = o + W_CUR;
    else if (index > head || index <= head - span) return false;
    else at = o + WINDOW_HEADER + ringSlot(index, span);
  }
  const before = slab[at] as number;
  // Never below zero: a refund can only return what this bucket holds (guards float drift and misuse).
  const next = Math.max(0, before + amount);
  slab[o + W_TOTAL] = (slab[o + W_TOTAL] as number) + (next - before);
  slab[at] = next;
  return true;
}

/**
 * ms from `now` until `cost` fits under `limit` in the window at `o`, assuming nothing else is added:
 * 0 when it fits now, Infinity when the cost exceeds the limit itself. Buckets fall out oldest first,
 * so the first future bucket j with `sum(j-N .. head) + cost <= limit` is the answer (the next month
 * for a calendar month).
 */
export function windowRetryAfterMs(slab: Float64Array, o: number, now: number, cost: number, limit: number | null): number {
  if (limit === null) return 0;
  if (cost > limit) return Number.POSITIVE_INFINITY;
  let remaining = windowUsedAt(slab, o, now);
  if (remaining + cost <= limit) return 0;
  const head = slab[o + W_HEAD] as number;
  const span = slab[o + W_SPAN] as number;
  const ring = o + WINDOW_HEADER;
  // The ring's head slot is stale until the next advance: bring it up to date (advance overwrites it anyway).
  slab[ring + ringSlot(head, span)] = slab[o + W_CUR] as number;
  for (let j = head + 1; j <= head + span; j++) {
    // Moving to bucket j drops bucket j - span from the sum.
    remaining -= slab[ring + ringSlot(j - span, span)] as number;
    if (remaining + cost <= limit) return windowStartOf(slab, o, j) - now;
  }
  return windowStartOf(slab, o, head + span) - now;
}

/**
 * Each live bucket of the window at `o` at `now`, oldest first: the instant it ends (`now` for the head
 * bucket, which is still filling) and what it holds. For handing a window's counts to a charge log.
 */
export function windowBuckets(slab: Float64Array, o: number, now: number): { end: number; amount: number }[] {
  windowAdvance(slab, o, now);
  const head = slab[o + W_HEAD] as number;
  if (!Number.isFinite(head)) return [];
  const span = slab[o + W_SPAN] as number;
  const out: { end: number; amount: number }[] = [];
  for (let j = head - span + 1; j < head; j++) {
    const amount = slab[o + WINDOW_HEADER + ringSlot(j, span)] as number;
    if (amount > 0) out.push({ end: Math.min(now, windowStartOf(slab, o, j + 1)), amount });
  }
  const current = slab[o + W_CUR] as number;
  if (current > 0) out.push({ end: now, amount: current });
  return out;
}

/**
 * The counts of one window: a ring of `span` sub-buckets and their running total, advanced lazily to
 * the current bucket. Memory is fixed by the period (N + 1 numbers and a small header), whatever the
 * rate. A standalone window with its own slab; the memory store uses the same functions on shared slabs.
 *
 * Mutable but pure: it never reads the clock, every method takes the instant it acts at. The store
 * passes a non-decreasing time; an older instant is treated as the newest one seen (never rewinds).
 */
export class WindowCounter {
  /** The window's period. */
  readonly period: WindowPeriod;
  readonly #slab: Float64Array;

  constructor(period: WindowPeriod) {
    this.period = period;
    this.#slab = new Float64Array(windowStride(period));
    initWindow(this.#slab, 0, period, 0);
  }

  /** Bucket index of an instant, without building a Date while it stays in the cached month. */
  indexAt(at: number): number {
    return windowIndexAt(this.#slab, 0, at);
  }

  /** Epoch ms at which bucket `index` starts. */
  startOf(index: number): number {
    return windowStartOf(this.#slab, 0, index);
  }

  /** Move the ring to the bucket of `at`, dropping the buckets that left the window. */
  advance(at: number): void {
    windowAdvance(this.#slab, 0, at);
  }

  /** What the window holds at `at`: the sum of the current bucket and the N before it. */
  usedAt(at: number): number {
    return windowUsedAt(this.#slab, 0, at);
  }

  /**
   * Add `amount` (negative to refund) to the bucket of instant `bucketAt`, as seen at `now`. A bucket
   * that already left the window is not touched: what it held no longer counts. Returns whether it applied.
   */
  addAt(now: number, bucketAt: number, amount: number): boolean {
    return windowAddAt(this.#slab, 0, now, bucketAt, amount);
  }

  /**
   * ms from `now` until `cost` fits under `limit`, assuming nothing else is added: 0 when it fits now,
   * Infinity when the cost exceeds the limit itself.
   */
  retryAfterMs(now: number, cost: number, limit: number | null): number {
    return windowRetryAfterMs(this.#slab, 0, now, cost, limit);
  }

  /** True when the window holds nothing at `at`. */
  isEmptyAt(at: number): boolean {
    return this.usedAt(at) === 0;
  }
}
