/**
 * How telemetry watches a router: a {@link CallObserver} registered with `router.observe()` is told when
 * each routed call starts (synchronously, in the caller's async context, so a tracer can take the caller's
 * active span as the parent), each attempt, each wait for quota, and the call's end (a stream's when the
 * stream ends). The router calls nothing when no observer is registered.
 *
 * Everything passed names workspaces and models, never API keys, and never request or response content.
 */
import type { Endpoint, NormalisedNeed } from '../need.js';
import type { Decision } from '../router/decision.js';
import type { AttemptRecord } from '../router/events.js';

/** A routed call as it starts: planned, nothing reserved yet. */
export interface CallStart {
  readonly endpoint: Endpoint;
  /** True for a stream (`chat.stream`, `fim.stream`, `wire.chatStream`, `wire.fimStream`): the call ends when the stream ends. */
  readonly stream: boolean;
  /**
   * True for `router.reserve()`: the caller sends the request itself; its one attempt starts when the lease
   * is granted and ends, with the call, at `lease.settle()` (ok) or `lease.release()` (`LEASE_RELEASED`).
   */
  readonly lease: boolean;
  /** The model the request named (`model: ...`), as written; undefined when it routes by need alone. */
  readonly requestedModel: string | undefined;
  /** The request's `maxTokens`, when it set one. */
  readonly maxTokens: number | undefined;
  /** Prompt estimate + max output: what is reserved. */
  readonly estimatedTokens: number;
  readonly need: NormalisedNeed;
  /** The router's clock (epoch ms). */
  readonly startedAt: number;
}

/** One attempt as it goes out: the candidate chosen and its quota reserved. */
export interface AttemptStart {
  readonly workspace: string;
  readonly model: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The reservation's estimate priced at the model's prices; null when a price is unknown. */
  readonly estimatedCostUsd: number | null;
  readonly startedAt: number;
}

/** What the response said about itself (no content). */
export interface ResponseInfo {
  readonly id: string | undefined;
  readonly model: string | undefined;
  /** One per choice; empty for embeddings. */
  readonly finishReasons: readonly string[];
}

/** A routed call as it ends. */
export interface CallEnd {
  readonly ok: boolean;
  /** The decision (a stream's final one, with its usage and cost); undefined when no attempt succeeded. */
  readonly routing: Decision | undefined;
  readonly attempts: readonly AttemptRecord[];
  readonly waitedMs: number;
  readonly response: ResponseInfo | undefined;
  /** A bounded name of what went wrong (a RouterError code), undefined when ok. */
  readonly errorType: string | undefined;
  /** From the call's start to its end (a stream: to its last chunk), on the router's clock. */
  readonly durationMs: number;
  /** Streams: from the call's start to its first chunk. */
  readonly firstChunkMs: number | undefined;
}

/** One attempt being watched. */
export interface AttemptObservation {
  /** Runs the attempt's SDK call (e.g. inside the attempt span's context, so HTTP spans nest under it). */
  run?<T>(send: () => T): T;
  /** The attempt ended: its record (outcome `ok` or the failure's kind, status, duration). */
  end(record: AttemptRecord): void;
}

/** One routed call being watched. */
export interface CallObservation {
  attempt(start: AttemptStart): AttemptObservation | undefined;
  /** The call waits for quota: the store said `retryAfterMs`; `queueLength` calls wait, this one included. */
  waited(wait: { readonly retryAfterMs: number; readonly queueLength: number }): void;
  end(end: CallEnd): void;
}

/** Watches routed calls; `start` returns undefined to watch nothing of this call. */
export interface CallObserver {
  start(call: CallStart): CallObservation | undefined;
}

/** The observations of several observers as one. */
export function combineObservations(observations: readonly CallObservation[]): CallObservation {
  return {
    attempt(start) {
      const attempts = observations.map((o) => o.attempt(start)).filter((a): a is AttemptObservation => a !== undefined);
      if (attempts.length === 0) return undefined;
      // Each observer's run() wraps the next one's: every context applies to the SDK call.
      return {
        run: <T>(send: () => T): T => attempts.reduceRight<() => T>((inner, a) => (a.run === undefined ? inner : () => (a.run as (s: () => T) => T)(inner)), send)(),
        end: (record) => {
          for (const a of attempts) a.end(record);
        },
      };
    },
    waited(wait) {
      for (const o of observations) o.waited(wait);
    },
    end(end) {
      for (const o of observations) o.end(end);
    },
  };
}
