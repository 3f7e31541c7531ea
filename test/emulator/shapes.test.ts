import { expect } from 'chai';
import { HTTPClient } from '@mistralai/mistralai/lib/http.js';
import { Mistral } from '@mistralai/mistralai';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../lib/emulator/index.js';
import { catalog2025 } from '../helpers/catalog-2025.js';
import { rejection } from './support.js';

const SMALL = 'mistral-small-2503';
// One user message "hello" costs 9 prompt tokens (see the token-estimate formula).
const PROMPT = 9;
const MINUTE = 'x-ratelimit-remaining-tokens-minute';
const COST = 'x-ratelimit-tokens-query-cost';

/** The real SDK with a hook that keeps the last response's headers. */
function client(emulator: Emulator): { sdk: Mistral; last: () => Headers } {
  let last = new Headers();
  const httpClient = new HTTPClient();
  httpClient.addHook('response', (response) => {
    last = response.headers;
  });
  return { sdk: new Mistral({ apiKey: 'workspace-a', serverURL: emulator.url, httpClient }), last: () => last };
}

const ask = (sdk: Mistral, maxTokens: number) => sdk.chat.complete({ model: SMALL, messages: [{ role: 'user', content: 'hello' }], maxTokens });

describe('emulator upstream shapes', () => {
  let emulator: Emulator | undefined;
  afterEach(async () => {
    await emulator?.stop();
    emulator = undefined;
  });

  async function start(clock: FakeClock, options: EmulatorOptions, tokensPerMinute = 100): Promise<ReturnType<typeof client>> {
    emulator = await startEmulator({ catalog: catalog2025, clock, overrides: { requestsPerSecond: null, models: { [SMALL]: { tokensPerMinute, tokensPerMonth: null } } }, ...options });
    return client(emulator);
  }

  describe('window', () => {
    it('sliding: a charge leaves exactly 60 s after it was made, not on the minute, and Retry-After says when', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 40));
      const { sdk, last } = await start(clock, { upstream: { window: 'sliding' } });
      await ask(sdk, 50 - PROMPT); // 50 at 12:00:40
      clock.advance(10_000);
      await ask(sdk, 50 - PROMPT); // 50 at 12:00:50: full
      expect(last().get(MINUTE)).to.equal('0');
      clock.advance(15_000); // 12:01:05: a fixed window would have started over
      const refused = await rejection(ask(sdk, 1));
      expect(refused.statusCode).to.equal(429);
      expect(last().get('retry-after')).to.equal('35'); // the 12:00:40 charge leaves at 12:01:40
      clock.advance(34_999);
      expect((await rejection(ask(sdk, 1))).statusCode).to.equal(429);
      clock.advance(1); // 12:01:40.000
      await ask(sdk, 50 - PROMPT);
      expect(last().get(MINUTE)).to.equal('0');
      clock.advance(10_000); // 12:01:50: the 12:00:50 charge left
      await ask(sdk, 0);
      expect(last().get(MINUTE)).to.equal(String(100 - 50 - PROMPT));
    });

    it('fixed with a phase: the minute starts phaseMs past the clock minute', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 10));
      const { sdk, last } = await start(clock, { upstream: { window: 'fixed', phaseMs: 15_000 } });
      await ask(sdk, 100 - PROMPT);
      clock.advance(4_999); // 12:00:14.999
      expect((await rejection(ask(sdk, 0))).statusCode).to.equal(429);
      expect(last().get('retry-after')).to.equal('1');
      clock.advance(1); // 12:00:15.000: the window starts over
      await ask(sdk, 0);
      expect(last().get(MINUTE)).to.equal(String(100 - PROMPT));
    });

    it('the legacy reset header reports when the sliding log next gives capacity back', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
      const { sdk, last } = await start(clock, { upstream: { window: 'sliding' }, faults: { headerFamily: 'legacy' } });
      await ask(sdk, 1);
      clock.advance(20_500);
      await ask(sdk, 1);
      expect(last().get('ratelimitbysize-reset')).to.equal('40'); // the first charge leaves in 39.5 s
    });
  });

  describe('charge', () => {
    it('max-tokens: prompt + max_tokens at admission, kept, whatever the reply used (completionTokens)', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
      const { sdk, last } = await start(clock, { upstream: { charge: 'max-tokens' }, completionTokens: 5 });
      const first = await ask(sdk, 40);
      expect(first.usage).to.deep.include({ promptTokens: PROMPT, completionTokens: 5, totalTokens: PROMPT + 5 });
      expect(last().get(COST)).to.equal(String(PROMPT + 40));
      expect(last().get(MINUTE)).to.equal(String(100 - PROMPT - 40));
      await ask(sdk, 2);
      expect(last().get(MINUTE)).to.equal(String(100 - PROMPT - 40 - PROMPT - 2));
      expect(emulator?.stats().tokens[SMALL]).to.deep.include({ totalTokens: PROMPT + 5 + PROMPT + 2, chargedTokens: PROMPT + 40 + PROMPT + 2 });
    });

    it('max-tokens-corrected: charged prompt + max_tokens, refunded to the real usage once the reply is sent', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
      const { sdk, last } = await start(clock, { upstream: { charge: 'max-tokens-corrected' }, completionTokens: 5 });
      await ask(sdk, 40);
      // The headers went out before the correction: they show the admission charge.
      expect(last().get(COST)).to.equal(String(PROMPT + 40));
      expect(last().get(MINUTE)).to.equal(String(100 - PROMPT - 40));
      await ask(sdk, 40);
      expect(last().get(MINUTE)).to.equal(String(100 - (PROMPT + 5) - (PROMPT + 40)));
      // The request must still fit whole (prompt + max_tokens) to be admitted.
      expect((await rejection(ask(sdk, 100 - (PROMPT + 5) * 2 - PROMPT + 1))).statusCode).to.equal(429);
      expect(emulator?.stats().tokens[SMALL]).to.deep.include({ totalTokens: 2 * (PROMPT + 5), chargedTokens: 2 * (PROMPT + 5) });
    });

    it('usage: admitted while the prompt fits, charged the real usage after the reply', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
      const { sdk, last } = await start(clock, { upstream: { charge: 'usage' }, completionTokens: ({ maxTokens }) => maxTokens / 2 }, 40);
      await ask(sdk, 60); // uses 9 + 30: admitted although 9 + 60 would not fit
      expect(last().get(COST)).to.equal(String(PROMPT + 30));
      expect(last().get(MINUTE)).to.equal('40'); // charged after the headers went out
      expect((await rejection(ask(sdk, 0))).statusCode).to.equal(429); // 39 held: the prompt does not fit
      expect(last().get(MINUTE)).to.equal('1');
      clock.advance(60_000);
      await ask(sdk, 0);
      expect(last().get(MINUTE)).to.equal('40');
      expect(emulator?.stats().tokens[SMALL]).to.deep.include({ requests: 2, totalTokens: PROMPT + 30 + PROMPT, chargedTokens: PROMPT + 30 + PROMPT });
    });

    it('caps the completion at max_tokens and at 0', async () => {
      const clock = new FakeClock();
      const { sdk } = await start(clock, { completionTokens: ({ maxTokens }) => maxTokens * 3 - 1000 }, 100_000);
      expect((await ask(sdk, 600)).usage.completionTokens).to.equal(600);
      expect((await ask(sdk, 100)).usage.completionTokens).to.equal(0);
    });
  });

  it('configure({ upstream }) starts the meters over with the new shape', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 30));
    const { sdk, last } = await start(clock, {});
    await ask(sdk, 100 - PROMPT);
    emulator?.configure({ upstream: { window: 'sliding' } });
    await ask(sdk, 1);
    expect(last().get(MINUTE)).to.equal(String(100 - PROMPT - 1));
    clock.advance(30_000); // 12:01:00: a fixed window would start over; the log keeps the charge
    await ask(sdk, 1);
    expect(last().get(MINUTE)).to.equal(String(100 - 2 * (PROMPT + 1)));
  });

  it('rejects upstream and completionTokens options that cannot work, naming them', async () => {
    const bad: EmulatorOptions[] = [
      { upstream: { window: 'rolling' as 'fixed' } },
      { upstream: { charge: 'later' as 'usage' } },
      { upstream: { phaseMs: 60_000 } },
      { completionTokens: -1 },
    ];
    for (const options of bad) {
      const error = await rejection(startEmulator({ catalog: catalog2025, ...options }));
      expect(error).to.be.instanceOf(TypeError);
      expect(error.message).to.match(/^(upstream\.(window|charge|phaseMs)|completionTokens) /);
    }
  });
});
