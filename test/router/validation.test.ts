/**
 * Bad input, as a careful user would try it: requests the router refuses before anything is reserved or
 * sent (a NeedError naming the field, with a message that says what was received), and options that can
 * never work, refused at construction (a ConfigError naming the option, no key or password echoed).
 */
import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { ConfigError, NeedError } from '../../lib/errors.js';
import { createRouter, type Router, type RouterOptions } from '../../lib/index.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import { catalog2025 } from '../helpers/catalog-2025.js';

const KEY_A = 'sk-test-key-workspace-a-0123456789';
const KEY_B = 'sk-test-key-workspace-b-9876543210';
const text = (content: string) => [{ role: 'user' as const, content }];

const routers: Router[] = [];
afterEach(async () => {
  while (routers.length > 0) await (routers.pop() as Router).close();
});

/** A router on a fake clock whose server nobody listens on: a request that got past validation would fail to connect. */
function router(options: Partial<RouterOptions> = {}): { router: Router; store: MemoryStore } {
  const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
  const store = new MemoryStore({ clock });
  const made = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: 'http://127.0.0.1:9', clock, store, ...options });
  routers.push(made);
  return { router: made, store };
}

async function needError(promise: Promise<unknown>, field: string): Promise<NeedError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error, `${field}: ${String(error)}`).to.be.instanceOf(NeedError);
  expect((error as NeedError).field, String(error)).to.equal(field);
  expect((error as NeedError).code).to.equal('NEED_INVALID');
  return error as NeedError;
}

describe('router: bad requests are NeedErrors naming the field, saying what was received', () => {
  it('a null request, missing messages, prompt 42, model "", missing inputs', async () => {
    const { router: r, store } = router();
    const cases: [string, () => Promise<unknown>, string, RegExp][] = [
      ['a null request', () => r.chat.complete(null as never), 'request', /request: expected a request object, received null$/],
      ['an array as request', () => r.chat.complete([] as never), 'request', /received an array$/],
      ['missing messages', () => r.chat.complete({} as never), 'messages', /messages: expected a list of messages, received undefined$/],
      ['messages as a string', () => r.chat.complete({ messages: 'hi' } as never), 'messages', /received "hi"$/],
      ['prompt 42', () => r.fim.complete({ prompt: 42 } as never), 'prompt', /prompt: expected a string, received 42$/],
      ['model ""', () => r.chat.complete({ model: '', messages: text('x') }), 'model', /model: expected a model id or alias, received ""$/],
      ['model 7', () => r.chat.complete({ model: 7 as never, messages: text('x') }), 'model', /received 7$/],
      ['missing inputs', () => r.embeddings.create({} as never), 'inputs', /inputs: expected a string or a list of strings, received undefined$/],
      ['a dry run with a null request', () => r.plan('chat', null as never), 'request', /received null$/],
      ['a lease for a request without messages', () => r.reserve('chat', {} as never), 'messages', /received undefined$/],
    ];
    for (const [label, call, field, message] of cases) {
      const error = await needError(call(), field);
      expect(error.message, label).to.match(message);
    }
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('messages do not contradict themselves: null is null, NaN is NaN, a string is quoted', async () => {
    const { router: r } = router();
    const cases: [() => Promise<unknown>, string, string][] = [
      [() => r.chat.complete({ need: null as never, messages: text('x') }), 'need', 'expected an object, received null'],
      [() => r.chat.complete({ messages: text('x'), maxTokens: Number.NaN }), 'maxTokens', 'received NaN'],
      [() => r.chat.complete({ messages: text('x'), maxTokens: '50' as never }), 'maxTokens', 'received "50"'],
      [() => r.chat.complete({ messages: text('x'), maxWaitMs: '60000' as never }), 'maxWaitMs', 'received "60000"'],
      [() => r.chat.complete({ messages: text('x'), maxWaitMs: Number.NaN }), 'maxWaitMs', 'received NaN'],
      [() => r.chat.complete({ need: { minContext: '5' as never }, messages: text('x') }), 'need.minContext', 'received "5"'],
      [() => r.chat.complete({ need: { family: null as never }, messages: text('x') }), 'need.family', 'received null'],
      [() => r.chat.complete({ need: { prefer: [3] as never }, messages: text('x') }), 'need.prefer[0]', 'received 3'],
    ];
    for (const [call, field, received] of cases) {
      const error = await needError(call(), field);
      expect(error.message, field).to.contain(received);
      expect(error.message, field).not.to.match(/received object|expected an object, received an? object/);
    }
  });

  it('options and call options say what they received the same way', async () => {
    const { router: r } = router();
    expect(() => router({ maxWaitMs: '60000' as never })).to.throw(ConfigError, /maxWaitMs: expected a whole number from 0 to \d+, received "60000"$/);
    expect(() => router({ cooldownMs: Number.NaN })).to.throw(ConfigError, /received NaN$/);
    const error = await needError(r.chat.complete({ messages: text('x') }, { timeoutMs: '100' as never }), 'options.timeoutMs');
    expect(error.message).to.match(/received "100"$/);
  });
});

describe('router: a request the SDK\'s own schema refuses names the field path, not "request"', () => {
  it('content 42, a bad role, a chunk\'s text 5, temperature "hot": the path, what was expected, no JSON dump, nothing held', async () => {
    const { router: r, store } = router();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ messages: [{ role: 'user', content: 42 }] }, 'messages[0].content', /expected string or array, received number/],
      [{ messages: [{ role: 'user', content: 'x' }, { role: 'bogus', content: 'x' }] }, 'messages[1].role', /expected one of "assistant", "system", "tool", "user"/],
      [{ messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }] }, 'messages[0].content[0].text', /expected string, received number/],
      [{ messages: text('x'), temperature: 'hot' }, 'temperature', /expected number, received string/],
    ];
    for (const [request, field, message] of cases) {
      const error = await needError(r.chat.complete({ ...request, maxTokens: 5 } as never), field);
      expect(error.message, field).to.match(message);
      expect(error.message, field).to.match(/the SDK refused the request before sending it/);
      expect(error.message.length, `${field}: ${error.message}`).to.be.below(200);
      expect(error.message, field).not.to.match(/[[{]\s*"/);
      expect(JSON.stringify({ message: error.message, cause: String(error.cause) })).not.to.include(KEY_A);
    }
    expect(await store.pendingReservations()).to.equal(0);
  });
});
