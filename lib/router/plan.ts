/**
 * The plan: which models can serve a need, in which order, and why every other one cannot. Pure
 * functions of the need, the token counts, the catalogue and the day's lifecycle (no I/O, no clock: the
 * router passes its clock's day), tested and benchmarked directly. The router caches `rankModels` per
 * need signature and day (it does not depend on the request size) and applies the context check per
 * request with `fitContext`.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { LifecycleDay } from '../catalog/lifecycle.js';
import { newestVersions, parseVersionConstraint, rejectionReason, versionNumber } from '../catalog/query.js';
import type { Capability, Model } from '../catalog/types.js';
import { NeedError } from '../errors.js';
import type { Endpoint, NormalisedNeed } from '../need.js';
import { exactMicroUsd } from '../telemetry/cost.js';

/**
 * The request size a model whose context window the catalogue does not know is assumed to take: the
 * smallest window of any current chat model (32k), so the assumption never sends a request that fits
 * nowhere.
 */
export const DEFAULT_UNKNOWN_CONTEXT_TOKENS = 32_768;

/** A model the plan rejected, and why (the text `route` prints). */
export interface Rejection {
  readonly model: string;
  readonly reason: string;
}

/** A request that named a retired model, and where the plan sends it instead. */
export interface Replacement {
  /** The name the request gave (an id or an alias). */
  readonly requested: string;
  /** The model id that name stands for, retired on the plan's day. */
  readonly retiredModel: string;
  /** The model the plan puts first instead (the first live model of the replacement chain, else the next candidate); null when none is left. */
  readonly by: string | null;
  readonly reason: 'retired';
}

/** A deprecated model in the plan, which the router reports in `routing.warnings`. */
export interface LifecycleWarning {
  readonly model: string;
  readonly status: 'deprecated';
  /** Day it stops being served, when announced (YYYY-MM-DD). */
  readonly retired: string | null;
  readonly replacement: string | null;
  readonly message: string;
}

/** Models ranked for a need, before the request's size is known. */
export interface RankedModels {
  readonly ranked: readonly Model[];
  readonly rejected: readonly Rejection[];
  /** Set when the request named a retired model. */
  readonly replaced?: Replacement;
  /** One per deprecated model among `ranked`. */
  readonly warnings?: readonly LifecycleWarning[];
  /**
   * How many models at the head of `ranked` the request put there (the named model and its replacement
   * chain): `cheapest` orders only the models after them.
   */
  readonly pinned: number;
}

/** A request's size for the `cheapest` strategy: its estimated input and output tokens. */
export interface RequestSize {
  readonly endpoint: Endpoint;
  readonly input: number;
  readonly output: number;
}

/** What `rankModels` needs beyond the need. */
export interface RankOptions {
  /**
   * The lifecycle of the plan's day (`catalog.lifecycleOn(clock.now())`): retired models are never
   * candidates, deprecated ones rank after current ones. Absent: no lifecycle (every model counts as current).
   */
  readonly lifecycle?: LifecycleDay;
  /**
   * The request's size, for the `cheapest` strategy: without it the plan is in the default order (what
   * `cheapest` falls back to on ties) and the router orders it per request with {@link orderByCost}.
   */
  readonly size?: RequestSize;
}

/** The plan for one request: eligible models in order, and every rejected one with its reason. */
export interface ModelPlan {
  readonly models: readonly Model[];
  readonly rejected: readonly Rejection[];
  /** Tokens the context check used (prompt estimate + max output, or the largest embedding input). */
  readonly contextTokens: number;
}

/**
 * How much each capability a model has beyond the need counts against it under `smallest-sufficient`:
 * specialised capabilities (reasoning, vision, audio) mark larger or slower models than plain extras.
 */
const EXCESS_WEIGHT: Readonly<Record<Capability, number>> = {
  reasoning: 4,
  vision: 3,
  audio: 3,
  ocr: 3,
  code: 2,
  fim: 2,
  function_calling: 1,
  json_mode: 1,
  chat: 1,
  embedding: 1,
  moderation: 1,
  transcription: 3,
  speech: 3,
};

/** `smallest-sufficient` score: the weight of capabilities beyond the need (lower = less capable). */
export function excessScore(model: Model, needed: readonly Capability[]): number {
  let score = 0;
  for (const capability of model.capabilities) if (!needed.includes(capability)) score += EXCESS_WEIGHT[capability];
  return score;
}

