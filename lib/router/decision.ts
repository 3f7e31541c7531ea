/**
 * What the router tells a caller about a request: the {@link Plan} (candidates in order, rejected models
 * with their reasons) and the {@link Decision} attached to every result as `routing`. Both are values: a
 * decision does not change after it is handed over.
 */
import type { Endpoint, NormalisedNeed } from '../need.js';
import type { CandidateRefusal } from '../quota/types.js';
import type { Cost } from '../telemetry/cost.js';
import type { AttemptRecord } from './events.js';
import type { LifecycleWarning, Rejection, Replacement } from './plan.js';

/** A candidate of a plan: a (workspace, model) pair, and whether it has room now (dry runs). */
export interface PlanCandidate {
  readonly model: string;
  readonly workspace: string;
  readonly contextWindow: number | null;
  /** Dry runs only: whether every window has room for the request now. */
  readonly room?: boolean;
  /** Dry runs only: why not (the first full window), when `room` is false. */
  readonly quota?: string;
}

/** The plan of one request: candidates in order and every rejected model with its reason. */
export interface Plan {
  readonly endpoint: Endpoint;
  readonly need: NormalisedNeed;
  readonly tokens: { readonly prompt: number; readonly maxOutput: number; readonly total: number };
  readonly candidates: readonly PlanCandidate[];
  readonly rejected: readonly Rejection[];
  /** Set when the request named a retired model (by its id or an alias that pointed at it). */
  readonly replaced?: Replacement;
  /** The deprecated models among the candidates (they rank after current ones unless named). */
  readonly warnings?: readonly LifecycleWarning[];
}

/** How the decision reports a request for a retired model: where it went instead. */
export interface Replaced {
  /** The name the request gave. */
  readonly requested: string;
  /** The model that answered instead. */
  readonly by: string;
  readonly reason: 'retired';
}

/** A candidate passed over for quota (see {@link Decision.passedOver}). */
export interface PassedOver {
  readonly workspace: string;
  readonly model: string;
  /** The window kinds that had no room (e.g. `tokens-per-minute`, `requests-per-second`). */
  readonly windows: readonly string[];
  /** ms until it has room again, as the store saw it; Infinity when the request never fits it. */
  readonly retryAfterMs: number;
}

/**
 * The explanation attached to every result as `routing`. Frozen: it says what happened up to the moment
 * it was handed over (a stream's usage comes later, in `stream.settled`).
 */
export interface Decision {
  readonly endpoint: Endpoint;
  readonly model: string;
  readonly workspace: string;
  readonly attempts: readonly AttemptRecord[];
  /**
   * The candidates ahead of the chosen one that were passed over for quota when the call went out (the
   * quota fallback: e.g. mistral-small-2506 out of tokens per minute -> open-mistral-nemo): which windows
   * had no room, and when the first of them has room again. Empty when the first candidate took it.
   */
  readonly passedOver: readonly PassedOver[];
  readonly waitedMs: number;
  /** `used`: the usage the response reported; undefined without one (and in a stream's `routing`). */
  readonly tokens: { readonly estimated: number; readonly used: number | undefined };
  readonly plan: Plan;
  /** The request named a retired model: it was routed to `by` instead. Absent otherwise. */
  readonly replaced?: Replaced;
  /** The answering model is deprecated: when it retires and what replaces it. Empty otherwise. */
  readonly warnings: readonly LifecycleWarning[];
  /**
   * What the call cost, from the usage the response reported and the catalogue's prices (`usd` null when
   * a price is unknown, never 0). null without a usage (and in a stream's `routing`: see `settled`).
   */
  readonly cost: Cost | null;
}

/** A routed result: the SDK's response with its decision. */
export type Routed<T> = T & { routing: Decision };

const NONE_PASSED_OVER: readonly PassedOver[] = Object.freeze([]);
const NO_WARNINGS: readonly LifecycleWarning[] = Object.freeze([]);

/** The refusals of a reservation as the decision reports them. */
export function passedOver(refusals: readonly CandidateRefusal[]): readonly PassedOver[] {
  if (refusals.length === 0) return NONE_PASSED_OVER;
  return refusals.map((r) => ({ workspace: r.workspace, model: r.model, windows: r.windows.map((w) => w.kind), retryAfterMs: r.retryAfterMs }));
}

/** What a decision is made of (see {@link decision}). */
export interface DecisionParts {
  readonly endpoint: Endpoint;
  readonly chosen: { readonly workspace: string; readonly model: string };
  readonly attempts: readonly AttemptRecord[];
  /** The quota refusals that came with the reservation. */
  readonly refusals: readonly CandidateRefusal[];
  /** Candidates passed over for another reason than their quota windows (a monthly budget). */
  readonly alsoPassedOver?: readonly PassedOver[];
  readonly waitedMs: number;
  readonly estimated: number;
  readonly used: number | undefined;
  readonly plan: Plan;
  readonly cost: Cost | null;
}

/** A decision, frozen with its attempts and token counts (the plan is shared with the plan cache's). */
export function decision(parts: DecisionParts): Decision {
  const { chosen, plan, alsoPassedOver } = parts;
  const warning = plan.warnings === undefined ? undefined : plan.warnings.find((w) => w.model === chosen.model);
  const quota = passedOver(parts.refusals);
  const routing: Decision = {
    endpoint: parts.endpoint,
    model: chosen.model,
    workspace: chosen.workspace,
    attempts: Object.freeze(parts.attempts),
    passedOver: alsoPassedOver === undefined || alsoPassedOver.length === 0 ? quota : Object.freeze([...alsoPassedOver, ...quota]),
    waitedMs: parts.waitedMs,
    tokens: Object.freeze({ estimated: parts.estimated, used: parts.used }),
    plan,
    warnings: warning === undefined ? NO_WARNINGS : Object.freeze([warning]),
    cost: parts.cost,
  };
  if (plan.replaced !== undefined) {
    Object.assign(routing, { replaced: Object.freeze({ requested: plan.replaced.requested, by: chosen.model, reason: 'retired' as const }) });
  }
  return Object.freeze(routing);
}
