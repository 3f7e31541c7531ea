/**
 * Monthly budgets in USD: a window of micro-dollars per workspace (and per router), reserved at the
 * estimated cost and settled at the real one, in the memory store and in Redis alike. The router against
 * the emulator through the real SDK, one fake clock; leases (router.reserve) where holds must be seen
 * before they settle.
 */
import { expect } from 'chai';
import { NoEligibleModelError } from '../../lib/errors.js';
import type { FakeClock } from '../../lib/clock.js';
import { ConfigError, QuotaExhaustedError } from '../../lib/errors.js';
import { CallBudget, createRouter } from '../../lib/index.js';
import { RedisStore } from '../../lib/quota/redis/index.js';
import { monthIndex, monthStart } from '../../lib/quota/window.js';
import type { QuotaStore, WindowSnapshot } from '../../lib/quota/types.js';
import { wholeMicroUsd } from '../../lib/telemetry/cost.js';
import { catalogPriced } from '../helpers/catalog-priced.js';
import { KEY_A, KEY_B, START, closeAll, pricedRouter, text } from '../helpers/priced-router.js';
import { flushPrefix, redisAnswers, redisUrl, uniquePrefix } from '../helpers/redis.js';

afterEach(closeAll);

const only = (model: string) => ({ model, need: { exclude: ['lean-chat', 'wide-chat', 'premium-chat', 'unpriced-chat'].filter((m) => m !== model) } });
const monthEnd = monthStart(monthIndex(START) + 1);

async function budgetWindow(store: QuotaStore, workspace: string, kind = 'usd-per-month'): Promise<WindowSnapshot | undefined> {
  return (await store.snapshot(workspace)).find((w) => w.kind === kind);
}

/** Micro-dollars a lease or call of this plan holds on a model priced (input, output) per million. */
const estimate = (plan: { tokens: { prompt: number; maxOutput: number } }, input: number, output: number) => wholeMicroUsd(plan.tokens.prompt * input + plan.tokens.maxOutput * output);

describe('budgets: configuration', () => {
  const base = { catalog: catalogPriced, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }] };
  for (const [field, options, message] of [
    ['a negative budget', { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: -1 } }] }, /^workspaces\[0\]\.budgets\.monthlyUsd: expected a finite number of USD from 0 to .*, received -1/],
    ['a non-finite budget', { budgets: { monthlyUsd: Number.POSITIVE_INFINITY } }, /^budgets\.monthlyUsd: expected a finite number of USD .*received Infinity/],
    ['NaN', { budgets: { monthlyUsd: Number.NaN } }, /^budgets\.monthlyUsd: .*received NaN/],
    ['a string', { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: '5' } }] }, /^workspaces\[0\]\.budgets\.monthlyUsd: .*received "5"/],
    ['an unknown field', { budgets: { monthlyUsd: 5, perDay: 1 } }, /^budgets\.perDay: unknown field; known: monthlyUsd, name/],
    ['an empty router budget name', { budgets: { monthlyUsd: 5, name: '' } }, /^budgets\.name: expected a non-empty string/],
    ['not an object', { budgets: 5 }, /^budgets: expected \{ monthlyUsd, name\? \}/],
  ] as const) {
    it(`refuses ${field} with a ConfigError naming the field`, () => {
      expect(() => createRouter({ ...base, ...(options as object) })).to.throw(ConfigError, message);
    });
  }
});

