/**
 * A `fetch` for the SDK over node:http / node:https with keep-alive agents, for processes that make many
 * calls (the gateway). Node's global fetch (undici) builds web streams, transferable abort signals and a
 * request pipeline per call; measured here (bench/gateway.ts and an SDK-only loop against the emulator)
 * the SDK's calls took 2-3 times as long through it as through this, at concurrency 1 and 32.
 *
 * It does what the SDK needs of fetch and no more: the SDK's `Request` in, a `Response` out (buffered
 * for JSON; a web stream over the socket for `text/event-stream`), the request's signal aborting the
 * call with the signal's reason (the SDK tells timeouts from aborts by it), and connection failures as
 * `TypeError('fetch failed')` with the cause, which the SDK reads as a connection error.
 *
 * The router's wire transport (wire-client.ts) does not go through this fetch or its agents: the fetch
 * carries a {@link WireHttp} (wire-http.ts, over undici's keep-alive pools) that it finds by
 * {@link wireHttpOf}, so that a workspace given a fetch of this module gets both.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { WireHttp, fetchFailed } from './wire-http.js';

/** The fetch the SDK's HTTP client calls: one `Request` (the SDK always passes one) in, a `Response` out. */
export type Fetcher = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

export interface NodeFetchOptions {
  /** Idle keep-alive sockets kept per host. @default 256 */
  readonly maxFreeSockets?: number;
}

/** A response as node gives it: read its body from `message` (or destroy it); its headers are `message.headers`. */
interface RawReply {
  readonly status: number;
  readonly message: IncomingMessage;
  /** Unlinks the request's signal (call once the body is read or given up). */
  readonly done: () => void;
}

/** A request on node:http(s): the signal aborts with its reason; a connection failure is `TypeError('fetch failed')`. */
type RawPost = (url: URL, headers: OutgoingHttpHeaders, body: Buffer | undefined, signal: AbortSignal | undefined, method?: string) => Promise<RawReply>;

/** The property of a fetch made by {@link createNodeFetch} that holds its {@link WireHttp}. */
const WIRE_HTTP: unique symbol = Symbol.for('mistral-router.wire-http');

/** The wire transport's client of a fetch made by {@link createNodeFetch}, if it is one. */
export function wireHttpOf(fetch: Fetcher): WireHttp | undefined {
  return (fetch as { [WIRE_HTTP]?: WireHttp })[WIRE_HTTP];
}

/** A response's headers as a WHATWG `Headers` (what fetch answers, and what an HTTP error carries). */
export function responseHeaders(raw: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  return headers;
}

/** Reads a whole body; rejects as fetch would (the signal's reason, or `fetch failed`). */
function readAll(reply: RawReply, signal: AbortSignal | undefined): Promise<Buffer> {
  const { message } = reply;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    message.on('data', (chunk: Buffer) => chunks.push(chunk));
    message.once('end', () => {
      reply.done();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    message.once('error', (error) => {
      reply.done();
      reject(fetchFailed(signal, error));
    });
  });
}

/** What node:http takes of a URL, made once per URL object (a caller that keeps its URLs saves the conversion). */
const targets = new WeakMap<URL, { protocol: string; hostname: string; port: string; path: string }>();

function targetOf(url: URL): { protocol: string; hostname: string; port: string; path: string } {
  let target = targets.get(url);
  if (target === undefined) {
    // node:http wants an IPv6 host without its brackets.
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    targets.set(url, (target = { protocol: url.protocol, hostname, port: url.port, path: `${url.pathname}${url.search}` }));
  }
  return target;
}

function rawPost(http: HttpAgent, https: HttpsAgent): RawPost {
  return (url, headers, body, signal, method = 'POST') => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (body !== undefined) headers['content-length'] = body.length;
    return new Promise<RawReply>((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const outgoing = (secure ? httpsRequest : httpRequest)({ ...targetOf(url), method, headers, agent: secure ? https : http });
      const onAbort = () => outgoing.destroy(signal?.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      outgoing.once('error', (error) => {
        done();
        reject(fetchFailed(signal, error));
      });
      outgoing.once('response', (message) => resolve({ status: message.statusCode ?? 0, message, done }));
      outgoing.end(body);
    });
  };
}

/** A fetch over node:http(s) with one keep-alive agent per protocol (see the module comment). */
export function createNodeFetch(options: NodeFetchOptions = {}): Fetcher {
  const agentOptions = { keepAlive: true, maxFreeSockets: options.maxFreeSockets ?? 256, scheduling: 'lifo' as const };
  const post = rawPost(new HttpAgent(agentOptions), new HttpsAgent(agentOptions));
  const fetch: Fetcher = async (input, init) => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const headers: OutgoingHttpHeaders = {};
    request.headers.forEach((value, name) => (headers[name] = value));
    const reply = await post(new URL(request.url), headers, body, request.signal, request.method);
    const { status, message } = reply;
    const init_ = { status, statusText: message.statusMessage ?? '', headers: responseHeaders(message.rawHeaders) };
    if (String(message.headers['content-type']).startsWith('text/event-stream')) {
      // The stream's end (or its abort) ends the listening: the signal stays linked while it is read.
      message.once('close', reply.done);
      return new Response(Readable.toWeb(message) as ReadableStream<Uint8Array>, init_);
    }
    const whole = await readAll(reply, request.signal);
    // 204/304 carry no body, and Response refuses one for them.
    return new Response(status === 204 || status === 304 ? null : whole, init_);
  };
  return Object.assign(fetch, { [WIRE_HTTP]: new WireHttp() });
}
