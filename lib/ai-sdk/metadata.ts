/**
 * `providerMetadata.mistralRouter`: the router's decision as JSON (the AI SDK requires JSON values there,
 * so an unknown count is `null` and an infinite wait `null`), with the cost of the call when the
 * catalogue has the model's prices. The plan is left out (it lists every model of the catalogue); ask
 * `provider.router.plan(...)` for it. Workspace names only, never keys (the decision has none).
 */
import type { JSONObject } from '@ai-sdk/provider';
import type { Catalog } from '../catalog/catalog.js';
import type { Decision } from '../router/decision.js';
import { expectedUsd } from '../telemetry/cost.js';

/** One attempt of the call. */
export type AttemptMetadata = {
  readonly workspace: string;
  readonly model: string;
  /** `ok`, or why it failed (`rate-limited`, `server-error`, `capacity`...). */
  readonly outcome: string;
  readonly status: number | null;
  readonly durationMs: number;
};

/** What `providerMetadata.mistralRouter` holds. */
export type MistralRouterMetadata = {
  readonly endpoint: string;
  /** The model that answered (a catalogue id). */
  readonly model: string;
  /** The workspace (API key's name) that answered. */
  readonly workspace: string;
  /** Every attempt in order, the failed ones the router fell back from included. */
  readonly attempts: readonly AttemptMetadata[];
  /** Candidates passed over for quota before the call went out, with their full windows. */
  readonly passedOver: readonly { readonly workspace: string; readonly model: string; readonly windows: readonly string[]; readonly retryAfterMs: number | null }[];
  /** How long the call waited for quota (router clock). */
  readonly waitedMs: number;
  /** Tokens reserved (estimate) and used (the response's total; null when it reported none). */
  readonly tokens: { readonly estimated: number; readonly used: number | null };
  /** USD at the catalogue's prices for the usage reported; null when a price or a count is unknown. */
  readonly costUsd: number | null;
};

/** Token counts of the call as the AI SDK reports them. */
export interface CallUsage {
  readonly inputTokens: number | undefined;
  readonly outputTokens: number | undefined;
}

/** The decision's cost, else (a stream's decision, settled later) the usage the AI SDK reports, at the catalogue's prices. */
function cost(catalog: Catalog, decision: Decision, usage: CallUsage): number | null {
  if (decision.cost !== null && decision.cost !== undefined) return decision.cost.usd;
  if (usage.inputTokens === undefined) return null;
  return expectedUsd(catalog.model(decision.model), decision.endpoint, usage.inputTokens, usage.outputTokens ?? 0);
}

/** The decision as `providerMetadata.mistralRouter`. */
export function routingMetadata(decision: Decision, catalog: Catalog, usage: CallUsage): MistralRouterMetadata {
  return {
    endpoint: decision.endpoint,
    model: decision.model,
    workspace: decision.workspace,
    attempts: decision.attempts.map((a) => ({ workspace: a.workspace, model: a.model, outcome: a.outcome, status: a.status ?? null, durationMs: a.durationMs })),
    passedOver: decision.passedOver.map((p) => ({ workspace: p.workspace, model: p.model, windows: [...p.windows], retryAfterMs: Number.isFinite(p.retryAfterMs) ? p.retryAfterMs : null })),
    waitedMs: decision.waitedMs,
    tokens: { estimated: decision.tokens.estimated, used: decision.tokens.used ?? null },
    costUsd: cost(catalog, decision, usage),
  };
}

/** Provider metadata with `mistralRouter` added. */
export function withRouting(metadata: Record<string, JSONObject> | undefined, routing: MistralRouterMetadata): Record<string, JSONObject> {
  return { ...metadata, mistralRouter: routing as unknown as JSONObject };
}
