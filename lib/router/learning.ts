/**
 * What a call's outcome teaches: its usage settles the reservation, calibrates the token estimator and is
 * remembered as the prompt's measured size (the next request of the same content reserves exactly that);
 * its response headers feed the store's windows (learned limits, lower remaining, 429 blocks) and may show
 * a limit (`limitsLearned`) or a window kind the tier did not define (metered from then on).
 *
 * The headers also teach the upstream's rule for each pair's tokens-per-minute window (quota/upstream-rule.ts):
 * how it charges (a call settles at what the upstream really holds for it: its query cost, or its usage
 * once the upstream is seen to correct or to charge after the fact; a router whose upstreams all charge
 * after the fact reserves the prompt alone, as they admit) and how its window counts (sliding or fixed,
 * with the phase), which goes to the store with each observation so that capacity returns when the
 * upstream gives it back. All of it happens on settle, never on reserve.
 *
 * Bookkeeping after a call must not turn the call's outcome into a store error: the answer is the
 * caller's either way. A store failure here is a `storeError` event (a fail-closed Redis store recovers
 * the held tokens when the reservation expires).
 */
import type { Clock } from '../clock.js';
import { redactSecrets } from '../errors.js';
import { LimitDoubts, boundObservation, type HeaderBounds, type IgnoredHeader } from '../quota/header-bounds.js';
import type { HeaderSource, ParsedRateLimitHeaders } from '../quota/headers.js';
import { toUpstreamObservation } from '../quota/upstream-response.js';
import type { QuotaStore, Reservation, ReserveRequest, UpstreamObservation, WindowObservation } from '../quota/types.js';
import { mod } from '../quota/arcs.js';
import { MIN_PROBE_UNCERTAINTY_MS, UpstreamRuleLearner, type WindowRule } from '../quota/upstream-rule.js';
import type { TokenEstimator } from '../tokens.js';
import { pairKey, type Candidates } from './candidates.js';
import type { CatalogView } from './catalog-view.js';
import type { RouterEventEmitter } from './events.js';
import type { Prepared } from './prepare.js';
import type { WaitQueue } from './wait-queue.js';
import { tierWindows, type Workspace } from './workspaces.js';

export type BookkeepingOperation = 'settle' | 'release' | 'observe';

/** The usage a response reports (the SDK's camel-cased fields). */
export interface Usage {
  readonly promptTokens?: number;
  /** The output tokens: with `promptTokens`, what the call's cost is computed from. */
  readonly completionTokens?: number;
  readonly totalTokens?: number;
}

export class Learning {
  readonly #store: QuotaStore;
  readonly #clock: Clock;
  readonly #events: RouterEventEmitter;
  readonly #view: CatalogView;
  readonly #candidates: Candidates;
  readonly #tokens: TokenEstimator;
  readonly #secrets: readonly string[];
  readonly #bounds: HeaderBounds;
  /** Low limits reported, not yet believed (header-bounds.ts). */
  readonly #doubts = new LimitDoubts();
  #queue: WaitQueue | undefined;
  /** Whether the store settles and observes synchronously (see QuotaStore.settleSync): no promise then. */
  readonly #syncSettle: boolean;
  readonly #syncObserve: boolean;
  /** The upstream's rule per (workspace, model) (bounded: pairs are the configured workspaces x the catalogue). */
  readonly #rules = new Map<string, PairRule>();
  /** True once every pair whose charge is known charges only after the fact: reserve the prompt alone. */
  #promptOnly = false;

  constructor(store: QuotaStore, clock: Clock, events: RouterEventEmitter, view: CatalogView, candidates: Candidates, tokens: TokenEstimator, secrets: readonly string[], bounds: HeaderBounds) {
    this.#store = store;
    this.#clock = clock;
    this.#events = events;
    this.#view = view;
    this.#candidates = candidates;
    this.#tokens = tokens;
    this.#secrets = secrets;
    this.#bounds = bounds;
    this.#syncSettle = typeof store.settleSync === 'function';
    this.#syncObserve = typeof store.observeSync === 'function';
  }