function compareSmallest(a: Model, b: Model, needed: readonly Capability[]): number {
  return (
    excessScore(a, needed) - excessScore(b, needed) ||
    (a.contextWindow ?? Number.MAX_SAFE_INTEGER) - (b.contextWindow ?? Number.MAX_SAFE_INTEGER) ||
    // The cheaper of two equally capable models is the smaller one (Ministral 3 3B before Mistral Large 3).
    (a.prices?.input ?? Number.MAX_VALUE) - (b.prices?.input ?? Number.MAX_VALUE) ||
    versionNumber(b.version) - versionNumber(a.version)
  );
}

function compareNewest(a: Model, b: Model, needed: readonly Capability[]): number {
  return versionNumber(b.version) - versionNumber(a.version) || compareSmallest(a, b, needed);
}

/**
 * Filter the catalogue by the need (capabilities, family, version, licence, lifecycle, exclusions) and
 * order what is left: an explicitly named model first, then its replacement chain (in its place when it
 * is retired on the plan's day), then `prefer` in its order (the router puts a model's configured fallbacks there),
 * then current models before preview/labs ones before deprecated ones, each group by the strategy
 * (`smallest-sufficient`: fewest capabilities beyond the need, then the smaller context window, the lower
 * input price, newest version first; `newest`: newest version first). Independent of the request's size.
 *
 * A retired model is never a candidate. With `fallback` off, only the named model, or the live models of
 * its replacement chain when it is retired, are candidates.
 *
 * @throws NeedError for a named, preferred or excluded model the catalogue does not know.
 */
export function rankModels(catalog: Catalog, need: NormalisedNeed, explicitModel?: string, fallback = true, options: RankOptions = {}): RankedModels {
  const resolve = (name: string, field: string): string => {
    const id = catalog.resolve(name);
    if (id === undefined) throw new NeedError(field, `unknown model ${JSON.stringify(name)}; see "mistral-router catalog" for the known ids and aliases`);
    return id;
  };
  const { lifecycle } = options;
  const explicit = explicitModel === undefined ? undefined : resolve(explicitModel, 'model');
  const explicitLifecycle = explicit === undefined ? undefined : lifecycle?.of(explicit);
  // The named model's replacement chain comes right after it (in its place when it is retired), before the
  // configured fallbacks: if Mistral refuses the named model, its replacement is what it became.
  const retiredExplicit = explicitLifecycle?.status === 'retired';
  const chain = explicitLifecycle?.chain ?? [];
  const prefer = need.prefer.map((name, index) => resolve(name, `need.prefer[${index}]`));
  const exclude = new Set(need.exclude.map((name, index) => resolve(name, `need.exclude[${index}]`)));
  const version = need.version === undefined ? undefined : parseVersionConstraint(need.version, 'need.version');
  const query = {
    capabilities: need.capabilities,
    family: need.family,
    version: need.version,
    openWeights: need.openWeights || undefined,
  };
  const newest = newestVersions(catalog.models);
  const eligible: Model[] = [];
  const rejected: Rejection[] = [];
  const warnings: LifecycleWarning[] = [];
  for (const model of catalog.models) {
    if (exclude.has(model.id)) {
      rejected.push({ model: model.id, reason: 'excluded by the need' });
      continue;
    }
    const status = lifecycle?.status(model.id) ?? 'current';
    if (status === 'retired') {
      const replacement = lifecycle?.of(model.id)?.successor;
      rejected.push({ model: model.id, reason: `retired on ${lifecycle?.of(model.id)?.retired ?? lifecycle?.day}${replacement ? ` (replaced by ${replacement})` : ''}` });
      continue;
    }
    if (explicit !== undefined && !fallback && model.id !== explicit && !(retiredExplicit && chain.includes(model.id))) {
      rejected.push({ model: model.id, reason: `not ${explicit} (fallback off)` });
      continue;
    }
    // A deprecated model named explicitly (or replacing the named one) is used: the caller asked for it.
    if (status === 'deprecated' && !need.includeDeprecated && model.id !== explicit && !chain.includes(model.id)) {
      rejected.push({ model: model.id, reason: `deprecated${model.deprecation?.replacement ? ` (use ${model.deprecation.replacement})` : ''}` });
      continue;
    }
    const reason = rejectionReason(model, query, version, newest);
    if (reason !== undefined) {
      rejected.push({ model: model.id, reason });
      continue;
    }
    eligible.push(model);
    if (status === 'deprecated') {
      const of = lifecycle?.of(model.id);
      const retired = of?.retired ?? null;
      const replacement = of?.successor ?? null;
      warnings.push({
        model: model.id,
        status: 'deprecated',
        retired,
        replacement,
        message: `${model.id} is deprecated${retired === null ? '' : ` and retires on ${retired}`}${replacement === null ? '' : `; its replacement is ${replacement}`}`,
      });
    }
  }
  // `cheapest` ranks by the request's cost (orderByCost), its ties in the default order: sorted here.
  const order = need.strategy === 'newest' ? compareNewest : compareSmallest;
  const position = (model: Model): number => {
    if (model.id === explicit) return -1 - chain.length;
    const link = chain.indexOf(model.id);
    if (link !== -1) return -chain.length + link;
    const index = prefer.indexOf(model.id);
    return index === -1 ? prefer.length : index;
  };
  // Current GA (or unknown stage) first, then preview and labs models, then deprecated ones.
  const group = (model: Model): number => (lifecycle?.deprecated.has(model.id) ? 2 : model.stage === 'preview' || model.stage === 'labs' ? 1 : 0);
  eligible.sort((a, b) => position(a) - position(b) || group(a) - group(b) || order(a, b, need.capabilities));
  const replaced: Replacement | undefined =
    explicit !== undefined && retiredExplicit
      ? { requested: explicitModel as string, retiredModel: explicit, by: eligible[0]?.id ?? null, reason: 'retired' }
      : undefined;
  const pinned = eligible.filter((model) => position(model) < 0).length;
  const ranked = need.strategy === 'cheapest' && options.size !== undefined ? orderByCost(eligible, pinned, options.size) : eligible;
  return { ranked, rejected, pinned, ...(replaced === undefined ? {} : { replaced }), ...(warnings.length === 0 ? {} : { warnings }) };
}

