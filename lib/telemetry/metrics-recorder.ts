/**
 * From routed calls to measurements of the metric set (metric-set.ts), written once for both exporters:
 * a {@link MetricsRecorder} is the call observer, a {@link MetricSink} (an OpenTelemetry meter or a
 * Prometheus registry) receives what it measures; {@link quotaReadings} is what the quota gauge reads.
 * Durations are on the router's clock, but the decision's (a monotonic clock: it takes microseconds).
 */
import type { Catalog } from '../catalog/catalog.js';
import { monotonicClock } from '../clock.js';
import type { Endpoint } from '../need.js';
import type { QuotaStore } from '../quota/types.js';
import type { AttemptRecord } from '../router/events.js';
import { MICRO_USD_PER_USD } from './cost.js';
import type { CallObservation, CallObserver, CallStart } from './observer.js';
import { PROVIDER, type GaugeReading, type MetricSink } from './metric-set.js';

/** What telemetry needs of a router (the Router class has it). */
export interface ObservedRouter {
  observe(observer: CallObserver): () => void;
  /** The catalogue the router plans with: label values are bounded by its model ids. */
  readonly catalog: Catalog;
  readonly store: QuotaStore;
}

/** `gen_ai.operation.name` of each endpoint (FIM is a text completion). */
export const OPERATION_NAME: Readonly<Record<Endpoint, string>> = { chat: 'chat', embeddings: 'embeddings', fim: 'text_completion' };

/** The label value of a model id: its catalogue id (aliases resolved), `other` for a name the catalogue does not know. */
export function boundedModel(catalog: Catalog, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  return catalog.resolve(name) ?? 'other';
}

/** Window kinds that count money (monthly budgets, in micro-dollars), not requests or tokens. */
const isMoneyWindow = (kind: string): boolean => kind.includes('usd');

/** The gauges' readings: what every window of the observed routers' stores has left, budgets apart. */
export async function gaugeReadings(routers: Iterable<ObservedRouter>): Promise<{ quotaRemaining: GaugeReading[]; budgetRemaining: GaugeReading[] }> {
  const quotaRemaining: GaugeReading[] = [];
  const budgetRemaining: GaugeReading[] = [];
  const seen = new Set<QuotaStore>();
  for (const router of routers) {
    // Routers sharing a store report its windows once.
    if (seen.has(router.store)) continue;
    seen.add(router.store);
    const catalog = router.catalog;
    for (const window of await router.store.snapshot()) {
      if (window.limit === null) continue;
      const left = window.blockedUntil !== undefined ? 0 : Math.max(0, window.limit - window.used);
      if (isMoneyWindow(window.kind)) {
        // A router budget lives under the pseudo-workspace `$router:<name>` (see router/budgets.ts).
        budgetRemaining.push({ value: left / MICRO_USD_PER_USD, values: [window.workspace.replace(/^\$router:/, ''), window.kind] });
      } else {
        quotaRemaining.push({ value: left, values: [window.workspace, boundedModel(catalog, window.model), window.kind] });
      }
    }
  }
  return { quotaRemaining, budgetRemaining };
}

/** What one collection of the gauges reads. */
export type GaugeSet = Awaited<ReturnType<typeof gaugeReadings>>;

/**
 * The gauges' readings, one store snapshot per collection: every gauge of one collection (a Prometheus
 * scrape starts all its collectors at once; an OpenTelemetry batch callback observes both gauges) shares
 * the read in flight, and the next collection reads again. A snapshot is a round trip on Redis, and on
 * that store it also ends this process's grants: one per scrape, not one per gauge.
 */
export class GaugeReader {
  readonly #routers: Iterable<ObservedRouter>;
  #reading: Promise<GaugeSet> | undefined;

  constructor(routers: Iterable<ObservedRouter>) {
    this.#routers = routers;
  }

  read(): Promise<GaugeSet> {
    if (this.#reading === undefined) {
      const reading = gaugeReadings(this.#routers);
      this.#reading = reading;
      const done = () => {
        if (this.#reading === reading) this.#reading = undefined;
      };
      reading.then(done, done);
    }
    return this.#reading;
  }
}

/** Measures every routed call of the routers it observes into `sink`. */
export class MetricsRecorder implements CallObserver {
  readonly #sink: MetricSink;
  readonly #catalog: () => Catalog;

  constructor(sink: MetricSink, catalog: () => Catalog) {
    this.#sink = sink;
    this.#catalog = catalog;
  }

  start(call: CallStart): CallObservation {
    const sink = this.#sink;
    const catalog = this.#catalog();
    const operation = OPERATION_NAME[call.endpoint];
    let failed: AttemptRecord | undefined;
    // The decision takes microseconds: measured on a monotonic clock, not the router's (epoch ms).
    let decidingSince = monotonicClock.now();
    return {
      attempt(start) {
        sink.record('decisionDuration', (monotonicClock.now() - decidingSince) / 1000, [operation]);
        const model = boundedModel(catalog, start.model);
        // The attempt before this one failed and the call moved on: a fallback, by the failure's kind.
        if (failed !== undefined) sink.record('fallbacks', 1, [boundedModel(catalog, failed.model), failed.workspace, failed.outcome]);
        failed = undefined;
        sink.record('decisions', 1, [operation, model, start.workspace]);
        return {
          end(record) {
            decidingSince = monotonicClock.now();
            if (record.status === 429) sink.record('rateLimited', 1, [model, record.workspace]);
            if (record.outcome !== 'ok') failed = record;
          },
        };
      },
      waited() {
        sink.record('waits', 1, [operation]);
      },
      end(end) {
        const last = end.attempts[end.attempts.length - 1];
        const chosen = end.routing?.model ?? last?.model;
        const workspace = end.routing?.workspace ?? last?.workspace;
        const requestModel = boundedModel(catalog, call.requestedModel ?? chosen);
        const responseModel = boundedModel(catalog, end.response?.model);
        const labels = [operation, PROVIDER, requestModel, responseModel, workspace];
        sink.record('operationDuration', end.durationMs / 1000, [...labels, end.errorType]);
        if (end.firstChunkMs !== undefined) sink.record('timeToFirstChunk', end.firstChunkMs / 1000, labels);
        if (end.waitedMs > 0) sink.record('waitDuration', end.waitedMs / 1000, [operation]);
        for (const passed of end.routing?.passedOver ?? []) {
          sink.record('fallbacks', 1, [boundedModel(catalog, passed.model), passed.workspace, passed.windows.some(isMoneyWindow) ? 'budget' : 'passed-over']);
        }
        const cost = end.routing?.cost;
        if (cost !== undefined && cost !== null) {
          sink.record('tokenUsage', cost.inputTokens, [...labels, 'input']);
          if (call.endpoint !== 'embeddings') sink.record('tokenUsage', cost.outputTokens, [...labels, 'output']);
        }
        if (end.ok && chosen !== undefined) {
          const model = boundedModel(catalog, chosen);
          if (cost?.usd !== undefined && cost.usd !== null) sink.record('cost', cost.usd, [model, workspace]);
          else sink.record('unpricedCalls', 1, [model, workspace]);
        }
      },
    };
  }
}
