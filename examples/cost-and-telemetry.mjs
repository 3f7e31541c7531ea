// What each call cost, the cheapest model, a monthly budget, and the calls in Prometheus and OpenTelemetry.
// Runs against the bundled emulator (no key, no network). prom-client and an OpenTelemetry SDK are your own
// dependencies (optional peers of mistral-router; here the repository's dev dependencies).
//   npm install && node examples/cost-and-telemetry.mjs
import { createRouter, QuotaExhaustedError } from 'mistral-router';
import { startEmulator } from 'mistral-router/emulator';
import { createPrometheusMetrics, instrumentRouter } from 'mistral-router/telemetry';
import { Registry } from 'prom-client';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

const emulator = await startEmulator({ tier: 'free', overrides: { requestsPerSecond: null } });
const router = createRouter({
  workspaces: [{ name: 'team-a', apiKey: process.env.MISTRAL_API_KEY ?? 'local-key', tier: 'free', overrides: { requestsPerSecond: null }, budgets: { monthlyUsd: 0.001 } }],
  serverURL: emulator.url, // omit to call api.mistral.ai
  strategy: 'cheapest', // the lowest expected cost of each request at the catalogue's prices
});

// Prometheus: serve `await registry.metrics()` at /metrics.
const registry = new Registry();
createPrometheusMetrics({ registry }).observe(router);
// OpenTelemetry: usually instrumentRouter(router) with the providers your SDK registered globally.
const spans = new InMemorySpanExporter();
instrumentRouter(router, { tracer: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }).getTracer('example') });

const response = await router.chat.complete({ messages: [{ role: 'user', content: 'Say hello' }], maxTokens: 50 });
const { model, cost } = response.routing;
console.log(`${model}: ${cost.inputTokens} in + ${cost.outputTokens} out at $${cost.pricePerMillion.input}/$${cost.pricePerMillion.output} per million = $${cost.usd.toFixed(8)}`);
console.log('span:', spans.getFinishedSpans().map((s) => s.name).join(', '));

// The budget ($0.001 a month) refuses what it cannot hold: cheaper models are tried, then QuotaExhaustedError.
try {
  for (let i = 0; i < 100; i++) await router.chat.complete({ need: { capabilities: ['vision'] }, messages: [{ role: 'user', content: 'Describe a cat' }], maxTokens: 2_000 });
} catch (error) {
  if (!(error instanceof QuotaExhaustedError)) throw error;
  console.log(`budget spent: retry in ${Math.round(error.retryAfterMs / 3_600_000)} h (${error.message.slice(0, 60)}...)`);
}
const usage = await router.usage();
console.log(`${usage.month}: spent $${usage.budgets[0].spentUsd.toFixed(6)} of $${usage.budgets[0].monthlyUsd};`, usage.spend.map((row) => `${row.model} x${row.calls}`).join(', '));
console.log((await registry.metrics()).split('\n').find((line) => line.startsWith('mistral_router_cost_usd_total')));

await router.close();
await emulator.stop();
