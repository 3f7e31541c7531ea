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
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/** The fetch the SDK's HTTP client calls: one `Request` (the SDK always passes one) in, a `Response` out. */
export type Fetcher = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

export interface NodeFetchOptions {
  /** Idle keep-alive sockets kept per host. @default 256 */
  readonly maxFreeSockets?: number;
}

function responseHeaders(message: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  return headers;
}

/** A fetch over node:http(s) with one keep-alive agent per protocol (see the module comment). */
export function createNodeFetch(options: NodeFetchOptions = {}): Fetcher {
  const agentOptions = { keepAlive: true, maxFreeSockets: options.maxFreeSockets ?? 256, scheduling: 'lifo' as const };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);
  return async (input, init) => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const url = new URL(request.url);
    const headers: OutgoingHttpHeaders = {};
    request.headers.forEach((value, name) => (headers[name] = value));
    if (body !== undefined) headers['content-length'] = body.length;
    const signal = request.signal;
    if (signal.aborted) throw signal.reason;
    return new Promise<Response>((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const outgoing = (secure ? httpsRequest : httpRequest)(url, { method: request.method, headers, agent: secure ? https : http });
      const onAbort = () => outgoing.destroy(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      outgoing.once('error', (error) => {
        done();
        reject(signal.aborted ? signal.reason : new TypeError('fetch failed', { cause: error }));
      });
      outgoing.once('response', (message) => {
        const status = message.statusCode ?? 0;
        const init = { status, statusText: message.statusMessage ?? '', headers: responseHeaders(message) };
        if (String(message.headers['content-type']).startsWith('text/event-stream')) {
          // The stream's end (or its abort) ends the listening: the signal stays linked while it is read.
          message.once('close', done);
          resolve(new Response(Readable.toWeb(message) as ReadableStream<Uint8Array>, init));
          return;
        }
        const chunks: Buffer[] = [];
        message.on('data', (chunk: Buffer) => chunks.push(chunk));
        message.once('end', () => {
          done();
          // 204/304 carry no body, and Response refuses one for them.
          resolve(new Response(status === 204 || status === 304 ? null : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), init));
        });
        message.once('error', (error) => {
          done();
          reject(signal.aborted ? signal.reason : new TypeError('fetch failed', { cause: error }));
        });
      });
      outgoing.end(body);
    });
  };
}
