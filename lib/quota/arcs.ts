/**
 * Phase arithmetic on a circle of one period: an upstream window's phase is known as an arc of instants
 * modulo its period (lib/quota/upstream-rule.ts narrows it, charge-log.ts counts by it).
 */

/** `value` modulo `period`, in [0, period). */
export function mod(value: number, period: number): number {
  const m = value % period;
  return m < 0 ? m + period : m;
}

/**
 * The intersection of two arcs (lo, lo + width] modulo `period` (a width of `period` is the whole circle),
 * as one arc (the hull, when it falls in two pieces); undefined when they do not meet (arcs that only
 * touch share no instant: each excludes its own start).
 */
export function intersectArcs(lo1: number, width1: number, lo2: number, width2: number, period: number): { lo: number; width: number } | undefined {
  if (width1 >= period) return { lo: lo2, width: Math.min(width2, period) };
  if (width2 >= period) return { lo: lo1, width: width1 };
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const shift of [-period, 0, period]) {
    const a = Math.max(lo1, lo2 + shift);
    const b = Math.min(lo1 + width1, lo2 + shift + width2);
    if (a < b) {
      from = Math.min(from, a);
      to = Math.max(to, b);
    }
  }
  return from > to ? undefined : { lo: mod(from, period), width: to - from };
}
