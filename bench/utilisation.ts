/**
 * Quota utilisation on every upstream shape (issue 19): replay the Azure LLM inference traces (conv.csv and
 * code.csv) through the router against the emulator, for every combination of the emulator's window kind
 * (fixed minute windows with an unknown phase, a sliding 60-second log) and charge rule (prompt + max_tokens
 * at admission corrected to the usage, the same not corrected, the usage only after the fact), with
 * tokens-per-minute limits well below the trace's demand on the two models the need leaves eligible.
 *
 * The reference is an exact greedy admitter written here: it meters with the emulator's own window classes
 * and charge arithmetic (so it knows the rule, the window and the phase exactly, and every prompt's exact
 * size), takes the same arrivals, waits the same way (FIFO, at most maxWaitMs, a waiter that cannot make its
 * bound leaves) and admits every request that fits, first model first. A second reference, "any-fit", admits
 * any waiter that fits, not only the head: it shows what the FIFO discipline itself costs (the router's wait
 * queue is FIFO per pair by design, so that figure is not a target).
 *
 * Targets: the router serves >= 99% of the greedy admitter's tokens in every combination, with at most 1
 * upstream 429 per 1,000 requests; and on two models of 20,000 tokens/minute with 1,000-token requests it
 * serves 40 of 40 in the first minute.
 *
 * Time: the emulator and the router share one FakeClock, moved to each arrival and to each timer the
 * router sets (sped up by SPEEDUP), one instant at a time. Each HTTP exchange completes before the clock
 * moves again (in-flight fetches are counted), so the emulator meters a call at the instant the router
 * reserved it and answers it at that instant: the run is exact and repeatable.
 *
 * Requests: one user message whose text makes the emulator count exactly `ContextTokens` prompt tokens
 * (3 + 4 + ceil(characters / 4), lib/emulator/token-estimate.ts; rows under 8 tokens count 8), a different
 * text per row (so the router estimates every prompt: nothing repeats in these traces), `maxTokens =
 * 2 x GeneratedTokens + 16` (a cap above what the reply uses, as callers set it) and a reply of exactly
 * `GeneratedTokens` (the emulator's completionTokens). Served tokens are prompt + completion.
 *
 *   node dist/bench/utilisation.js
 *   BENCH_TRACE_MINUTES=60 BENCH_TRACE_SPEEDUP=4 BENCH_LIMIT_SHARE=0.5 BENCH_COMBOS=conv/sliding/usage,code/fixed/max-tokens
 *   BENCH_DEBUG=1   (the rules learned, fallbacks, and each upstream 429 with its headers and the store's count)
 */
import { execSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { catalog2025 } from '../test/helpers/catalog-2025.js';
import { FakeClock } from '../lib/clock.js';
import { startEmulator, type UpstreamCharge, type UpstreamWindow } from '../lib/emulator/index.js';
import { CHAT_REQUEST_OVERHEAD_TOKENS, CHARACTERS_PER_TOKEN, MESSAGE_OVERHEAD_TOKENS } from '../lib/emulator/index.js';
import { requestCharge } from '../lib/emulator/charging.js';
import { minuteWindow, type MeterWindow } from '../lib/emulator/windows.js';
import { QuotaExhaustedError } from '../lib/errors.js';
import { normaliseNeed, type Need } from '../lib/need.js';
import { MemoryStore } from '../lib/quota/memory/index.js';
import { createRouter } from '../lib/router/router.js';
import { rankModels } from '../lib/router/plan.js';
import { TokenEstimator } from '../lib/tokens.js';
import { readTrace, type TraceRequest } from '../lib/simulate/trace.js';
import { median } from './stats.js';

const DATA = '../../../shared/data/azure-llm-inference-2023/';
/** The trace, beside the repository (CI checks out ../shared next to it); MISTRAL_ROUTER_TRACE overrides conv.csv. */
export function tracePath(name: 'conv' | 'code' = 'conv'): string {
  if (name === 'conv' && process.env.MISTRAL_ROUTER_TRACE !== undefined) return process.env.MISTRAL_ROUTER_TRACE;
  return fileURLToPath(new URL(`${DATA}${name}.csv`, import.meta.url));
}

/** The eligible pair: function calling, restricted by family to exactly these two models. */
const NEED: Need = { capabilities: ['function_calling'], family: ['mistral-nemo', 'ministral-8b'] };
const MAX_WAIT_MS = 10_000;
/** A fixed upstream window starts this far past the clock's minute (BENCH_PHASE_MS): the router has to learn the phase. */
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 17_000);
const MIN_PROMPT = CHAT_REQUEST_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS + 1;
const WINDOWS: readonly UpstreamWindow[] = ['fixed', 'sliding'];
const CHARGES: readonly UpstreamCharge[] = ['max-tokens-corrected', 'max-tokens', 'usage'];

