/**
 * The replay engine: a trace through the real router (createRouter) against the project's emulator,
 * both on one FakeClock, minutes of trace in seconds.
 *
 * Time: the clock moves to each arrival (trace time divided by `speedup`), in steps of at most
 * {@link STEP_MS} so that the router's wait timers fire and waiters are served in between. Before it
 * moves, every HTTP exchange in flight completes (upstreams.ts counts them): each emulator meters a call
 * at the instant the router reserved it, so a run is exact and the same trace gives the same counts.
 *
 * Requests: one user message sized so that the emulator counts the row's prompt tokens (prompt.ts), with
 * `maxTokens` the row's; the emulator's reply uses all of `max_tokens` (the Azure traces: what was generated).
 *
 * The result is per call (outcome, model, first choice, wait, tokens, instants) plus the emulators'
 * statistics; summary.ts and chart.ts turn it into the table and the report.
 */
import { performance } from 'node:perf_hooks';
import type { Catalog } from '../catalog/catalog.js';
import { FakeClock } from '../clock.js';
import { startEmulator } from '../emulator/index.js';
import type { EmulatorUpstream } from '../emulator/options.js';
import { createNodeFetch } from '../mistral/node-fetch.js';
import type { EmulatorStats } from '../emulator/stats.js';
import { RouterError } from '../errors.js';
import type { Need, Strategy } from '../need.js';
import { MemoryStore } from '../quota/memory/index.js';
import type { Plan } from '../router/decision.js';
import type { RouterOptions } from '../router/options.js';
import { createRouter, type Router } from '../router/router.js';
import { promptText, sentPromptTokens } from './prompt.js';
import type { TraceRequest } from './trace.js';
import { startUpstreams } from './upstreams.js';
import type { SimulatedWorkspace } from './workspace-file.js';

/** Virtual ms per clock step when nothing arrives (timers fire and waiters are served in between). */
export const STEP_MS = 100;

/** Options of {@link replay}. */
export interface ReplayOptions {
  readonly requests: readonly TraceRequest[];
  readonly catalog: Catalog;
  /** The pooled workspaces (router and emulator limits). At least one. */
  readonly workspaces: readonly SimulatedWorkspace[];
  /** The need of rows that give none. @default {} (chat) */
  readonly need?: Need;
  /** Trace ms per virtual ms: 4 replays 12 minutes of trace in 3 virtual minutes. @default 1 */
  readonly speedup?: number;
  /** The emulator's window shape and charge rule. @default { window: 'fixed', charge: 'max-tokens' } */
  readonly upstream?: EmulatorUpstream;
  /** The router's maxWaitMs (virtual ms). @default 30000 */
  readonly maxWaitMs?: number;
  /** The router's strategy. @default 'smallest-sufficient' */
  readonly strategy?: Strategy;
  /** The virtual instant of the first arrival, floored to the minute (the lifecycle is judged on its day). @default now */
  readonly start?: number;
  /**
   * More of the router's options (a `tokenEstimator` to watch its calibration, `maxAttempts`, another
   * `store` on the same clock, closed with the router...). The replay's own (workspaces, catalog, serverURL, fetch, clock) are not
   * replaceable; `maxWaitMs` and `strategy` above win over these.
   */
  readonly router?: Partial<Omit<RouterOptions, 'workspaces' | 'catalog' | 'serverURL' | 'fetch' | 'clock'>>;
  /** Called with the router once it exists, before the first arrival (to listen to its events). */
  readonly onRouter?: (router: Router) => void;
  /** Called after each arrival and each drain step. */
  readonly onProgress?: (progress: ReplayProgress) => void;
}

/** How far a replay is. */
export interface ReplayProgress {
  readonly arrived: number;
  readonly settled: number;
  readonly total: number;
  /** Virtual ms since the start. */
  readonly virtualMs: number;
}

/** What became of one request. `refused`: QuotaExhaustedError; `failed`: any other error (see `errorCode`). */
export type CallOutcome = 'served' | 'refused' | 'failed';

