/**
 * A routed wire stream as server-sent events, the way Mistral (and OpenAI) send them: one `data: {chunk}`
 * event per chunk as the upstream sent it, then `data: [DONE]`. A stream that breaks after its first chunk
 * (the caller already has part of an answer, so there is no fallback) ends with one `data: {error}` event
 * and no `[DONE]`, which both official clients raise as an error.
 *
 * Writes respect backpressure: a slow reader holds the upstream read, not the gateway's memory. A client
 * that disconnects stops the loop; the handler's abort signal has already cancelled the upstream stream,
 * whose reservation the router settles.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { WireStream } from '../router/wire-api.js';
import { errorReply } from './http-errors.js';

export interface StreamOptions {
  /** `false` (OpenAI's `stream_options.include_usage: false`): chunks are sent without `usage`. */
  readonly includeUsage: boolean | undefined;
  /** The model that answers, written as every chunk's `model`. */
  readonly model: string;
  readonly secrets: readonly string[];
}

const DONE = 'data: [DONE]\n\n';

/** Resolves when the response can take more (or is gone). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Writes `stream` to `res` with `headers` (the routing headers) and ends the response. Resolves once the
 * stream is over, however it ended: 'done', 'failed' (an error event was sent) or 'disconnected'.
 */
export async function writeStream(res: ServerResponse, stream: WireStream, headers: OutgoingHttpHeaders, options: StreamOptions): Promise<'done' | 'failed' | 'disconnected'> {
  res.writeHead(200, headers);
  const withoutUsage = options.includeUsage === false;
  try {
    for await (const chunk of stream) {
      if (res.destroyed) return 'disconnected';
      let data = chunk.data;
      // Written as it came, unless its model must say the routed one or its usage is not wanted.
      if (chunk.json.model !== options.model || (withoutUsage && chunk.json.usage !== undefined)) {
        const wire: Record<string, unknown> = { ...chunk.json, model: options.model };
        if (withoutUsage) delete wire.usage;
        data = JSON.stringify(wire);
      }
      if (!res.write(`data: ${data}\n\n`)) await drained(res);
    }
  } catch (error) {
    if (res.destroyed) return 'disconnected';
    res.end(`data: ${errorReply(error, options.secrets).body}\n\n`);
    return 'failed';
  }
  if (res.destroyed) return 'disconnected';
  res.end(DONE);
  return 'done';
}

/** The headers of an event stream (the routing headers are added by the caller). */
export function streamHeaders(routing: OutgoingHttpHeaders): OutgoingHttpHeaders {
  routing['content-type'] = 'text/event-stream';
  routing['cache-control'] = 'no-cache';
  return routing;
}
