/**
 * The wait queue on its own: a memory store (or a scripted one) and a fake clock, so every deadline and
 * every return of capacity is exact.
 */
import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { AbortError, NoEligibleModelError, QuotaExhaustedError } from '../../lib/errors.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import { WINDOW_KINDS, type QuotaStore, type ReserveRequest, type ReserveResult } from '../../lib/quota/types.js';
import { STORE_RETRY_MS, WaitQueue, type Acquired } from '../../lib/router/wait-queue.js';

const START = Date.UTC(2026, 10, 29, 12, 0, 0, 0);

/** One request per second on workspace `w`, model `m`. */
const request: ReserveRequest = {
  candidates: [{ workspace: 'w', model: 'm', windows: [{ ...WINDOW_KINDS.requestsPerSecond, limit: 1 }] }],
  tokens: 10,
};

/** A call on workspace `w` for `model`: one request per second on the workspace, `tokensPerMinute` on the model. */
const forModel = (model: string, tokensPerMinute: number | null, tokens = 10): ReserveRequest => ({
  candidates: [{ workspace: 'w', model, windows: [{ ...WINDOW_KINDS.requestsPerSecond, limit: 1 }, { ...WINDOW_KINDS.tokensPerMinute, limit: tokensPerMinute }] }],
  tokens,
});

/** Settle `promise` into a value or an error, so a test can look at it later without an unhandled rejection. */
function track<T>(promise: Promise<T>): { value?: T; error?: unknown; done: boolean } {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(state, { value, done: true }),
    (error: unknown) => Object.assign(state, { error, done: true }),
  );
  return state;
}

