/**
 * The `cheapest` strategy: the pure order (expected cost of the request's size at catalogue prices,
 * unknown prices after known ones, ties in the default order, the named model first), then the router
 * choosing by it through the real SDK against the emulator.
 */
import { expect } from 'chai';
import type { Model } from '../../lib/catalog/types.js';
import { ConfigError, NeedError } from '../../lib/errors.js';
import { createRouter } from '../../lib/index.js';
import { normaliseNeed } from '../../lib/need.js';
import { orderByCost, rankModels } from '../../lib/router/plan.js';
import { catalogPriced } from '../helpers/catalog-priced.js';
import { KEY_A, closeAll, pricedRouter, text } from '../helpers/priced-router.js';

const model = (id: string): Model => catalogPriced.model(id) as Model;
const ids = (models: readonly Model[]) => models.map((m) => m.id);
const cheapest = normaliseNeed({ strategy: 'cheapest' }, 'chat', [], 'smallest-sufficient');

afterEach(closeAll);

describe('cheapest: the order', () => {
  it('by the request\'s expected cost; a model without a price after every priced one', () => {
    const models = ['lean-chat', 'wide-chat', 'premium-chat', 'unpriced-chat'].map(model);
    // 1000 in + 100 out: lean 260 µ$, wide 130, premium 2600, unpriced unknown.
    expect(ids(orderByCost(models, 0, { endpoint: 'chat', input: 1_000, output: 100 }))).to.deep.equal(['wide-chat', 'lean-chat', 'premium-chat', 'unpriced-chat']);
  });

  it('the request\'s size decides between a cheap input and a cheap output', () => {
    const cheapIn = { ...model('lean-chat'), id: 'cheap-in', prices: { input: 0.1, output: 1 } };
    const cheapOut = { ...model('lean-chat'), id: 'cheap-out', prices: { input: 0.5, output: 0.2 } };
    expect(ids(orderByCost([cheapOut, cheapIn], 0, { endpoint: 'chat', input: 10_000, output: 100 }))).to.deep.equal(['cheap-in', 'cheap-out']);
    expect(ids(orderByCost([cheapIn, cheapOut], 0, { endpoint: 'chat', input: 100, output: 10_000 }))).to.deep.equal(['cheap-out', 'cheap-in']);
    // Embeddings are priced on input only: the output price does not count.
    expect(ids(orderByCost([cheapOut, cheapIn], 0, { endpoint: 'embeddings', input: 100, output: 0 }))).to.deep.equal(['cheap-in', 'cheap-out']);
  });

  it('ties (and unknown prices among themselves) keep the default order; the pinned head stays first', () => {
    const twin = { ...model('wide-chat'), id: 'wide-twin' };
    const unknown = { ...model('unpriced-chat'), id: 'unpriced-twin' };
    const order = [model('premium-chat'), twin, model('unpriced-chat'), model('wide-chat'), unknown];
    expect(ids(orderByCost(order, 1, { endpoint: 'chat', input: 10, output: 10 }))).to.deep.equal(['premium-chat', 'wide-twin', 'wide-chat', 'unpriced-chat', 'unpriced-twin']);
    const same = [model('wide-chat'), model('lean-chat')];
    expect(orderByCost(same, 0, { endpoint: 'chat', input: 10, output: 10 })).to.equal(same);
  });

  it('rankModels: the named model first, then by cost; without a size the default order and its pinned count', () => {
    const sized = rankModels(catalogPriced, cheapest, 'premium-chat', true, { size: { endpoint: 'chat', input: 500, output: 500 } });
    expect(ids(sized.ranked)).to.deep.equal(['premium-chat', 'wide-chat', 'lean-chat', 'unpriced-chat']);
    expect(sized.pinned).to.equal(1);
    const unsized = rankModels(catalogPriced, cheapest);
    expect(ids(unsized.ranked)).to.deep.equal(['lean-chat', 'wide-chat', 'premium-chat', 'unpriced-chat']);
    expect(unsized.pinned).to.equal(0);
  });

  it('is a known strategy; a misspelt one is refused naming the field', () => {
    expect(() => normaliseNeed({ strategy: 'cheap' as never }, 'chat', [], 'smallest-sufficient')).to.throw(NeedError, /need\.strategy: expected one of smallest-sufficient, newest, prefer, cheapest/);
  });
});

describe('cheapest: the router', () => {
  it('routes a plain chat call to the cheapest model and lists the plan in cost order', async () => {
    const { router } = await pricedRouter({ strategy: 'cheapest' });
    const result = await router.chat.complete({ messages: text('hi'), maxTokens: 50 });
    expect(result.routing.model).to.equal('wide-chat');
    expect(result.routing.plan.candidates.map((c) => c.model)).to.deep.equal(['wide-chat', 'lean-chat', 'premium-chat', 'unpriced-chat']);
    // The default strategy picks the smallest sufficient model instead.
    const { router: plain } = await pricedRouter();
    expect((await plain.chat.complete({ messages: text('hi'), maxTokens: 50 })).routing.model).to.equal('lean-chat');
  });

  it('per call (need.strategy), with a named model first, and along the cost order when quota runs out', async () => {
    const { router } = await pricedRouter({
      workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { models: { 'wide-chat': { tokensPerMinute: 1 } } } }],
    });
    const named = await router.chat.complete({ model: 'premium-chat', need: { strategy: 'cheapest' }, messages: text('hi'), maxTokens: 10 });
    expect(named.routing.model).to.equal('premium-chat');
    expect(named.routing.plan.candidates.map((c) => c.model)).to.deep.equal(['premium-chat', 'wide-chat', 'lean-chat', 'unpriced-chat']);
    // wide-chat's 1 token a minute never fits: the next cheapest, lean-chat, takes the call.
    const passed = await router.chat.complete({ need: { strategy: 'cheapest' }, messages: text('hi'), maxTokens: 10 });
    expect(passed.routing.model).to.equal('lean-chat');
    expect(passed.routing.passedOver.map((p) => p.model)).to.deep.equal(['wide-chat']);
  });

  it('router.plan() shows the cheapest order too; a bad router strategy is a ConfigError', async () => {
    const { router } = await pricedRouter();
    const plan = await router.plan('chat', { need: { strategy: 'cheapest' }, messages: text('hi'), maxTokens: 10 });
    expect(plan.candidates.map((c) => c.model)).to.deep.equal(['wide-chat', 'lean-chat', 'premium-chat', 'unpriced-chat']);
    expect(() => createRouter({ catalog: catalogPriced, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], strategy: 'priciest' as never })).to.throw(ConfigError, /^strategy: expected one of smallest-sufficient, newest, prefer, cheapest/);
  });
});
