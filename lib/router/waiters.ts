/**
 * The wait queue's bookkeeping of who waits for what: a {@link Waiter} per waiting call, and the
 * {@link Claims} that count, per (workspace, model) pair and per workspace, how many queued waiters hold
 * it, so that a new call finds in O(candidates) whether it must queue behind someone (FIFO per pair).
 */
import type { PlanLike } from '../errors.js';
import type { ReserveRequest, ReserveResult } from '../quota/types.js';
import type { Acquired } from './wait-queue.js';

export interface Waiter {
  readonly request: ReserveRequest;
  /** The pair keys of `request`'s candidates, in order. */
  readonly keys: readonly string[];
  readonly deadline: number;
  readonly since: number;
  readonly plan: PlanLike | undefined;
  readonly resolve: (acquired: Acquired) => void;
  readonly reject: (error: Error) => void;
  readonly cleanup: () => void;
  lastRetryAfterMs: number;
  /** When the store said `lastRetryAfterMs` (the clock's ms). */
  lastAskedAt: number;
  lastStoreError: Error | undefined;
  /**
   * Workspaces whose workspace-wide window (requests per second) refused this waiter last time: a new
   * call on such a workspace queues behind it, whatever model it wants.
   */
  workspaces: readonly string[];
  /** False once resolved, rejected, aborted or timed out; the queue's array drops it at the next compaction. */
  queued: boolean;
}

export const NO_WORKSPACES: readonly string[] = [];

/** The pair keys of a request's candidates. */
export const keysOf = (request: ReserveRequest): string[] => request.candidates.map((c) => `${c.workspace}\u0000${c.model}`);

/** The waiter's request without the candidates whose pair is in `blocked` (undefined when none is left). */
export function openPart(waiter: Waiter, blocked: ReadonlySet<string>): ReserveRequest | undefined {
  if (!waiter.keys.some((k) => blocked.has(k))) return waiter.request;
  const candidates = waiter.request.candidates.filter((_, i) => !blocked.has(waiter.keys[i] as string));
  return candidates.length === 0 ? undefined : { ...waiter.request, candidates };
}

/** The workspaces whose workspace-wide window took part in a refusal. */
export function refusedWorkspaces(result: ReserveResult): readonly string[] {
  let workspaces: string[] | undefined;
  for (const refusal of result.refusals) {
    if (!refusal.windows.some((w) => w.scope === 'workspace')) continue;
    if (workspaces?.includes(refusal.workspace)) continue;
    (workspaces ??= []).push(refusal.workspace);
  }
  return workspaces ?? NO_WORKSPACES;
}

function decrement(counts: Map<string, number>, key: string): void {
  const count = (counts.get(key) ?? 1) - 1;
  if (count === 0) counts.delete(key);
  else counts.set(key, count);
}

/** What the queued waiters hold: the pairs they want, and the workspaces whose workspace-wide window refused them. */
export class Claims {
  /** How many queued waiters want each (workspace, model) pair. */
  readonly #pairs = new Map<string, number>();
  /** How many queued waiters a workspace-wide window refused, per workspace (see Waiter.workspaces). */
  readonly #workspaces = new Map<string, number>();

  /** A waiter joined the queue. */
  add(waiter: Waiter): void {
    for (const key of waiter.keys) this.#pairs.set(key, (this.#pairs.get(key) ?? 0) + 1);
  }

  /** A waiter left the queue. */
  remove(waiter: Waiter): void {
    for (const key of waiter.keys) decrement(this.#pairs, key);
    this.setWorkspaces(waiter, NO_WORKSPACES);
  }

  /** The workspaces whose workspace-wide window refused `waiter` now. */
  setWorkspaces(waiter: Waiter, workspaces: readonly string[]): void {
    if (waiter.workspaces === workspaces) return;
    for (const workspace of waiter.workspaces) decrement(this.#workspaces, workspace);
    for (const workspace of workspaces) this.#workspaces.set(workspace, (this.#workspaces.get(workspace) ?? 0) + 1);
    waiter.workspaces = workspaces;
  }

  /**
   * Whether a new call must queue behind a waiter: one wants the same (workspace, model) pair, or was
   * refused by a workspace-wide window of a workspace this call could use. Without the second, a call
   * for another model took the workspace's next request slot whenever it arrived between the slot's
   * return and the queue's timer, ahead of a call that had waited for that slot.
   */
  conflict(keys: readonly string[], request: ReserveRequest): boolean {
    if (keys.some((k) => this.#pairs.has(k))) return true;
    return this.#workspaces.size > 0 && request.candidates.some((c) => this.#workspaces.has(c.workspace));
  }
}
