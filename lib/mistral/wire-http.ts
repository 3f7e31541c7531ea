/**
 * The wire transport's HTTP client (wire-client.ts, through a fetch made by `createNodeFetch`): undici's
 * `Agent` (keep-alive pools per origin, one request in flight per connection, the server's Keep-Alive
 * hint honoured, idle sockets unref'd) called with `request()`. An answer is its status, node's header
 * record and its text (JSON) or, for an event stream, its text as it comes; no `Request`/`Response`/
 * `Headers` and no node:http objects per call.
 *
 * Why undici and not node:http: at concurrency 32 against the emulator a POST through `http.request`
 * with a keep-alive agent cost the client 44.7 µs of CPU per call and undici's `request()` 25.8 µs (one
 * process, 6,000 calls a round, median of 5 rounds; docs/notes/gateway.md). A client written here for the
 * purpose measured 15.7 µs, but an HTTP/1.1 parser and connection pool of our own is code to keep
 * correct against every server (framing, TLS, smuggling); undici is the one Node itself ships for fetch.
 */
import { Agent } from 'undici';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export interface WireHttpOptions {
  /** Connections per origin at most (undici's `connections`). @default unlimited */
  readonly connections?: number;
}

/** A response's head. */
export interface HttpHead {
  readonly status: number;
  /** node's record: lower-case names, repeats joined with ", " (`set-cookie` a list). */
  readonly headers: Record<string, string | string[]>;
  /** Names and values, alternating (names lower-case). */
  readonly rawHeaders: readonly string[];
}

/** A whole answer. */
export interface HttpText extends HttpHead {
  readonly text: string;
}

/** An answer whose body is read as it comes. */
export interface HttpOpened extends HttpHead {
  readonly body: ResponseBody;
  /** Kept for the reader's side: undici unlinks the request's signal itself once the body ends. */
  readonly done: () => void;
}

/** What reads a body as it comes: its text (UTF-8, never split inside a character), its end or its failure. */
export interface BodyListener {
  data(text: string): void;
  end(): void;
  error(error: unknown): void;
}

/**
 * What cancels a request: an AbortSignal, or anything that reads alike (a router attempt's own
 * cancellation, lib/mistral/client.ts, which makes no AbortSignal). undici takes any EventTarget-like signal.
 */
export interface Cancellation {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A request's failure as fetch rejects: the signal's reason once it aborted, else `TypeError('fetch failed')` with the cause. */
export const fetchFailed = (signal: Cancellation | undefined, error: unknown): unknown => (signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: error }));

const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * A request's headers for {@link WireHttp} (names and values alternating), checked once as node:http
 * checks them: no value is quoted in the error (the value is a key).
 */
export function headerLines(headers: Readonly<Record<string, string>>): string[] {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${name}"]`), { code: 'ERR_INVALID_HTTP_TOKEN' });
    if (INVALID_VALUE.test(value)) throw Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), { code: 'ERR_INVALID_CHAR' });
    lines.push(name, value);
  }
  return lines;
}

/** undici's header object as node's record (repeats joined as IncomingMessage joins them) and its raw list. */
function headOf(status: number, headers: Record<string, string | string[] | undefined>): HttpHead {
  const record: Record<string, string | string[]> = {};
  const raw: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') {
      record[name] = value;
      raw.push(name, value);
      continue;
    }
    for (const one of value) raw.push(name, one);
    // node keeps the first of the fields that may appear once, a list for set-cookie, the rest joined.
    record[name] = name === 'set-cookie' ? value : ONCE.has(name) ? (value[0] as string) : value.join(name === 'cookie' ? '; ' : ', ');
  }
  return { status, headers: record, rawHeaders: raw };
}

/** The fields node:http keeps once (IncomingMessage's `matchKnownFields`). */
const ONCE: ReadonlySet<string> = new Set([
  'content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization', 'proxy-authorization', 'if-modified-since',
  'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires',
]);

/** A body read as it comes; what came before its listener is kept for it (the stream stays paused until then). */
export class ResponseBody {
  readonly #body: Readable;
  #over = false;

  constructor(body: Readable) {
    this.#body = body;
  }

  /** Starts the reading (once). */
  listen(listener: BodyListener): void {
    const body = this.#body;
    const decoder = new StringDecoder('utf8');
    body.on('data', (bytes: Buffer) => {
      const text = decoder.write(bytes);
      if (text !== '') listener.data(text);
    });
    body.once('end', () => {
      this.#over = true;
      const rest = decoder.end();
      if (rest !== '') listener.data(rest);
      listener.end();
    });
    body.once('error', (error) => {
      this.#over = true;
      listener.error(error);
    });
  }

  pause(): void {
    if (!this.#over) this.#body.pause();
  }

  resume(): void {
    if (!this.#over) this.#body.resume();
  }

  /** The reader gives up: undici closes the connection (it is not reused). */
  destroy(): void {
    if (this.#over) return;
    this.#over = true;
    this.#body.destroy();
  }
}

/** A body's whole text (an answer that is not a success, read for its error). */
export function bodyText(opened: HttpOpened): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let text = '';
    opened.body.listen({
      data: (piece) => (text += piece),
      end: () => {
        opened.done();
        resolve(text);
      },
      error: (error) => {
        opened.done();
        reject(error);
      },
    });
  });
}

const unlinked = (): void => undefined;

export class WireHttp {
  readonly #agent: Agent;

  constructor(options: WireHttpOptions = {}) {
    this.#agent = new Agent({ pipelining: 1, ...(options.connections === undefined ? {} : { connections: options.connections }) });
  }

  /** POSTs `body` with `headers` (see {@link headerLines}) and reads the whole answer. */
  async post(url: URL, headers: readonly string[], body: string, signal: Cancellation | undefined): Promise<HttpText> {
    const response = await this.#request(url, headers, body, signal);
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw fetchFailed(signal, error);
    }
    return { ...headOf(response.statusCode, response.headers), text };
  }

  /** POSTs `body` and resolves at the answer's head; its body is read through `body.listen`. */
  async open(url: URL, headers: readonly string[], body: string, signal: Cancellation | undefined): Promise<HttpOpened> {
    const response = await this.#request(url, headers, body, signal);
    return { ...headOf(response.statusCode, response.headers), body: new ResponseBody(response.body), done: unlinked };
  }

  /** Closes the pools' connections (idle ones keep no process alive either way: undici unrefs them). */
  close(): Promise<void> {
    return this.#agent.close();
  }

  async #request(url: URL, headers: readonly string[], body: string, signal: Cancellation | undefined) {
    if (signal?.aborted) throw signal.reason;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('fetch failed', { cause: new TypeError(`Protocol "${url.protocol}" not supported. Expected "http:" or "https:"`) });
    try {
      return await this.#agent.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'POST', headers: headers as string[], body, ...(signal === undefined ? {} : { signal: signal as never }) });
    } catch (error) {
      throw fetchFailed(signal, error);
    }
  }
}
