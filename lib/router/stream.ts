/**
 * The routed stream: the upstream's chunks past the first (the SDK's events, or the wire transport's raw
 * chunks: see transport.ts `ChunkShape`), handed to the caller with its decision.
 * It ends exactly once, whichever way it ends: read to the end; stopped early by the caller (`break`, or
 * `return()` before the first `next()`); broken mid-stream (a typed `STREAM_FAILED`, or `AbortError` when
 * the caller's signal fired); or never read before its attempt's timeout or the caller's abort. Ending
 * finishes the attempt (its timeout stops, the caller's signal is unlinked), closes the connection,
 * settles the reservation (at the usage of the last chunk, else at the estimate: the model ran), learns
 * from the response's headers, emits `done`, and resolves `settled` with the final decision.
 */
import type { CompletionEvent } from '@mistralai/mistralai/models/components/index.js';
import { AbortError, RouterError, redactSecrets } from '../errors.js';
import type { Attempt } from '../mistral/client.js';
import type { Endpoint } from '../need.js';
import type { Reservation } from '../quota/types.js';
import type { Cost } from '../telemetry/cost.js';
import type { CallObservation, ResponseInfo } from '../telemetry/observer.js';
import type { Accounting } from './accounting.js';
import type { BudgetHold } from './budgets.js';
import type { Decision } from './decision.js';
import type { RouterEventEmitter } from './events.js';
import { sanitiseCause } from './failures.js';
import type { Learning, Usage } from './learning.js';
import { responseInfo } from './observe.js';
import { classifyFailure } from './policy.js';
import type { Prepared } from './prepare.js';
import type { ChunkShape } from './transport.js';
import type { Workspace } from './workspaces.js';

/** A routed stream of the SDK's events (`router.chat.stream`, `router.fim.stream`), with its decision. */
export type RoutedStream = RoutedStreamOf<CompletionEvent>;

/** A routed stream of `Chunk`s, with its decision. */
export type RoutedStreamOf<Chunk> = {
  [Symbol.asyncIterator](): RoutedIterator<Chunk>;
  /** The decision when the stream was handed over (first chunk in): `tokens.used` is not known yet. */
  readonly routing: Decision;
  /**
   * The final decision, with the usage of the last chunk in `tokens.used` and its `cost` (undefined and
   * null when the stream reported none): resolves once the stream has ended, however it ended, and its reservation is settled.
   * Never rejects.
   */
  readonly settled: Promise<Decision>;
};

/**
 * A routed stream's reader: besides `next()`, `takeQueued()` hands over at once the chunks the upstream
 * already read (each noted as `next()` notes it), so that a front end writes several in one go.
 */
export interface RoutedIterator<Chunk> extends AsyncIterableIterator<Chunk> {
  /**
   * The chunks after the last one handed over that are already in, taken now; [] when there are none, when
   * the upstream cannot tell (a fetch body), or when the stream is not between two chunks (unread, a
   * `next()` waiting, ended or cut short). The end, or a failure, is left to the next `next()`.
   */
  takeQueued(): readonly Chunk[];
  /**
   * Between two reads (as for `takeQueued`), the upstream has ended cleanly and every chunk was handed
   * over: the next `next()` ends the stream (and settles it) without waiting on the connection.
   */
  upstreamEnded(): boolean;
}

/** An upstream iterator that can hand over what it already holds (lib/mistral/sse.ts `bodyChunks`). */
type Queued<Chunk> = AsyncIterator<Chunk> & { takeQueued?: () => Chunk[]; exhausted?: () => boolean };

const NONE: readonly never[] = Object.freeze([]);

/** What a stream needs of its router. */
export interface StreamHost {
  readonly events: RouterEventEmitter;
  readonly learning: Learning;
  readonly accounting: Accounting;
  readonly secrets: readonly string[];
  /** The router's clock. */
  now(): number;
  /** The cost of a usage on a model at an endpoint (see Decision.cost). */
  cost(endpoint: Endpoint, model: string, usage: Usage): Cost | null;
  /** The end of every stream still open, called by router.close(). */
  readonly openStreams: Set<() => Promise<void>>;
  isClosed(): boolean;
}

