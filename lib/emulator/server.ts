/**
 * The emulator's HTTP server: routing, authentication, and the order in which a model-endpoint request
 * is judged. That order is the contract tests rely on:
 *
 * 1. unknown path -> 404, wrong method -> 405 (FastAPI's `{"detail":...}` bodies);
 * 2. missing or unknown API key -> 401 `{"message":"Unauthorized","request_id":...}`;
 * 3. malformed JSON or fields -> 422 (HTTPValidationError shape);
 * 4. unknown model, a model retired by the emulator's clock, or one not served to the key -> 400
 *    `invalid_model` (404 `unknown_model` with `invalidModelStatus: 404`); a model without the capability
 *    or context -> 400;
 * 5. injected faults (drop before responding, 500/502/503, capacity 429/503): they charge nothing;
 * 6. the meters (requests per second/minute, tokens per minute/month) -> 429, charging nothing;
 * 7. the response, with its real `usage` (see `completionTokens`); a stream may be cut after its first chunk;
 * 8. once it is sent, the charge rule's correction or after-the-fact charge (`upstream.charge`).
 *
 * From step 4 on, every response carries the rate-limit headers of its (workspace, model).
 *
 * Aliases are resolved through the catalogue at step 4: meters, limits, statistics and faults are keyed
 * by the model id, and the `model` field of every response is that resolved id, not the alias the request
 * named (see `completionBody` for how this differs from Mistral's documented examples).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import type { Model } from '../catalog/types.js';
import { loadCatalog } from '../catalog/index.js';
import { addRateLimitHeaders, type HeaderBag } from './headers.js';
import { Meter, type MeterReading } from './meter.js';
import { validateOptions, type EmulatorCatalog, type EmulatorOptions, type EmulatorReconfiguration } from './options.js';
import { answerBody, answerEvents, chatAnswer } from './replies.js';
import { parseCall, type Endpoint, type ParsedCall } from './requests.js';
import {
  CAPACITY_BODY,
  REQUESTS_RATE_LIMIT_BODY,
  SERVER_ERROR_BODIES,
  TOKENS_RATE_LIMIT_BODY,
  completionBody,
  embeddingsBody,
  invalidRequest,
  replyWords,
  streamEvents,
  unauthorizedBody,
  validationErrorBody,
  type Usage,
} from './responses.js';
import { writePaced } from './paced.js';
import { buildState, limitsFor } from './state.js';
import { StatsRecorder, type EmulatorStats } from './stats.js';
import { completionTokensOf, maxTokensOf, requestCharge } from './charging.js';

/** A running emulator. */
export interface Emulator {
  /** Base URL to pass as the SDK's `serverURL`, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** Close the server and every open connection. */
  stop(): Promise<void>;
  /** What has been served since start or the last `reset()`. */
  stats(): EmulatorStats;
  /** Forget every meter and statistic, and restart the fault PRNG from its seed. */
  reset(): void;
  /**
   * Change options while running. Given keys replace the current ones, except `faults` and `overrides`,
   * which are merged key by key into the current ones (so `{ faults: { errorRate: 0 } }` turns errors
   * off and keeps the rest). Meters are kept; the fault PRNG restarts from its seed when faults or the seed change.
   */
  configure(changes: EmulatorReconfiguration): void;
}

/** Embedding dimension of the stand-in vectors when the request names none (mistral-embed's). */
export const DEFAULT_EMBEDDING_DIMENSION = 1024;

const ROUTES: Readonly<Record<string, { readonly method: 'GET' | 'POST'; readonly endpoint?: Endpoint }>> = {
  '/v1/chat/completions': { method: 'POST', endpoint: 'chat' },
  '/v1/fim/completions': { method: 'POST', endpoint: 'fim' },
  '/v1/embeddings': { method: 'POST', endpoint: 'embeddings' },
  '/v1/models': { method: 'GET' },
  '/stats': { method: 'GET' },
};

