/**
 * One window of the memory store: its identity (key, workspace, model, kind, unit, period) and where its
 * numbers are in the slab. Everything that changes per call (counts, holds, blocks, limits) is in the
 * slab; this object is read only off the hot path (lookups, refusals, snapshots).
 */
import type { WindowPeriod, WindowUnit } from '../types.js';
import { W_BLOCKED, W_CONFIGURED, W_HELD, W_LEARNED, windowUsedAt } from '../window.js';
import { CHUNK_BITS, CHUNK_MASK } from './slab.js';

/** Key of a window. NUL cannot appear in workspace or model names, so keys never collide. */
export function windowKey(workspace: string, model: string | undefined, kind: string): string {
  return model === undefined ? `${workspace}\u0000\u0000${kind}` : `${workspace}\u0000${model}\u0000${kind}`;
}

/** A window's identity and its view of the slab. */
export class WindowState {
  /** Set when the store let go of it (it was idle): its slab run may now hold another window. */
  dropped = false;
  readonly slab: Float64Array;
  readonly offset: number;

  constructor(
    readonly key: string,
    readonly workspace: string,
    readonly model: string | undefined,
    readonly kind: string,
    readonly unit: WindowUnit,
    readonly period: WindowPeriod,
    readonly address: number,
    readonly id: number,
    chunks: readonly Float64Array[],
  ) {
    this.slab = chunks[address >>> CHUNK_BITS] as Float64Array;
    this.offset = address & CHUNK_MASK;
  }

  get held(): number {
    return this.slab[this.offset + W_HELD] as number;
  }

  get blockedUntil(): number {
    return this.slab[this.offset + W_BLOCKED] as number;
  }

  set blockedUntil(until: number) {
    this.slab[this.offset + W_BLOCKED] = until;
  }

  /** Limit learned from upstream headers; null when none was. */
  get learnedLimit(): number | null {
    const learned = this.slab[this.offset + W_LEARNED] as number;
    return Number.isNaN(learned) ? null : learned;
  }

  set learnedLimit(limit: number | null) {
    this.slab[this.offset + W_LEARNED] = limit ?? Number.NaN;
  }

  /** The limit in force: learned, else configured by the last candidate that used it; null = unknown. */
  get limit(): number | null {
    const learned = this.slab[this.offset + W_LEARNED] as number;
    if (!Number.isNaN(learned)) return learned;
    const configured = this.slab[this.offset + W_CONFIGURED] as number;
    return Number.isNaN(configured) ? null : configured;
  }

  usedAt(now: number): number {
    return windowUsedAt(this.slab, this.offset, now);
  }
}