/** One request of a replay, in the emulator's exact counts. */
interface Arrival {
  /** Virtual ms after the start. */
  readonly at: number;
  readonly prompt: number;
  readonly maxTokens: number;
  readonly completion: number;
  readonly content: string;
}

const maxTokensFor = (generated: number) => 2 * generated + 16;
const completionFor = (maxTokens: number) => (maxTokens - 16) / 2;

/** Texts of exactly `tokens` emulator prompt tokens, each different (a serial number leads), for one user message. */
function textFor(tokens: number, serial: number): string {
  const characters = CHARACTERS_PER_TOKEN * (tokens - CHAT_REQUEST_OVERHEAD_TOKENS - MESSAGE_OVERHEAD_TOKENS);
  const head = `#${serial} `;
  const body = 'Le renard brun saute par-dessus le chien paresseux; the quick brown fox jumps over the lazy dog. ';
  const text = head + body.repeat(Math.ceil(characters / body.length) + 1);
  return text.slice(0, characters);
}

function arrivalsOf(rows: readonly TraceRequest[], speedup: number): Arrival[] {
  return rows.map((row, i) => {
    const prompt = Math.max(row.promptTokens, MIN_PROMPT);
    const maxTokens = maxTokensFor(row.maxTokens);
    return { at: Math.round(row.at / speedup), prompt, maxTokens, completion: row.maxTokens, content: textFor(prompt, i) };
  });
}

/** A FakeClock that tells when its next timer falls due, so that the replay moves one instant at a time. */
class SteppedClock extends FakeClock {
  readonly #due = new Map<number, number>();
  #id = 0;

  override setTimer(callback: () => void, ms: number): () => void {
    const id = this.#id++;
    this.#due.set(id, this.now() + Math.max(0, ms));
    const cancel = super.setTimer(() => {
      this.#due.delete(id);
      callback();
    }, ms);
    return () => {
      this.#due.delete(id);
      cancel();
    };
  }

  nextDue(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const at of this.#due.values()) if (at < next) next = at;
    return next;
  }
}

/** What one admitter served. */
interface Outcome {
  readonly served: number;
  /** Prompt + completion tokens of the served requests. */
  readonly tokens: number;
  readonly refused: number;
  readonly upstream429: number;
  readonly upstreamRequests: number;
  /** Phase probes the router's store sent (each a call let through while the phase was uncertain). */
  readonly probes?: number;
  /** Served calls whose reservation was below what the upstream charged. */
  readonly under?: number;
  /** Median of estimated prompt / emulator prompt over the served calls. */
  readonly estimateRatio?: number;
}

/**
 * The exact greedy admitter: the emulator's own windows and charge rule, every prompt's size known, the
 * same arrivals, FIFO waiting up to maxWaitMs (or, `anyFit`, any waiter that fits goes), first model first.
 */