/** What to do with a request once judged; `sent` runs once the reply has gone (the charge rule's second step). */
type Reply =
  | { readonly kind: 'body'; readonly status: number; readonly headers: HeaderBag; readonly body: string; readonly sent?: () => void }
  | { readonly kind: 'stream'; readonly headers: HeaderBag; readonly events: readonly string[]; readonly cutAfterFirst: boolean; readonly intervalMs: number; readonly sent?: () => void }
  | { readonly kind: 'drop' };


/** The capability error of a well-formed call to a known model, if any. */
function capabilityError(call: ParsedCall, model: Model): string | undefined {
  const has = (capability: Model['capabilities'][number]) => model.capabilities.includes(capability);
  if (call.endpoint === 'chat' && !has('chat')) return invalidRequest.notChatModel(model.id);
  if (call.endpoint === 'fim' && !has('fim')) return invalidRequest.notFimModel(model.id);
  if (call.endpoint === 'embeddings' && !has('embedding')) return invalidRequest.notEmbeddingModel(model.id);
  if (call.imageParts > 0 && !has('vision')) return invalidRequest.noVision(model.id);
  if (call.audioParts > 0 && !has('audio')) return invalidRequest.noAudio(model.id);
  const needed = call.largestInputTokens + (call.maxTokens ?? 0);
  if (model.contextWindow !== null && needed > model.contextWindow) return invalidRequest.contextTooLong(needed, model.contextWindow);
  return undefined;
}

function bearerKey(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const key = header.slice(7).trim();
  return key === '' ? undefined : key;
}