/** One request of the replay. Instants are virtual ms after the replay's start. */
export interface CallRecord {
  /** The row's line in the trace file. */
  readonly line: number;
  readonly arrivalMs: number;
  /** When it was served (admitted and answered: one instant on the replay's clock) or given up. */
  readonly endedMs: number;
  readonly outcome: CallOutcome;
  /** The model that answered; null unless served. */
  readonly model: string | null;
  readonly workspace: string | null;
  /** The plan's first candidate: the model the request would have used with quota to spare. */
  readonly firstChoice: string | null;
  /** Virtual ms the call waited for quota. */
  readonly waitedMs: number;
  /** Tokens the router reserved for the call (its estimate; 0 unless served). */
  readonly estimatedTokens: number;
  /** Tokens the response's usage reported (0 unless served). */
  readonly tokensUsed: number;
  /** Prompt tokens as sent plus maxTokens: what the request needed. */
  readonly demandTokens: number;
  /** Upstream attempts (more than 1: a fallback after an error). */
  readonly attempts: number;
  /** The error's code when not served (`QUOTA_EXHAUSTED`, `NO_ELIGIBLE_MODEL`...). */
  readonly errorCode?: string;
}

/** What a replay measured. */
export interface ReplayResult {
  /** Epoch ms of the replay's virtual start (minute-aligned). */
  readonly start: number;
  readonly speedup: number;
  readonly upstream: Required<Pick<EmulatorUpstream, 'window' | 'charge'>>;
  /** In trace order. */
  readonly calls: readonly CallRecord[];
  /** Virtual ms of the last arrival. */
  readonly spanMs: number;
  /** Tokens per minute each model may use, summed over the workspaces; null where one leaves it unmetered. */
  readonly limits: Readonly<Record<string, number | null>>;
  /** The emulators' statistics (upstream 429s, tokens charged per model). */
  readonly emulator: EmulatorStats;
  /** `fallback` events: an attempt failed upstream and the router tried another candidate. */
  readonly errorFallbacks: number;
  /** Reservations still held when the replay ended (0 unless the router leaked one). */
  readonly pendingReservations: number;
  /** Wall-clock ms the replay took (a figure to print, never to assert on). */
  readonly wallMs: number;
}

/** Replay `requests`; resolves once every call is served or has given up, with everything closed. */
export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const { requests, catalog, workspaces } = options;
  const speedup = options.speedup ?? 1;
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  if (workspaces.length === 0) throw new TypeError('replay: workspaces must name at least one workspace');
  if (!(speedup > 0) || !Number.isFinite(speedup)) throw new TypeError(`replay: speedup must be a number > 0, received ${String(speedup)}`);
  const upstream = { window: options.upstream?.window ?? 'fixed', charge: options.upstream?.charge ?? 'max-tokens', ...(options.upstream?.phaseMs === undefined ? {} : { phaseMs: options.upstream.phaseMs }) } as const;
  const start = Math.floor((options.start ?? Date.now()) / 60_000) * 60_000;
  await warmUp(catalog, options.need ?? {}, start);
  const clock = new FakeClock(start);
  const upstreams = await startUpstreams(catalog, workspaces, clock, upstream);
  const router = createRouter({
    ...options.router,
    store: options.router?.store ?? new MemoryStore({ clock }),
    catalog,
    workspaces: workspaces.map((w) => ({ name: w.name, apiKey: upstreams.keys.get(w.name) as string, tier: w.tier, ...(w.overrides === undefined ? {} : { overrides: w.overrides }) })),
    serverURL: upstreams.serverURL,
    fetch: upstreams.fetch,
    clock,
    maxWaitMs,
    ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
  });
  options.onRouter?.(router);
  let errorFallbacks = 0;
  router.events.on('fallback', () => void errorFallbacks++);

  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  // A few idle turns after the last exchange let the router settle and the call's callbacks run.
  const quiesce = async () => {
    for (let idle = 0, turns = 0; idle < 3; turns++) {
      if (turns > 1_000_000) throw new Error('replay: an HTTP exchange with the emulator never completed');
      await turn();
      idle = upstreams.inFlight() === 0 ? idle + 1 : 0;
    }
  };
  // With no timer set nothing can happen before `target`: one jump. Otherwise steps of STEP_MS, each followed
  // by the exchanges the timers started, so a waiter is served within a step of its instant.
  const stepTo = async (target: number) => {
    while (clock.now() < target) {
      const next = clock.pendingTimers === 0 ? target : Math.min(target, clock.now() + STEP_MS);
      await clock.advanceAsync(next - clock.now());
      await quiesce();
    }
  };

  const calls: (CallRecord | undefined)[] = new Array(requests.length);
  let settled = 0;
  const pending: Promise<void>[] = [];
  const wallStart = performance.now();
  const progress = (arrived: number) => options.onProgress?.({ arrived, settled, total: requests.length, virtualMs: clock.now() - start });
  try {
    for (const [index, row] of requests.entries()) {
      await stepTo(start + Math.round(row.at / speedup));
      const arrivalMs = clock.now() - start;
      const base = { line: row.line, arrivalMs, demandTokens: sentPromptTokens(row.promptTokens) + row.maxTokens };
      const call = router.chat.complete({ need: row.need ?? options.need ?? {}, messages: [{ role: 'user', content: promptText(row.promptTokens) }], maxTokens: row.maxTokens }).then(
        ({ routing }) => {
          settled++;
          const firstChoice = routing.plan.candidates[0]?.model ?? routing.model;
          calls[index] = { ...base, endedMs: clock.now() - start, outcome: 'served', model: routing.model, workspace: routing.workspace, firstChoice, waitedMs: routing.waitedMs, estimatedTokens: routing.tokens.estimated, tokensUsed: routing.tokens.used ?? 0, attempts: routing.attempts.length };
        },
        (error: unknown) => {
          settled++;
          const code = RouterError.isInstance(error) ? error.code : error instanceof Error ? error.name : 'UNKNOWN';
          const plan = (error as { plan?: Plan }).plan;
          const firstChoice = plan?.candidates[0]?.model ?? null;
          calls[index] = { ...base, endedMs: clock.now() - start, outcome: code === 'QUOTA_EXHAUSTED' ? 'refused' : 'failed', model: null, workspace: null, firstChoice, waitedMs: 0, estimatedTokens: 0, tokensUsed: 0, attempts: 0, errorCode: code };
        },
      );
      pending.push(call);
      await quiesce();
      progress(index + 1);
    }
    const spanMs = clock.now() - start;
    // Drain: the calls still waiting are served or give up within maxWaitMs (plus a refusal's retry-after).
    for (const deadline = clock.now() + maxWaitMs + 60_000; settled < requests.length && clock.now() < deadline; ) {
      await stepTo(clock.now() + STEP_MS);
      progress(requests.length);
    }
    const emulator = upstreams.stats();
    const pendingReservations = await router.store.pendingReservations();
    await router.close(); // a call still waiting (none, unless a timer was lost) ends with ROUTER_CLOSED
    await Promise.all(pending);
    return {
      start,
      speedup,
      upstream: { window: upstream.window, charge: upstream.charge },
      calls: calls as CallRecord[],
      spanMs,
      limits: modelLimits(catalog, workspaces, calls as CallRecord[]),
      emulator,
      errorFallbacks,
      pendingReservations,
      wallMs: performance.now() - wallStart,
    };
  } finally {
    await router.close();
    await upstreams.stop();
  }
}

