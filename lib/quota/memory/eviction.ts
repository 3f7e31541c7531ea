/**
 * LRU eviction that never forgets a busy window. lru-cache cannot refuse an eviction, so a window it
 * evicts while it still counts something (usage in its period, a pending reservation, a 429 block, or
 * use by the operation in progress) moves to `pinned` instead of being dropped, and is dropped from
 * there once idle. The store therefore exceeds `maxWindows` only while more windows than that are busy.
 */
import { W_BLOCKED, W_HELD, W_TOUCHED, windowUsedAt } from '../window.js';
import { REF, type Slab } from './slab.js';
import type { WindowState } from './window-state.js';

/** The eviction policy of the window table, and the operation marks it spares windows by. */
export class Eviction {
  /** Busy windows lru-cache evicted; dropped from here once idle. */
  readonly pinned = new Map<string, WindowState>();
  /** The current store operation's number; a window whose W_TOUCHED equals it is in use. */
  operation = 1;
  /** The `refs` the current operation used (the first #opRefsLength), so eviction spares their windows. */
  readonly #opRefs: (readonly number[])[] = [];
  #opRefsLength = 0;
  readonly #slab: Slab;

  constructor(slab: Slab) {
    this.#slab = slab;
  }

  /** Start a store operation: windows it uses are never evicted until the next one starts. */
  beginOperation(): void {
    this.operation++;
    this.#opRefsLength = 0;
  }

  /** The operation in progress uses the windows of these `refs` (a candidate resolved from cache). */
  spare(refs: readonly number[]): void {
    this.#opRefs[this.#opRefsLength++] = refs;
  }

  /** Mark a window looked up by the operation in progress. */
  touch(state: WindowState): void {
    state.slab[state.offset + W_TOUCHED] = this.operation;
  }

  /** Whether a window counts nothing at `now` and the operation in progress does not use it. */
  isIdle(state: WindowState, now: number): boolean {
    const { slab, offset } = state;
    return (
      !this.#usedByOperation(state) &&
      slab[offset + W_HELD] === 0 &&
      (slab[offset + W_BLOCKED] as number) <= now &&
      windowUsedAt(slab, offset, now) === 0
    );
  }

  /**
   * Whether the operation in progress uses the window: touched during it, or part of a candidate it
   * resolved from cache (found by scanning the few `refs` it used: this only runs on eviction).
   */
  #usedByOperation(state: WindowState): boolean {
    if (state.slab[state.offset + W_TOUCHED] === this.operation) return true;
    for (let i = 0; i < this.#opRefsLength; i++) {
      const refs = this.#opRefs[i] as readonly number[];
      for (let r = 0; r < refs.length; r += REF) if (refs[r] === state.address && refs[r + 1] === state.id) return true;
    }
    return false;
  }

  /** lru-cache let go of a window: pin it when it was evicted busy, else drop it. */
  disposed(state: WindowState, key: string, reason: string, now: number): void {
    if (reason === 'evict' && !this.isIdle(state, now)) this.pinned.set(key, state);
    else this.drop(state);
  }

  /** Let go of an idle window: its slab run goes back to the free list. */
  drop(state: WindowState): void {
    if (state.dropped) return;
    state.dropped = true;
    this.#slab.free(state.address, state.period);
  }

  /** Drop up to a few idle pinned windows per new window: amortised O(1), and the pinned map drains. */
  sweep(now: number): void {
    let budget = 4;
    for (const [key, state] of this.pinned) {
      if (budget-- === 0) break;
      this.pinned.delete(key);
      if (this.isIdle(state, now)) this.drop(state);
      else this.pinned.set(key, state);
    }
  }
}