/**
 * The `cheapest` order: after the `pinned` head (the named model and its chain), the models by the
 * expected cost of a request of this size at their prices, the lowest first; a model whose price is
 * unknown after every priced one; ties (and unknown prices among themselves) keep their order in
 * `models`. Returns `models` itself when the order does not change.
 */
export function orderByCost(models: readonly Model[], pinned: number, size: RequestSize): readonly Model[] {
  const count = models.length - pinned;
  if (count < 2) return models;
  const costs = new Float64Array(count);
  const order = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    costs[i] = exactMicroUsd((models[pinned + i] as Model).prices, size.endpoint, size.input, size.output) ?? Number.POSITIVE_INFINITY;
    order[i] = i;
  }
  // By cost, then by position (the default order): a stable order whatever the sort's algorithm.
  order.sort((a, b) => {
    const ca = costs[a] as number;
    const cb = costs[b] as number;
    return ca < cb ? -1 : ca > cb ? 1 : a - b;
  });
  let changed = false;
  for (let i = 0; i < count && !changed; i++) changed = order[i] !== i;
  if (!changed) return models;
  const ordered = models.slice(0, pinned);
  for (const i of order) ordered.push(models[pinned + i] as Model);
  return ordered;
}

/** A (workspace, model) pair of a plan. */
export interface ServedPair {
  readonly workspace: string;
  readonly model: Model;
}

/**
 * The (workspace, model) pairs of ranked models, model by model, leaving out the pairs a workspace's
 * merged `/v1/models` list does not serve (each reported once as a rejection naming the workspace).
 */
export function servedPairs(catalog: Catalog, models: readonly Model[], workspaces: readonly string[]): { pairs: ServedPair[]; rejected: Rejection[] } {
  const pairs: ServedPair[] = [];
  const rejected: Rejection[] = [];
  for (const model of models) {
    for (const workspace of workspaces) {
      if (catalog.isServed(workspace, model.id)) pairs.push({ workspace, model });
      else rejected.push({ model: model.id, reason: `not served to workspace ${workspace} (its GET /v1/models list)` });
    }
  }
  return { pairs, rejected };
}

/**
 * Keep the ranked models whose context window takes the request. A model with an unknown window is
 * kept only when the need sets no minimum context and the request fits `unknownContextTokens` (an
 * assumption the router documents and lets the caller change).
 */
export function fitContext(ranked: RankedModels, contextTokens: number, minContext: number, unknownContextTokens: number): ModelPlan {
  const models: Model[] = [];
  const rejected: Rejection[] = [...ranked.rejected];
  const needed = Math.max(contextTokens, minContext);
  for (const model of ranked.ranked) {
    const window = model.contextWindow;
    if (window === null) {
      if (minContext > 0) rejected.push({ model: model.id, reason: `context window unknown (need ${minContext} tokens)` });
      else if (contextTokens > unknownContextTokens) {
        rejected.push({ model: model.id, reason: `context window unknown and the request (${contextTokens} tokens) exceeds the ${unknownContextTokens} assumed for unknown windows` });
      } else models.push(model);
    } else if (window < needed) {
      rejected.push({ model: model.id, reason: `context too small: ${window} < ${needed} tokens` });
    } else models.push(model);
  }
  return { models, rejected, contextTokens };
}
