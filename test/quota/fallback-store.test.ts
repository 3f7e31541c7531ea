/**
 * createFallbackStore: fail-open around any QuotaStore. The primary here is a real MemoryStore behind a
 * switch that makes its calls fail as an outage does (StoreUnavailableError), or as a refused command
 * does (StoreError); test/redis/faults.test.ts runs the same wrapper around a RedisStore whose server dies.
 */
import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { StoreError, StoreUnavailableError } from '../../lib/errors.js';
import { createFallbackStore, type FallbackStoreEvent, type FallbackStoreOptions } from '../../lib/quota/fallback-store.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import type { QuotaStore, Reservation, ReserveRequest, ReserveResult, UpstreamObservation, WindowSnapshot } from '../../lib/quota/types.js';
import { admitted, candidateOf, describeStoreContract, refused, windowOf } from './store-contract.js';

/** A MemoryStore whose every call fails with `failure` while it is set; counts the calls that reached it. */
class SwitchedStore implements QuotaStore {
  failure: Error | undefined;
  calls = 0;
  closed = false;
  readonly inner: MemoryStore;

  constructor(clock: FakeClock) {
    this.inner = new MemoryStore({ clock });
  }

  async #through<T>(call: () => Promise<T>): Promise<T> {
    this.calls++;
    if (this.failure !== undefined) throw this.failure;
    return call();
  }

  reserve(request: ReserveRequest): Promise<ReserveResult> {
    return this.#through(() => this.inner.reserve(request));
  }
  settle(reservation: Reservation, actualTokens: number): Promise<void> {
    return this.#through(() => this.inner.settle(reservation, actualTokens));
  }
  release(reservation: Reservation): Promise<void> {
    return this.#through(() => this.inner.release(reservation));
  }
  observe(observation: UpstreamObservation): Promise<void> {
    return this.#through(() => this.inner.observe(observation));
  }
  snapshot(workspace?: string): Promise<WindowSnapshot[]> {
    return this.#through(() => this.inner.snapshot(workspace));
  }
  pendingReservations(): Promise<number> {
    return this.#through(() => this.inner.pendingReservations());
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const outage = () => new StoreUnavailableError('primary: no answer');

describe('createFallbackStore', function () {
  let clock: FakeClock;
  let primary: SwitchedStore;
  let fallback: MemoryStore;
  let events: FallbackStoreEvent[];
  const small = candidateOf('acme', 'small', windowOf('tokensPerMinute', 100));
  const wrap = (options: FallbackStoreOptions = {}) => createFallbackStore(primary, fallback, { clock, onEvent: (event) => events.push(event), ...options });

  beforeEach(function () {
    clock = new FakeClock(Date.UTC(2026, 2, 10, 12));
    primary = new SwitchedStore(clock);
    fallback = new MemoryStore({ clock });
    events = [];
  });

  describeStoreContract('FallbackStore while its primary answers', async (contractClock, options) =>
    createFallbackStore(new MemoryStore({ clock: contractClock, ...options }), new MemoryStore({ clock: contractClock, ...options })),
  );

  it('answers from the primary while it answers: the fallback holds nothing', async function () {
    const store = wrap();
    admitted(await store.reserve({ candidates: [small], tokens: 80 }));
    expect(await primary.inner.pendingReservations()).to.equal(1);
    expect(await fallback.pendingReservations()).to.equal(0);
    expect(store.usingFallback).to.equal(false);
    expect(events).to.deep.equal([]);
  });

  it('the primary unavailable: the fallback answers, enforces the limits, and one event says so', async function () {
    const store = wrap();
    primary.failure = outage();
    const r = admitted(await store.reserve({ candidates: [small], tokens: 80 }));
    refused(await store.reserve({ candidates: [small], tokens: 30 }));
    expect(store.usingFallback).to.equal(true);
    expect(await store.pendingReservations()).to.equal(1);
    await store.settle(r, 50);
    await store.release(admitted(await store.reserve({ candidates: [small], tokens: 50 })));
    expect(events.map((event) => event.type)).to.deep.equal(['fallback']);
    expect(events[0]).to.include({ operation: 'reserve', error: primary.failure });
    expect(await store.pendingReservations()).to.equal(0);
    expect((await fallback.snapshot('acme'))[0]).to.include({ used: 50, held: 0 });
  });

  it('settles each reservation in the store that issued it, and returns to the primary after retryAfterMs', async function () {
    const store = wrap({ retryAfterMs: 1_000 });
    const inPrimary = admitted(await store.reserve({ candidates: [small], tokens: 40 }));
    primary.failure = outage();
    const local = admitted(await store.reserve({ candidates: [small], tokens: 30 }));
    const callsWhenDown = primary.calls;
    // Within retryAfterMs: the primary is not asked again.
    admitted(await store.reserve({ candidates: [small], tokens: 1 }));
    await store.observe({ workspace: 'acme', model: 'small', windows: [] });
    expect(await store.snapshot('acme')).to.have.length(1);
    expect(primary.calls).to.equal(callsWhenDown);
    primary.failure = undefined;
    clock.advance(999);
    admitted(await store.reserve({ candidates: [small], tokens: 1 }));
    expect(store.usingFallback).to.equal(true);
    clock.advance(1);
    const back = admitted(await store.reserve({ candidates: [small], tokens: 10 }));
    expect(store.usingFallback).to.equal(false);
    expect(events.map((event) => event.type)).to.deep.equal(['fallback', 'recovered']);
    expect(events[1]).to.deep.equal({ type: 'recovered', unavailableForMs: 1_000 });
    // Issued by the fallback: settled there, although the primary answers again; and the other way round.
    await store.settle(local, 20);
    await store.settle(inPrimary, 35);
    expect((await fallback.snapshot('acme'))[0]).to.include({ used: 22, held: 2 });
    expect((await primary.inner.snapshot('acme'))[0]).to.include({ used: 45, held: 10 });
    await store.release(back);
    expect(await store.pendingReservations()).to.equal(2); // the two 1-token reservations of the fallback
  });

  it('a settle the primary cannot take resolves (fail-open) and starts the outage', async function () {
    const store = wrap();
    const r = admitted(await store.reserve({ candidates: [small], tokens: 40 }));
    primary.failure = outage();
    await store.settle(r, 10);
    await store.release(r);
    expect(store.usingFallback).to.equal(true);
    expect(events.map((event) => [event.type, (event as { operation?: string }).operation])).to.deep.equal([['fallback', 'settle']]);
    // A settle that reaches the primary does not end the outage (a store may keep it without its server).
    primary.failure = undefined;
    await store.settle(r, 10);
    expect(store.usingFallback).to.equal(true);
  });

  it('tries the primary with one call at a time during an outage, the others going to the fallback', async function () {
    const store = wrap({ retryAfterMs: 0 });
    primary.failure = outage();
    admitted(await store.reserve({ candidates: [small], tokens: 1 }));
    const before = primary.calls;
    await Promise.all(Array.from({ length: 5 }, () => store.reserve({ candidates: [small], tokens: 1 })));
    expect(primary.calls - before).to.equal(1);
    expect(await fallback.pendingReservations()).to.equal(6);
  });

  it('throws what is not an outage as it is, without switching: a refused command, bad input', async function () {
    const store = wrap();
    primary.failure = new StoreError('primary: WRONGTYPE', 'reserve');
    const error = await store.reserve({ candidates: [small], tokens: 1 }).then(() => undefined, (e: unknown) => e);
    expect(error).to.equal(primary.failure);
    primary.failure = undefined;
    const invalid = await store.reserve({ candidates: [small], tokens: -1 }).then(() => undefined, (e: unknown) => e);
    expect((invalid as { code?: string }).code).to.equal('QUOTA_INVALID');
    expect(store.usingFallback).to.equal(false);
    expect(events).to.deep.equal([]);
    expect(await fallback.pendingReservations()).to.equal(0);
  });

  it('takes the outage test it is given (isUnavailable)', async function () {
    const store = wrap({ isUnavailable: (error) => error instanceof RangeError });
    primary.failure = new RangeError('socket gone');
    admitted(await store.reserve({ candidates: [small], tokens: 1 }));
    expect(events[0]).to.include({ type: 'fallback', error: primary.failure });
    primary.failure = outage();
    const error = await createFallbackStore(primary, new MemoryStore({ clock }), { isUnavailable: () => false })
      .reserve({ candidates: [small], tokens: 1 })
      .then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(StoreUnavailableError);
  });

  it('closes both stores', async function () {
    const store = wrap();
    await store.close();
    expect(primary.closed).to.equal(true);
    const failing = new SwitchedStore(clock);
    failing.close = async () => {
      throw new Error('close failed');
    };
    const other = new SwitchedStore(clock);
    const error = await createFallbackStore(failing, other).close().then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).to.equal('close failed');
    expect(other.closed).to.equal(true);
  });

  it('listens with on() and off()', async function () {
    const store = wrap();
    const seen: string[] = [];
    const listener = (event: FallbackStoreEvent) => seen.push(event.type);
    store.on('fallback', listener).on('recovered', listener);
    store.off('recovered', listener);
    primary.failure = outage();
    await store.reserve({ candidates: [small], tokens: 1 });
    primary.failure = undefined;
    clock.advance(1_000);
    await store.reserve({ candidates: [small], tokens: 1 });
    expect(seen).to.deep.equal(['fallback']);
    expect(events.map((event) => event.type)).to.deep.equal(['fallback', 'recovered']);
  });

  it('validates its arguments, naming each', function () {
    expect(() => createFallbackStore({} as QuotaStore, fallback)).to.throw(TypeError, /primary must be a QuotaStore.*reserve/);
    expect(() => createFallbackStore(primary, null as unknown as QuotaStore)).to.throw(TypeError, /fallback must be a QuotaStore/);
    expect(() => createFallbackStore(fallback, fallback)).to.throw(TypeError, /same one twice/);
    expect(() => wrap({ retryAfterMs: -1 })).to.throw(TypeError, /retryAfterMs/);
    expect(() => wrap({ retryAfterMs: Number.POSITIVE_INFINITY })).to.throw(TypeError, /retryAfterMs/);
    expect(() => wrap({ clock: {} as FakeClock })).to.throw(TypeError, /clock/);
    expect(() => wrap({ isUnavailable: 5 as unknown as () => boolean })).to.throw(TypeError, /isUnavailable/);
    expect(() => wrap({ onEvent: 'log' as unknown as () => void })).to.throw(TypeError, /onEvent/);
    expect(() => createFallbackStore(primary, fallback, null as unknown as FallbackStoreOptions)).to.throw(TypeError, /options/);
  });
});