describe('budgets: reserve at the estimate, settle at the real cost', () => {
  it('a lease holds its estimate in the budget window; settling replaces it by the real cost', async () => {
    const { router, store } = await pricedRouter({ workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: 1 } }] });
    const lease = await router.reserve('chat', { ...only('lean-chat'), messages: text('hold me'), maxTokens: 100 });
    const held = estimate(lease.plan, 0.2, 0.6);
    expect(await budgetWindow(store, 'team-a')).to.deep.include({ limit: 1_000_000, used: held, held, period: 'month', unit: 'tokens' });
    await lease.settle({ promptTokens: 40, completionTokens: 20, totalTokens: 60 });
    expect(await budgetWindow(store, 'team-a')).to.deep.include({ used: 40 * 0.2 + 20 * 0.6, held: 0 });
    const usage = await router.usage();
    expect(usage.month).to.equal('2026-06');
    expect(usage.budgets).to.deep.equal([{ scope: 'workspace', name: 'team-a', monthlyUsd: 1, spentUsd: 20 / 1e6, heldUsd: 0 }]);
    expect(usage.spend).to.deep.equal([{ workspace: 'team-a', model: 'lean-chat', calls: 1, unpricedCalls: 0, inputTokens: 40, outputTokens: 20, usd: 20 / 1e6 }]);
  });

  it('a routed call and a stream settle the budget at their reported usage; a failed attempt gives its estimate back', async () => {
    const { router, store } = await pricedRouter({ workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: 1 } }] }, { faults: { errorRate: 1, errorStatuses: [503], models: ['premium-chat'] } });
    const call = await router.chat.complete({ ...only('lean-chat'), messages: text('a call'), maxTokens: 50 });
    const stream = await router.chat.stream({ ...only('wide-chat'), messages: text('a stream'), maxTokens: 50 });
    for await (const _ of stream) void _;
    const streamed = await stream.settled;
    // Its only model answers 503 and cools down; the call may not wait for it.
    const failed = await router.chat.complete({ ...only('premium-chat'), messages: text('fails'), maxTokens: 50, maxWaitMs: 0 }).catch((e: unknown) => e);
    expect((failed as { code?: string }).code).to.equal('COOLING_DOWN');
    const expected = wholeMicroUsd((call.routing.cost?.usd ?? 0) * 1e6) + wholeMicroUsd((streamed.cost?.usd ?? 0) * 1e6);
    expect(await budgetWindow(store, 'team-a')).to.deep.include({ used: expected, held: 0 });
    expect(await store.pendingReservations()).to.equal(0);
    const spend = (await router.usage()).spend;
    expect(spend.map((r) => [r.model, r.calls])).to.deep.equal([['lean-chat', 1], ['wide-chat', 1]]);
  });
});

describe('budgets: a caller budget (CallOptions.budget)', () => {
  it('usage() reports each caller budget calls have held, once per budget window however many objects name it', async () => {
    const { router } = await pricedRouter({ workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }] });
    const options = { name: 'alice', label: 'the budget of key alice', workspace: 'key:alice', kind: 'key-usd-per-month', monthlyUsd: 2 };
    expect((await router.usage()).budgets).to.deep.equal([]);
    const first = await router.chat.complete({ ...only('lean-chat'), messages: text('one'), maxTokens: 20 }, { budget: new CallBudget(options) });
    await router.chat.complete({ ...only('lean-chat'), messages: text('two'), maxTokens: 20 }, { budget: new CallBudget(options) });
    const spent = (await router.usage()).budgets;
    expect(spent).to.have.length(1);
    expect(spent[0]).to.deep.include({ scope: 'caller', name: 'alice', monthlyUsd: 2, heldUsd: 0 });
    expect(spent[0]?.spentUsd).to.be.greaterThan(first.routing.cost?.usd ?? 0);
  });
});

