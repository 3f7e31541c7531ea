/**
 * Router benchmarks (issue 5, checks (a) and (b)).
 *
 * (a) The routing decision, against a bare `Map` get/set measured in the same run:
 *     - uncached: the pure plan for the full bundled catalogue (`rankModels` + `fitContext`), the quota
 *       candidates built from it, and a memory-store reserve + settle;
 *     - cached (what a call through the router pays once its need is in the plan cache): `rankModels`
 *       once, then per operation `fitContext`, the plan and quota candidates, reserve and settle;
 *     both with the store's synchronous bodies and with the awaited async API the router calls, plus,
 *     for reference, what `normaliseNeed` (the plan cache's key) adds and the `router.plan()` dry run.
 * (b) The router's overhead on a whole SDK call to the emulator (no latency, limits lifted so nothing
 *     waits), as a ratio to the same SDK called directly with the same requests. Batches alternate
 *     A/B/A/B so that drift (JIT, GC, CPU frequency) hits both sides alike.
 *
 *   node dist/bench/router.js
 */
import { Mistral } from '@mistralai/mistralai';
import { LRUCache } from 'lru-cache';
import { loadCatalog } from '../lib/catalog/index.js';
import { systemClock } from '../lib/clock.js';
import { startEmulator } from '../lib/emulator/index.js';
import { normaliseNeed, type Need } from '../lib/need.js';
import { MemoryStore } from '../lib/quota/memory/index.js';
import { WINDOW_KINDS, type QuotaCandidate, type WindowSpec } from '../lib/quota/types.js';
import type { PlanCandidate } from '../lib/router/decision.js';
import { createRouter } from '../lib/router/router.js';
import { fitContext, rankModels, type RankedModels } from '../lib/router/plan.js';
import { latencies, median, percentile, report, summarise, timeAsync, timeSync, type TimingSummary } from './stats.js';

/** What the router assumes for a model whose context window is unknown (its default). */
const UNKNOWN_CONTEXT_TOKENS = 32_768;
const WORKSPACE = 'bench';

/** Limits so high that every reserve is admitted: the decision is measured, not a refusal. */
const LIFTED: readonly WindowSpec[] = [
  { ...WINDOW_KINDS.requestsPerSecond, limit: 1e12 },
  { ...WINDOW_KINDS.tokensPerMinute, limit: 1e15 },
  { ...WINDOW_KINDS.tokensPerMonth, limit: 1e15 },
];

const ratio = (value: number, base: number) => `x${(value / base).toFixed(2)} the Map baseline`;

/** One decision as the router takes it once the ranking is known (see Router#prepare and #quotaCandidates). */
function decisionParts(ranked: () => RankedModels, contextTokens: number, stableCandidates = false) {
  const windows = new Map<string, readonly WindowSpec[]>();
  const stable = new Map<string, QuotaCandidate>();
  const cooldowns = new Map<string, number>();
  const windowsFor = (model: string) => {
    const key = `${WORKSPACE}\u0000${model}`;
    let found = windows.get(key);
    if (found === undefined) windows.set(key, (found = LIFTED));
    return found;
  };
  return (): QuotaCandidate[] => {
    const fitted = fitContext(ranked(), contextTokens, 0, UNKNOWN_CONTEXT_TOKENS);
    const plan: PlanCandidate[] = [];
    for (const m of fitted.models) plan.push({ model: m.id, workspace: WORKSPACE, contextWindow: m.contextWindow });
    const now = systemClock.now();
    const candidates: QuotaCandidate[] = [];
    for (const m of fitted.models) {
      const cooled = cooldowns.get(m.id);
      if (cooled !== undefined && cooled > now) continue;
      if (!stableCandidates) {
        candidates.push({ workspace: WORKSPACE, model: m.id, windows: windowsFor(m.id) });
        continue;
      }
      // The same object per (workspace, model): the memory store caches its resolution per candidate object.
      let candidate = stable.get(m.id);
      if (candidate === undefined) stable.set(m.id, (candidate = { workspace: WORKSPACE, model: m.id, windows: windowsFor(m.id) }));
      candidates.push(candidate);
    }
    if (plan.length !== candidates.length) throw new Error('unreachable');
    return candidates;
  };
}

