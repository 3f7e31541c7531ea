/**
 * `router.wire`: the routed call for front ends that already speak Mistral's wire format (the gateway, the
 * AI SDK provider, a proxy of your own). It takes the wire body (snake_case JSON as Mistral's HTTP API
 * takes it) and answers the upstream's JSON text or its event stream's chunks as they came, so that a front
 * end writes them on without converting anything. The routing is the library's, in the same attempt loop
 * as `router.chat.complete` (reservation, fallback, waits, budgets, learning, settling, events, telemetry,
 * decisions, close); only the send step differs (wire-send.ts instead of the SDK client).
 *
 * The body is checked as lib/mistral/wire.ts checks it before anything is reserved or sent: a field Mistral
 * does not take, or a nested shape it does not take (messages, content parts, tools, scalars' types: the
 * endpoint's JSON Schema, lib/mistral/wire-schema.ts), is a NeedError naming the field path. The routing fields
 * are options, never sent: `need` and `maxWaitMs`; `model` is the body's (a model id or alias, absent for
 * any model that fits), replaced by the candidate's id in what is sent.
 */
import { NeedError } from '../errors.js';
import { wireRequest, type WireEndpoint, type WireRequest } from '../mistral/wire.js';
import type { WireChunk } from '../mistral/sse.js';
import type { Endpoint, Need } from '../need.js';
import type { CallOptions } from './options.js';
import type { RoutedStreamOf } from './stream.js';
import type { Transport } from './transport.js';
import { WIRE_JSON, WIRE_STREAM, type WireOutgoing, type WireResponse } from './wire-send.js';

export type { WireResponse } from './wire-send.js';
export type { WireChunk } from '../mistral/sse.js';

/** A routed wire stream: the upstream's chunks (each `data` as sent, and its parse), with the decision. */
export type WireStream = RoutedStreamOf<WireChunk>;

/** A wire call's options: the call's own (signal, timeout) and its routing. */
export interface WireCallOptions extends CallOptions {
  /** What the request needs (as the library's `need` field). @default what the endpoint and content imply */
  readonly need?: Need;
  /** This call's wait bound. @default RouterOptions.maxWaitMs */
  readonly maxWaitMs?: number;
}

/** A wire body (parsed JSON), or a request already checked by `wireRequest` (the gateway checks first). */
export type WireInput = Record<string, unknown> | WireRequest;

export interface WireApi {
  /** A chat completion (the body's `stream` is ignored: see chatStream). */
  chat(input: WireInput, options?: WireCallOptions): Promise<WireResponse>;
  /** A chat completion streamed: resolves at the first chunk (a failure before it falls back). */
  chatStream(input: WireInput, options?: WireCallOptions): Promise<WireStream>;
  embeddings(input: WireInput, options?: WireCallOptions): Promise<WireResponse>;
  fim(input: WireInput, options?: WireCallOptions): Promise<WireResponse>;
  /** A FIM completion streamed, as chatStream (the body's `stream` is ignored). */
  fimStream(input: WireInput, options?: WireCallOptions): Promise<WireStream>;
}

/** The attempt loop the API runs its calls in (the router's `#call`). */
export type WireCaller = (endpoint: Endpoint, view: Record<string, unknown>, options: CallOptions | undefined, transport: Transport, outgoing: WireOutgoing) => Promise<object>;

const isWireRequest = (input: WireInput): input is WireRequest => (input as { view?: unknown }).view !== undefined && (input as { endpoint?: unknown }).endpoint !== undefined && (input as { body?: unknown }).body !== undefined;

function start(endpoint: WireEndpoint, input: WireInput, options: WireCallOptions | undefined): { view: Record<string, unknown>; outgoing: WireOutgoing; callOptions: CallOptions | undefined } {
  const request = isWireRequest(input) ? input : wireRequest(endpoint, input);
  if (request.endpoint !== endpoint) throw new NeedError('request', `a ${request.endpoint} request was given to router.wire's ${endpoint} call`);
  const view = request.view;
  if (options?.need !== undefined) view.need = options.need;
  if (options?.maxWaitMs !== undefined) view.maxWaitMs = options.maxWaitMs;
  return { view, outgoing: { request, text: undefined }, callOptions: options };
}

export function wireApi(call: WireCaller): WireApi {
  // Not an async function: returning the loop's promise from one would cost it extra ticks per call. A bad
  // body still rejects (never throws), as from an async function.
  const run = (endpoint: WireEndpoint, transport: Transport) => (input: WireInput, options?: WireCallOptions): Promise<object> => {
    let started: ReturnType<typeof start>;
    try {
      started = start(endpoint, input, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return call(endpoint, started.view, started.callOptions, transport, started.outgoing);
  };
  return {
    chat: run('chat', WIRE_JSON) as WireApi['chat'],
    chatStream: run('chat', WIRE_STREAM) as WireApi['chatStream'],
    embeddings: run('embeddings', WIRE_JSON) as WireApi['embeddings'],
    fim: run('fim', WIRE_JSON) as WireApi['fim'],
    fimStream: run('fim', WIRE_STREAM) as WireApi['fimStream'],
  };
}
