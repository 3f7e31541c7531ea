/**
 * Waiting for a candidate to come back. A model cooling down (after a 5xx, a capacity refusal, a timeout)
 * or a pair passed over after "Invalid model" is not a candidate until its time ends; when a call finds
 * no candidate (or none with room sooner), it sleeps until the first is back, within its `maxWaitMs`, and
 * then looks again (through the wait queue, in order with the calls waiting for quota). Past its bound it
 * learns when: a {@link ModelCoolingDownError}.
 */
import type { Clock } from '../clock.js';
import { AbortError, ModelCoolingDownError, RouterError, type CoolingModel, type PlanLike } from '../errors.js';

/** What {@link Candidates.comeback} reports: the first instant a pair is back, and every pair away. */
export interface Comeback {
  readonly at: number;
  readonly away: readonly CoolingModel[];
}

/**
 * The sleeps of calls waiting for a comeback: a timer on the router's clock each, ended early by the
 * call's AbortSignal (AbortError) or by the router closing (ROUTER_CLOSED), so that close() never waits
 * for a cooldown.
 */
export class Pauses {
  readonly #clock: Clock;
  readonly #sleeping = new Set<(error: Error) => void>();
  #closed = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Resolves after `ms` of the clock. */
  sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#closed) return Promise.reject(closedWhileAway());
    if (signal?.aborted) return Promise.reject(abortedWhileAway());
    return new Promise<void>((resolve, reject) => {
      const end = (error?: Error) => {
        cancelTimer();
        signal?.removeEventListener('abort', onAbort);
        this.#sleeping.delete(end);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = () => end(abortedWhileAway());
      const cancelTimer = this.#clock.setTimer(() => end(), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleeping.add(end);
    });
  }

  /** The router is closing: every sleep ends with ROUTER_CLOSED, and so does every later one. */
  close(): void {
    this.#closed = true;
    for (const end of [...this.#sleeping]) end(closedWhileAway());
  }
}

const abortedWhileAway = () => new AbortError('The request was aborted while waiting for a model to come back.');
const closedWhileAway = () => new RouterError({ code: 'ROUTER_CLOSED', message: 'The router was closed while this call waited for a model to come back.' });

/** The error of a call whose candidates are all away past its `maxWaitMs`: who, why, and when the first is back. */
export function coolingDownError(comeback: Comeback, now: number, maxWaitMs: number, endpoint: string, plan: PlanLike, cause: Error | undefined): ModelCoolingDownError {
  const retryAfterMs = Math.max(0, comeback.at - now);
  const shown = comeback.away.slice(0, 3).map((a) => `${a.model}${a.workspace === undefined ? '' : ` via ${a.workspace}`} after ${a.reason}, back in ${Math.max(0, a.until - now)} ms`);
  const more = comeback.away.length > 3 ? `; and ${comeback.away.length - 3} more` : '';
  const message = `Every candidate for this ${endpoint} request is cooling down or passed over past the ${maxWaitMs} ms this call may wait: ${shown.join('; ')}${more}.`;
  return new ModelCoolingDownError({ message, retryAfterMs, models: comeback.away, plan, cause });
}
