/**
 * One model call over HTTP (chat, FIM, embeddings): the wire body becomes a router request (OpenAI fields
 * mapped, the `model` field resolved to a route, `auto` or a model, `need` taken out), the key's own
 * windows take it, the router routes it, and the answer goes back in the wire's format with the
 * decision in headers. No routing happens here: what to call, fall back to or wait for is the router's.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { NeedError } from '../errors.js';
import { requestFromWire, responseToWire, type WireEndpoint } from '../mistral/wire.js';
import type { Decision } from '../router/decision.js';
import { estimateRequest } from '../router/prepare.js';
import type { Router } from '../router/router.js';
import type { TokenEstimator } from '../tokens.js';
import type { AccessRecord } from './access-log.js';
import { encodeEmbeddings, type EmbeddingsEncoding } from './embeddings.js';
import type { VirtualKey, VirtualKeys } from './keys.js';
import { fromOpenAI } from './openai-compat.js';
import { fallbacksOf } from './recent.js';
import type { Routes } from './routes.js';
import { streamHeaders, writeStream } from './sse.js';

/** What a call needs of its gateway. */
export interface CallHost {
  readonly router: Router;
  readonly keys: VirtualKeys;
  readonly routes: Routes;
  readonly tokens: TokenEstimator;
  readonly defaultMaxTokens: number;
  /** The router's wait bound for a request that sets none. */
  readonly defaultMaxWaitMs: number;
  readonly secrets: readonly string[];
  /** Every decision answered (the dashboard's recent list). */
  readonly decided: (decision: Decision, key: VirtualKey, route: string) => void;
  /** A key's settle failed after the answer was sent (store down): reported, the answer stands. */
  readonly settleFailed: (error: unknown) => void;
}

/** The body fields that are the gateway's, not Mistral's. */
const EXTRAS = { extras: ['need'] } as const;

/** The routing headers of a decision. */
export function routingHeaders(routing: Decision): OutgoingHttpHeaders {
  return {
    'x-mistral-router-model': routing.model,
    'x-mistral-router-workspace': routing.workspace,
    'x-mistral-router-attempts': routing.attempts.length,
    'x-mistral-router-fallbacks': fallbacksOf(routing).join(', '),
  };
}

/**
 * Serves one call; `record` is filled for the access log. Resolves when the answer is written and the
 * key's reservation settled; rejects (nothing written) for the server to answer with the error.
 */
export async function serveCall(
  host: CallHost,
  endpoint: WireEndpoint,
  key: VirtualKey,
  body: Record<string, unknown>,
  res: ServerResponse,
  record: AccessRecord,
): Promise<void> {
  const compat = fromOpenAI(endpoint, body);
  const { request, stream, extras } = requestFromWire(endpoint, body, EXTRAS);
  const target = host.routes.resolve(request.model, key);
  record.route = target.name;
  const need = extras.need;
  if (target.kind === 'route') {
    if (need !== undefined) throw new NeedError('need', `the route ${JSON.stringify(target.name)} fixes the need; send "auto" or a model to give your own`);
    delete request.model;
    if (target.need !== undefined) request.need = target.need;
    if (target.maxWaitMs !== undefined) request.maxWaitMs = target.maxWaitMs;
  } else {
    if (target.kind === 'auto') delete request.model;
    if (need !== undefined) request.need = need;
  }
  if (stream && endpoint !== 'chat') throw new NeedError('stream', 'the router streams chat completions only; send this FIM request without stream');
  let encoding: EmbeddingsEncoding | undefined;
  if (endpoint === 'embeddings' && request.encodingFormat === 'base64') {
    // The SDK parses embeddings as numbers only: the upstream sends floats, the gateway encodes them.
    encoding = { dtype: typeof request.outputDtype === 'string' ? request.outputDtype : 'float' };
    delete request.encodingFormat;
  }
  const estimate = key.metersTokens ? estimateRequest(host.tokens, host.defaultMaxTokens, endpoint, request) : undefined;
  const admitting = host.keys.admit(key, estimate === undefined ? 0 : estimate.promptEstimate + estimate.maxOutput);
  const held = admitting instanceof Promise ? await admitting : admitting;
  // A client that goes away cancels its stream (the upstream stream closes) or its wait for quota. A call
  // that does not wait is let finish (within its timeout): an abort signal per request costs more than
  // the rest of the gateway's own work on it.
  let controller: AbortController | undefined;
  const onClose = () => {
    if (!res.writableFinished) controller?.abort();
  };
  if (stream || ((request.maxWaitMs as number | undefined) ?? host.defaultMaxWaitMs) > 0) {
    controller = new AbortController();
    res.once('close', onClose);
  }
  const options = controller === undefined ? (key.budget === undefined ? undefined : { budget: key.budget }) : { signal: controller.signal, budget: key.budget };
  let used = 0;
  try {
    if (stream) {
      const routed = await host.router.chat.stream(request as never, options);
      record.model = routed.routing.model;
      record.attempts = routed.routing.attempts.length;
      await writeStream(res, routed, streamHeaders(routingHeaders(routed.routing)), { includeUsage: compat.includeUsage, model: routed.routing.model, secrets: host.secrets });
      const final = await routed.settled;
      used = final.tokens.used ?? final.tokens.estimated;
      record.status = 200;
      record.tokens = final.tokens.used;
      host.decided(final, key, target.name);
      return;
    }
    const result = (await (endpoint === 'chat' ? host.router.chat.complete(request as never, options) : endpoint === 'fim' ? host.router.fim.complete(request as never, options) : host.router.embeddings.create(request as never, options))) as { routing: Decision; usage?: { totalTokens?: number } };
    const routing = result.routing;
    used = routing.tokens.used ?? 0;
    const wire = responseToWire(result);
    wire.model = routing.model;
    if (encoding !== undefined) encodeEmbeddings(wire, encoding);
    const json = JSON.stringify(wire);
    const headers = routingHeaders(routing);
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(json);
    res.writeHead(200, headers);
    res.end(json);
    record.status = 200;
    record.model = routing.model;
    record.attempts = routing.attempts.length;
    record.tokens = routing.tokens.used;
    host.decided(routing, key, target.name);
  } finally {
    if (controller !== undefined) res.off('close', onClose);
    try {
      const settling = host.keys.settle(held, used);
      if (settling instanceof Promise) await settling;
    } catch (error) {
      host.settleFailed(error);
    }
  }
}
