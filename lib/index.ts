/**
 * mistral-router: ask Mistral by capability, stay inside the workspace's rate limits.
 *
 * The Redis store is at `mistral-router/redis`, the emulator at `mistral-router/emulator` and telemetry
 * (OpenTelemetry, Prometheus) at `mistral-router/telemetry`, so that users who need none never load them.
 */
export { createRouter, Router } from './router/router.js';
export { type RouterOptions, type WorkspaceConfig, type WorkspaceOverrides, type CallOptions } from './router/options.js';
export { type RoutingFields, type RoutedChatRequest, type RoutedEmbeddingRequest, type RoutedFimRequest } from './router/prepare.js';
export { type Plan, type PlanCandidate, type Decision, type PassedOver, type Replaced, type Routed } from './router/decision.js';
export { type Rejection, type Replacement, type LifecycleWarning } from './router/plan.js';
export { type RefreshReport } from './router/catalog-view.js';
export { type Cost } from './telemetry/cost.js';
export { type SpendRow } from './telemetry/spend.js';
export { type UsageReport } from './router/accounting.js';
export { WORKSPACE_BUDGET_KIND, ROUTER_BUDGET_KIND, CallBudget, type CallBudgetOptions, type BudgetScope, type BudgetConfig, type RouterBudgetConfig, type BudgetReport } from './router/budgets.js';
export { type CallObserver } from './telemetry/observer.js';
export { type Lease } from './router/lease.js';
export { type RoutedStream } from './router/stream.js';
export { type FailureKind } from './router/policy.js';
export { type RouterEventEmitter, type RouterEvents, type RouterEventName, type RouterListener, type AttemptRecord } from './router/events.js';
export { STRATEGIES, type Need, type NormalisedNeed, type Strategy, type Endpoint } from './need.js';
export { TokenEstimator, type TokenEstimatorOptions } from './tokens.js';
export {
  loadCatalog,
  bundledCatalogDirectory,
  Catalog,
  CAPABILITIES,
  isCapability,
  parseVersionConstraint,
  type LoadCatalogOptions,
  type CatalogSource,
  type ResolvedLimits,
  type QueryRejection,
  type Capability,
  type KnownModelId,
  type ModelId,
  type Model,
  type Limit,
  type ModelLimits,
  type Tier,
  type ModelQuery,
  type VersionConstraint,
  type Deprecation,
  type Prices,
  type Stage,
  mergeCatalogCards,
  catalogDrift,
  checkCard,
  modelCard,
  dayOf,
  lifecycleStatus,
  LifecycleDay,
  EVERY_WORKSPACE,
  CARD_CAPABILITIES,
  type Lifecycle,
  type LifecycleStatus,
  type MergeCardsOptions,
  type MergeCardsResult,
  type CatalogDrift,
  type DriftChange,
  type CardCapability,
  type CardIssue,
  type CardIssueCode,
  type ModelCard,
  type CatalogSourceDocument,
} from './catalog/index.js';
export { MemoryStore, type MemoryStoreOptions } from './quota/memory/index.js';
export {
  createFallbackStore,
  FallbackStore,
  type FallbackStoreOptions,
  type FallbackStoreEvent,
  type FallbackStoreEventType,
  type FallbackStoreOperation,
} from './quota/fallback-store.js';
export {
  WINDOW_KINDS,
  PERIOD_LAYOUT,
  type QuotaStore,
  type QuotaCandidate,
  type Reservation,
  type ReserveRequest,
  type ReserveResult,
  type CandidateRefusal,
  type WindowRefusal,
  type WindowSpec,
  type WindowSnapshot,
  type WindowObservation,
  type UpstreamObservation,
  type WindowUnit,
  type WindowPeriod,
  type WindowScope,
} from './quota/types.js';
export { systemClock, FakeClock, type Clock } from './clock.js';
export { createNodeFetch, type Fetcher, type NodeFetchOptions } from './mistral/node-fetch.js';
export {
  RouterError,
  CatalogError,
  NeedError,
  ConfigError,
  NoEligibleModelError,
  QuotaExhaustedError,
  ModelCoolingDownError,
  StoreUnavailableError,
  StoreError,
  UpstreamError,
  AbortError,
  type RouterErrorCode,
  type CatalogErrorLocation,
  type PlanLike,
  type CoolingModel,
} from './errors.js';
export { type IgnoredHeader, type IgnoredReason } from './quota/header-bounds.js';
