/**
 * Mistral's event stream read as it comes: each `data:` event's text, kept as the upstream sent it (so
 * that a wire front end writes it on unchanged), with its JSON parsed once for what the router reads of a
 * chunk (its usage, its finish reasons). `data: [DONE]` ends the answer; the body is still read to its
 * end, so that a keep-alive connection goes back to its pool. A failure while reading is thrown as the
 * request's own (the signal's reason when it aborted, else the SDK's error for the cause).
 */
import { WireResponseError, requestFailed } from './wire-errors.js';

/** One chunk of a wire stream. */
export interface WireChunk {
  /** The event's data as sent (one JSON object, no `data: ` prefix, no newline). */
  readonly data: string;
  /** The same, parsed. */
  readonly json: WireChunkBody;
}

/** What the router reads of a chunk (the rest passes through untouched). */
export interface WireChunkBody {
  readonly id?: unknown;
  readonly model?: unknown;
  readonly choices: readonly { readonly finish_reason?: unknown }[];
  readonly usage?: { readonly prompt_tokens?: number; readonly completion_tokens?: number; readonly total_tokens?: number } | null;
  readonly [field: string]: unknown;
}

function parseChunk(data: string): WireChunk {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    throw new WireResponseError(`The upstream's event stream sent an event that is not JSON: ${data.slice(0, 200)}`);
  }
  // An error event, or anything but a chunk: what the SDK's schema refuses, refused here too.
  if (json === null || typeof json !== 'object' || !Array.isArray((json as WireChunkBody).choices)) {
    throw new WireResponseError(`The upstream's event stream sent an event that is not a completion chunk: ${data.slice(0, 300)}`);
  }
  return { data, json: json as WireChunkBody };
}

/** The data of each complete event in `buffer` (events end with a blank line); returns the rest. */
function takeEvents(buffer: string, out: string[]): string {
  let start = 0;
  for (;;) {
    const end = buffer.indexOf('\n\n', start);
    if (end < 0) return buffer.slice(start);
    let data: string | undefined;
    for (const line of buffer.slice(start, end).split('\n')) {
      if (!line.startsWith('data:')) continue; // comments, `event:`, `id:`, `retry:`: nothing the router reads
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      data = data === undefined ? value : `${data}\n${value}`;
    }
    if (data !== undefined) out.push(data);
    start = end + 2;
  }
}

/**
 * The chunks of an event stream `source` (text or bytes). `finish` runs once, however the reading ends
 * (read to the end, failed, or given up through `return()`).
 */
export async function* sseChunks(source: AsyncIterable<string | Uint8Array>, signal: AbortSignal | undefined, finish: () => void): AsyncGenerator<WireChunk, void, undefined> {
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  const events: string[] = [];
  try {
    for await (const piece of source) {
      const text = typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true });
      buffer += text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
      if (!buffer.includes('\n\n')) continue;
      buffer = takeEvents(buffer, events);
      for (let i = 0; i < events.length; i++) {
        const data = events[i] as string;
        if (ended) continue;
        if (data === '[DONE]') {
          ended = true;
          continue;
        }
        yield parseChunk(data);
      }
      events.length = 0;
    }
    if (!ended && buffer.trim() !== '') {
      takeEvents(`${buffer}\n\n`, events);
      for (const data of events) if (data !== '[DONE]') yield parseChunk(data);
    }
  } catch (error) {
    if (error instanceof WireResponseError) throw error;
    throw signal?.aborted ? signal.reason : requestFailed(error);
  } finally {
    finish();
  }
}
