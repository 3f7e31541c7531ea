/**
 * The memory store's window table: every window by key, bounded by lru-cache (with {@link Eviction}
 * keeping busy ones), and the learned limits, which outlive their windows in a second small LRU so an
 * idle window that is dropped and recreated does not fall back to "unknown".
 */
import { LRUCache } from 'lru-cache';
import type { WindowSpec } from '../types.js';
import { W_CONFIGURED } from '../window.js';
import { Eviction } from './eviction.js';
import { Slab } from './slab.js';
import { WindowState } from './window-state.js';

const unitSize = (): number => 1;

/** Windows by key, their slab, and their eviction. */
export class WindowTable {
  readonly slab = new Slab();
  readonly eviction = new Eviction(this.slab);
  /**
   * Store time: the latest clock reading (never going backwards). Kept here because eviction, run
   * from inside lru-cache, judges idleness at it.
   */
  lastNow = Number.NEGATIVE_INFINITY;
  readonly #windows: LRUCache<string, WindowState>;
  readonly #learned: LRUCache<string, number>;

  constructor(maxWindows: number) {
    // maxSize with a unit size bounds the count like `max` does, but without `max`'s up-front
    // allocation of arrays for every slot (tens of ms and megabytes for an empty store).
    this.#learned = new LRUCache<string, number>({ maxSize: maxWindows, sizeCalculation: unitSize });
    this.#windows = new LRUCache<string, WindowState>({
      maxSize: maxWindows,
      sizeCalculation: unitSize,
      dispose: (state, key, reason) => this.eviction.disposed(state, key, reason, this.lastNow),
    });
  }

  /** The window of `key`, kept or pinned; undefined when none is. */
  find(key: string): WindowState | undefined {
    return this.#windows.get(key) ?? this.eviction.pinned.get(key);
  }

  /** The state of a window, created (with any learned limit) when first used; touched by the operation. */
  state(key: string, workspace: string, model: string | undefined, spec: Omit<WindowSpec, 'limit'>, configuredLimit: number | null): WindowState {
    let state = this.find(key);
    if (state === undefined) {
      this.eviction.sweep(this.lastNow);
      const { address, id } = this.slab.allocate(spec.period);
      state = new WindowState(key, workspace, model, spec.kind, spec.unit, spec.period, address, id, this.slab.chunks);
      state.slab[state.offset + W_CONFIGURED] = configuredLimit ?? Number.NaN;
      state.learnedLimit = this.#learned.get(key) ?? null;
      this.eviction.touch(state);
      this.#windows.set(key, state);
    }
    this.eviction.touch(state);
    return state;
  }

  /** Record a limit learned from upstream for the window of `state`. */
  learn(state: WindowState, limit: number): void {
    state.learnedLimit = limit;
    this.#learned.set(state.key, limit);
  }

  /** Every window kept or pinned. */
  *all(): Iterable<WindowState> {
    yield* this.#windows.values();
    yield* this.eviction.pinned.values();
  }

  /** Windows kept (in the LRU and pinned). */
  get size(): number {
    return this.#windows.size + this.eviction.pinned.size;
  }
}
