/**
 * The HTTP server (node:http: the gateway's needs are a handful of fixed paths, a body limit and SSE,
 * which a framework would only wrap). It dispatches by path, authenticates, reads the body within its
 * limit, and hands model calls to calls.ts; it also drains: once closing, new requests get 503 and the
 * requests in flight are counted until the last one has answered.
 *
 * Slow clients are node's own timeouts: `headersTimeout` (headers not in within it: the socket is
 * closed) and `requestTimeout` (whole request not in: 408), checked every `connectionsCheckingInterval`.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Clock } from '../clock.js';
import { NeedError } from '../errors.js';
import { GatewayError } from './errors.js';
import type { WireEndpoint } from '../mistral/wire.js';
import { accessLine, accessRecord, type AccessRecord } from './access-log.js';
import { parseJson, readBody } from './body.js';
import { serveCall, type CallHost } from './calls.js';
import type { ServerSettings } from './config.js';
import { errorReply } from './http-errors.js';
import { modelRetrieved, modelsList } from './models-list.js';

/** What the server needs of its gateway beyond a call's needs. */
export interface ServerHost extends CallHost {
  readonly settings: ServerSettings;
  readonly clock: Clock;
  /** Where access-log lines and warnings go. */
  readonly log: (line: string) => void;
  /** Why the gateway cannot serve (`GET /readyz`: the store does not answer, every workspace is out), or undefined when it can. */
  readonly ready: () => Promise<string | undefined>;
  /** Called with every finished request (the metrics). */
  readonly finished?: (record: AccessRecord) => void;
  /** Other GET paths (the dashboard) and how each is answered. */
  readonly pages?: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>;
}

/** The GET paths the server itself answers. */
const GET_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/v1/models']);
/** The status node's own answer gives each parser and timeout error (as node:http's default 'clientError' does). */
const CLIENT_ERROR_STATUS: Readonly<Record<string, number>> = { ERR_HTTP_REQUEST_TIMEOUT: 408, HPE_HEADER_OVERFLOW: 431, HPE_CHUNK_EXTENSIONS_OVERFLOW: 413 };

/** `GET /v1/models/{id}`. */
const MODEL_PATH = '/v1/models/';

/** The model-call paths and their endpoints. */
export const CALLS: Readonly<Record<string, WireEndpoint>> = {
  '/v1/chat/completions': 'chat',
  '/v1/embeddings': 'embeddings',
  '/v1/fim/completions': 'fim',
};

function sendJson(res: ServerResponse, status: number, json: string, extra?: Record<string, string | number>): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), ...extra });
  res.end(json);
}

export class GatewayServer {
  readonly server: Server;
  readonly #host: ServerHost;
  #closing = false;
  /** Connections node's parser or timeouts ended, with the status written to them (see 'clientError'). */
  readonly #answeredByNode = new WeakMap<Socket, number>();
  #inFlight = 0;
  #idle: (() => void) | undefined;