/**
 * Start a local Mistral-compatible server that meters like Mistral for a tier of the catalogue.
 *
 * A request may name a model by id or alias; responses report the resolved id in `model` (the call in the
 * example is answered with `"model":"mistral-small-2506"`), while Mistral's documented examples echo the
 * name the request used. `GET /v1/models` lists every model and, as Mistral does, each alias as a card of
 * its own (`id` the alias, `name` the model it resolves to).
 *
 * @example
 * ```ts
 * const emulator = await startEmulator({ tier: 'free', clock: new FakeClock() });
 * const mistral = new Mistral({ apiKey: 'workspace-a', serverURL: emulator.url });
 * await mistral.chat.complete({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'hi' }] });
 * await emulator.stop();
 * ```
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  validateOptions(options);
  const { port = 0, host = '127.0.0.1', clock = systemClock } = options;
  const catalog: EmulatorCatalog = options.catalog ?? loadCatalog();
  let settings: EmulatorReconfiguration = {
    tier: options.tier,
    latencyMs: options.latencyMs,
    faults: options.faults,
    apiKeys: options.apiKeys,
    overrides: options.overrides,
    seed: options.seed,
    invalidModelStatus: options.invalidModelStatus,
    modelsByKey: options.modelsByKey,
    extraCards: options.extraCards,
    upstream: options.upstream,
    completionTokens: options.completionTokens,
  };
  let state = buildState(catalog, clock, settings);
  let meter = new Meter(clock, state.upstream);
  let stats = new StatsRecorder();
  const pendingTimers = new Set<NodeJS.Timeout>();
  let sequence = 0;
  const nextId = () => (++sequence).toString(16).padStart(12, '0');

  function send(res: ServerResponse, reply: Reply, delayMs: number): void {
    if (delayMs > 0) {
      // Latency is wall-clock on purpose: a fake clock only drives the meters, and would never release the reply.
      const timer = setTimeout(() => {
        pendingTimers.delete(timer);
        send(res, reply, 0);
      }, delayMs);
      pendingTimers.add(timer);
      return;
    }
    if (reply.kind === 'drop') {
      stats.response('dropped');
      res.socket?.destroy();
      return;
    }
    reply.sent?.();
    if (reply.kind === 'body') {
      stats.response(reply.status);
      // Every reply owns its header object (built per request), so it is completed in place rather than copied.
      const headers = reply.headers;
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = Buffer.byteLength(reply.body);
      res.writeHead(reply.status, headers);
      res.end(reply.body);
      return;
    }
    stats.response(200);
    reply.headers['content-type'] = 'text/event-stream';
    reply.headers['cache-control'] = 'no-cache';
    res.writeHead(200, reply.headers);
    if (reply.cutAfterFirst) {
      // Destroy only once the first chunk is flushed, so the client really sees a stream that started and broke.
      res.write(reply.events[0] ?? '', () => res.socket?.destroy());
      return;
    }
    if (reply.intervalMs > 0) return writePaced(res, reply.events, reply.intervalMs, pendingTimers);
    res.end(reply.events.join(''));
  }

  function json(status: number, body: string, headers: HeaderBag = {}): Reply {
    return { kind: 'body', status, headers, body };
  }

  function judge(endpoint: Endpoint, key: string, text: string): { reply: Reply; delayMs: number } {
    const s = state;
    const parsed = parseCall(endpoint, text);
    if (!parsed.ok) return { reply: json(422, validationErrorBody(parsed.detail)), delayMs: s.latencyMs };
    const call = parsed.call;
    const model = s.served.model(call.model);
    if (model === undefined || !s.served.serves(key, model.id)) {
      stats.refuseModel(call.model);
      const reply = s.invalidModelStatus === 404 && model !== undefined ? json(404, invalidRequest.unknownModel404(call.model)) : json(400, invalidRequest.unknownModel(call.model));
      return { reply, delayMs: s.latencyMs };
    }
    const delayMs = s.latencyMs + s.injector.latencyFor(model.id);
    const limits = limitsFor(s, model.id);
    const family = s.faults.headerFamily ?? 'current';
    const maxTokens = endpoint === 'embeddings' ? 0 : maxTokensOf(call.maxTokens);
    const completion = endpoint === 'embeddings' ? 0 : completionTokensOf(s.completionTokens, { model: model.id, endpoint, promptTokens: call.promptTokens, maxTokens });
    const charge = requestCharge(s.upstream.charge, call.promptTokens, maxTokens, completion);
    const cost = charge.queryCost;
    // Mistral announces a model's retirement on its responses (served until that day).
    const retires = model.deprecation?.retired;
    const headersOf = (reading: MeterReading, extra: HeaderBag = {}): HeaderBag => {
      if (retires) extra['x-model-deprecation-timestamp'] = new Date(retires).toISOString();
      return addRateLimitHeaders(extra, family, reading, cost);
    };

    const invalid = capabilityError(call, model);
    if (invalid !== undefined) return { reply: json(400, invalid, headersOf(meter.peek(key, model.id, limits))), delayMs };

    const fault = s.injector.decide(model.id);
    if (fault.kind === 'drop-before') {
      stats.faults.dropBefore++;
      return { reply: { kind: 'drop' }, delayMs };
    }
    if (fault.kind === 'error') {
      stats.faults.error++;
      const { contentType, body } = SERVER_ERROR_BODIES[fault.status];
      return { reply: json(fault.status, body, headersOf(meter.peek(key, model.id, limits), { 'content-type': contentType })), delayMs };
    }
    if (fault.kind === 'capacity') {
      stats.faults.capacity++;
      const extra: HeaderBag = fault.status === 429 && s.faults.retryAfter !== false ? { 'retry-after': 1 } : {};
      return { reply: json(fault.status, CAPACITY_BODY, headersOf(meter.peek(key, model.id, limits), extra)), delayMs };
    }

    const outcome = meter.admit(key, model.id, limits, charge.need, charge.atAdmission);
    if (!outcome.admitted) {
      stats.rateLimited[outcome.reason]++;
      const extra: HeaderBag = s.faults.retryAfter === false ? {} : { 'retry-after': Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)) };
      const body = outcome.reason === 'requests-per-second' || outcome.reason === 'requests-per-minute' ? REQUESTS_RATE_LIMIT_BODY : TOKENS_RATE_LIMIT_BODY;
      return { reply: json(429, body, headersOf(outcome.reading, extra)), delayMs };
    }
    const usage: Usage = { prompt_tokens: call.promptTokens, completion_tokens: completion, total_tokens: call.promptTokens + completion };
    stats.charge(model.id, call.promptTokens, completion, charge.atAdmission + charge.afterResponse);
    const ticket = outcome.ticket;
    const sent = charge.afterResponse === 0 ? undefined : () => (s.upstream.charge === 'usage' ? meter.chargeLater(ticket, charge.afterResponse) : meter.correct(ticket, charge.afterResponse));
    const headers = headersOf(outcome.reading);
    const created = Math.floor(clock.now() / 1000);
    if (endpoint === 'embeddings') {
      const body = embeddingsBody(`emb-${nextId()}`, model.id, call.inputs, call.outputDimension ?? DEFAULT_EMBEDDING_DIMENSION, usage);
      return { reply: json(200, body, headers), delayMs };
    }
    const id = `cmpl-${nextId()}`;
    // Tools, JSON output, reasoning: replies.ts; anything else the plain reply, on the fast path.
    const answer = endpoint === 'chat' ? chatAnswer(call.body, model, id) : undefined;
    if (call.stream) {
      const cutAfterFirst = s.injector.dropMidStream(model.id);
      if (cutAfterFirst) stats.faults.dropMidStream++;
      const events = answer === undefined ? streamEvents(id, model.id, created, replyWords(model.id), usage) : answerEvents(id, model.id, created, answer, usage);
      return { reply: { kind: 'stream', headers, events, cutAfterFirst, intervalMs: s.injector.chunkIntervalFor(model.id), sent }, delayMs };
    }
    const body = answer === undefined ? completionBody(id, model.id, created, replyWords(model.id).join(''), usage) : answerBody(id, model.id, created, answer, usage);
    return { reply: { kind: 'body', status: 200, headers, body, sent }, delayMs };
  }

  /** The key of an authorised request, or undefined after answering 401. */
  function authorise(req: IncomingMessage, res: ServerResponse, delayMs: number): string | undefined {
    const key = bearerKey(req);
    if (key !== undefined && (state.apiKeys === undefined || state.apiKeys.has(key))) return key;
    send(res, json(401, unauthorizedBody(nextId())), delayMs);
    return undefined;
  }

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    // GET /stats is not counted: observing must not change what is observed.
    if (path !== '/stats') stats.requests++;
    const route = ROUTES[path];
    if (route === undefined) return send(res, json(404, '{"detail":"Not Found"}'), 0);
    if (req.method !== route.method) return send(res, json(405, '{"detail":"Method Not Allowed"}', { allow: route.method }), 0);
    const endpoint = route.endpoint;
    if (endpoint === undefined) {
      if (path === '/stats') {
        const body = JSON.stringify(stats.snapshot());
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      const key = authorise(req, res, state.latencyMs);
      if (key !== undefined) send(res, json(200, state.served.listBody(key)), state.latencyMs);
      return;
    }
    // The body is read before any answer, so that keep-alive connections stay in step.
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const key = authorise(req, res, state.latencyMs);
      if (key === undefined) return;
      const text = chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
      const { reply, delayMs } = judge(endpoint, key, text);
      send(res, reply, delayMs);
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.address.includes(':') ? `[${address.address}]` : address.address;

  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const timer of pendingTimers) clearTimeout(timer);
        pendingTimers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    stats: () => stats.snapshot(),
    reset() {
      meter.reset();
      stats = new StatsRecorder();
      state = buildState(catalog, clock, settings);
    },
    configure(changes) {
      validateOptions(changes);
      const next: EmulatorReconfiguration = {
        ...settings,
        ...changes,
        faults: changes.faults === undefined ? settings.faults : { ...settings.faults, ...changes.faults },
        overrides: changes.overrides === undefined ? settings.overrides : { ...settings.overrides, ...changes.overrides },
      };
      const previous = state;
      const rebuilt = buildState(catalog, clock, next);
      // Keep the PRNG's position unless the faults themselves changed: a latency tweak must not replay faults.
      state = changes.faults === undefined && changes.seed === undefined ? { ...rebuilt, injector: previous.injector } : rebuilt;
      settings = next;
      if (changes.upstream !== undefined) meter = new Meter(clock, state.upstream);
    },
  };
}
