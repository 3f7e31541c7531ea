/**
 * The router's typed events. Every payload names workspaces, never API keys. A listener that throws
 * does not break routing: its error is reported as a process warning.
 */
import type { CardIssue } from '../catalog/cards.js';
import type { Cost } from '../telemetry/cost.js';
import type { IgnoredHeader } from '../quota/header-bounds.js';
import type { ChargeRule, WindowRule } from '../quota/upstream-rule.js';
import type { FailureKind } from './policy.js';

export interface AttemptRecord {
  readonly workspace: string;
  readonly model: string;
  readonly outcome: 'ok' | FailureKind;
  readonly status: number | undefined;
  readonly durationMs: number;
}

export interface RouterEvents {
  /** A candidate was chosen and its quota reserved; the call is about to go out. */
  readonly decision: {
    readonly endpoint: string;
    readonly workspace: string;
    readonly model: string;
    readonly attempt: number;
    readonly estimatedTokens: number;
    /** The estimate's cost in USD (prompt estimate + max output at the model's prices); null when a price is unknown. */
    readonly estimatedCostUsd: number | null;
    readonly waitedMs: number;
  };
  /** An attempt failed and the router moves on to another candidate. */
  readonly fallback: { readonly from: { readonly workspace: string; readonly model: string }; readonly reason: FailureKind; readonly status: number | undefined; readonly action: string };
  /** No candidate had room, or every one is cooling down: the call waits (at most retryAfterMs before the next try). */
  readonly wait: { readonly endpoint: string; readonly retryAfterMs: number; readonly queueLength: number };
  /** A call gave up: no quota, or no model back from its cooldown, within its wait bound (retryAfterMs: when there will be). */
  readonly exhausted: { readonly endpoint: string; readonly retryAfterMs: number };
  /** The upstream reported a limit different from the configured or previously learned one. */
  readonly limitsLearned: { readonly workspace: string; readonly model: string; readonly kind: string; readonly limit: number; readonly previous: number | null };
  /**
   * The upstream's rule for a pair's tokens-per-minute window changed as learned from its headers: how it
   * charges and how its window counts (`null`: not known, or no longer confirmed; the router is conservative).
   */
  readonly ruleLearned: { readonly workspace: string; readonly model: string; readonly charge: ChargeRule | null; readonly window: WindowRule | null };
  /** A model is cooled down (capacity, 5xx, connection, timeout) until `until` (epoch ms). */
  readonly cooldown: { readonly model: string; readonly until: number; readonly reason: FailureKind };
  /** A workspace was taken out (401/403). */
  readonly workspaceDisabled: { readonly workspace: string; readonly status: number | undefined };
  /** The quota store failed while settling, releasing or observing after a call (the call's result stands). */
  readonly storeError: { readonly operation: 'settle' | 'release' | 'observe'; readonly message: string };
  /**
   * A model the router was asked for or chose is deprecated or retired on the router's day; once per model
   * and status. `replacement` is where its requests go (the first live model of its replacement chain).
   */
  readonly deprecated: { readonly model: string; readonly status: 'deprecated' | 'retired'; readonly retired: string | null; readonly replacement: string | null };
  /** Mistral answered "Invalid model" for a (workspace, model): it is passed over until `until` (epoch ms). */
  readonly modelUnavailable: { readonly workspace: string; readonly model: string; readonly until: number; readonly status: number | undefined };
  /** A refresh from GET /v1/models merged: per workspace, the models added and the cards skipped. */
  readonly catalogRefreshed: { readonly workspaces: readonly string[]; readonly added: readonly string[]; readonly issues: readonly CardIssue[] };
  /** A workspace's GET /v1/models failed: its last good list stays in use. */
  readonly catalogRefreshFailed: { readonly workspace: string; readonly message: string };
  /** A card was skipped (or one of its aliases dropped) during a refresh, naming the model and the field. */
  readonly cardSkipped: CardIssue & { readonly workspace: string };
  /**
   * A response's rate-limit headers held values the router did not take as sent: malformed (not a count),
   * a 429's block above `maxRetryAfterMs` (capped), a token limit below the floor not yet confirmed. Values
   * are cut at 100 characters; the call itself goes on.
   */
  readonly headersIgnored: { readonly workspace: string; readonly model: string; readonly status: number; readonly ignored: readonly IgnoredHeader[] };
  /**
   * A monthly budget crossed 80% of its USD this month (once per budget and month): `scope` workspace (the
   * workspace's budget, `budget` its name), router (the router's budget, `budget` its name) or caller (a
   * CallBudget given per call, e.g. a gateway key's, `budget` its name).
   */
  readonly budgetWarning: { readonly scope: 'workspace' | 'router' | 'caller'; readonly budget: string; readonly monthlyUsd: number; readonly spentUsd: number; readonly share: number };
  /** A call finished (successfully or not), with its cost (see `Decision.cost`; null when it failed or reported no usage). */
  readonly done: { readonly endpoint: string; readonly ok: boolean; readonly attempts: readonly AttemptRecord[]; readonly cost: Cost | null };
}

export type RouterEventName = keyof RouterEvents;
export type RouterListener<K extends RouterEventName> = (event: RouterEvents[K]) => void;

/** A minimal typed emitter. */
export class RouterEventEmitter {
  readonly #listeners = new Map<RouterEventName, Set<(event: never) => void>>();

  /** Listen to an event; returns a function that stops listening. */
  on<K extends RouterEventName>(name: K, listener: RouterListener<K>): () => void {
    let set = this.#listeners.get(name);
    if (set === undefined) this.#listeners.set(name, (set = new Set()));
    set.add(listener as (event: never) => void);
    return () => this.off(name, listener);
  }

  off<K extends RouterEventName>(name: K, listener: RouterListener<K>): void {
    this.#listeners.get(name)?.delete(listener as (event: never) => void);
  }

  /** @internal */
  emit<K extends RouterEventName>(name: K, event: RouterEvents[K]): void {
    const set = this.#listeners.get(name);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as RouterListener<K>)(event);
      } catch (error) {
        process.emitWarning(`mistral-router: a "${name}" listener threw: ${(error as Error).message}`);
      }
    }
  }

  /** Whether anyone listens (skip building payloads on the hot path otherwise). */
  has(name: RouterEventName): boolean {
    return (this.#listeners.get(name)?.size ?? 0) > 0;
  }
}