  constructor(host: ServerHost) {
    this.#host = host;
    const { settings } = host;
    this.server = createServer(
      {
        headersTimeout: settings.headersTimeoutMs,
        requestTimeout: settings.requestTimeoutMs,
        keepAliveTimeout: settings.keepAliveTimeoutMs,
        // Node checks the two timeouts above on this interval (30 s by default, coarser than a short timeout).
        connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs) / 4))),
      },
      (req, res) => this.#handle(req, res),
    );
    // What node answers itself (a request timeout, a malformed body), written as node writes it, and kept
    // per connection so that the request it cut short is logged with that status.
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? 400;
      const message = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      // A client that reset the connection gets no answer: it left (499 in the log, as any other leaving).
      const gone = error.code === 'ECONNRESET' || error.code === 'EPIPE' || error.code === 'ECONNABORTED';
      if (!gone && socket.writable && (message === undefined || message === null || !message.headersSent)) {
        socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n\r\n`);
        this.#answeredByNode.set(socket, status);
      }
      socket.destroy(error);
    });
    // `Expect: 100-continue`: a body declared over the limit is answered 413 without inviting it first.
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      const declared = Number(req.headers['content-length']);
      if (!(declared > settings.bodyLimitBytes)) res.writeContinue();
      this.#handle(req, res);
    });
  }

  /** Requests being served now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Stop taking requests (each new one gets 503); resolves when none is in flight. */
  drain(): Promise<void> {
    this.#closing = true;
    this.server.close();
    this.server.closeIdleConnections();
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => (this.#idle = resolve));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = originForm(req.url ?? '/');
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const host = this.#host;
    const record = accessRecord(host.clock.now(), req.method ?? 'GET', path);
    const socket = req.socket;
    this.#inFlight++;
    this.#serve(req, res, path, record).then(
      () => this.#done(res, record),
      (error: unknown) => {
        this.#fail(res, record, error, this.#answeredByNode.get(socket));
        this.#done(res, record);
      },
    );
  }

  #done(res: ServerResponse, record: AccessRecord): void {
    this.#host.finished?.(record);
    if (this.#host.settings.accessLog) this.#host.log(accessLine(record, this.#host.clock.now() - record.time));
    if (--this.#inFlight === 0 && this.#idle !== undefined) {
      this.#idle();
      this.#idle = undefined;
    }
    if (this.#closing && !res.destroyed && res.writableFinished) res.socket?.end();
  }

  async #serve(req: IncomingMessage, res: ServerResponse, path: string, record: AccessRecord): Promise<void> {
    const host = this.#host;
    if (this.#closing) throw new GatewayError({ code: 'GATEWAY_CLOSING', message: 'The gateway is shutting down: send this request to another instance, or again once it is back.' });
    const endpoint = CALLS[path];
    if (endpoint !== undefined) {
      if (req.method !== 'POST') throw methodNotAllowed(path, 'POST');
      const key = host.keys.authenticate(req.headers.authorization);
      record.key = key.name;
      const body = parseJson(await readBody(req, host.settings.bodyLimitBytes));
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new NeedError('body', `expected a JSON object, received ${Array.isArray(body) ? 'a list' : String(body)}`);
      await serveCall(host, endpoint, key, body as Record<string, unknown>, res, record);
      return;
    }
    if (path.startsWith(MODEL_PATH)) return this.#model(req, res, path, record);
    const page = host.pages?.get(path);
    if (page === undefined && !GET_PATHS.has(path)) {
      throw new GatewayError({ code: 'GATEWAY_NOT_FOUND', message: `No such path: ${req.method ?? 'GET'} ${path}. The gateway serves POST /v1/chat/completions, /v1/embeddings, /v1/fim/completions and GET /v1/models, /healthz, /readyz${host.pages === undefined ? '' : `, ${[...host.pages.keys()].join(', ')}`}.` });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(path, 'GET');
    record.status = 200;
    if (page !== undefined) return page(req, res);
    switch (path) {
      case '/healthz':
        return sendJson(res, 200, '{"status":"ok"}');
      case '/readyz': {
        const reason = await host.ready();
        record.status = reason === undefined ? 200 : 503;
        return sendJson(res, record.status, reason === undefined ? '{"status":"ready"}' : JSON.stringify({ status: 'not ready', reason }));
      }
      case '/v1/models': {
        const key = host.keys.authenticate(req.headers.authorization);
        record.key = key.name;
        return sendJson(res, 200, modelsList(host.router.catalog, host.routes, host.keys, key, host.clock.now()));
      }
    }
  }

  /** `GET /v1/models/{id}` (the clients' `models.retrieve`): the card of a route, `auto` or model the key may call. */
  #model(req: IncomingMessage, res: ServerResponse, path: string, record: AccessRecord): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(path, 'GET');
    const host = this.#host;
    const key = host.keys.authenticate(req.headers.authorization);
    record.key = key.name;
    let id: string;
    try {
      id = decodeURIComponent(path.slice(MODEL_PATH.length));
    } catch {
      id = path.slice(MODEL_PATH.length);
    }
    const card = modelRetrieved(host.router.catalog, host.routes, host.keys, key, id, host.clock.now());
    if (card === undefined) throw new GatewayError({ code: 'GATEWAY_NOT_FOUND', message: `No model ${JSON.stringify(id)} that the gateway key "${key.name}" may call: GET /v1/models lists them.`, param: 'model' });
    record.status = 200;
    sendJson(res, 200, card);
  }

  /** Answers an error (unless the client is gone or the answer already started). */
  /** `byNode`: the status node answered the connection with itself (a timeout, a malformed body), if it did. */
  #fail(res: ServerResponse, record: AccessRecord, error: unknown, byNode: number | undefined): void {
    const reply = errorReply(error, this.#host.secrets);
    record.status = reply.status;
    record.error = reply.type;
    if (reply.status === 500) this.#host.log(JSON.stringify({ level: 'error', message: 'internal error while serving a request', path: record.path, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
    if (res.destroyed && !res.headersSent) {
      // Nobody to answer. Logged and counted as what happened, not as the error it caused here: what node
      // answered itself (408 for a timeout, 400 for a malformed body...), or 499 (the client closed the
      // connection, nginx's code), so that neither shows up as an upstream error.
      record.status = byNode ?? 499;
      record.error = byNode === undefined ? 'client_closed_request' : byNode === 408 ? 'request_timeout' : 'bad_request';
      return;
    }
    if (res.destroyed) return;
    if (res.headersSent) {
      res.end();
      return;
    }
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply.body) };
    if (reply.retryAfterSeconds !== undefined) headers['retry-after'] = reply.retryAfterSeconds;
    if (error instanceof GatewayError && error.code === 'GATEWAY_METHOD_NOT_ALLOWED') headers.allow = CALLS[record.path] === undefined ? 'GET, HEAD' : 'POST';
    // A body too large was not read to its end, and a closing gateway takes no more: no keep-alive.
    if (reply.status === 413 || reply.status === 503) {
      headers.connection = 'close';
      res.shouldKeepAlive = false;
    }
    res.writeHead(reply.status, headers);
    res.end(reply.body);
  }
}

/** The path and query of a request target; an absolute-form one (`http://host/v1/models`, as proxies send) reduced to them. */
function originForm(target: string): string {
  if (target.startsWith('/')) return target;
  const scheme = target.indexOf('://');
  if (scheme < 0) return target;
  const slash = target.indexOf('/', scheme + 3);
  return slash < 0 ? '/' : target.slice(slash);
}

function methodNotAllowed(path: string, allowed: string): GatewayError {
  return new GatewayError({ code: 'GATEWAY_METHOD_NOT_ALLOWED', message: `${path} takes ${allowed} only.` });
}
