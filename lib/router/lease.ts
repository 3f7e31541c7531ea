/**
 * The lease of {@link Router.reserve}: quota held for a call the caller makes itself, until it is settled
 * (the call happened) or released (it never reached Mistral).
 *
 * Telemetry sees a lease as a routed call (`CallStart.lease`): it starts at `reserve()`, its one attempt
 * (the caller's request) starts when the lease is granted, and both end at `settle()` (ok, priced from the
 * usage given) or `release()` (error type `LEASE_RELEASED`: nothing reached Mistral). The response's id,
 * model and finish reasons are the caller's to know, so a lease's span has none.
 */
import { NeedError } from '../errors.js';
import type { QuotaStore, Reservation } from '../quota/types.js';
import type { CallObservation } from '../telemetry/observer.js';
import { decision, type PassedOver, type Plan } from './decision.js';
import type { AttemptRecord } from './events.js';
import type { CallState } from './failures.js';
import type { Endpoint } from '../need.js';
import type { Cost } from '../telemetry/cost.js';
import type { Accounting } from './accounting.js';
import type { BudgetHold } from './budgets.js';
import type { Learning, Usage } from './learning.js';
import type { Prepared } from './prepare.js';
import type { WaitQueue } from './wait-queue.js';
import type { Workspace } from './workspaces.js';

/** Quota held by {@link Router.reserve} for a call the caller makes itself. */
export interface Lease {
  /** The model to call (an endpoint id, not an alias). */
  readonly model: string;
  /** The workspace whose API key to use (by name). */
  readonly workspace: string;
  readonly estimatedTokens: number;
  readonly waitedMs: number;
  /** The candidates ahead of this one passed over for quota (see {@link Decision.passedOver}). */
  readonly passedOver: readonly PassedOver[];
  readonly plan: Plan;
  /**
   * The call happened: replace the estimate by its usage (without `totalTokens`, the estimate stands; its
   * `promptTokens` and `completionTokens` price it for the spend and the budgets); pass
   * its response headers to learn limits. Idempotent. A usage count that is not a whole number >= 0 is a
   * NeedError and leaves the lease open (settle again, or release).
   */
  settle(usage?: Usage, headers?: Headers): Promise<void>;
  /** The call never reached Mistral: return everything. Idempotent. */
  release(): Promise<void>;
}

/** What a lease needs of its router. */
export interface LeaseHost {
  readonly store: QuotaStore;
  readonly learning: Learning;
  readonly accounting: Accounting;
  readonly queue: WaitQueue;
  /** The cost of a usage on a model (see Decision.cost). */
  cost(endpoint: Endpoint, model: string, usage: Usage | undefined): Cost | null;
  /** Runs `work` as a call in flight: a settle or release begun before close() is waited for. */
  counted(work: () => Promise<void>): Promise<void>;
  /** The router's clock (epoch ms). */
  now(): number;
}

/** A lease being observed by telemetry: the call's observation, when it started, the attempt's estimate. */
export interface LeaseWatch {
  readonly observed: CallObservation;
  readonly startedAt: number;
  readonly estimatedCostUsd: number | null;
}

/** The error type of a lease released: the caller's call never reached Mistral. */
export const LEASE_RELEASED = 'LEASE_RELEASED';

/** A usage count a caller reports on a lease: absent, or a whole number of tokens >= 0. */
function usageCount(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new NeedError(field, `expected a whole number of tokens >= 0, received ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return value;
}

/**
 * What ends a watched lease's call: the attempt (the caller's request) from its grant, then the call,
 * `usage` when it was settled, undefined when released.
 */
function watchLease(host: LeaseHost, prepared: Prepared, reservation: Reservation, state: CallState, watch: LeaseWatch): (settled: boolean, usage: Usage | undefined) => void {
  const granted = host.now();
  const attempt = watch.observed.attempt({ workspace: reservation.workspace, model: reservation.model, attempt: 1, estimatedCostUsd: watch.estimatedCostUsd, startedAt: granted });
  const { waitedMs } = state;
  return (settled, usage) => {
    const now = host.now();
    const record: AttemptRecord = { workspace: reservation.workspace, model: reservation.model, outcome: 'ok', status: undefined, durationMs: now - granted };
    attempt?.end(record);
    const attempts = [record];
    const cost = settled ? host.cost(prepared.endpoint, reservation.model, usage) : null;
    const routing = settled ? decision({ endpoint: prepared.endpoint, chosen: reservation, attempts, refusals: state.refusals, alsoPassedOver: state.budgetPassedOver, waitedMs, estimated: prepared.estimated, used: usage?.totalTokens, plan: prepared.plan, cost }) : undefined;
    watch.observed.end({ ok: settled, routing, attempts, waitedMs, response: undefined, errorType: settled ? undefined : LEASE_RELEASED, durationMs: now - watch.startedAt, firstChunkMs: undefined });
  };
}

export function createLease(host: LeaseHost, prepared: Prepared, reservation: Reservation, workspace: Workspace, state: CallState, passedOver: readonly PassedOver[], hold: BudgetHold | undefined, watch?: LeaseWatch): Lease {
  let open = true;
  const waitedMs = state.waitedMs;
  // Unwatched (no observer registered), nothing of telemetry is allocated.
  const ended = watch === undefined ? undefined : watchLease(host, prepared, reservation, state, watch);
  const held = hold !== undefined && hold.reservations.length > 0;
  return {
    model: reservation.model,
    workspace: reservation.workspace,
    estimatedTokens: prepared.estimated,
    waitedMs,
    passedOver,
    plan: prepared.plan,
    settle: async (usage, headers) => {
      if (!open) return;
      // Refused before the lease closes: the caller can settle again with good numbers, or release.
      if (usage === null) usage = undefined;
      if (usage !== undefined && typeof usage !== 'object') throw new NeedError('usage', 'expected { promptTokens?, totalTokens? }');
      usageCount(usage?.promptTokens, 'usage.promptTokens');
      usageCount(usage?.completionTokens, 'usage.completionTokens');
      usageCount(usage?.totalTokens, 'usage.totalTokens');
      if (headers === null) headers = undefined;
      open = false;
      try {
        if (usage?.promptTokens !== undefined) host.learning.calibrate(prepared, usage.promptTokens);
        const settling = host.learning.settleAndLearn(workspace, reservation, usage?.totalTokens ?? reservation.tokens, headers, usage?.totalTokens !== undefined);
        if (settling === undefined && !held) {
          // Settled synchronously and no budget held: nothing is awaited, so close() has nothing to wait for,
          // and the spend ledger needs no Cost object.
          host.accounting.spentUnbudgeted(reservation, prepared.endpoint, usage);
          void host.queue.pump();
          return;
        }
        await host.counted(async () => {
          if (settling !== undefined) await settling;
          // A usage without its input/output split keeps the budgets at their estimate.
          const accounted = host.accounting.spent(hold, reservation, host.cost(prepared.endpoint, reservation.model, usage));
          if (accounted !== undefined) await accounted;
          void host.queue.pump();
        });
      } finally {
        ended?.(true, usage);
      }
    },
    release: async () => {
      if (!open) return;
      open = false;
      try {
        await host.counted(async () => {
        await host.learning.bookkeeping('release', () => host.store.release(reservation));
        const released = host.accounting.release(hold);
        if (released !== undefined) await released;
        void host.queue.pump();
        });
      } finally {
        ended?.(false, undefined);
      }
    },
  };
}
