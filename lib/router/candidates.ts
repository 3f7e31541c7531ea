/**
 * Which (workspace, model) pairs a call may try, and in which order: the ranked models of its need, those
 * whose context fits the request, then every usable workspace for each model not cooling down.
 *
 * ## The caches, and what invalidates each
 * A decision is a few µs because nearly everything here is computed once and reused:
 *
 * | cache | key | valid until |
 * |---|---|---|
 * | plan cache (LRU) and the last plan | endpoint, named model, need signature | the catalogue view's `version` changes (a refresh, a retirement a header announced) or the clock's UTC day changes (the lifecycle moves): all are dropped |
 * | all-fit result | a ranked list | as its ranked list: the models and the workspaces are fixed |
 * | tier windows (per workspace, in workspaces.ts) | model | forever: tier and overrides are fixed |
 * | candidate object | (workspace, model) | a window kind is learned (its windows change), or the plans are dropped: all are dropped |
 * | candidate list | a fitted model list | `version` (or the view's) changes, or the earliest cooldown or "Invalid model" mark it skipped ends |
 *
 * `version` is bumped by each event that changes a candidate list: a workspace is disabled, a model is
 * cooled down, a window kind is learned, the plans are dropped; the view's own `version` moves when the
 * catalogue changes or a pair is marked unavailable. A list built while a model cooled down (or a pair
 * was marked) records when that ends; it is rebuilt after that time without any event. Lists for calls
 * that excluded pairs or need a larger context (after a failure) are built fresh and not cached.
 */
import { LRUCache } from 'lru-cache';
import type { Model } from '../catalog/types.js';
import type { Clock } from '../clock.js';
import type { CoolingModel } from '../errors.js';
import type { Endpoint, NormalisedNeed } from '../need.js';
import type { QuotaCandidate, WindowSpec } from '../quota/types.js';
import type { CatalogView } from './catalog-view.js';
import type { Comeback } from './comeback.js';
import type { PlanCandidate } from './decision.js';
import { exactMicroUsd } from '../telemetry/cost.js';
import { fitContext, orderByCost, rankModels, type RankedModels, type Rejection, type RequestSize } from './plan.js';
import { windowsFor, type Workspace } from './workspaces.js';

/** The models a request fits, the rejected ones, and the plan's candidates for them. */
export interface Fitted {
  readonly models: readonly Model[];
  readonly rejected: readonly Rejection[];
  readonly candidates: readonly PlanCandidate[];
}

/** Which workspaces a monthly budget meters (see budgets.ts). */
export interface BudgetScope {
  meters(workspace: string): boolean;
  /** The router has a budget of its own (it meters every workspace). */
  readonly routerWide: boolean;
}

/** The pair key of exclusions (see {@link Candidates.forCall}). */
export const pairKey = (workspace: string, model: string): string => `${workspace}\u0000${model}`;

export class Candidates {
  readonly #view: CatalogView;
  readonly #workspaces: readonly Workspace[];
  readonly #clock: Clock;
  readonly #unknownContextTokens: number;
  readonly #planCache: LRUCache<string, RankedModels>;
  #lastPlanKey: string | undefined;
  #lastPlan: RankedModels | undefined;
  #lastNeed: NormalisedNeed | undefined;
  #lastEndpoint: Endpoint | undefined;
  #lastModel: string | undefined;
  /** The catalogue version and day the cached plans were ranked for: either changing drops them. */
  #planVersion = -1;
  #planDay = '';
  /** The context check's result when every ranked model fits (the common case), per ranked list. */
  readonly #allFit = new WeakMap<RankedModels, Fitted & { threshold: number }>();
  /** The `cheapest` orders of a fitted list, by their model order (see byCost). */
  readonly #byCost = new WeakMap<readonly Model[], Fitted[]>();
  /** One candidate object per (workspace, model), reused so the store's per-candidate cache hits. */
  readonly #objects = new Map<string, QuotaCandidate>();
  readonly #lists = new WeakMap<readonly Model[], { version: number; validUntil: number; list: QuotaCandidate[] }>();
  readonly #cooldowns = new Map<string, number>();
  /** Why each model cooled down (read only when a call finds every candidate away: see {@link Candidates.comeback}). */
  readonly #cooldownReasons = new Map<string, string>();
  /** Budgets meter calls (models without a price are then left out where they apply); undefined: none. */
  readonly #budgets: BudgetScope | undefined;
  readonly #priced = new WeakMap<Model, boolean>();
  #version = 0;

  constructor(view: CatalogView, workspaces: readonly Workspace[], clock: Clock, unknownContextTokens: number, planCacheSize: number, budgets?: BudgetScope) {
    this.#budgets = budgets;
    this.#view = view;
    this.#workspaces = workspaces;
    this.#clock = clock;
    this.#unknownContextTokens = unknownContextTokens;
    this.#planCache = new LRUCache({ max: planCacheSize });
  }

