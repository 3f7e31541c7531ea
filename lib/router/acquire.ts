/**
 * How an attempt gets its reservation: at once from a synchronous store when it has room and nobody waits,
 * else through the FIFO wait queue within what is left of the call's `maxWaitMs`; when no candidate is
 * there at all (every one cooling down or passed over), after the first comes back (comeback.ts). A
 * candidate away for a while may also be back before any candidate with quota has room: the queue then
 * waits only until that comeback, and the call looks again with it among its candidates.
 */
import type { Clock } from '../clock.js';
import { AbortError, NoEligibleModelError, QuotaExhaustedError } from '../errors.js';
import type { QuotaStore, Reservation, ReserveRequest, ReserveResult } from '../quota/types.js';
import type { Candidates } from './candidates.js';
import { coolingDownError, type Comeback, type Pauses } from './comeback.js';
import type { RouterEventEmitter } from './events.js';
import { summariseRejections, type CallState } from './failures.js';
import type { Learning } from './learning.js';
import type { Prepared } from './prepare.js';
import { closedError, type WaitQueue } from './wait-queue.js';

/** What acquiring reads of its router. */
export interface AcquireParts {
  readonly store: QuotaStore;
  readonly clock: Clock;
  readonly events: RouterEventEmitter;
  readonly candidates: Candidates;
  readonly learning: Learning;
  readonly queue: WaitQueue;
  readonly pauses: Pauses;
  /** Whether the router is closed (no new reservation then). */
  readonly isClosed: () => boolean;
}

export class Acquirer {
  readonly #parts: AcquireParts;

  constructor(parts: AcquireParts) {
    this.#parts = parts;
  }

  /**
   * A reservation for the call's next attempt: a value (no promise) when a synchronous store has room and
   * nobody waits. Throws ROUTER_CLOSED, the call's last error or NoEligibleModelError when nothing can
   * ever serve it, QuotaExhaustedError / ModelCoolingDownError past its wait bound, AbortError.
   */
  acquire(prepared: Prepared, state: CallState, signal: AbortSignal | undefined): Reservation | Promise<Reservation> {
    const { candidates: lists, queue, learning } = this.#parts;
    if (this.#parts.isClosed()) throw closedError();
    const candidates = lists.forCall(prepared.models, state.excluded, state.minContext);
    if (candidates.length === 0) {
      const back = lists.comeback(prepared.models, state.excluded, state.minContext);
      if (back !== undefined) return this.#untilBack(prepared, state, signal, back);
      // Nothing will come back for this call: it saw why (lastError), or no model can ever serve it.
      if (state.lastError !== undefined) throw state.lastError;
      const out = prepared.models.length === 0 ? [] : lists.disabledFor(prepared.models);
      const why =
        prepared.models.length === 0
          ? summariseRejections(prepared.plan.rejected)
          : out.length > 0
            ? `Mistral refused the API key (401/403) of every workspace that serves its models (${out.join(', ')}): they take no more calls until the router is restarted with a valid key`
            : 'no workspace lists its models';
      throw new NoEligibleModelError({ message: `No model in the catalogue can serve this ${prepared.endpoint} request: ${why}`, plan: prepared.plan, workspacesOut: out });
    }
    const request = learning.reserveRequest(candidates, prepared);
    const first = queue.tryNow(request, signal);
    if (first?.ok) {
      state.refusals = first.refusals;
      return first.reservation;
    }
    return this.#wait(prepared, state, signal, request, first);
  }

  /** Wait in the queue, within what is left of the call's bound, or until a candidate away comes back. */
  async #wait(prepared: Prepared, state: CallState, signal: AbortSignal | undefined, request: ReserveRequest, first: ReserveResult | undefined): Promise<Reservation> {
    const { clock, queue, learning, store, events } = this.#parts;
    const remaining = Math.max(0, prepared.maxWaitMs - state.waitedMs);
    const started = clock.now();
    const back = this.#parts.candidates.comeback(prepared.models, state.excluded, state.minContext);
    try {
      const observed = state.observed;
      const onWait = observed === undefined ? undefined : (info: { retryAfterMs: number; queueLength: number }) => observed.waited(info);
      const acquired = await queue.acquire(request, remaining, signal, prepared.plan, prepared.endpoint, first, onWait);
      state.waitedMs += acquired.waitedMs;
      state.refusals = acquired.refusals;
      if (signal?.aborted) {
        // Aborted as the reservation arrived: nothing was sent, so everything goes back.
        await learning.bookkeeping('release', () => store.release(acquired.reservation));
        void queue.pump();
        throw new AbortError('The request was aborted while waiting for quota.');
      }
      return acquired.reservation;
    } catch (error) {
      const quota = QuotaExhaustedError.isInstance(error);
      if (back !== undefined && (quota || NoEligibleModelError.isInstance(error))) {
        const now = clock.now();
        // Sooner back than the windows have room (or they never will): wait for it, or say when it is.
        if (!quota || back.at - now < error.retryAfterMs || now - started + (back.at - now) <= remaining) {
          state.waitedMs += now - started;
          return this.#untilBack(prepared, state, signal, back);
        }
      }
      if (quota) {
        events.emit('exhausted', { endpoint: prepared.endpoint, retryAfterMs: error.retryAfterMs });
        throw afterFailures(error, state);
      }
      throw error;
    }
  }

  /** Sleep until the first pair away is back and look again, when the call may wait that long; else say when. */
  async #untilBack(prepared: Prepared, state: CallState, signal: AbortSignal | undefined, back: Comeback): Promise<Reservation> {
    const { clock, events, queue, pauses } = this.#parts;
    const now = clock.now();
    const waitMs = Math.max(0, back.at - now);
    if (waitMs > prepared.maxWaitMs - state.waitedMs) {
      events.emit('exhausted', { endpoint: prepared.endpoint, retryAfterMs: waitMs });
      throw coolingDownError(back, now, prepared.maxWaitMs, prepared.endpoint, prepared.plan, state.lastError);
    }
    if (waitMs > 0) {
      events.emit('wait', { endpoint: prepared.endpoint, retryAfterMs: waitMs, queueLength: queue.length });
      await pauses.sleep(waitMs, signal);
      state.waitedMs += waitMs;
    }
    return this.acquire(prepared, state, signal);
  }
}

/**
 * A call refused for quota after attempts that failed upstream (which spent the windows it then found
 * full): the same refusal, its message naming those failures and the last of them as its cause, so that
 * the caller is not left to guess why.
 */
function afterFailures(error: QuotaExhaustedError, state: CallState): QuotaExhaustedError {
  const failed = state.attempts.filter((attempt) => attempt.outcome !== 'ok' && attempt.outcome !== 'quota');
  if (failed.length === 0) return error;
  const what = failed.map((attempt) => `${attempt.model} ${attempt.outcome}${attempt.status === undefined ? '' : ` (${attempt.status})`}`).join(', ');
  return new QuotaExhaustedError({ message: `${error.message} Before it, this call's attempts failed upstream: ${what}.`, retryAfterMs: error.retryAfterMs, ...(error.plan === undefined ? {} : { plan: error.plan }), cause: state.lastError });
}
