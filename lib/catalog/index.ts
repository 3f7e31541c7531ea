/**
 * The catalogue: models and tiers, loaded from YAML, validated with JSON Schemas, queryable.
 */
export { loadCatalog, bundledCatalogDirectory, type LoadCatalogOptions } from './load.js';
export { Catalog, EVERY_WORKSPACE, type ResolvedLimits, type QueryRejection, type CatalogSourceDocument } from './catalog.js';
export { LifecycleDay, dayOf, lifecycleStatus, type Lifecycle, type LifecycleStatus } from './lifecycle.js';
export { mergeCatalogCards, type MergeCardsOptions, type MergeCardsResult } from './merge.js';
export { catalogDrift, type CatalogDrift, type DriftChange } from './drift.js';
export { CARD_CAPABILITIES, checkCard, modelCard, type CardCapability, type CardIssue, type CardIssueCode, type ModelCard } from './cards.js';
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
  type Deprecation,
  type Prices,
  type Stage,
  type Tier,
  type ModelQuery,
  type VersionConstraint,
} from './types.js';
