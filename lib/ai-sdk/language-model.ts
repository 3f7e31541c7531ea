/**
 * A LanguageModelV3 that is the router: `@ai-sdk/mistral`'s chat model does the mapping both ways
 * (prompt, tools, tool choice, JSON response format, settings and their warnings; content, reasoning,
 * tool calls, usage, finish reason, stream parts), and its requests go through the router's fetch
 * adapter (fetch.ts). This class opens the call the adapter routes, hands it the audio parts
 * `@ai-sdk/mistral` would refuse, and adds what only the router knows: `providerMetadata.mistralRouter`
 * (on the result, and on a stream's `finish` part with the final usage) and its errors in the AI SDK's
 * form. `response.modelId` is the model that answered: `@ai-sdk/mistral` reads it from the response.
 */
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3GenerateResult, LanguageModelV3StreamPart, LanguageModelV3StreamResult } from '@ai-sdk/provider';
import type { Decision } from '../router/decision.js';
import { CALL_HEADER, withAudioPlaceholders, type Call } from './calls.js';
import { routingMetadata, withRouting } from './metadata.js';
import type { CallRoute } from './route.js';
import { RoutedModel, type RoutedModelHost } from './routed-model.js';

export class RoutedLanguageModel extends RoutedModel<LanguageModelV3> implements LanguageModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider = 'mistral-router.chat';

  constructor(inner: LanguageModelV3, route: CallRoute, host: RoutedModelHost) {
    super(inner, route, host, 'chat');
  }

  get supportedUrls(): LanguageModelV3['supportedUrls'] {
    return this.inner.supportedUrls;
  }

  #open(options: LanguageModelV3CallOptions): { call: Call; options: LanguageModelV3CallOptions } {
    const call = this.openCall(options.providerOptions);
    const prompt = withAudioPlaceholders(options.prompt, call);
    return { call, options: { ...options, prompt, headers: { ...options.headers, [CALL_HEADER]: call.id } } };
  }

  async doGenerate(callOptions: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
    const { call, options } = this.#open(callOptions);
    return this.routed(call, () => this.inner.doGenerate(options));
  }

  async doStream(callOptions: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    const { call, options } = this.#open(callOptions);
    let result: LanguageModelV3StreamResult;
    try {
      result = await this.inner.doStream(options);
    } catch (error) {
      throw this.failure(call, error);
    } finally {
      this.host.calls.close(call);
    }
    const stream = result.stream.pipeThrough(
      new TransformStream<LanguageModelV3StreamPart, LanguageModelV3StreamPart>({
        // Not an async function: every part but `finish` passes through without a promise of its own.
        transform(part, controller) {
          if (part.type !== 'finish') return controller.enqueue(part);
          // The finish part comes after the event stream ended, so the routed stream has settled (or is about to).
          return (call.settled ?? Promise.resolve(undefined)).then((settled) => {
            const providerMetadata = withRouting(part.providerMetadata, routingMetadata(settled ?? (call.decision as Decision)));
            if (call.streamFailure === undefined) return controller.enqueue({ ...part, providerMetadata });
            controller.enqueue({ type: 'error', error: call.streamFailure });
            controller.enqueue({ ...part, finishReason: { unified: 'error', raw: part.finishReason.raw }, providerMetadata });
          });
        },
      }),
    );
    return { ...result, stream };
  }
}
