/**
 * What the upstream's headers teach about its rule for a per-minute token window: how it charges a
 * request (prompt + `max_tokens` kept, the same corrected to the real usage afterwards, or only the real
 * usage after the fact) and how its window counts (a sliding log, or fixed windows with a phase).
 *
 * Every hypothesis predicts what the upstream's window holds when a response's headers are written,
 * from the calls of this (workspace, model) the router settled: `limit - remaining` must equal it exactly.
 * A hypothesis that predicted the last N responses is learned when no other one did as well; one wrong
 * prediction (someone else sharing the workspace, a hostile or broken header, calls the router does not
 * know of) unlearns it, and the router falls back to its conservative windows and charges. So a rule is
 * only ever used while the upstream keeps confirming it.
 *
 * Pure: instants are parameters; memory is bounded (`maxEntries` calls per period are remembered; more
 * than that, and nothing is learned until the rate falls).
 */

/** How an upstream charges an admitted request (the emulator's `upstream.charge`). */
export type ChargeRule = 'max-tokens' | 'max-tokens-corrected' | 'usage';

/**
 * How an upstream window counts: a `sliding` log (a charge counts for exactly one period after it was
 * made) or `fixed` windows starting at `phaseMs + k * period`, the phase known to within `uncertaintyMs`
 * (the true start lies in `(phaseMs, phaseMs + uncertaintyMs]`: after the instant that bounds it).
 */
export type WindowRule =
  | { readonly kind: 'sliding' }
  | {
      readonly kind: 'fixed';
      readonly phaseMs: number;
      readonly uncertaintyMs: number;
      /**
       * Where in the arc a phase probe waits to go (ms past the period, as `phaseMs`): a sibling window's
       * boundary, where this one's likely is too. Absent: from the arc's start.
       */
      readonly probeMs?: number;
    };

/** One settled call and the headers of its response. */
export interface ChargeSample {
  /** When the call was reserved (the upstream admitted it between this and `answeredAt`). */
  readonly sentAt: number;
  /** When its response arrived. */
  readonly answeredAt: number;
  /** The window's limit and remaining, as the response's headers reported them. */
  readonly limit: number;
  readonly remaining: number;
  /** `x-ratelimit-tokens-query-cost`, when sent. */
  readonly queryCost: number | undefined;
  /** `usage.total_tokens`. */
  readonly usedTokens: number;
}

interface Entry {
  readonly sentAt: number;
  readonly answeredAt: number;
  readonly cost: number;
  readonly used: number;
}

interface Hypothesis {
  readonly charge: ChargeRule;
  readonly window: 'sliding' | 'fixed';
  /** Consecutive responses predicted exactly. */
  streak: number;
  /** Responses it failed to predict, ever (under this limit): of two that predict alike now, the one that erred less wins. */
  misses: number;
  /** Fixed windows: the arc of phases still possible, (lo, lo + width] modulo the period (width = period: any). */
  lo: number;
  width: number;
  /** Fixed windows: where a 429's Retry-After put the boundary (the instant to probe), not yet confirmed. */
  claim?: number | undefined;
}

/** The calls of the last period as one charge rule counts them: when (sorted) and what each weighs, and their sum. */
interface Counted {
  readonly live: readonly { readonly at: number; readonly amount: number }[];
  readonly sum: number;
}

/** A 429's headers: what the window held then, and when it said to come back. */
export interface RefusalSample {
  readonly at: number;
  readonly limit: number;
  readonly remaining: number;
  /** `Retry-After` in ms, when sent and when this window (not another) refused the call. */
  readonly retryAfterMs: number | undefined;
}

/** Consecutive exact predictions before a hypothesis is believed. */
export const LEARN_AFTER = 3;
/** A fixed window is used once its phase is known to within this (a second, one bucket of the router's ring). */
export const MAX_PHASE_UNCERTAINTY_MS = 59_000;

/**
 * A phase uncertain by this or less is not probed: a 429's `Retry-After` (whole seconds) tells no more.
 */
export const MIN_PROBE_UNCERTAINTY_MS = 1_000;
/** `Retry-After` is whole seconds rounded up: the boundary lies within this before the instant it names. */
const RETRY_AFTER_RESOLUTION_MS = 1_000;

const CHARGES: readonly ChargeRule[] = ['max-tokens', 'max-tokens-corrected', 'usage'];

/** Learns the charge and window rule of one (workspace, model) token window from its responses. */
export class UpstreamRuleLearner {
  readonly #periodMs: number;
  readonly #maxEntries: number;
  #entries: Entry[] = [];
  #hypotheses: Hypothesis[] = [];
  #limit = -1;
  /** The last 429 gave no usable Retry-After (none, garbage, beyond a period): probes halve the arc. */
  #waitless = false;

