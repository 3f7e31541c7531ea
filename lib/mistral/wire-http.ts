/**
 * The wire transport's HTTP/1.1 client (wire-client.ts, through a fetch made by `createNodeFetch`):
 * keep-alive connections per origin (node:net, node:tls for https), one request in flight on each, taken
 * last-in first-out; the request written in one piece (head and body in one string, one write), the
 * response read by http-parse.ts. An answer is its status, node's header record and its text (JSON) or,
 * for an event stream, its text as it comes; no `Request`/`Response`/`Headers`, no node:http objects.
 *
 * Why not node:http: a POST through `http.request` with a keep-alive agent (ClientRequest, the agent's
 * bookkeeping, IncomingMessage and its readable stream) cost the client 33-41 µs of CPU per call at
 * concurrency 32 and 38-60 µs at concurrency 1 against the emulator, and this 10-11 µs (a process of its
 * own, 6,000 calls; bench notes in docs/notes/gateway.md): the largest item of the gateway's own work.
 *
 * As node:http does: an idle connection is unref'd (it keeps no process alive), dropped when the server
 * closes it, and not reused past the server's `Keep-Alive: timeout=N` hint (less a second); a response
 * that says `Connection: close`, or whose body runs to the connection's end, closes it; connection
 * failures are `TypeError('fetch failed')` with the cause, an abort rejects with the signal's reason.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { connect as tlsConnect } from 'node:tls';
import { ResponseParser, type HttpHead, type ParseSink } from './http-parse.js';

export type { HttpHead } from './http-parse.js';

export interface WireHttpOptions {
  /** Idle keep-alive connections kept per origin. @default 256 */
  readonly maxFreeSockets?: number;
  /** Milliseconds on a monotonic clock (an idle connection's age). @default performance.now */
  readonly now?: () => number;
}

/** A whole answer. */
export interface HttpText extends HttpHead {
  readonly text: string;
}

/** An answer whose body is read as it comes. */
export interface HttpOpened extends HttpHead {
  readonly body: ResponseBody;
  /** Unlinks the request's signal (once the body is read or given up). */
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
 * cancellation, lib/mistral/client.ts, which makes no AbortSignal).
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

/** Header lines (`name: value\r\n` each) for {@link WireHttp}, checked as node:http checks them (no value is quoted in its errors). */
export function headerLines(headers: Readonly<Record<string, string>>): string {
  let lines = '';
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${name}"]`), { code: 'ERR_INVALID_HTTP_TOKEN' });
    if (INVALID_VALUE.test(value)) throw Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), { code: 'ERR_INVALID_CHAR' });
    lines += `${name}: ${value}\r\n`;
  }
  return lines;
}

interface Exchange {
  head(head: HttpHead): void;
  data(chunk: Buffer): void;
  end(): void;
  fail(error: unknown): void;
}

const connectionReset = (message: string) => Object.assign(new Error(message), { code: 'ECONNRESET' });

/** One keep-alive connection: at most one exchange at a time. */
class Connection implements ParseSink {
  readonly socket: Socket;
  readonly #origin: Origin;
  #exchange: Exchange | undefined;
  #parser: ResponseParser | undefined;
  #closed = false;
  /** When it last went idle, and how long the server keeps an idle connection (its hint, less a second). */
  idleSince = 0;
  keepAliveMs = Number.POSITIVE_INFINITY;

  constructor(socket: Socket, origin: Origin) {
    this.socket = socket;
    this.#origin = origin;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    socket.on('data', (bytes: Buffer) => this.#read(bytes));
    socket.on('error', (error: Error) => this.#ended(error));
    socket.on('close', () => this.#ended(undefined));
  }

  start(exchange: Exchange, request: string): void {
    this.#exchange = exchange;
    this.#parser = new ResponseParser(this);
    this.socket.write(request);
  }

  /** Ends the exchange with `error` (an abort) and closes the connection. */
  abort(error: unknown): void {
    const exchange = this.#exchange;
    this.#exchange = undefined;
    this.#parser = undefined;
    this.socket.destroy();
    exchange?.fail(error);
  }

  /** The reader gave up the body: the connection closes, nothing more is told. */
  drop(): void {
    this.#exchange = undefined;
    this.#parser = undefined;
    this.socket.destroy();
  }

  head(head: HttpHead): void {
    const keepAlive = head.headers['keep-alive'];
    const hint = keepAlive === undefined ? undefined : /^timeout=(\d+)/.exec(String(keepAlive))?.[1];
    if (hint !== undefined) this.keepAliveMs = Number(hint) * 1000 - 1000;
    this.#exchange?.head(head);
  }

  data(chunk: Buffer): void {
    this.#exchange?.data(chunk);
  }

  end(reusable: boolean): void {
    const exchange = this.#exchange;
    this.#exchange = undefined;
    this.#parser = undefined;
    if (reusable && !this.#closed) this.#origin.release(this);
    else this.socket.destroy();
    exchange?.end();
  }

  #read(bytes: Buffer): void {
    const parser = this.#parser;
    if (parser === undefined) {
      this.socket.destroy(); // bytes nothing asked for
      return;
    }
    try {
      parser.feed(bytes);
    } catch (error) {
      this.abort(error);
    }
  }

  #ended(error: Error | undefined): void {
    this.#closed = true;
    this.#origin.remove(this);
    const parser = this.#parser;
    if (parser === undefined) return;
    if (error === undefined && parser.untilClose) parser.close();
    else this.abort(error ?? connectionReset(parser.started ? 'aborted' : 'socket hang up'));
  }
}

/** Where a URL goes, made once per URL object. */
interface Target {
  readonly origin: string;
  readonly secure: boolean;
  readonly hostname: string;
  readonly port: number;
  /** The Host header (the URL's host: the port only when not the scheme's default). */
  readonly host: string;
  readonly path: string;
}

const targets = new WeakMap<URL, Target>();

function targetOf(url: URL): Target {
  let target = targets.get(url);
  if (target === undefined) {
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') throw new TypeError(`Protocol "${url.protocol}" not supported. Expected "http:" or "https:"`);
    // node:net wants an IPv6 host without its brackets.
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
    targets.set(url, (target = { origin: `${url.protocol}//${url.host}`, secure, hostname, port, host: url.host, path: `${url.pathname}${url.search}` }));
  }
  return target;
}

/** The idle connections of one origin. */
class Origin {
  readonly #target: Target;
  readonly #free: Connection[] = [];
  readonly #maxFree: number;
  readonly #now: () => number;

