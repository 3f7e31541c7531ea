/**
 * The validated catalogue: models, aliases and tiers, with the queries the router and the CLI use.
 * Built only by loadCatalog (load.ts), so every instance has passed validation.
 */
import { CatalogError } from '../errors.js';
import { LifecycleDay, type Lifecycle } from './lifecycle.js';
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

/** A public document the catalogue's facts cite (`sources:` of models.yaml). */
export interface CatalogSourceDocument {
  readonly title: string;
  readonly url: string;
  readonly date: string | null;
}

/** What a catalogue holds beyond models, aliases and tiers. @internal */
export interface CatalogDetails {
  /** The cited documents, by key. */
  readonly sources?: ReadonlyMap<string, CatalogSourceDocument>;
  /**
   * Per workspace, the model ids its `GET /v1/models` listed (key `*`: a list applying to every workspace
   * without its own). A workspace with no entry is served every model.
   */
  readonly served?: ReadonlyMap<string, ReadonlySet<string>>;
}

/** The key of `served` for a model list that applies to every workspace without its own. */
export const EVERY_WORKSPACE = '*';

export class Catalog {
  /** Every model, in catalogue order. */
  readonly models: readonly Model[];
  /** Every tier, in catalogue order. */
  readonly tiers: readonly Tier[];
  readonly #byId: ReadonlyMap<string, Model>;
  readonly #aliases: ReadonlyMap<string, string>;
  readonly #tiers: ReadonlyMap<string, Tier>;
  readonly #newest: ReadonlyMap<string, number>;
  /** The cited documents, by key. */
  readonly sources: ReadonlyMap<string, CatalogSourceDocument>;
  readonly #served: ReadonlyMap<string, ReadonlySet<string>>;
  /** The last day asked for: a router asks for the same day on every decision. */
  #day: LifecycleDay | undefined;

  /** @internal Use loadCatalog() or mergeCatalogCards(). */
  constructor(models: readonly Model[], aliases: ReadonlyMap<string, string>, tiers: readonly Tier[], details: CatalogDetails = {}) {
    this.models = Object.freeze([...models]);
    this.tiers = Object.freeze([...tiers]);
    this.#byId = new Map(models.map((m) => [m.id, m]));
    this.#aliases = aliases;
    this.#tiers = new Map(tiers.map((t) => [t.name, t]));
    this.#newest = newestVersions(models);
    this.sources = details.sources ?? new Map();
    this.#served = details.served ?? new Map();
  }

  /**
   * Every model's lifecycle on the UTC day of `at` (epoch ms, a Date, or a day `YYYY-MM-DD`). Computed once
   * per catalogue and day: asking again for the same day returns the same object at the cost of two
   * comparisons, so a router may ask on every decision.
   */
  lifecycleOn(at: number | Date | string): LifecycleDay {
    const ms = typeof at === 'number' ? at : typeof at === 'string' ? dayMs(at) : at.getTime();
    if (!Number.isFinite(ms)) throw new TypeError(`lifecycleOn: expected epoch ms, a Date or a day YYYY-MM-DD, received ${String(at)}`);
    const cached = this.#day;
    if (cached !== undefined && cached.covers(ms)) return cached;
    const day = new LifecycleDay(this.models, ms);
    this.#day = day;
    return day;
  }

  /**
   * The lifecycle of a model (id or alias) on the day of `at`: current, deprecated or retired, with its
   * replacement chain resolved to the first model still served that day. Undefined for an unknown name.
   */
  lifecycle(idOrAlias: string, at: number | Date | string): Lifecycle | undefined {
    const id = this.resolve(idOrAlias);
    return id === undefined ? undefined : this.lifecycleOn(at).of(id);
  }

  /**
   * Whether a workspace is served a model (id): true unless a `GET /v1/models` list merged for that
   * workspace (or for every workspace) left the model out.
   */
  isServed(workspace: string, id: string): boolean {
    const list = this.#served.get(workspace) ?? this.#served.get(EVERY_WORKSPACE);
    return list === undefined || list.has(id);
  }

  /** The model ids a workspace's merged model list holds, or undefined when no list was merged for it. */
  servedTo(workspace: string): ReadonlySet<string> | undefined {
    return this.#served.get(workspace) ?? this.#served.get(EVERY_WORKSPACE);
  }

  /** @internal The per-workspace lists, for a merge that builds on this catalogue. */
  servedLists(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.#served;
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

/** A day YYYY-MM-DD as the epoch ms of its start; NaN for anything else. */
function dayMs(day: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
}
