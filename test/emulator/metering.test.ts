import { expect } from 'chai';
import { HTTPClient } from '@mistralai/mistralai/lib/http.js';
import { Mistral } from '@mistralai/mistralai';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { chatBody, post, rejection, sdk } from './support.js';
import { catalog2025 } from '../helpers/catalog-2025.js';

const SMALL = 'mistral-small-2503';
// chatBody(model, n) costs 9 prompt tokens + n: see the token-estimate formula.
const PROMPT = 9;
const TOKENS_429 = { object: 'error', message: 'Rate limit exceeded', type: 'rate_limited', param: null, code: '1300' };

describe('emulator metering', () => {
  let emulator: Emulator | undefined;
  afterEach(async () => {
    await emulator?.stop();
    emulator = undefined;
  });

  describe('requests per second (free tier: 1)', () => {
    it('refuses a second request in the same second and serves the next second (SDK)', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0, 100));
      emulator = await startEmulator({ catalog: catalog2025, tier: 'free', clock });
      const client = sdk(emulator);
      const request = { model: SMALL, messages: [{ role: 'user' as const, content: 'hello' }], maxTokens: 1 };
      await client.chat.complete(request);
      clock.advance(899); // 12:00:00.999, still the same second
      const error = await rejection(client.chat.complete(request));
      expect(error.statusCode).to.equal(429);
      expect(JSON.parse(error.body ?? '')).to.deep.equal({ message: 'Requests rate limit exceeded' });
      clock.advance(1); // 12:00:01.000
      expect((await client.chat.complete(request)).usage.totalTokens).to.equal(PROMPT + 1);
      expect(emulator.stats().rateLimited['requests-per-second']).to.equal(1);
      // The refused request charged nothing: two requests of 10 tokens.
      expect(emulator.stats().tokens[SMALL]?.totalTokens).to.equal(2 * (PROMPT + 1));
    });

    it('meters each API key as its own workspace', async () => {
      emulator = await startEmulator({ catalog: catalog2025, clock: new FakeClock() });
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1), 'a')).status).to.equal(200);
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1), 'b')).status).to.equal(200);
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1), 'a')).status).to.equal(429);
    });

    it('counts the workspace across models', async () => {
      emulator = await startEmulator({ catalog: catalog2025, clock: new FakeClock() });
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1))).status).to.equal(200);
      expect((await post(emulator, '/v1/embeddings', { model: 'mistral-embed', input: 'x' })).status).to.equal(429);
    });
  });

  describe('tokens per minute and per month, at the exact boundary', () => {
    it('admits up to the minute limit exactly, refuses one token more, and resets on the minute', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 30));
      emulator = await startEmulator({
    catalog: catalog2025,
        clock,
        overrides: { requestsPerSecond: null, models: { [SMALL]: { tokensPerMinute: 100 } } },
      });
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 50 - PROMPT))).status).to.equal(200);
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 51 - PROMPT))).status).to.equal(429);
      const full = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 50 - PROMPT));
      expect(full.status).to.equal(200);
      expect(full.headers.get('x-ratelimit-remaining-tokens-minute')).to.equal('0');
      const refused = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 0));
      expect(refused.status).to.equal(429);
      expect(refused.json).to.deep.equal(TOKENS_429);
      expect(refused.headers.get('retry-after')).to.equal('30');
      clock.advance(29_999); // 12:00:59.999
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 0))).status).to.equal(429);
      clock.advance(1); // 12:01:00.000
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 100 - PROMPT))).status).to.equal(200);
      expect(emulator.stats().rateLimited['tokens-per-minute']).to.equal(3);
    });

    it('admits up to the month limit exactly and resets at 00:00 UTC on the 1st', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 31, 23, 59, 0));
      emulator = await startEmulator({
    catalog: catalog2025,
        clock,
        overrides: { requestsPerSecond: null, models: { 'mistral-small-2503': { tokensPerMinute: null, tokensPerMonth: 100 } } },
      });
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 100 - PROMPT))).status).to.equal(200);
      const refused = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 0));
      expect(refused.status).to.equal(429);
      expect(refused.json).to.deep.equal(TOKENS_429);
      expect(refused.headers.get('retry-after')).to.equal('60');
      expect(refused.headers.get('x-ratelimit-remaining-tokens-month')).to.equal('0');
      clock.set(Date.UTC(2026, 0, 31, 23, 59, 59, 999));
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 0))).status).to.equal(429);
      clock.set(Date.UTC(2026, 1, 1));
      const next = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 0));
      expect(next.status).to.equal(200);
      expect(next.headers.get('x-ratelimit-remaining-tokens-month')).to.equal(String(100 - PROMPT));
      expect(emulator.stats().rateLimited['tokens-per-month']).to.equal(2);
    });

    it('meters tokens per (workspace, model): another model or key is unaffected', async () => {
      emulator = await startEmulator({
    catalog: catalog2025,
        clock: new FakeClock(),
        overrides: { requestsPerSecond: null, models: { [SMALL]: { tokensPerMinute: 10 } } },
      });
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1))).status).to.equal(200);
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1))).status).to.equal(429);
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1), 'other-key')).status).to.equal(200);
      expect((await post(emulator, '/v1/chat/completions', chatBody('open-mistral-nemo', 1))).status).to.equal(200);
    });

    it('accepts overrides given by alias', async () => {
      emulator = await startEmulator({ catalog: catalog2025, clock: new FakeClock(), overrides: { models: { 'mistral-small-latest': { tokensPerMinute: 5 } } } });
      const response = await post(emulator, '/v1/chat/completions', chatBody('mistral-small-2506', 1));
      expect(response.status).to.equal(429);
      expect(response.headers.get('x-ratelimit-limit-tokens-minute')).to.equal('5');
    });
  });

  describe('requests per minute (optional)', () => {
    it('refuses over the limit with the requests body and reports req-minute headers', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 0, 0, 0));
      emulator = await startEmulator({ catalog: catalog2025, clock, overrides: { requestsPerMinute: 2 } });
      const first = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      expect(first.headers.get('x-ratelimit-limit-req-minute')).to.equal('2');
      expect(first.headers.get('x-ratelimit-remaining-req-minute')).to.equal('1');
      clock.advance(1000);
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1))).headers.get('x-ratelimit-remaining-req-minute')).to.equal('0');
      clock.advance(1000);
      const refused = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      expect(refused.status).to.equal(429);
      expect(refused.json).to.deep.equal({ message: 'Requests rate limit exceeded' });
      expect(refused.headers.get('retry-after')).to.equal('58');
      expect(emulator.stats().rateLimited['requests-per-minute']).to.equal(1);
    });
  });

  describe('headers', () => {
    it('sends the current family on 200 and on 429, with the query cost', async () => {
      emulator = await startEmulator({ catalog: catalog2025, clock: new FakeClock() });
      const ok = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 11));
      expect(ok.status).to.equal(200);
      const cost = PROMPT + 11;
      expect(Object.fromEntries([...ok.headers].filter(([name]) => name.startsWith('x-ratelimit')))).to.deep.equal({
        'x-ratelimit-limit-tokens-minute': '500000',
        'x-ratelimit-remaining-tokens-minute': String(500000 - cost),
        'x-ratelimit-limit-tokens-month': '1000000000',
        'x-ratelimit-remaining-tokens-month': String(1000000000 - cost),
        'x-ratelimit-tokens-query-cost': String(cost),
      });
      expect(ok.headers.get('retry-after')).to.equal(null);
      const refused = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      expect(refused.status).to.equal(429);
      expect(refused.headers.get('x-ratelimit-remaining-tokens-minute')).to.equal(String(500000 - cost));
      expect(refused.headers.get('x-ratelimit-remaining-tokens-month')).to.equal(String(1000000000 - cost));
      expect(refused.headers.get('x-ratelimit-tokens-query-cost')).to.equal(String(PROMPT + 1));
      expect(refused.headers.get('retry-after')).to.equal('1');
      expect(refused.headers.get('x-ratelimit-limit-req-minute')).to.equal(null);
      expect([...refused.headers.keys()].some((name) => name.startsWith('x-ratelimit-reset'))).to.equal(false);
    });

    it('sends no window header for an unmetered model, only the query cost', async () => {
      emulator = await startEmulator({ catalog: catalog2025, clock: new FakeClock(), overrides: { models: { [SMALL]: { tokensPerMinute: null, tokensPerMonth: null } } } });
      const ok = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      expect([...ok.headers.keys()].filter((name) => name.startsWith('x-ratelimit'))).to.deep.equal(['x-ratelimit-tokens-query-cost']);
    });

    it('can be captured through the SDK HTTPClient response hook on 200 and 429', async () => {
      emulator = await startEmulator({ catalog: catalog2025, clock: new FakeClock() });
      const seen: { status: number; remaining: string | null }[] = [];
      const httpClient = new HTTPClient();
      httpClient.addHook('response', (response) => {
        seen.push({ status: response.status, remaining: response.headers.get('x-ratelimit-remaining-tokens-minute') });
      });
      const client = new Mistral({ apiKey: 'hooked', serverURL: emulator.url, httpClient });
      const request = { model: SMALL, messages: [{ role: 'user' as const, content: 'hello' }], maxTokens: 1 };
      await client.chat.complete(request);
      const error = await rejection(client.chat.complete(request));
      expect(error.statusCode).to.equal(429);
      expect(seen).to.deep.equal([
        { status: 200, remaining: String(500000 - PROMPT - 1) },
        { status: 429, remaining: String(500000 - PROMPT - 1) },
      ]);
    });

    it('omits Retry-After when faults.retryAfter is false', async () => {
      emulator = await startEmulator({ catalog: catalog2025, clock: new FakeClock(), faults: { retryAfter: false } });
      await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      const refused = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      expect(refused.status).to.equal(429);
      expect(refused.headers.get('retry-after')).to.equal(null);
    });

    it('sends the legacy ratelimitbysize family instead when asked', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 0, 0, 45));
      emulator = await startEmulator({ catalog: catalog2025, clock, faults: { headerFamily: 'legacy' } });
      const ok = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      const cost = PROMPT + 1;
      expect(Object.fromEntries([...ok.headers].filter(([name]) => name.includes('ratelimit')))).to.deep.equal({
        'ratelimitbysize-limit': '500000',
        'ratelimitbysize-remaining': String(500000 - cost),
        'ratelimitbysize-reset': '15',
        'ratelimitbysize-query-cost': String(cost),
        'x-ratelimitbysize-limit-minute': '500000',
        'x-ratelimitbysize-remaining-minute': String(500000 - cost),
        'x-ratelimitbysize-limit-month': '1000000000',
        'x-ratelimitbysize-remaining-month': String(1000000000 - cost),
      });
      const refused = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      expect(refused.status).to.equal(429);
      expect(refused.headers.get('ratelimitbysize-remaining')).to.equal(String(500000 - cost));
      expect(refused.headers.get('x-ratelimit-limit-tokens-minute')).to.equal(null);
    });
  });

  describe('reset and configure', () => {
    it('reset() clears meters and statistics', async () => {
      emulator = await startEmulator({ catalog: catalog2025, clock: new FakeClock() });
      await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      expect((await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1))).status).to.equal(429);
      emulator.reset();
      expect(emulator.stats()).to.deep.include({ requests: 0, tokens: {} });
      const again = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      expect(again.status).to.equal(200);
      expect(again.headers.get('x-ratelimit-remaining-tokens-minute')).to.equal(String(500000 - PROMPT - 1));
    });

    it('configure() changes limits while keeping the meters', async () => {
      emulator = await startEmulator({ catalog: catalog2025, clock: new FakeClock(), overrides: { requestsPerSecond: null } });
      await post(emulator, '/v1/chat/completions', chatBody(SMALL, 11));
      emulator.configure({ overrides: { models: { [SMALL]: { tokensPerMinute: 30 } } } });
      const response = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
      expect(response.status).to.equal(200);
      expect(response.headers.get('x-ratelimit-remaining-tokens-minute')).to.equal(String(30 - 20 - 10));
      // requestsPerSecond: null was kept by the merge: a third request in the same second is served.
      expect((await post(emulator, '/v1/chat/completions', chatBody('open-mistral-nemo', 0))).status).to.equal(200);
    });

    it('rejects options that cannot work, naming them', async () => {
      let error: unknown;
      try {
        emulator = await startEmulator({ catalog: catalog2025, faults: { errorRate: 1.5 } });
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(TypeError).with.property('message').that.contains('faults.errorRate');
    });
  });
});
