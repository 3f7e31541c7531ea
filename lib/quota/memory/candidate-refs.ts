/**
 * A candidate resolved once: its window keys and states, so the hot path neither builds strings nor
 * hashes them. The hot path only needs `refs` (kept in a WeakMap of its own, so a call reads the
 * candidate, one array and the slab): per window, {@link REF} numbers (slab address, generation, whether
 * it counts tokens, configured limit). `refs` and `states` are replaced (never mutated) when a window
 * was dropped, so a pending reservation holding the old `refs` still names the windows it charged.
 */
import type { QuotaCandidate, WindowSpec } from '../types.js';
import { validateCandidate } from '../validate.js';
import { W_ID } from '../window.js';
import { CHUNK_BITS, CHUNK_MASK, REF } from './slab.js';
import { type WindowState, windowKey } from './window-state.js';
import type { WindowTable } from './window-table.js';

interface ResolvedCandidate {
  readonly keys: readonly string[];
  readonly specs: readonly WindowSpec[];
  /** Configured limit of each window, NaN = unknown (null). */
  readonly limits: readonly number[];
  refs: readonly number[];
  states: readonly WindowState[];
}

/** Candidates' resolved windows, cached by candidate object. */
export class CandidateRefs {
  readonly #resolved = new WeakMap<QuotaCandidate, ResolvedCandidate>();
  /** The hot part of #resolved: each candidate's current `refs`. */
  readonly #refs = new WeakMap<QuotaCandidate, readonly number[]>();
  readonly #table: WindowTable;

  constructor(table: WindowTable) {
    this.#table = table;
  }

  /** The `refs` of a candidate, its windows looked up or created when needed; spared from eviction by the operation. */
  resolve(candidate: QuotaCandidate, index: number): readonly number[] {
    const refs = this.#refs.get(candidate);
    if (refs !== undefined) {
      const chunks = this.#table.slab.chunks;
      let live = true;
      for (let r = 0; r < refs.length; r += REF) {
        const address = refs[r] as number;
        // A dropped window's run is free or holds another window: its generation no longer matches.
        if ((chunks[address >>> CHUNK_BITS] as Float64Array)[(address & CHUNK_MASK) + W_ID] !== refs[r + 1]) {
          live = false;
          break;
        }
      }
      if (live) {
        this.#table.eviction.spare(refs);
        return refs;
      }
    }
    return this.#lookUp(candidate, index);
  }

  /**
   * First use of a candidate, or one of its windows was dropped while idle: look every window up again
   * (recreating as needed). Recency in the LRU is refreshed here only, not on every call: it decides which
   * idle window goes first, never whether a busy one is kept, so staleness costs churn, not correctness.
   */
  #lookUp(candidate: QuotaCandidate, index: number): readonly number[] {
    let resolved = this.#resolved.get(candidate);
    if (resolved === undefined) {
      validateCandidate(candidate, `candidates[${index}]`);
      const specs = [...candidate.windows];
      const keys = specs.map((spec) => windowKey(candidate.workspace, spec.scope === 'workspace' ? undefined : candidate.model, spec.kind));
      // The configured limits are read once, with the rest of the candidate (which is validated once and
      // cached by object): spec objects are often built by spread, which puts `limit` out of the object,
      // and reading it on every call costs a cache miss or two per window with many pairs.
      const limits = specs.map((spec) => spec.limit ?? Number.NaN);
      resolved = { specs, keys, limits, refs: [], states: [] };
      this.#resolved.set(candidate, resolved);
    }
    const { specs, keys, limits } = resolved;
    const states = specs.map((spec, w) =>
      this.#table.state(keys[w] as string, candidate.workspace, spec.scope === 'workspace' ? undefined : candidate.model, spec, spec.limit),
    );
    // Built in one go (one allocation, numbers unboxed): the hot path reads nothing else.
    const refs = new Array<number>(states.length * REF);
    states.forEach((state, w) => {
      refs[w * REF] = state.address;
      refs[w * REF + 1] = state.id;
      refs[w * REF + 2] = state.unit === 'tokens' ? 1 : 0;
      refs[w * REF + 3] = limits[w] as number;
    });
    resolved.states = states;
    resolved.refs = refs;
    this.#refs.set(candidate, refs);
    this.#table.eviction.spare(refs);
    return refs;
  }

  /** The window states of a candidate resolved by {@link CandidateRefs.resolve} (for refusals). */
  statesOf(candidate: QuotaCandidate): readonly WindowState[] {
    return (this.#resolved.get(candidate) as ResolvedCandidate).states;
  }
}
