/**
 * Phase probes (lib/quota/charge-log.ts, memory/rule-logs.ts, upstream-rule.ts `observeRefusal`): the
 * router against the emulator's fixed windows on one fake clock, with a load that fills each window
 * within seconds of its boundary and leaves the rest of the minute refused, so that no ordinary admission
 * straddles a boundary and only a probe can tell the phase.
 */
import { expect } from 'chai';
import type { UpstreamCharge } from '../../lib/emulator/index.js';
import { QuotaExhaustedError } from '../../lib/errors.js';
import type { RouterEvents } from '../../lib/index.js';
import type { MemoryStore } from '../../lib/quota/memory/index.js';
import type { HeaderRewrite } from '../helpers/header-proxy.js';
import { closeUpstreamRuns, startUpstreamRun, type UpstreamRun } from '../helpers/upstream-run.js';

const KEY = 'sk-test-phase-probe-0123456789';
/** The one model the single-model need leaves eligible: a full window makes calls wait, not move on. */
const MODEL = 'ministral-8b-2410';
const SINGLE = { capabilities: ['function_calling' as const], family: ['ministral-8b'] };
/** Two models the need leaves eligible (as in bench/utilisation.ts): a probe's 429 can fall back. */
const PAIR = ['ministral-8b-2410', 'open-mistral-nemo'] as const;
const NEED = { capabilities: ['function_calling' as const], family: ['mistral-nemo', 'ministral-8b'] };
const content = 'Summarise the quarterly report in three sentences, for the board. '.repeat(8);
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const LIMIT = 5_000;

type Run = UpstreamRun;

afterEach(closeUpstreamRuns);

const start = (charge: UpstreamCharge, phaseMs: number, options: { rewrite?: HeaderRewrite; models?: readonly string[] } = {}) =>
  startUpstreamRun({ key: KEY, t0: T0, window: 'fixed', charge, phaseMs, models: Object.fromEntries((options.models ?? [MODEL]).map((model) => [model, LIMIT])), maxWaitMs: 5_000, ...(options.rewrite === undefined ? {} : { rewrite: options.rewrite }) });

/** Real time for the HTTP exchanges in flight (reservations pending) to finish, the fake clock still. */
async function settleInFlight(store: MemoryStore): Promise<void> {
  for (let waited = 0; waited < 400 && (await store.pendingReservations()) > 0; waited++) await new Promise((resolve) => setTimeout(resolve, 1));
  await new Promise((resolve) => setImmediate(resolve));
}

interface Load {
  readonly served: number;
  readonly refused: number;
  /** Errors other than QuotaExhaustedError (a lost call). */
  readonly failed: unknown[];
}

/**
 * One call every `everyMs` of fake time for `seconds`, each of 139 prompt tokens + `maxTokens`, waiting up
 * to maxWaitMs; the clock moves 50 ms at a time, only while no call is in flight.
 */
async function load(run: Run, seconds: number, request: { maxTokens: number; byNeed?: boolean }, everyMs = 1_000): Promise<Load> {
  const { clock, router, store } = run;
  const outcome = { served: 0, refused: 0, failed: [] as unknown[] };
  const calls: Promise<void>[] = [];
  const ask = () =>
    (request.byNeed === true
      ? router.chat.complete({ need: NEED, messages: [{ role: 'user', content }], maxTokens: request.maxTokens })
      : router.chat.complete({ need: SINGLE, messages: [{ role: 'user', content }], maxTokens: request.maxTokens })
    ).then(
      () => void outcome.served++,
      (error: unknown) => void (error instanceof QuotaExhaustedError ? outcome.refused++ : outcome.failed.push(error)),
    );
  for (let t = 0; t < seconds * 1_000 + 6_000; t += 50) {
    if (t % everyMs === 0 && t < seconds * 1_000) calls.push(ask());
    await settleInFlight(store);
    await clock.advanceAsync(50);
  }
  await settleInFlight(store);
  await Promise.all(calls);
  return outcome;
}

/** Whether `phaseMs` lies in a fixed rule's arc (phaseMs, phaseMs + uncertaintyMs], modulo the minute. */
function inArc(rule: RouterEvents['ruleLearned']['window'], phaseMs: number): boolean {
  if (rule?.kind !== 'fixed') return false;
  const into = (((phaseMs - rule.phaseMs) % 60_000) + 60_000) % 60_000;
  return into > 0 && into <= rule.uncertaintyMs;
}

