/**
 * The AI SDK provider's overhead (issue 20): `generateText` (and `streamText`, read to the end) through
 * `createMistralRouterProvider` against the same calls with `@ai-sdk/mistral` straight to the emulator,
 * in one run. Latency 0 and limits lifted, so nothing waits: what is measured is the router's decision
 * and its wire transport (`router.wire`: the body `@ai-sdk/mistral` built sent as it is, through a keep-alive
 * node:http agent, the answer handed back as it came), against one localhost HTTP call. Then the same with an upstream
 * that takes 20 ms to answer. Batches alternate A/B/A/B so that drift (JIT, GC, CPU frequency) hits both
 * sides alike. The target: at most 5% slower at the median.
 *
 *   node dist/bench/ai-sdk.js
 */
import { createMistral } from '@ai-sdk/mistral';
import { generateText, streamText, type LanguageModel } from 'ai';
import { createMistralRouterProvider } from '../lib/ai-sdk/index.js';
import { loadCatalog } from '../lib/catalog/index.js';
import { FakeClock } from '../lib/clock.js';
import { startEmulator } from '../lib/emulator/index.js';
import { createRouter } from '../lib/router/router.js';
import { latencies, median, percentile, report, summarise, type TimingSummary } from './stats.js';

const ROUNDS = 20;
const PER_BATCH = 30;
const TARGET = 1.05;
/** The emulator's answer delay in the last comparison: still far below a real model's. */
const UPSTREAM_MS = 20;

(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

/** Median of batch medians (p99: median of batch p99s), from A/B rounds. */
function pooled(batches: readonly TimingSummary[]): TimingSummary {
  return { ...summarise(batches.map((s) => s.medianUs), median(batches.map((s) => s.opsPerSecond))), p99Us: median(batches.map((s) => s.p99Us)) };
}

async function compare(title: string, direct: (i: number) => Promise<unknown>, routed: (i: number) => Promise<unknown>, rounds = ROUNDS, perBatch = PER_BATCH): Promise<number> {
  await latencies(direct, 0, 100);
  await latencies(routed, 0, 100);
  const a: TimingSummary[] = [];
  const b: TimingSummary[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const directBatch = await latencies(direct, perBatch, 0);
    const routedBatch = await latencies(routed, perBatch, 0);
    a.push(directBatch);
    b.push(routedBatch);
    ratios.push(routedBatch.medianUs / directBatch.medianUs);
  }
  const directSummary = pooled(a);
  const routedSummary = pooled(b);
  console.log(`\n${title}: ${rounds} rounds of A/B batches of ${perBatch} sequential calls; median of the batch medians, p99 = median of the batch p99s`);
  report('  A: @ai-sdk/mistral straight to the emulator', directSummary);
  report('  B: mistral-router/ai-sdk (router.wire)', routedSummary);
  const overall = routedSummary.medianUs / directSummary.medianUs;
  console.log(`  B / A: x${overall.toFixed(3)} (per-round ratios: median x${median(ratios).toFixed(3)}, range x${percentile(ratios, 0).toFixed(3)}..x${percentile(ratios, 100).toFixed(3)}); ${(routedSummary.medianUs - directSummary.medianUs).toFixed(0)} µs per call`);
  console.log(`  target <= x${TARGET.toFixed(2)}: ${overall <= TARGET ? 'met' : 'NOT met'}`);
  return overall;
}

export async function runAiSdkBench(): Promise<void> {
  const catalog = loadCatalog();
  const unmetered = Object.fromEntries(catalog.models.map((m) => [m.id, { tokensPerMinute: null, tokensPerMonth: null }]));
  // One fixed day for both sides, so that the catalogue's lifecycle (models retired since) is the same for
  // the router and the emulator whatever day the benchmark runs; nothing waits, so fixed time is enough.
  const clock = new FakeClock(Date.UTC(2025, 7, 1, 12));
  const emulator = await startEmulator({ tier: 'free', latencyMs: 0, clock, overrides: { requestsPerSecond: null, models: unmetered } });
  const apiKey = 'sk-bench-ai-sdk-0123456789';
  const router = createRouter({ workspaces: [{ name: 'bench', apiKey, tier: 'free', overrides: { requestsPerSecond: null, models: unmetered } }], serverURL: emulator.url, clock });
  const provider = createMistralRouterProvider({ router });
  const prompts = Array.from({ length: 16 }, (_, i) => `Question ${i}: ${'what limits apply to this workspace and model? '.repeat(4 + (i % 5))}`);
  const maxOutputTokens = 16;
  // A model with no retirement announced: for one announced, the emulator sends the deprecation header and
  // the Mistral SDK prints a warning on every response.
  const plan = await router.plan('chat', { messages: [{ role: 'user', content: prompts[0] ?? '' }], maxTokens: maxOutputTokens });
  const model = plan.candidates.find((candidate) => catalog.model(candidate.model)?.deprecation === null)?.model;
  if (model === undefined) throw new Error('bench: no candidate for a plain chat request');
  const directModel: LanguageModel = createMistral({ apiKey, baseURL: `${emulator.url}/v1` })(model);
  const routedModel: LanguageModel = provider(model);
  const system = 'You answer in one short sentence.';
  const call = (m: LanguageModel) => async (i: number) => {
    const result = await generateText({ model: m, system, prompt: prompts[i % prompts.length] ?? '', maxOutputTokens, maxRetries: 0 });
    if (result.response.modelId !== model) throw new Error(`bench: answered by ${result.response.modelId}`);
  };
  const stream = (m: LanguageModel) => async (i: number) => {
    const result = streamText({ model: m, system, prompt: prompts[i % prompts.length] ?? '', maxOutputTokens, maxRetries: 0 });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    if (text === '') throw new Error('bench: empty stream');
  };
  console.log(`the AI SDK provider against @ai-sdk/mistral direct: emulator latency 0, limits lifted, model ${model}, ai's generateText/streamText`);
  await compare('generateText', call(directModel), call(routedModel));
  await compare('streamText (read to the end)', stream(directModel), stream(routedModel));
  // The same calls when the upstream takes any time at all (Mistral's own answers take hundreds of ms).
  emulator.configure({ latencyMs: UPSTREAM_MS });
  await compare(`generateText, upstream answering after ${UPSTREAM_MS} ms`, call(directModel), call(routedModel), 15, 20);
  const stats = emulator.stats();
  console.log(`\nemulator answered ${stats.responses['200'] ?? 0} x 200, ${stats.responses['429'] ?? 0} x 429`);
  await router.close();
  await emulator.stop();
}

if (import.meta.url === `file://${process.argv[1]}`) await runAiSdkBench();
