/**
 * OpenTelemetry for routed calls, after the GenAI semantic conventions, through `@opentelemetry/api` only
 * (an optional peer dependency, loaded when `instrumentRouter` is first called; no SDK is bundled):
 *
 * - a CLIENT span per routed call, `{gen_ai.operation.name} {gen_ai.request.model}`, child of the caller's
 *   active context, with the conventions' request/response/usage attributes and the router's own under
 *   `mistral_router.` (workspace, need, attempts, fallbacks and why, passed over, wait, cost); a stream's
 *   span ends when the stream ends, with the last chunk's usage and its time to first chunk;
 * - an INTERNAL child span per attempt (`mistral_router.attempt {model}`), the SDK's HTTP call running in
 *   its context; not a second GenAI operation, so GenAI backends count the call once;
 * - a wait for quota is an event (`mistral_router.wait`) on the call's span;
 * - the metric set of metric-set.ts on the meter.
 *
 * With the API's no-op tracer and meter (no provider registered) a call costs one non-recording span.
 */
import type * as Api from '@opentelemetry/api';
import { ConfigError } from '../errors.js';
import { METRICS, PROVIDER, namedValues, type MetricKey, type MetricSink } from './metric-set.js';
import { GaugeReader, MetricsRecorder, OPERATION_NAME, type GaugeSet, type ObservedRouter } from './metrics-recorder.js';
import { loadPeer } from './peer.js';
import { combineObservations, type CallEnd, type CallObservation, type CallObserver, type CallStart } from './observer.js';

/** Options of {@link instrumentRouter}. */
export interface InstrumentRouterOptions {
  /** @default trace.getTracer('mistral-router') of the global API */
  readonly tracer?: Api.Tracer;
  /** @default metrics.getMeter('mistral-router') of the global API (metrics are skipped when it is the no-op meter) */
  readonly meter?: Api.Meter;
  /** The `@opentelemetry/api` module, for setups where this package cannot require it (a bundle). @default require('@opentelemetry/api') */
  readonly api?: typeof Api;
}

const SCOPE = 'mistral-router';

/**
 * The metric set on `meter`; the gauges read the routers in `routers` on each collection, in one batch
 * callback (one store snapshot for both). `stop` removes that callback.
 */
function meterSink(meter: Api.Meter, routers: ReadonlySet<ObservedRouter>): { sink: MetricSink; stop: () => void } {
  const instruments = new Map<MetricKey, { record: (value: number, attributes: Api.Attributes) => void; names: readonly string[] }>();
  const gauges: { key: keyof GaugeSet; gauge: Api.ObservableGauge; names: readonly string[] }[] = [];
  for (const [key, definition] of Object.entries(METRICS) as [MetricKey, (typeof METRICS)[MetricKey]][]) {
    const options = { unit: definition.unit, description: definition.description };
    const names = definition.attributes;
    if (definition.kind === 'gauge') {
      gauges.push({ key: key as keyof GaugeSet, gauge: meter.createObservableGauge(definition.name, options), names });
    } else if (definition.kind === 'histogram') {
      const buckets = (definition as { buckets: readonly number[] }).buckets;
      const histogram = meter.createHistogram(definition.name, { ...options, advice: { explicitBucketBoundaries: [...buckets] } });
      instruments.set(key, { record: (value, attributes) => histogram.record(value, attributes), names });
    } else {
      const counter = meter.createCounter(definition.name, options);
      instruments.set(key, { record: (value, attributes) => counter.add(value, attributes), names });
    }
  }
  const reader = new GaugeReader(routers);
  const observeGauges: Api.BatchObservableCallback = async (result) => {
    const readings = await reader.read();
    for (const { key, gauge, names } of gauges) for (const reading of readings[key]) result.observe(gauge, reading.value, namedValues(names, reading.values));
  };
  meter.addBatchObservableCallback(observeGauges, gauges.map((g) => g.gauge));
  return {
    sink: {
      record(key, value, values) {
        const found = instruments.get(key);
        if (found !== undefined) found.record(value, namedValues(found.names, values));
      },
    },
    stop: () => meter.removeBatchObservableCallback(observeGauges, gauges.map((g) => g.gauge)),
  };
}

/** The call's span attributes known at its end. */
function endAttributes(call: CallStart, end: CallEnd): Api.Attributes {
  const attributes: Api.Attributes = {};
  const set = (name: string, value: Api.AttributeValue | undefined) => {
    if (value !== undefined) attributes[name] = value;
  };
  const routing = end.routing;
  const last = end.attempts[end.attempts.length - 1];
  set('gen_ai.request.model', call.requestedModel ?? routing?.model ?? last?.model);
  set('gen_ai.response.model', end.response?.model);
  set('gen_ai.response.id', end.response?.id);
  if (end.response !== undefined && end.response.finishReasons.length > 0) set('gen_ai.response.finish_reasons', [...end.response.finishReasons]);
  const cost = routing?.cost;
  if (cost !== undefined && cost !== null) {
    set('gen_ai.usage.input_tokens', cost.inputTokens);
    if (call.endpoint !== 'embeddings') set('gen_ai.usage.output_tokens', cost.outputTokens);
    if (cost.usd !== null) set('mistral_router.cost.usd', cost.usd);
  }
  set('error.type', end.errorType);
  set('mistral_router.workspace', routing?.workspace ?? last?.workspace);
  set('mistral_router.attempts', end.attempts.length);
  const failed = end.attempts.filter((a) => a.outcome !== 'ok');
  set('mistral_router.fallbacks', failed.length);
  if (failed.length > 0) set('mistral_router.fallback.reasons', failed.map((a) => a.outcome));
  if (routing !== undefined && routing.passedOver.length > 0) {
    set('mistral_router.passed_over', routing.passedOver.map((p) => `${p.workspace}/${p.model}: ${p.windows.join(',')}`));
  }
  set('mistral_router.wait_ms', end.waitedMs);
  if (end.firstChunkMs !== undefined) set('gen_ai.response.time_to_first_chunk', end.firstChunkMs / 1000);
  return attributes;
}