  constructor(target: Target, maxFree: number, now: () => number) {
    this.#target = target;
    this.#maxFree = maxFree;
    this.#now = now;
  }

  acquire(): Connection {
    const now = this.#now();
    for (let connection = this.#free.pop(); connection !== undefined; connection = this.#free.pop()) {
      if (now - connection.idleSince < connection.keepAliveMs) {
        connection.socket.ref();
        return connection;
      }
      connection.socket.destroy();
    }
    const { secure, hostname, port } = this.#target;
    const socket = secure ? tlsConnect({ host: hostname, port, ALPNProtocols: ['http/1.1'], ...(isIP(hostname) === 0 ? { servername: hostname } : {}) }) : netConnect({ host: hostname, port });
    return new Connection(socket, this);
  }

  release(connection: Connection): void {
    if (this.#free.length >= this.#maxFree) {
      connection.socket.destroy();
      return;
    }
    connection.idleSince = this.#now();
    connection.socket.unref();
    this.#free.push(connection);
  }

  remove(connection: Connection): void {
    const index = this.#free.indexOf(connection);
    if (index >= 0) this.#free.splice(index, 1);
  }
}

/** A body read as it comes; what came before its listener is kept for it. */
export class ResponseBody {
  readonly #connection: Connection;
  readonly #decoder = new StringDecoder('utf8');
  #listener: BodyListener | undefined;
  #queued: (() => void)[] | undefined = [];
  #over = false;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /** Starts the reading (once): what came already is told at once. */
  listen(listener: BodyListener): void {
    this.#listener = listener;
    const queued = this.#queued ?? [];
    this.#queued = undefined;
    for (const tell of queued) tell();
  }

  pause(): void {
    if (!this.#over) this.#connection.socket.pause();
  }

  resume(): void {
    if (!this.#over) this.#connection.socket.resume();
  }

  /** The reader gives up: the connection closes (it is not reused). */
  destroy(): void {
    if (this.#over) return;
    this.#over = true;
    this.#connection.drop();
  }

  /** @internal the connection's side */
  push(bytes: Buffer): void {
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

export class WireHttp {
  readonly #origins = new Map<string, Origin>();
  readonly #maxFree: number;
  readonly #now: () => number;

  constructor(options: WireHttpOptions = {}) {
    this.#maxFree = options.maxFreeSockets ?? 256;
    this.#now = options.now ?? (() => performance.now());
  }

  /** POSTs `body` with `lines` (see {@link headerLines}) and reads the whole answer. */
  post(url: URL, lines: string, body: string, signal: Cancellation | undefined): Promise<HttpText> {
    return this.#exchange(url, lines, body, signal, (resolve, reject, unlink) => {
      let head: HttpHead | undefined;
      const chunks: Buffer[] = [];
      return {
        head: (h) => (head = h),
        data: (chunk) => chunks.push(chunk),
        end: () => {
          unlink();
          const text = chunks.length === 0 ? '' : (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString('utf8');
          const { status, headers, rawHeaders } = head as HttpHead;
          resolve({ status, headers, rawHeaders, text });
        },
        fail: (error) => {
          unlink();
          reject(fetchFailed(signal, error));
        },
      };
    });
  }

  /** POSTs `body` and resolves at the answer's head; its body is read through `body.listen`. */
  open(url: URL, lines: string, body: string, signal: Cancellation | undefined): Promise<HttpOpened> {
    return this.#exchange(url, lines, body, signal, (resolve, reject, unlink, connection) => {
      let opened: ResponseBody | undefined;
      return {
        head: (head) => {
          opened = new ResponseBody(connection);
          resolve({ ...head, body: opened, done: unlink });
        },
        data: (chunk) => opened?.push(chunk),
        end: () => opened?.finish(),
        fail: (error) => {
          if (opened !== undefined) {
            opened.finish(error);
            return;
          }
          unlink();
          reject(fetchFailed(signal, error));
        },
      };
    });
  }

  #exchange<T>(url: URL, lines: string, body: string, signal: Cancellation | undefined, make: (resolve: (value: T) => void, reject: (error: unknown) => void, unlink: () => void, connection: Connection) => Exchange): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const target = targetOf(url);
      let origin = this.#origins.get(target.origin);
      if (origin === undefined) this.#origins.set(target.origin, (origin = new Origin(target, this.#maxFree, this.#now)));
      const connection = origin.acquire();
      let onAbort: (() => void) | undefined;
      const unlink = () => {
        if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
        onAbort = undefined;
      };
      const exchange = make(resolve, reject, unlink, connection);
      if (signal !== undefined) {
        onAbort = () => connection.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      }
      connection.start(exchange, `POST ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: keep-alive\r\n${lines}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  }
}
