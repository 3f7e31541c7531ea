/**
 * A window that counts by the upstream's own rule once the router has learned it (upstream-rule.ts):
 * the charges of the last period, each with its instant, so that capacity returns exactly when the
 * upstream gives it back (a sliding log: one period after each charge; fixed windows: at the boundary),
 * not a sub-bucket late as in the router's ring.
 *
 * Memory is constant: at most `capacity` charges are kept; past that, the two oldest merge into one at
 * the later instant, which only ever delays their return (never admits what the upstream would refuse).
 * Pure: every method takes the instant it acts at, which never goes backwards.
 */
import { mod } from './arcs.js';
import { MIN_PROBE_UNCERTAINTY_MS, type WindowRule } from './upstream-rule.js';

/** Charges kept per window before the oldest merge. */
export const CHARGE_LOG_CAPACITY = 512;

export class ChargeLog {
  readonly #periodMs: number;
  readonly #capacity: number;
  #rule: WindowRule;
  // A ring of (instant, amount), oldest first; instants never decrease along the ring.
  readonly #at: Float64Array;
  readonly #amount: Float64Array;
  #head = 0;
  #count = 0;
  #total = 0;
  // Phase probes (fixed rules): the reservation out as a probe (0: none), when the last one went and how
  // uncertain the phase was then (a new probe waits for a narrower phase or a period).
  #probe = 0;
  #probedAt = Number.NEGATIVE_INFINITY;
  /** The probe before the last: at most two a period, whatever the answers claim (a lying Retry-After). */
  #probedBefore = Number.NEGATIVE_INFINITY;
  #probedWidth = Number.POSITIVE_INFINITY;

  constructor(rule: WindowRule, periodMs: number, capacity = CHARGE_LOG_CAPACITY) {
    this.#rule = rule;
    this.#periodMs = periodMs;
    this.#capacity = capacity;
    this.#at = new Float64Array(capacity);
    this.#amount = new Float64Array(capacity);
  }

  get rule(): WindowRule {
    return this.#rule;
  }

  /** Count by another rule from now on (a phase known more precisely, say): the charges stay. */
  set rule(rule: WindowRule) {
    this.#rule = rule;
  }

  /** What the window holds at `now`. */
  used(now: number): number {
    this.#expire(now);
    return this.#total;
  }

