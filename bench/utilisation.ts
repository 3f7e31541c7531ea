/**
 * Quota utilisation (issue 5, check (c)): replay the Azure LLM inference trace (conv.csv) through the
 * router against the emulator, with tokens-per-minute limits set below the trace's demand on the two
 * models the need leaves eligible, and report the tokens served as a fraction of what those limits allow
 * over the replayed span, and the upstream 429s per 1,000 requests.
 *
 * Time: the emulator and the router share one FakeClock, moved to each arrival (sped up by SPEEDUP). Each
 * HTTP exchange completes before the clock moves again (in-flight fetches are counted), so the emulator
 * meters a call at the instant the router reserved it: the run is exact, repeatable and fast.
 *
 * Requests: one user message whose text makes the emulator count exactly `ContextTokens` prompt tokens
 * (3 + 4 + ceil(characters / 4), lib/emulator/token-estimate.ts; rows under 8 tokens count 8), and
 * `maxTokens = GeneratedTokens` (the emulator charges max_tokens as the completion).
 *
 *   node dist/bench/utilisation.js
 *   MISTRAL_ROUTER_TRACE=/path/to/conv.csv  BENCH_TRACE_MINUTES=60  BENCH_TRACE_SPEEDUP=20
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { catalog2025 } from '../test/helpers/catalog-2025.js';
import { FakeClock } from '../lib/clock.js';
import { startEmulator } from '../lib/emulator/index.js';
import { CHAT_REQUEST_OVERHEAD_TOKENS, CHARACTERS_PER_TOKEN, MESSAGE_OVERHEAD_TOKENS } from '../lib/emulator/index.js';
import { QuotaExhaustedError } from '../lib/errors.js';
import { normaliseNeed, type Need } from '../lib/need.js';
import { MemoryStore } from '../lib/quota/memory/index.js';
import { createRouter } from '../lib/router/router.js';
import { rankModels } from '../lib/router/plan.js';
import { TokenEstimator } from '../lib/tokens.js';
import { median, percentile } from './stats.js';

/** The trace, beside the repository (CI checks out ../shared next to it); MISTRAL_ROUTER_TRACE overrides. */
export function tracePath(): string {
  return process.env.MISTRAL_ROUTER_TRACE ?? fileURLToPath(new URL('../../../shared/data/azure-llm-inference-2023/conv.csv', import.meta.url));
}

interface TraceRow {
  /** ms since the first row. */
  readonly at: number;
  readonly context: number;
  readonly generated: number;
}

function readTrace(path: string, minutes: number): TraceRow[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const rows: TraceRow[] = [];
  let first: number | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]?.trim();
    if (!line) continue;
    const [stamp, context, generated] = line.split(',');
    // "2023-11-16 18:15:46.6805900": ISO with milliseconds, UTC (only differences matter).
    const time = Date.parse(`${(stamp ?? '').replace(' ', 'T').slice(0, 23)}Z`);
    const c = Number(context);
    const g = Number(generated);
    if (!Number.isFinite(time) || !Number.isInteger(c) || !Number.isInteger(g) || c < 0 || g < 0) throw new Error(`${path}:${i + 1}: cannot read ${JSON.stringify(line)}`);
    first ??= time;
    if (time - first > minutes * 60_000) break;
    rows.push({ at: time - first, context: c, generated: g });
  }
  return rows;
}

/** The eligible pair: function calling, restricted by family to exactly these two models. */
const NEED: Need = { capabilities: ['function_calling'], family: ['mistral-nemo', 'ministral-8b'] };
/** Limits as a share of the replay's demand per minute, summed over the two models. */
const LIMIT_SHARE = 0.7;
/** Virtual ms per clock step when nothing arrives (timers fire and waiters are served in between). */
const STEP_MS = 100;

