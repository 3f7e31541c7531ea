/**
 * The `fetch` that `@ai-sdk/mistral` calls instead of Mistral's API: it takes the wire request that
 * provider built (its mapping of prompts, tools, tool choice, response formats and settings), converts it
 * to the SDK's shape (lib/mistral/wire.ts), lets the router route it (model, workspace and key per
 * request; reservation, fallback before a stream's first chunk, waiting, settling, events: all the
 * router's, exactly as for `router.chat.complete`), and answers what Mistral would have answered: the
 * response as wire JSON, or the stream as server-sent events. What the application must see besides
 * (the decision, the router's error) is left on the {@link Call} the request's header names.
 *
 * No HTTP request leaves from here: the router calls Mistral through its own SDK clients. The header and
 * the placeholder key `@ai-sdk/mistral` adds stay in this function.
 */
import { RouterError } from '../errors.js';
import { chunkToWire, requestFromWire, responseToWire, type WireEndpoint } from '../mistral/wire.js';
import type { CallOptions } from '../router/options.js';
import type { Router } from '../router/router.js';
import type { RoutedStream } from '../router/stream.js';
import { restoreAudio, type Call, type Calls } from './calls.js';
import { toAISDKError } from './errors.js';

const encoder = new TextEncoder();
const DONE = encoder.encode('data: [DONE]\n\n');

function urlOf(input: Parameters<typeof fetch>[0]): string {
  return typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
}

function endpointOf(url: string): WireEndpoint {
  if (url.endsWith('/chat/completions')) return 'chat';
  if (url.endsWith('/embeddings')) return 'embeddings';
  // The provider only creates chat and embedding models; another path is a bug, said plainly.
  throw new Error(`mistral-router/ai-sdk: no route for ${url}`);
}

function jsonResponse(result: object): Response {
  return new Response(JSON.stringify(responseToWire(result)), { status: 200, headers: { 'content-type': 'application/json' } });
}

/**
 * The routed stream as the bytes of Mistral's event stream. A failure after the first chunk (the router
 * no longer falls back then) ends the body early and is left on the call: the model reports it as an
 * `error` part before `finish` (the LanguageModelV3 way, so `streamText` calls `onError` with the router's
 * error itself; an errored body would reach it wrapped in "Failed to process successful response"). An
 * abort errors the body, as the AI SDK expects. A reader that stops (the AI SDK cancels the body) ends the
 * routed stream, which closes the upstream and settles.
 */
function eventStream(stream: RoutedStream, call: Call): ReadableStream<Uint8Array> {
  const chunks = stream[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done === true) {
          controller.enqueue(DONE);
          controller.close();
        } else {
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunkToWire(next.value.data))}\n\n`));
        }
      } catch (error) {
        if (RouterError.isInstance(error) && error.code === 'ABORTED') return controller.error(error);
        call.streamFailure = toAISDKError(error, call.url, call.body);
        controller.close();
      }
    },
    async cancel() {
      await chunks.return?.();
    },
  });
}

/** The adapter for one provider's router and calls. */
export function routerFetch(router: Router, calls: Calls): typeof fetch {
  return async (input, init) => {
    const call = calls.find(new Headers(init?.headers));
    call.url = urlOf(input);
    try {
      const endpoint = endpointOf(call.url);
      call.body = JSON.parse(typeof init?.body === 'string' ? init.body : '');
      const { request, stream } = requestFromWire(endpoint, call.body);
      // The route decides the model; the wire's `model` is the routed model's id (`auto`, or the same id).
      delete request.model;
      restoreAudio(request, call);
      const { model, need, maxWaitMs, timeoutMs } = call.route;
      const routed = { ...request, ...(model === undefined ? {} : { model }), ...(need === undefined ? {} : { need }), ...(maxWaitMs === undefined ? {} : { maxWaitMs }) };
      const options: CallOptions = { ...(init?.signal == null ? {} : { signal: init.signal }), ...(timeoutMs === undefined ? {} : { timeoutMs }) };
      if (endpoint === 'embeddings') {
        const result = await router.embeddings.create(routed as unknown as Parameters<Router['embeddings']['create']>[0], options);
        call.decision = result.routing;
        return jsonResponse(result);
      }
      const chat = routed as unknown as Parameters<Router['chat']['complete']>[0];
      if (!stream) {
        const result = await router.chat.complete(chat, options);
        call.decision = result.routing;
        return jsonResponse(result);
      }
      const routedStream = await router.chat.stream(chat, options);
      call.decision = routedStream.routing;
      call.settled = routedStream.settled;
      return new Response(eventStream(routedStream, call), { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    } catch (error) {
      call.error = error;
      throw error;
    }
  };
}
