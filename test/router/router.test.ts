/**
 * The router end to end: the real @mistralai/mistralai SDK against the project's emulator, both on one
 * fake clock, so waits and window boundaries are exact and instant.
 */
import { getEventListeners } from 'node:events';
import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../lib/emulator/index.js';
import { AbortError, NeedError, NoEligibleModelError, QuotaExhaustedError, RouterError, StoreError, UpstreamError } from '../../lib/errors.js';
import { createRouter, type Router, type RouterOptions, type RouterEvents } from '../../lib/index.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import type { QuotaStore, ReserveResult } from '../../lib/quota/types.js';
import { catalog2025 } from '../helpers/catalog-2025.js';
import { drive as driveClock } from '../helpers/drive.js';
import { EmulatedSetups, type EmulatedSetup } from '../helpers/emulated-router.js';
import { until } from '../helpers/routed.js';

const KEY_A = 'sk-test-key-workspace-a-0123456789';
const KEY_B = 'sk-test-key-workspace-b-9876543210';

type Setup = EmulatedSetup;

const setups = new EmulatedSetups({
  apiKeys: [KEY_A, KEY_B],
  workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }],
  events: ['decision', 'fallback', 'wait', 'exhausted', 'limitsLearned', 'cooldown', 'workspaceDisabled', 'done'],
});
const setup = (emulatorOptions: Partial<EmulatorOptions> = {}, routerOptions: Partial<RouterOptions> = {}): Promise<Setup> => setups.setup(emulatorOptions, routerOptions);

afterEach(() => setups.closeAll());

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (content: string) => [{ role: 'user' as const, content }];

/** The shared drive() (test/helpers/drive.ts) with the store of the current setup. */
const drive = <T>(clock: FakeClock, promise: Promise<T>, stepMs?: number, maxMs?: number): Promise<T> => driveClock(clock, promise, setups.last?.store, stepMs, maxMs);

async function expectNoReservationLeft(store: MemoryStore): Promise<void> {
  expect(await store.pendingReservations()).to.equal(0);
}

