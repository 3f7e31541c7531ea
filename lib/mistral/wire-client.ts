/**
 * A workspace's wire transport: Mistral's HTTP API called with the wire body as it is (JSON text in, JSON
 * text or an event stream out), for front ends that already speak the wire format (the gateway, the AI SDK
 * provider), with the workspace's key, its `serverURL` and its fetch. No `@mistralai/mistralai` client,
 * no zod, and through a fetch made by `createNodeFetch` no `Request`/`Response` object either (its
 * {@link RawPost}); any other fetch is called as fetch is.
 *
 * Failures are typed as the SDK's (wire-errors.ts), so that the router's failure policy reads them alike.
 * The key lives in this object's private field and only ever goes into the request's `authorization`.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { HeaderSource } from '../quota/headers.js';
import { rawPostOf, readAll, responseHeaders, type Fetcher, type RawPost, type RawReply } from './node-fetch.js';
import { nodeSseChunks, sseChunks, type WireChunk } from './sse.js';
import { WireHTTPError, WireResponseError, requestFailed } from './wire-errors.js';

/** Mistral's API, when no `serverURL` is given (the SDK's default). */
export const MISTRAL_SERVER_URL = 'https://api.mistral.ai';

/** A JSON answer: the text as sent, and its parse. */
export interface WireReply {
  /** node's own header record through the raw POST (no `Headers` built per call), else fetch's `Headers`. */
  readonly headers: HeaderSource;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

/** An event stream that answered 2xx: its headers, and its chunks as they come. */
export interface WireOpened {
  readonly headers: HeaderSource;
  /** The chunks; `return()` closes the response (read to its end, its connection is reused). */
  readonly chunks: AsyncIterator<WireChunk> & { return(): Promise<IteratorResult<WireChunk>> };
}

export interface WireClientOptions {
  readonly apiKey: string;
  /** @default {@link MISTRAL_SERVER_URL} */
  readonly serverURL?: string | undefined;
  readonly fetch: Fetcher;
}

const isSuccess = (status: number) => status >= 200 && status < 300;

function parseReply(headers: HeaderSource, text: string): WireReply {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WireResponseError(`The upstream answered 2xx with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new WireResponseError(`The upstream answered 2xx with JSON that is not an object: ${text.slice(0, 200)}`);
  return { headers, text, json: json as Record<string, unknown> };
}

export class WireClient {
  readonly #base: string;
  /** The URL of each path called, parsed once. */
  readonly #urls = new Map<string, URL>();
  readonly #authorization: string;
  readonly #fetch: Fetcher;
  readonly #raw: RawPost | undefined;

  constructor({ apiKey, serverURL, fetch }: WireClientOptions) {
    this.#base = (serverURL ?? MISTRAL_SERVER_URL).replace(/\/+$/, '');
    this.#authorization = `Bearer ${apiKey}`;
    this.#fetch = fetch;
    this.#raw = rawPostOf(fetch);
  }

  /** POST `body` (JSON text) to `path` (`/v1/chat/completions`...) and read the JSON answer. */
  async post(path: string, body: string, signal: AbortSignal | undefined): Promise<WireReply> {
    if (this.#raw !== undefined) {
      const reply = await this.#send(this.#raw, path, body, signal, 'application/json');
      const text = await this.#read(reply, signal);
      if (!isSuccess(reply.status)) throw new WireHTTPError(reply.status, responseHeaders(reply.message), text);
      return parseReply(reply.message.headers as HeaderSource, text);
    }
    const response = await this.#fetched(path, body, signal, 'application/json');
    const text = await response.text().catch((error: unknown) => Promise.reject(requestFailed(error)));
    if (!isSuccess(response.status)) throw new WireHTTPError(response.status, response.headers, text);
    return parseReply(response.headers, text);
  }

  /** POST `body` (a streaming request) to `path`: resolves once the upstream answered 2xx, with its chunks to read. */
  async open(path: string, body: string, signal: AbortSignal | undefined): Promise<WireOpened> {
    if (this.#raw !== undefined) {
      const reply = await this.#send(this.#raw, path, body, signal, 'text/event-stream');
      if (!isSuccess(reply.status)) throw new WireHTTPError(reply.status, responseHeaders(reply.message), await this.#read(reply, signal));
      reply.message.setEncoding('utf8');
      return { headers: reply.message.headers as HeaderSource, chunks: nodeSseChunks(reply.message, signal, reply.done) };
    }
    const response = await this.#fetched(path, body, signal, 'text/event-stream');
    if (!isSuccess(response.status)) {
      const text = await response.text().catch((error: unknown) => Promise.reject(requestFailed(error)));
      throw new WireHTTPError(response.status, response.headers, text);
    }
    const stream = response.body ?? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    return { headers: response.headers, chunks: sseChunks(stream as unknown as AsyncIterable<Uint8Array>, signal, () => undefined) };
  }

  #headers(accept: string): OutgoingHttpHeaders {
    return { authorization: this.#authorization, 'content-type': 'application/json', accept };
  }

  async #send(raw: RawPost, path: string, body: string, signal: AbortSignal | undefined, accept: string): Promise<RawReply> {
    try {
      let url = this.#urls.get(path);
      if (url === undefined) this.#urls.set(path, (url = new URL(this.#base + path)));
      return await raw(url, this.#headers(accept), body, signal);
    } catch (error) {
      throw requestFailed(error);
    }
  }

  /** The whole body as text; a failure as the SDK's (an abort rejects with the signal's reason, which it reads). */
  async #read(reply: RawReply, signal: AbortSignal | undefined): Promise<string> {
    try {
      return (await readAll(reply, signal)).toString('utf8');
    } catch (error) {
      throw requestFailed(error);
    }
  }

  async #fetched(path: string, body: string, signal: AbortSignal | undefined, accept: string): Promise<Response> {
    try {
      return await this.#fetch(this.#base + path, { method: 'POST', headers: this.#headers(accept) as Record<string, string>, body, ...(signal === undefined ? {} : { signal }) });
    } catch (error) {
      throw requestFailed(error);
    }
  }
}
