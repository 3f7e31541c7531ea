/**
 * A virtual key's monthly budget in USD (`keys[].limits.monthlyUsd`), with the official clients against the
 * gateway in front of the emulator, on the priced test catalogue: each call holds its model's estimated
 * cost in the key's budget window and settles at the real one (a stream's at its end); a model the budget
 * has no room for is passed over for a cheaper one; nothing left is 429 naming the key, Retry-After the
 * month's end; the dashboard shows the budget in USD as /metrics does; both stores.
 */
import { Mistral } from '@mistralai/mistralai';
import { expect } from 'chai';
import OpenAI from 'openai';
import { CallBudget, NeedError } from '../../lib/index.js';
import { checkCallOptions } from '../../lib/router/options.js';
import { KEY_BUDGET_KIND } from '../../lib/gateway/keys.js';
import { RedisStore } from '../../lib/quota/redis/index.js';
import type { QuotaStore, WindowSnapshot } from '../../lib/quota/types.js';
import { monthIndex, monthStart } from '../../lib/quota/window.js';
import { wholeMicroUsd } from '../../lib/telemetry/cost.js';
import { catalogPriced } from '../helpers/catalog-priced.js';
import { flushPrefix, redisAnswers, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { ALPHA_KEY, BETA_KEY, baseConfig, expectNoSecret, raw, setup, type GatewaySetup } from './support.js';

const BUDGET_USD = 0.01;

/** A gateway whose key alpha has a monthly budget of `monthlyUsd` (beta none). */
function budgeted(monthlyUsd = BUDGET_USD, store?: QuotaStore): Promise<GatewaySetup> {
  return setup({
    catalog: catalogPriced,
    ...(store === undefined ? {} : { store }),
    config: (u) =>
      baseConfig(u, {
        keys: [
          { name: 'alpha', key: '${GW_ALPHA}', limits: { monthlyUsd } },
          { name: 'beta', key: '${GW_BETA}' },
        ],
      }),
  });
}

async function budgetWindow(store: QuotaStore): Promise<WindowSnapshot | undefined> {
  return (await store.snapshot('key:alpha')).find((w) => w.kind === KEY_BUDGET_KIND);
}

/** What a usage costs on a priced fixture model, in whole micro-dollars (as the router settles it). */
function microUsd(model: string, usage: { prompt_tokens: number; completion_tokens: number }): number {
  const prices = catalogPriced.model(model)?.prices as { input: number; output: number };
  return wholeMicroUsd(usage.prompt_tokens * prices.input + usage.completion_tokens * prices.output);
}

const openai = (url: string, key = ALPHA_KEY) => new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 });
const ask = (i: number) => ({ model: 'vision-chat', messages: [{ role: 'user' as const, content: `call ${i}: say something` }], max_tokens: 400 });

