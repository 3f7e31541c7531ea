/**
 * The metrics mistral-router reports, defined once for both exporters: OpenTelemetry (`instrumentRouter`,
 * names and attributes of the GenAI semantic conventions) and Prometheus (`createPrometheusMetrics`, the
 * same metrics under Prometheus names: dots become underscores, the unit a suffix, counters end in
 * `_total`). Every attribute's values are bounded: model ids of the catalogue (`other` for anything
 * else), configured workspace names, failure kinds, window kinds, error codes. Never content, never keys.
 */

/** What an instrument is: counters only grow, histograms record a distribution, gauges are read on collection. */
export type MetricKind = 'counter' | 'histogram' | 'gauge';

/** One metric of the set. */
export interface MetricDefinition {
  /** The OpenTelemetry instrument name. */
  readonly name: string;
  /** The Prometheus metric name. */
  readonly prometheusName: string;
  readonly kind: MetricKind;
  /** UCUM unit (OpenTelemetry). */
  readonly unit: string;
  readonly description: string;
  /** Attribute names (OpenTelemetry), in the order values are given; Prometheus labels are these with `_` for `.`. */
  readonly attributes: readonly string[];
  /** Histogram bucket boundaries (the conventions' advice). */
  readonly buckets?: readonly number[];
}

/** `gen_ai.client.token.usage` buckets, as the GenAI conventions advise. */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
/** `gen_ai.client.operation.duration` buckets (seconds), as the GenAI conventions advise. */
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** Decision buckets (seconds): a decision takes microseconds, a wait for quota up to the call's bound. */
const DECISION_BUCKETS = [0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];

/** Attribute names used across the set. */
export const ATTR = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  tokenType: 'gen_ai.token.type',
  errorType: 'error.type',
  workspace: 'mistral_router.workspace',
  reason: 'mistral_router.reason',
  window: 'mistral_router.window',
  budget: 'mistral_router.budget',
} as const;

/** `gen_ai.provider.name` of every call. */
export const PROVIDER = 'mistral_ai';

const CALL = [ATTR.operation, ATTR.provider, ATTR.requestModel, ATTR.responseModel, ATTR.workspace] as const;

