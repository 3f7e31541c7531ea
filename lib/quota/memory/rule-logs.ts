/**
 * The memory store's windows that count by a rule learned from upstream: a charge log each
 * (../charge-log.ts), keyed by the window's slab address, the window flagged by `W_RULE` so that the hot
 * path of every other window reads one number more and nothing else. The window's ring stays up to date
 * beside its log (eviction, snapshots of busy state and a return to the default read it).
 */
import { ChargeLog } from '../charge-log.js';
import { PERIOD_LAYOUT } from '../types.js';
import type { WindowRule } from '../upstream-rule.js';
import { W_ID, W_RULE, windowBuckets } from '../window.js';
import type { WindowState } from './window-state.js';

/** A log and the generation of the window it belongs to (a reused slab run is another window). */
interface Owned {
  readonly id: number;
  readonly log: ChargeLog;
}

export class RuleLogs {
  readonly #logs = new Map<number, Owned>();

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
