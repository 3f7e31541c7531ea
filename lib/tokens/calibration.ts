/**
 * The estimator's calibration: one multiplier learned from the `usage.prompt_tokens` of real calls, a
 * geometric exponentially weighted mean of actual / raw estimate that leans high.
 */

/**
 * Weight of one observation in the running (geometric) mean. Upward moves weigh more than downward ones,
 * so the ratio leans high: an under-estimate costs an upstream 429 (the reservation was too small), an
 * over-estimate only holds capacity until the call settles.
 */
const WEIGHT_UP = 0.25;
const WEIGHT_DOWN = 0.1;
/**
 * The last samples kept to recognise a consistent ratio: when they all agree within AGREE_SPREAD, the ratio
 * goes straight to the largest of them instead of creeping down to it (a mean that leans high approaches
 * its target from above and never reaches it, so the last request of a full window never fits). A ratio
 * equal to a sample reproduces that call's count exactly (`apply` rounds up), and one hostile value still
 * moves the ratio by at most 4^0.25: it takes AGREE_SAMPLES agreeing ones to snap.
 */
const AGREE_SAMPLES = 8;
const AGREE_SPREAD = 0.002;
/** Bounds of an observed actual/estimate ratio and so of the calibrated ratio. */
export const MIN_RATIO = 0.25;
export const MAX_RATIO = 4;

export class Calibration {
  readonly #enabled: boolean;
  #ratio = 1;
  #observations = 0;
  readonly #recent = new Float64Array(AGREE_SAMPLES);
  #next = 0;

  constructor(enabled: boolean) {
    this.#enabled = enabled;
  }

  /** The multiplier in force; starts at 1 and stays within [0.25, 4]. */
  get ratio(): number {
    return this.#ratio;
  }

  /** Observations taken into the ratio so far. */
  get observations(): number {
    return this.#observations;
  }

  /** A raw estimate calibrated: ceil(raw x ratio), at least 0. */
  apply(rawTokens: number): number {
    return Math.max(0, Math.ceil(rawTokens * this.#ratio - 1e-9));
  }

  /**
   * One call's evidence (see TokenEstimator.observe): `estimated` was made with `ratioUsed`, the call
   * reported `actual`. Non-finite or non-positive values are ignored.
   */
  observe(estimated: number, actual: number, ratioUsed: number): void {
    if (!this.#enabled) return;
    if (typeof estimated !== 'number' || !Number.isFinite(estimated) || estimated <= 0) return;
    if (typeof actual !== 'number' || !Number.isFinite(actual) || actual <= 0) return;
    if (typeof ratioUsed !== 'number' || !Number.isFinite(ratioUsed) || ratioUsed <= 0) return;
    const sample = clamp((ratioUsed * actual) / estimated, MIN_RATIO, MAX_RATIO);
    this.#observations += 1;
    this.#recent[this.#next++ % AGREE_SAMPLES] = sample;
    if (this.#next >= AGREE_SAMPLES) {
      let lo = Number.POSITIVE_INFINITY;
      let hi = 0;
      for (const s of this.#recent) {
        lo = Math.min(lo, s);
        hi = Math.max(hi, s);
      }
      if (hi <= lo * (1 + AGREE_SPREAD)) {
        this.#ratio = hi;
        return;
      }
    }
    const weight = sample > this.#ratio ? WEIGHT_UP : WEIGHT_DOWN;
    this.#ratio = clamp(this.#ratio ** (1 - weight) * sample ** weight, MIN_RATIO, MAX_RATIO);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