describe('router: capability routing through the real SDK', () => {
  const table: { name: string; call: (r: Router) => Promise<{ routing: { model: string } }>; expected: string }[] = [
    { name: 'vision (an image part)', call: (r) => r.chat.complete({ messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', imageUrl: 'https://example.com/cat.png' }] }], maxTokens: 50 }), expected: 'mistral-small-2506' },
    { name: 'vision + function calling, 60k context', call: (r) => r.chat.complete({ need: { capabilities: ['vision', 'function_calling'], minContext: 60_000 }, messages: text('hi'), maxTokens: 50 }), expected: 'mistral-small-2506' },
    { name: 'reasoning', call: (r) => r.chat.complete({ need: { capabilities: ['reasoning'] }, messages: text('prove it'), maxTokens: 50 }), expected: 'magistral-small-2507' },
    { name: 'audio', call: (r) => r.chat.complete({ need: { capabilities: ['audio'] }, messages: text('transcribe'), maxTokens: 50 }), expected: 'voxtral-small-2507' },
    { name: 'embeddings', call: (r) => r.embeddings.create({ inputs: ['a', 'b'] }), expected: 'mistral-embed' },
    { name: 'fill-in-the-middle', call: (r) => r.fim.complete({ prompt: 'def f(', suffix: 'return x', maxTokens: 20 }), expected: 'codestral-2501' },
    { name: 'an alias', call: (r) => r.chat.complete({ model: 'mistral-small-latest', messages: text('hi'), maxTokens: 10 }), expected: 'mistral-small-2506' },
    { name: 'a long context (150k) that only codestral-2501 takes', call: (r) => r.chat.complete({ need: { minContext: 150_000 }, messages: text('hi'), maxTokens: 10 }), expected: 'codestral-2501' },
  ];
  for (const row of table) {
    it(`${row.name} -> ${row.expected}`, async () => {
      const { router, clock, store } = await setup();
      const result = await drive(clock, row.call(router));
      expect(result.routing.model).to.equal(row.expected);
      await expectNoReservationLeft(store);
    });
  }

  it('returns the SDK response with the decision attached, and emits decision/done', async () => {
    const { router, events, clock } = await setup();
    const result = await drive(clock, router.chat.complete({ need: { capabilities: ['function_calling'] }, messages: text('hello there'), maxTokens: 20 }));
    expect(result.choices[0]?.message?.content).to.be.a('string');
    expect(result.usage.totalTokens).to.be.greaterThan(20);
    expect(result.routing.workspace).to.equal('team-a');
    expect(result.routing.attempts).to.have.length(1);
    expect(result.routing.attempts[0]).to.deep.include({ workspace: 'team-a', model: result.routing.model, outcome: 'ok', status: 200 });
    expect(result.routing.tokens.used).to.equal(result.usage.totalTokens);
    expect(Object.isFrozen(result.routing) && Object.isFrozen(result.routing.tokens) && Object.isFrozen(result.routing.attempts), 'a decision is a value').to.equal(true);
    expect(result.routing.plan.rejected.find((r) => r.model === 'mistral-embed')?.reason).to.equal('missing capability: chat, function_calling');
    expect(events.map((e) => e.name)).to.deep.equal(['decision', 'done']);
  });

  it('refuses bad input before any I/O with NeedError naming the field', async () => {
    const { router, emulator } = await setup();
    const before = emulator.stats().requests;
    await rejects(router.chat.complete({ need: { capabilities: ['telepathy' as never] }, messages: text('x') }), NeedError, /need.capabilities\[0\]: unknown capability "telepathy"/);
    await rejects(router.chat.complete({ messages: text('x'), maxTokens: -3 }), NeedError, /maxTokens: expected a whole number of tokens >= 0, received -3/);
    await rejects(router.chat.complete({ model: 'gpt-4', messages: text('x') }), NeedError, /model: unknown model "gpt-4"/);
    await rejects(router.chat.complete({ need: { capabilities: ['ocr'] }, messages: text('x') }), NoEligibleModelError, /No model in the catalogue can serve this chat request/);
    expect(emulator.stats().requests).to.equal(before);
  });

  it('dry run: router.plan() calls nothing and says why each model lost', async () => {
    const { router, emulator } = await setup();
    const plan = await router.plan('chat', { need: { capabilities: ['vision', 'function_calling'] }, messages: text('x'.repeat(100)), maxTokens: 60_000 });
    // Equal excess capabilities and windows: newest version first.
    expect(plan.candidates.map((c) => c.model)).to.deep.equal(['mistral-small-2506', 'mistral-small-2503', 'pixtral-large-2411', 'pixtral-12b-2409']);
    expect(plan.candidates.every((c) => c.room === true)).to.equal(true);
    expect(plan.rejected.find((r) => r.model === 'open-mistral-nemo')?.reason).to.equal('missing capability: vision');
    expect(emulator.stats().requests).to.equal(0);
  });
});

async function rejects(promise: Promise<unknown>, type: new (...args: never[]) => Error, message: RegExp): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(type);
    expect((error as Error).message).to.match(message);
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('router: quota, fallback and waiting', () => {
  it('falls back mistral-small-2506 -> open-mistral-nemo when the first one\'s tokens per minute run out', async () => {
    const limits = { models: { 'mistral-small-2506': { tokensPerMinute: 1_000 } } };
    const { router, clock, emulator, events, store } = await setup(
      { overrides: { ...limits, requestsPerSecond: null } },
      { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { requestsPerSecond: null, ...limits } }], fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] } },
    );
    const served: string[] = [];
    const passedOver: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const result = await drive(clock, router.chat.complete({ model: 'mistral-small-2506', messages: text('hello'), maxTokens: 300 }));
      served.push(result.routing.model);
      passedOver.push(result.routing.passedOver);
    }
    expect(served).to.deep.equal(['mistral-small-2506', 'mistral-small-2506', 'mistral-small-2506', 'open-mistral-nemo']);
    // The decision says why: the first candidate's tokens per minute were full, with room again within about a minute.
    expect(passedOver.slice(0, 3)).to.deep.equal([[], [], []]);
    const [skipped] = passedOver[3] as { workspace: string; model: string; windows: string[]; retryAfterMs: number }[];
    expect(skipped).to.deep.include({ workspace: 'team-a', model: 'mistral-small-2506', windows: ['tokens-per-minute'] });
    expect(skipped?.retryAfterMs).to.be.within(1, 61_000); // a sliding minute of one-second sub-buckets
    expect(emulator.stats().responses['429'] ?? 0).to.equal(0); // the router knew before asking
    // A minute later the first model has room again.
    clock.advance(61_000);
    const later = await drive(clock, router.chat.complete({ model: 'mistral-small-2506', messages: text('hello'), maxTokens: 300 }));
    expect(later.routing.model).to.equal('mistral-small-2506');
    expect(events.filter((e) => e.name === 'fallback')).to.have.length(0);
    await expectNoReservationLeft(store);
  });

  it('keeps the free tier\'s 1 request/s under a burst of 20 concurrent calls: no upstream 429, served in order', async () => {
    const { router, clock, emulator, store } = await setup();
    // When each call was admitted, on the fake clock: the queue's timer fires at the instant the window has
    // room, whatever real time the calls in flight take.
    const admitted: number[] = [];
    router.events.on('decision', () => admitted.push(clock.now()));
    const calls = Array.from({ length: 20 }, (_, i) => router.chat.complete({ need: { capabilities: ['function_calling'] }, messages: text(`call ${i}`), maxTokens: 10 }).then((r) => ({ i, waited: r.routing.waitedMs })));
    const results = await drive(clock, Promise.all(calls));
    expect(emulator.stats().responses['200']).to.equal(20);
    expect(emulator.stats().responses['429'] ?? 0).to.equal(0);
    // One per second, in arrival order (FIFO), each as soon as the window has room: the sliding second has
    // 50 ms sub-buckets, so the next slot opens within 50 ms after the second has passed.
    expect(admitted).to.have.length(20);
    for (let i = 1; i < admitted.length; i++) {
      expect((admitted[i] as number) - (admitted[i - 1] as number), `gap ${i}`).to.be.within(1_000, 1_050);
      expect(results[i]?.i).to.equal(i);
      expect(results[i]?.waited, `call ${i} waited`).to.equal((admitted[i] as number) - (admitted[0] as number));
    }
    await expectNoReservationLeft(store);
  });

  it('throws QuotaExhaustedError with a correct retryAfterMs when the wait bound is too short', async () => {
    const { router, clock, events } = await setup({}, { maxWaitMs: 200 });
    await drive(clock, router.chat.complete({ messages: text('first'), maxTokens: 10 }));
    const error = (await rejects(drive(clock, router.chat.complete({ messages: text('second'), maxTokens: 10 })), QuotaExhaustedError, /capacity returns in \d+ ms/)) as QuotaExhaustedError;
    // The first request was admitted at 12:00:00.5; the 1-second window (20 buckets of 50 ms) frees at 12:00:01.5.
    expect(error.retryAfterMs).to.be.within(950, 1_050);
    expect(error.code).to.equal('QUOTA_EXHAUSTED');
    expect(error.plan?.candidates.length).to.be.greaterThan(0);
    expect(events.some((e) => e.name === 'exhausted')).to.equal(true);
  });

  it('waits, then serves when capacity returns (fake clock)', async () => {
    const { router, clock, events } = await setup();
    await drive(clock, router.chat.complete({ messages: text('first'), maxTokens: 10 }));
    const t0 = clock.now();
    const second = await drive(clock, router.chat.complete({ messages: text('second'), maxTokens: 10 }));
    expect(second.routing.waitedMs).to.be.within(950, 1_100);
    expect(clock.now() - t0).to.be.within(950, 1_100);
    expect(events.some((e) => e.name === 'wait')).to.equal(true);
  });

  it('an AbortSignal cancels a wait, frees its place, and leaves no reservation', async () => {
    const { router, clock, store } = await setup();
    await drive(clock, router.chat.complete({ messages: text('first'), maxTokens: 10 }));
    const controller = new AbortController();
    const waiting = router.chat.complete({ messages: text('second'), maxTokens: 10 }, { signal: controller.signal });
    const third = router.chat.complete({ messages: text('third'), maxTokens: 10 });
    await clock.advanceAsync(100);
    controller.abort();
    await rejects(waiting, AbortError, /aborted while waiting/);
    const served = await drive(clock, third);
    expect(served.routing.model).to.be.a('string');
    await expectNoReservationLeft(store);
  });

  it('learns unknown limits from headers, and after an upstream 429 moves on at once', async () => {
    // mistral-small-2506 has unknown limits in the free tier: the router does not meter it until told.
    const { router, clock, emulator, events, store } = await setup(
      { overrides: { requestsPerSecond: null, models: { 'mistral-small-2506': { tokensPerMinute: 500 } } } },
      { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { requestsPerSecond: null } }] },
    );
    // 1st call: served; headers teach the limit.
    await drive(clock, router.chat.complete({ model: 'mistral-small-2506', messages: text('hi'), maxTokens: 200 }));
    const learned = events.filter((e) => e.name === 'limitsLearned').map((e) => e.event as RouterEvents['limitsLearned']);
    expect(learned.find((l) => l.kind === 'tokens-per-minute')).to.deep.include({ model: 'mistral-small-2506', limit: 500, previous: null });
    // 2nd call would exceed the learned 500: the router goes elsewhere without asking (no 429).
    const second = await drive(clock, router.chat.complete({ model: 'mistral-small-2506', messages: text('hi'), maxTokens: 300 }));
    expect(second.routing.model).not.to.equal('mistral-small-2506');
    expect(emulator.stats().responses['429'] ?? 0).to.equal(0);
    await expectNoReservationLeft(store);
  });

  it('an upstream 429 (someone else uses the workspace) blocks that window and falls back at once', async () => {
    const { router, clock, emulator, events, store } = await setup(
      { overrides: { requestsPerSecond: null, models: { 'mistral-small-2506': { tokensPerMinute: 100 } } } },
      { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { requestsPerSecond: null } }], fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] } },
    );
    const result = await drive(clock, router.chat.complete({ model: 'mistral-small-2506', messages: text('hi'), maxTokens: 300 }));
    expect(result.routing.model).to.equal('open-mistral-nemo');
    expect(result.routing.attempts.map((a) => [a.model, a.outcome, a.status])).to.deep.equal([
      ['mistral-small-2506', 'quota', 429],
      ['open-mistral-nemo', 'ok', 200],
    ]);
    expect(emulator.stats().responses['429']).to.equal(1);
    expect(events.some((e) => e.name === 'fallback')).to.equal(true);
    // The window is blocked: the next call does not try mistral-small-2506 again.
    const next = await drive(clock, router.chat.complete({ model: 'mistral-small-2506', messages: text('hi'), maxTokens: 300 }));
    expect(next.routing.attempts[0]?.model).to.equal('open-mistral-nemo');
    await expectNoReservationLeft(store);
  });
});