function greedy(arrivals: readonly Arrival[], window: UpstreamWindow, charge: UpstreamCharge, phaseMs: number, limits: readonly number[], start: number, anyFit = false): Outcome {
  const windows: MeterWindow[] = limits.map(() => minuteWindow(window, phaseMs));
  const needOf = (a: Arrival) => requestCharge(charge, a.prompt, a.maxTokens, a.completion).need;
  let served = 0;
  let tokens = 0;
  let refused = 0;
  const fitDelay = (a: Arrival, now: number) => Math.min(...windows.map((w, m) => w.retryAfterMs(now, needOf(a), limits[m] as number)));
  const admit = (a: Arrival, now: number): boolean => {
    const need = needOf(a);
    for (let m = 0; m < windows.length; m++) {
      const w = windows[m] as MeterWindow;
      if (w.used(now) + need > (limits[m] as number)) continue;
      // Replies are instant: the correction or the after-the-fact charge lands at the same instant.
      const c = requestCharge(charge, a.prompt, a.maxTokens, a.completion);
      const handle = w.charge(now, c.atAdmission);
      if (charge === 'max-tokens-corrected') w.correct(handle, now, c.afterResponse);
      else if (charge === 'usage') w.charge(now, c.afterResponse);
      served++;
      tokens += a.prompt + a.completion;
      return true;
    }
    return false;
  };
  const queue: Arrival[] = [];
  let next = 0;
  let now = start;
  for (;;) {
    // Serve the queue at `now`: FIFO from the head (any-fit: every waiter in order); a waiter that cannot
    // make its bound leaves.
    for (let i = 0; i < queue.length; ) {
      const a = queue[i] as Arrival;
      if (admit(a, now)) queue.splice(i, 1);
      else if (now + fitDelay(a, now) > start + a.at + MAX_WAIT_MS) {
        queue.splice(i, 1);
        refused++;
      } else if (anyFit) i++;
      else break;
    }
    const arrival = arrivals[next];
    if (arrival === undefined && queue.length === 0) break;
    // The next instant anything can change: an arrival, or capacity the head (any waiter) waits for.
    let t = arrival === undefined ? Number.POSITIVE_INFINITY : start + arrival.at;
    for (const a of anyFit ? queue : queue.slice(0, 1)) t = Math.min(t, now + fitDelay(a, now));
    now = Math.max(now, t);
    while (arrivals[next] !== undefined && start + (arrivals[next] as Arrival).at <= now) queue.push(arrivals[next++] as Arrival);
  }
  return { served, tokens, refused, upstream429: 0, upstreamRequests: served };
}

interface RouterRun {
  readonly arrivals: readonly Arrival[];
  readonly window: UpstreamWindow;
  readonly charge: UpstreamCharge;
  readonly phaseMs: number;
  readonly limits: readonly number[];
  readonly start: number;
  /** The reply's completion tokens, from its max_tokens. */
  readonly reply: (maxTokens: number) => number;
}