  /** The ranked models of a need (cached: see the table above). */
  ranked(endpoint: Endpoint, model: string | undefined, need: NormalisedNeed): RankedModels {
    // The day's lifecycle is the catalogue's cached object: asking it costs two comparisons per call.
    const lifecycle = this.#view.lifecycle();
    if (lifecycle.day !== this.#planDay || this.#view.version !== this.#planVersion) {
      this.#planCache.clear();
      this.#lastPlanKey = undefined;
      this.#lastPlan = undefined;
      this.#planDay = lifecycle.day;
      this.#planVersion = this.#view.version;
      // Served lists and windows may differ in a new catalogue: the candidate objects and lists go too.
      this.#objects.clear();
      this.#version++;
    }
    // The same need object as the last call's (a request with no need shares one: see prepare.ts): its plan,
    // without building the key.
    const last = this.#lastPlan;
    if (last !== undefined && need === this.#lastNeed && endpoint === this.#lastEndpoint && model === this.#lastModel) return last;
    const cacheKey = `${endpoint}\u0000${model ?? ''}\u0000${need.signature}`;
    // The last plan used is checked first: a service asking the same thing again and again skips the
    // LRU's bookkeeping (its recency update was a tenth of the decision).
    let ranked = cacheKey === this.#lastPlanKey ? last : this.#planCache.get(cacheKey);
    if (ranked === undefined) {
      ranked = rankModels(this.#view.catalog, need, model, true, { lifecycle });
      this.#planCache.set(cacheKey, ranked);
    }
    this.#lastPlanKey = cacheKey;
    this.#lastPlan = ranked;
    this.#lastNeed = need;
    this.#lastEndpoint = endpoint;
    this.#lastModel = model;
    return ranked;
  }

  /**
   * The context check. When the need sets no minimum and the request fits the smallest window of the
   * ranked models, every model fits: that result (and its plan candidates) is computed once per ranked list.
   */
  fit(ranked: RankedModels, contextTokens: number, minContext: number): Fitted {
    if (minContext === 0) {
      let all = this.#allFit.get(ranked);
      if (all === undefined) {
        const threshold = Math.min(Number.MAX_SAFE_INTEGER, ...ranked.ranked.map((m) => m.contextWindow ?? this.#unknownContextTokens));
        all = { threshold, models: ranked.ranked, ...this.#planCandidates(ranked.ranked, ranked.rejected) };
        this.#allFit.set(ranked, all);
      }
      if (contextTokens <= all.threshold) return all;
    }
    const fitted = fitContext(ranked, contextTokens, minContext, this.#unknownContextTokens);
    return { models: fitted.models, ...this.#planCandidates(fitted.models, fitted.rejected) };
  }

  /**
   * The `cheapest` order of a fitted plan for a request of `size` (see orderByCost). Each order is built
   * once per fitted list (memoised by its model order), so the candidate lists keep their cache.
   */
  byCost(ranked: RankedModels, fitted: Fitted, size: RequestSize): Fitted {
    let pinned = 0;
    while (pinned < fitted.models.length && ranked.ranked.indexOf(fitted.models[pinned] as Model) < ranked.pinned) pinned++;
    const models = orderByCost(fitted.models, pinned, size);
    if (models === fitted.models) return fitted;
    let orders = this.#byCost.get(fitted.models);
    if (orders === undefined) this.#byCost.set(fitted.models, (orders = []));
    // Few distinct orders per list (they change only with the ratio of output to input): compared in place.
    const same = (known: Fitted) => known.models.every((m, i) => m === models[i]);
    let ordered = orders.find(same);
    if (ordered === undefined) orders.push((ordered = { ...fitted, models, candidates: this.#planCandidates(models, []).candidates }));
    return ordered;
  }

  /** The plan's (workspace, model) pairs of `models`; pairs a budget cannot meter (no price) are rejections. */
  #planCandidates(models: readonly Model[], rejected: readonly Rejection[]): { candidates: PlanCandidate[]; rejected: readonly Rejection[] } {
    const candidates: PlanCandidate[] = [];
    const catalog = this.#view.catalog;
    let unmetered: Rejection[] | undefined;
    for (const m of models) {
      for (const w of this.#workspaces) {
        const name = w.config.name;
        if (!catalog.isServed(name, m.id)) continue;
        if (this.#unmeterable(name, m)) {
          (unmetered ??= []).push({ model: m.id, reason: `no price in the catalogue: the monthly budget of ${this.#budgets?.meters(name) === true && this.#budgets.routerWide ? 'the router' : `workspace ${name}`} cannot meter it` });
          continue;
        }
        candidates.push({ model: m.id, workspace: name, contextWindow: m.contextWindow });
      }
    }
    return { candidates, rejected: unmetered === undefined ? rejected : [...rejected, ...unmetered] };
  }

  /** A budget meters `workspace` and `model` has no price for what it serves: never a candidate there. */
  #unmeterable(workspace: string, model: Model): boolean {
    const budgets = this.#budgets;
    if (budgets === undefined || !budgets.meters(workspace)) return false;
    let priced = this.#priced.get(model);
    if (priced === undefined) {
      const serves = model.capabilities.includes('chat') || model.capabilities.includes('fim') ? 'chat' : 'embeddings';
      this.#priced.set(model, (priced = exactMicroUsd(model.prices, serves, 1, 1) !== null));
    }
    return !priced;
  }

  /**
   * The store's candidates for an attempt: `models` in order, without those under `minContext` or cooling
   * down, each through every usable workspace not in `excluded` (pair keys), that serves it (its
   * `/v1/models` list) and did not answer "Invalid model" for it lately.
   */
  forCall(models: readonly Model[], excluded: ReadonlySet<string> | undefined, minContext: number): readonly QuotaCandidate[] {
    const now = this.#clock.now();
    const plain = excluded === undefined && minContext === 0;
    const view = this.#view;
    const version = this.#version + view.version;
    if (plain) {
      const cached = this.#lists.get(models);
      if (cached !== undefined && cached.version === version && now < cached.validUntil) return cached.list;
    }
    const catalog = view.catalog;
    const marked = view.hasUnavailable;
    const list: QuotaCandidate[] = [];
    let validUntil = Number.POSITIVE_INFINITY;
    for (const model of models) {
      if ((model.contextWindow ?? Number.MAX_SAFE_INTEGER) < minContext) continue;
      const cooled = this.#cooldowns.get(model.id);
      if (cooled !== undefined && cooled > now) {
        validUntil = Math.min(validUntil, cooled);
        continue;
      }
      for (const workspace of this.#workspaces) {
        const name = workspace.config.name;
        if (workspace.disabled || excluded?.has(pairKey(name, model.id)) || !catalog.isServed(name, model.id) || this.#unmeterable(name, model)) continue;
        if (marked) {
          const until = view.unavailableUntil(name, model.id, now);
          if (until !== undefined) {
            validUntil = Math.min(validUntil, until);
            continue;
          }
        }
        list.push(this.#candidate(workspace, model.id));
      }
    }
    if (plain) this.#lists.set(models, { version, validUntil, list });
    return list;
  }

  #candidate(workspace: Workspace, model: string): QuotaCandidate {
    const key = pairKey(workspace.config.name, model);
    let candidate = this.#objects.get(key);
    if (candidate === undefined) {
      candidate = { workspace: workspace.config.name, model, windows: windowsFor(this.#view.catalog, workspace, model) };
      this.#objects.set(key, candidate);
    }
    return candidate;
  }

  /** `model` is avoided until `until` (the clock's ms), because of `reason` (a failure kind). */
  coolDown(model: string, until: number, reason: string): void {
    this.#cooldowns.set(model, until);
    this.#cooldownReasons.set(model, reason);
    this.#version++;
  }

  /**
   * The pairs {@link Candidates.forCall} passes over for a while (a model cooling down, a pair marked after
   * "Invalid model") that would be candidates otherwise, and the earliest instant one of them is back;
   * undefined when none would (every pair excluded for the call, too small, unserved or its workspace
   * disabled: no wait helps). The slow path of a call that finds no candidate, or none with room.
   */
  comeback(models: readonly Model[], excluded: ReadonlySet<string> | undefined, minContext: number): Comeback | undefined {
    const now = this.#clock.now();
    const view = this.#view;
    const catalog = view.catalog;
    const away: CoolingModel[] = [];
    let at = Number.POSITIVE_INFINITY;
    for (const model of models) {
      if ((model.contextWindow ?? Number.MAX_SAFE_INTEGER) < minContext) continue;
      const cooled = this.#cooldowns.get(model.id) ?? now;
      let noted = false;
      for (const workspace of this.#workspaces) {
        const name = workspace.config.name;
        if (workspace.disabled || excluded?.has(pairKey(name, model.id)) || !catalog.isServed(name, model.id)) continue;
        const marked = view.unavailableUntil(name, model.id, now) ?? now;
        const until = Math.max(cooled, marked);
        if (until <= now) continue; // a candidate now
        at = Math.min(at, until);
        if (marked >= cooled) away.push({ model: model.id, workspace: name, until, reason: 'invalid-model' });
        else if (!noted) {
          away.push({ model: model.id, until, reason: this.#cooldownReasons.get(model.id) ?? 'cooldown' });
          noted = true;
        }
      }
    }
    return away.length === 0 ? undefined : { at, away };
  }

  /** The workspaces taken out (401/403) that would otherwise serve one of `models`. */
  disabledFor(models: readonly Model[]): string[] {
    const catalog = this.#view.catalog;
    return this.#workspaces.filter((w) => w.disabled && models.some((model) => catalog.isServed(w.config.name, model.id))).map((w) => w.config.name);
  }

  /** `workspace` takes no more calls. */
  disable(workspace: Workspace): void {
    workspace.disabled = true;
    this.#version++;
  }

  /** Headers showed a window kind its tier did not define: every call through `workspace` meters it from now. */
  learnKind(workspace: Workspace, window: WindowSpec): void {
    workspace.learnedKinds.set(window.kind, window);
    this.#version++;
    this.#objects.clear();
  }
}
