/**
 * The memory store's windows that count by a rule learned from upstream: a charge log each
 * (../charge-log.ts), keyed by the window's slab address, the window flagged by `W_RULE` so that the hot
 * path of every other window reads one number more and nothing else. The window's ring stays up to date
 * beside its log (eviction, snapshots of busy state and a return to the default read it).
 */
import { ChargeLog } from '../charge-log.js';
import { PERIOD_LAYOUT } from '../types.js';
import type { WindowRule } from '../upstream-rule.js';
import { W_BLOCKED, W_CONFIGURED, W_ID, W_LEARNED, W_RULE, windowBuckets, windowUsedAt } from '../window.js';
import { CHUNK_BITS, CHUNK_MASK, REF } from './slab.js';
import type { WindowState } from './window-state.js';

/** A log and the generation of the window it belongs to (a reused slab run is another window). */
interface Owned {
  readonly id: number;
  readonly log: ChargeLog;
}

export class RuleLogs {
  readonly #logs = new Map<number, Owned>();
  /** Phase probes sent (for the utilisation benchmark and tests). */
  probes = 0;

  /**
   * What a window holds: its ring's count, or with a learned rule the lower of its log's and its ring's:
   * both bound any upstream window of that period from above (the ring: a period plus a bucket), and the
   * lower is tighter while a fixed phase is uncertain (the log then counts a period plus the uncertainty).
   */
  used(address: number, slab: Float64Array, o: number, now: number): number {
    const ring = windowUsedAt(slab, o, now);
    if (slab[o + W_RULE] === 1) {
      const log = this.log(address, slab, o);
      if (log !== undefined) return Math.min(ring, log.used(now));
    }
    return ring;
  }

  /**
   * The slow path of a refused candidate (`refs`, see candidate-refs.ts): the logs to probe when every
   * window without room is a fixed window whose phase is uncertain, that has room under the latest phase
   * still possible and may probe now (ChargeLog.probeOpen), and every other window has room. Undefined
   * otherwise. The upstream's answer to the probe tells the phase (upstream-rule.ts); its 429 is an
   * upstream 429 like any other (the call moves on or waits), so the ordinary count is never exceeded
   * by more than one call per narrowing of the phase.
   */
  probe(refs: readonly number[], chunks: readonly Float64Array[], now: number, fit: number, requests: number): ChargeLog[] | undefined {
    // Most refusals are of windows without a learned rule: one read each tells.
    let ruled = false;
    for (let r = 0; r < refs.length && !ruled; r += REF) {
      const address = refs[r] as number;
      ruled = (chunks[address >>> CHUNK_BITS] as Float64Array)[(address & CHUNK_MASK) + W_RULE] === 1;
    }
    if (!ruled) return undefined;
    let probed: ChargeLog[] | undefined;
    for (let r = 0; r < refs.length; r += REF) {
      const address = refs[r] as number;
      const slab = chunks[address >>> CHUNK_BITS] as Float64Array;
      const o = address & CHUNK_MASK;
      const learned = slab[o + W_LEARNED] as number;
      const limit = learned === learned ? learned : (slab[o + W_CONFIGURED] as number);
      if ((slab[o + W_BLOCKED] as number) > now) return undefined;
      const cost = refs[r + 2] === 1 ? fit : requests;
      if (limit !== limit || this.used(address, slab, o, now) + cost <= limit) continue;
      const log = slab[o + W_RULE] === 1 ? this.log(address, slab, o) : undefined;
      if (log === undefined || !log.probeOpen(now) || log.usedAtLeast(now) + cost > limit) return undefined;
      (probed ??= []).push(log);
    }
    return probed;
  }

  /** Reservation `seq` goes as a probe of `logs`. */
  startProbe(logs: readonly ChargeLog[], seq: number, now: number): void {
    for (const log of logs) log.startProbe(seq, now);
    this.probes++;
  }

  /** The log of the window at `address` (flagged by W_RULE): undefined when the run holds another window now. */
  log(address: number, slab: Float64Array, o: number): ChargeLog | undefined {
    const owned = this.#logs.get(address);
    return owned !== undefined && owned.id === slab[o + W_ID] ? owned.log : undefined;
  }

  /**
   * Count the window of `state` by `rule` from now on (`null`: by its ring again). A new log starts from
   * the ring's buckets, each charge dated at its bucket's end: later than it was made, so never counted
   * out earlier than upstream counts it out.
   */
  apply(state: WindowState, rule: WindowRule | null, now: number): void {
    const { slab, offset: o, address } = state;
    if (rule === null || !(state.period in PERIOD_LAYOUT)) {
      slab[o + W_RULE] = 0;
      this.#logs.delete(address);
      return;
    }
    const existing = slab[o + W_RULE] === 1 ? this.log(address, slab, o) : undefined;
    if (existing !== undefined) {
      existing.rule = rule;
      return;
    }
    const log = new ChargeLog(rule, PERIOD_LAYOUT[state.period as keyof typeof PERIOD_LAYOUT].periodMs);
    for (const bucket of windowBuckets(slab, o, now)) log.add(now, bucket.end, bucket.amount);
    this.#logs.set(address, { id: slab[o + W_ID] as number, log });
    slab[o + W_RULE] = 1;
  }
}

/**
 * How long a refused call waiting for a probe's answer is told to wait: the answer may show the window
 * started over (it pumps the queue when it comes), so a waiter is not sent away on the count the
 * uncertain phase gives (which can be the whole arc) before it comes.
 */
export const PROBE_ANSWER_MS = 1_000;

/** ms until a call refused by `log` may go as a phase probe, or a probe out answers (ChargeLog.probeAfterMs; Infinity: never). */
export function probeRoom(log: ChargeLog, now: number, needed: number, limit: number): number {
  if (needed > limit) return Number.POSITIVE_INFINITY;
  if (log.probing) return PROBE_ANSWER_MS;
  const after = log.probeAfterMs(now);
  return after > 0 ? after : log.nextStartMs(now);
}
