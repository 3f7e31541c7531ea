/**
 * An EmbeddingModelV3 that is the router: `@ai-sdk/mistral`'s embedding model builds the request and
 * reads the response, the router's fetch adapter routes it (fetch.ts), and this class adds
 * `providerMetadata.mistralRouter` and the router's errors in the AI SDK's form (language-model.ts does
 * the same for chat).
 */
import type { EmbeddingModelV3, EmbeddingModelV3CallOptions, EmbeddingModelV3Result } from '@ai-sdk/provider';
import { CALL_HEADER } from './calls.js';
import type { CallRoute } from './route.js';
import { RoutedModel, type RoutedModelHost } from './routed-model.js';

export class RoutedEmbeddingModel extends RoutedModel<EmbeddingModelV3> implements EmbeddingModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider = 'mistral-router.embedding';

  constructor(inner: EmbeddingModelV3, route: CallRoute, host: RoutedModelHost) {
    super(inner, route, host, 'embeddings');
  }

  get maxEmbeddingsPerCall(): EmbeddingModelV3['maxEmbeddingsPerCall'] {
    return this.inner.maxEmbeddingsPerCall;
  }

  /** Parallel calls are the router's to space (it waits for quota); the AI SDK need not hold them back. */
  get supportsParallelCalls(): boolean {
    return true;
  }

  async doEmbed(options: EmbeddingModelV3CallOptions): Promise<EmbeddingModelV3Result> {
    const call = this.openCall(options.providerOptions);
    return this.routed(call, () => this.inner.doEmbed({ ...options, headers: { ...options.headers, [CALL_HEADER]: call.id } }));
  }
}
