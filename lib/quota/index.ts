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
export {
  WINDOW_PERIODS,
  WINDOW_SCOPES,
  WINDOW_UNITS,
  WindowCounter,
  admits,
  bucketIndex,
  bucketStart,
  daysInMonth,
  isCount,
  isLeapYear,
  monthIndex,
  monthStart,
  quotaInvalid,
  validateActualTokens,
  validateCandidate,
  validateObservation,
  validateReserveRequest,
  validateWindowSpec,
  windowGeometry,
} from './window.js';
export type { WindowGeometry } from './window.js';
export {
  DEFAULT_BLOCK_MS,
  MAX_HEADER_COUNT,
  MAX_HEADER_WAIT_MS,
  classifyUpstreamRefusal,
  parseCount,
  parseRateLimitHeaders,
  parseRetryAfter,
  toUpstreamObservation,
} from './headers.js';
export type {
  HeaderSource,
  MalformedHeader,
  MalformedReason,
  ParsedRateLimitHeaders,
  ResponseFacts,
  UpstreamRefusal,
  UpstreamRefusalKind,
} from './headers.js';
export { MemoryStore } from './memory/index.js';
export { FallbackStore, createFallbackStore } from './fallback-store.js';
export type { FallbackStoreEvent, FallbackStoreEventType, FallbackStoreOperation, FallbackStoreOptions } from './fallback-store.js';
export type { MemoryStoreOptions } from './memory/index.js';
