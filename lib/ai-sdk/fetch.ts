/**
 * The `fetch` that `@ai-sdk/mistral` calls instead of Mistral's API: it takes the wire request that
 * provider built (its mapping of prompts, tools, tool choice, response formats and settings), lets the
 * router route it through its wire API (`router.wire`: model, workspace and key per request; reservation,
 * fallback before a stream's first chunk, waiting, settling, events: all the router's, exactly as for
 * `router.chat.complete`), and answers what Mistral answered: the upstream's JSON as it came, or its
 * chunks as server-sent events. What the application must see besides (the decision, the router's error)
 * is left on the {@link Call} the request's header names.
 *
 * The request that leaves is the router's (the workspace's key and server); the header and the placeholder
 * key `@ai-sdk/mistral` adds stay in this function.
 */
import { RouterError } from '../errors.js';
import { wireRequest, type WireEndpoint } from '../mistral/wire.js';
import type { Router } from '../router/router.js';
import type { WireCallOptions, WireStream } from '../router/wire-api.js';
import { restoreAudio, type Call, type Calls } from './calls.js';
import { toAISDKError } from './errors.js';

const encoder = new TextEncoder();
const DONE = 'data: [DONE]\n\n';
const DONE_BYTES = encoder.encode(DONE);

function urlOf(input: Parameters<typeof fetch>[0]): string {
  return typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
}

function endpointOf(url: string): WireEndpoint {
  if (url.endsWith('/chat/completions')) return 'chat';
  if (url.endsWith('/embeddings')) return 'embeddings';
  // The provider only creates chat and embedding models; another path is a bug, said plainly.
  throw new Error(`mistral-router/ai-sdk: no route for ${url}`);
}

function jsonResponse(text: string): Response {
  return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
}

/**
 * The routed stream as the bytes of Mistral's event stream. A failure after the first chunk (the router
 * no longer falls back then) ends the body early and is left on the call: the model reports it as an
 * `error` part before `finish` (the LanguageModelV3 way, so `streamText` calls `onError` with the router's
 * error itself; an errored body would reach it wrapped in "Failed to process successful response"). An
 * abort errors the body, as the AI SDK expects. A reader that stops (the AI SDK cancels the body) ends the
 * routed stream, which closes the upstream and settles.
 */
function eventStream(stream: WireStream, call: Call): ReadableStream<Uint8Array> {
  const chunks = stream[Symbol.asyncIterator]();
  const failed = (error: unknown): void => {
    call.streamFailure = toAISDKError(error, call.url, call.body);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done === true) {
          controller.enqueue(DONE_BYTES);
          controller.close();
          return;
        }
        // The chunks already in go out with this one: one read, one encode, one pass through the
        // AI SDK's decoding streams for all of them, as when the upstream's body is read straight.
        let text = `data: ${next.value.data}\n\n`;
        for (const chunk of chunks.takeQueued()) text += `data: ${chunk.data}\n\n`;
        if (!chunks.upstreamEnded()) return controller.enqueue(encoder.encode(text));
        // The upstream has ended: the end goes out too, and the routed stream ends (settles) meanwhile;
        // the model's `finish` part waits for `call.settled`, so it still carries the final decision.
        controller.enqueue(encoder.encode(text + DONE));
        controller.close();
        chunks.next().then(undefined, failed);
      } catch (error) {
        if (RouterError.isInstance(error) && error.code === 'ABORTED') return controller.error(error);
        failed(error);
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
      const request = wireRequest(endpoint, call.body);
      // The route decides the model; the wire's `model` is the routed model's id (`auto`, or the same id).
      const { model, need, maxWaitMs, timeoutMs } = call.route;
      if (model === undefined) delete request.view.model;
      else request.view.model = model;
      restoreAudio(request.body, call);
      const options: WireCallOptions = { ...(init?.signal == null ? {} : { signal: init.signal }), ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(need === undefined ? {} : { need }), ...(maxWaitMs === undefined ? {} : { maxWaitMs }) };
      if (endpoint === 'embeddings') {
        const result = await router.wire.embeddings(request, options);
        call.decision = result.routing;
        return jsonResponse(result.text);
      }
      if (!request.stream) {
        const result = await router.wire.chat(request, options);
        call.decision = result.routing;
        return jsonResponse(result.text);
      }
      const routedStream = await router.wire.chatStream(request, options);
      call.decision = routedStream.routing;
      call.settled = routedStream.settled;
      return new Response(eventStream(routedStream, call), { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    } catch (error) {
      call.error = error;
      throw error;
    }
  };
}
