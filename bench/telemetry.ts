/**
 * What telemetry costs (issue 18), in one run:
 *
 * (a) per call, the telemetry work alone (what the router adds around its decision: call start, one
 *     attempt with its run(), its end, the call's end, on a real decision of the bench's router), for: no
 *     observer registered (the router checks `observers.active`), `instrumentRouter` with the API's no-op
 *     tracer and meter (no provider registered), `instrumentRouter` with the SDK's in-memory providers,
 *     and `createPrometheusMetrics`; against a Map get + set baseline;
 * (b) a whole chat.complete to the emulator (latency 0, limits lifted) through four routers, one per
 *     setting, in alternating A/B/C/D batches so that drift hits each alike; ratios to the uninstrumented one.
 *
 *   node dist/bench/telemetry.js
 */
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { loadCatalog } from '../lib/catalog/index.js';
import { startEmulator } from '../lib/emulator/index.js';
import { createRouter, type Router } from '../lib/router/router.js';
import { Observers } from '../lib/router/observe.js';
import type { Prepared } from '../lib/router/prepare.js';
import type { CallObserver } from '../lib/telemetry/observer.js';
import { instrumentRouter } from '../lib/telemetry/otel.js';
import { createPrometheusMetrics } from '../lib/telemetry/prometheus.js';
import { latencies, median, percentile, report, summarise, timeSync, type TimingSummary } from './stats.js';

class ManualReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const WORKSPACE = 'bench';
type Setting = 'none' | 'otel no-op' | 'otel in-memory' | 'prometheus';
const SETTINGS: readonly Setting[] = ['none', 'otel no-op', 'otel in-memory', 'prometheus'];

/** Instruments `router` as the setting says; returns what to reset between batches (span memory). */
function instrument(router: Router, setting: Setting): () => void {
  if (setting === 'otel no-op') instrumentRouter(router);
  if (setting === 'otel in-memory') {
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('bench');
    const meter = new MeterProvider({ readers: [new ManualReader()] }).getMeter('bench');
    instrumentRouter(router, { tracer, meter });
    return () => exporter.reset();
  }
  if (setting === 'prometheus') createPrometheusMetrics({ registry: new Registry() }).observe(router);
  return () => undefined;
}

/** The observer a setting registers, captured from router.observe (none: undefined). */
function captured(router: Router, setting: Setting): { observer: CallObserver | undefined; reset: () => void } {
  let observer: CallObserver | undefined;
  const capture = { observe: (o: CallObserver) => ((observer = o), () => undefined), catalog: router.catalog, store: router.store };
  const reset = instrument(capture as unknown as Router, setting);
  return { observer, reset };
}