/** The spans of routed calls on `tracer`. */
function spanObserver(api: typeof Api, tracer: Api.Tracer): CallObserver {
  const { context, trace, SpanKind, SpanStatusCode } = api;
  return {
    start(call) {
      const parent = context.active();
      const operation = OPERATION_NAME[call.endpoint];
      const attributes: Api.Attributes = {
        'gen_ai.operation.name': operation,
        'gen_ai.provider.name': PROVIDER,
        'mistral_router.need.capabilities': [...call.need.capabilities],
        'mistral_router.need.strategy': call.need.strategy,
        'mistral_router.estimated_tokens': call.estimatedTokens,
        'mistral_router.stream': call.stream,
      };
      // router.reserve(): the caller sends the request itself (no HTTP span of the router's nests here).
      if (call.lease) attributes['mistral_router.lease'] = true;
      if (call.requestedModel !== undefined) attributes['gen_ai.request.model'] = call.requestedModel;
      if (call.maxTokens !== undefined) attributes['gen_ai.request.max_tokens'] = call.maxTokens;
      const span = tracer.startSpan(call.requestedModel === undefined ? operation : `${operation} ${call.requestedModel}`, { kind: SpanKind.CLIENT, attributes }, parent);
      if (!span.isRecording()) return undefined;
      const within = trace.setSpan(parent, span);
      return {
        attempt(start) {
          const attemptAttributes: Api.Attributes = { 'gen_ai.request.model': start.model, 'mistral_router.workspace': start.workspace, 'mistral_router.attempt': start.attempt };
          if (start.estimatedCostUsd !== null) attemptAttributes['mistral_router.estimated_cost.usd'] = start.estimatedCostUsd;
          const attemptSpan = tracer.startSpan(`mistral_router.attempt ${start.model}`, { kind: SpanKind.INTERNAL, attributes: attemptAttributes }, within);
          const active = trace.setSpan(within, attemptSpan);
          return {
            run: (send) => context.with(active, send),
            end(record) {
              attemptSpan.setAttribute('mistral_router.outcome', record.outcome);
              if (record.status !== undefined) attemptSpan.setAttribute('http.response.status_code', record.status);
              if (record.outcome !== 'ok') {
                attemptSpan.setAttribute('error.type', record.outcome);
                attemptSpan.setStatus({ code: SpanStatusCode.ERROR, message: record.outcome });
              }
              attemptSpan.end();
            },
          };
        },
        waited(wait) {
          span.addEvent('mistral_router.wait', { 'mistral_router.wait.retry_after_ms': wait.retryAfterMs, 'mistral_router.wait.queue_length': wait.queueLength });
        },
        end(end) {
          const attributes = endAttributes(call, end);
          span.setAttributes(attributes);
          const model = attributes['gen_ai.request.model'];
          if (call.requestedModel === undefined && typeof model === 'string') span.updateName(`${operation} ${model}`);
          if (!end.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: end.errorType ?? '_OTHER' });
          span.end();
        },
      };
    },
  };
}

/**
 * Trace and measure every routed call of `router` (see the module comment). Returns a function that
 * stops. Throws a ConfigError (`api`) when @opentelemetry/api is not installed.
 *
 * @example
 * ```ts
 * import { instrumentRouter } from 'mistral-router/telemetry';
 * instrumentRouter(router); // the global tracer and meter providers your OpenTelemetry SDK registered
 * ```
 */
export function instrumentRouter(router: ObservedRouter, options: InstrumentRouterOptions = {}): () => void {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', 'expected { tracer?, meter?, api? }');
  const api = loadPeer(options.api, '@opentelemetry/api', 'api', 'instrumentRouter');
  const tracer = options.tracer ?? api.trace.getTracer(SCOPE);
  const meter = options.meter ?? api.metrics.getMeter(SCOPE);
  const observers: CallObserver[] = [spanObserver(api, tracer)];
  const routers = new Set<ObservedRouter>([router]);
  // The API's no-op meter records nothing: skip measuring altogether.
  const metered = meter instanceof api.createNoopMeter().constructor ? undefined : meterSink(meter, routers);
  if (metered !== undefined) observers.push(new MetricsRecorder(metered.sink, () => router.catalog));
  const observer: CallObserver =
    observers.length === 1
      ? (observers[0] as CallObserver)
      : {
          start(call) {
            const observations = observers.map((o) => o.start(call)).filter((o): o is CallObservation => o !== undefined);
            if (observations.length === 0) return undefined;
            return observations.length === 1 ? observations[0] : combineObservations(observations);
          },
        };
  const stop = router.observe(observer);
  return () => {
    stop();
    routers.delete(router);
    metered?.stop();
  };
}
