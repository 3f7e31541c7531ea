/**
 * Fault injection: which request gets an error, a capacity refusal or a dropped connection. Decisions
 * come from a seeded PRNG so that a test (or a benchmark of the router's fallback) sees the same faults
 * on every run with the same seed and the same sequence of requests.
 */
import type { EmulatorFaults, FaultStatus } from './options.js';

/** What happens to one request before it reaches the meters. */
export type FaultDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'drop-before' }
  | { readonly kind: 'error'; readonly status: FaultStatus }
  | { readonly kind: 'capacity'; readonly status: 429 | 503 };

const NONE: FaultDecision = { kind: 'none' };

/** mulberry32: tiny, fast and good enough to spread faults evenly; not for anything secret. */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Draws the faults of each request from the configured rates. */
export class FaultInjector {
  readonly #faults: EmulatorFaults;
  readonly #random: () => number;
  // Restricting to models is by resolved id; the caller resolves aliases once at configure time.
  readonly #models: ReadonlySet<string> | undefined;
  #errorTurn = 0;

  constructor(faults: EmulatorFaults, seed: number, resolvedModels: ReadonlySet<string> | undefined) {
    this.#faults = faults;
    this.#random = createPrng(seed);
    this.#models = resolvedModels;
  }

  /** Whether the faults apply to this (resolved) model at all. */
  targets(model: string): boolean {
    return this.#models === undefined || this.#models.has(model);
  }

  /** Extra latency for this model. */
  latencyFor(model: string): number {
    return this.targets(model) ? (this.#faults.latencyMs ?? 0) : 0;
  }

  /** Wall-clock ms between the events of this model's streams (0: the whole stream at once). */
  chunkIntervalFor(model: string): number {
    return this.targets(model) ? (this.#faults.chunkIntervalMs ?? 0) : 0;
  }

  /**
   * One draw decides among drop-before, error and capacity (their rates are consecutive slices of
   * [0, 1)), so the observed shares match the configured rates without the faults shadowing each other.
   */
  decide(model: string): FaultDecision {
    const { dropBeforeRate = 0, errorRate = 0, capacityRate = 0 } = this.#faults;
    if (dropBeforeRate + errorRate + capacityRate === 0 || !this.targets(model)) return NONE;
    const draw = this.#random();
    if (draw < dropBeforeRate) return { kind: 'drop-before' };
    if (draw < dropBeforeRate + errorRate) {
      const statuses = this.#faults.errorStatuses ?? [500, 502, 503];
      // Rotating through the statuses (rather than drawing) gives each one its exact share.
      const status = statuses[this.#errorTurn++ % statuses.length] ?? 500;
      return { kind: 'error', status };
    }
    if (draw < dropBeforeRate + errorRate + capacityRate) return { kind: 'capacity', status: this.#faults.capacityStatus ?? 429 };
    return NONE;
  }

  /** Whether this admitted stream is cut after its first chunk (a separate draw, only for streams). */
  dropMidStream(model: string): boolean {
    const rate = this.#faults.dropMidStreamRate ?? 0;
    return rate > 0 && this.targets(model) && this.#random() < rate;
  }
}
