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
import type { Endpoint, NormalisedNeed } from '../need.js';
import type { QuotaCandidate, WindowSpec } from '../quota/types.js';
import type { CatalogView } from './catalog-view.js';
import type { PlanCandidate } from './decision.js';
import { fitContext, rankModels, type RankedModels, type Rejection } from './plan.js';
import { windowsFor, type Workspace } from './workspaces.js';

/** The models a request fits, the rejected ones, and the plan's candidates for them. */
export interface Fitted {
  readonly models: readonly Model[];
  readonly rejected: readonly Rejection[];
  readonly candidates: readonly PlanCandidate[];
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
  /** The catalogue version and day the cached plans were ranked for: either changing drops them. */
  #planVersion = -1;
  #planDay = '';
  /** The context check's result when every ranked model fits (the common case), per ranked list. */
  readonly #allFit = new WeakMap<RankedModels, Fitted & { threshold: number }>();
  /** One candidate object per (workspace, model), reused so the store's per-candidate cache hits. */
  readonly #objects = new Map<string, QuotaCandidate>();
  readonly #lists = new WeakMap<readonly Model[], { version: number; validUntil: number; list: QuotaCandidate[] }>();
  readonly #cooldowns = new Map<string, number>();
  #version = 0;

  constructor(view: CatalogView, workspaces: readonly Workspace[], clock: Clock, unknownContextTokens: number, planCacheSize: number) {
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
      this.#planDay = lifecycle.day;
      this.#planVersion = this.#view.version;
      // Served lists and windows may differ in a new catalogue: the candidate objects and lists go too.
      this.#objects.clear();
      this.#version++;
    }
    const cacheKey = `${endpoint}\u0000${model ?? ''}\u0000${need.signature}`;
    // The last plan used is checked first: a service asking the same thing again and again skips the
    // LRU's bookkeeping (its recency update was a tenth of the decision).
    let ranked = cacheKey === this.#lastPlanKey ? this.#lastPlan : this.#planCache.get(cacheKey);
    if (ranked === undefined) {
      ranked = rankModels(this.#view.catalog, need, model, true, { lifecycle });
      this.#planCache.set(cacheKey, ranked);
    }
    this.#lastPlanKey = cacheKey;
    this.#lastPlan = ranked;
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
        all = { threshold, models: ranked.ranked, rejected: ranked.rejected, candidates: this.#planCandidates(ranked.ranked) };
        this.#allFit.set(ranked, all);
      }
      if (contextTokens <= all.threshold) return all;
    }
    const fitted = fitContext(ranked, contextTokens, minContext, this.#unknownContextTokens);
    return { models: fitted.models, rejected: fitted.rejected, candidates: this.#planCandidates(fitted.models) };
  }

  #planCandidates(models: readonly Model[]): PlanCandidate[] {
    const candidates: PlanCandidate[] = [];
    const catalog = this.#view.catalog;
    for (const m of models) {
      for (const w of this.#workspaces) if (catalog.isServed(w.config.name, m.id)) candidates.push({ model: m.id, workspace: w.config.name, contextWindow: m.contextWindow });
    }
    return candidates;
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
        if (workspace.disabled || excluded?.has(pairKey(name, model.id)) || !catalog.isServed(name, model.id)) continue;
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

  /** `model` is avoided until `until` (the clock's ms). */
  coolDown(model: string, until: number): void {
    this.#cooldowns.set(model, until);
    this.#version++;
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
