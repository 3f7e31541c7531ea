/**
 * Cost: the pure arithmetic (tokens × USD per million, embeddings on input only, unknown price -> null,
 * never 0), then every routed call's `routing.cost` and the `decision`/`done` events, against the priced
 * fixture's prices, through the real SDK and the emulator.
 */
import { expect } from 'chai';
import { costOf, expectedUsd, splitUsage, wholeMicroUsd, exactMicroUsd } from '../../lib/telemetry/cost.js';
import { catalogPriced } from '../helpers/catalog-priced.js';
import { closeAll, pricedRouter, text } from '../helpers/priced-router.js';

const lean = catalogPriced.model('lean-chat');
const embed = catalogPriced.model('plain-embed');
const unpriced = catalogPriced.model('unpriced-chat');

afterEach(closeAll);

describe('cost: arithmetic', () => {
  it('chat: input × input price + output × output price, per million', () => {
    const cost = costOf(lean, 'chat', { promptTokens: 1_000, completionTokens: 500, totalTokens: 1_500 });
    expect(cost).to.deep.equal({ usd: (1_000 * 0.2 + 500 * 0.6) / 1e6, inputTokens: 1_000, outputTokens: 500, pricePerMillion: { input: 0.2, output: 0.6 } });
  });

  it('derives the missing count from the total, and gives up when the split is unknown', () => {
    expect(splitUsage({ promptTokens: 10, totalTokens: 25 }, 'chat')).to.deep.equal({ input: 10, output: 15 });
    expect(splitUsage({ completionTokens: 5, totalTokens: 25 }, 'fim')).to.deep.equal({ input: 20, output: 5 });
    expect(splitUsage({ totalTokens: 25 }, 'chat')).to.equal(undefined);
    expect(costOf(lean, 'chat', { totalTokens: 25 })).to.equal(null);
    expect(costOf(lean, 'chat', undefined)).to.equal(null);
  });

  it('embeddings: input only, although the output price is unknown', () => {
    const cost = costOf(embed, 'embeddings', { promptTokens: 300, totalTokens: 300 });
    expect(cost).to.deep.equal({ usd: (300 * 0.1) / 1e6, inputTokens: 300, outputTokens: 0, pricePerMillion: { input: 0.1, output: null } });
    expect(costOf(embed, 'embeddings', { totalTokens: 40 })?.inputTokens).to.equal(40);
  });

  it('an unknown price makes the cost unknown, never 0', () => {
    const cost = costOf(unpriced, 'chat', { promptTokens: 10, completionTokens: 10, totalTokens: 20 });
    expect(cost).to.deep.equal({ usd: null, inputTokens: 10, outputTokens: 10, pricePerMillion: { input: null, output: null } });
    expect(expectedUsd(unpriced, 'chat', 10, 10)).to.equal(null);
    // A chat model with an input price but no output price cannot price a chat call.
    expect(exactMicroUsd({ input: 1, output: null }, 'chat', 10, 10)).to.equal(null);
    expect(expectedUsd(undefined, 'chat', 1, 1)).to.equal(null);
  });

  it('micro-dollars: tokens × USD per million, rounded up once, float noise ignored', () => {
    expect(exactMicroUsd({ input: 0.1, output: 0.3 }, 'chat', 100, 0)).to.be.closeTo(10, 1e-9);
    expect(wholeMicroUsd(100 * 0.1)).to.equal(10); // 10.000000000000002 is not 11
    expect(wholeMicroUsd(10.2)).to.equal(11);
    expect(wholeMicroUsd(0)).to.equal(0);
  });
});

describe('cost: every routed call carries it', () => {
  it('chat.complete: routing.cost from the usage and the catalogue prices; decision and done carry it', async () => {
    const { router, events } = await pricedRouter();
    const result = await router.chat.complete({ model: 'lean-chat', messages: text('what does this cost?'), maxTokens: 40 });
    const usage = { promptTokens: result.usage.promptTokens ?? -1, completionTokens: result.usage.completionTokens ?? -1 };
    expect(result.routing.cost).to.deep.equal({
      usd: (usage.promptTokens * 0.2 + usage.completionTokens * 0.6) / 1e6,
      inputTokens: usage.promptTokens,
      outputTokens: usage.completionTokens,
      pricePerMillion: { input: 0.2, output: 0.6 },
    });
    expect(Object.isFrozen(result.routing.cost)).to.equal(true);
    const decided = events.find((e) => e.name === 'decision')?.event;
    const { prompt, maxOutput } = result.routing.plan.tokens;
    expect(maxOutput).to.equal(40);
    expect(decided?.estimatedCostUsd).to.be.closeTo((prompt * 0.2 + 40 * 0.6) / 1e6, 1e-15);
    expect(events.find((e) => e.name === 'done')?.event.cost).to.deep.equal(result.routing.cost);
  });

  it('embeddings: priced on input', async () => {
    const { router } = await pricedRouter();
    const result = await router.embeddings.create({ inputs: ['one sentence', 'another sentence'] });
    expect(result.routing.model).to.equal('plain-embed');
    expect(result.routing.cost?.usd).to.equal(((result.usage.promptTokens ?? -1) * 0.1) / 1e6);
    expect(result.routing.cost?.outputTokens).to.equal(0);
  });

  it('a model without a price: usd null, the tokens still counted', async () => {
    const { router, events } = await pricedRouter();
    const result = await router.chat.complete({ model: 'unpriced-chat', messages: text('hi'), maxTokens: 10 });
    expect(result.routing.cost).to.deep.include({ usd: null, inputTokens: result.usage.promptTokens, outputTokens: result.usage.completionTokens });
    expect(events.find((e) => e.name === 'decision')?.event.estimatedCostUsd).to.equal(null);
  });

  it('a stream: no cost at the hand-over, the last chunk\'s usage priced in settled', async () => {
    const { router } = await pricedRouter();
    const stream = await router.chat.stream({ model: 'wide-chat', messages: text('stream me a few words'), maxTokens: 30 });
    expect(stream.routing.cost).to.equal(null);
    let last: { promptTokens: number; completionTokens: number } | undefined;
    for await (const event of stream) if (event.data.usage !== undefined) last = event.data.usage as typeof last;
    const settled = await stream.settled;
    expect(last).to.not.equal(undefined);
    expect(settled.cost?.usd).to.equal(((last?.promptTokens ?? 0) * 0.1 + (last?.completionTokens ?? 0) * 0.3) / 1e6);
    expect(settled.cost?.inputTokens).to.equal(last?.promptTokens);
  });
});
