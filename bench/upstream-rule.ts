/**
 * The upstream-rule learner's CPU per settle (lib/quota/upstream-rule.ts): every settle of a pair with a
 * tokens-per-minute window is judged by six hypotheses, for ever, so its cost must not grow with the
 * calls in the window. One learner is fed a steady stream of responses at 60, 600, 1,800 and 6,000 calls
 * a window from a sliding upstream and from a fixed one (phase 17 s), each call answered 50-2,050 ms
 * after it was sent (so sends and answers interleave), every response's remaining exactly what a
 * max-tokens upstream that saw the same calls holds (the rule is learned, then re-checked on each one).
 * The samples are built before the clock starts; CPU is `process.cpuUsage` over the measured settles.
 *
 *   node dist/bench/upstream-rule.js
 *   BENCH_RULE_SIZES=600,1800 BENCH_RULE_WINDOWS=4 BENCH_RULE_MAX_ENTRIES=8192
 */
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { UpstreamRuleLearner, type ChargeSample } from '../lib/quota/upstream-rule.js';
import { createPrng } from '../lib/emulator/faults.js';

const PERIOD_MS = 60_000;
const PHASE_MS = 17_000;
const LIMIT = 1e12;
/** The learner's cap on the calls of a period (2,048 by default: past it nothing is learned, so 6,000 a window learns nothing). */
const MAX_ENTRIES = Number(process.env.BENCH_RULE_MAX_ENTRIES ?? 2_048);

/** `windows` periods of `perWindow` calls, in answer order, each with the remaining a `kind` upstream reports. */
export function samples(perWindow: number, windows: number, kind: 'sliding' | 'fixed'): ChargeSample[] {
  const next = createPrng(perWindow * 7 + (kind === 'fixed' ? 1 : 0));
  const calls: { sentAt: number; answeredAt: number; cost: number }[] = [];
  const start = Date.UTC(2026, 0, 5, 9, 0, 0);
  for (let i = 0; i < perWindow * windows; i++) {
    const sentAt = start + Math.floor((i * PERIOD_MS) / perWindow);
    calls.push({ sentAt, answeredAt: sentAt + 50 + Math.floor(next() * 2_000), cost: 200 + Math.floor(next() * 3_000) });
  }
  calls.sort((a, b) => a.answeredAt - b.answeredAt);
  const out: ChargeSample[] = [];
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i] as (typeof calls)[number];
    const now = call.answeredAt;
    // The upstream holds what the router's earlier-answered calls were charged, in its window, and this call.
    const from = kind === 'sliding' ? now - PERIOD_MS : Math.floor((now - PHASE_MS) / PERIOD_MS) * PERIOD_MS + PHASE_MS;
    let held = call.cost;
    for (let j = i - 1; j >= 0; j--) {
      const earlier = calls[j] as (typeof calls)[number];
      if (earlier.answeredAt < from - 2_100) break;
      if (kind === 'sliding' ? earlier.sentAt > from : earlier.sentAt >= from) held += earlier.cost;
    }
    out.push({ sentAt: call.sentAt, answeredAt: now, limit: LIMIT, remaining: LIMIT - held, queryCost: call.cost, usedTokens: call.cost });
  }
  return out;
}

/** µs of CPU per settle over the samples after the first `warm` windows, and what the learner believed at the end. */
export function measure(perWindow: number, kind: 'sliding' | 'fixed', windows: number): { us: number; settles: number; rule: string } {
  const all = samples(perWindow, windows + 2, kind);
  const learner = new UpstreamRuleLearner(PERIOD_MS, MAX_ENTRIES);
  const warm = perWindow * 2;
  for (let i = 0; i < warm; i++) learner.observe(all[i] as ChargeSample);
  const before = process.cpuUsage();
  for (let i = warm; i < all.length; i++) learner.observe(all[i] as ChargeSample);
  const used = process.cpuUsage(before);
  const settles = all.length - warm;
  const rule = learner.window;
  return { us: (used.user + used.system) / settles, settles, rule: `${learner.charge ?? 'none'}/${rule?.kind ?? 'none'}` };
}

export function runUpstreamRuleBench(): void {
  const sizes = (process.env.BENCH_RULE_SIZES ?? '60,600,1800,6000').split(',').map(Number);
  const windows = Number(process.env.BENCH_RULE_WINDOWS ?? 3);
  console.log(`upstream-rule learner: CPU per settle (process.cpuUsage, best of 3), at least ${windows} windows (and 6,000 settles) measured after 2 warm, cap ${MAX_ENTRIES} calls; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  // Warm the JIT on a run not reported, so that the first size's figure is not its compile.
  measure(600, 'fixed', 3);
  console.log('| calls a window | upstream | µs per settle | settles | believed |');
  console.log('|---|---|---|---|---|');
  for (const size of sizes) {
    for (const kind of ['sliding', 'fixed'] as const) {
      // At least 6,000 settles measured, so that a small window's figure is not the JIT's warm-up.
      const measured = Math.max(windows, Math.ceil(6_000 / size));
      const runs = [0, 1, 2].map(() => measure(size, kind, measured));
      const best = runs.reduce((a, b) => (b.us < a.us ? b : a));
      console.log(`| ${size.toLocaleString('en-US')} | ${kind} | ${best.us.toFixed(2)} | ${best.settles} | ${best.rule} |`);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) runUpstreamRuleBench();