export async function runUtilisationBench(): Promise<void> {
  const speedup = Number(process.env.BENCH_TRACE_SPEEDUP ?? 10);
  const minutes = Number(process.env.BENCH_TRACE_MINUTES ?? 60);
  const maxWaitMs = 10_000;
  const path = tracePath();
  const trace = readTrace(path, minutes);
  const last = trace[trace.length - 1];
  if (last === undefined) throw new Error(`${path}: no rows`);
  const spanMs = last.at / speedup;
  const promptTokens = (row: TraceRow) => Math.max(row.context, CHAT_REQUEST_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS + 1);
  const demandTokens = trace.reduce((sum, row) => sum + promptTokens(row) + row.generated, 0);
  const demandPerMinute = (demandTokens / spanMs) * 60_000;

  // The mid-2025 catalogue (the test fixture), where the need leaves exactly the two models of the free tier's
  // token table: the replay measures the quota arithmetic, which must not move with Mistral's lineup.
  const catalog = catalog2025;
  const eligible = rankModels(catalog, normaliseNeed(NEED, 'chat', [], 'smallest-sufficient')).ranked.map((m) => m.id);
  if (eligible.length !== 2) throw new Error(`bench: the need leaves ${eligible.length} models eligible, expected 2: ${eligible.join(', ')}`);
  const perModel = Math.floor((demandPerMinute * LIMIT_SHARE) / eligible.length);
  const overrides = { requestsPerSecond: null, models: Object.fromEntries(eligible.map((id) => [id, { tokensPerMinute: perModel, tokensPerMonth: null }])) };

  const clock = new FakeClock(Date.UTC(2026, 0, 5, 9, 0, 0));
  const apiKey = 'sk-bench-replay-0123456789';
  const emulator = await startEmulator({ tier: 'free', catalog, clock, apiKeys: [apiKey], overrides });
  const estimator = new TokenEstimator();
  const ratios: number[] = [];
  const router = createRouter({
    catalog,
    workspaces: [{ name: 'replay', apiKey, tier: 'free', overrides }],
    serverURL: emulator.url,
    clock,
    store: new MemoryStore({ clock }),
    tokenEstimator: estimator,
    maxWaitMs,
  });
  let fallbacks = 0;
  let retriedDecisions = 0;
  const fallbackReasons = new Map<string, number>();
  router.events.on('fallback', (event) => {
    fallbacks++;
    const key = `${event.reason} ${event.status ?? ''} -> ${event.action}`;
    fallbackReasons.set(key, (fallbackReasons.get(key) ?? 0) + 1);
  });
  router.events.on('decision', (event) => {
    if (event.attempt > 1) retriedDecisions++;
  });

  // Count HTTP exchanges in flight (headers and body) so that the clock only moves when none is.
  let inFlight = 0;
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    inFlight++;
    try {
      const response = await realFetch(input, init);
      const body = await response.arrayBuffer();
      return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    } finally {
      inFlight--;
    }
  };
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const quiesce = async () => {
    for (let idle = 0; idle < 3; ) {
      await turn();
      idle = inFlight === 0 ? idle + 1 : 0;
    }
  };
  // Served tokens per emulator minute (its fixed windows), read half a millisecond before each boundary
  // once the calls admitted in that minute have completed (arrivals are whole milliseconds).
  const minuteTotals: number[] = [];
  const servedSoFar = () => eligible.reduce((sum, id) => sum + (emulator.stats().tokens[id]?.totalTokens ?? 0), 0);
  const stepTo = async (target: number) => {
    while (clock.now() < target) {
      const boundary = (Math.floor((clock.now() + 0.5) / 60_000) + 1) * 60_000 - 0.5;
      const next = Math.min(target, clock.now() + STEP_MS, boundary);
      await clock.advanceAsync(next - clock.now());
      await quiesce();
      if (clock.now() === boundary) minuteTotals.push(servedSoFar());
    }
  };

  const text = 'Le renard brun saute par-dessus le chien paresseux; the quick brown fox jumps over the lazy dog. '.repeat(Math.ceil((20_000 * CHARACTERS_PER_TOKEN) / 96));
  const contentFor = (row: TraceRow) => {
    const characters = CHARACTERS_PER_TOKEN * (promptTokens(row) - CHAT_REQUEST_OVERHEAD_TOKENS - MESSAGE_OVERHEAD_TOKENS);
    return characters <= text.length ? text.slice(0, characters) : text.repeat(Math.ceil(characters / text.length)).slice(0, characters);
  };

  let served = 0;
  let waited = 0;
  let failed = 0;
  const otherErrors = new Map<string, number>();
  const waits: number[] = [];
  /** estimated / used tokens of each served call: below 1, the reservation held less than the upstream charged. */
  const estimateRatios: number[] = [];
  const calls: Promise<void>[] = [];
  const wallStart = performance.now();
  const start = clock.now();
  try {
    for (const row of trace) {
      await stepTo(start + Math.round(row.at / speedup));
      const call = router.chat
        .complete({ need: NEED, messages: [{ role: 'user', content: contentFor(row) }], maxTokens: row.generated })
        .then(
          (result) => {
            served++;
            const { estimated, used } = result.routing.tokens;
            if (used !== undefined && used > 0) estimateRatios.push(estimated / used);
            if (result.routing.waitedMs > 0) {
              waited++;
              waits.push(result.routing.waitedMs);
            }
          },
          (error: unknown) => {
            if (error instanceof QuotaExhaustedError) failed++;
            else {
              const name = error instanceof Error ? `${error.name}: ${error.message.slice(0, 120)}` : String(error);
              otherErrors.set(name, (otherErrors.get(name) ?? 0) + 1);
            }
          },
        );
      calls.push(call);
      await quiesce();
      ratios.push(estimator.ratio);
    }
    const atEnd = emulator.stats();
    const endOfSpan = clock.now();
    // Drain: the calls still waiting are served or give up within maxWaitMs.
    let pending = true;
    void Promise.all(calls).then(() => (pending = false));
    for (let t = 0; pending && t <= maxWaitMs + 5_000; t += STEP_MS) await stepTo(clock.now() + STEP_MS);
    await Promise.all(calls);
    const wallMs = performance.now() - wallStart;
    const stats = emulator.stats();

    const spanMinutes = (endOfSpan - start) / 60_000;
    const limitPerMinute = eligible.length * perModel;
    const allowed = limitPerMinute * spanMinutes;
    const servedInSpan = eligible.reduce((sum, id) => sum + (atEnd.tokens[id]?.totalTokens ?? 0), 0);
    // Whole emulator minutes inside the span, after the first: the first admits a full window at once
    // (the windows start empty), which no later minute can, so it would flatter the figure.
    const perMinute = minuteTotals.slice(0, Math.floor(spanMinutes)).map((total, i, all) => total - (i === 0 ? 0 : (all[i - 1] as number)));
    const steady = perMinute.slice(1);
    const steadyFraction = steady.reduce((a, b) => a + b, 0) / (limitPerMinute * steady.length);
    const upstream = stats.requests;
    const rejected429 = stats.responses['429'] ?? 0;
    const fraction = servedInSpan / allowed;
    console.log(`(c) quota utilisation: ${trace.length.toLocaleString('en-US')} requests of ${path.split('/').slice(-2).join('/')} (first ${Math.min(minutes, Math.ceil(last.at / 60_000))} min), sped up x${speedup} on a shared FakeClock`);
    console.log(`    need ${JSON.stringify(NEED)} -> ${eligible.join(' + ')}; tokens per minute ${perModel.toLocaleString('en-US')} each (emulator = router overrides), requests per second unmetered, maxWaitMs ${maxWaitMs}`);
    console.log(`    demand ${Math.round(demandPerMinute).toLocaleString('en-US')} tokens/min over ${spanMinutes.toFixed(2)} virtual min; limits ${limitPerMinute.toLocaleString('en-US')} tokens/min (${(LIMIT_SHARE * 100).toFixed(0)}% of demand)`);
    console.log(`  served per emulator minute / limit: ${perMinute.map((t) => `${((t / limitPerMinute) * 100).toFixed(1)}%`).join('  ')}`);
    console.log(`  tokens served / allowed, whole minutes 2..${perMinute.length} (steady state): ${(steadyFraction * 100).toFixed(2)}%  (target >= 97%: ${steadyFraction >= 0.97 ? 'met' : 'NOT met'})`);
    console.log(`  tokens served / allowed, whole span (first minute's empty windows included): ${servedInSpan.toLocaleString('en-US')} / ${Math.round(allowed).toLocaleString('en-US')} = ${(fraction * 100).toFixed(2)}%`);
    for (const id of eligible) {
      const t = stats.tokens[id];
      console.log(`    ${id.padEnd(22)} ${String(t?.requests ?? 0).padStart(6)} requests  ${(t?.totalTokens ?? 0).toLocaleString('en-US').padStart(12)} tokens (whole run, drain included)`);
    }
    console.log(`  upstream 429s: ${rejected429} in ${upstream.toLocaleString('en-US')} upstream requests = ${((rejected429 / Math.max(1, upstream)) * 1000).toFixed(2)} per 1,000 (target 0: ${rejected429 === 0 ? 'met' : 'NOT met'})`);
    console.log(`  calls: ${served.toLocaleString('en-US')} served (${waited.toLocaleString('en-US')} after waiting: median ${median(waits).toFixed(0)} ms, p99 ${percentile(waits, 99).toFixed(0)} ms virtual), ${failed.toLocaleString('en-US')} QuotaExhaustedError, ${[...otherErrors.values()].reduce((a, b) => a + b, 0)} other errors; ${fallbacks} fallbacks, ${retriedDecisions} second attempts`);
    for (const [name, count] of otherErrors) console.log(`    ${count} x ${name}`);
    for (const [reason, count] of fallbackReasons) console.log(`    fallback: ${count} x ${reason}`);
    const refusedBy = Object.entries(stats.rateLimited).filter(([, n]) => n > 0).map(([kind, n]) => `${n} x ${kind}`).join(', ');
    if (refusedBy) console.log(`    upstream refusals by limit: ${refusedBy}`);
    const under = estimateRatios.filter((r) => r < 1).length;
    console.log(`  router estimate / emulator usage per served call: median ${median(estimateRatios).toFixed(3)}, p1 ${percentile(estimateRatios, 1).toFixed(3)}, p99 ${percentile(estimateRatios, 99).toFixed(3)}; ${under.toLocaleString('en-US')} of ${estimateRatios.length.toLocaleString('en-US')} reserved less than was charged`);
    console.log(`  the estimator's calibration ratio over the run (about 0.88 fits this text): min ${percentile(ratios, 0).toFixed(3)}, median ${median(ratios).toFixed(3)}, max ${percentile(ratios, 100).toFixed(3)}, last ${estimator.ratio.toFixed(3)}`);
    console.log(`  store: ${await router.store.pendingReservations()} reservations left; wall time ${(wallMs / 1000).toFixed(1)} s`);
  } finally {
    globalThis.fetch = realFetch;
    await router.close();
    await emulator.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runUtilisationBench();
