/**
 * The AI SDK provider that is the router: `generateText({ model: provider({ need }) })`. Built on
 * `@ai-sdk/mistral` (its mapping of prompts, tools and streams to Mistral's wire format and back), whose
 * requests go to the router's fetch adapter instead of the network: the router picks the model, workspace
 * and key per request, reserves, falls back, waits and settles, as for `router.chat.complete`.
 */
import { createMistral } from '@ai-sdk/mistral';
import { NoSuchModelError, type EmbeddingModelV3, type ImageModelV3, type LanguageModelV3, type ProviderV3 } from '@ai-sdk/provider';
import { ConfigError } from '../errors.js';
import type { RouterOptions } from '../router/options.js';
import { createRouter, type Router } from '../router/router.js';
import { Calls } from './calls.js';
import { RoutedEmbeddingModel } from './embedding-model.js';
import { routerFetch } from './fetch.js';
import { RoutedLanguageModel } from './language-model.js';
import { resolveRoute, type ModelRoute, type RouteSettings } from './route.js';

/**
 * Where `@ai-sdk/mistral` believes it sends requests. Nothing is sent there (the adapter answers every
 * request), and `.invalid` never resolves, so a request that escaped would fail rather than reach a host.
 */
const ADAPTER_BASE_URL = 'https://mistral-router.invalid/v1';
/** `@ai-sdk/mistral` requires a key; the router uses each workspace's own, so this one is a name, not a secret. */
const ADAPTER_API_KEY = 'mistral-router';

/** Either a router you built, or the options to build one. */
export type MistralRouterProviderOptions = { readonly router: Router } | RouterOptions;

/** The provider: call it, or use its model methods, with a {@link ModelRoute}. */
export interface MistralRouterProvider extends ProviderV3 {
  (route: ModelRoute, settings?: RouteSettings): LanguageModelV3;
  /** A chat model routed by id or alias, `'auto'`, or `{ need }` (NeedError at once for a bad need). */
  languageModel(route: ModelRoute, settings?: RouteSettings): LanguageModelV3;
  /** An embedding model routed the same way (`'auto'` is an embedding model: `mistral-embed`, `codestral-embed`...). */
  embeddingModel(route: ModelRoute, settings?: RouteSettings): EmbeddingModelV3;
  /** The same as {@link embeddingModel} (the name older AI SDK code calls). */
  textEmbeddingModel(route: ModelRoute, settings?: RouteSettings): EmbeddingModelV3;
  /** Mistral has no image generation models: throws NoSuchModelError. */
  imageModel(modelId: string): ImageModelV3;
  /** The router every model of this provider routes through (its events, `plan()`, `close()`). */
  readonly router: Router;
}

function routerOf(options: MistralRouterProviderOptions): Router {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', 'expected { router } or the router options { workspaces, ... }');
  if ('router' in options) {
    const router = options.router as Partial<Router> | null;
    if (typeof router?.chat?.complete !== 'function' || typeof router.embeddings?.create !== 'function') throw new ConfigError('router', 'expected a router made by createRouter()');
    return options.router;
  }
  return createRouter(options);
}

/**
 * Create the provider, over a router of yours (`{ router }`) or one it creates from router options (then
 * `provider.router.close()` is yours to call when done).
 *
 * Retries: the router already falls back over its candidates (`maxAttempts`), so the errors it gives up
 * with are `isRetryable: false` and the AI SDK's `maxRetries` does not multiply its attempts; only a
 * `QUOTA_EXHAUSTED` whose capacity returns within a minute is retryable, and the AI SDK then waits exactly
 * its `retry-after-ms`. Set `maxRetries: 0` to have that error at once instead.
 */
export function createMistralRouterProvider(options: MistralRouterProviderOptions): MistralRouterProvider {
  const router = routerOf(options);
  const calls = new Calls();
  const host = { calls, catalog: router.catalog };
  const mistral = createMistral({ baseURL: ADAPTER_BASE_URL, apiKey: ADAPTER_API_KEY, fetch: routerFetch(router, calls) });
  const languageModel = (route: ModelRoute, settings?: RouteSettings): LanguageModelV3 => {
    const resolved = resolveRoute(route, settings, 'chat');
    return new RoutedLanguageModel(mistral.languageModel(resolved.model ?? 'auto'), resolved, host);
  };
  const embeddingModel = (route: ModelRoute, settings?: RouteSettings): EmbeddingModelV3 => {
    const resolved = resolveRoute(route, settings, 'embeddings');
    return new RoutedEmbeddingModel(mistral.embeddingModel(resolved.model ?? 'auto'), resolved, host);
  };
  const provider = (route: ModelRoute, settings?: RouteSettings) => languageModel(route, settings);
  return Object.assign(provider, {
    specificationVersion: 'v3' as const,
    languageModel,
    embeddingModel,
    textEmbeddingModel: embeddingModel,
    imageModel: (modelId: string): ImageModelV3 => {
      throw new NoSuchModelError({ modelId, modelType: 'imageModel' });
    },
    router,
  });
}