export async function runTelemetryBench(): Promise<void> {
  const catalog = loadCatalog();
  const unmetered = Object.fromEntries(catalog.models.map((m) => [m.id, { tokensPerMinute: null, tokensPerMonth: null }]));
  const overrides = { requestsPerSecond: null, models: unmetered };
  const emulator = await startEmulator({ tier: 'free', latencyMs: 0, overrides });
  const apiKey = 'sk-bench-telemetry-0123456789';
  const routers = new Map<Setting, { router: Router; reset: () => void }>();
  for (const setting of SETTINGS) {
    const router = createRouter({ workspaces: [{ name: WORKSPACE, apiKey, tier: 'free', overrides }], serverURL: emulator.url });
    routers.set(setting, { router, reset: instrument(router, setting) });
  }
  const plain = (routers.get('none') as { router: Router }).router;
  const plan = await plain.plan('chat', { messages: [{ role: 'user', content: 'hi' }], maxTokens: 16 });
  const model = plan.candidates.find((c) => catalog.lifecycleOn(Date.now()).status(c.model) === 'current')?.model;
  if (model === undefined) throw new Error('bench: no current model for a plain chat request');
  const prompts = Array.from({ length: 16 }, (_, i) => [{ role: 'user' as const, content: `Question ${i}: ${'what limits apply to this workspace and model? '.repeat(4 + (i % 5))}` }]);
  const call = (router: Router) => async (i: number) => {
    const result = await router.chat.complete({ model, messages: prompts[i % prompts.length] ?? [], maxTokens: 16 });
    if (result.routing.model !== model) throw new Error(`bench: routed to ${result.routing.model}`);
    return result;
  };

  // (a) The telemetry work of one call, on a real decision.
  const sample = await call(plain)(0);
  const routing = sample.routing;
  const prepared = { endpoint: 'chat', request: { model, maxTokens: 16 }, plan: routing.plan, estimated: routing.tokens.estimated } as unknown as Prepared;
  const record = routing.attempts[0] as (typeof routing.attempts)[number];
  const response = { id: sample.id, model: sample.model, finishReasons: ['stop'] };
  const end = { ok: true, routing, attempts: routing.attempts, waitedMs: 0, response, errorType: undefined, durationMs: 1, firstChunkMs: undefined };
  const map = new Map<string, number>();
  const rows: [string, TimingSummary][] = [['baseline: Map get + set', timeSync((i) => map.set(`k${i % 1000}`, (map.get(`k${i % 1000}`) ?? 0) + 1), { batches: 2_000, batchSize: 100, warmupBatches: 200 })]];
  const none = new Observers();
  rows.push(['none: the router\'s check (observers.active)', timeSync(() => (none.active ? none.start(prepared, false, 0) : undefined), { batches: 2_000, batchSize: 100, warmupBatches: 200 })]);
  for (const setting of SETTINGS.slice(1)) {
    const { observer, reset } = captured(plain, setting);
    const observers = new Observers();
    if (observer !== undefined) observers.add(observer);
    let n = 0;
    rows.push([`${setting}: start + attempt + run + end + end`, timeSync(() => {
      const observed = observers.active ? observers.start(prepared, false, 0) : undefined;
      const attempt = observed?.attempt({ workspace: WORKSPACE, model, attempt: 1, estimatedCostUsd: 0.00001, startedAt: 0 });
      if (attempt?.run !== undefined) attempt.run(() => 0);
      attempt?.end(record);
      observed?.end(end);
      if (++n % 1_000 === 0) reset();
    }, { batches: 1_000, batchSize: 50, warmupBatches: 100 })]);
  }
  const baseline = (rows[0] as [string, TimingSummary])[1];
  console.log(`(a) telemetry work per call (${model}, one attempt), batches of 100/50`);
  for (const [name, summary] of rows) report(`  ${name}`, summary, `x${(summary.medianUs / baseline.medianUs).toFixed(2)} the Map baseline`);
  // The Prometheus sink hands its measurements to prom-client at the turn's end, or a histogram's 4,096
  // at once (lib/telemetry/prom-cells.ts): within these synchronous batches only the second happens, in
  // few batches, so the median leaves the hand-over out. All the work per call is the run's whole time over its calls.
  const prometheus = rows.find(([name]) => name.startsWith('prometheus')) as [string, TimingSummary];
  console.log(`  prometheus, all the work per call (the hand-over to prom-client included: whole time / calls)   ${(1e6 / prometheus[1].opsPerSecond).toFixed(3)} µs`);

  // (b) Whole calls, alternating settings batch by batch.
  const rounds = 30;
  const perBatch = 50;
  const batches = new Map<Setting, TimingSummary[]>(SETTINGS.map((s) => [s, []]));
  for (const setting of SETTINGS) await latencies(call((routers.get(setting) as { router: Router }).router), 0, 300);
  for (let round = 0; round < rounds; round++) {
    for (const setting of SETTINGS) {
      const entry = routers.get(setting) as { router: Router; reset: () => void };
      (batches.get(setting) as TimingSummary[]).push(await latencies(call(entry.router), perBatch, 0));
      entry.reset();
    }
  }
  const pooled = (list: readonly TimingSummary[]): TimingSummary => ({ ...summarise(list.map((s) => s.medianUs), median(list.map((s) => s.opsPerSecond))), p99Us: median(list.map((s) => s.p99Us)) });
  const base = pooled(batches.get('none') as TimingSummary[]);
  console.log(`\n(b) a whole chat.complete to the emulator (latency 0, limits lifted), ${rounds} rounds of A/B/C/D batches of ${perBatch} sequential calls`);
  for (const setting of SETTINGS) {
    const list = batches.get(setting) as TimingSummary[];
    const summary = pooled(list);
    const ratios = list.map((s, i) => s.medianUs / ((batches.get('none') as TimingSummary[])[i] as TimingSummary).medianUs);
    report(`  ${setting}`, summary, setting === 'none' ? '' : `x${(summary.medianUs / base.medianUs).toFixed(3)} (per-round median x${median(ratios).toFixed(3)}, range x${percentile(ratios, 0).toFixed(2)}..x${percentile(ratios, 100).toFixed(2)}), ${(summary.medianUs - base.medianUs).toFixed(0)} µs`);
  }
  for (const { router } of routers.values()) await router.close();
  await emulator.stop();
}

if (import.meta.url === `file://${process.argv[1]}`) await runTelemetryBench();
