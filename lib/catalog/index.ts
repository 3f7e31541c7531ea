/**
 * The catalogue: models and tiers, loaded from YAML, validated with JSON Schemas, queryable.
 */
export { loadCatalog, bundledCatalogDirectory, type LoadCatalogOptions } from './load.js';
export { Catalog, type ResolvedLimits, type QueryRejection } from './catalog.js';
export { type CatalogSource } from './document.js';
export { isCapability, parseVersionConstraint, type ParsedVersionConstraint } from './query.js';
export {
  CAPABILITIES,
  type Capability,
  type KnownModelId,
  type ModelId,
  type Model,
  type Limit,
  type ModelLimits,
  type Tier,
  type ModelQuery,
  type VersionConstraint,
} from './types.js';
