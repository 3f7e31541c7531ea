/**
 * The send step of the wire API (`router.wire`): the call's wire body as it came, with the candidate's
 * `model` (and `stream: true` for a stream) put first, POSTed through the workspace's wire transport
 * (lib/mistral/wire-client.ts: its key, `serverURL` and fetch); the answer is the upstream's JSON text and
 * its parse, or its event stream's chunks from the first one on. Usage is read from the wire's snake_case.
 */
import type { WireEndpoint, WireRequest } from '../mistral/wire.js';
import type { WireChunk } from '../mistral/sse.js';
import type { Attempt } from '../mistral/client.js';
import type { WireClient, WireReply } from '../mistral/wire-client.js';
import type { Cancellation } from '../mistral/wire-http.js';
import type { Decision } from './decision.js';
import type { Usage } from './learning.js';
import type { ChunkShape, Opened, Transport } from './transport.js';

/** A wire call's answer: the upstream's JSON as it sent it (`text`) and parsed (`body`), with the decision. */
export interface WireResponse {
  readonly body: Record<string, unknown>;
  readonly text: string;
  readonly routing: Decision;
}

/** The wire's usage object. */
interface WireUsage {
  readonly prompt_tokens?: number;
  readonly completion_tokens?: number;
  readonly total_tokens?: number;
}

/** A wire call on its way: the request, and its body's JSON text without `model` (made once, for every attempt). */
export interface WireOutgoing {
  readonly request: WireRequest;
  text: string | undefined;
}

const PATHS: Readonly<Record<WireEndpoint, string>> = { chat: '/v1/chat/completions', fim: '/v1/fim/completions', embeddings: '/v1/embeddings' };

/** The wire usage as the router counts it (camelCase), or undefined when there is none. */
export function usageFromWire(usage: unknown): Usage | undefined {
  if (usage === null || typeof usage !== 'object') return undefined;
  const { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: totalTokens } = usage as WireUsage;
  return { promptTokens, completionTokens, totalTokens };
}

/** The JSON text sent for `model`: `model` first (and `stream`), then the caller's fields as they came. */
function bodyFor(outgoing: WireOutgoing, model: string, stream: boolean): string {
  const rest = (outgoing.text ??= JSON.stringify(outgoing.request.body));
  const head = stream ? `{"model":${JSON.stringify(model)},"stream":true` : `{"model":${JSON.stringify(model)}`;
  return rest.length <= 2 ? `${head}}` : `${head},${rest.slice(1)}`;
}

/** The attempt's cancellation as the transport takes it: its own (no AbortSignal made) unless a fetch is called. */
const signalFor = (wire: WireClient, attempt: Attempt): Cancellation | undefined => (wire.cancellable ? attempt.signal : (attempt.options.signal ?? undefined));

/** The wire's chunks: snake_case usage and finish reasons. */
export const WIRE_CHUNKS: ChunkShape<WireChunk> = {
  usage: (chunk) => usageFromWire(chunk.json.usage),
  finished: (chunk) => chunk.json.choices.some((choice) => choice !== null && choice.finish_reason !== null && choice.finish_reason !== undefined),
  body: (chunk) => chunk.json,
};

/** The transport of a JSON call (chat, FIM, embeddings). */
export const WIRE_JSON: Transport = {
  streams: false,
  send: async (workspace, outgoing, model, attempt, attemptId) => {
    const { request } = outgoing as WireOutgoing;
    const wire = workspace.client.wire;
    const reply = await wire.post(PATHS[request.endpoint], bodyFor(outgoing as WireOutgoing, model, false), signalFor(wire, attempt));
    workspace.client.keepHeaders(attemptId, reply.headers);
    return reply;
  },
  usage: (result) => usageFromWire((result as WireReply).json.usage),
  body: (result) => (result as WireReply).json,
  answer: (result, routing): WireResponse => ({ body: (result as WireReply).json, text: (result as WireReply).text, routing }),
  chunks: undefined,
};

/** The transport of a stream (chat or FIM): resolves once its first chunk is in. */
export const WIRE_STREAM: Transport = {
  streams: true,
  send: async (workspace, outgoing, model, attempt, attemptId): Promise<Opened<WireChunk>> => {
    const { request } = outgoing as WireOutgoing;
    const wire = workspace.client.wire;
    const opened = await wire.open(PATHS[request.endpoint], bodyFor(outgoing as WireOutgoing, model, true), signalFor(wire, attempt));
    workspace.client.keepHeaders(attemptId, opened.headers);
    return { iterator: opened.chunks, first: await opened.chunks.next() };
  },
  usage: () => undefined,
  body: (result) => result as object,
  answer: (result) => result as object,
  chunks: WIRE_CHUNKS as ChunkShape<unknown>,
};
