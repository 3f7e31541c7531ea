/**
 * When every candidate is cooling down (a 5xx, a capacity refusal, a timeout) or blocked by an upstream
 * 429, a call waits for the first to come back within its `maxWaitMs`, or says when it will: a
 * ModelCoolingDownError (or QuotaExhaustedError) with a finite retryAfterMs, never NoEligibleModelError.
 * The real SDK against the emulator, both on one fake clock.
 */
import { expect } from 'chai';
import { AbortError, ModelCoolingDownError, NoEligibleModelError, QuotaExhaustedError, RouterError, UpstreamError } from '../../lib/errors.js';
import type { RouterOptions } from '../../lib/index.js';
import type { EmulatorOptions } from '../../lib/emulator/index.js';
import { closeRouted, drive as driveBy, startRouted, track, until, type Routed } from '../helpers/routed.js';

const KEY = 'sk-test-key-cooldown-0123456789';
/** Only codestral-2501 takes a 150k context in the 2025 catalogue: the one eligible model. */
const ONLY_CODESTRAL = { need: { minContext: 150_000 }, messages: [{ role: 'user' as const, content: 'hi' }], maxTokens: 10 };

afterEach(closeRouted);

const setup = (emulator: Partial<EmulatorOptions>, router: Partial<RouterOptions>) =>
  startRouted({ apiKeys: [KEY], emulator, router, record: ['cooldown', 'wait', 'exhausted', 'fallback', 'done'] });
const drive = <T>(s: Routed, promise: Promise<T>) => driveBy(s, promise, 100, 1_000);

const outcomes = (result: { routing: { attempts: readonly { outcome: string }[] } }) => result.routing.attempts.map((a) => a.outcome);

