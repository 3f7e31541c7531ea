/**
 * `mistral-router/ai-sdk`: the router as a Vercel AI SDK provider (LanguageModelV3, EmbeddingModelV3).
 * Needs `@ai-sdk/provider` and `@ai-sdk/mistral` (peer dependencies) next to `ai`.
 */
export { createMistralRouterProvider, type MistralRouterProvider, type MistralRouterProviderOptions } from './provider.js';
export type { KnownModelId, ModelRoute, RouteSettings, RouterCallOptions } from './route.js';
export type { AttemptMetadata, MistralRouterMetadata } from './metadata.js';
export { AI_SDK_MAX_RETRY_AFTER_MS, RouterAPICallError } from './errors.js';