/** Where a stream's attempt stands when its first chunk has come. */
export interface StreamStart<Chunk> {
  readonly prepared: Prepared;
  readonly reservation: Reservation;
  readonly workspace: Workspace;
  readonly attempt: Attempt;
  readonly attemptId: string;
  readonly iterator: AsyncIterator<Chunk>;
  readonly first: IteratorResult<Chunk>;
  /** The monthly budgets the call holds its estimate in (see budgets.ts). */
  readonly hold: BudgetHold | undefined;
  /** Telemetry watching the call (see router.observe): told when the stream ends. */
  readonly watch: { readonly observed: CallObservation; readonly startedAt: number; readonly waitedMs: number } | undefined;
}

export function routedStream<Chunk>(host: StreamHost, start: StreamStart<Chunk>, routing: Decision, shape: ChunkShape<Chunk>): RoutedStreamOf<Chunk> {
  const { prepared, reservation, workspace, attempt, attemptId, iterator, first } = start;
  let phase: 'unread' | 'reading' | 'ended' = 'unread';
  let obtained = false;
  let usage: Usage | undefined;
  // A chunk with a finish reason ends the answer: a cancel after it cuts nothing.
  let complete = false;
  const watch = start.watch;
  const firstChunkAt = host.now();
  let info: ResponseInfo | undefined;
  const note = (chunk: Chunk) => {
    const reported = shape.usage(chunk);
    if (reported !== undefined) usage = reported;
    if (watch !== undefined) info = responseInfo(shape.body(chunk), info);
    if (shape.finished(chunk)) complete = true;
  };
  if (!first.done) note(first.value);
  let ending: Promise<void> | undefined;
  let settle: (decision: Decision) => void = () => undefined;
  const settled = new Promise<Decision>((resolve) => (settle = resolve));
  const closeUpstream = async (): Promise<void> => {
    try {
      await iterator.return?.();
    } catch {
      // The connection is already gone (dropped, timed out, aborted): nothing left to close.
    }
  };
  const end = (ok: boolean): Promise<void> => {
    if (ending !== undefined) return ending;
    phase = 'ended';
    attempt.finish();
    const endedAt = host.now();
    let decided: Decision | undefined;
    const final = (): Decision => {
      if (decided !== undefined) return decided;
      const cost = usage === undefined ? null : host.cost(prepared.endpoint, reservation.model, usage);
      return (decided = Object.freeze({ ...routing, tokens: Object.freeze({ estimated: routing.tokens.estimated, used: usage?.totalTokens }), cost }));
    };
    ending = (async () => {
      await closeUpstream();
      const settling = host.learning.succeeded(prepared, reservation, workspace, attemptId, usage);
      if (settling !== undefined) await settling;
      const accounted = host.accounting.spent(start.hold, reservation, final().cost);
      if (accounted !== undefined) await accounted;
      if (host.events.has('done')) host.events.emit('done', { endpoint: prepared.endpoint, ok, attempts: routing.attempts, cost: final().cost });
    })();
    // Open until settled: a close() meanwhile waits for this ending before it closes the store.
    const closed = () => {
      host.openStreams.delete(closeOnRouterClose);
      const routed = final();
      watch?.observed.end({
        ok,
        routing: routed,
        attempts: routed.attempts,
        waitedMs: watch.waitedMs,
        response: info,
        errorType: ok ? undefined : cancelled !== undefined && RouterError.isInstance(cancelled) ? cancelled.code : 'STREAM_FAILED',
        durationMs: endedAt - watch.startedAt,
        firstChunkMs: firstChunkAt - watch.startedAt,
      });
      settle(routed);
    };
    ending.then(closed, closed);
    return ending;
  };
  /** Why the stream was cut short (timeout, abort, router closed); a reader gets it as a typed error. */
  let cancelled: Error | undefined;
  const closeOnRouterClose = (): Promise<void> => {
    // Abort the request first: a read waiting on a quiet connection then ends, and so can the stream.
    attempt.cancel(new RouterError('STREAM_FAILED', 'The router was closed while this stream was open.'));
    return end(complete);
  };
  host.openStreams.add(closeOnRouterClose);
  // Its first chunk came after close(), which waits for this ending before it closes the store.
  if (host.isClosed()) void closeOnRouterClose();
  // The attempt's timeout or the caller's abort ends the stream at once, read or not: the connection is
  // cancelled and the reservation settled, even when nobody reads on.
  attempt.onCancel((reason) => {
    if (stopping) return; // the caller's own return(): see chunks.return
    if (!complete) cancelled = reason;
    void end(complete);
  });
  /** A next() waits on the connection (async generators queue return() behind it). */
  let waiting = false;
  /** The caller called return() while its next() waited: the stream stops as on `break`. */
  let stopping = false;
  const reader = async function* (): AsyncGenerator<Chunk> {
    // Ended unread: nothing to read, unless the first chunk already held the whole answer.
    if (phase === 'ended' && !complete) throw notReadable();
    phase = 'reading';
    try {
      let next = first;
      while (!next.done) {
        if (cancelled !== undefined) throw cancelled;
        yield next.value;
        waiting = true;
        try {
          next = await iterator.next();
        } finally {
          waiting = false;
        }
        if (!next.done) note(next.value);
      }
      // Closed by a cancel while waiting for the next chunk: the answer is cut short, not complete.
      if (cancelled !== undefined) throw cancelled;
    } catch (error) {
      // The answer was complete (its finish reason came) when the connection failed: nothing is missing.
      // Or the caller stopped while this read waited: its next() ends the stream as a `break` would.
      // Not when a cancel (timeout, abort, close) came first and the last chunk only after: the stream
      // was ended as failed (`done` said so), and the reader is told the same.
      if ((complete && cancelled === undefined) || stopping) return;
      // After the first chunk the caller has part of an answer: no fallback, a typed error.
      await end(false);
      const failure = classifyFailure(error);
      if (failure.kind === 'aborted') throw new AbortError('The stream was aborted by its AbortSignal.', { cause: sanitiseCause(error, host.secrets) });
      throw new RouterError('STREAM_FAILED', redactSecrets(`The stream from ${reservation.model} (workspace ${reservation.workspace}) failed after its first chunk: ${failure.message}`, host.secrets), { cause: sanitiseCause(error, host.secrets) });
    } finally {
      // Completed, or the caller stopped early (break): the call happened, settle what we know.
      await end(true);
    }
  };
  const read = reader();
  const notReadable = () => new RouterError('STREAM_FAILED', `This stream from ${reservation.model} (workspace ${reservation.workspace}) was already read, or not read within its attempt's timeout, or aborted before it was read.`);
  // A generator that never started skips its body (and its finally) on return()/throw(): end it here.
  const stopUnread = async () => {
    if (phase === 'unread') await end(true);
  };
  /** A caller's next() has not resolved yet: what it resolves with comes before anything taken now. */
  let pending = 0;
  const settledNext = (): void => void pending--;
  const queued = (iterator as Queued<Chunk>).takeQueued?.bind(iterator);
  const exhausted = (iterator as Queued<Chunk>).exhausted?.bind(iterator);
  const betweenReads = (): boolean => queued !== undefined && pending === 0 && phase === 'reading' && !waiting && !stopping && cancelled === undefined;
  const chunks: RoutedIterator<Chunk> = {
    next: () => {
      const result = read.next();
      if (queued !== undefined) {
        pending++;
        result.then(settledNext, settledNext);
      }
      return result;
    },
    takeQueued: () => {
      // Only while the reader stands at a `yield` with its chunk handed over: then the chunks taken are
      // exactly the ones its next `next()` calls would have read, and the generator reads on after them.
      if (!betweenReads()) return NONE;
      const taken = (queued as () => Chunk[])();
      for (const chunk of taken) note(chunk);
      return taken;
    },
    upstreamEnded: () => betweenReads() && exhausted?.() === true,
    return: async (value?: unknown) => {
      await stopUnread();
      if (waiting && phase === 'reading') {
        // A read waits on a quiet connection, and the generator would run return() only after it:
        // cancel the request so that the read ends now, as a `break` (settled, done ok).
        stopping = true;
        attempt.cancel(new RouterError('STREAM_FAILED', 'The caller stopped reading this stream.'));
        void end(true);
      }
      return read.return(value as undefined);
    },
    throw: async (error?: unknown) => {
      await stopUnread();
      return read.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return {
    routing,
    settled,
    [Symbol.asyncIterator]: () => {
      if (obtained || (phase === 'ended' && !complete)) throw notReadable();
      obtained = true;
      return chunks;
    },
  };
}
