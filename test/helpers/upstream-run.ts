/**
 * A router in front of the emulator's upstream rules (window kind, charge rule, phase) on one fake clock,
 * with what it learned and fell back from: the setup of the upstream-rule and phase-probe tests.
 * `closeUpstreamRuns` (an afterEach) stops every run started since.
 */
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator, type UpstreamCharge, type UpstreamWindow } from '../../lib/emulator/index.js';
import { createRouter, type Router, type RouterEvents } from '../../lib/index.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import { catalog2025 } from './catalog-2025.js';
import { startHeaderProxy, type HeaderProxy, type HeaderRewrite } from './header-proxy.js';

export interface UpstreamRun {
  readonly clock: FakeClock;
  readonly emulator: Emulator;
  readonly router: Router;
  readonly store: MemoryStore;
  readonly learned: RouterEvents['ruleLearned'][];
  readonly fallbacks: RouterEvents['fallback'][];
  /** The header-rewriting proxy between router and emulator, when `rewrite` was given. */
  readonly proxy: HeaderProxy | undefined;
}

export interface UpstreamRunOptions {
  readonly key: string;
  /** The fake clock's start (epoch ms). */
  readonly t0: number;
  readonly window: UpstreamWindow;
  readonly charge: UpstreamCharge;
  /** Where the emulator's fixed windows start in the minute. */
  readonly phaseMs: number;
  /** Each model's tokens per minute (the emulator's and the router's); requests per second unlimited. */
  readonly models: Readonly<Record<string, number>>;
  readonly maxWaitMs: number;
  /** Rewrites the emulator's answers' headers on their way to the router (a proxy in between). */
  readonly rewrite?: HeaderRewrite;
}

const runs: UpstreamRun[] = [];

export async function closeUpstreamRuns(): Promise<void> {
  for (const run of runs.splice(0)) {
    await run.router.close();
    await run.proxy?.close();
    await run.emulator.stop();
  }
}

export async function startUpstreamRun(options: UpstreamRunOptions): Promise<UpstreamRun> {
  const clock = new FakeClock(options.t0);
  const overrides = { requestsPerSecond: null, models: Object.fromEntries(Object.entries(options.models).map(([model, tokensPerMinute]) => [model, { tokensPerMinute, tokensPerMonth: null }])) };
  const emulator = await startEmulator({
    catalog: catalog2025,
    clock,
    apiKeys: [options.key],
    overrides,
    upstream: { window: options.window, charge: options.charge, phaseMs: options.phaseMs },
    completionTokens: ({ maxTokens }) => Math.floor(maxTokens / 3),
  });
  const proxy = options.rewrite === undefined ? undefined : await startHeaderProxy(emulator.url, options.rewrite);
  const store = new MemoryStore({ clock });
  const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'w', apiKey: options.key, tier: 'free', overrides }], serverURL: proxy?.url ?? emulator.url, clock, store, maxWaitMs: options.maxWaitMs });
  const learned: RouterEvents['ruleLearned'][] = [];
  const fallbacks: RouterEvents['fallback'][] = [];
  router.events.on('ruleLearned', (event) => learned.push(event));
  router.events.on('fallback', (event) => fallbacks.push(event));
  const run = { clock, emulator, router, store, learned, fallbacks, proxy };
  runs.push(run);
  return run;
}