  /** Add `amount` (negative to refund) to the charge made at `at` (`now` for a new one), if it still counts. */
  add(now: number, at: number, amount: number): void {
    this.#expire(now);
    if (!this.#counts(at, now)) return;
    const last = this.#count === 0 ? -1 : this.#slot(this.#count - 1);
    if (last >= 0 && (this.#at[last] as number) === at) return this.#change(last, amount);
    if (last < 0 || at > (this.#at[last] as number)) {
      if (amount <= 0) return;
      if (this.#count === this.#capacity) this.#mergeOldest();
      const slot = this.#slot(this.#count++);
      this.#at[slot] = at;
      this.#amount[slot] = amount;
      this.#total += amount;
      return;
    }
    // An older charge: it sits in the first entry at or after its instant (merges only move charges later).
    let lo = 0;
    let hi = this.#count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#at[this.#slot(mid)] as number) < at) lo = mid + 1;
      else hi = mid;
    }
    this.#change(this.#slot(lo), amount);
  }

  /**
   * ms from `now` until `cost` more fits under `limit`: 0 when it fits, Infinity when it never will. Exact
   * for a sliding log; for fixed windows, the boundary the phase is sure to have passed.
   */
  retryAfterMs(now: number, cost: number, limit: number): number {
    if (cost > limit) return Number.POSITIVE_INFINITY;
    let held = this.used(now);
    if (held + cost <= limit) return 0;
    const rule = this.#rule;
    if (rule.kind === 'fixed') return this.#windowStart(now) + this.#periodMs + rule.uncertaintyMs - now;
    for (let i = 0; i < this.#count; i++) {
      const slot = this.#slot(i);
      held -= this.#amount[slot] as number;
      if (held + cost <= limit) return (this.#at[slot] as number) + this.#periodMs - now;
    }
    return this.#periodMs;
  }

  /**
   * What the window holds at `now` under the latest phase still possible: the least the upstream can
   * hold. Above `used` only while a fixed phase is uncertain. The slow path's (a probe's) question.
   */
  usedAtLeast(now: number): number {
    this.#expire(now);
    const rule = this.#rule;
    if (rule.kind !== 'fixed') return this.#total;
    const from = latestStart(now, rule.phaseMs, rule.uncertaintyMs, this.#periodMs);
    let sum = 0;
    for (let i = this.#count - 1; i >= 0; i--) {
      const slot = this.#slot(i);
      if ((this.#at[slot] as number) < from) break;
      sum += this.#amount[slot] as number;
    }
    return sum;
  }

  /**
   * Whether one call may go now as a phase probe: a fixed phase still uncertain by more than a probe's
   * answer tells (MIN_PROBE_UNCERTAINTY_MS), no probe out, none since the phase last narrowed (or for a
   * period), at most two a period, and not before the rule's probe point in the arc (`probeMs`).
   */
  probeOpen(now: number): boolean {
    return this.probeAfterMs(now) === 0;
  }

  /** ms from `now` until a probe may go (0: now; Infinity: none while this rule holds). See probeOpen. */
  probeAfterMs(now: number): number {
    const rule = this.#rule;
    if (rule.kind !== 'fixed' || this.#probe !== 0) return Number.POSITIVE_INFINITY;
    const period = this.#periodMs;
    const width = rule.uncertaintyMs;
    const offset = rule.probeMs === undefined ? 0 : mod(rule.probeMs - rule.phaseMs, period);
    const pointed = offset > 0 && offset <= width;
    // A sharp phase is probed only at its point (a whole second inside it, upstream-rule.ts), once.
    const sharp = width <= MIN_PROBE_UNCERTAINTY_MS;
    if (sharp && !(pointed && offset < width)) return Number.POSITIVE_INFINITY;
    // A phase wholly unknown (a fixed window not yet told from a sliding log) is probed only at a point lent to it.
    if (width >= period && !pointed) return Number.POSITIVE_INFINITY;
    let wait = Math.max(width < this.#probedWidth ? 0 : this.#probedAt + period - now, this.#probedBefore + period - now, 0);
    if (pointed) {
      // Before the point the boundary is less likely (a sibling's is there, or a whole second): wait for it;
      // past a sharp arc, for the next period's.
      const into = mod(now + wait - rule.phaseMs, period);
      if (into < offset) wait += offset - into;
      else if (sharp && into >= width) wait += period - into + offset;
    }
    return wait;
  }

  /** ms from `now` until the next instant the least count can have started over (the next probe's chance). */
  nextStartMs(now: number): number {
    const rule = this.#rule;
    if (rule.kind !== 'fixed') return Number.POSITIVE_INFINITY;
    const point = rule.probeMs !== undefined && mod(rule.probeMs - rule.phaseMs, this.#periodMs) <= rule.uncertaintyMs ? rule.probeMs : rule.phaseMs;
    return mod(point - now, this.#periodMs) || this.#periodMs;
  }

  /** Reservation `seq` goes as a probe: no other until it ends. */
  startProbe(seq: number, now: number): void {
    this.#probe = seq;
    this.#probedBefore = this.#probedAt;
    this.#probedAt = now;
    this.#probedWidth = this.#rule.kind === 'fixed' ? this.#rule.uncertaintyMs : Number.POSITIVE_INFINITY;
  }

  /** Reservation `seq` ended (settled, released or forgotten): if it was the probe, another may go. */
  endProbe(seq: number): void {
    if (this.#probe === seq) this.#probe = 0;
  }

  /** Whether a probe is out. */
  get probing(): boolean {
    return this.#probe !== 0;
  }

  /**
   * Whether a charge made at `at` still counts at `now`. A learned phase lies in (phaseMs, phaseMs +
   * uncertaintyMs] (upstream-rule.ts: a start is after the charge that bounds it), so a charge made at
   * the earliest start itself belongs to the window before.
   */
  #counts(at: number, now: number): boolean {
    return this.#rule.kind === 'fixed' ? at > this.#windowStart(now) : at + this.#periodMs > now;
  }

  /**
   * The earliest instant the current fixed window can have started: the last boundary the uncertain
   * phase is sure to have passed, at its earliest. Counting from there never counts less than upstream.
   */
  #windowStart(now: number): number {
    const rule = this.#rule as { phaseMs: number; uncertaintyMs: number };
    const k = Math.floor((now - rule.phaseMs - rule.uncertaintyMs) / this.#periodMs);
    return k * this.#periodMs + rule.phaseMs;
  }

  #expire(now: number): void {
    while (this.#count > 0 && !this.#counts(this.#at[this.#head] as number, now)) {
      this.#total -= this.#amount[this.#head] as number;
      this.#head = (this.#head + 1) % this.#capacity;
      this.#count--;
    }
    if (this.#count === 0) this.#total = 0;
  }

  #change(slot: number, delta: number): void {
    const before = this.#amount[slot] as number;
    const next = Math.max(0, before + delta);
    this.#amount[slot] = next;
    this.#total += next - before;
  }

  #mergeOldest(): void {
    const first = this.#head;
    const second = this.#slot(1);
    this.#amount[second] = (this.#amount[second] as number) + (this.#amount[first] as number);
    this.#head = second;
    this.#count--;
  }

  #slot(index: number): number {
    return (this.#head + index) % this.#capacity;
  }
}

/**
 * The latest instant the current fixed window can have started at `now`, its phase in [lo, lo + width]:
 * `now` itself while a boundary may be passing (the upstream may have just started over), else the
 * latest phase's last boundary.
 */
export function latestStart(now: number, lo: number, width: number, period: number): number {
  const into = mod(now - lo, period);
  return into <= width ? now : now - (into - width);
}