describe('router: phase probes on fixed upstream windows', function () {
  this.timeout(60_000);

  for (const charge of ['max-tokens', 'usage'] as const) {
    for (const phaseMs of [20_000, 43_000]) {
      it(`${charge}, windows starting ${phaseMs / 1000} s past the minute: the phase to within a second after at most 3 probes`, async () => {
        const run = await start(charge, phaseMs);
        // 500 tokens a call under max-tokens (10 a window); under usage the prompt must fit and 259 is
        // charged after: either way the window is full within seconds of its boundary.
        const outcome = await load(run, 200, { maxTokens: 361 });
        const last = run.learned.at(-1);
        expect(last?.charge).to.equal(charge);
        expect(last?.window?.kind).to.equal('fixed');
        expect(inArc(last?.window ?? null, phaseMs), JSON.stringify(last?.window)).to.equal(true);
        expect(last?.window?.kind === 'fixed' ? last.window.uncertaintyMs : Infinity).to.be.at.most(1_000);
        expect(run.store.probes).to.be.within(1, 3);
        const refusedUpstream = run.emulator.stats().responses['429'] ?? 0;
        expect(refusedUpstream, 'every upstream 429 is a probe').to.be.at.most(run.store.probes);
        expect(outcome.failed).to.deep.equal([]);
        expect(await run.store.pendingReservations()).to.equal(0);
      });
    }
  }

  it("a probe's 429 falls back to another model or waits: no call lost, nothing left pending", async () => {
    const run = await start('max-tokens', 20_000, { models: PAIR });
    const outcome = await load(run, 200, { maxTokens: 361, byNeed: true }, 500);
    const refusedUpstream = run.emulator.stats().responses['429'] ?? 0;
    expect(run.store.probes).to.be.greaterThan(0);
    expect(refusedUpstream, 'every upstream 429 is a probe').to.be.at.most(run.store.probes);
    // A probe's 429 is a quota fallback like any other: the call went on to the next candidate or waited.
    expect(run.fallbacks.filter((f) => f.status === 429)).to.have.length(refusedUpstream);
    expect(run.fallbacks.every((f) => f.reason === 'quota')).to.equal(true);
    expect(outcome.failed).to.deep.equal([]);
    expect(outcome.served + outcome.refused).to.equal(400);
    expect(await run.store.pendingReservations()).to.equal(0);
    const window = (await run.store.snapshot('w')).filter((w) => w.kind === 'tokens-per-minute');
    expect(window.map((w) => w.held)).to.deep.equal([0, 0]);
  });

  // Each: the Retry-After a hostile upstream sends on its 429s instead of the emulator's.
  const hostile: Record<string, string> = {
    negative: '-30',
    huge: '99999999',
    garbage: 'soon, maybe',
    'inconsistent with the learned phase (a boundary 59 s away while the arc says sooner)': '59',
    'a lie the arc allows (the boundary always 1 s away)': '1',
  };
  for (const [name, value] of Object.entries(hostile)) {
    it(`a hostile Retry-After (${name}) never lets it admit past the limit`, async () => {
      const run = await start('max-tokens', 20_000, { rewrite: (status, headers) => void (status === 429 && (headers['retry-after'] = value)) });
      // Every call of the router that reached the upstream, by the true window (from :20) it fell in.
      const sent = new Map<number, number>();
      const fetch = globalThis.fetch;
      globalThis.fetch = (input, init) => {
        const window = Math.floor((run.clock.now() - T0 - 20_000) / 60_000);
        sent.set(window, (sent.get(window) ?? 0) + 1);
        return fetch(input, init);
      };
      let outcome: Load;
      try {
        outcome = await load(run, 200, { maxTokens: 361 });
      } finally {
        globalThis.fetch = fetch;
      }
      // 500 tokens a call under 5,000: 10 a window; at most two more a period go as probes, and no claim
      // of the headers opens the window to more (a Retry-After is probed before it is believed).
      for (const [window, calls] of sent) expect(calls, `window ${window}`).to.be.at.most(12);
      expect(run.emulator.stats().responses['429'] ?? 0).to.be.at.most(run.store.probes);
      // Two probes a period at most; what is learned holds the true phase.
      expect(run.store.probes).to.be.at.most(8);
      const last = run.learned.at(-1)?.window;
      if (last?.kind === 'fixed') expect(inArc(last, 20_000), JSON.stringify(last)).to.equal(true);
      expect(outcome.failed).to.deep.equal([]);
      expect(await run.store.pendingReservations()).to.equal(0);
    });
  }
});
