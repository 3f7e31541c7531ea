/**
 * Quota over HTTP: fallbacks (upstream 429, the router's own windows) visible in the headers; 429 with
 * Retry-After when nothing has room within the route's wait; a key's own limits; 502 when every fallback
 * failed upstream.
 */
import { expect } from 'chai';
import OpenAI from 'openai';
import type { FakeClock } from '../../lib/clock.js';
import { until } from '../helpers/routed.js';
import { ALPHA_KEY, baseConfig, chatBody, expectNoSecret, raw, setup } from './support.js';

const post = (url: string, body: string, key?: string) => raw(`${url}/v1/chat/completions`, { method: 'POST', body, ...(key === undefined ? {} : { key }) });

/**
 * Retry-After is the exact wait rounded up to whole seconds: one second less is still too early (the call
 * is refused again, and charges nothing), the whole of it is enough.
 */
async function expectRoomAfter(seconds: number, clock: FakeClock, call: () => Promise<{ status: number }>): Promise<void> {
  expect(Number.isInteger(seconds) && seconds >= 1, `Retry-After ${seconds}`).to.equal(true);
  await clock.advanceAsync((seconds - 1) * 1000);
  expect((await call()).status, `${seconds - 1} s after`).to.equal(429);
  await clock.advanceAsync(1000);
  expect((await call()).status, `${seconds} s after`).to.equal(200);
}