async function decisionBench(): Promise<void> {
  const catalog = loadCatalog();
  const rawNeed: Need = { capabilities: ['function_calling'] };
  const need = normaliseNeed(rawNeed, 'chat', [], 'smallest-sufficient');
  const prompt = 1_200;
  const maxTokens = 256;
  const tokens = prompt + maxTokens;
  const rankedOnce = rankModels(catalog, need);
  console.log(`(a) the routing decision: ${catalog.models.length} models in the catalogue, need ${JSON.stringify(rawNeed)} -> ${rankedOnce.ranked.length} eligible, ${rankedOnce.rejected.length} rejected`);
  console.log('    per operation, batches of 100, system clock, limits lifted (every reserve admitted)');

  const map = new Map<string, number>();
  const keys = Array.from({ length: 1_000 }, (_, i) => `${WORKSPACE}\u0000model-${i}\u0000tokens-per-minute`);
  const baselineOp = (i: number) => {
    const key = keys[i % keys.length] as string;
    map.set(key, (map.get(key) ?? 0) + 1);
  };

  const syncStore = new MemoryStore();
  const reserveSettleSync = (candidates: readonly QuotaCandidate[]) => {
    const result = syncStore.reserveSync({ candidates, tokens });
    if (!result.ok) throw new Error('bench: reserve refused with lifted limits');
    syncStore.settleSync(result.reservation, tokens - 100);
  };
  const uncached = decisionParts(() => rankModels(catalog, need), prompt + maxTokens);
  const cached = decisionParts(() => rankedOnce, prompt + maxTokens);
  const cachedStable = decisionParts(() => rankedOnce, prompt + maxTokens, true);
  // What Router#prepare adds before the cache lookup: the need's normal form, whose signature is the key.
  const planCache = new LRUCache<string, RankedModels>({ max: 500 });
  const lookedUp = decisionParts(() => {
    const key = `chat\u0000\u0000${normaliseNeed(rawNeed, 'chat', [], 'smallest-sufficient').signature}`;
    let ranked = planCache.get(key);
    if (ranked === undefined) planCache.set(key, (ranked = rankModels(catalog, need)));
    return ranked;
  }, prompt + maxTokens);

  const asyncStore = new MemoryStore();
  const reserveSettleAsync = async (candidates: readonly QuotaCandidate[]) => {
    const result = await asyncStore.reserve({ candidates, tokens });
    if (!result.ok) throw new Error('bench: reserve refused with lifted limits');
    await asyncStore.settle(result.reservation, tokens - 100);
  };

  const options = { batches: 2_000, batchSize: 100, warmupBatches: 200 };
  const slowOptions = { batches: 1_000, batchSize: 50, warmupBatches: 100 };
  const asyncOptions = { batches: 1_000, batchSize: 50, warmupBatches: 100 };
  const rows: [string, TimingSummary][] = [];
  const baseline = timeSync(baselineOp, options);
  rows.push(['baseline: Map get + set', baseline]);
  rows.push(['rankModels + fitContext + candidates (uncached plan)', timeSync(() => uncached(), slowOptions)]);
  const single = cachedStable().slice(0, 1);
  rows.push(['memory reserve + settle (sync bodies), same candidate object', timeSync(() => reserveSettleSync(single), slowOptions)]);
  rows.push(['uncached: plan + candidates + reserve + settle', timeSync(() => reserveSettleSync(uncached()), slowOptions)]);
  rows.push(['cached: fitContext + candidates + reserve + settle', timeSync(() => reserveSettleSync(cached()), slowOptions)]);
  rows.push(['  same, candidate objects reused (store caches per object)', timeSync(() => reserveSettleSync(cachedStable()), slowOptions)]);
  rows.push(['  + normaliseNeed and the plan-cache lookup (per call)', timeSync(() => reserveSettleSync(lookedUp()), slowOptions)]);
  rows.push(['cached, awaited store.reserve + store.settle (as the router)', await timeAsync(() => reserveSettleAsync(cached()), asyncOptions)]);
  const baselineAgain = timeSync(baselineOp, options);
  rows.push(['baseline again (drift check): Map get + set', baselineAgain]);
  for (const [name, summary] of rows) report(`  ${name}`, summary, ratio(summary.medianUs, baseline.medianUs));

  // The router's own decision path: validate, estimate, plan (cached per need), reserve, then settle,
  // through the public Router.reserve / Lease.settle (what chat.complete does around the SDK call).
  const unmetered = Object.fromEntries(catalog.models.map((m) => [m.id, { tokensPerMinute: null, tokensPerMonth: null }]));
  const router = createRouter({
    workspaces: [{ name: WORKSPACE, apiKey: 'sk-bench', tier: 'free', overrides: { requestsPerSecond: null, models: unmetered } }],
    serverURL: 'http://127.0.0.1:9',
  });
  const request = { need: rawNeed, messages: [{ role: 'user' as const, content: 'x'.repeat(prompt * 3) }], maxTokens };
  const usage = { promptTokens: prompt, totalTokens: tokens - 100 };
  const decide = async () => {
    const lease = await router.reserve('chat', request);
    await lease.settle(usage);
  };
  const routerSummary = await timeAsync(decide, asyncOptions);
  report('  ROUTER: router.reserve + lease.settle (the full decision)', routerSummary, ratio(routerSummary.medianUs, baseline.medianUs));
  // The `cheapest` strategy orders the plan per request by its expected cost (memoised per order).
  const cheapestRequest = { ...request, need: { ...rawNeed, strategy: 'cheapest' as const } };
  const cheapest = await timeAsync(async () => (await router.reserve('chat', cheapestRequest)).settle(usage), asyncOptions);
  report('  same, strategy cheapest', cheapest, ratio(cheapest.medianUs, baseline.medianUs));
  // For reference: the public dry run, which also snapshots the store's windows per workspace.
  const dryRun = await timeAsync(() => router.plan('chat', request), asyncOptions);
  report('  reference: router.plan() (dry run, async, with snapshots)', dryRun, ratio(dryRun.medianUs, baseline.medianUs));
  await router.close();
  const target = routerSummary.medianUs < 5 ? 'met' : 'NOT met';
  console.log(`  target median < 5 µs for the router's decision: ${target} (${routerSummary.medianUs.toFixed(2)} µs, p99 ${routerSummary.p99Us.toFixed(2)} µs, ${ratio(routerSummary.medianUs, baseline.medianUs)})`);
}

