/**
 * One model call over HTTP (chat, FIM, embeddings): the wire body is checked as a router wire request
 * (OpenAI fields mapped, the `model` field resolved to a route, `auto` or a model, `need` taken out), the
 * key's own windows take it, the router routes it through its wire API (`router.wire`: the body goes
 * upstream as it came, with the candidate's model), and the upstream's answer goes back as it came, with
 * the decision in headers. No routing happens here: what to call, fall back to or wait for is the router's.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { NeedError } from '../errors.js';
import { wireRequest, type WireEndpoint, type WireRequest } from '../mistral/wire.js';
import type { Need } from '../need.js';
import type { Decision } from '../router/decision.js';
import { estimateRequest } from '../router/prepare.js';
import type { Router } from '../router/router.js';
import type { WireCallOptions, WireResponse } from '../router/wire-api.js';
import type { TokenEstimator } from '../tokens.js';
import type { AccessRecord } from './access-log.js';
import { encodeEmbeddings, type EmbeddingsEncoding } from './embeddings.js';
import type { VirtualKey, VirtualKeys } from './keys.js';
import { asSent, fromOpenAI } from './openai-compat.js';
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
  let request: WireRequest;
  try {
    request = wireRequest(endpoint, body, EXTRAS);
  } catch (error) {
    throw compat.renamed === undefined ? error : asSent(error, compat.renamed);
  }
  const { view, stream } = request;
  const target = host.routes.resolve(view.model, key);
  record.route = target.name;
  const need = request.extras.need as Need | undefined;
  let routeNeed: Need | undefined;
  let maxWaitMs: number | undefined;
  if (target.kind === 'route') {
    if (need !== undefined) throw new NeedError('need', `the route ${JSON.stringify(target.name)} fixes the need; send "auto" or a model to give your own`);
    delete view.model;
    routeNeed = target.need;
    maxWaitMs = target.maxWaitMs;
  } else {
    if (target.kind === 'auto') delete view.model;
    routeNeed = need;
  }
  let encoding: EmbeddingsEncoding | undefined;
  if (endpoint === 'embeddings' && request.body.encoding_format === 'base64') {
    // Asked upstream as numbers, encoded here: the same answer whatever the upstream does with base64.
    encoding = { dtype: typeof request.body.output_dtype === 'string' ? request.body.output_dtype : 'float' };
    delete request.body.encoding_format;
    delete view.encodingFormat;
  }
  const estimate = key.metersTokens ? estimateRequest(host.tokens, host.defaultMaxTokens, endpoint, view) : undefined;
  const admitting = host.keys.admit(key, estimate === undefined ? 0 : estimate.promptEstimate + estimate.maxOutput);
  const held = admitting instanceof Promise ? await admitting : admitting;
  // The key's `models` bound every answer (fallbacks, routes, auto, a body need), against the catalogue the
  // router plans with now: no await between this and the router's plan, so a refresh cannot slip in.
  routeNeed = host.keys.bounded(key, routeNeed, host.router.catalog);
  // A client that goes away cancels its stream (the upstream stream closes) or its wait for quota. A call
  // that does not wait is let finish (within its timeout): an abort signal per request costs more than
  // the rest of the gateway's own work on it.
  let controller: AbortController | undefined;
  const onClose = () => {
    if (!res.writableFinished) controller?.abort();
  };
  if (stream || (maxWaitMs ?? host.defaultMaxWaitMs) > 0) {
    controller = new AbortController();
    res.once('close', onClose);
  }
  const options: WireCallOptions | undefined =
    controller === undefined && routeNeed === undefined && maxWaitMs === undefined && key.budget === undefined
      ? undefined
      : {
          ...(controller === undefined ? {} : { signal: controller.signal }),
          ...(routeNeed === undefined ? {} : { need: routeNeed }),
          ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
          ...(key.budget === undefined ? {} : { budget: key.budget }),
        };
  let used = 0;
  try {
    if (stream) {
      // Only chat and FIM take `stream` (wire.ts refuses it on embeddings, as Mistral's API does).
      const routed = await (endpoint === 'fim' ? host.router.wire.fimStream(request, options) : host.router.wire.chatStream(request, options));
      record.model = routed.routing.model;
      record.attempts = routed.routing.attempts.length;
      const ended = await writeStream(res, routed, streamHeaders(routingHeaders(routed.routing)), { includeUsage: compat.includeUsage, model: routed.routing.model, secrets: host.secrets });
      const final = await routed.settled;
      used = final.tokens.used ?? final.tokens.estimated;
      // A stream the client left is a 499 (nginx's code) in the log and the metrics, with what the key was charged.
      record.status = ended === 'disconnected' ? 499 : 200;
      if (ended !== 'done') record.error = ended === 'disconnected' ? 'client_closed_request' : 'stream_failed';
      record.tokens = ended === 'done' ? final.tokens.used : used;
      host.decided(final, key, target.name);
      return;
    }
    const wire = host.router.wire;
    const result = await (endpoint === 'chat' ? wire.chat(request, options) : endpoint === 'fim' ? wire.fim(request, options) : wire.embeddings(request, options));
    const routing = result.routing;
    used = routing.tokens.used ?? 0;
    const json = answerText(result, encoding);
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

/** The answer's JSON: the upstream's text as it came, unless its `model` must say the routed model or its embeddings be encoded. */
function answerText(result: WireResponse, encoding: EmbeddingsEncoding | undefined): string {
  if (encoding === undefined && result.body.model === result.routing.model) return result.text;
  const wire = result.body;
  wire.model = result.routing.model;
  if (encoding !== undefined) encodeEmbeddings(wire, encoding);
  return JSON.stringify(wire);
}
