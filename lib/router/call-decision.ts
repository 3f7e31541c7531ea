/**
 * What a call tells about its choice: the `decision` event before each attempt (the candidate, its
 * estimated cost) and the frozen {@link Decision} of the attempt that succeeded, priced from its usage.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { Reservation } from '../quota/types.js';
import { costOf, expectedUsd } from '../telemetry/cost.js';
import { decision, type Decision } from './decision.js';
import type { RouterEventEmitter } from './events.js';
import type { CallState } from './failures.js';
import type { Usage } from './learning.js';
import type { Prepared } from './prepare.js';

/** The decision of a call that succeeded on `chosen`; its cost from `usage` (none yet for a stream). */
export function callDecision(catalog: Catalog, prepared: Prepared, chosen: Reservation, state: CallState, usage: Usage | undefined): Decision {
  const cost = usage === undefined ? null : costOf(catalog.model(chosen.model), prepared.endpoint, usage);
  return decision({ endpoint: prepared.endpoint, chosen, attempts: state.attempts, refusals: state.refusals, alsoPassedOver: state.budgetPassedOver, waitedMs: state.waitedMs, estimated: prepared.estimated, used: usage?.totalTokens, plan: prepared.plan, cost });
}

/** The reservation's estimate (prompt + max output) priced on `model`; null when a price is unknown. */
export function estimatedUsd(catalog: Catalog, prepared: Prepared, model: string): number | null {
  const { prompt, maxOutput } = prepared.plan.tokens;
  return expectedUsd(catalog.model(model), prepared.endpoint, prompt, maxOutput);
}

/** The `decision` event of the attempt about to be sent on `chosen`. */
export function emitDecision(events: RouterEventEmitter, catalog: Catalog, prepared: Prepared, chosen: Reservation, state: CallState): void {
  const estimatedCostUsd = estimatedUsd(catalog, prepared, chosen.model);
  events.emit('decision', { endpoint: prepared.endpoint, workspace: chosen.workspace, model: chosen.model, attempt: state.attempts.length + 1, estimatedTokens: prepared.estimated, estimatedCostUsd, waitedMs: state.waitedMs });
}
