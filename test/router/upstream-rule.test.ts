/**
 * The router learns the upstream's rule from its headers: the real SDK against the emulator in each of its
 * shapes, on one fake clock. Calls are made one after the other, so no call waits for quota.
 */
import { expect } from 'chai';
import type { UpstreamCharge, UpstreamWindow } from '../../lib/emulator/index.js';
import { QuotaExhaustedError } from '../../lib/errors.js';
import type { Router } from '../../lib/index.js';
import { closeUpstreamRuns, startUpstreamRun } from '../helpers/upstream-run.js';

const KEY = 'sk-test-upstream-rule-0123456789';
const MODEL = 'mistral-small-2503';
const content = 'Summarise the quarterly report in three sentences, for the board. '.repeat(8);

afterEach(closeUpstreamRuns);

const start = (window: UpstreamWindow, charge: UpstreamCharge, tokensPerMinute = 1_000_000) =>
  startUpstreamRun({ key: KEY, t0: Date.UTC(2026, 0, 5, 9, 0, 14), window, charge, phaseMs: 20_000, models: { [MODEL]: tokensPerMinute }, maxWaitMs: 0 });

const ask = (router: Router, maxTokens = 90) => router.chat.complete({ model: MODEL, messages: [{ role: 'user', content }], maxTokens });

