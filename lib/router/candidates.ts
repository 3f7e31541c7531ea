/**
 * Which (workspace, model) pairs a call may try, and in which order: the ranked models of its need, those
 * whose context fits the request, then every usable workspace for each model not cooling down.
 *
 * ## The caches, and what invalidates each
 * A decision is a few µs because nearly everything here is computed once and reused:
 *
 * | cache | key | valid until |
 * |---|---|---|
 * | plan cache (LRU) and the last plan | endpoint, named model, need signature | forever: it depends only on the catalogue and the fallbacks, both fixed for a router's life |
 * | all-fit result | a ranked list | forever (as its ranked list): the models and the workspaces are fixed |
 * | tier windows (per workspace, in workspaces.ts) | model | forever: tier and overrides are fixed |
 * | candidate object | (workspace, model) | a window kind is learned (its windows change): all are dropped |
 * | candidate list | a fitted model list | `version` changes, or the earliest cooldown it skipped ends |
 *
 * `version` is bumped by each of the three events that change a candidate list: a workspace is disabled,
 * a model is cooled down, a window kind is learned. A list built while a model cooled down records when
 * the cooldown ends; it is rebuilt after that time without any event. Lists for calls that excluded pairs
 * or need a larger context (after a failure) are built fresh and not cached.
 */
import { LRUCache } from 'lru-cache';
import type { Catalog } from '../catalog/catalog.js';
import type { Model } from '../catalog/types.js';
import type { Clock } from '../clock.js';
import type { Endpoint, NormalisedNeed } from '../need.js';
import type { QuotaCandidate, WindowSpec } from '../quota/types.js';
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
  readonly #catalog: Catalog;
  readonly #workspaces: readonly Workspace[];
  readonly #clock: Clock;
  readonly #unknownContextTokens: number;
  readonly #planCache: LRUCache<string, RankedModels>;
  #lastPlanKey: string | undefined;
  #lastPlan: RankedModels | undefined;
  /** The context check's result when every ranked model fits (the common case), per ranked list. */
  readonly #allFit = new WeakMap<RankedModels, Fitted & { threshold: number }>();
  /** One candidate object per (workspace, model), reused so the store's per-candidate cache hits. */
  readonly #objects = new Map<string, QuotaCandidate>();
  readonly #lists = new WeakMap<readonly Model[], { version: number; validUntil: number; list: QuotaCandidate[] }>();
  readonly #cooldowns = new Map<string, number>();
  #version = 0;

  constructor(catalog: Catalog, workspaces: readonly Workspace[], clock: Clock, unknownContextTokens: number, planCacheSize: number) {
    this.#catalog = catalog;
    this.#workspaces = workspaces;
    this.#clock = clock;
    this.#unknownContextTokens = unknownContextTokens;
    this.#planCache = new LRUCache({ max: planCacheSize });
  }

  /** The ranked models of a need (cached: see the table above). */
  ranked(endpoint: Endpoint, model: string | undefined, need: NormalisedNeed): RankedModels {
    const cacheKey = `${endpoint}\u0000${model ?? ''}\u0000${need.signature}`;
    // The last plan used is checked first: a service asking the same thing again and again skips the
    // LRU's bookkeeping (its recency update was a tenth of the decision).
    let ranked = cacheKey === this.#lastPlanKey ? this.#lastPlan : this.#planCache.get(cacheKey);
    if (ranked === undefined) {
      ranked = rankModels(this.#catalog, need, model);
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
    for (const m of models) for (const w of this.#workspaces) candidates.push({ model: m.id, workspace: w.config.name, contextWindow: m.contextWindow });
    return candidates;
  }

  /**
   * The store's candidates for an attempt: `models` in order, without those under `minContext` or cooling
   * down, each through every usable workspace not in `excluded` (pair keys).
   */
  forCall(models: readonly Model[], excluded: ReadonlySet<string> | undefined, minContext: number): readonly QuotaCandidate[] {
    const now = this.#clock.now();
    const plain = excluded === undefined && minContext === 0;
    if (plain) {
      const cached = this.#lists.get(models);
      if (cached !== undefined && cached.version === this.#version && now < cached.validUntil) return cached.list;
    }
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
        if (workspace.disabled || excluded?.has(pairKey(workspace.config.name, model.id))) continue;
        list.push(this.#candidate(workspace, model.id));
      }
    }
    if (plain) this.#lists.set(models, { version: this.#version, validUntil, list });
    return list;
  }

  #candidate(workspace: Workspace, model: string): QuotaCandidate {
    const key = pairKey(workspace.config.name, model);
    let candidate = this.#objects.get(key);
    if (candidate === undefined) {
      candidate = { workspace: workspace.config.name, model, windows: windowsFor(this.#catalog, workspace, model) };
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
