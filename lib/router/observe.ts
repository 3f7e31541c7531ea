/**
 * The router's side of telemetry: the registered {@link CallObserver}s, what a call tells them when it
 * starts, and what a response says about itself. With no observer registered the router only checks
 * `active` once per call. An observer that throws never breaks routing: its error is a process warning,
 * as for event listeners.
 */
import { RouterError } from '../errors.js';
import type { AttemptObservation, CallEnd, CallObservation, CallObserver, CallStart, ResponseInfo } from '../telemetry/observer.js';
import type { AttemptRecord } from './events.js';
import { combineObservations } from '../telemetry/observer.js';
import type { Prepared } from './prepare.js';

function warn(error: unknown): void {
  process.emitWarning(`mistral-router: a telemetry observer threw: ${(error as Error)?.message ?? String(error)}`);
}

/** An observation whose every method reports its error instead of throwing it. */
function guarded(observation: CallObservation): CallObservation {
  return {
    attempt(start) {
      let attempt: AttemptObservation | undefined;
      try {
        attempt = observation.attempt(start);
      } catch (error) {
        warn(error);
        return undefined;
      }
      if (attempt === undefined) return undefined;
      const watched = attempt;
      return {
        ...(watched.run === undefined ? {} : { run: <T>(send: () => T): T => (watched as Required<AttemptObservation>).run(send) }),
        end(record) {
          try {
            watched.end(record);
          } catch (error) {
            warn(error);
          }
        },
      };
    },
    waited(wait) {
      try {
        observation.waited(wait);
      } catch (error) {
        warn(error);
      }
    },
    end(end) {
      try {
        observation.end(end);
      } catch (error) {
        warn(error);
      }
    },
  };
}

export class Observers {
  readonly #list: CallObserver[] = [];

  /** Whether any observer is registered (the only cost of telemetry when none is). */
  get active(): boolean {
    return this.#list.length > 0;
  }

  add(observer: CallObserver): () => void {
    if (observer === null || typeof observer !== 'object' || typeof observer.start !== 'function') {
      throw new TypeError('router.observe(observer): expected an object with a start(call) method');
    }
    this.#list.push(observer);
    return () => {
      const index = this.#list.indexOf(observer);
      if (index !== -1) this.#list.splice(index, 1);
    };
  }

  /** The observation of a call that starts now (undefined when nobody watches it). */
  start(prepared: Prepared, stream: boolean, startedAt: number, lease = false): CallObservation | undefined {
    const { request, plan } = prepared;
    const maxTokens = request.maxTokens;
    const call: CallStart = {
      endpoint: prepared.endpoint,
      stream,
      lease,
      requestedModel: typeof request.model === 'string' ? request.model : undefined,
      maxTokens: typeof maxTokens === 'number' ? maxTokens : undefined,
      estimatedTokens: prepared.estimated,
      need: plan.need,
      startedAt,
    };
    const observations: CallObservation[] = [];
    for (const observer of this.#list) {
      try {
        const observation = observer.start(call);
        if (observation !== undefined) observations.push(guarded(observation));
      } catch (error) {
        warn(error);
      }
    }
    if (observations.length === 0) return undefined;
    return observations.length === 1 ? observations[0] : combineObservations(observations);
  }
}

/** What an SDK response (or a stream's chunk) says about itself: id, model, finish reasons. */
export function responseInfo(response: unknown, previous?: ResponseInfo): ResponseInfo {
  const body = (response ?? {}) as { id?: unknown; model?: unknown; choices?: unknown };
  const reasons: string[] = previous === undefined ? [] : [...previous.finishReasons];
  if (Array.isArray(body.choices)) {
    for (const choice of body.choices) {
      const reason = (choice as { finishReason?: unknown } | null)?.finishReason;
      if (typeof reason === 'string') reasons.push(reason);
    }
  }
  return {
    id: typeof body.id === 'string' ? body.id : previous?.id,
    model: typeof body.model === 'string' ? body.model : previous?.model,
    finishReasons: reasons,
  };
}

/** error.type of a failed call: the RouterError's code (a closed set), else `_OTHER`. */
export function errorType(error: unknown): string {
  return RouterError.isInstance(error) ? error.code : '_OTHER';
}

/** The end of a call that failed with `error` after `attempts` (a lease refused: none). */
export function failedEnd(state: { readonly attempts: readonly AttemptRecord[]; readonly waitedMs: number }, error: unknown, durationMs: number): CallEnd {
  return { ok: false, routing: undefined, attempts: state.attempts, waitedMs: state.waitedMs, response: undefined, errorType: errorType(error), durationMs, firstChunkMs: undefined };
}