describe('budgets: exhaustion', () => {
  it('passes a candidate over naming the budget window, takes a cheaper one, then throws QuotaExhaustedError until the month ends', async () => {
    const { router } = await pricedRouter({ workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: 0.0001 } }] });
    const request = { messages: text('hi'), maxTokens: 100, need: { exclude: ['premium-chat'] } };
    const first = await router.reserve('chat', request);
    expect(first.model).to.equal('lean-chat');
    const lean = estimate(first.plan, 0.2, 0.6);
    const wide = estimate(first.plan, 0.1, 0.3);
    expect(lean + lean).to.be.greaterThan(100);
    expect(lean + wide).to.be.at.most(100);
    // lean-chat's budget has no room for a second estimate: the cheaper wide-chat takes it.
    const second = await router.reserve('chat', request);
    expect(second.model).to.equal('wide-chat');
    expect(second.passedOver).to.deep.equal([{ workspace: 'team-a', model: 'lean-chat', windows: ['usd-per-month'], retryAfterMs: monthEnd - START }]);
    const error = await router.reserve('chat', request).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(QuotaExhaustedError);
    expect((error as QuotaExhaustedError).retryAfterMs).to.equal(monthEnd - START);
    expect((error as Error).message).to.match(/the monthly budget of workspace team-a \(\$0\.0001\) has no room for this request \(estimated \$0\.0000\d+\); it renews at 2026-07-01T00:00:00\.000Z/);
    await first.release();
    const third = await router.reserve('chat', request);
    expect(third.model).to.equal('lean-chat');
    await Promise.all([second.release(), third.release()]);
  });

  it('a routed call: routing.passedOver names the budget window; nothing left is QuotaExhaustedError', async () => {
    const { router } = await pricedRouter({ workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: 0.00005 } }] });
    const result = await router.chat.complete({ messages: text('hi'), maxTokens: 100 });
    // lean-chat's estimate (> 50 µ$) never fits this budget: wide-chat answers.
    expect(result.routing.model).to.equal('wide-chat');
    expect(result.routing.passedOver[0]).to.deep.include({ model: 'lean-chat', windows: ['usd-per-month'] });
    const error = await router.chat.complete({ ...only('lean-chat'), messages: text('hi'), maxTokens: 100 }).catch((e: unknown) => e);
    // Larger than the whole budget: no wait lets it fit.
    expect(error).to.be.instanceOf(NoEligibleModelError);
    expect((error as Error).message).to.match(/can never hold this request/);
  });

  it('a workspace budget spares the others; a router budget counts every workspace', async () => {
    const workspaces = [
      { name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: 0 } },
      { name: 'team-b', apiKey: KEY_B, tier: 'free' },
    ];
    const { router } = await pricedRouter({ workspaces });
    const result = await router.chat.complete({ ...only('lean-chat'), messages: text('hi'), maxTokens: 10 });
    expect(result.routing.workspace).to.equal('team-b');
    expect(result.routing.passedOver[0]).to.deep.include({ workspace: 'team-a', model: 'lean-chat', windows: ['usd-per-month'] });
    const { router: shared, store } = await pricedRouter({ workspaces: workspaces.map((w) => ({ name: w.name, apiKey: w.apiKey, tier: w.tier })), budgets: { monthlyUsd: 1, name: 'fleet' } });
    const a = await shared.reserve('chat', { ...only('lean-chat'), messages: text('hi'), maxTokens: 10 });
    const b = await shared.reserve('chat', { ...only('lean-chat'), messages: text('hi'), maxTokens: 10, need: { exclude: ['wide-chat', 'premium-chat', 'unpriced-chat'], prefer: ['lean-chat'] } });
    expect(await budgetWindow(store, '$router:fleet', 'router-usd-per-month')).to.deep.include({ held: estimate(a.plan, 0.2, 0.6) * 2 });
    await Promise.all([a.settle({ promptTokens: 10, completionTokens: 10, totalTokens: 20 }), b.settle({ promptTokens: 10, completionTokens: 10, totalTokens: 20 })]);
    expect((await shared.usage()).budgets).to.deep.equal([{ scope: 'router', name: 'fleet', monthlyUsd: 1, spentUsd: 16 / 1e6, heldUsd: 0 }]);
  });

  it('a model without a price is no candidate where a budget applies (a rejection says why)', async () => {
    const { router } = await pricedRouter({ budgets: { monthlyUsd: 1 } });
    const plan = await router.plan('chat', { messages: text('hi'), maxTokens: 10 });
    expect(plan.candidates.map((c) => c.model)).to.not.include('unpriced-chat');
    expect(plan.rejected.find((r) => r.model === 'unpriced-chat')?.reason).to.equal('no price in the catalogue: the monthly budget of the router cannot meter it');
    const result = await router.chat.complete({ need: { capabilities: ['vision'] }, messages: text('hi'), maxTokens: 10 });
    expect(result.routing.model).to.equal('premium-chat');
  });

  it('budgetWarning once a month when 80% is spent', async () => {
    const { router, events, clock } = await pricedRouter({ workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: 0.0001 } }] });
    let n = 0;
    // Each call its own content: a prompt measured once would be reserved at its measured size next time.
    const spend = async (prompt: number, completion: number) => {
      const lease = await router.reserve('chat', { ...only('lean-chat'), messages: text(`x${++n}`), maxTokens: 10 });
      await lease.settle({ promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion });
    };
    await spend(100, 50); // 50 µ$
    expect(events.filter((e) => e.name === 'budgetWarning')).to.have.length(0);
    await spend(50, 10); // 16 µ$: 66
    clock.advance(1_000);
    await spend(40, 10); // 14 µ$: 80
    await spend(10, 0); // 2 µ$: 82, no second warning
    const warnings = events.filter((e) => e.name === 'budgetWarning').map((e) => e.event);
    expect(warnings).to.deep.equal([{ scope: 'workspace', budget: 'team-a', monthlyUsd: 0.0001, spentUsd: 80 / 1e6, share: 0.8 }]);
  });
});