  constructor(periodMs = 60_000, maxEntries = 2_048) {
    this.#periodMs = periodMs;
    this.#maxEntries = maxEntries;
    this.#reset();
  }

  /** The charge rule the responses confirm, or undefined while unknown. */
  get charge(): ChargeRule | undefined {
    return this.#believed()?.charge;
  }

  /** The hypothesis with the longest streak, once long enough (ties: the fewest misses, then the safest charge). */
  #believed(): Hypothesis | undefined {
    let best: Hypothesis | undefined;
    for (const h of this.#hypotheses) {
      if (h.streak < LEARN_AFTER) continue;
      if (best === undefined || h.streak > best.streak || (h.streak === best.streak && h.misses < best.misses)) best = h;
    }
    return best;
  }

  /** Whether `h` is ahead of every other hypothesis (a tie is not knowledge: its failure only tells them apart). */
  #alone(h: Hypothesis): boolean {
    return this.#hypotheses.every((other) => other === h || other.streak < h.streak || (other.streak === h.streak && other.misses > h.misses));
  }

  /** The window rule the responses confirm (under the learned charge rule), or undefined while unknown. */
  get window(): WindowRule | undefined {
    const charge = this.charge;
    if (charge === undefined) return undefined;
    const sliding = this.#hypotheses.find((h) => h.charge === charge && h.window === 'sliding') as Hypothesis;
    const fixed = this.#hypotheses.find((h) => h.charge === charge && h.window === 'fixed') as Hypothesis;
    if (sliding.streak >= LEARN_AFTER && sliding.streak > fixed.streak) return { kind: 'sliding' };
    if (fixed.streak >= LEARN_AFTER && fixed.streak > sliding.streak && fixed.width <= MAX_PHASE_UNCERTAINTY_MS) {
      // An arc a 429 cannot narrow further may hold a whole second, where upstream windows usually start:
      // one probe there tells (admitted: the boundary was there or before; a 429: after).
      const second = (Math.floor(fixed.lo / 1_000) + 1) * 1_000;
      const pointed = fixed.width <= MIN_PROBE_UNCERTAINTY_MS && second < fixed.lo + fixed.width;
      // Without a usable Retry-After a probe at the arc's start tells nothing: halve the arc instead.
      // A Retry-After's claim is probed where it names the boundary before it is believed (see observeRefusal).
      const claimed = fixed.claim !== undefined && fixed.width > MIN_PROBE_UNCERTAINTY_MS && mod(fixed.claim - fixed.lo, this.#periodMs) < fixed.width ? fixed.claim : undefined;
      const point = pointed ? second : (claimed ?? (this.#waitless && fixed.width > MIN_PROBE_UNCERTAINTY_MS ? fixed.lo + Math.floor(fixed.width / 2) : undefined));
      return { kind: 'fixed', phaseMs: fixed.lo, uncertaintyMs: fixed.width, ...(point === undefined ? {} : { probeMs: point % this.#periodMs }) };
    }
    return undefined;
  }

  /**
   * Where the learned fixed window's boundary most likely is (ms past the period): the end of a sharp arc,
   * or where a 429's Retry-After put it (not yet confirmed). What a sibling window may probe at.
   */
  get likelyBoundary(): number | undefined {
    const rule = this.window;
    if (rule?.kind !== 'fixed') return undefined;
    if (rule.uncertaintyMs <= MIN_PROBE_UNCERTAINTY_MS) return (rule.phaseMs + rule.uncertaintyMs) % this.#periodMs;
    const fixed = this.#hypotheses.find((h) => h.charge === this.charge && h.window === 'fixed') as Hypothesis;
    return fixed.claim !== undefined && rule.probeMs === fixed.claim ? fixed.claim : undefined;
  }

  /**
   * The phase arc of the fixed-window hypothesis under the learned charge while no response has told a
   * fixed window from a sliding log (or once fixed is learned): where a probe can look. Undefined while the
   * charge is unknown or a sliding log predicts better.
   */
  get fixedArc(): { readonly lo: number; readonly width: number } | undefined {
    const charge = this.charge;
    if (charge === undefined) return undefined;
    const sliding = this.#hypotheses.find((h) => h.charge === charge && h.window === 'sliding') as Hypothesis;
    const fixed = this.#hypotheses.find((h) => h.charge === charge && h.window === 'fixed') as Hypothesis;
    return fixed.streak >= LEARN_AFTER && fixed.streak >= sliding.streak ? { lo: fixed.lo, width: fixed.width } : undefined;
  }

  /**
   * What to settle a call at: the real usage under a rule that charges it in the end; else what the
   * upstream said it charged, never less than the usage (a query cost below it is not believed).
   */
  settleTokens(queryCost: number | undefined, usedTokens: number): number {
    const charge = this.charge;
    if (charge === 'max-tokens-corrected' || charge === 'usage' || queryCost === undefined) return usedTokens;
    return Math.max(queryCost, usedTokens);
  }

  /** Take one response into account. Samples with impossible numbers are ignored. */
  observe(sample: ChargeSample): void {
    const { sentAt, answeredAt, limit, remaining, usedTokens } = sample;
    const cost = sample.queryCost ?? usedTokens;
    if (![sentAt, answeredAt, limit, remaining, usedTokens, cost].every(Number.isFinite) || remaining > limit || limit <= 0 || sentAt > answeredAt) return;
    if (limit !== this.#limit) {
      // Another limit is another regime: what was learned under the old one proves nothing.
      this.#limit = limit;
      this.#reset();
    }
    this.#judgeAll(answeredAt, limit - remaining, cost);
    this.#remember({ sentAt, answeredAt, cost, used: usedTokens }, answeredAt);
  }

  /**
   * Take a 429 into account: its remaining is what the window held then (the refused call weighs nothing),
   * judged as any response's; its `Retry-After` names the next boundary of a fixed window to the second,
   * which narrows the phase where it agrees with it (a wait the phase rules out is not believed: it is
   * another window's, or a lie). Samples with impossible numbers, or under another limit, are ignored.
   */
  observeRefusal(sample: RefusalSample): void {
    const { at, limit, remaining, retryAfterMs } = sample;
    if (![at, limit, remaining].every(Number.isFinite) || limit !== this.#limit || remaining < 0 || remaining > limit) return;
    // A remaining of 0 may be clamped (a usage-charged window can hold more than its limit): no count.
    if (remaining > 0) this.#judgeAll(at, limit - remaining, 0);
    const period = this.#periodMs;
    this.#waitless = retryAfterMs === undefined || !Number.isFinite(retryAfterMs) || retryAfterMs <= 0 || retryAfterMs > period;
    if (this.#waitless || retryAfterMs === undefined) return;
    let agreed = false;
    for (const h of this.#hypotheses) {
      if (h.window !== 'fixed' || h.streak === 0) continue;
      const from = mod(at + retryAfterMs - RETRY_AFTER_RESOLUTION_MS, period);
      if (intersectArcs(h.lo, h.width, from, RETRY_AFTER_RESOLUTION_MS, period) === undefined) continue;
      // Believed up to its start (the boundary is no earlier: the 429 says it had not passed); its end is
      // only where the next probe looks (the whole second inside, else the end): a Retry-After that names
      // a boundary too early must not open the window to a burst the upstream refuses.
      const into = mod(from - h.lo, period);
      if (into < h.width) {
        h.lo = from;
        h.width -= into;
      }
      const second = (Math.floor(from / 1_000) + 1) * 1_000;
      h.claim = (second < from + RETRY_AFTER_RESOLUTION_MS ? second : from + RETRY_AFTER_RESOLUTION_MS) % period;
      agreed = true;
    }
    // A wait no phase still possible agrees with is no better than none.
    this.#waitless = !agreed;
  }

  /** Judge every hypothesis on one response (`held`: limit - remaining; `cost`: this call's query cost). */
  #judgeAll(at: number, held: number, cost: number): void {
    const believed = this.#believed();
    const singled = believed !== undefined && this.#alone(believed);
    const counted = new Map<ChargeRule, Counted>();
    for (const h of this.#hypotheses) {
      let live = counted.get(h.charge);
      if (live === undefined) counted.set(h.charge, (live = this.#live(h.charge, at)));
      this.#judge(h, at, held, cost, live);
    }
    // The rule in use, singled out, failed a prediction: nothing is believed until the responses single one
    // out again (another hypothesis that happened to fit this once must not take over on its past).
    if (singled && believed.streak === 0) this.#reset(false);
  }

  /** Every hypothesis back to no evidence; `forget` also clears their misses (a new limit, a new regime). */
  #reset(forget = true): void {
    const misses = new Map(this.#hypotheses.map((h) => [`${h.charge}/${h.window}`, h.misses]));
    this.#hypotheses = CHARGES.flatMap((charge) =>
      (['sliding', 'fixed'] as const).map((window) => ({ charge, window, streak: 0, misses: forget ? 0 : (misses.get(`${charge}/${window}`) ?? 0), lo: 0, width: this.#periodMs })),
    );
  }

  #remember(entry: Entry, now: number): void {
    const entries = this.#entries;
    entries.push(entry);
    // Only calls that can still count matter: the window is one period long.
    let drop = 0;
    while (drop < entries.length && Math.max((entries[drop] as Entry).sentAt, (entries[drop] as Entry).answeredAt) + this.#periodMs <= now) drop++;
    if (entries.length - drop > this.#maxEntries) {
      // Too many calls to remember: predictions would miss some, so nothing can be learned for now.
      this.#entries = [];
      this.#reset();
      return;
    }
    if (drop > 0) this.#entries = entries.slice(drop);
  }

  #miss(h: Hypothesis): void {
    h.streak = 0;
    h.misses++;
  }

  /** Whether `h` predicts `held` at `now` for a call of query cost `cost`; updates its streak (and phase arc). */
  /**
   * The earlier calls as the upstream counts them under `charge` at `now`: when (sorted) and what they
   * weigh, with their sum. Built once per charge rule and shared by its two window hypotheses.
   */
  #live(charge: ChargeRule, now: number): Counted {
    const usage = charge !== 'max-tokens';
    const afterTheFact = charge === 'usage';
    const live: { at: number; amount: number }[] = [];
    let sum = 0;
    for (const e of this.#entries) {
      const at = afterTheFact ? e.answeredAt : e.sentAt;
      if (at <= now - this.#periodMs) continue;
      const amount = usage ? e.used : e.cost;
      live.push({ at, amount });
      sum += amount;
    }
    // Entries are in answer order: sorted already, or nearly, and the sort is linear on such input.
    live.sort((a, b) => a.at - b.at);
    return { live, sum };
  }

  #judge(h: Hypothesis, now: number, held: number, cost: number, counted: Counted): void {
    const period = this.#periodMs;
    // Headers are written before a correction or an after-the-fact charge lands: this call weighs its query
    // cost, or nothing yet.
    const expected = held - (h.charge === 'usage' ? 0 : cost);
    if (h.window === 'sliding') {
      if (counted.sum === expected) h.streak++;
      else this.#miss(h);
      return;
    }
    // Fixed: the window started at some s in (now - period, now]; it holds the calls made at or after s.
    const live = counted.live;
    let suffix = 0;
    let from = Number.POSITIVE_INFINITY;
    let to = Number.NEGATIVE_INFINITY;
    for (let k = live.length; k >= 0; k--) {
      // s in (at[k-1], at[k]] (with at[-1] = now - period, at[n] = now) holds the calls k.. n-1.
      if (k < live.length) suffix += (live[k] as { amount: number }).amount;
      const lower = k === 0 ? now - period : (live[k - 1] as { at: number }).at;
      const upper = k === live.length ? now : (live[k] as { at: number }).at;
      // (lower, upper] is empty when both calls were made at the same instant: no start between them.
      if (suffix === expected && lower < upper) {
        from = Math.min(from, lower);
        to = Math.max(to, upper);
      }
    }
    if (from > to) {
      this.#miss(h);
      h.lo = 0;
      h.width = period;
      return;
    }
    const arc = intersectArcs(h.lo, h.width, mod(from, period), to - from, period);
    if (arc === undefined) {
      // Consistent with a fixed window, not with the phase believed so far: start again from this response.
      h.misses++;
      h.streak = 1;
      h.lo = mod(from, period);
      h.width = Math.min(period, to - from);
      return;
    }
    h.streak++;
    h.lo = arc.lo;
    h.width = arc.width;
  }
}

function mod(value: number, period: number): number {
  const m = value % period;
  return m < 0 ? m + period : m;
}

/**
 * The intersection of two arcs (lo, lo + width] modulo `period` (a width of `period` is the whole circle),
 * as one arc (the hull, when it falls in two pieces); undefined when they do not meet (arcs that only
 * touch share no instant: each excludes its own start).
 */
export function intersectArcs(lo1: number, width1: number, lo2: number, width2: number, period: number): { lo: number; width: number } | undefined {
  if (width1 >= period) return { lo: lo2, width: Math.min(width2, period) };
  if (width2 >= period) return { lo: lo1, width: width1 };
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const shift of [-period, 0, period]) {
    const a = Math.max(lo1, lo2 + shift);
    const b = Math.min(lo1 + width1, lo2 + shift + width2);
    if (a < b) {
      from = Math.min(from, a);
      to = Math.max(to, b);
    }
  }
  return from > to ? undefined : { lo: mod(from, period), width: to - from };
}
