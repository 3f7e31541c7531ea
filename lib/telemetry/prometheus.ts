/**
 * Prometheus metrics for users without OpenTelemetry: the metric set of metric-set.ts registered on a
 * prom-client registry, fed by the routers it observes. prom-client is an optional peer dependency,
 * loaded when `createPrometheusMetrics` is first called (never when this module is imported).
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { createPrometheusMetrics } from 'mistral-router/telemetry';
 * const registry = new Registry();
 * const metrics = createPrometheusMetrics({ registry });
 * metrics.observe(router);
 * // GET /metrics: res.end(await registry.metrics())
 * ```
 */
import type * as PromClient from 'prom-client';
import { ConfigError } from '../errors.js';
import { METRICS, namedValues, prometheusLabel, type MetricKey, type MetricSink } from './metric-set.js';
import { PromCells } from './prom-cells.js';
import { GaugeReader, MetricsRecorder, type ObservedRouter } from './metrics-recorder.js';
import { loadPeer } from './peer.js';

/** Options of {@link createPrometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /** The registry to register the metrics on (e.g. `new Registry()`, or prom-client's global `register`). */
  readonly registry: PromClient.Registry;
  /**
   * The prom-client module, for setups where this package cannot `require('prom-client')` itself (a
   * bundle). @default require('prom-client')
   */
  readonly promClient?: typeof PromClient;
}

/** The router metrics on a Prometheus registry. */
export interface PrometheusMetrics {
  readonly registry: PromClient.Registry;
  /** Measure every routed call of `router` from now on (and read its store's windows on each scrape). Returns a function that stops. */
  observe(router: ObservedRouter): () => void;
}

type Instrument = PromClient.Counter<string> | PromClient.Histogram<string>;

/**
 * Register the metric set on `registry` (once per registry: a second call with the same one is a
 * ConfigError naming the metric already there) and return what feeds it.
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions): PrometheusMetrics {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', 'expected { registry }');
  const { registry } = options;
  if (registry === null || typeof registry !== 'object' || typeof registry.registerMetric !== 'function' || typeof registry.metrics !== 'function') {
    throw new ConfigError('registry', 'expected a prom-client Registry (new Registry(), or prom-client\'s register)');
  }
  const prom = loadPeer(options.promClient, 'prom-client', 'promClient', 'createPrometheusMetrics');
  const routers = new Set<ObservedRouter>();
  const gauges = new GaugeReader(routers);
  const instruments = new Map<MetricKey, { instrument: Instrument; counts: boolean; labels: readonly string[] }>();
  const cells = new PromCells();
  // Whatever reads a counter or a histogram first gets every measurement still held (prom-cells.ts).
  const collect = () => cells.flush();
  for (const [key, definition] of Object.entries(METRICS) as [MetricKey, (typeof METRICS)[MetricKey]][]) {
    if (registry.getSingleMetric(definition.prometheusName) !== undefined) {
      throw new ConfigError('registry', `already holds ${definition.prometheusName}: create the router metrics once per registry and observe every router with them`);
    }
    const labelNames = definition.attributes.map(prometheusLabel);
    const common = { name: definition.prometheusName, help: definition.description, labelNames, registers: [registry] };
    if (definition.kind === 'gauge') {
      new prom.Gauge({
        ...common,
        // Read on each scrape: what the observed routers' stores hold now (one snapshot for both gauges).
        async collect() {
          const readings = (await gauges.read())[key as 'quotaRemaining' | 'budgetRemaining'];
          this.reset();
          for (const reading of readings) this.set(namedValues(labelNames, reading.values), reading.value);
        },
      });
    } else if (definition.kind === 'histogram') {
      const histogram = new prom.Histogram({ ...common, collect, buckets: [...(definition as { buckets: readonly number[] }).buckets] });
      cells.watchReset(histogram);
      instruments.set(key, { instrument: histogram, counts: false, labels: labelNames });
    } else {
      const counter = new prom.Counter({ ...common, collect });
      cells.watchReset(counter);
      instruments.set(key, { instrument: counter, counts: true, labels: labelNames });
    }
  }
  const sink: MetricSink = {
    record(key, value, values) {
      const found = instruments.get(key);
      if (found !== undefined) cells.record(key, found.instrument, found.counts, found.labels, values, value);
    },
  };
  return {
    registry,
    observe(router) {
      const recorder = new MetricsRecorder(sink, () => router.catalog);
      const stop = router.observe(recorder);
      routers.add(router);
      return () => {
        stop();
        routers.delete(router);
      };
    },
  };
}
