/**
 * A workspace's wire transport: Mistral's HTTP API called with the wire body as it is (JSON text in, JSON
 * text or an event stream out), for front ends that already speak the wire format (the gateway, the AI SDK
 * provider), with the workspace's key, its `serverURL` and its fetch. No `@mistralai/mistralai` client,
 * no zod, and through a fetch made by `createNodeFetch` no `Request`/`Response` object either (its
 * {@link WireHttp}, wire-http.ts); any other fetch is called as fetch is.
 *
 * Failures are typed as the SDK's (wire-errors.ts), so that the router's failure policy reads them alike.
 * The key lives in this object's private field and only ever goes into the request's `authorization`.
 */
import type { HeaderSource } from '../quota/headers.js';
import { responseHeaders, wireHttpOf, type Fetcher } from './node-fetch.js';
import { bodyChunks, sseChunks, type WireChunk } from './sse.js';
import { bodyText, headerLines, type Cancellation, type WireHttp } from './wire-http.js';
import { WireHTTPError, WireResponseError, requestFailed } from './wire-errors.js';

/** Mistral's API, when no `serverURL` is given (the SDK's default). */
export const MISTRAL_SERVER_URL = 'https://api.mistral.ai';

/** A JSON answer: the text as sent, and its parse. */
export interface WireReply {
  /** node's header record through {@link WireHttp} (no `Headers` built per call), else fetch's `Headers`. */
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
  readonly #http: WireHttp | undefined;
  /** The request's header lines for {@link WireHttp}, per `accept` (checked once). */
  readonly #lines = new Map<string, string[]>();

  constructor({ apiKey, serverURL, fetch }: WireClientOptions) {
    this.#base = (serverURL ?? MISTRAL_SERVER_URL).replace(/\/+$/, '');
    this.#authorization = `Bearer ${apiKey}`;
    this.#fetch = fetch;
    this.#http = wireHttpOf(fetch);
  }

  /**
   * Whether {@link post} and {@link open} take any {@link Cancellation} (through `createNodeFetch`'s
   * client); otherwise they call a fetch, which takes an AbortSignal only.
   */
  get cancellable(): boolean {
    return this.#http !== undefined;
  }

  /** POST `body` (JSON text) to `path` (`/v1/chat/completions`...) and read the JSON answer. */
  async post(path: string, body: string, signal: Cancellation | undefined): Promise<WireReply> {
    if (this.#http !== undefined) {
      let reply;
      try {
        reply = await this.#http.post(this.#url(path), this.#linesFor('application/json'), body, signal);
      } catch (error) {
        throw requestFailed(error);
      }
      if (!isSuccess(reply.status)) throw new WireHTTPError(reply.status, responseHeaders(reply.rawHeaders), reply.text);
      return parseReply(reply.headers, reply.text);
    }
    const response = await this.#fetched(path, body, signal, 'application/json');
    const text = await response.text().catch((error: unknown) => Promise.reject(requestFailed(error)));
    if (!isSuccess(response.status)) throw new WireHTTPError(response.status, response.headers, text);
    return parseReply(response.headers, text);
  }

  /** POST `body` (a streaming request) to `path`: resolves once the upstream answered 2xx, with its chunks to read. */
  async open(path: string, body: string, signal: Cancellation | undefined): Promise<WireOpened> {
    if (this.#http !== undefined) {
      let opened;
      let failure: string | undefined;
      try {
        opened = await this.#http.open(this.#url(path), this.#linesFor('text/event-stream'), body, signal);
        if (!isSuccess(opened.status)) failure = await bodyText(opened);
      } catch (error) {
        throw requestFailed(error);
      }
      if (failure !== undefined) throw new WireHTTPError(opened.status, responseHeaders(opened.rawHeaders), failure);
      return { headers: opened.headers, chunks: bodyChunks(opened.body, signal, opened.done) };
    }
    const response = await this.#fetched(path, body, signal, 'text/event-stream');
    if (!isSuccess(response.status)) {
      const text = await response.text().catch((error: unknown) => Promise.reject(requestFailed(error)));
      throw new WireHTTPError(response.status, response.headers, text);
    }
    const stream = response.body ?? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    return { headers: response.headers, chunks: sseChunks(stream as unknown as AsyncIterable<Uint8Array>, signal, () => undefined) };
  }

  #headers(accept: string): Record<string, string> {
    return { authorization: this.#authorization, 'content-type': 'application/json', accept };
  }

  #url(path: string): URL {
    let url = this.#urls.get(path);
    if (url === undefined) this.#urls.set(path, (url = new URL(this.#base + path)));
    return url;
  }

  /** Throws node's own TypeError for a key that cannot go in a header (inside the caller's try: a failed request). */
  #linesFor(accept: string): string[] {
    let lines = this.#lines.get(accept);
    if (lines === undefined) this.#lines.set(accept, (lines = headerLines(this.#headers(accept))));
    return lines;
  }

  async #fetched(path: string, body: string, signal: Cancellation | undefined, accept: string): Promise<Response> {
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('a wire call through a fetch takes an AbortSignal (see WireClient.cancellable)');
    try {
      return await this.#fetch(this.#base + path, { method: 'POST', headers: this.#headers(accept), body, ...(signal === undefined ? {} : { signal }) });
    } catch (error) {
      throw requestFailed(error);
    }
  }
}
