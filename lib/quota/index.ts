/**
 * The quota engine's public surface: the contract types, the pure window arithmetic, header parsing
 * and the memory store. Named one by one so that what is public is a decision, not an accident.
 */
export type {
  CandidateRefusal,
  QuotaCandidate,
  QuotaStore,
  Reservation,
  ReserveRequest,
  ReserveResult,
  UpstreamObservation,
  WindowObservation,
  WindowPeriod,
  WindowRefusal,
  WindowScope,
  WindowSnapshot,
  WindowSpec,
  WindowUnit,
} from './types.js';
export { PERIOD_LAYOUT, WINDOW_KINDS } from './types.js';
export { WindowCounter, admits, bucketIndex, bucketStart, daysInMonth, isLeapYear, monthIndex, monthStart, windowGeometry } from './window.js';
export {
  WINDOW_PERIODS,
  WINDOW_SCOPES,
  WINDOW_UNITS,
  isCount,
  quotaInvalid,
  validateActualTokens,
  validateCandidate,
  validateObservation,
  validateReserveRequest,
  validateWindowSpec,
} from './validate.js';
export { UpstreamRuleLearner, type ChargeRule, type ChargeSample, type WindowRule } from './upstream-rule.js';
export { ChargeLog } from './charge-log.js';
export type { WindowGeometry } from './window.js';
export { MAX_HEADER_COUNT, MAX_HEADER_WAIT_MS, parseCount, parseRateLimitHeaders, parseRetryAfter } from './headers.js';
export type { HeaderSource, MalformedHeader, MalformedReason, ParsedRateLimitHeaders } from './headers.js';
export { DEFAULT_BLOCK_MS, classifyUpstreamRefusal, toUpstreamObservation } from './upstream-response.js';
export type { ResponseFacts, UpstreamRefusal, UpstreamRefusalKind } from './upstream-response.js';
export { DEFAULT_HEADER_BOUNDS, LimitDoubts, boundObservation } from './header-bounds.js';
export type { HeaderBounds, IgnoredHeader, IgnoredReason } from './header-bounds.js';
export { MemoryStore } from './memory/index.js';
export { FallbackStore, createFallbackStore } from './fallback-store.js';
export type { FallbackStoreEvent, FallbackStoreEventType, FallbackStoreOperation, FallbackStoreOptions } from './fallback-store.js';
export type { MemoryStoreOptions } from './memory/index.js';