describe('gateway: quota over HTTP', () => {
  it('an upstream 429 falls back to the next model, and the headers say so', async () => {
    const { url, emulator, store } = await setup({ emulator: { overrides: { requestsPerSecond: 1000, models: { 'mistral-small-2506': { tokensPerMinute: 10 } } } } });
    const reply = await post(url, chatBody('vision-chat'));
    expect(reply.status).to.equal(200);
    expect(reply.headers.get('x-mistral-router-attempts')).to.equal('2');
    expect(reply.headers.get('x-mistral-router-fallbacks')).to.equal('mistral-small-2506 quota');
    const model = reply.headers.get('x-mistral-router-model');
    expect(model).to.not.equal('mistral-small-2506');
    expect(reply.json().model).to.equal(model);
    expect(emulator.stats().rateLimited['tokens-per-minute']).to.equal(1);
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('a candidate the router knows is full is passed over (no request sent), listed in the fallbacks header', async () => {
    const { url, emulator } = await setup({
      config: (u) => baseConfig(u, { workspaces: [{ name: 'team', apiKey: '${UPSTREAM}', tier: 'free', overrides: { requestsPerSecond: 1000, models: { 'mistral-small-2506': { tokensPerMinute: 45 } } } }] }),
    });
    // One call (about 30 tokens, its prompt measured exactly from then on) fits in 45 tokens a minute; two do not.
    expect((await post(url, chatBody('vision-chat'))).headers.get('x-mistral-router-model')).to.equal('mistral-small-2506');
    const second = await post(url, chatBody('vision-chat'));
    expect(second.headers.get('x-mistral-router-attempts')).to.equal('1');
    expect(second.headers.get('x-mistral-router-fallbacks')).to.equal('mistral-small-2506 quota');
    expect(emulator.stats().requests).to.equal(2);
  });

  it('no room within the route\'s wait: 429 with Retry-After in whole seconds (rounded up); after it, room', async () => {
    const { url, clock } = await setup({
      config: (u) => baseConfig(u, { workspaces: [{ name: 'team', apiKey: '${UPSTREAM}', tier: 'free', overrides: { requestsPerSecond: 1 } }] }),
    });
    expect((await post(url, chatBody('auto'))).status).to.equal(200);
    const refused = await post(url, chatBody('auto'));
    expect(refused.status).to.equal(429);
    expect(refused.json()).to.include({ object: 'error', type: 'rate_limited', code: 'quota_exhausted' });
    const seconds = Number(refused.headers.get('retry-after'));
    // The OpenAI client sees a RateLimitError (its own backoff reads Retry-After).
    const client = new OpenAI({ apiKey: ALPHA_KEY, baseURL: `${url}/v1`, maxRetries: 0 });
    const error = await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(OpenAI.RateLimitError);
    await expectRoomAfter(seconds, clock, () => post(url, chatBody('auto')));
  });

  it('a key over its own requests per second: 429 naming the key, Retry-After; its tokens settle at the usage', async () => {
    const { url, clock, store } = await setup({
      config: (u) => baseConfig(u, { keys: [{ name: 'alpha', key: '${GW_ALPHA}', limits: { requestsPerSecond: 1, tokensPerMinute: 10_000 } }] }),
    });
    const first = await post(url, chatBody('auto'));
    expect(first.status).to.equal(200);
    const used = (first.json().usage as { total_tokens: number }).total_tokens;
    const windows = await store.snapshot('key:alpha');
    expect(windows.find((w) => w.kind === 'tokens-per-minute')).to.include({ used, held: 0, limit: 10_000 });
    expect(windows.find((w) => w.kind === 'requests-per-second')).to.include({ used: 1, limit: 1 });
    const second = await post(url, chatBody('auto'));
    expect(second.status).to.equal(429);
    expect(second.json().message).to.contain('The gateway key "alpha" is over its own limit: requests-per-second');
    await expectRoomAfter(Number(second.headers.get('retry-after')), clock, () => post(url, chatBody('auto')));
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('a request larger than the key\'s token limit itself: 400, no Retry-After (waiting would never help)', async () => {
    const { url, emulator } = await setup({ config: (u) => baseConfig(u, { keys: [{ name: 'alpha', key: '${GW_ALPHA}', limits: { tokensPerMinute: 100 } }] }) });
    const reply = await post(url, chatBody('auto', { max_tokens: 500 }));
    expect(reply.status).to.equal(400);
    expect(reply.headers.get('retry-after')).to.equal(null);
    expect(reply.json()).to.include({ code: 'no_eligible_model' });
    expect(reply.json().message).to.contain('larger than a limit of the gateway key "alpha" itself: tokens-per-minute');
    expect(emulator.stats().requests).to.equal(0);
  });

  it('an upstream 5xx on one model falls back to the next: 200, the headers name the failure', async () => {
    const { url, emulator, store } = await setup({ emulator: { faults: { errorRate: 1, errorStatuses: [503], models: ['mistral-small-2506'] } } });
    const client = new OpenAI({ apiKey: ALPHA_KEY, baseURL: `${url}/v1`, maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: 'vision-chat', messages: [{ role: 'user', content: 'hello' }], max_tokens: 10 }).withResponse();
    expect(response.headers.get('x-mistral-router-attempts')).to.equal('2');
    expect(response.headers.get('x-mistral-router-fallbacks')).to.equal('mistral-small-2506 server-error');
    expect(data.model).to.equal(response.headers.get('x-mistral-router-model')).and.not.equal('mistral-small-2506');
    expect(emulator.stats().requests).to.equal(2);
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('upstream 5xx on every fallback: 502 with the last upstream status and message, no key in it', async () => {
    const { url, store, logs } = await setup({ emulator: { faults: { errorRate: 1, errorStatuses: [500] } } });
    const reply = await post(url, chatBody('auto'));
    expect(reply.status).to.equal(502);
    expect(reply.json()).to.include({ type: 'upstream_error', code: 'upstream_500' });
    expect(reply.json().message).to.match(/^Upstream answered 500 after every fallback \(last: [a-z0-9-]+\): Internal server error$/);
    expectNoSecret(reply.text, JSON.stringify([...reply.headers]), ...logs);
    expect(await store.pendingReservations()).to.equal(0);
  });
});

describe('gateway: a client that leaves while its request waits for quota', () => {
  it('the wait is cancelled, nothing stays held, and the access log says 499 (the client left), not an upstream error', async () => {
    const { url, gateway, store, logs, emulator } = await setup({
      config: (u) =>
        baseConfig(u, {
          workspaces: [{ name: 'team', apiKey: '${UPSTREAM}', tier: 'free', overrides: { requestsPerSecond: 1 } }],
          routes: { patient: { need: { capabilities: ['chat'] }, maxWaitMs: 5000 } },
          keys: [{ name: 'alpha', key: '${GW_ALPHA}' }],
        }),
    });
    expect((await post(url, chatBody('patient'))).status).to.equal(200);
    const controller = new AbortController();
    // The second request waits (the fake clock does not move) until the client gives up.
    const leaving = fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${ALPHA_KEY}`, 'content-type': 'application/json' }, body: chatBody('patient'), signal: controller.signal }).catch(() => undefined);
    await until(() => gateway.inFlight === 1, 'the request to wait');
    controller.abort();
    await leaving;
    await until(async () => gateway.inFlight === 0 && (await store.pendingReservations()) === 0, 'the wait to end');
    expect(emulator.stats().requests).to.equal(1);
    const lines = logs.filter((l) => l.includes('"path":"/v1/chat/completions"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.status, l.error ?? null])).to.deep.equal([[200, null], [499, 'client_closed_request']]);
  });
});

describe('gateway: quota spent by attempts that failed upstream', () => {
  it('the 429 says which attempts failed before the windows were found full', async () => {
    const { url, store } = await setup({
      emulator: { overrides: { requestsPerSecond: 1 }, faults: { errorRate: 1, errorStatuses: [500] } },
      config: (u) => baseConfig(u, { workspaces: [{ name: 'team', apiKey: '${UPSTREAM}', tier: 'free', overrides: { requestsPerSecond: 1 } }] }),
    });
    const reply = await post(url, chatBody('auto'));
    expect(reply.status).to.equal(429);
    expect(Number(reply.headers.get('retry-after'))).to.be.within(1, 2);
    expect(reply.json().message).to.match(/No eligible model has quota .* Before it, this call's attempts failed upstream: [a-z0-9-]+ server-error \(500\)\.$/);
    expect(await store.pendingReservations()).to.equal(0);
  });
});