async function overheadBench(): Promise<void> {
  const catalog = loadCatalog();
  const unmetered = Object.fromEntries(catalog.models.map((m) => [m.id, { tokensPerMinute: null, tokensPerMonth: null }]));
  const emulator = await startEmulator({ tier: 'free', latencyMs: 0, overrides: { requestsPerSecond: null, models: unmetered } });
  const apiKey = 'sk-bench-overhead-0123456789';
  const router = createRouter({
    workspaces: [{ name: WORKSPACE, apiKey, tier: 'free', overrides: { requestsPerSecond: null, models: unmetered } }],
    serverURL: emulator.url,
  });
  const sdk = new Mistral({ apiKey, serverURL: emulator.url });
  const prompts = Array.from({ length: 16 }, (_, i) => [
    { role: 'system' as const, content: 'You answer in one short sentence.' },
    { role: 'user' as const, content: `Question ${i}: ${'what limits apply to this workspace and model? '.repeat(4 + (i % 5))}` },
  ]);
  const maxTokens = 16;
  const plan = await router.plan('chat', { messages: prompts[0] ?? [], maxTokens });
  const model = plan.candidates[0]?.model;
  if (model === undefined) throw new Error('bench: no candidate for a plain chat request');

  const direct = (i: number) => sdk.chat.complete({ model, messages: prompts[i % prompts.length] ?? [], maxTokens });
  const routed = async (i: number) => {
    const result = await router.chat.complete({ messages: prompts[i % prompts.length] ?? [], maxTokens });
    if (result.routing.model !== model || result.routing.waitedMs !== 0) throw new Error(`bench: routed to ${result.routing.model} after ${result.routing.waitedMs} ms`);
    return result;
  };

  const rounds = 40;
  const perBatch = 50;
  await latencies(direct, 0, 300);
  await latencies(routed, 0, 300);
  const a: TimingSummary[] = [];
  const b: TimingSummary[] = [];
  const pairRatios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const sdkBatch = await latencies(direct, perBatch, 0);
    const routerBatch = await latencies(routed, perBatch, 0);
    a.push(sdkBatch);
    b.push(routerBatch);
    pairRatios.push(routerBatch.medianUs / sdkBatch.medianUs);
  }
  const stats = emulator.stats();
  await router.close();
  await emulator.stop();

  const pooled = (batches: TimingSummary[]): TimingSummary => {
    const medians = batches.map((s) => s.medianUs);
    const ops = median(batches.map((s) => s.opsPerSecond));
    return { ...summarise(medians, ops), p99Us: median(batches.map((s) => s.p99Us)) };
  };
  const sdkSummary = pooled(a);
  const routerSummary = pooled(b);
  console.log(`\n(b) a whole chat.complete to the emulator (latency 0, limits lifted), ${model}, ${rounds} rounds of A/B batches of ${perBatch} sequential calls`);
  console.log('    median of the batch medians; p99 = median of the batch p99s');
  report('  A: SDK called directly (new Mistral({ apiKey, serverURL }))', sdkSummary);
  report('  B: router.chat.complete (need -> plan -> reserve -> SDK -> settle)', routerSummary);
  const overall = routerSummary.medianUs / sdkSummary.medianUs;
  console.log(`  router / SDK: x${overall.toFixed(3)} (median of per-round ratios x${median(pairRatios).toFixed(3)}, range x${percentile(pairRatios, 0).toFixed(3)}..x${percentile(pairRatios, 100).toFixed(3)}); overhead ${(routerSummary.medianUs - sdkSummary.medianUs).toFixed(0)} µs per call`);
  console.log(`  target < x1.10: ${overall < 1.1 ? 'met' : 'NOT met'}; emulator answered ${stats.responses['200'] ?? 0} x 200, ${stats.responses['429'] ?? 0} x 429`);
}

export async function runRouterBench(): Promise<void> {
  await decisionBench();
  await overheadBench();
}

if (import.meta.url === `file://${process.argv[1]}`) await runRouterBench();
