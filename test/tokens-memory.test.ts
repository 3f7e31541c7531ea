import { expect } from 'chai';
import { TokenEstimator } from '../lib/tokens.js';

const system = 'You are a careful assistant for the finance team. Answer in French, cite the ledger line. '.repeat(6);
const chat = (user: string, extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'system', content: system }, { role: 'user', content: user }], maxTokens: 100, ...extra });

describe('TokenEstimator: measured prompts by content key', () => {
  it('gives equal contents the same key, whatever the copies, and any difference another key', () => {
    const estimator = new TokenEstimator();
    const key = estimator.contentKey('chat', chat('What is the balance?'));
    expect(key).to.be.a('number');
    expect(estimator.contentKey('chat', JSON.parse(JSON.stringify(chat('What is the balance?'))) as Record<string, unknown>)).to.equal(key);
    expect(estimator.contentKey('chat', chat('What is the balance?', { temperature: 0.2, maxTokens: 5, need: { capabilities: ['chat'] } })), 'fields that do not change the prompt').to.equal(key);
    const others = [
      chat('What is the balance!'),
      chat('What is the balance?', { safePrompt: true }),
      { messages: [{ role: 'user', content: system }, { role: 'user', content: 'What is the balance?' }] },
      { messages: [{ role: 'system', content: system + ' ' }, { role: 'user', content: 'What is the balance?' }] },
      { messages: [{ role: 'system', content: system }, { role: 'user', content: [{ type: 'text', text: 'What is the balance?' }] }] },
    ];
    const keys = new Set([key, ...others.map((request) => estimator.contentKey('chat', request))]);
    expect(keys.size).to.equal(others.length + 1);
    expect(estimator.contentKey('fim', { prompt: 'def f(', suffix: 'return x' })).to.not.equal(estimator.contentKey('fim', { prompt: 'def f(', suffix: null }));
    expect(estimator.contentKey('embeddings', { inputs: ['a', 'b'] })).to.not.equal(estimator.contentKey('embeddings', { inputs: ['ab'] }));
  });

  it('keys tools by identity: the same array object is the same content, a rebuilt one is not', () => {
    const estimator = new TokenEstimator();
    const tools = [{ type: 'function', function: { name: 'ledger', parameters: {} } }];
    const key = estimator.contentKey('chat', chat('q', { tools }));
    expect(estimator.contentKey('chat', chat('q', { tools }))).to.equal(key);
    expect(estimator.contentKey('chat', chat('q', { tools: structuredClone(tools) }))).to.not.equal(key);
  });

  it('has no key for what it cannot key cheaply: images, tool calls, unknown fields', () => {
    const estimator = new TokenEstimator();
    expect(estimator.contentKey('chat', { messages: [{ role: 'user', content: [{ type: 'image_url', imageUrl: 'https://x/a.png' }] }] })).to.equal(undefined);
    expect(estimator.contentKey('chat', { messages: [{ role: 'assistant', content: '', toolCalls: [{ id: 'a', function: { name: 'f', arguments: '{}' } }] }] })).to.equal(undefined);
    expect(estimator.contentKey('chat', chat('q', { documentImageLimit: 3 }))).to.equal(undefined);
    expect(new TokenEstimator({ measuredSize: 0 }).contentKey('chat', chat('q'))).to.equal(undefined);
  });

  it('remembers the largest prompt size measured per key, bounded by measuredSize', () => {
    const estimator = new TokenEstimator({ measuredSize: 2 });
    const keys = ['a', 'b', 'c'].map((user) => estimator.contentKey('chat', chat(user)) as number);
    estimator.remember(keys[0], 120);
    estimator.remember(keys[0], 110); // another model's tokenizer counted less: the reservation must cover both
    expect(estimator.measured(keys[0])).to.equal(120);
    estimator.remember(keys[1], 50);
    estimator.remember(keys[2], 60);
    expect(estimator.measured(keys[0]), 'the oldest left the memory').to.equal(undefined);
    expect(estimator.measured(keys[2])).to.equal(60);
    estimator.remember(keys[2], -1);
    estimator.remember(keys[2], 1.5);
    expect(estimator.measured(keys[2])).to.equal(60);
    expect(estimator.stats().measuredHits).to.equal(3);
  });
});
