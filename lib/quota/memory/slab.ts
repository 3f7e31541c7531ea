/**
 * Where every window's numbers live: a few large Float64Array chunks, never reallocated, each holding
 * many windows back to back (see the layout in ../window.ts). A window is an address, `chunk << 16 | offset`.
 * Runs freed by dropped windows are reused by new windows of the same period, so the slab only grows with
 * the number of windows alive at once, never with the request rate.
 */
import type { WindowPeriod } from '../types.js';
import { W_ID, initWindow, windowStride } from '../window.js';

/** Bits of an address that are the offset inside its chunk. */
export const CHUNK_BITS = 16;
/** Mask of the offset part of an address. */
export const CHUNK_MASK = (1 << CHUNK_BITS) - 1;
/**
 * Numbers per window in a candidate's `refs` (see candidate-refs.ts), the hot path's reference to a
 * window in the slab: slab address, generation, 1 if it counts tokens, configured limit (NaN = unknown).
 */
export const REF = 4;
/** The first chunk is small (a store with a handful of windows stays small); later ones double up to 2^16 numbers (512 KiB). */
const FIRST_CHUNK = 1 << 10;

/** The slab allocator of the memory store's windows. */
export class Slab {
  /** The chunks; `chunks[address >>> CHUNK_BITS]` holds the window at `address & CHUNK_MASK`. */
  readonly chunks: Float64Array[] = [];
  /** Free runs by stride (runs of one period are only reused by windows of a period with the same stride). */
  readonly #free = new Map<number, number[]>();
  /** Next unused offset in the last chunk. */
  #top = 0;
  #nextId = 1;

  /** Lay out a new empty window of `period`; returns its address and generation. */
  allocate(period: WindowPeriod): { address: number; id: number } {
    const stride = windowStride(period);
    let address = this.#free.get(stride)?.pop();
    if (address === undefined) {
      let chunk = this.chunks.length - 1;
      if (chunk < 0 || this.#top + stride > (this.chunks[chunk] as Float64Array).length) {
        chunk++;
        if (chunk >= 1 << (32 - CHUNK_BITS)) throw new RangeError('MemoryStore: window slab exhausted (32 GiB)');
        this.chunks.push(new Float64Array(chunk >= CHUNK_BITS - 10 ? 1 << CHUNK_BITS : FIRST_CHUNK << chunk));
        this.#top = 0;
      }
      address = ((chunk << CHUNK_BITS) | this.#top) >>> 0;
      this.#top += stride;
    }
    // Generations stay small integers (a window id is compared on every call; no overflow in practice).
    const id = this.#nextId++;
    initWindow(this.chunks[address >>> CHUNK_BITS] as Float64Array, address & CHUNK_MASK, period, id);
    return { address, id };
  }

  /** Give a window's run back: its generation no longer matches, so stale references see it is gone. */
  free(address: number, period: WindowPeriod): void {
    const stride = windowStride(period);
    (this.chunks[address >>> CHUNK_BITS] as Float64Array)[(address & CHUNK_MASK) + W_ID] = -1;
    let list = this.#free.get(stride);
    if (list === undefined) this.#free.set(stride, (list = []));
    list.push(address);
  }
}