/** The metric set. */
export const METRICS = {
  tokenUsage: {
    name: 'gen_ai.client.token.usage',
    prometheusName: 'gen_ai_client_token_usage',
    kind: 'histogram',
    unit: '{token}',
    description: 'Input and output tokens of each routed call, as the response reported them.',
    attributes: [...CALL, ATTR.tokenType],
    buckets: TOKEN_BUCKETS,
  },
  operationDuration: {
    name: 'gen_ai.client.operation.duration',
    prometheusName: 'gen_ai_client_operation_duration_seconds',
    kind: 'histogram',
    unit: 's',
    description: 'Duration of each routed call, waits and fallbacks included (a stream: until its last chunk).',
    attributes: [...CALL, ATTR.errorType],
    buckets: DURATION_BUCKETS,
  },
  timeToFirstChunk: {
    name: 'gen_ai.client.operation.time_to_first_chunk',
    prometheusName: 'gen_ai_client_operation_time_to_first_chunk_seconds',
    kind: 'histogram',
    unit: 's',
    description: 'Streams: time from the call to its first chunk, waits and fallbacks included.',
    attributes: CALL,
    buckets: DURATION_BUCKETS,
  },
  decisions: {
    name: 'mistral_router.decisions',
    prometheusName: 'mistral_router_decisions_total',
    kind: 'counter',
    unit: '{decision}',
    description: 'Candidates chosen (one per attempt), by workspace and model.',
    attributes: [ATTR.operation, ATTR.requestModel, ATTR.workspace],
  },
  fallbacks: {
    name: 'mistral_router.fallbacks',
    prometheusName: 'mistral_router_fallbacks_total',
    kind: 'counter',
    unit: '{fallback}',
    description: "Candidates given up for the next one, by reason: the failed attempt's kind (quota for an upstream 429, capacity, server-error...), passed-over (its own windows had no room) or budget.",
    attributes: [ATTR.requestModel, ATTR.workspace, ATTR.reason],
  },
  waits: {
    name: 'mistral_router.waits',
    prometheusName: 'mistral_router_waits_total',
    kind: 'counter',
    unit: '{wait}',
    description: 'Calls that waited for quota (each time they queued).',
    attributes: [ATTR.operation],
  },
  decisionDuration: {
    name: 'mistral_router.decision.duration',
    prometheusName: 'mistral_router_decision_duration_seconds',
    kind: 'histogram',
    unit: 's',
    description: "The router's own time before each attempt goes out (planning, reservation, budget holds, any wait for quota), from the call's start or the previous attempt's end, on a monotonic clock.",
    attributes: [ATTR.operation],
    buckets: DECISION_BUCKETS,
  },
  waitDuration: {
    name: 'mistral_router.wait.duration',
    prometheusName: 'mistral_router_wait_duration_seconds',
    kind: 'histogram',
    unit: 's',
    description: 'Time a call spent waiting for quota, for calls that waited.',
    attributes: [ATTR.operation],
    buckets: DURATION_BUCKETS,
  },
  rateLimited: {
    name: 'mistral_router.upstream.rate_limited',
    prometheusName: 'mistral_router_upstream_rate_limited_total',
    kind: 'counter',
    unit: '{response}',
    description: 'Upstream 429 answers, by workspace and model.',
    attributes: [ATTR.requestModel, ATTR.workspace],
  },
  cost: {
    name: 'mistral_router.cost',
    prometheusName: 'mistral_router_cost_usd_total',
    kind: 'counter',
    unit: '[USD]',
    description: 'Spend in USD of routed calls whose price is known, from the catalogue prices.',
    attributes: [ATTR.requestModel, ATTR.workspace],
  },
  unpricedCalls: {
    name: 'mistral_router.unpriced_calls',
    prometheusName: 'mistral_router_unpriced_calls_total',
    kind: 'counter',
    unit: '{call}',
    description: 'Routed calls whose cost is unknown (no catalogue price, or no usage reported): not in mistral_router.cost.',
    attributes: [ATTR.requestModel, ATTR.workspace],
  },
  quotaRemaining: {
    name: 'mistral_router.quota.remaining',
    prometheusName: 'mistral_router_quota_remaining',
    kind: 'gauge',
    unit: '1',
    description: 'What each metered window has left (requests or tokens, by its kind), 0 while an upstream 429 blocks it; windows with an unknown limit are left out.',
    attributes: [ATTR.workspace, ATTR.requestModel, ATTR.window],
  },
  budgetRemaining: {
    name: 'mistral_router.budget.remaining',
    prometheusName: 'mistral_router_budget_remaining_usd',
    kind: 'gauge',
    unit: '[USD]',
    description: 'What each monthly budget has left this month (USD, held estimates counted as spent), by budget (workspace or router budget name) and window kind.',
    attributes: [ATTR.budget, ATTR.window],
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** The Prometheus label of an attribute name. */
export function prometheusLabel(attribute: string): string {
  return attribute.replace(/\./g, '_');
}

/** The attributes (or labels) of a measurement: each name with a defined value, in the definition's order. */
export function namedValues(names: readonly string[], values: readonly (string | undefined)[]): Record<string, string> {
  const named: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) {
    const value = values[i];
    if (value !== undefined) named[names[i] as string] = value;
  }
  return named;
}

/** Where a recorder's measurements go: an OpenTelemetry meter or a Prometheus registry. */
export interface MetricSink {
  /**
   * Add to a counter or record in a histogram. `values` follow the definition's `attributes`; an
   * undefined value leaves that attribute out.
   */
  record(key: MetricKey, value: number, values: readonly (string | undefined)[]): void;
}

/** One reading of a gauge: the value and its attribute values (in the definition's order). */
export interface GaugeReading {
  readonly value: number;
  readonly values: readonly (string | undefined)[];
}