describe('budgets: 50 concurrent calls never exceed $0.01', function () {
  this.timeout(30_000);
  type Made = { store: ((clock: FakeClock) => QuotaStore) | undefined; cleanup: () => Promise<void> };
  const stores: [string, () => Promise<Made | undefined>][] = [
    ['memory', async () => ({ store: undefined, cleanup: async () => {} })],
    [
      'redis',
      async () => {
        if (!(await redisAnswers())) {
          if (process.env.CI === 'true') throw new Error(`no Redis answers at ${redisUrl}; CI=true requires the Redis tests to run`);
          return undefined;
        }
        const keyPrefix = uniquePrefix('budget');
        // On the test's fake clock too: the budget's month is the router's.
        return { store: (clock: FakeClock) => new RedisStore({ redis: redisUrl, keyPrefix, clock }), cleanup: async () => void (await flushPrefix(keyPrefix)) };
      },
    ],
  ];
  for (const [name, make] of stores) {
    it(`${name} store: every admitted call fits, the budget window holds exactly their real costs`, async function () {
      const made = await make();
      if (made === undefined) this.skip();
      try {
        const setup = await pricedRouter({ workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: 0.01 } }] }, {}, made?.store);
        // premium-chat at 2 / 6 $ per million: each call holds ~3,000 µ$ of the 10,000.
        const calls = Array.from({ length: 50 }, (_, i) => setup.router.chat.complete({ ...only('premium-chat'), messages: text(`call ${i}`), maxTokens: 500 }));
        const outcomes = await Promise.allSettled(calls);
        const done = outcomes.filter((o): o is PromiseFulfilledResult<Awaited<(typeof calls)[number]>> => o.status === 'fulfilled').map((o) => o.value);
        const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as QuotaExhaustedError);
        expect(done.length).to.be.within(1, 3);
        expect(done.length + refused.length).to.equal(50);
        for (const error of refused) expect(error).to.be.instanceOf(QuotaExhaustedError);
        const real = done.reduce((sum, r) => sum + wholeMicroUsd((r.routing.cost?.usd ?? 0) * 1e6), 0);
        const window = await budgetWindow(setup.store, 'team-a');
        expect(window?.used).to.equal(real);
        expect(window?.held).to.equal(0);
        expect(real).to.be.at.most(10_000);
        expect(await setup.store.pendingReservations()).to.equal(0);
        expect(setup.emulator.stats().requests).to.equal(done.length);
      } finally {
        await closeAll();
        await made?.cleanup();
      }
    });
  }
});
