/**
 * The wire transport's HTTP client (wire-client.ts, through a fetch made by `createNodeFetch`): undici's
 * `Agent` (keep-alive pools per origin, one request in flight per connection, the server's Keep-Alive
 * hint honoured, idle sockets unref'd, llhttp parsing) driven through `dispatch` with a handler of our own,
 * so that an answer is its status, node's header record and its text (JSON) or, for an event stream, its
 * text as it comes: no `Request`/`Response`/`Headers`, no readable stream, no node:http objects per call.
 *
 * Why undici: against the emulator, one process, 6,000 calls a round (median of 5), the client's CPU per
 * call at concurrency 32 / 1 was 56 / 152 µs through `http.request` with a keep-alive agent, 35 / 110 µs
 * through undici's `request()`, 30 / 103 µs through this handler, and 18 / 55 µs through a client written
 * for the purpose (its own HTTP/1.1 parser, pool and TLS use). That one is faster still, but it is a parser
 * and a pool to keep correct against every server and proxy in front of Mistral; undici is the client
 * Node itself ships for fetch (docs/notes/gateway.md, Speed).
 */
import { Agent, type Dispatcher } from 'undici';
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

/** What an exchange tells: the head once, then the body's bytes, then its end or its failure. */
interface ExchangeSink {
  head(head: HttpHead, controller: Dispatcher.DispatchController): void;
  data(bytes: Buffer): void;
  end(): void;
  fail(error: unknown): void;
}

/**
 * One request as undici's dispatch handler: undici parses (llhttp) and pools; this only hands the answer
 * on. The request's signal aborts it through the controller (undici then reports the reason as the error).
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #sink: ExchangeSink;
  readonly #signal: Cancellation | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** Ended (answered, failed or aborted): nothing more is told. */
  #over = false;
  readonly #onAbort = (): void => {
    const reason = this.#signal?.reason;
    // Before undici started the request (waiting for a connection, or connecting), nothing is there to
    // abort yet: the caller is answered now, and the request is aborted as soon as it starts.
    if (this.#controller === undefined) this.#fail(reason);
    else this.#controller.abort(reason as Error);
  };

  constructor(sink: ExchangeSink, signal: Cancellation | undefined) {
    this.#sink = sink;
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal?.aborted) controller.abort(this.#signal.reason as Error);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (!this.#over) this.#sink.head(headOf(statusCode, headers), controller);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#over) this.#sink.data(chunk);
  }

  onResponseEnd(): void {
    if (this.#over) return;
    this.#over = true;
    this.#unlink();
    this.#sink.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#fail(fetchFailed(this.#signal, error));
  }

  #fail(error: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#unlink();
    this.#sink.fail(error);
  }

  #unlink(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}

/** A body read as it comes; what came before its listener is kept for it. */
export class ResponseBody {
  readonly #controller: Dispatcher.DispatchController;
  readonly #decoder = new StringDecoder('utf8');
  #listener: BodyListener | undefined;
  #queued: (() => void)[] | undefined = [];
  #over = false;

  constructor(controller: Dispatcher.DispatchController) {
    this.#controller = controller;
  }

  /** Starts the reading (once): what came already is told at once. */
  listen(listener: BodyListener): void {
    this.#listener = listener;
    const queued = this.#queued ?? [];
    this.#queued = undefined;
    for (const tell of queued) tell();
  }

  pause(): void {
    if (!this.#over) this.#controller.pause();
  }

  resume(): void {
    if (!this.#over) this.#controller.resume();
  }

  /** The reader gives up: the request is aborted and its connection closed (not reused). */
  destroy(): void {
    if (this.#over) return;
    this.#over = true;
    this.#controller.abort(new Error('the reader gave up the body'));
  }

  /** @internal the exchange's side */
  push(bytes: Buffer): void {
    if (this.#over) return;
    const text = this.#decoder.write(bytes);
    if (text !== '') this.#tell(() => this.#listener?.data(text));
  }

  /** @internal */
  finish(error?: unknown): void {
    if (this.#over) return;
    this.#over = true;
    const rest = error === undefined ? this.#decoder.end() : '';
    this.#tell(() => {
      if (rest !== '') this.#listener?.data(rest);
      if (error === undefined) this.#listener?.end();
      else this.#listener?.error(error);
    });
  }

  #tell(tell: () => void): void {
    if (this.#queued === undefined) tell();
    else this.#queued.push(tell);
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
    // No undici timers per request: every call has the router's own timeout (its attempt's cancellation).
    this.#agent = new Agent({ pipelining: 1, headersTimeout: 0, bodyTimeout: 0, ...(options.connections === undefined ? {} : { connections: options.connections }) });
  }

  /** POSTs `body` with `headers` (see {@link headerLines}) and reads the whole answer. */
  post(url: URL, headers: readonly string[], body: string, signal: Cancellation | undefined): Promise<HttpText> {
    return new Promise<HttpText>((resolve, reject) => {
      let head: HttpHead | undefined;
      const chunks: Buffer[] = [];
      this.#dispatch(url, headers, body, signal, {
        head: (h) => (head = h),
        data: (bytes) => chunks.push(bytes),
        end: () => resolve({ ...(head as HttpHead), text: chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8') }),
        fail: reject,
      }, reject);
    });
  }

  /** POSTs `body` and resolves at the answer's head; its body is read through `body.listen`. */
  open(url: URL, headers: readonly string[], body: string, signal: Cancellation | undefined): Promise<HttpOpened> {
    return new Promise<HttpOpened>((resolve, reject) => {
      let opened: ResponseBody | undefined;
      this.#dispatch(url, headers, body, signal, {
        head: (head, controller) => {
          opened = new ResponseBody(controller);
          resolve({ ...head, body: opened, done: unlinked });
        },
        data: (bytes) => opened?.push(bytes),
        end: () => opened?.finish(),
        fail: (error) => (opened === undefined ? reject(error) : opened.finish(error)),
      }, reject);
    });
  }

  /** Closes the pools' connections (idle ones keep no process alive either way: undici unrefs them). */
  close(): Promise<void> {
    return this.#agent.close();
  }

  #dispatch(url: URL, headers: readonly string[], body: string, signal: Cancellation | undefined, sink: ExchangeSink, reject: (error: unknown) => void): void {
    if (signal?.aborted) return reject(signal.reason);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return reject(new TypeError('fetch failed', { cause: new TypeError(`Protocol "${url.protocol}" not supported. Expected "http:" or "https:"`) }));
    try {
      this.#agent.dispatch({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'POST', headers: headers as string[], body }, new Exchange(sink, signal));
    } catch (error) {
      reject(fetchFailed(signal, error));
    }
  }
}
