/**
 * router.wire: wire bodies routed through the one attempt loop and sent without the SDK, against the
 * project's emulator on a fake clock. Where the library's API has the same behaviour, the same scenario runs
 * through `router.chat.complete` (the SDK) and `router.wire.chat` on twin setups, and the two must fail and
 * fall back alike: same attempts (model, outcome, status), same error class and code.
 */
import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../lib/emulator/index.js';
import { NeedError, RouterError, UpstreamError } from '../../lib/errors.js';
import { createRouter, type Router, type RouterEvents, type RouterOptions } from '../../lib/index.js';
import { createNodeFetch } from '../../lib/mistral/node-fetch.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import type { AttemptRecord } from '../../lib/router/events.js';
import { catalog2025 } from '../helpers/catalog-2025.js';
import { drive as driveClock } from '../helpers/drive.js';
import { EmulatedSetups, type EmulatedSetup } from '../helpers/emulated-router.js';
import { failure } from '../helpers/routed.js';

const KEY = 'sk-wire-test-key-0123456789abcdef';

type Setup = EmulatedSetup;

const setups = new EmulatedSetups({ apiKeys: [KEY], workspaces: [{ name: 'team', apiKey: KEY, tier: 'free' }], events: ['fallback', 'limitsLearned', 'cooldown', 'modelUnavailable', 'deprecated', 'done'] });
const setup = (emulatorOptions: Partial<EmulatorOptions> = {}, routerOptions: Partial<RouterOptions> = {}): Promise<Setup> => setups.setup(emulatorOptions, routerOptions);

afterEach(() => setups.closeAll());

const drive = <T>(s: Setup, promise: Promise<T>): Promise<T> => driveClock(s.clock, promise, s.store);
const hi = [{ role: 'user', content: 'hi' }];
const attemptsOf = (attempts: readonly AttemptRecord[]) => attempts.map((a) => [a.model, a.outcome, a.status]);

/** No key in an error, its message, its cause chain or anything they hold. */
function expectNoKey(value: unknown): void {
  const seen = new Set<unknown>();
  const walk = (v: unknown): string => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return String(v);
    seen.add(v);
    const error = v as { message?: unknown; cause?: unknown; stack?: unknown };
    return [error.message, error.stack, walk(error.cause), ...Object.values(v).map(walk)].join(' ');
  };
  expect(walk(value)).not.to.include(KEY);
}

