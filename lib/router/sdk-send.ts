/**
 * The send step of the library's own API: one attempt's request through the workspace's
 * `@mistralai/mistralai` client (the routing fields taken out, the candidate's model in), answered with
 * the SDK's own response (its `routing` added) or, for a stream (chat or FIM), the SDK's events from the first one on.
 */
import type { ChatCompletionRequest, CompletionEvent, EmbeddingRequest, FIMCompletionRequest } from '@mistralai/mistralai/models/components/index.js';
import type { Usage } from './learning.js';
import { toSdkRequest } from './prepare.js';
import type { Attempt } from '../mistral/client.js';
import type { ChunkShape, Opened, Transport } from './transport.js';
import type { Workspace } from './workspaces.js';

const usageOf = (result: unknown) => (result as { usage?: Usage }).usage;
const answer = (result: unknown, routing: object) => {
  // A plain assignment (what Object.assign does) without the one-field object per call.
  (result as { routing?: object }).routing = routing;
  return result as object;
};
const self = (result: unknown) => result as object;

/** The SDK's stream events: camelCase usage and finish reasons. */
export const SDK_CHUNKS: ChunkShape<CompletionEvent> = {
  usage: (event) => event.data.usage as Usage | undefined,
  finished: (event) => event.data.choices.some((choice) => choice.finishReason !== null && choice.finishReason !== undefined),
  body: (event) => event.data,
};

function sdkTransport(send: Transport['send']): Transport {
  return { streams: false, send, usage: usageOf, body: self, answer, chunks: undefined };
}

export const SDK_CHAT = sdkTransport((workspace, request, model, attempt) => workspace.client.sdk.chat.complete(toSdkRequest(request as Record<string, unknown>, model) as unknown as ChatCompletionRequest, attempt.options));
export const SDK_EMBEDDINGS = sdkTransport((workspace, request, model, attempt) => workspace.client.sdk.embeddings.create(toSdkRequest(request as Record<string, unknown>, model) as unknown as EmbeddingRequest, attempt.options));
export const SDK_FIM = sdkTransport((workspace, request, model, attempt) => workspace.client.sdk.fim.complete(toSdkRequest(request as Record<string, unknown>, model) as unknown as FIMCompletionRequest, attempt.options));

/** A stream of the SDK's events (chat or FIM): resolves once its first event is in. */
function sdkStream(open: (workspace: Workspace, request: Record<string, unknown>, attempt: Attempt) => Promise<AsyncIterable<CompletionEvent>>): Transport {
  return {
    streams: true,
    send: async (workspace, request, model, attempt): Promise<Opened<CompletionEvent>> => {
      const stream = await open(workspace, toSdkRequest(request as Record<string, unknown>, model), attempt);
      const iterator = stream[Symbol.asyncIterator]();
      return { iterator, first: await iterator.next() };
    },
    usage: usageOf,
    body: self,
    answer,
    chunks: SDK_CHUNKS as ChunkShape<unknown>,
  };
}

export const SDK_CHAT_STREAM = sdkStream((workspace, request, attempt) => workspace.client.sdk.chat.stream(request as unknown as ChatCompletionRequest, attempt.options));
export const SDK_FIM_STREAM = sdkStream((workspace, request, attempt) => workspace.client.sdk.fim.stream(request as unknown as FIMCompletionRequest, attempt.options));