  /** The queue to wake when capacity returns (it reports its own store errors here, so it comes second). */
  set queue(queue: WaitQueue) {
    this.#queue = queue;
  }

  /**
   * A call succeeded: calibrate the estimator, settle at its usage (the estimate without one), learn from
   * its headers, wake the queue. A promise only when the store needs one.
   */
  succeeded(prepared: Prepared, reservation: Reservation, workspace: Workspace, attemptId: string, usage: Usage | undefined): Promise<void> | undefined {
    const used = usage?.totalTokens;
    if (typeof usage?.promptTokens === 'number') this.calibrate(prepared, usage.promptTokens);
    const headers = workspace.client.takeHeaders(attemptId);
    const reported = typeof used === 'number' && used >= 0;
    const settling = this.settleAndLearn(workspace, reservation, reported ? used : reservation.tokens, headers, reported);
    const queue = this.#queue as WaitQueue;
    if (settling === undefined) {
      if (queue.length > 0) void queue.pump();
      return undefined;
    }
    return settling.then(() => void queue.pump());
  }

  /** The real prompt size of a prepared request: remembered for its content; an estimate corrects the ratio. */
  calibrate(prepared: Prepared, promptTokens: number): void {
    if (!prepared.measured) this.#tokens.observe(prepared.promptEstimate, promptTokens, prepared.ratio);
    this.#tokens.remember(prepared.contentKey, promptTokens);
  }

  /**
   * What to reserve for a call: prompt + max output held, and the same asked to fit, or only the prompt
   * once every upstream whose charge is known admits while the prompt fits and charges the real usage
   * after the fact (the hold stays whole: a call in flight may be charged its usage before the next one
   * is judged, so holding only its prompt would admit what the upstream refuses).
   */
  reserveRequest(candidates: ReserveRequest['candidates'], prepared: Prepared): ReserveRequest {
    return this.#promptOnly ? { candidates, tokens: prepared.estimated, fitTokens: prepared.promptEstimate } : { candidates, tokens: prepared.estimated };
  }