describe('router: leases for calls the caller makes itself', () => {
  it('reserve holds the quota until settle; settle learns from headers; release returns everything', async () => {
    const { router, clock, store, emulator } = await setup({}, { maxWaitMs: 100 });
    const lease = await drive(clock, router.reserve('chat', { need: { capabilities: ['reasoning'] }, messages: text('why?'), maxTokens: 100 }));
    expect(lease.model).to.equal('magistral-small-2507');
    expect(lease.workspace).to.equal('team-a');
    expect(await store.pendingReservations()).to.equal(1);
    // The workspace's one request per second is held by the lease: another call cannot go out now.
    await rejects(drive(clock, router.chat.complete({ messages: text('x'), maxTokens: 5 })), QuotaExhaustedError, /capacity returns/);
    const response = await fetch(`${emulator.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: lease.model, messages: [{ role: 'user', content: 'why?' }], max_tokens: 100 }),
    });
    const body = (await response.json()) as { usage: { prompt_tokens: number; total_tokens: number } };
    await lease.settle({ promptTokens: body.usage.prompt_tokens, totalTokens: body.usage.total_tokens }, response.headers);
    await lease.settle({ totalTokens: 1 }); // idempotent
    await expectNoReservationLeft(store);
    const minute = (await store.snapshot('team-a')).find((w) => w.model === 'magistral-small-2507' && w.kind === 'tokens-per-minute');
    expect(minute?.used).to.equal(body.usage.total_tokens);

    clock.advance(2_000);
    const second = await drive(clock, router.reserve('embeddings', { inputs: ['a'] }));
    await second.release();
    await second.release();
    await expectNoReservationLeft(store);
    expect((await store.snapshot('team-a')).find((w) => w.model === 'mistral-embed' && w.kind === 'tokens-per-minute')?.used ?? 0).to.equal(0);
  });
});

describe('router: a workspace shared with someone else', () => {
  it('"Requests rate limit exceeded" blocks the workspace\'s request window, not just the model: one 429, then it waits', async () => {
    // The router believes the workspace unmetered; the upstream enforces 1 request/s.
    const { router, clock, emulator, store } = await setup({}, { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { requestsPerSecond: null } }] });
    await drive(clock, router.chat.complete({ messages: text('first'), maxTokens: 10 }));
    const second = await drive(clock, router.chat.complete({ messages: text('second'), maxTokens: 10 }));
    expect(second.routing.attempts.map((a) => a.outcome)).to.deep.equal(['quota', 'ok']);
    expect(second.routing.waitedMs).to.be.within(400, 1_000);
    expect(emulator.stats().responses['429']).to.equal(1);
    await expectNoReservationLeft(store);
  });
});

describe('router: failures', () => {
  it('capacity exceeded (3505 as a 503) cools the model down and falls back', async () => {
    const { router, clock, events, store } = await setup(
      { faults: { capacityRate: 1, capacityStatus: 503, models: ['mistral-small-2506'] } as never },
      { fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] } },
    );
    const result = await drive(clock, router.chat.complete({ model: 'mistral-small-2506', messages: text('hi'), maxTokens: 10 }));
    expect(result.routing.model).to.equal('open-mistral-nemo');
    expect(result.routing.attempts[0]).to.deep.include({ model: 'mistral-small-2506', outcome: 'capacity', status: 503 });
    expect(events.find((e) => e.name === 'cooldown')?.event).to.deep.include({ model: 'mistral-small-2506', reason: 'capacity' });
    await expectNoReservationLeft(store);
  });

  it('a 401 takes the workspace out and the next workspace serves; no key in any error or event', async () => {
    const { router, clock, events, store } = await setup(
      { apiKeys: [KEY_B] },
      { workspaces: [{ name: 'revoked', apiKey: KEY_A, tier: 'free' }, { name: 'team-b', apiKey: KEY_B, tier: 'free' }] },
    );
    const result = await drive(clock, router.chat.complete({ messages: text('hi'), maxTokens: 10 }));
    expect(result.routing.workspace).to.equal('team-b');
    expect(events.find((e) => e.name === 'workspaceDisabled')?.event).to.deep.equal({ workspace: 'revoked', status: 401 });
    const everything = JSON.stringify({ events, routing: result.routing });
    expect(everything).not.to.include(KEY_A);
    expect(everything).not.to.include(KEY_B);
    await expectNoReservationLeft(store);
  });

  it('a request the SDK refuses (bad role) is thrown at once as NeedError, nothing sent, nothing held', async () => {
    const { router, clock, store, emulator } = await setup();
    const error = await rejects(drive(clock, router.chat.complete({ model: 'open-mistral-nemo', messages: [{ role: 'bogus' as 'user', content: 'x' }], maxTokens: 5 })), NeedError, /the SDK refused the request before sending it/);
    expect(JSON.stringify({ m: error.message, c: String(error.cause) })).not.to.include(KEY_A);
    expect(emulator.stats().responses['200'] ?? 0).to.equal(0);
    await expectNoReservationLeft(store);
    expect((await store.snapshot('team-a')).every((w) => w.used === 0)).to.equal(true);
  });

  // The attempt's timeout and the emulator's latency are wall-clock: these tests wait (briefly, and
  // boundedly: `until` gives up after 2 s) for real, and assert what happened, never how long it took.
  for (const variant of ['the router\'s timeout, with a caller\'s AbortSignal', 'a per-call timeout'] as const) {
    it(`a call past its timeout (${variant}) cools the model down and falls back`, async () => {
      const perCall = variant === 'a per-call timeout';
      const { router, clock, events, store, emulator } = await setup(
        { faults: { latencyMs: 3_000, models: ['mistral-small-2506'] } as never },
        { fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] }, ...(perCall ? {} : { timeoutMs: 100 }) },
      );
      const pending = router.chat.complete(
        { model: 'mistral-small-2506', messages: text('hi'), maxTokens: 10 },
        perCall ? { timeoutMs: 100 } : { signal: new AbortController().signal },
      );
      await until(() => events.some((e) => e.name === 'cooldown'), 'the attempt\'s timeout');
      // The timeout fired before the slow model answered: it has sent nothing yet.
      expect(emulator.stats().responses['200'] ?? 0).to.equal(0);
      const result = await drive(clock, pending);
      expect(result.routing.attempts[0]).to.deep.include({ model: 'mistral-small-2506', outcome: 'timeout' });
      expect(result.routing.model).to.equal('open-mistral-nemo');
      expect(events.find((e) => e.name === 'cooldown')?.event).to.deep.include({ model: 'mistral-small-2506', reason: 'timeout' });
      await expectNoReservationLeft(store);
    });
  }

  it('an AbortSignal aborts a call in flight: AbortError at once, no fallback, nothing held', async () => {
    const { router, store, events, emulator } = await setup({ faults: { latencyMs: 3_000 } as never });
    const controller = new AbortController();
    const pending = router.chat.complete({ messages: text('hi'), maxTokens: 10 }, { signal: controller.signal });
    await until(() => events.some((e) => e.name === 'decision'), 'the call to go out');
    setTimeout(() => controller.abort(), 20);
    await rejects(pending, AbortError, /aborted/);
    // Rejected at the abort, not when the slow answer came: the emulator has not answered yet.
    expect(emulator.stats().responses['200'] ?? 0).to.equal(0);
    expect(events.filter((e) => e.name === 'decision')).to.have.length(1);
    await expectNoReservationLeft(store);
  });

  it('5xx and dropped connections fall back and leave no reservation behind', async () => {
    const { router, clock, store } = await setup({ faults: { errorRate: 1, models: ['mistral-small-2506'] } as never }, { fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] } });
    const result = await drive(clock, router.chat.complete({ model: 'mistral-small-2506', messages: text('hi'), maxTokens: 10 }));
    expect(result.routing.attempts[0]?.outcome).to.equal('server-error');
    expect(result.routing.model).to.equal('open-mistral-nemo');
    await expectNoReservationLeft(store);
  });
});

describe('router: bad options and usage are typed errors, before anything is reserved or sent', () => {
  it('call options, need fields, endpoints and lease usage', async () => {
    const { router, store, emulator, events, clock } = await setup();
    const need = async (promise: Promise<unknown>, field: string) => {
      const error = await promise.then(() => undefined, (e: unknown) => e);
      expect(error, field).to.be.instanceOf(NeedError);
      expect((error as NeedError).field).to.equal(field);
    };
    // One bad timeoutMs used to time every attempt out at once and cool five models down for every caller.
    for (const timeoutMs of [-1, 0, Number.NaN, 1.5, 1e300, '100' as unknown as number]) {
      await need(router.chat.complete({ messages: text('x'), maxTokens: 5 }, { timeoutMs }), 'options.timeoutMs');
    }
    // A signal that is no AbortSignal used to throw a raw TypeError with the reservation taken.
    await need(router.chat.complete({ messages: text('x'), maxTokens: 5 }, { signal: 'x' as unknown as AbortSignal }), 'options.signal');
    await need(router.chat.stream({ messages: text('x'), maxTokens: 5 }, { signal: {} as AbortSignal }), 'options.signal');
    await need(router.reserve('bogus' as 'chat', { messages: text('x') }), 'endpoint');
    await need(router.plan('bogus' as 'chat', { messages: text('x') }), 'endpoint');
    // A misspelt need field ignored would route to a model without the capability.
    await need(router.chat.complete({ need: { capability: ['vision'] } as never, messages: text('x') }), 'need.capability');
    await need(router.chat.complete({ need: { includeDeprecated: 'yes' as unknown as boolean }, messages: text('x') }), 'need.includeDeprecated');
    // A plan's normalised need (with its signature), fed back, is a need like any other.
    const planned = await router.plan('chat', { need: { capabilities: ['vision'] }, messages: text('x') });
    expect((await router.plan('chat', { need: planned.need as never, messages: text('x') })).candidates[0]?.model).to.equal(planned.candidates[0]?.model);
    expect(emulator.stats().requests).to.equal(0);
    expect(events.filter((e) => e.name === 'cooldown')).to.deep.equal([]);
    expect(await store.pendingReservations()).to.equal(0);
    // A bad usage count on a lease is refused and the lease stays open (it used to close and hold the quota).
    const lease = await router.reserve('chat', { messages: text('x'), maxTokens: 5 });
    for (const totalTokens of [Number.POSITIVE_INFINITY, -1, 1.5, Number.NaN, '500' as unknown as number]) {
      await need(lease.settle({ totalTokens }), 'usage.totalTokens');
    }
    await need(lease.settle(5 as never), 'usage');
    expect(await store.pendingReservations()).to.equal(1);
    await lease.settle({ promptTokens: 3, totalTokens: 8 }, null as unknown as Headers);
    expect(await store.pendingReservations()).to.equal(0);
    // A limit of 0 (sent with 429s) is not learned by the store, and no event says it was.
    const other = await drive(clock, router.reserve('chat', { messages: text('x'), maxTokens: 5 }));
    await other.settle({ totalTokens: 8 }, new Headers({ 'x-ratelimit-limit-tokens-minute': '0', 'x-ratelimit-remaining-tokens-minute': '0' }));
    expect(events.filter((e) => e.name === 'limitsLearned')).to.deep.equal([]);
  });

  it('createRouter options that would break every call are refused, naming the option', () => {
    const workspaces = [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }];
    const refuses = (options: Partial<RouterOptions>, option: string) => {
      const error = (() => {
        try {
          createRouter({ catalog: catalog2025, workspaces, ...options });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error, option).to.be.instanceOf(RouterError);
      expect((error as RouterError).code, option).to.equal('CONFIG_INVALID');
      expect((error as Error).message, option).to.contain(option);
      expect((error as Error).message).to.not.contain(KEY_A);
    };
    refuses({ timeoutMs: 3e9 }, 'timeoutMs');
    refuses({ maxWaitMs: 3e9 }, 'maxWaitMs');
    refuses({ cooldownMs: 3e9 }, 'cooldownMs');
    refuses({ fallbacks: { 'mistral-small-2506': 'open-mistral-nemo' as unknown as string[] } }, 'fallbacks.mistral-small-2506');
    refuses({ serverURL: 'not a url' }, 'serverURL');
    refuses({ serverURL: 5 as unknown as string }, 'serverURL');
    refuses({ store: {} as QuotaStore }, 'store');
    refuses({ tokenEstimator: {} as never }, 'tokenEstimator');
    refuses({ catalog: {} as never }, 'catalog');
    refuses({ clock: {} as never }, 'clock');
    const withOverrides = (overrides: unknown) => ({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: overrides as never }] });
    const refusesOverrides = (overrides: unknown, option: string) => {
      expect(() => createRouter(withOverrides(overrides)), option).to.throw(RouterError, option);
    };
    refusesOverrides({ requestsPerSecond: -1 }, 'workspaces[0].overrides.requestsPerSecond');
    refusesOverrides({ requestsPerSecond: '5' }, 'workspaces[0].overrides.requestsPerSecond');
    refusesOverrides({ requestsPerSecnd: 5 }, 'workspaces[0].overrides.requestsPerSecnd');
    refusesOverrides({ models: { 'mistral-smal-2506': { tokensPerMinute: 10 } } }, 'workspaces[0].overrides.models.mistral-smal-2506');
    refusesOverrides({ models: { 'open-mistral-nemo': { tokensPerMinute: 1.5 } } }, 'workspaces[0].overrides.models.open-mistral-nemo.tokensPerMinute');
    refusesOverrides({ models: { 'mistral-small-2506': { tokensPerMinute: 10 }, 'mistral-small-latest': { tokensPerMinute: 20 } } }, 'overridden twice');
  });

  it('an override given under a model alias applies to the model', async () => {
    const { router } = await setup({}, { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { models: { 'mistral-small-latest': { tokensPerMinute: 10 } } } }] });
    const plan = await router.plan('chat', { model: 'mistral-small-2506', messages: text('x'), maxTokens: 50 });
    expect(plan.candidates.find((c) => c.model === 'mistral-small-2506')?.room).to.equal(false);
  });
});

describe('router: a quota store that fails (not an outage)', () => {
  it('a custom store throwing a plain Error gives the caller a typed StoreError with the cause; nothing is sent', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const emulator = await startEmulator({ catalog: catalog2025, tier: 'free', clock, apiKeys: [KEY_A] });
    const memory = new MemoryStore({ clock });
    const bug = new Error('index out of range in my store');
    const broken = new Proxy({}, {
      get: (_, key) => {
        if (String(key).endsWith('Sync')) return undefined; // a remote store: no synchronous path
        if (key === 'reserve') return () => Promise.reject(bug);
        const value = Reflect.get(memory, key) as unknown;
        return typeof value === 'function' ? (...args: unknown[]) => Promise.resolve().then(() => (value as (...a: unknown[]) => unknown).apply(memory, args)) : value;
      },
    }) as unknown as QuotaStore;
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: emulator.url, clock, store: broken });
    try {
      const error = (await rejects(router.chat.complete({ messages: text('hi'), maxTokens: 5 }), StoreError, /quota store failed to reserve: index out of range/)) as StoreError;
      expect(error.code).to.equal('STORE_FAILED');
      expect(error.operation).to.equal('reserve');
      expect(error.cause).to.equal(bug);
      expect(emulator.stats().requests).to.equal(0);
    } finally {
      await router.close();
      await emulator.stop();
    }
  });
});

describe('router: close()', () => {
  /**
   * A remote store: the memory store behind `delayMs` of real time per call (without the `...Sync`
   * methods, so the router takes no synchronous path). `log` records each call as it is made and as it answers, and
   * whether it came after close().
   */
  const slowStore = (clock: FakeClock, delayMs: number) => {
    const memory = new MemoryStore({ clock });
    const log: string[] = [];
    let closed = false;
    const store = new Proxy({}, {
      get: (_, key) => {
        if (String(key).endsWith('Sync')) return undefined;
        const value = Reflect.get(memory, key) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const name = String(key);
          if (closed) log.push(`${name} AFTER CLOSE`);
          if (name === 'close') closed = true;
          await pause(name === 'reserve' ? delayMs : 1);
          const result = await (value as (...a: unknown[]) => unknown).apply(memory, args);
          log.push(name === 'reserve' ? `reserve ${(result as ReserveResult).ok ? 'granted' : 'refused'}` : name);
          return result;
        };
      },
    }) as unknown as QuotaStore;
    return { memory, store, log };
  };

  it('a call whose reserve a remote store is still answering gets ROUTER_CLOSED at once; what it was granted goes back before the store closes', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const { memory, store, log } = slowStore(clock, 40);
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: 'http://127.0.0.1:9', clock, store, maxWaitMs: 60_000 });
    const call = router.chat.complete({ messages: text('x'), maxTokens: 10 }).then(() => undefined, (error: unknown) => error);
    await pause(10);
    const before = clock.now();
    // close() does not wait for maxWaitMs: it ends without the fake clock moving (a wait would never end).
    const closing = router.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await until(() => closed, 'close() to end');
    expect(clock.now()).to.equal(before);
    const error = await call;
    expect((error as RouterError).code).to.equal('ROUTER_CLOSED');
    expect(log).to.deep.equal(['reserve granted', 'release', 'close']);
    expect(await memory.pendingReservations()).to.equal(0);
  });

  it('a waiter the queue is asking the store for when close() runs: rejected, and the late grant released before the store closes', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const { memory, store, log } = slowStore(clock, 40);
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: 'http://127.0.0.1:9', clock, store, maxWaitMs: 60_000 });
    const held = await router.reserve('chat', { messages: text('a'), maxTokens: 5 }); // the free tier's one request this second
    const waiting = router.chat.complete({ messages: text('b'), maxTokens: 5 }).then(() => undefined, (error: unknown) => error);
    await pause(60); // refused, queued
    await clock.advanceAsync(1_100); // the queue's timer: its pump asks the store (40 ms)
    await pause(10);
    await router.close();
    expect(((await waiting) as RouterError).code).to.equal('ROUTER_CLOSED');
    expect(log.filter((entry) => entry.includes('AFTER CLOSE'))).to.deep.equal([]);
    expect(log.at(-1)).to.equal('close');
    expect(log.slice(-3)).to.deep.equal(['reserve granted', 'release', 'close']);
    expect(await memory.pendingReservations()).to.equal(1); // the lease the test holds
    await held.release();
  });

  it('a stream already ending (the caller aborted it) when close() runs is settled before the store closes', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const { memory, store, log } = slowStore(clock, 1);
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: 'http://127.0.0.1:9', clock, store });
    const sdk = router.sdk('team-a') as unknown as { chat: { stream: (request: unknown, options: { signal?: AbortSignal }) => Promise<ReadableStream<unknown>> } };
    sdk.chat.stream = async (_request, { signal }) => {
      let sent = false;
      return new ReadableStream({
        pull(controller) {
          if (sent) return new Promise<void>((resolve) => signal?.addEventListener('abort', () => (controller.error(signal.reason), resolve())));
          sent = true;
          controller.enqueue({ event: 'message', data: { id: 'x', model: 'm', choices: [{ index: 0, delta: { content: 'hi' }, finishReason: null }] } });
        },
      });
    };
    const controller = new AbortController();
    const stream = await router.chat.stream({ messages: text('x'), maxTokens: 10 }, { signal: controller.signal });
    await stream[Symbol.asyncIterator]().next();
    controller.abort();
    await router.close();
    expect(log.filter((entry) => entry.includes('AFTER CLOSE'))).to.deep.equal([]);
    expect(log.slice(-2)).to.deep.equal(['settle', 'close']);
    expect(await memory.pendingReservations()).to.equal(0);
  });

  it('a lease settle begun before close() reaches the store before it closes', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const { memory, store, log } = slowStore(clock, 1);
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: 'http://127.0.0.1:9', clock, store });
    const lease = await router.reserve('chat', { messages: text('a'), maxTokens: 5 });
    void lease.settle({ promptTokens: 3, totalTokens: 8 });
    await router.close();
    expect(log.filter((entry) => entry.includes('AFTER CLOSE'))).to.deep.equal([]);
    expect(log.indexOf('settle')).to.be.within(0, log.indexOf('close') - 1);
    expect(await memory.pendingReservations()).to.equal(0);
  });

  it('close() called by a wait listener: the call that was about to queue gets ROUTER_CLOSED, close() does not wait for its bound', async () => {
    const { router, clock, emulator } = await setup();
    await drive(clock, router.chat.complete({ messages: text('a'), maxTokens: 5 }));
    let closing: Promise<void> | undefined;
    router.events.on('wait', () => (closing ??= router.close()));
    const error = await router.chat.complete({ messages: text('b'), maxTokens: 5 }).then(() => undefined, (e: unknown) => e);
    expect((error as RouterError).code).to.equal('ROUTER_CLOSED');
    const closed = await Promise.race([(closing as Promise<void>).then(() => true), pause(1_000).then(() => false)]);
    expect(closed, 'close() resolved without the clock reaching maxWaitMs').to.equal(true);
    expect(emulator.stats().requests).to.equal(1);
  });

  it('router.reserve() in flight when close() runs: ROUTER_CLOSED, nothing left held', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const { memory, store, log } = slowStore(clock, 40);
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: 'http://127.0.0.1:9', clock, store });
    const lease = router.reserve('chat', { messages: text('a'), maxTokens: 5 }).then(() => undefined, (error: unknown) => error);
    await pause(5);
    await router.close();
    expect(((await lease) as RouterError).code).to.equal('ROUTER_CLOSED');
    expect(log).to.deep.equal(['reserve granted', 'release', 'close']);
    expect(await memory.pendingReservations()).to.equal(0);
  });

  it('lets a call in flight finish and settle before the store closes; refuses calls after it (ROUTER_CLOSED)', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const memory = new MemoryStore({ clock });
    const operations: string[] = [];
    const store = new Proxy(memory, {
      get: (target, key) => {
        const value = Reflect.get(target, key) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          operations.push(String(key));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as unknown as QuotaStore;
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: 'http://127.0.0.1:9', clock, store });
    let answer: (value: unknown) => void = () => {};
    const sdk = router.sdk('team-a') as unknown as { chat: { complete: () => Promise<unknown> } };
    sdk.chat.complete = () => new Promise((resolve) => (answer = resolve));
    const call = router.chat.complete({ messages: text('x'), maxTokens: 10 });
    await pause(5);
    let closed = false;
    const closing = router.close().then(() => (closed = true));
    expect(router.close()).to.equal(router.close());
    const late = await router.chat.complete({ messages: text('y'), maxTokens: 10 }).then(() => undefined, (error: unknown) => error);
    expect(late).to.be.instanceOf(RouterError);
    expect((late as RouterError).code).to.equal('ROUTER_CLOSED');
    await pause(20);
    expect(closed, 'close() waits for the call in flight').to.equal(false);
    answer({ id: 'x', object: 'chat.completion', model: 'mistral-small-2506', created: 0, choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finishReason: 'stop' }], usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 } });
    const result = await call;
    expect(result.routing.tokens.used).to.equal(5);
    await closing;
    const settled = operations.findIndex((o) => o.startsWith('settle'));
    expect(settled, operations.join(' ')).to.be.within(0, operations.indexOf('close') - 1);
    expect(operations.filter((o) => o.startsWith('settle'))).to.have.length(1);
    expect(await memory.pendingReservations()).to.equal(0);
  });

  it('rejects a call waiting for quota with ROUTER_CLOSED', async () => {
    const { router, clock } = await setup();
    // The free tier allows 1 request per second: the second call waits.
    await drive(clock, router.chat.complete({ messages: text('a'), maxTokens: 5 }));
    const waiting = router.chat.complete({ messages: text('b'), maxTokens: 5 }).then(() => undefined, (error: unknown) => error);
    await pause(5);
    await router.close();
    const error = await waiting;
    expect(error).to.be.instanceOf(RouterError);
    expect((error as RouterError).code).to.equal('ROUTER_CLOSED');
  });
});

describe('router: an abort while a remote store answers', () => {
  it('nothing is sent and nothing stays counted: the reservation is released, not settled', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const emulator = await startEmulator({ catalog: catalog2025, tier: 'free', clock, apiKeys: [KEY_A] });
    const memory = new MemoryStore({ clock });
    // The same store behind a promise turn, as a remote one answers (without the `...Sync` methods: no synchronous path).
    const remote = new Proxy({}, {
      get: (_, key) => {
        if (String(key).endsWith('Sync')) return undefined;
        const value = Reflect.get(memory, key) as unknown;
        return typeof value === 'function' ? (...args: unknown[]) => Promise.resolve().then(() => (value as (...a: unknown[]) => unknown).apply(memory, args)) : value;
      },
    }) as unknown as QuotaStore;
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: emulator.url, clock, store: remote });
    try {
      const controller = new AbortController();
      const call = router.chat.complete({ messages: text('hi'), maxTokens: 5 }, { signal: controller.signal });
      controller.abort(); // before the store has answered
      await rejects(call, AbortError, /aborted/);
      expect(emulator.stats().requests).to.equal(0);
      const windows = await memory.snapshot('team-a');
      expect(windows.find((w) => w.kind === 'requests-per-second')?.used ?? 0).to.equal(0);
      expect(await memory.pendingReservations()).to.equal(0);
    } finally {
      await router.close();
      await emulator.stop();
    }
  });
});

describe('router: streams over a stubbed SDK stream (exact chunk timing)', () => {
  type StubChunk = { event: string; data: { id: string; model: string; choices: { index: number; delta: { content: string }; finishReason: string | null }[]; usage?: { promptTokens: number; completionTokens: number; totalTokens: number } } };
  const chunk = (finishReason: string | null, usage?: StubChunk['data']['usage']): StubChunk => ({ event: 'message', data: { id: 'x', model: 'm', choices: [{ index: 0, delta: { content: 'hi' }, finishReason }], usage } });
  const stubbed = (options: Partial<RouterOptions>, stream: (signal: AbortSignal | undefined) => ReadableStream<StubChunk>) => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const store = new MemoryStore({ clock });
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: 'http://127.0.0.1:9', clock, store, ...options });
    const sdk = router.sdk('team-a') as unknown as { chat: { stream: (request: unknown, options: { signal?: AbortSignal }) => Promise<ReadableStream<StubChunk>> } };
    sdk.chat.stream = async (_request, requestOptions) => stream(requestOptions.signal);
    const dones: boolean[] = [];
    router.events.on('done', (event) => dones.push(event.ok));
    return { router, store, dones };
  };

  /** One chunk, then quiet until the request is aborted (as a fetch body is), then `onAbort` (default: the body fails). */
  const firstChunkThen = (signal: AbortSignal | undefined, onAbort = (controller: ReadableStreamDefaultController<StubChunk>) => controller.error(signal?.reason)) => {
    let sent = false;
    return new ReadableStream<StubChunk>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(chunk(null));
          return;
        }
        return new Promise<void>((resolve) =>
          signal?.addEventListener('abort', () => {
            onAbort(controller);
            resolve();
          }),
        );
      },
    });
  };
  const quietAfterFirstChunk = (signal: AbortSignal | undefined) => firstChunkThen(signal);

  it('router.close() ends a stream whose reader waits on a quiet connection', async () => {
    const { router, store } = stubbed({}, quietAfterFirstChunk);
    const stream = await router.chat.stream({ messages: text('x'), maxTokens: 10 });
    const chunks = stream[Symbol.asyncIterator]();
    await chunks.next();
    const waiting = chunks.next().then(() => undefined, (error: unknown) => error);
    await pause(10);
    let closed = false;
    const closing = router.close().then(() => (closed = true));
    await Promise.race([closing, pause(1_000)]);
    expect(closed, 'router.close() resolved').to.equal(true);
    expect(await store.pendingReservations()).to.equal(0);
    const error = await waiting;
    expect(error).to.be.instanceOf(RouterError);
    expect((error as RouterError).code).to.equal('STREAM_FAILED');
  });

  it('return() while a next() waits on a quiet connection stops the stream at once, as a break does', async () => {
    const { router, store, dones } = stubbed({}, quietAfterFirstChunk);
    try {
      const stream = await router.chat.stream({ messages: text('x'), maxTokens: 10 });
      const chunks = stream[Symbol.asyncIterator]();
      await chunks.next();
      const waiting = chunks.next();
      await pause(10);
      const stopped = chunks.return?.(undefined);
      const outcome = await Promise.race([Promise.all([waiting, stopped]), pause(1_000).then(() => 'still waiting')]);
      expect(outcome, 'next() and return() answered').to.deep.equal([
        { done: true, value: undefined },
        { done: true, value: undefined },
      ]);
      expect(await store.pendingReservations()).to.equal(0);
      expect(dones).to.deep.equal([true]);
    } finally {
      await router.close();
    }
  });

  it('a timeout that lands before the last chunk fails the stream for the reader too, as done says, even if that chunk follows', async () => {
    const { router, store, dones } = stubbed({ timeoutMs: 100 }, (signal) =>
      // The last chunk was already on its way when the request was cancelled.
      firstChunkThen(signal, (controller) => {
        controller.enqueue(chunk('stop', { promptTokens: 1, completionTokens: 1, totalTokens: 2 }));
        controller.close();
      }),
    );
    try {
      const stream = await router.chat.stream({ messages: text('x'), maxTokens: 10 });
      const got: unknown[] = [];
      const error = await (async () => {
        for await (const event of stream) got.push(event);
      })().then(() => undefined, (e: unknown) => e);
      expect(dones).to.deep.equal([false]);
      expect(error, 'the reader learns what done said').to.be.instanceOf(RouterError);
      expect((error as RouterError).code).to.equal('STREAM_FAILED');
      expect(await store.pendingReservations()).to.equal(0);
    } finally {
      await router.close();
    }
  });

  it('an answer complete in its first chunk can still be read after the attempt\'s timeout', async () => {
    const { router, store, dones } = stubbed({ timeoutMs: 100 }, () => new ReadableStream<StubChunk>({ start: (controller) => controller.enqueue(chunk('stop', { promptTokens: 1, completionTokens: 1, totalTokens: 2 })) }));
    try {
      const stream = await router.chat.stream({ messages: text('x'), maxTokens: 10 });
      await pause(300);
      expect(await store.pendingReservations(), 'settled at the timeout').to.equal(0);
      const got: unknown[] = [];
      for await (const event of stream) got.push(event);
      expect(got).to.have.length(1);
      expect(dones).to.deep.equal([true]);
      expect((await stream.settled).tokens.used).to.equal(2);
      expect(stream.routing.tokens.used, 'the decision handed over is not changed').to.equal(undefined);
    } finally {
      await router.close();
    }
  });
});

describe('router: streams', () => {
  it('streams chunks and settles with the usage of the last chunk', async () => {
    const { router, clock, store } = await setup();
    const stream = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 12 }));
    let chunks = 0;
    for await (const event of stream) {
      chunks++;
      expect(event.data.choices).to.be.an('array');
    }
    expect(chunks).to.be.greaterThan(1);
    const settled = await stream.settled;
    expect(settled.tokens.used).to.be.a('number');
    expect(settled.tokens.estimated).to.equal(stream.routing.tokens.estimated);
    expect(settled.model).to.equal(stream.routing.model);
    expect(settled.attempts).to.deep.equal(stream.routing.attempts);
    expect(stream.routing.tokens.used, 'the decision handed over is not changed').to.equal(undefined);
    expect(Object.isFrozen(stream.routing) && Object.isFrozen(stream.routing.tokens) && Object.isFrozen(settled)).to.equal(true);
    await expectNoReservationLeft(store);
  });

  it('falls back before the first chunk (connection dropped), never after', async () => {
    const { router, clock, store } = await setup({ faults: { dropBeforeRate: 1, models: ['mistral-small-2506'] } as never }, { fallbacks: { 'mistral-small-2506': ['open-mistral-nemo'] } });
    const stream = await drive(clock, router.chat.stream({ model: 'mistral-small-2506', messages: text('tell me'), maxTokens: 12 }));
    expect(stream.routing.model).to.equal('open-mistral-nemo');
    expect(stream.routing.attempts[0]?.outcome).to.equal('connection');
    for await (const _ of stream) void _;
    await expectNoReservationLeft(store);
  });

  it('a stream that breaks after its first chunk reaches the caller as a typed error', async () => {
    const { router, clock, store } = await setup({ faults: { dropMidStreamRate: 1 } });
    const stream = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 40 }));
    let caught: unknown;
    let chunks = 0;
    try {
      for await (const _ of stream) chunks++;
    } catch (error) {
      caught = error;
    }
    expect(chunks).to.be.at.least(1);
    expect(caught).to.be.instanceOf(RouterError);
    expect((caught as RouterError).code).to.equal('STREAM_FAILED');
    await expectNoReservationLeft(store);
  });

  it('a stream nobody reads is cancelled at its attempt\'s timeout and settled at its estimate; a stream is read once', async () => {
    const { router, clock, store } = await setup({}, { timeoutMs: 100 });
    const stream = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 12 }));
    expect(await store.pendingReservations()).to.equal(1);
    // The attempt's timeout is wall-clock.
    await until(async () => (await store.pendingReservations()) === 0, 'the attempt\'s timeout to settle the unread stream');
    const windows = await store.snapshot('team-a');
    expect(windows.find((w) => w.kind === 'tokens-per-minute')?.used).to.equal(stream.routing.tokens.estimated);
    expect(() => stream[Symbol.asyncIterator]()).to.throw(RouterError, /not read within its attempt's timeout/);

    const read = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 12 }));
    for await (const _ of read) void _;
    expect(() => read[Symbol.asyncIterator]()).to.throw(RouterError, /already read/);
    await expectNoReservationLeft(store);
  });

  // Streams end in wall-clock time (the connection, the attempt's timeout): these wait briefly for real.
  const settledWithin = async (store: MemoryStore, ms: number) => {
    for (let waited = 0; waited < ms; waited += 10) {
      if ((await store.pendingReservations()) === 0) return true;
      await pause(10);
    }
    return false;
  };
  const doneEvents = (events: Setup['events']) => events.filter((e) => e.name === 'done').map((e) => (e.event as { ok: boolean }).ok);

  it('a stream whose connection broke, then stopped by the caller (break), ends cleanly: settled, done, no raw error', async () => {
    const { router, clock, store, events } = await setup({ faults: { dropMidStreamRate: 1 } });
    const stream = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 40 }));
    let chunks = 0;
    for await (const _ of stream) {
      chunks++;
      await pause(50); // the connection drops meanwhile
      break;
    }
    expect(chunks).to.equal(1);
    await expectNoReservationLeft(store);
    expect(doneEvents(events)).to.deep.equal([true]);
  });

  it('a stream whose attempt times out while the caller reads is settled at once; reading on gets a typed error', async () => {
    const { router, clock, store, events } = await setup({}, { timeoutMs: 100 });
    const stream = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 40 }));
    const chunks = stream[Symbol.asyncIterator]();
    expect((await chunks.next()).done).to.equal(false);
    expect(await settledWithin(store, 2_000), 'settled while the reader paused').to.equal(true);
    let caught: unknown;
    try {
      while (!(await chunks.next()).done);
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(RouterError);
    expect((caught as RouterError).code).to.equal('STREAM_FAILED');
    expect((caught as Error).message).to.match(/timed out/);
    expect(doneEvents(events)).to.deep.equal([false]);
  });

  it('a stream whose iterator was taken but never read is settled at its timeout, and its caller\'s signal unlinked', async () => {
    const { router, clock, store, events } = await setup({}, { timeoutMs: 100 });
    const controller = new AbortController();
    const stream = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 12 }, { signal: controller.signal }));
    const chunks = stream[Symbol.asyncIterator]();
    expect(getEventListeners(controller.signal, 'abort')).to.have.length(1);
    expect(await settledWithin(store, 2_000), 'settled at the attempt\'s timeout').to.equal(true);
    expect(getEventListeners(controller.signal, 'abort')).to.have.length(0);
    await rejects(chunks.next(), RouterError, /not read within its attempt's timeout/);
    expect(doneEvents(events)).to.deep.equal([false]);
  });

  it('return() on a stream never read settles it at once', async () => {
    const { router, clock, store, events } = await setup();
    const stream = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 12 }));
    const chunks = stream[Symbol.asyncIterator]();
    expect(await store.pendingReservations()).to.equal(1);
    await chunks.return?.();
    await expectNoReservationLeft(store);
    expect(doneEvents(events)).to.deep.equal([true]);
    expect((await chunks.next()).done).to.equal(true);
  });

  it('the caller\'s AbortSignal ends a stream nobody reads at once (not at the timeout), and one being read with AbortError', async () => {
    const { router, clock, store } = await setup();
    const unread = new AbortController();
    const stream = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 12 }, { signal: unread.signal }));
    unread.abort();
    expect(await settledWithin(store, 1_000)).to.equal(true);
    expect(() => stream[Symbol.asyncIterator]()).to.throw(RouterError, /aborted before it was read/);

    clock.advance(1_000); // the free tier's next request
    const reading = new AbortController();
    const read = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 40 }, { signal: reading.signal }));
    const chunks = read[Symbol.asyncIterator]();
    await chunks.next();
    reading.abort();
    await rejects(chunks.next(), AbortError, /aborted/);
    await expectNoReservationLeft(store);
  });

  it('a timeout after the whole answer came (finish reason seen) is no failure: the stream ends normally', async () => {
    const { router, clock, store, events } = await setup({}, { timeoutMs: 150 });
    const stream = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 5 }));
    const chunks = stream[Symbol.asyncIterator]();
    for (;;) {
      const next = await chunks.next();
      if (next.done) throw new Error('the stream ended before its finish reason');
      if (next.value.data.choices[0]?.finishReason) break;
    }
    await pause(400); // the attempt's timeout passes while the caller handles the last chunk
    expect(await chunks.next()).to.deep.equal({ done: true, value: undefined });
    expect(doneEvents(events)).to.deep.equal([true]);
    expect((await stream.settled).tokens.used).to.be.a('number');
    await expectNoReservationLeft(store);
  });

  it('router.close() ends the streams still open: settled before the store closes, a reader gets STREAM_FAILED', async () => {
    const { router, clock, store, events } = await setup();
    const unread = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 40 }));
    clock.advance(1_000);
    const reading = await drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 40 }));
    const chunks = reading[Symbol.asyncIterator]();
    await chunks.next();
    expect(await store.pendingReservations()).to.equal(2);
    await router.close();
    expect(await store.pendingReservations()).to.equal(0);
    expect(doneEvents(events)).to.deep.equal([false, false]);
    await rejects(chunks.next(), RouterError, /router was closed/);
    expect(() => unread[Symbol.asyncIterator]()).to.throw(RouterError);
  });

  it('emits done (ok: false) when every attempt of a stream fails before its first chunk', async () => {
    const { router, clock, store, events } = await setup({ faults: { errorRate: 1 } as never }, { maxAttempts: 2 });
    await rejects(drive(clock, router.chat.stream({ messages: text('tell me'), maxTokens: 12 })), UpstreamError, /HTTP 5/);
    expect(doneEvents(events)).to.deep.equal([false]);
    await expectNoReservationLeft(store);
  });
});
