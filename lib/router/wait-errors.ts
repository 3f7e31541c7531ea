/** The errors a wait for quota ends with, and how a store's failure is told apart from a refusal. */
import { NoEligibleModelError, QuotaExhaustedError, RouterError, StoreError, StoreUnavailableError, redactSecrets, type PlanLike } from '../errors.js';

/** The error of every call, attempt or lease refused because the router is closed. */
export function closedError(): RouterError {
  return new RouterError('ROUTER_CLOSED', 'The router is closed: it takes no new calls or attempts.');
}

/** A StoreUnavailableError, also one from another copy of this package (where instanceof fails). */
export function isUnavailable(error: unknown): boolean {
  // By code too: a copy of the package from before the per-class markers has only RouterError's.
  return StoreUnavailableError.isInstance(error) || (RouterError.isInstance(error) && error.code === 'STORE_UNAVAILABLE');
}

/**
 * What a store's failure becomes for the caller: the store's own RouterError (a StoreUnavailableError, a
 * validation error) as is; anything else (a custom store's bug, an unexpected reply) a typed StoreError
 * with the original as `cause`.
 */
export function asStoreError(error: unknown): Error {
  if (RouterError.isInstance(error)) return error;
  const reason = redactSecrets(error instanceof Error ? error.message : String(error));
  return new StoreError(`The quota store failed to reserve: ${reason}`, 'reserve', { cause: error });
}

/**
 * The end of a wait that reached its bound: no room in time, or a store that stayed unavailable. A store
 * that says "never" (Infinity: the request is larger than a limit of every candidate) means no wait can
 * serve it: NoEligibleModelError, never a QuotaExhaustedError with an infinite wait.
 */
export function exhausted(retryAfterMs: number, maxWaitMs: number, plan: PlanLike | undefined, storeError: Error | undefined): Error {
  if (storeError !== undefined) {
    return new StoreUnavailableError(`The quota store stayed unavailable for the ${maxWaitMs} ms this call may wait: ${storeError.message}`, { cause: storeError });
  }
  if (!Number.isFinite(retryAfterMs)) {
    const message = 'The request is larger than a limit of every candidate (tokens per minute or per month, as configured or learned): no wait lets it fit.';
    return new NoEligibleModelError({ message, plan: plan ?? { candidates: [], rejected: [] } });
  }
  return new QuotaExhaustedError({ message: `No eligible model has quota for this request within the ${maxWaitMs} ms it may wait; capacity returns in ${Math.ceil(retryAfterMs)} ms.`, retryAfterMs, plan });
}