describe('gateway: a virtual key\'s monthly budget in USD', () => {
  it('holds each call at its estimate, settles at the real cost, then 429 naming the key with Retry-After the month\'s end', async () => {
    const { url, store, clock, emulator, logs } = await budgeted();
    const client = openai(url);
    let spent = 0;
    let answered = 0;
    let refusal: unknown;
    // premium-chat (2 / 6 $ per million) is the only priced model of the route: ~2,400 µ$ held per call of 10,000.
    for (let i = 0; i < 10 && refusal === undefined; i++) {
      try {
        const reply = await client.chat.completions.create(ask(i));
        expect(reply.model).to.equal('premium-chat');
        spent += microUsd(reply.model, reply.usage as { prompt_tokens: number; completion_tokens: number });
        answered++;
        const window = await budgetWindow(store);
        expect({ used: window?.used, held: window?.held }, `after call ${i}`).to.deep.equal({ used: spent, held: 0 });
      } catch (error) {
        refusal = error;
      }
    }
    expect(answered).to.be.within(3, 4);
    expect(refusal).to.be.instanceOf(OpenAI.RateLimitError);
    const error = refusal as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error.message).to.contain('the monthly budget of gateway key "alpha" ($0.01) has no room');
    const monthEnd = monthStart(monthIndex(clock.now()) + 1);
    expect(Number(error.headers?.get('retry-after'))).to.equal(Math.ceil((monthEnd - clock.now()) / 1000));
    expect(spent).to.be.at.most(10_000);
    expect(emulator.stats().requests, 'the refused call never reached Mistral').to.equal(answered);
    expect(await store.pendingReservations()).to.equal(0);
    // Another key has a budget of its own (none): it is not refused.
    expect((await openai(url, BETA_KEY).embeddings.create({ model: 'embed', input: 'x' })).data).to.have.length(1);
    // The next month the budget renews.
    await clock.advanceAsync(monthEnd - clock.now());
    expect((await client.chat.completions.create(ask(99))).model).to.equal('premium-chat');
    expectNoSecret(...logs);
  });

  it('a model the budget has no room for is passed over for a cheaper one (fallbacks header: budget)', async () => {
    const { url, store } = await budgeted(0.003);
    const body = (i: number) => JSON.stringify({ model: 'premium-chat', messages: [{ role: 'user', content: `call ${i}` }], max_tokens: 400 });
    const first = await raw(`${url}/v1/chat/completions`, { method: 'POST', body: body(1) });
    expect(first.headers.get('x-mistral-router-model')).to.equal('premium-chat');
    // ~2,400 µ$ held of 3,000: premium-chat no longer fits, lean-chat (0.2 / 0.6) does.
    const second = await raw(`${url}/v1/chat/completions`, { method: 'POST', body: body(2) });
    expect(second.status).to.equal(200);
    expect(second.headers.get('x-mistral-router-model')).to.not.equal('premium-chat');
    expect(second.headers.get('x-mistral-router-fallbacks')).to.equal('premium-chat budget');
    const usages = [first, second].map((r) => ({ model: r.headers.get('x-mistral-router-model') as string, usage: r.json().usage as { prompt_tokens: number; completion_tokens: number } }));
    expect((await budgetWindow(store))?.used).to.equal(usages.reduce((sum, u) => sum + microUsd(u.model, u.usage), 0));
  });

  it('a stream (the Mistral client) settles at its last chunk\'s usage; the dashboard shows the budget in USD as /metrics does', async () => {
    const { url, store } = await budgeted();
    const client = new Mistral({ apiKey: ALPHA_KEY, serverURL: url, retryConfig: { strategy: 'none' } });
    const stream = await client.chat.stream({ model: 'vision-chat', messages: [{ role: 'user', content: 'stream something' }], maxTokens: 300 });
    let usage: { promptTokens?: number; completionTokens?: number } | undefined;
    let model = '';
    for await (const event of stream) {
      model = event.data.model;
      usage = event.data.usage ?? usage;
    }
    expect(usage?.completionTokens).to.be.greaterThan(0);
    const spent = microUsd(model, { prompt_tokens: usage?.promptTokens ?? 0, completion_tokens: usage?.completionTokens ?? 0 });
    expect(await budgetWindow(store)).to.include({ used: spent, held: 0 });
    const state = (await raw(`${url}/dashboard/state`, { key: null })).json() as { keys: { name: string; limits: Record<string, number>; windows: { kind: string; unit: string; limit: number; used: number; remaining: number }[] }[] };
    const alpha = state.keys.find((k) => k.name === 'alpha');
    expect(alpha?.limits).to.deep.equal({ monthlyUsd: BUDGET_USD });
    const row = alpha?.windows.find((w) => w.kind === KEY_BUDGET_KIND);
    expect(row).to.deep.include({ unit: 'usd', limit: BUDGET_USD, used: spent / 1e6 });
    const metrics = (await raw(`${url}/metrics`, { key: null })).text;
    const gauge = metrics.split('\n').find((line) => line.startsWith('mistral_router_budget_remaining_usd{') && line.includes('"key:alpha"'));
    expect(Number(gauge?.split(' ').pop())).to.be.closeTo(row?.remaining as number, 1e-9);
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('the budget option is a CallBudget: anything else passed as CallOptions.budget is a NeedError naming the field', () => {
    expect(() => checkCallOptions({ budget: { monthlyUsd: 1 } as never })).to.throw(NeedError, /options\.budget/);
    expect(() => new CallBudget({ name: 'k', label: 'k', workspace: 'key:k', kind: 'tokens', monthlyUsd: 1 })).to.throw(/budget\.kind/);
    expect(() => new CallBudget({ name: 'k', label: 'k', workspace: 'key:k', kind: KEY_BUDGET_KIND, monthlyUsd: -1 })).to.throw(/budget\.monthlyUsd/);
  });

  it('Redis: two gateways on one store never let the key spend more than its budget, together', async function () {
    this.timeout(30_000);
    if (!(await redisAnswers())) {
      if (process.env.CI === 'true') throw new Error(`no Redis answers at ${redisUrl}; CI=true requires the Redis tests to run`);
      this.skip();
    }
    const keyPrefix = uniquePrefix('keybudget');
    try {
      // Two stores (two connections, as two processes have) on one prefix; one fake clock for the month.
      const first = await budgeted(BUDGET_USD, new RedisStore({ redis: redisUrl, keyPrefix }));
      const second = await setup({
        catalog: catalogPriced,
        store: new RedisStore({ redis: redisUrl, keyPrefix }),
        config: (u) => baseConfig(u, { keys: [{ name: 'alpha', key: '${GW_ALPHA}', limits: { monthlyUsd: BUDGET_USD } }] }),
      });
      const clients = [openai(first.url), openai(second.url)];
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (clients[i % 2] as OpenAI).chat.completions.create(ask(i))));
      const done = outcomes.filter((o) => o.status === 'fulfilled').map((o) => (o as PromiseFulfilledResult<OpenAI.ChatCompletion>).value);
      const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as Error);
      expect(done.length).to.be.within(1, 4);
      for (const error of refused) expect(error).to.be.instanceOf(OpenAI.RateLimitError);
      const spent = done.reduce((sum, r) => sum + microUsd(r.model, r.usage as { prompt_tokens: number; completion_tokens: number }), 0);
      const window = await budgetWindow(first.store);
      expect({ used: window?.used, held: window?.held }).to.deep.equal({ used: spent, held: 0 });
      expect(spent).to.be.at.most(10_000);
      expect(first.emulator.stats().requests + second.emulator.stats().requests).to.equal(done.length);
    } finally {
      await flushPrefix(keyPrefix);
    }
  });
});
