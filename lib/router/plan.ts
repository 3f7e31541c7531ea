/**
 * The plan: which models can serve a need, in which order, and why every other one cannot. Pure
 * functions of the need, the token counts and the catalogue (no I/O, no clock), tested and benchmarked
 * directly. The router caches `rankModels` per need signature (it does not depend on the request size)
 * and applies the context check per request with `fitContext`.
 */
import type { Catalog } from '../catalog/catalog.js';
import { newestVersions, parseVersionConstraint, rejectionReason, versionNumber } from '../catalog/query.js';
import type { Capability, Model } from '../catalog/types.js';
import { NeedError } from '../errors.js';
import type { NormalisedNeed } from '../need.js';

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

/** Models ranked for a need, before the request's size is known. */
export interface RankedModels {
  readonly ranked: readonly Model[];
  readonly rejected: readonly Rejection[];
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
    versionNumber(b.version) - versionNumber(a.version)
  );
}

function compareNewest(a: Model, b: Model, needed: readonly Capability[]): number {
  return versionNumber(b.version) - versionNumber(a.version) || compareSmallest(a, b, needed);
}

/**
 * Filter the catalogue by the need (capabilities, family, version, licence, deprecation, exclusions)
 * and order what is left: an explicitly named model first, then `prefer` in its order, then the
 * strategy (`smallest-sufficient`: fewest capabilities beyond the need, then the smaller context
 * window, newest version first; `newest`: newest version first). Independent of the request's size.
 *
 * @throws NeedError for a named, preferred or excluded model the catalogue does not know.
 */
export function rankModels(catalog: Catalog, need: NormalisedNeed, explicitModel?: string, fallback = true): RankedModels {
  const resolve = (name: string, field: string): string => {
    const id = catalog.resolve(name);
    if (id === undefined) throw new NeedError(field, `unknown model ${JSON.stringify(name)}; see "mistral-router catalog" for the known ids and aliases`);
    return id;
  };
  const explicit = explicitModel === undefined ? undefined : resolve(explicitModel, 'model');
  const prefer = need.prefer.map((name, index) => resolve(name, `need.prefer[${index}]`));
  const exclude = new Set(need.exclude.map((name, index) => resolve(name, `need.exclude[${index}]`)));
  const version = need.version === undefined ? undefined : parseVersionConstraint(need.version, 'need.version');
  const query = {
    capabilities: need.capabilities,
    family: need.family,
    version: need.version,
    openWeights: need.openWeights || undefined,
    includeDeprecated: need.includeDeprecated,
  };
  const newest = newestVersions(catalog.models);
  const eligible: Model[] = [];
  const rejected: Rejection[] = [];
  for (const model of catalog.models) {
    if (exclude.has(model.id)) {
      rejected.push({ model: model.id, reason: 'excluded by the need' });
      continue;
    }
    if (explicit !== undefined && !fallback && model.id !== explicit) {
      rejected.push({ model: model.id, reason: `not ${explicit} (fallback off)` });
      continue;
    }
    // A model named explicitly may be deprecated: the caller asked for it by name.
    const reason = rejectionReason(model, model.id === explicit ? { ...query, includeDeprecated: true } : query, version, newest);
    if (reason === undefined) eligible.push(model);
    else rejected.push({ model: model.id, reason });
  }
  const order = need.strategy === 'newest' ? compareNewest : compareSmallest;
  const position = (model: Model): number => {
    if (model.id === explicit) return -1;
    const index = prefer.indexOf(model.id);
    return index === -1 ? prefer.length : index;
  };
  eligible.sort((a, b) => position(a) - position(b) || order(a, b, need.capabilities));
  return { ranked: eligible, rejected };
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
