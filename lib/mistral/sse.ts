/**
 * Mistral's event stream read as it comes: each `data:` event's text, kept as the upstream sent it (so
 * that a wire front end writes it on unchanged), with its JSON parsed once for what the router reads of a
 * chunk (its usage, its finish reasons). `data: [DONE]` ends the answer; the body is still read to its
 * end, so that a keep-alive connection goes back to its pool. A failure while reading is thrown as the
 * request's own (the signal's reason when it aborted, else the SDK's error for the cause).
 */
import { WireResponseError, requestFailed } from './wire-errors.js';
import type { Cancellation } from './wire-http.js';

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

/** Chunks queued ahead of the reader before the upstream is paused (a slow reader holds the upstream read). */
const HIGH_WATER = 64;

/**
 * The chunks of an event stream `source` (text or bytes). `finish` runs once, however the reading ends
 * (read to the end, failed, or given up through `return()`).
 */
export async function* sseChunks(source: AsyncIterable<string | Uint8Array>, signal: Cancellation | undefined, finish: () => void): AsyncGenerator<WireChunk, void, undefined> {
  const decoder = new TextDecoder();
  const events = new EventSplitter();
  try {
    for await (const piece of source) {
      const chunks = events.feed(typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true }));
      for (const chunk of chunks) yield chunk;
    }
    for (const chunk of events.end()) yield chunk;
  } catch (error) {
    if (error instanceof WireResponseError) throw error;
    throw signal?.aborted ? signal.reason : requestFailed(error);
  } finally {
    finish();
  }
}

/** Text in, the chunks of the complete events out; `[DONE]` ends the answer (later events are dropped). */
class EventSplitter {
  #buffer = '';
  #ended = false;
  readonly #data: string[] = [];

  feed(text: string): WireChunk[] {
    this.#buffer += text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
    if (!this.#buffer.includes('\n\n')) return [];
    this.#buffer = takeEvents(this.#buffer, this.#data);
    return this.#chunks();
  }

  /** The source ended: an event without its blank line still counts. */
  end(): WireChunk[] {
    if (this.#buffer.trim() === '') return [];
    takeEvents(`${this.#buffer}\n\n`, this.#data);
    this.#buffer = '';
    return this.#chunks();
  }

  #chunks(): WireChunk[] {
    const out: WireChunk[] = [];
    for (const data of this.#data) {
      if (this.#ended) break;
      if (data === '[DONE]') this.#ended = true;
      else out.push(parseChunk(data));
    }
    this.#data.length = 0;
    return out;
  }
}

/** A body read as it comes (wire-http.ts's `ResponseBody`). */
export interface BodySource {
  listen(listener: { data(text: string): void; end(): void; error(error: unknown): void }): void;
  pause(): void;
  resume(): void;
  destroy(): void;
}

/** An iterator of chunks that can also hand over, without a promise, the chunks it already holds. */
export interface QueuedChunks<Chunk> extends AsyncIterableIterator<Chunk> {
  return(): Promise<IteratorResult<Chunk>>;
  /**
   * The chunks already read and not yet handed over, in order, taken now (what the next `next()` calls
   * would resolve with at once); [] when none. A failure or the end stays for the next `next()`.
   */
  takeQueued(): Chunk[];
  /** The body ended cleanly and every chunk was handed over: the next `next()` resolves done. */
  exhausted(): boolean;
}

/**
 * The chunks of a response body read as it comes (text), pushed as they arrive and queued for the reader:
 * one promise per chunk read, none per chunk when several came in one read (and `takeQueued` hands those
 * over at once). Past {@link HIGH_WATER}
 * chunks queued the body is paused until the reader catches up. `return()` destroys an unfinished body
 * (its connection is not reused); read to its end, the connection goes back to the pool.
 */
export function bodyChunks(source: BodySource, signal: Cancellation | undefined, finish: () => void): QueuedChunks<WireChunk> {
  const events = new EventSplitter();
  const queue: WireChunk[] = [];
  let head = 0;
  let ended = false;
  let failure: unknown;
  let paused = false;
  let finished = false;
  let waiting: { resolve: (result: IteratorResult<WireChunk>) => void; reject: (error: unknown) => void } | undefined;
  const done = (): void => {
    if (finished) return;
    finished = true;
    finish();
  };
  const wake = (): void => {
    const waiter = waiting;
    if (waiter === undefined) return;
    if (head < queue.length) {
      waiting = undefined;
      waiter.resolve({ value: take(), done: false });
    } else if (failure !== undefined) {
      waiting = undefined;
      waiter.reject(failure);
    } else if (ended) {
      waiting = undefined;
      waiter.resolve({ value: undefined, done: true });
    }
  };
  const take = (): WireChunk => {
    const chunk = queue[head] as WireChunk;
    queue[head++] = undefined as unknown as WireChunk;
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    }
    if (paused && queue.length - head < HIGH_WATER / 2) {
      paused = false;
      source.resume();
    }
    return chunk;
  };
  const fail = (error: unknown): void => {
    if (ended || failure !== undefined) return;
    failure = error instanceof WireResponseError ? error : signal?.aborted ? signal.reason : requestFailed(error);
    done();
    wake();
  };
  source.listen({
    data(text) {
      if (failure !== undefined || ended) return;
      try {
        for (const chunk of events.feed(text)) queue.push(chunk);
      } catch (error) {
        source.destroy();
        fail(error);
        return;
      }
      if (!paused && queue.length - head >= HIGH_WATER) {
        paused = true;
        source.pause();
      }
      wake();
    },
    end() {
      if (failure !== undefined || ended) return;
      try {
        for (const chunk of events.end()) queue.push(chunk);
      } catch (error) {
        fail(error);
        return;
      }
      ended = true;
      done();
      wake();
    },
    // Closed without its end (the connection dropped, or the signal aborted): the request's failure.
    error: fail,
  });
  const iterator = {
    next(): Promise<IteratorResult<WireChunk>> {
      if (head < queue.length) return Promise.resolve({ value: take(), done: false });
      if (failure !== undefined) return Promise.reject(failure);
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise<IteratorResult<WireChunk>>((resolve, reject) => (waiting = { resolve, reject }));
    },
    async return(): Promise<IteratorResult<WireChunk>> {
      if (!ended && failure === undefined) {
        ended = true;
        source.destroy();
        done();
      }
      queue.length = 0;
      head = 0;
      const waiter = waiting;
      waiting = undefined;
      waiter?.resolve({ value: undefined, done: true });
      return { value: undefined, done: true };
    },
    takeQueued(): WireChunk[] {
      if (head >= queue.length) return [];
      const taken = head === 0 ? queue.slice() : queue.slice(head);
      queue.length = 0;
      head = 0;
      if (paused) {
        paused = false;
        source.resume();
      }
      return taken;
    },
    exhausted: () => ended && failure === undefined && head >= queue.length,
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