  /**
   * Settle a reservation and learn from the response's headers. Both go out together (the store sees the
   * settle first: both stores run operations in the order they are called), so a remote store costs one
   * round trip here, not two. In that order the upstream's remaining is compared with usage that already
   * holds the real count, not the estimate.
   */
  settleAndLearn(workspace: Workspace, reservation: Reservation, tokens: number, headers: HeaderSource | undefined, reportedUsage = true): Promise<void> | undefined {
    const store = this.#store;
    const parsed = headers === undefined ? undefined : this.#bounded(workspace, reservation.model, 200, headers, undefined);
    let charged = tokens;
    let observation = parsed?.observation;
    if (parsed !== undefined && reportedUsage) ({ charged, observation } = this.#ruleOf(reservation, tokens, parsed.headers, parsed.observation));
    if (this.#syncSettle && this.#syncObserve) {
      try {
        store.settleSync?.(reservation, charged);
      } catch (error) {
        this.storeError('settle', error);
      }
      if (parsed !== undefined && observation !== undefined) {
        try {
          this.#observe(workspace, reservation.model, observation, parsed.headers);
        } catch (error) {
          this.storeError('observe', error);
        }
      }
      return undefined;
    }
    const settled = this.bookkeeping('settle', () => store.settle(reservation, charged));
    if (parsed === undefined || observation === undefined) return settled;
    const seen = observation;
    return Promise.all([settled, this.bookkeeping('observe', () => this.#observe(workspace, reservation.model, seen, parsed.headers))]).then(() => undefined);
  }

  /**
   * The pair's rule learned from this response: what to settle the call at, and the observation with the
   * window rule for the store. Headers are written before a correction lands, so under a correcting
   * upstream this call's remaining is read as it will be once corrected (the store settles at the usage).
   */
  #ruleOf(reservation: Reservation, used: number, headers: ParsedRateLimitHeaders, observation: UpstreamObservation): { charged: number; observation: UpstreamObservation } {
    const index = observation.windows.findIndex((w) => w.kind === 'tokens-per-minute');
    // No tokens-per-minute window in this response: nothing to learn or apply, so no pair lookup.
    if (index < 0) return { charged: used, observation };
    const window = observation.windows[index];
    const key = pairKey(reservation.workspace, reservation.model);
    let pair = this.#rules.get(key);
    if (window?.limit !== undefined && window.remaining !== undefined) {
      if (pair === undefined) this.#rules.set(key, (pair = { learner: new UpstreamRuleLearner(), sent: null, reported: 'null/undefined/' }));
      const now = this.#clock.now();
      pair.learner.observe({ sentAt: Math.min(reservation.at, now), answeredAt: now, limit: window.limit, remaining: window.remaining, queryCost: headers.queryCost, usedTokens: used });
      this.#promptOnly = this.#everyChargeIs('usage');
    }
    if (pair === undefined || window === undefined) return { charged: used, observation };
    const learner = pair.learner;
    const charged = learner.settleTokens(headers.queryCost, used);
    const correction = learner.charge === 'max-tokens-corrected' && headers.queryCost !== undefined ? Math.min(reservation.tokens, Math.max(0, headers.queryCost - used)) : 0;
    return { charged, observation: this.#withRule(pair, reservation.workspace, reservation.model, observation, window, correction) };
  }

  /**
   * A 429 teaches the pair's rule too (upstream-rule.ts `observeRefusal`): what its window held, and, when
   * that window refused the call (less room than the call's `need`, not a request-rate body), the
   * boundary its `Retry-After` names. A phase probe's 429 narrows the phase this way.
   */
  #refused(workspace: string, model: string, headers: ParsedRateLimitHeaders, observation: UpstreamObservation, body: string | undefined, need: number | undefined): UpstreamObservation {
    const pair = this.#rules.get(pairKey(workspace, model));
    const window = observation.windows.find((w) => w.kind === 'tokens-per-minute');
    if (pair === undefined || window?.limit === undefined || window.remaining === undefined) return observation;
    const own = need !== undefined && window.remaining < need && !/requests rate limit/i.test(body ?? '');
    const now = this.#clock.now();
    pair.learner.observeRefusal({ at: now, limit: window.limit, remaining: window.remaining, retryAfterMs: own ? headers.retryAfterMs : undefined });
    const rule = pair.learner.window;
    const blocked = observation.rateLimited;
    if (!own || rule?.kind !== 'fixed' || blocked === undefined) return this.#withRule(pair, workspace, model, observation, window, 0);
    // The learned phase, which agreed with this 429, counts the window until its boundary: the block need
    // not outlast the arc's first instant (a probe may look inside it).
    const earliest = mod(rule.phaseMs - now, PERIOD_MS);
    const rateLimited = { ...blocked, blockedForMs: Math.min(blocked.blockedForMs, earliest) };
    return this.#withRule(pair, workspace, model, { ...observation, rateLimited }, window, 0);
  }

  /**
   * The observation with the pair's window rule for the store (`ruleLearned` when it changed), once a
   * rule was learned; remaining read `correction` higher (a correcting upstream's headers are written
   * before its correction lands).
   */
  #withRule(pair: PairRule, workspace: string, model: string, observation: UpstreamObservation, window: WindowObservation, correction: number): UpstreamObservation {
    const learner = pair.learner;
    const rule = learner.window;
    const charge = learner.charge ?? null;
    const reported = `${charge}/${rule?.kind}/${rule?.kind === 'fixed' ? `${rule.phaseMs}/${rule.uncertaintyMs}` : ''}`;
    if (reported !== pair.reported) {
      pair.reported = reported;
      this.#events.emit('ruleLearned', { workspace, model, charge, window: rule ?? null });
    }
    pair.window = { kind: window.kind, unit: window.unit, period: window.period, scope: window.scope };
    const sent = this.#storeRule(workspace, pair) ?? null;
    if (sent === null && pair.sent === null) return observation;
    const boundary = learner.likelyBoundary;
    if (boundary !== undefined && boundary !== pair.lent) this.#lendFrom(workspace, model);
    pair.lent = boundary;
    pair.sent = sent;
    const windows = observation.windows.map((w): WindowObservation => {
      const remaining = correction > 0 && w.remaining !== undefined && w.unit === 'tokens' ? { remaining: w.remaining + correction } : {};
      return w === window ? { ...w, ...remaining, rule: sent } : { ...w, ...remaining };
    });
    return { ...observation, windows };
  }

  /**
   * The window rule the store counts this pair by: the learned one; while a fixed window is not yet told
   * from a sliding log (the charge known), a fixed rule of a whole period's uncertainty, which counts no
   * less than a sliding log (nor than the ring) and keeps the charges' instants exact from then on; and,
   * while a fixed phase is wide or unknown, a sibling's boundary as its probe point: where a window of the
   * same workspace has its phase sharp (or a 429 put it), where windows that share a phase start over too. The count stays
   * by this pair's own arc, so windows that do not share a phase cost one probe's 429, which then tells
   * this one's boundary. A whole-period arc is probed only at a lent point.
   */
  #storeRule(workspace: string, pair: PairRule): WindowRule | undefined {
    const own = pair.learner.window;
    // Sliding, sharp, or probing where its own 429 put the boundary: its own rule.
    if (own !== undefined && (own.kind !== 'fixed' || own.uncertaintyMs <= MIN_PROBE_UNCERTAINTY_MS || pair.learner.likelyBoundary !== undefined)) return own;
    const arc = pair.learner.fixedArc;
    if (arc === undefined) return own;
    const base: WindowRule = own ?? { kind: 'fixed', phaseMs: arc.lo, uncertaintyMs: PERIOD_MS };
    const prefix = pairKey(workspace, '');
    for (const [key, sibling] of this.#rules) {
      const point = sibling === pair || !key.startsWith(prefix) ? undefined : sibling.learner.likelyBoundary;
      if (point === undefined) continue;
      const into = mod(point - arc.lo, PERIOD_MS);
      if (into === 0 || into > arc.width) continue;
      return { ...base, probeMs: point };
    }
    return base;
  }

  /** A pair's likely boundary moved: its siblings' stores learn the probe point now, not at their next response. */
  #lendFrom(workspace: string, model: string): void {
    const prefix = pairKey(workspace, '');
    const own = pairKey(workspace, model);
    for (const [key, sibling] of this.#rules) {
      if (!key.startsWith(prefix) || key === own || sibling.window === undefined) continue;
      const siblingModel = key.slice(prefix.length);
      const rule = this.#storeRule(workspace, sibling);
      if (rule?.kind !== 'fixed' || rule.probeMs === undefined) continue;
      sibling.sent = rule;
      const observation: UpstreamObservation = { workspace, model: siblingModel, windows: [{ ...sibling.window, rule }] };
      if (this.#syncObserve) this.#store.observeSync?.(observation);
      else void this.bookkeeping('observe', () => this.#store.observe(observation));
    }
  }

  #everyChargeIs(charge: string): boolean {
    let known = 0;
    for (const { learner } of this.#rules.values()) {
      const learned = learner.charge;
      if (learned === undefined) continue;
      if (learned !== charge) return false;
      known++;
    }
    return known > 0;
  }

  /** Runs a store operation whose failure is reported (`storeError`), never thrown. */
  async bookkeeping(operation: BookkeepingOperation, run: () => Promise<unknown> | undefined): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.storeError(operation, error);
    }
  }

  storeError(operation: BookkeepingOperation, error: unknown): void {
    this.#events.emit('storeError', { operation, message: redactSecrets((error as Error).message ?? String(error), this.#secrets) });
  }

  /**
   * Feed a response's headers to the quota store, within the bounds of header-bounds.ts (what they set
   * aside is a `headersIgnored` event), then note what they taught: emit limitsLearned for new limits, add
   * learned window kinds; a 429's teach the pair's rule (`need`: what the refused call asked for).
   * Synchronous with a store that observes synchronously.
   */
  learn(workspace: Workspace, model: string, status: number, headers: HeaderSource, body: string | undefined, need?: number): Promise<void> | undefined {
    const bounded = this.#bounded(workspace, model, status, headers, body);
    const parsed = bounded.headers;
    const observation = status === 429 ? this.#refused(workspace.config.name, model, parsed, bounded.observation, body, need) : bounded.observation;
    return this.#observe(workspace, model, observation, parsed);
  }

  /** A response's observation within the bounds of header-bounds.ts; what they set aside is a `headersIgnored` event. */
  #bounded(workspace: Workspace, model: string, status: number, headers: HeaderSource, body: string | undefined): { observation: UpstreamObservation; headers: ParsedRateLimitHeaders } {
    const facts = toUpstreamObservation({ workspace: workspace.config.name, model, status, headers, body, now: this.#clock.now() });
    const { observation, ignored } = boundObservation(facts.observation, facts.headers, this.#bounds, this.#doubts);
    if (ignored.length > 0) this.#reportIgnored(workspace.config.name, model, status, ignored);
    return { observation, headers: facts.headers };
  }

  #observe(workspace: Workspace, model: string, observation: UpstreamObservation, parsed: ParsedRateLimitHeaders): Promise<void> | undefined {
    // The API announces a retirement on the model's own responses: the plans follow from the next call.
    if (parsed.deprecationAt !== undefined && this.#view.noteRetirement(model, parsed.deprecationAt)) {
      this.#view.reportLifecycle(model, this.#view.lifecycle());
    }
    if (observation.windows.length === 0 && observation.rateLimited === undefined) return undefined;
    const store = this.#store;
    if (this.#syncObserve) {
      store.observeSync?.(observation);
      this.#noteLimits(workspace, model, observation.windows);
      return undefined;
    }
    return store.observe(observation).then(() => this.#noteLimits(workspace, model, observation.windows));
  }

  #reportIgnored(workspace: string, model: string, status: number, ignored: readonly IgnoredHeader[]): void {
    if (!this.#events.has('headersIgnored')) return;
    const shown = ignored.map((i) => ({ header: i.header.slice(0, 100), value: redactSecrets(i.value, this.#secrets).slice(0, 100), reason: i.reason }));
    this.#events.emit('headersIgnored', { workspace, model, status, ignored: shown });
  }

  #noteLimits(workspace: Workspace, model: string, windows: UpstreamObservation['windows']): void {
    if (windows.length === 0) return;
    const configured = tierWindows(this.#view.catalog, workspace, model);
    for (const window of windows) {
      if (!configured.some((w) => w.kind === window.kind) && !workspace.learnedKinds.has(window.kind)) {
        this.#candidates.learnKind(workspace, { kind: window.kind, unit: window.unit, period: window.period, scope: window.scope, limit: null });
      }
      // A limit of 0 comes with 429s: a refusal, not the tier's limit; the stores do not learn it either.
      if (window.limit === undefined || window.limit === 0) continue;
      let known = workspace.knownLimits.get(window.kind);
      if (known === undefined) workspace.knownLimits.set(window.kind, (known = new Map()));
      const scoped = window.scope === 'workspace' ? '' : model;
      const previous = known.has(scoped) ? (known.get(scoped) as number | null) : (configured.find((w) => w.kind === window.kind)?.limit ?? null);
      if (previous !== window.limit) {
        known.set(scoped, window.limit);
        this.#events.emit('limitsLearned', { workspace: workspace.config.name, model, kind: window.kind, limit: window.limit, previous });
      }
    }
  }
}

/** The upstream's rule for one pair, and the window rule last given to the store (null: none). */
interface PairRule {
  readonly learner: UpstreamRuleLearner;
  sent: WindowRule | null;
  /** What the last `ruleLearned` event said. */
  reported: string;
  /** The boundary last lent to the pair's siblings (UpstreamRuleLearner.likelyBoundary). */
  lent?: number | undefined;
  /** The pair's tokens-per-minute window as its headers name it (for an observation of its rule alone). */
  window?: Pick<WindowObservation, 'kind' | 'unit' | 'period' | 'scope'>;
}

/** The period of the windows a rule is learned for (tokens per minute). */
const PERIOD_MS = 60_000;