describe('wait queue', () => {
  it('a wait of exactly maxWaitMs is served when capacity returns at its deadline, not refused', async () => {
    const clock = new FakeClock(START);
    const store = new MemoryStore({ clock });
    const queue = new WaitQueue(store, clock);
    const held = await store.reserve(request);
    expect(held.ok).to.equal(true);
    const refused = await store.reserve(request);
    if (refused.ok) throw new Error('the window should be full');
    const wait = refused.retryAfterMs;
    expect(wait).to.be.greaterThan(0);
    const call = track(queue.acquire(request, wait, undefined, undefined));
    await clock.advanceAsync(wait);
    await clock.advanceAsync(0);
    expect(call.error, String(call.error)).to.equal(undefined);
    expect(call.done).to.equal(true);
    expect((call.value as Acquired).waitedMs).to.equal(wait);
  });

  it('a waiter that reaches its deadline in a pass does not strand the later waiters of its pair', async () => {
    const clock = new FakeClock(START);
    const store = new MemoryStore({ clock });
    const queue = new WaitQueue(store, clock);
    await store.reserve(request); // the window is full for about a second
    const first = track(queue.acquire(request, 1_500, undefined, undefined));
    const second = track(queue.acquire(request, 60_000, undefined, undefined));
    await clock.advanceAsync(100);
    // Someone else's use of the workspace: upstream says the window is blocked for 5 s. The queue's timer
    // (set for about 1 s) runs the next pass, in which the first waiter can no longer make its deadline.
    await store.observe({ workspace: 'w', model: 'm', windows: [], rateLimited: { kind: 'requests-per-second', blockedForMs: 5_000 } });
    await clock.advanceAsync(1_000);
    expect(first.error).to.be.instanceOf(QuotaExhaustedError);
    expect((first.error as QuotaExhaustedError).retryAfterMs).to.be.within(3_900, 4_100);
    // The second waiter got its own answer and a timer: it is served when the block ends, not at 60 s.
    await clock.advanceAsync(5_100);
    expect(second.error, String(second.error)).to.equal(undefined);
    expect(second.done).to.equal(true);
    expect((second.value as Acquired).waitedMs).to.be.within(5_000, 5_200);
  });

  it('a waiter refused at its deadline behind another reports when capacity can return for it, not 0', async () => {
    const clock = new FakeClock(START);
    const store = new MemoryStore({ clock });
    const queue = new WaitQueue(store, clock);
    await store.reserve(request);
    const first = track(queue.acquire(request, 60_000, undefined, undefined));
    const second = track(queue.acquire(request, 1_100, undefined, undefined)); // behind the first: never asked itself
    await clock.advanceAsync(50);
    await store.observe({ workspace: 'w', model: 'm', windows: [], rateLimited: { kind: 'requests-per-second', blockedForMs: 5_000 } });
    await clock.advanceAsync(1_100);
    expect(first.done).to.equal(false);
    expect(second.error).to.be.instanceOf(QuotaExhaustedError);
    // Blocked until 50 + 5000 ms; refused at its deadline, 1100 ms.
    expect((second.error as QuotaExhaustedError).retryAfterMs).to.be.within(3_900, 3_950);
  });

  it('a call for another model of the workspace does not take the request slot a waiter is waiting for', async () => {
    const clock = new FakeClock(START);
    const store = new MemoryStore({ clock });
    const queue = new WaitQueue(store, clock);
    const held = await store.reserve(forModel('a', null));
    if (!held.ok) throw new Error('the first call should be admitted');
    const first = track(queue.acquire(forModel('a', null), 5_000, undefined, undefined));
    await clock.advanceAsync(0);
    expect(first.done).to.equal(false);
    // The slot comes back (here: released; with a real clock, the moment between the slot's return and the
    // queue's timer) and a call for model b arrives before the queue has run.
    await store.release(held.reservation);
    const second = track(queue.acquire(forModel('b', null), 5_000, undefined, undefined));
    await clock.advanceAsync(0);
    expect(first.done, 'the waiter got the slot').to.equal(true);
    expect(first.error).to.equal(undefined);
    expect(second.done, 'the newcomer waits for the next slot').to.equal(false);
    await clock.advanceAsync(1_100);
    expect(second.done).to.equal(true);
    expect(second.error).to.equal(undefined);
  });

  it('a waiter held back only by its own model\'s tokens does not hold back calls for other models', async () => {
    const clock = new FakeClock(START);
    const store = new MemoryStore({ clock });
    const queue = new WaitQueue(store, clock);
    expect((await store.reserve(forModel('c', 100, 100))).ok).to.equal(true);
    await clock.advanceAsync(2_000); // the request slot is free again; c's tokens are not
    const third = track(queue.acquire(forModel('c', 100, 100), 120_000, undefined, undefined)); // c's tokens: a minute away
    await clock.advanceAsync(0);
    expect(third.done).to.equal(false);
    const fourth = track(queue.acquire(forModel('d', null, 100), 30_000, undefined, undefined));
    await clock.advanceAsync(0);
    expect(fourth.done, 'not stuck behind the waiter for model c').to.equal(true);
    expect(third.done).to.equal(false);
  });

  it('FIFO per pair across overlapping candidate lists: a waiter takes the pairs no earlier waiter waits for, before any later waiter', async () => {
    const clock = new FakeClock(START);
    const store = new MemoryStore({ clock });
    const queue = new WaitQueue(store, clock);
    const onlyA: ReserveRequest = { candidates: [forModel('a', 100).candidates[0]!], tokens: 100 };
    const aOrB: ReserveRequest = { candidates: [...onlyA.candidates, forModel('b', 100).candidates[0]!], tokens: 100 };
    const onlyB: ReserveRequest = { candidates: [aOrB.candidates[1]!], tokens: 100 };
    expect((await store.reserve(onlyA)).ok).to.equal(true); // a's tokens: full for a minute
    await clock.advanceAsync(2_000); // (and the request slot free again)
    const first = track(queue.acquire(onlyA, 120_000, undefined, undefined));
    await clock.advanceAsync(0);
    const second = track(queue.acquire(aOrB, 120_000, undefined, undefined)); // behind first on a; b has room
    await clock.advanceAsync(0);
    expect(second.done, 'served on b, the pair nobody ahead waits for').to.equal(true);
    expect((second.value as Acquired).reservation.model).to.equal('b');
    const third = track(queue.acquire(onlyB, 120_000, undefined, undefined));
    await clock.advanceAsync(0);
    expect(first.done).to.equal(false);
    expect(third.done, 'b is full now: it waits').to.equal(false);

  });

  it('an abort while a remote store answers the first reserve rejects at once and gives back what it granted', async () => {
    const clock = new FakeClock(START);
    const memory = new MemoryStore({ clock });
    const remote = { reserve: (r: ReserveRequest) => memory.reserve(r), release: (r: never) => memory.release(r) } as unknown as QuotaStore;
    const queue = new WaitQueue(remote, clock);
    for (const full of [true, false]) {
      const held = full ? await memory.reserve(request) : undefined;
      const controller = new AbortController();
      const call = track(queue.acquire(request, 120_000, controller.signal, undefined));
      controller.abort(); // while the store answers
      await clock.advanceAsync(0);
      expect(call.error, full ? 'refused, then aborted' : 'admitted, then aborted').to.be.instanceOf(AbortError);
      expect(queue.length).to.equal(0);
      expect(await memory.pendingReservations()).to.equal(full ? 1 : 0);
      if (held?.ok) await memory.release(held.reservation);
    }
  });

  for (const [maxWaitMs, label] of [
    [120_000, 'capacity that comes back while a remote store answers a new call is not missed'],
    [5_000, 'a refusal longer than the wait bound, made stale while the remote store answered, is asked again'],
  ] as const) {
    it(label, async () => {
      const clock = new FakeClock(START);
      const memory = new MemoryStore({ clock });
      let gate: Promise<void> | undefined;
      const remote = {
        async reserve(r: ReserveRequest): Promise<ReserveResult> {
          const result = await memory.reserve(r);
          if (gate !== undefined) await gate;
          return result;
        },
        release: (r: never) => memory.release(r),
      } as unknown as QuotaStore;
      const queue = new WaitQueue(remote, clock);
      const tokens: ReserveRequest = { candidates: [forModel('a', 100).candidates[0]!], tokens: 100 };
      const held = await memory.reserve(tokens);
      if (!held.ok) throw new Error('the first call should be admitted');
      let open: () => void = () => {};
      gate = new Promise((resolve) => (open = resolve));
      const call = track(queue.acquire(tokens, maxWaitMs, undefined, undefined)); // refused for a minute, answer in flight
      await clock.advanceAsync(0);
      await memory.release(held.reservation); // another call gives its tokens back...
      await queue.pump(); // ...and the router says so: nobody waits yet
      gate = undefined;
      open();
      await clock.advanceAsync(0);
      await clock.advanceAsync(0);
      expect(call.error, String(call.error)).to.equal(undefined);
      expect(call.done, 'served when the stale refusal arrived').to.equal(true);
    });
  }

  it('a store that cannot take back a reservation (its waiter left meanwhile) is reported, not an unhandled rejection', async () => {
    const clock = new FakeClock(START);
    let reserves = 0;
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const store = {
      async reserve(): Promise<ReserveResult> {
        reserves++;
        if (reserves === 1) return { ok: false, retryAfterMs: 1_000, refusals: [] };
        await gate;
        return { ok: true, reservation: { id: 'r', workspace: 'w', model: 'm', candidateIndex: 0, tokens: 10, requests: 1, at: clock.now(), windows: [] }, refusals: [] };
      },
      async release(): Promise<void> {
        throw new Error('the store is gone');
      },
    } as unknown as QuotaStore;
    const errors: { operation: string; error: unknown }[] = [];
    const queue = new WaitQueue(store, clock, undefined, (operation, error) => errors.push({ operation, error }));
    const controller = new AbortController();
    const call = track(queue.acquire(request, 5_000, controller.signal, undefined));
    await clock.advanceAsync(0);
    const pumping = queue.pump(); // asks the store, which answers only when the gate opens
    await clock.advanceAsync(0);
    controller.abort();
    await clock.advanceAsync(0);
    expect(call.error).to.be.instanceOf(AbortError);
    open();
    await pumping; // must not reject
    expect(errors.map((e) => e.operation)).to.deep.equal(['release']);
  });

  it('a store refusing with retryAfterMs 0 ("try again now") is asked again on a timer, not left until the deadline', async () => {
    const clock = new FakeClock(START);
    let reserves = 0;
    const store = {
      async reserve(): Promise<ReserveResult> {
        reserves++;
        if (reserves <= 2) return { ok: false, retryAfterMs: 0, refusals: [] };
        return { ok: true, reservation: { id: 'r', workspace: 'w', model: 'm', candidateIndex: 0, tokens: 10, requests: 1, at: clock.now(), windows: [] }, refusals: [] };
      },
    } as unknown as QuotaStore;
    const queue = new WaitQueue(store, clock);
    const call = track(queue.acquire(request, 60_000, undefined, undefined));
    await clock.advanceAsync(0);
    expect(call.done).to.equal(false);
    await clock.advanceAsync(1);
    await clock.advanceAsync(1);
    expect(call.error, String(call.error)).to.equal(undefined);
    expect(call.done).to.equal(true);
    expect(reserves).to.equal(3);
    expect((call.value as Acquired).waitedMs).to.equal(2);
  });

  it('a StoreUnavailableError from another copy of the package is waited on like our own, not thrown', async () => {
    const clock = new FakeClock(START);
    // What another copy's error looks like here: a RouterError by its marker, not by instanceof.
    const foreign = Object.assign(new Error('Redis is down (other copy)'), { code: 'STORE_UNAVAILABLE', [Symbol.for('mistral-router.error')]: true });
    let reserves = 0;
    const store = {
      async reserve(): Promise<ReserveResult> {
        reserves++;
        if (reserves === 1) throw foreign;
        return { ok: true, reservation: { id: 'r', workspace: 'w', model: 'm', candidateIndex: 0, tokens: 10, requests: 1, at: clock.now(), windows: [] }, refusals: [] };
      },
    } as unknown as QuotaStore;
    const queue = new WaitQueue(store, clock);
    const call = track(queue.acquire(request, 5_000, undefined, undefined));
    await clock.advanceAsync(0);
    expect(call.done, String(call.error)).to.equal(false);
    await clock.advanceAsync(STORE_RETRY_MS);
    expect(call.error, String(call.error)).to.equal(undefined);
    expect((call.value as Acquired).waitedMs).to.equal(STORE_RETRY_MS);
  });

  it('a request larger than a limit of every candidate is NoEligibleModelError, never a wait of Infinity', async () => {
    const clock = new FakeClock(START);
    const store = new MemoryStore({ clock });
    const queue = new WaitQueue(store, clock);
    const plan = { candidates: [], rejected: [] };
    const error = await queue.acquire(forModel('m', 5, 10), 60_000, undefined, plan).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(NoEligibleModelError);
    expect((error as Error).message).to.match(/larger than a limit of every candidate/);
    expect((error as NoEligibleModelError).plan).to.equal(plan);
    // A waiter whose only candidate's limit drops below its size while it waits: the same, at the next pass.
    await store.reserve(forModel('n', 100, 10));
    const waiting = track(queue.acquire(forModel('n', 100, 10), 60_000, undefined, plan));
    await clock.advanceAsync(0);
    expect(waiting.done).to.equal(false);
    await store.observe({ workspace: 'w', model: 'n', windows: [{ ...WINDOW_KINDS.tokensPerMinute, limit: 5 }] });
    await clock.advanceAsync(1_100); // the queue's next pass: the workspace's request slot is back
    expect(waiting.error, String(waiting.error)).to.be.instanceOf(NoEligibleModelError);
  });
});