/** The router against the emulator of that shape, on one stepped fake clock. */
async function routed(eligible: readonly string[], run: RouterRun): Promise<Outcome & { servedByMinute: (minute: number) => number }> {
  const clock = new SteppedClock(run.start);
  const apiKey = 'sk-bench-replay-0123456789';
  const overrides = { requestsPerSecond: null, models: Object.fromEntries(eligible.map((id, m) => [id, { tokensPerMinute: run.limits[m] as number, tokensPerMonth: null }])) };
  const emulator = await startEmulator({
    tier: 'free',
    catalog: catalog2025,
    clock,
    apiKeys: [apiKey],
    overrides,
    upstream: { window: run.window, charge: run.charge, phaseMs: run.phaseMs },
    completionTokens: ({ maxTokens }) => run.reply(maxTokens),
  });
  const estimator = new TokenEstimator();
  const store = new MemoryStore({ clock });
  if (process.env.BENCH_DEBUG) {
    const reserve = store.reserveSync.bind(store);
    store.reserveSync = (request) => {
      const before = store.probes;
      const result = reserve(request);
      if (store.probes !== before && result.ok) console.log(`    ${((clock.now() - run.start) / 1000).toFixed(3)} s probe ${result.reservation.model} (${result.reservation.tokens} tokens)`);
      return result;
    };
  }
  const router = createRouter({
    catalog: catalog2025,
    workspaces: [{ name: 'replay', apiKey, tier: 'free', overrides }],
    serverURL: emulator.url,
    clock,
    store,
    tokenEstimator: estimator,
    maxWaitMs: MAX_WAIT_MS,
  });
  if (process.env.BENCH_DEBUG) {
    router.events.on('ruleLearned', (e) => console.log(`    ${((clock.now() - run.start) / 1000).toFixed(3)} s ruleLearned ${e.model} ${e.charge} ${JSON.stringify(e.window)}`));
    router.events.on('fallback', (e) => console.log(`    ${((clock.now() - run.start) / 1000).toFixed(3)} s fallback ${JSON.stringify(e)}`));
  }
  // Count HTTP exchanges in flight (headers and body) so that the clock only moves when none is.
  let inFlight = 0;
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    inFlight++;
    try {
      const response = await realFetch(input, init);
      const body = await response.arrayBuffer();
      if (process.env.BENCH_DEBUG && response.status === 429) {
        const h = Object.fromEntries([...response.headers].filter(([k]) => k.includes('ratelimit') || k.includes('retry')));
        const snap = (await router.store.snapshot()).filter((w) => w.kind === 'tokens-per-minute').map((w) => `${w.model}: used ${w.used} limit ${w.limit}`);
        console.log(`    ${((clock.now() - run.start) / 1000).toFixed(3)} s 429 ${JSON.stringify(h)} ${JSON.parse(String(init?.body ?? '{}')).model} router ${snap.join('; ')}`);
      }
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
  // One instant at a time: every timer the router set fires at its own instant, its calls complete there.
  const stepTo = async (target: number) => {
    while (clock.now() < target) {
      const next = Math.min(target, clock.nextDue());
      await clock.advanceAsync(Math.max(0, next - clock.now()));
      await quiesce();
    }
  };
  let served = 0;
  let tokens = 0;
  let refused = 0;
  let under = 0;
  const ratios: number[] = [];
  const servedAt: number[] = [];
  const calls: Promise<void>[] = [];
  try {
    for (const a of run.arrivals) {
      await stepTo(run.start + a.at);
      const call = router.chat.complete({ need: NEED, messages: [{ role: 'user', content: a.content }], maxTokens: a.maxTokens }).then(
        (result) => {
          served++;
          const used = result.routing.tokens.used ?? 0;
          tokens += used;
          servedAt.push(clock.now() - run.start);
          const estimatedPrompt = result.routing.tokens.estimated - a.maxTokens;
          ratios.push(estimatedPrompt / a.prompt);
          if (estimatedPrompt < a.prompt) under++;
        },
        (error: unknown) => {
          if (error instanceof QuotaExhaustedError) refused++;
          else throw error;
        },
      );
      calls.push(call);
      await quiesce();
    }
    // Drain: the calls still waiting are served or give up within maxWaitMs.
    let pending = true;
    const all = Promise.all(calls).then(() => (pending = false));
    for (let guard = 0; pending && guard < 100_000; guard++) await stepTo(Math.min(clock.nextDue(), clock.now() + 1_000));
    await all;
    const stats = emulator.stats();
    const requests = Object.entries(stats.responses).reduce((sum, [status, n]) => sum + (status === '200' || status === '429' ? n : 0), 0);
    return {
      served,
      tokens,
      refused,
      upstream429: stats.responses['429'] ?? 0,
      upstreamRequests: requests,
      probes: store.probes,
      under,
      estimateRatio: median(ratios),
      servedByMinute: (minute) => servedAt.filter((t) => t < minute * 60_000).length,
    };
  } finally {
    globalThis.fetch = realFetch;
    await router.close();
    await emulator.stop();
  }
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

export async function runUtilisationBench(): Promise<void> {
  const speedup = Number(process.env.BENCH_TRACE_SPEEDUP ?? 4);
  const minutes = Number(process.env.BENCH_TRACE_MINUTES ?? 12);
  const share = Number(process.env.BENCH_LIMIT_SHARE ?? 0.5);
  const only = process.env.BENCH_COMBOS?.split(',').map((s) => s.trim());
  const eligible = rankModels(catalog2025, normaliseNeed(NEED, 'chat', [], 'smallest-sufficient')).ranked.map((m) => m.id);
  if (eligible.length !== 2) throw new Error(`bench: the need leaves ${eligible.length} models eligible, expected 2: ${eligible.join(', ')}`);
  console.log(`load: ${execSync('uptime').toString().trim()}`);
  console.log(`utilisation: the first ${minutes} min of each trace sped up x${speedup}; 2 models (${eligible.join(' + ')}), each limited to ${share * 50}% of the replay's demand per minute (prompt + reply); maxWaitMs ${MAX_WAIT_MS}; fixed windows start ${PHASE_MS} ms past the minute`);
  const start = Date.UTC(2026, 0, 5, 9, 0, 0);
  const rows: string[] = [];
  let met = true;
  const wallStart = performance.now();
  for (const name of ['conv', 'code'] as const) {
    const trace = readTrace(tracePath(name), { minutes }).requests;
    const arrivals = arrivalsOf(trace, speedup);
    const spanMs = (arrivals[arrivals.length - 1]?.at ?? 0) + 1;
    const demand = arrivals.reduce((sum, a) => sum + a.prompt + a.completion, 0);
    const perModel = Math.floor(((demand / spanMs) * 60_000 * share) / eligible.length);
    const limits = eligible.map(() => perModel);
    console.log(`  ${name}.csv: ${arrivals.length.toLocaleString('en-US')} requests over ${(spanMs / 60_000).toFixed(2)} virtual min, demand ${Math.round((demand / spanMs) * 60_000).toLocaleString('en-US')} tokens/min; ${perModel.toLocaleString('en-US')} tokens/min per model`);
    for (const window of WINDOWS) {
      for (const charge of CHARGES) {
        const label = `${name}/${window}/${charge}`;
        if (only !== undefined && !only.includes(label)) continue;
        const reference = greedy(arrivals, window, charge, PHASE_MS, limits, start);
        const anyFit = greedy(arrivals, window, charge, PHASE_MS, limits, start, true);
        const t0 = performance.now();
        const router = await routed(eligible, { arrivals, window, charge, phaseMs: PHASE_MS, limits, start, reply: completionFor });
        const ratio = router.tokens / reference.tokens;
        const per1000 = (router.upstream429 / Math.max(1, router.upstreamRequests)) * 1000;
        const ok = ratio >= 0.99 && per1000 <= 1;
        met &&= ok;
        rows.push(
          `| ${label.padEnd(34)} | ${router.tokens.toLocaleString('en-US').padStart(11)} | ${reference.tokens.toLocaleString('en-US').padStart(11)} | ${pct(ratio).padStart(7)} | ${pct(router.tokens / anyFit.tokens).padStart(7)} | ${`${router.served}/${reference.served}`.padStart(11)} | ${`${router.upstream429} (${per1000.toFixed(2)})`.padStart(10)} | ${String(router.probes).padStart(6)} | ${(router.estimateRatio ?? 0).toFixed(4)} | ${String(router.under).padStart(5)} | ${ok ? 'met' : 'NOT met'} | ${((performance.now() - t0) / 1000).toFixed(1)} s |`,
        );
        console.log(rows[rows.length - 1]);
      }
    }
  }
  // Two models of 20,000 tokens/minute, requests of exactly 1,000 tokens (800 prompt + 200 max_tokens, all used),
  // one every 500 ms from the start of an upstream window: 40 fit in the first minute.
  const burst: string[] = [];
  for (const repeated of [true, false]) {
    for (const window of WINDOWS) {
      for (const charge of CHARGES) {
        const arrivals: Arrival[] = Array.from({ length: 120 }, (_, i) => ({ at: i * 500, prompt: 800, maxTokens: 200, completion: 200, content: textFor(800, repeated ? 0 : i) }));
        const router = await routed(eligible, { arrivals: arrivals.map((a) => ({ ...a })), window, charge, phaseMs: 0, limits: [20_000, 20_000], start, reply: (maxTokens) => maxTokens });
        const exact = greedy(arrivals, window, charge, 0, [20_000, 20_000], start);
        const first = router.servedByMinute(1);
        if (repeated) met &&= first === 40 && router.upstream429 === 0;
        burst.push(`| ${repeated ? 'one prompt, repeated' : 'a new prompt each'} | ${window}/${charge} | ${first} of 40 | ${router.upstream429} | ${exact.served}/${router.served} |`);
      }
    }
  }
  console.log('\n| trace/window/charge | router tokens | greedy tokens | router / greedy | router / any-fit | served router/greedy | upstream 429s (per 1,000) | probes | estimate / prompt (median) | under-reserved | >= 99%, <= 1 per 1,000 | wall |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log('\n| 20,000 tokens/min x 2 models, 1,000-token requests every 500 ms | window/charge | served in the first minute | upstream 429s | served greedy/router (whole run) |');
  console.log('|---|---|---|---|---|');
  for (const row of burst) console.log(row);
  console.log(`\ntargets ${met ? 'met' : 'NOT met'}; wall time ${((performance.now() - wallStart) / 1000).toFixed(1)} s; load: ${execSync('uptime').toString().trim()}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await runUtilisationBench();