/**
 * One call through a router and an emulator of its own, before the replay: the SDK loads modules on its
 * first request (its optional OpenTelemetry hooks), which takes longer than the replay's idle turns, so
 * without this the first arrivals would be served late on the replay's clock. Best effort: an error here
 * (a need nothing serves) is the replay's to report.
 */
async function warmUp(catalog: Catalog, need: Need, start: number): Promise<void> {
  const clock = new FakeClock(start);
  const emulator = await startEmulator({ catalog, clock, overrides: { requestsPerSecond: null } });
  const router = createRouter({ catalog, workspaces: [{ name: 'warm-up', apiKey: 'sk-simulate-warm-up', tier: catalog.tiers[0]?.name ?? 'free' }], serverURL: emulator.url, fetch: createNodeFetch(), clock, maxWaitMs: 0 });
  try {
    await router.chat.complete({ need, messages: [{ role: 'user', content: promptText(0) }], maxTokens: 1 });
  } catch {
    // see above
  } finally {
    await router.close();
    await emulator.stop();
  }
}

/** Tokens per minute of every model the calls used or wanted, summed over the workspaces (null: unmetered somewhere). */
function modelLimits(catalog: Catalog, workspaces: readonly SimulatedWorkspace[], calls: readonly CallRecord[]): Record<string, number | null> {
  const models = new Set<string>();
  for (const call of calls) {
    if (call.model !== null) models.add(call.model);
    if (call.firstChoice !== null) models.add(call.firstChoice);
  }
  const limits: Record<string, number | null> = {};
  for (const model of [...models].sort()) {
    let sum: number | null = 0;
    for (const workspace of workspaces) {
      const override = workspace.overrides?.models?.[model]?.tokensPerMinute;
      const limit = override !== undefined ? override : catalog.limits(workspace.tier, model).tokensPerMinute;
      sum = sum === null || limit === null ? null : sum + limit;
    }
    limits[model] = sum;
  }
  return limits;
}