describe('router: every candidate cooling down', () => {
  it('a call whose only model failed (500) waits for the cooldown within maxWaitMs, then is served', async () => {
    const s = await setup({ faults: { errorRate: 1, errorStatuses: [500], models: ['codestral-2501'] } }, { cooldownMs: 5_000, maxWaitMs: 30_000 });
    s.router.events.on('cooldown', () => s.emulator.configure({ faults: { errorRate: 0 } })); // the model recovers
    const result = await drive(s, s.router.chat.complete(ONLY_CODESTRAL));
    expect(result.routing.model).to.equal('codestral-2501');
    expect(outcomes(result)).to.deep.equal(['server-error', 'ok']);
    expect(result.routing.waitedMs).to.equal(5_000);
    expect(s.events.find((e) => e.name === 'wait')?.event).to.deep.include({ retryAfterMs: 5_000 });
    expect(await s.store.pendingReservations()).to.equal(0);
  });

  it('later calls during the cooldown: ModelCoolingDownError saying when the model is back, or a wait when there is time', async () => {
    const s = await setup({ faults: { errorRate: 1, errorStatuses: [500], models: ['codestral-2501'] } }, { cooldownMs: 30_000 });
    const failedAt = s.clock.now();
    const first = await drive(s, s.router.chat.complete({ ...ONLY_CODESTRAL, maxWaitMs: 0 })).then(() => undefined, (e: unknown) => e);
    expect(first, String(first)).to.be.instanceOf(ModelCoolingDownError);
    const cooling = first as ModelCoolingDownError;
    expect(cooling.code).to.equal('COOLING_DOWN');
    expect(cooling.retryAfterMs).to.equal(30_000);
    expect(cooling.models).to.deep.equal([{ model: 'codestral-2501', until: failedAt + 30_000, reason: 'server-error' }]);
    expect(cooling.cause).to.be.instanceOf(UpstreamError);
    expect((cooling.cause as UpstreamError).status).to.equal(500);
    expect(cooling.message).to.match(/cooling down .*: codestral-2501 after server-error, back in 30000 ms/);
    // Ten seconds later, a call that may wait one second: the same error, twenty seconds to go, nothing sent.
    s.clock.advance(10_000);
    const requests = s.emulator.stats().requests;
    const second = await drive(s, s.router.chat.complete({ ...ONLY_CODESTRAL, maxWaitMs: 1_000 })).then(() => undefined, (e: unknown) => e);
    expect(second, String(second)).to.be.instanceOf(ModelCoolingDownError);
    expect(second).not.to.be.instanceOf(NoEligibleModelError);
    expect((second as ModelCoolingDownError).retryAfterMs).to.equal(20_000);
    expect(s.emulator.stats().requests).to.equal(requests);
    expect(s.events.filter((e) => e.name === 'exhausted').map((e) => e.event)).to.deep.include({ endpoint: 'chat', retryAfterMs: 20_000 });
    // A call with time enough waits the twenty seconds and is served.
    s.emulator.configure({ faults: { errorRate: 0 } });
    const thirdAt = s.clock.now();
    const third = await drive(s, s.router.chat.complete(ONLY_CODESTRAL));
    expect(outcomes(third)).to.deep.equal(['ok']);
    expect(third.routing.waitedMs).to.equal(failedAt + 30_000 - thirdAt);
    // NoEligibleModelError still means what it says: nothing in the catalogue has the capability.
    const never = await s.router.chat.complete({ need: { capabilities: ['ocr'] }, messages: ONLY_CODESTRAL.messages }).then(() => undefined, (e: unknown) => e);
    expect(never).to.be.instanceOf(NoEligibleModelError);
  });

  it('one candidate cooling, the other\'s window full for longer than the call may wait: it waits for the first to come back', async () => {
    // Only the two magistral-small models are reasoning models with a 40k context.
    const need = { capabilities: ['reasoning' as const], minContext: 40_000 };
    const unmetered = { requestsPerSecond: null };
    const s = await setup(
      { overrides: unmetered, faults: { errorRate: 1, errorStatuses: [502], models: ['magistral-small-2507'] } },
      { cooldownMs: 5_000, maxWaitMs: 30_000, workspaces: [{ name: 'team-a', apiKey: KEY, tier: 'free', overrides: { ...unmetered, models: { 'magistral-small-2506': { tokensPerMinute: 100 } } } }] },
    );
    // magistral-small-2506's minute is used up (a lease settled at its whole limit).
    const lease = await drive(s, s.router.reserve('chat', { model: 'magistral-small-2506', need, messages: ONLY_CODESTRAL.messages, maxTokens: 10 }));
    expect(lease.model).to.equal('magistral-small-2506');
    await lease.settle({ totalTokens: 100 });
    s.router.events.on('cooldown', () => s.emulator.configure({ faults: { errorRate: 0 } }));
    const result = await drive(s, s.router.chat.complete({ need, messages: ONLY_CODESTRAL.messages, maxTokens: 10 }));
    expect(result.routing.model).to.equal('magistral-small-2507');
    expect(outcomes(result)).to.deep.equal(['server-error', 'ok']);
    expect(result.routing.waitedMs).to.equal(5_000);
  });

  it('an abort, or close(), ends a wait for a cooldown at once; nothing is held', async () => {
    const s = await setup({ faults: { errorRate: 1, errorStatuses: [503], models: ['codestral-2501'] } }, { cooldownMs: 30_000, maxWaitMs: 60_000 });
    const controller = new AbortController();
    const aborted = track(s.router.chat.complete(ONLY_CODESTRAL, { signal: controller.signal }));
    await until(() => s.events.some((e) => e.name === 'wait'), 'the wait for the cooldown');
    controller.abort();
    await until(() => aborted.done, 'the abort');
    expect(aborted.error).to.be.instanceOf(AbortError);
    const waiting = track(s.router.chat.complete(ONLY_CODESTRAL));
    await until(() => s.events.filter((e) => e.name === 'wait').length === 2, 'the second wait');
    await s.router.close();
    expect(waiting.done).to.equal(true);
    expect((waiting.error as RouterError).code).to.equal('ROUTER_CLOSED');
    expect(await s.store.pendingReservations()).to.equal(0);
  });
});

describe('router: an upstream 429 on the only candidate', () => {
  // The router believes the workspace unmetered; the upstream enforces the free tier's 1 request/s.
  const routerOptions = (maxWaitMs: number): Partial<RouterOptions> => ({ maxWaitMs, workspaces: [{ name: 'team-a', apiKey: KEY, tier: 'free', overrides: { requestsPerSecond: null } }] });

  it('with time left in maxWaitMs: waits for the window, then is served', async () => {
    const s = await setup({}, routerOptions(30_000));
    await drive(s, s.router.chat.complete(ONLY_CODESTRAL));
    const second = await drive(s, s.router.chat.complete(ONLY_CODESTRAL));
    expect(outcomes(second)).to.deep.equal(['quota', 'ok']);
    expect(second.routing.waitedMs).to.be.within(1, 1_000);
    expect(s.emulator.stats().responses['429']).to.equal(1);
    expect(await s.store.pendingReservations()).to.equal(0);
  });

  it('with too little time: QuotaExhaustedError with the window\'s finite retryAfterMs', async () => {
    const s = await setup({}, routerOptions(100));
    await drive(s, s.router.chat.complete(ONLY_CODESTRAL));
    const error = await drive(s, s.router.chat.complete(ONLY_CODESTRAL)).then(() => undefined, (e: unknown) => e);
    expect(error, String(error)).to.be.instanceOf(QuotaExhaustedError);
    expect((error as QuotaExhaustedError).retryAfterMs).to.be.within(101, 1_000);
    expect(s.emulator.stats().responses['429']).to.equal(1);
  });
});
