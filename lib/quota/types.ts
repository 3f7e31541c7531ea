/**
 * The quota vocabulary shared by the window arithmetic, every store (memory, Redis) and the router.
 *
 * A window is data: what it counts (requests or tokens), over which period, for which scope, and its
 * limit. The arithmetic (see window.ts) is the same in every store:
 *
 * - A sliding window of period P is cut into N fixed sub-buckets of width b = P / N, indexed by
 *   `floor(t / b)`. At time t (bucket k) a cost c is admitted only if
 *   `sum(buckets k-N .. k) + c <= limit` (N + 1 buckets: the current one and the N before it). This is
 *   conservative: every admission at t sees everything admitted in (t - P, t], so no interval of
 *   length P ever holds more than the limit, whatever the alignment of the upstream's own windows.
 *   Memory is N + 1 numbers per window whatever the request rate.
 * - The calendar month (UTC) is a fixed window: one bucket per month, reset at 00:00 UTC on the 1st.
 *   `rolling-30d` is a sliding window of 30 days with daily buckets.
 * - `blockedUntil` (a 429 seen upstream) makes the window refuse everything until that instant.
 * - A learned limit (from upstream headers) replaces the configured one; `null` means unknown:
 *   unmetered (always admits) until a limit is learned.
 * - When no room: the earliest instant with room is the start of the first future bucket j > k such that
 *   `sum(buckets j-N .. k) + c <= limit` (old buckets fall out as time passes), or `blockedUntil`,
 *   whichever is later; `Infinity` when the cost is larger than the limit itself.
 */

import type { WindowRule } from './upstream-rule.js';

/** What a window counts. */
export type WindowUnit = 'requests' | 'tokens';

/**
 * The length of a window. `second` and `minute` slide; `month` is the calendar month UTC (fixed);
 * `rolling-30d` slides over 30 days.
 */
export type WindowPeriod = 'second' | 'minute' | 'month' | 'rolling-30d';

/** Who a window belongs to: a whole workspace (requests per second) or one model within it. */
export type WindowScope = 'workspace' | 'model';

/**
 * One metered limit. `kind` names it in decisions and events, e.g. `requests-per-second`,
 * `tokens-per-minute`, `tokens-per-month`, `requests-per-minute` (learned from headers).
 */
export interface WindowSpec {
  /** Stable name of the window kind; part of the storage key. */
  readonly kind: string;
  readonly unit: WindowUnit;
  readonly period: WindowPeriod;
  readonly scope: WindowScope;
  /** The configured limit; `null` = unknown (unmetered until learned). A learned limit takes precedence. */
  readonly limit: number | null;
}

/** The three windows every tier defines, plus the one Mistral's headers also report. */
export const WINDOW_KINDS = {
  requestsPerSecond: { kind: 'requests-per-second', unit: 'requests', period: 'second', scope: 'workspace' },
  requestsPerMinute: { kind: 'requests-per-minute', unit: 'requests', period: 'minute', scope: 'workspace' },
  tokensPerMinute: { kind: 'tokens-per-minute', unit: 'tokens', period: 'minute', scope: 'model' },
  tokensPerMonth: { kind: 'tokens-per-month', unit: 'tokens', period: 'month', scope: 'model' },
} as const satisfies Record<string, Omit<WindowSpec, 'limit'>>;

/** Sub-bucket layout per sliding period. Exposed so the Redis Lua and the memory store agree. */
export const PERIOD_LAYOUT = {
  second: { periodMs: 1_000, buckets: 20 },
  minute: { periodMs: 60_000, buckets: 60 },
  'rolling-30d': { periodMs: 30 * 86_400_000, buckets: 30 },
} as const;

/** One (workspace, model) pair that a call could go to, with the windows the call would use. */
export interface QuotaCandidate {
  /** Workspace name (never the API key). */
  readonly workspace: string;
  /** Model id (the real endpoint, not an alias). */
  readonly model: string;
  /** The windows the call uses: workspace-scoped ones apply to the workspace, model-scoped ones to (workspace, model). */
  readonly windows: readonly WindowSpec[];
}

/** A request to hold capacity: the first candidate (in order) whose every window has room wins. */
export interface ReserveRequest {
  readonly candidates: readonly QuotaCandidate[];
  /** Estimated tokens of the call (prompt estimate + max output). Integer >= 0. */
  readonly tokens: number;
  /**
   * Tokens that must fit in each token window for the call to be admitted, when fewer than `tokens`: an
   * upstream that admits while the prompt fits and charges the real usage after the fact (upstream-rule.ts
   * `usage`) is met with the prompt's estimate here while the reservation still holds `tokens`, so the calls
   * in flight count whole and the window never admits what the upstream would refuse. Integer in
   * [0, tokens]. A store may ignore it and ask `tokens` to fit (the safe side: the Redis store does).
   * @default tokens
   */
  readonly fitTokens?: number;
  /** Requests the call counts as. @default 1 */
  readonly requests?: number;
}

/** Where a reservation's charge sits, so that settle and release touch exactly the buckets reserve did. */
export interface Reservation {
  /** Unique id (per store). */
  readonly id: string;
  readonly workspace: string;
  readonly model: string;
  /** Index of the chosen candidate in the request. */
  readonly candidateIndex: number;
  /** Tokens held. */
  readonly tokens: number;
  /** Requests held. */
  readonly requests: number;
  /** Store time (ms) at which it was taken: identifies the bucket of every window. */
  readonly at: number;
  /** The windows charged (copied from the candidate). */
  readonly windows: readonly WindowSpec[];
}

