/**
 * `mistral-router/telemetry`: what a routed call cost, and how to watch calls from the tools you run.
 * Prometheus (`createPrometheusMetrics`, needs prom-client) and OpenTelemetry (`instrumentRouter`, needs
 * @opentelemetry/api) are optional peers, each loaded only when its function is called.
 */
export { createPrometheusMetrics, type PrometheusMetrics, type PrometheusMetricsOptions } from './prometheus.js';
export { METRICS, ATTR, PROVIDER, prometheusLabel, type MetricDefinition, type MetricKey, type MetricKind, type MetricSink, type GaugeReading } from './metric-set.js';
export { MetricsRecorder, quotaReadings, boundedModel, OPERATION_NAME, type ObservedRouter } from './metrics-recorder.js';
export { costOf, expectedUsd, splitUsage, MICRO_USD_PER_USD, type Cost, type UsageCounts } from './cost.js';
export type { CallObserver, CallObservation, AttemptObservation, CallStart, AttemptStart, CallEnd, ResponseInfo } from './observer.js';
