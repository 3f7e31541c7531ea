/**
 * The emulator: a local Mistral-compatible HTTP server that meters like Mistral for a usage tier of the
 * catalogue, with faults on demand. Used by the router's integration tests, the demo and the benchmarks,
 * and by users' own test suites (`mistral-router/emulator`).
 */
export { startEmulator, DEFAULT_EMBEDDING_DIMENSION, type Emulator } from './server.js';
export type {
  EmulatorCatalog,
  EmulatorFaults,
  EmulatorModelOverride,
  EmulatorOptions,
  EmulatorOverrides,
  EmulatorReconfiguration,
  EmulatorUpstream,
  CompletionRequest,
  FaultStatus,
  HeaderFamily,
  UpstreamCharge,
  UpstreamWindow,
} from './options.js';
export type { EmulatorStats, FaultStats, ModelTokenStats } from './stats.js';
export type { MeterLimits, RefusalReason } from './meter.js';
export {
  AUDIO_PART_TOKENS,
  CHARACTERS_PER_TOKEN,
  CHAT_REQUEST_OVERHEAD_TOKENS,
  DEFAULT_COMPLETION_TOKENS,
  IMAGE_PART_TOKENS,
  MESSAGE_OVERHEAD_TOKENS,
} from './token-estimate.js';