/** Why one window of one candidate refused, and when it will have room. */
export interface WindowRefusal {
  readonly kind: string;
  readonly scope: WindowScope;
  /** The limit in force (learned or configured). */
  readonly limit: number;
  /** What the window holds now. */
  readonly used: number;
  /** What the request needed in this window. */
  readonly needed: number;
  /** ms from now until this window has room; Infinity when the request exceeds the limit itself. */
  readonly retryAfterMs: number;
  /** True when the refusal comes from a 429 seen upstream (the window is blocked until it resets). */
  readonly blocked: boolean;
}

/** Why one candidate could not take the request now. */
export interface CandidateRefusal {
  readonly candidateIndex: number;
  readonly workspace: string;
  readonly model: string;
  /** The earliest instant (ms from now) at which every window of this candidate has room; Infinity if never. */
  readonly retryAfterMs: number;
  readonly windows: readonly WindowRefusal[];
}

/** The answer of reserve: a value either way. Only failures (store down, bad input) throw. */
export type ReserveResult =
  | { readonly ok: true; readonly reservation: Reservation; readonly refusals: readonly CandidateRefusal[] }
  | {
      readonly ok: false;
      /** min over candidates of their retryAfterMs (Infinity when none ever will). */
      readonly retryAfterMs: number;
      readonly refusals: readonly CandidateRefusal[];
    };

/** What the upstream told us about one window (parsed from headers or a 429). */
export interface WindowObservation {
  readonly kind: string;
  readonly unit: WindowUnit;
  readonly period: WindowPeriod;
  readonly scope: WindowScope;
  /** The limit the upstream reports, when it did. */
  readonly limit?: number;
  /** What the upstream says remains, when it did. */
  readonly remaining?: number;
  /** ms until the upstream's window resets, when it said. */
  readonly resetMs?: number;
  /**
   * The upstream's own rule for this window, when the router has learned it (upstream-rule.ts): a store
   * that can count by it does so from now on (the memory store: a charge log, exact to that rule); `null`
   * goes back to the store's own conservative windows. Absent: no change. Stores may ignore it.
   */
  readonly rule?: WindowRule | null;
}

/** Everything learned from one upstream response for one (workspace, model). */
export interface UpstreamObservation {
  readonly workspace: string;
  readonly model: string;
  readonly windows: readonly WindowObservation[];
  /**
   * A 429 for the workspace's quota: the named window (or, when unknown, every window of the candidate
   * that can be full) refuses until `blockedForMs` has passed (Retry-After, or the window's reset).
   */
  readonly rateLimited?: { readonly kind?: string; readonly blockedForMs: number };
}

/** A snapshot of one window, for inspection, tests and the demo's summary. */
export interface WindowSnapshot {
  readonly workspace: string;
  /** undefined for workspace-scoped windows. */
  readonly model: string | undefined;
  readonly kind: string;
  readonly unit: WindowUnit;
  readonly period: WindowPeriod;
  /** Limit in force (learned, else configured); null = unknown. */
  readonly limit: number | null;
  /** Usage over the current window. */
  readonly used: number;
  /** Tokens/requests held by reservations not yet settled or released. */
  readonly held: number;
  /** Epoch ms until which the window refuses because of an upstream 429, if any. */
  readonly blockedUntil: number | undefined;
  /** Whether the limit came from upstream headers. */
  readonly learned: boolean;
}

/**
 * The async interface every store implements (memory, Redis). The algorithm lives once above it
 * (window.ts), the stores only keep state and make reserve atomic.
 */
export interface QuotaStore {
  /** Atomically take the first candidate whose every window has room, holding the cost there. */
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  /**
   * Replace the reservation's token estimate by the real usage (refunding or charging the difference,
   * in the buckets where it was held). The request itself stays counted. Settling twice is a no-op.
   */
  settle(reservation: Reservation, actualTokens: number): Promise<void>;
  /** Return everything the reservation held (the call never reached the model). Idempotent. */
  release(reservation: Reservation): Promise<void>;
  /** Take what the upstream reported into the windows (learned limits, lower remaining, 429 blocks). */
  observe(observation: UpstreamObservation): Promise<void>;
  /** Current state of every window the store knows (or of one workspace). */
  snapshot(workspace?: string): Promise<WindowSnapshot[]>;
  /** Reservations taken and not yet settled or released. */
  pendingReservations(): Promise<number>;
  /** Free resources (connections, timers). */
  close(): Promise<void>;
  /**
   * The synchronous fast path, optional: a store that can answer without I/O (an embedded one) may offer
   * any of these. Each does exactly what its async namesake does, answers in the same call (no promise,
   * no microtask turn) and throws where the async one would reject. The router and its wait queue call
   * one when the store has it, the async method otherwise; a store with state elsewhere (Redis) leaves
   * them out.
   */
  reserveSync?(request: ReserveRequest): ReserveResult;
  /** See {@link QuotaStore.reserveSync} and {@link QuotaStore.settle}. */
  settleSync?(reservation: Reservation, actualTokens: number): void;
  /** See {@link QuotaStore.reserveSync} and {@link QuotaStore.release}. */
  releaseSync?(reservation: Reservation): void;
  /** See {@link QuotaStore.reserveSync} and {@link QuotaStore.observe}. */
  observeSync?(observation: UpstreamObservation): void;
}
