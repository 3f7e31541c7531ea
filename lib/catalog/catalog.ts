/**
 * The validated catalogue: models, aliases and tiers, with the queries the router and the CLI use.
 * Built only by loadCatalog (load.ts), so every instance has passed validation.
 */
import { CatalogError } from '../errors.js';
import { newestVersions, parseVersionConstraint, rejectionReason, validateQuery } from './query.js';
import type { Limit, Model, ModelId, ModelLimits, ModelQuery, Tier } from './types.js';

/** The limits of one model in one tier, including the workspace's requests per second. */
export interface ResolvedLimits {
  readonly requestsPerSecond: Limit;
  readonly tokensPerMinute: Limit;
  readonly tokensPerMonth: Limit;
}

/** One model that a query rejected, and why. */
export interface QueryRejection {
  readonly model: Model;
  readonly reason: string;
}

export class Catalog {
  /** Every model, in catalogue order. */
  readonly models: readonly Model[];
  /** Every tier, in catalogue order. */
  readonly tiers: readonly Tier[];
  readonly #byId: ReadonlyMap<string, Model>;
  readonly #aliases: ReadonlyMap<string, string>;
  readonly #tiers: ReadonlyMap<string, Tier>;
  readonly #newest: ReadonlyMap<string, number>;

  /** @internal Use loadCatalog(). */
  constructor(models: readonly Model[], aliases: ReadonlyMap<string, string>, tiers: readonly Tier[]) {
    this.models = Object.freeze([...models]);
    this.tiers = Object.freeze([...tiers]);
    this.#byId = new Map(models.map((m) => [m.id, m]));
    this.#aliases = aliases;
    this.#tiers = new Map(tiers.map((t) => [t.name, t]));
    this.#newest = newestVersions(models);
  }

  /** The model id an id or alias stands for, or undefined. */
  resolve(idOrAlias: string): ModelId | undefined {
    if (this.#byId.has(idOrAlias)) return idOrAlias;
    return this.#aliases.get(idOrAlias);
  }

  /** The model for an id or alias, or undefined. */
  model(idOrAlias: string): Model | undefined {
    const id = this.resolve(idOrAlias);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  /** Every alias with the model id it points at. */
  aliases(): ReadonlyMap<string, string> {
    return this.#aliases;
  }

  /** A tier by name; throws CatalogError (CATALOG_UNKNOWN_TIER) naming the known ones. */
  tier(name: string): Tier {
    const tier = this.#tiers.get(name);
    if (tier === undefined) {
      throw new CatalogError('CATALOG_UNKNOWN_TIER', `unknown tier ${JSON.stringify(name)}; known tiers: ${[...this.#tiers.keys()].join(', ')}`, { file: '<catalogue>' });
    }
    return tier;
  }

  /** Whether a tier exists. */
  hasTier(name: string): boolean {
    return this.#tiers.has(name);
  }

  /**
   * The limits of a model (id or alias) in a tier. A model the tier does not list gets the tier's
   * `defaultModelLimits`, else unknown (null) limits.
   */
  limits(tierName: string, idOrAlias: string): ResolvedLimits {
    const tier = this.tier(tierName);
    const id = this.resolve(idOrAlias) ?? idOrAlias;
    const model: ModelLimits | null = tier.models[id] ?? tier.defaultModelLimits;
    return {
      requestsPerSecond: tier.requestsPerSecond,
      tokensPerMinute: model?.tokensPerMinute ?? null,
      tokensPerMonth: model?.tokensPerMonth ?? null,
    };
  }

  /** The models matching every field of the query, in catalogue order. Throws NeedError for a bad query. */
  query(query: ModelQuery = {}): Model[] {
    return this.explain(query).matches;
  }

  /** Like query, and also every rejected model with its reason. */
  explain(query: ModelQuery = {}): { matches: Model[]; rejected: QueryRejection[] } {
    validateQuery(query);
    const version = query.version === undefined ? undefined : parseVersionConstraint(query.version);
    const matches: Model[] = [];
    const rejected: QueryRejection[] = [];
    for (const model of this.models) {
      const reason = rejectionReason(model, query, version, this.#newest);
      if (reason === undefined) matches.push(model);
      else rejected.push({ model, reason });
    }
    return { matches, rejected };
  }

  /** The newest version number (YYMM) per family; used by plans for the `latest` constraint. */
  newestVersions(): ReadonlyMap<string, number> {
    return this.#newest;
  }
}