describe('router: the upstream rule learned from headers', () => {
  for (const window of ['fixed', 'sliding'] as const) {
    for (const charge of ['max-tokens', 'max-tokens-corrected', 'usage'] as const) {
      it(`${charge} on a ${window} window: the charge within 3 responses, the window once a boundary or an expiry shows it`, async () => {
        const { clock, router, learned } = await start(window, charge);
        let calls = 0;
        let chargeAfter: number | undefined;
        // Every 400 ms across the fixed boundary at :20, then across the first calls' expiry a minute later.
        for (const [from, to] of [[0, 12_000], [58_000, 66_000]] as const) {
          for (let t = from; t < to; t += 400) {
            clock.set(Date.UTC(2026, 0, 5, 9, 0, 14) + t);
            await ask(router);
            calls++;
            if (chargeAfter === undefined && learned.at(-1)?.charge === charge) chargeAfter = calls;
          }
        }
        expect(chargeAfter, 'responses before the charge rule was known').to.equal(3);
        const last = learned.at(-1);
        expect(last?.charge).to.equal(charge);
        expect(last?.window?.kind).to.equal(window);
        if (last?.window?.kind === 'fixed') {
          expect(last.window.uncertaintyMs).to.be.at.most(400);
          expect(20_000).to.be.within(last.window.phaseMs, last.window.phaseMs + last.window.uncertaintyMs);
        }
      });
    }
  }

  it('settles at what the upstream holds: prompt + max_tokens when it keeps it, the usage when it corrects', async () => {
    for (const charge of ['max-tokens', 'max-tokens-corrected'] as const) {
      const { router, store, emulator } = await start('fixed', charge);
      for (let i = 0; i < 4; i++) await ask(router);
      const used = async () => (await store.snapshot('w')).find((w) => w.kind === 'tokens-per-minute')?.used ?? 0;
      const charged = () => emulator.stats().tokens[MODEL]?.chargedTokens ?? 0;
      const [storeBefore, upstreamBefore] = [await used(), charged()];
      await ask(router);
      expect((await used()) - storeBefore, charge).to.equal(charged() - upstreamBefore);
      expect(charged() - upstreamBefore).to.equal(charge === 'max-tokens' ? 139 + 90 : 139 + 30);
    }
  });

  it('reserves a repeated prompt at its measured size: calls of 1,000 tokens fill 20,000 tokens exactly', async () => {
    const { router, emulator } = await start('sliding', 'max-tokens', 20_000);
    const first = await ask(router, 100);
    const prompt = first.usage.promptTokens ?? 0;
    // With maxTokens 0 the router goes on to the model's fallbacks once its window is full.
    let served = 1;
    for (let i = 0; i < 30 && (await ask(router, 1_000 - prompt)).model === MODEL; i++) served++;
    // 20,000 - (prompt + 100) leaves room for exactly floor(...) calls of 1,000: none is lost to the estimate.
    expect(served).to.equal(1 + Math.floor((20_000 - prompt - 100) / 1_000));
    expect(emulator.stats().responses['429'] ?? 0).to.equal(0);
  });

  it('reserves the prompt alone once the upstream charges only the usage after the fact', async () => {
    const { router, emulator } = await start('fixed', 'usage', 2_000);
    // max_tokens 1,800: prompt + max_tokens never fits twice, the prompt and a third of it does.
    let served = 0;
    for (let i = 0; i < 8; i++) {
      try {
        await ask(router, 1_800);
        served++;
      } catch (error) {
        expect(error).to.be.instanceOf(QuotaExhaustedError);
      }
    }
    expect(served).to.be.greaterThan(1);
    expect(emulator.stats().responses['429'] ?? 0).to.equal(0);
  });

  // Each case: the headers a hostile or broken upstream sends on the i-th settle of a 5,000-token window.
  const hostile: Record<string, (i: number) => Record<string, string>> = {
    'a cost larger than the limit': (i) => ({ 'x-ratelimit-limit-tokens-minute': '5000', 'x-ratelimit-remaining-tokens-minute': String(5_000 - 500 * (i + 1)), 'x-ratelimit-tokens-query-cost': '9999999' }),
    'garbage numbers': (i) => ({ 'x-ratelimit-limit-tokens-minute': ['abc', '1e400', '-5', '5000.5', ''][i % 5] as string, 'x-ratelimit-remaining-tokens-minute': ['NaN', '0x1388', '-1', 'Infinity', '5,000'][i % 5] as string, 'x-ratelimit-tokens-query-cost': ['', 'null', '-0', '1e9', 'x'][i % 5] as string }),
    'a remaining above the limit': () => ({ 'x-ratelimit-limit-tokens-minute': '5000', 'x-ratelimit-remaining-tokens-minute': '90000', 'x-ratelimit-tokens-query-cost': '500' }),
    'a rule learned, then denied': (i) => ({ 'x-ratelimit-limit-tokens-minute': '5000', 'x-ratelimit-remaining-tokens-minute': String(i < 4 ? 5_000 - 500 * (i + 1) : 5_000), 'x-ratelimit-tokens-query-cost': String(i < 4 ? 500 : 0) }),
  };
  /** 30 reservations of the model under attack, each settled with the headers `headersAt(i)`: how many were admitted. */
  async function admittedUnder(router: Router, headersAt: (i: number) => Record<string, string>): Promise<number> {
    const request = { model: MODEL, messages: [{ role: 'user' as const, content }], maxTokens: 400 };
    let admitted = 0;
    for (let i = 0; i < 30; i++) {
      let lease;
      try {
        lease = await router.reserve('chat', request);
      } catch (error) {
        expect(error).to.be.instanceOf(QuotaExhaustedError);
        continue;
      }
      if (lease.model !== MODEL) {
        await lease.release(); // a fallback model: not the window under attack
        continue;
      }
      admitted++;
      await lease.settle({ promptTokens: 100, totalTokens: 500 }, new Headers(headersAt(i)));
    }
    return admitted;
  }

  for (const [name, headersAt] of Object.entries(hostile)) {
    it(`hostile headers (${name}) never let it admit past the limit`, async () => {
      const { router } = await start('fixed', 'max-tokens', 5_000);
      // 500 tokens a call (the prompt's measured size + max_tokens after the first estimate) under 5,000: 10 at most.
      expect(await admittedUnder(router, headersAt)).to.be.at.most(10);
    });
  }

  it('hostile headers (a remaining that grows without a reset, a negative cost) never let it admit past the limit', async () => {
    const { router, store } = await start('fixed', 'max-tokens', 5_000);
    // The "upstream" claims everything is free again, and a negative cost.
    const admitted = await admittedUnder(router, (i) => ({
      'x-ratelimit-limit-tokens-minute': '5000',
      'x-ratelimit-remaining-tokens-minute': String(5_000 - (i % 2) * 500),
      'x-ratelimit-tokens-query-cost': '-500',
    }));
    // 10 of 500 tokens (the prompt's measured size + max_tokens, after the first estimate): the limit, no more.
    expect(admitted).to.equal(10);
    const window = (await store.snapshot('w')).find((w) => w.kind === 'tokens-per-minute');
    expect(window?.used).to.be.at.most(5_000);
  });
});
