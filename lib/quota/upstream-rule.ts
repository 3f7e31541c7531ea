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
 * than that, and nothing is learned until the rate falls). A response costs O(log n) in the calls of the
 * period (charge-sums.ts: running sums per charge rule), not a recount of them.
 */
import { intersectArcs, mod } from './arcs.js';
import { ChargeSums, exactAmount, recount, type CountedCall, type PeriodCount } from './charge-sums.js';

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
  /** The calls remembered, in answer order from `#first` (the ones before it have left). */
  #entries: Entry[] = [];
  #first = 0;
  /** One count per charge rule (CHARGES' order) of the remembered calls, while `#stale` is false. */
  readonly #sums: readonly ChargeSums[] = CHARGES.map(() => new ChargeSums());
  /** Calls remembered whose amounts ChargeSums cannot count exactly: while any is, responses are judged by a recount. */
  #inexact = 0;
  /** The sums were dropped for an inexact call: rebuilt from the calls once none is left. */
  #stale = false;
  /** The latest instant judged or remembered: a response dated earlier is judged by a recount. */
  #latest = Number.NEGATIVE_INFINITY;
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
    const counts = this.#counts(at);
    for (const h of this.#hypotheses) this.#judge(h, at, held, cost, counts[CHARGES.indexOf(h.charge)] as PeriodCount);
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
    if (!exactAmount(entry.cost) || !exactAmount(entry.used)) {
      this.#inexact++;
      if (!this.#stale) for (const sums of this.#sums) sums.clear();
      this.#stale = true;
    } else if (!this.#stale) {
      for (let c = 0; c < CHARGES.length; c++) (this.#sums[c] as ChargeSums).add(chargedAt(CHARGES[c] as ChargeRule, entry), amountOf(CHARGES[c] as ChargeRule, entry));
    }
    this.#latest = Math.max(this.#latest, now);
    // Only calls that can still count matter: the window is one period long.
    let first = this.#first;
    while (first < entries.length && Math.max((entries[first] as Entry).sentAt, (entries[first] as Entry).answeredAt) + this.#periodMs <= now) {
      const gone = entries[first++] as Entry;
      if (!exactAmount(gone.cost) || !exactAmount(gone.used)) this.#inexact--;
    }
    if (entries.length - first > this.#maxEntries) {
      // Too many calls to remember: predictions would miss some, so nothing can be learned for now.
      this.#entries = [];
      this.#first = 0;
      this.#inexact = 0;
      this.#stale = false;
      for (const sums of this.#sums) sums.clear();
      this.#reset();
      return;
    }
    this.#first = first;
    if (first >= 256 && first * 2 >= entries.length) {
      this.#entries = entries.slice(first);
      this.#first = 0;
    }
    if (this.#stale && this.#inexact === 0) this.#rebuild();
    // A call made one period before the latest instant no longer counts in any response judged by the sums.
    if (!this.#stale) for (const sums of this.#sums) sums.expire(this.#latest - this.#periodMs);
  }

  /** The sums again from the calls remembered (every one exact now). */
  #rebuild(): void {
    const calls = this.#calls();
    for (let c = 0; c < CHARGES.length; c++) {
      const charge = CHARGES[c] as ChargeRule;
      const sums = this.#sums[c] as ChargeSums;
      sums.clear();
      const sorted = calls.map((e) => ({ at: chargedAt(charge, e), amount: amountOf(charge, e) })).sort((a, b) => a.at - b.at);
      for (const call of sorted) sums.add(call.at, call.amount);
    }
    this.#stale = false;
  }

  #calls(): Entry[] {
    return this.#entries.slice(this.#first);
  }

  /**
   * The calls as each charge rule counts them at `now` (CHARGES' order): by the running sums, or by a
   * recount where those are not exact (an inexact amount remembered, or `now` before an instant already
   * judged: the sums have forgotten what counts then).
   */
  #counts(now: number): readonly PeriodCount[] {
    const period = this.#periodMs;
    if (!this.#stale && this.#inexact === 0 && now >= this.#latest) {
      this.#latest = now;
      return this.#sums.map((sums) => {
        sums.expire(now - period);
        return sums.count(now, period);
      });
    }
    this.#latest = Math.max(this.#latest, now);
    const calls = this.#calls();
    return CHARGES.map((charge) => recount(calls.map((e): CountedCall => ({ at: chargedAt(charge, e), amount: amountOf(charge, e) })), now, period));
  }

  #miss(h: Hypothesis): void {
    h.streak = 0;
    h.misses++;
  }

  /** Whether `h` predicts `held` at `now` for a call of query cost `cost`; updates its streak (and phase arc). */
  #judge(h: Hypothesis, now: number, held: number, cost: number, counted: PeriodCount): void {
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
    const span = counted.span(expected);
    if (span === undefined) {
      this.#miss(h);
      h.lo = 0;
      h.width = period;
      return;
    }
    const { from, to } = span;
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

/** When `charge` counts a call: when it was sent, or (charged after the fact) when it was answered. */
function chargedAt(charge: ChargeRule, e: Entry): number {
  return charge === 'usage' ? e.answeredAt : e.sentAt;
}

/** What `charge` counts a call at: its query cost, or its usage once corrected or charged after the fact. */
function amountOf(charge: ChargeRule, e: Entry): number {
  return charge === 'max-tokens' ? e.cost : e.used;
}
