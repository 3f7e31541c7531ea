/**
 * The send step of the library's own API: one attempt's request through the workspace's
 * `@mistralai/mistralai` client, resolving when the call succeeded (a response; for a stream, its first
 * chunk, so that a failure before it falls back).
 */
import type { Mistral } from '@mistralai/mistralai';
import type { ChatCompletionRequest, CompletionEvent, EmbeddingRequest, FIMCompletionRequest } from '@mistralai/mistralai/models/components/index.js';
import type { Attempt } from '../mistral/client.js';

/** One attempt's call: resolves when the call succeeded (a response; for a stream, its first chunk). */
export type Send = (sdk: Mistral, request: Record<string, unknown>, options: Attempt['options']) => Promise<unknown>;

/** A stream's call has succeeded once its first chunk is in: a failure before it falls back. */
export interface Opened {
  readonly iterator: AsyncIterator<CompletionEvent>;
  readonly first: IteratorResult<CompletionEvent>;
}

export const sendChat: Send = (sdk, request, options) => sdk.chat.complete(request as unknown as ChatCompletionRequest, options);
export const sendEmbeddings: Send = (sdk, request, options) => sdk.embeddings.create(request as unknown as EmbeddingRequest, options);
export const sendFim: Send = (sdk, request, options) => sdk.fim.complete(request as unknown as FIMCompletionRequest, options);
export const openStream: Send = async (sdk, request, options): Promise<Opened> => {
  const stream = await sdk.chat.stream(request as unknown as ChatCompletionRequest, options);
  const iterator = stream[Symbol.asyncIterator]();
  return { iterator, first: await iterator.next() };
};