describe('router.wire: wire bodies through the one attempt loop', () => {
  it('answers the upstream JSON as it came, settles at its snake_case usage, and routes by the body and options', async () => {
    const s = await setup();
    const body = { model: 'mistral-small-latest', messages: hi, max_tokens: 12, response_format: { type: 'json_object' } };
    const result = await drive(s, s.router.wire.chat(body));
    expect(result.routing.model).to.equal('mistral-small-2506');
    expect(JSON.parse(result.text)).to.deep.equal(result.body);
    const usage = result.body.usage as { total_tokens: number; prompt_tokens: number };
    expect(result.routing.tokens.used).to.equal(usage.total_tokens);
    expect(await s.store.pendingReservations()).to.equal(0);
    // The routing options are the router's; the body stays what Mistral takes.
    const vision = await drive(s, s.router.wire.chat({ messages: hi, max_tokens: 5 }, { need: { capabilities: ['vision', 'function_calling'] }, maxWaitMs: 5_000 }));
    expect(vision.routing.plan.need.capabilities).to.include('vision');
    expect(vision.routing.waitedMs).to.be.greaterThan(0); // the free tier's 1 request a second: it waited, within its 5 s
    const embedded = await drive(s, s.router.wire.embeddings({ input: ['a', 'b'] }));
    expect((embedded.body.data as unknown[]).length).to.equal(2);
    expect(embedded.routing.tokens.used).to.equal((embedded.body.usage as { total_tokens: number }).total_tokens);
    const fim = await drive(s, s.router.wire.fim({ prompt: 'def f(', suffix: 'return x', max_tokens: 8 }));
    expect(fim.routing.model).to.equal('codestral-2501');
    expect(await s.store.pendingReservations()).to.equal(0);
  });

  it('refuses a field Mistral does not take, naming it, before anything is reserved or sent', async () => {
    const s = await setup();
    const error = await failure(s.router.wire.chat({ messages: hi, temprature: 0.2 }));
    expect(error).to.be.instanceOf(NeedError);
    expect((error as NeedError).field).to.equal('temprature');
    expect(s.emulator.stats().requests).to.equal(0);
  });

  it('refuses a malformed nested shape (messages, parts, tools, FIM, embeddings) naming its path, before anything is reserved or sent', async () => {
    const s = await setup();
    const wire = s.router.wire;
    const cases: [Promise<unknown>, string][] = [
      [wire.chat({ messages: 'hi' }), 'messages'],
      [wire.chat({ messages: [{ content: 'hi' }] }), 'messages[0].role'],
      [wire.chatStream({ messages: [{ role: 'user', content: [{ type: 'hologram' }] }] }), 'messages[0].content[0].type'],
      [wire.chat({ messages: hi, tools: [{ type: 'function', function: { parameters: {} } }] }), 'tools[0].function.name'],
      [wire.fim({ prompt: 'x', suffix: 3 }), 'suffix'],
      [wire.fimStream({ prompt: 'x', stop: [null] }), 'stop[0]'],
      [wire.embeddings({ input: [['nested']] }), 'input[0]'],
    ];
    for (const [call, field] of cases) {
      const error = await failure(call);
      expect(error, field).to.be.instanceOf(NeedError);
      expect((error as NeedError).field).to.equal(field);
    }
    expect(s.emulator.stats().requests).to.equal(0);
    expect(await s.store.pendingReservations()).to.equal(0);
  });

  const scenarios: { name: string; emulator: Partial<EmulatorOptions>; router?: Partial<RouterOptions>; request: { model?: string; max_tokens: number } }[] = [
    { name: 'an upstream 5xx cools the model down and falls back', emulator: { faults: { errorRate: 1, errorStatuses: [500], models: ['mistral-small-2506'] } }, router: { fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] } }, request: { model: 'mistral-small-2506', max_tokens: 10 } },
    { name: 'an upstream 429 (quota) blocks the window and falls back', emulator: { overrides: { requestsPerSecond: null, models: { 'mistral-small-2506': { tokensPerMinute: 100 } } } }, request: { model: 'mistral-small-2506', max_tokens: 200 } },
    { name: 'a capacity 429 (code 3505) cools the model down and falls back', emulator: { faults: { capacityRate: 1, capacityStatus: 429, models: ['mistral-small-2506'] } }, request: { model: 'mistral-small-2506', max_tokens: 10 } },
    { name: '"Invalid model" passes the pair over, charging nothing', emulator: { modelsByKey: { [KEY]: catalog2025.models.map((m) => m.id).filter((id) => id !== 'mistral-small-2506') } }, request: { model: 'mistral-small-2506', max_tokens: 10 } },
    { name: 'a dropped connection cools the model down and falls back', emulator: { faults: { dropBeforeRate: 1, models: ['mistral-small-2506'] } }, request: { model: 'mistral-small-2506', max_tokens: 10 } },
    { name: 'every attempt failing: the last upstream error, typed', emulator: { faults: { errorRate: 1, errorStatuses: [502] } }, router: { maxAttempts: 2 }, request: { max_tokens: 10 } },
  ];

  for (const scenario of scenarios) {
    it(`fails and falls back as the SDK's call does: ${scenario.name}`, async () => {
      const outcomes: unknown[] = [];
      for (const via of ['sdk', 'wire'] as const) {
        const s = await setup(scenario.emulator, scenario.router);
        const { model, max_tokens } = scenario.request;
        const call = via === 'sdk' ? s.router.chat.complete({ ...(model === undefined ? {} : { model }), messages: [{ role: 'user', content: 'hi' }], maxTokens: max_tokens }) : s.router.wire.chat({ ...(model === undefined ? {} : { model }), messages: hi, max_tokens });
        let outcome: unknown;
        try {
          const result = await drive(s, call as Promise<{ routing: { attempts: readonly AttemptRecord[]; model: string } }>);
          outcome = { ok: result.routing.model, attempts: attemptsOf(result.routing.attempts) };
        } catch (error) {
          expectNoKey(error);
          outcome = { error: (error as Error).constructor.name, code: (error as RouterError).code, status: (error as UpstreamError).status };
        }
        outcomes.push({ outcome, events: s.events.filter((e) => e.name !== 'done').map((e) => [e.name, (e.event as { reason?: unknown }).reason ?? null]), stats: s.emulator.stats().responses });
        expect(await s.store.pendingReservations(), via).to.equal(0);
      }
      expect(outcomes[1], 'wire vs SDK').to.deep.equal(outcomes[0]);
    });
  }

  it('a timeout classifies as the SDK\'s (timeout, cooled down, next candidate)', async () => {
    const s = await setup({ faults: { latencyMs: 3_000, models: ['mistral-small-2506'] } }, { fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] } });
    const result = await drive(s, s.router.wire.chat({ model: 'mistral-small-2506', messages: hi, max_tokens: 5 }, { timeoutMs: 100 }));
    expect(attemptsOf(result.routing.attempts)).to.deep.equal([['mistral-small-2506', 'timeout', undefined], ['open-mistral-nemo', 'ok', 200]]);
    expect(await s.store.pendingReservations()).to.equal(0);
  });

  it('through a fetch of the caller\'s (not createNodeFetch): the same answers, and its attempts cancel through an AbortSignal', async () => {
    const signals: unknown[] = [];
    const fetch = (input: Request | string | URL, init?: RequestInit) => {
      signals.push(init?.signal);
      return globalThis.fetch(input, init);
    };
    const s = await setup({ faults: { latencyMs: 3_000, models: ['mistral-small-2506'] } }, { fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] }, fetch });
    const result = await drive(s, s.router.wire.chat({ model: 'mistral-small-2506', messages: hi, max_tokens: 5 }, { timeoutMs: 100 }));
    expect(attemptsOf(result.routing.attempts)).to.deep.equal([['mistral-small-2506', 'timeout', undefined], ['open-mistral-nemo', 'ok', 200]]);
    expect(JSON.parse(result.text)).to.deep.equal(result.body);
    const stream = await drive(s, s.router.wire.chatStream({ model: 'open-mistral-nemo', messages: hi, max_tokens: 20 }));
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).to.be.greaterThan(1);
    await stream.settled;
    expect(signals).to.have.length(3);
    for (const signal of signals) expect(signal).to.be.instanceOf(AbortSignal);
    expect((signals[0] as AbortSignal).aborted).to.equal(true);
    expect(await s.store.pendingReservations()).to.equal(0);
  });

  it('a connection refused is a connection failure, and no key is in the error', async () => {
    const s = await setup({}, { serverURL: 'http://127.0.0.1:9', maxAttempts: 1, fetch: createNodeFetch() });
    const error = await failure(drive(s, s.router.wire.chat({ messages: hi, max_tokens: 5 })));
    expect(error).to.be.instanceOf(RouterError);
    expectNoKey(error);
    expect(s.events.find((e) => e.name === 'fallback')?.event).to.include({ reason: 'connection' });
  });

  it('learns from the response headers: limits, and a retirement announced by x-model-deprecation-timestamp', async () => {
    const s = await setup({ overrides: { requestsPerSecond: null, models: { 'mistral-small-2506': { tokensPerMinute: 500 } } } }, { workspaces: [{ name: 'team', apiKey: KEY, tier: 'free', overrides: { requestsPerSecond: null } }] });
    await drive(s, s.router.wire.chat({ model: 'mistral-small-2506', messages: hi, max_tokens: 200 }));
    const learned = s.events.filter((e) => e.name === 'limitsLearned').map((e) => e.event as RouterEvents['limitsLearned']);
    expect(learned.find((l) => l.kind === 'tokens-per-minute')).to.deep.include({ model: 'mistral-small-2506', limit: 500, previous: null });
    const second = await drive(s, s.router.wire.chat({ model: 'mistral-small-2506', messages: hi, max_tokens: 300 }));
    expect(second.routing.model).not.to.equal('mistral-small-2506');
    expect(s.emulator.stats().responses['429'] ?? 0).to.equal(0);
  });

  it('learns a retirement from the deprecation header', async () => {
    const clock = new FakeClock(Date.UTC(2026, 6, 30, 12));
    const emulator = await startEmulator({ tier: 'free', clock, apiKeys: [KEY] });
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team', apiKey: KEY, tier: 'free' }], serverURL: emulator.url, clock });
    setups.track({ clock, emulator, router, store: new MemoryStore({ clock }), events: [] });
    const deprecated: unknown[] = [];
    router.events.on('deprecated', (event) => deprecated.push(event));
    await router.wire.chat({ model: 'mistral-small-2506', messages: hi, max_tokens: 5 });
    expect(router.catalog.model('mistral-small-2506')?.deprecation?.retired).to.equal('2026-07-31');
    expect(deprecated[0]).to.include({ model: 'mistral-small-2506', status: 'deprecated' });
  });
});

describe('router.wire: streams', () => {
  it('passes the chunks through as sent, settles at the last chunk\'s usage, nothing pending', async () => {
    const s = await setup();
    const stream = await drive(s, s.router.wire.chatStream({ model: 'mistral-small-2506', messages: hi, max_tokens: 20 }));
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).to.be.greaterThan(1);
    for (const chunk of chunks) expect(JSON.parse(chunk.data)).to.deep.equal(chunk.json);
    const last = chunks.at(-1)?.json.usage as { total_tokens: number };
    const final = await stream.settled;
    expect(final.tokens.used).to.equal(last.total_tokens);
    expect(await s.store.pendingReservations()).to.equal(0);
  });

  it('takeQueued hands over the chunks already in, between two reads only, upstreamEnded says the next read ends it, and the stream settles alike', async () => {
    const s = await setup({ overrides: { requestsPerSecond: null } }, { workspaces: [{ name: 'team', apiKey: KEY, tier: 'free', overrides: { requestsPerSecond: null } }] });
    const body = { model: 'mistral-small-2506', messages: hi, max_tokens: 40 };
    const plain = [];
    for await (const chunk of await drive(s, s.router.wire.chatStream(body))) plain.push(chunk.data);
    const stream = await drive(s, s.router.wire.chatStream(body));
    const reader = stream[Symbol.asyncIterator]();
    expect(reader.takeQueued()).to.deep.equal([]); // unread
    const read: string[] = [];
    let taken = 0;
    for (;;) {
      const next = reader.next();
      expect(reader.takeQueued()).to.deep.equal([]); // a next() is on its way
      expect(reader.upstreamEnded()).to.equal(false);
      const result = await next;
      if (result.done === true) break;
      read.push(result.value.data);
      for (const chunk of reader.takeQueued()) {
        read.push(chunk.data);
        taken++;
      }
      if (reader.upstreamEnded()) {
        expect(reader.takeQueued()).to.deep.equal([]);
        expect((await reader.next()).done).to.equal(true); // nothing waits on the connection
        break;
      }
    }
    expect(reader.upstreamEnded()).to.equal(false); // ended
    expect(taken).to.be.greaterThan(0);
    const contents = (data: readonly string[]) => data.map((d) => JSON.stringify((JSON.parse(d) as { choices: unknown[] }).choices));
    expect(contents(read)).to.deep.equal(contents(plain));
    expect(reader.takeQueued()).to.deep.equal([]); // ended
    const final = await stream.settled;
    expect(final.tokens.used).to.equal((JSON.parse(read.at(-1) ?? '') as { usage: { total_tokens: number } }).usage.total_tokens);
    expect(await s.store.pendingReservations()).to.equal(0);
  });

  it('a stream failing before its first chunk falls back; after it, a typed STREAM_FAILED, settled', async () => {
    const before = await setup({ faults: { dropBeforeRate: 1, models: ['mistral-small-2506'] } }, { fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] } });
    const fell = await drive(before, before.router.wire.chatStream({ model: 'mistral-small-2506', messages: hi, max_tokens: 10 }));
    expect(attemptsOf(fell.routing.attempts)).to.deep.equal([['mistral-small-2506', 'connection', undefined], ['open-mistral-nemo', 'ok', 200]]);
    for await (const chunk of fell) expect(chunk.json.model).to.equal('open-mistral-nemo');
    await fell.settled;
    expect(await before.store.pendingReservations()).to.equal(0);
    const mid = await setup({ faults: { dropMidStreamRate: 1 } });
    const broken = await drive(mid, mid.router.wire.chatStream({ messages: hi, max_tokens: 40 }));
    const error = await failure((async () => {
      for await (const chunk of broken) void chunk;
    })());
    expect((error as RouterError).code).to.equal('STREAM_FAILED');
    expectNoKey(error);
    await broken.settled;
    expect(await mid.store.pendingReservations()).to.equal(0);
  });

  it('a reader that stops (a client disconnect) cancels the upstream and settles; an abort is an AbortError', async () => {
    const s = await setup({ faults: { chunkIntervalMs: 60_000 } });
    const stream = await drive(s, s.router.wire.chatStream({ messages: hi, max_tokens: 40 }));
    const reader = stream[Symbol.asyncIterator]();
    expect((await reader.next()).done).to.equal(false);
    const pending = reader.next();
    await reader.return?.();
    await pending.catch(() => undefined);
    const final = await stream.settled;
    expect(final.model).to.be.a('string');
    expect(await s.store.pendingReservations()).to.equal(0);
    const controller = new AbortController();
    const aborted = await drive(s, s.router.wire.chatStream({ messages: hi, max_tokens: 40 }, { signal: controller.signal }));
    const chunks = aborted[Symbol.asyncIterator]();
    await chunks.next();
    const next = chunks.next();
    controller.abort();
    const error = await failure(next);
    expect((error as RouterError).code).to.equal('ABORTED');
    await aborted.settled;
    expect(await s.store.pendingReservations()).to.equal(0);
    expect(s.events.filter((e) => e.name === 'done').map((e) => (e.event as { ok: boolean }).ok)).to.deep.equal([true, false]);
  });
});
