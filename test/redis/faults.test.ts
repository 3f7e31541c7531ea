/**
 * Redis unreachable at start, lost mid-run, hung, and back again: both policies do what they promise,
 * every call answers within its bound, and no reservation is left behind.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { FakeClock } from '../../lib/clock.js';
import { StoreUnavailableError } from '../../lib/errors.js';
import { createFallbackStore, type FallbackStoreEvent } from '../../lib/quota/fallback-store.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import { RedisStore, type RedisStoreEvent, type RedisStoreOptions } from '../../lib/quota/redis/index.js';
import type { Reservation } from '../../lib/quota/types.js';
import { admitted, candidateOf, refused, windowOf } from '../quota/store-contract.js';
import { freePort, requireRedis, spawnRedis, uniquePrefix, type SpawnedRedis } from '../helpers/redis.js';

const TIMEOUT_MS = 300;

/** Resolves with the value, or fails the test when `promise` is still pending after `ms`. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function rejectsUnavailable(promise: Promise<unknown>, what: string): Promise<void> {
  const outcome = await within(TIMEOUT_MS * 3, promise.then(() => 'resolved', (error: unknown) => error), what);
  expect(outcome, what).to.be.instanceOf(StoreUnavailableError);
  expect((outcome as StoreUnavailableError).code).to.equal('STORE_UNAVAILABLE');
}

function nextEvent<T extends RedisStoreEvent['type']>(store: RedisStore, type: T, ms = 8_000): Promise<Extract<RedisStoreEvent, { type: T }>> {
  return within(
    ms,
    new Promise((resolve) => {
      const listener = (event: Extract<RedisStoreEvent, { type: T }>) => {
        store.off(type, listener);
        resolve(event);
      };
      store.on(type, listener);
    }),
    `event ${type}`,
  );
}

describe('RedisStore when Redis fails', function () {
  this.timeout(20_000);
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const stores: RedisStore[] = [];
  const servers: SpawnedRedis[] = [];
  const c = () => candidateOf('acme', 'small', windowOf('requestsPerSecond', 1000), windowOf('tokensPerMinute', 10_000));

  const open = (options: RedisStoreOptions) => {
    const events: RedisStoreEvent[] = [];
    const keyPrefix = uniquePrefix('fault');
    const store = new RedisStore({ keyPrefix, commandTimeoutMs: TIMEOUT_MS, onEvent: (event) => events.push(event), ...options });
    stores.push(store);
    return { store, events, keyPrefix };
  };

  before(async function () {
    await requireRedis(this);
    process.on('unhandledRejection', onUnhandled);
  });
  after(function () {
    process.off('unhandledRejection', onUnhandled);
  });
  afterEach(async function () {
    await Promise.all(stores.splice(0).map((store) => within(TIMEOUT_MS * 3, store.close(), 'close')));
    await Promise.all(servers.splice(0).map((server) => server.kill()));
    // Let any stray rejection surface before judging.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(unhandled, 'unhandled rejections').to.deep.equal([]);
  });

  describe('nothing listens at the address', function () {
    it('fail-closed: every call rejects with StoreUnavailableError within the timeout', async function () {
      const { store, events } = open({ redis: `redis://127.0.0.1:${await freePort()}` });
      await rejectsUnavailable(store.reserve({ candidates: [c()], tokens: 10 }), 'first reserve');
      await rejectsUnavailable(store.reserve({ candidates: [c()], tokens: 10 }), 'second reserve');
      await rejectsUnavailable(store.observe({ workspace: 'acme', model: 'small', windows: [] }), 'observe');
      await rejectsUnavailable(store.snapshot(), 'snapshot');
      await rejectsUnavailable(store.pendingReservations(), 'pendingReservations');
      expect(events.filter((e) => e.type === 'storeError').length).to.equal(5);
      // Nothing else: without the fail-open wrapper nothing falls back.
      expect(events.map((e) => e.type)).to.deep.equal(Array(5).fill('storeError'));
    });

    it('fail-open (createFallbackStore): a local memory store answers, enforces the limits, and one event says so', async function () {
      const { store: redisStore } = open({ redis: `redis://127.0.0.1:${await freePort()}` });
      const events: FallbackStoreEvent[] = [];
      const store = createFallbackStore(redisStore, new MemoryStore(), { onEvent: (event) => events.push(event) });
      const small = candidateOf('acme', 'small', windowOf('tokensPerMinute', 100));
      const r = admitted(await within(TIMEOUT_MS * 3, store.reserve({ candidates: [small], tokens: 80 }), 'reserve'));
      refused(await store.reserve({ candidates: [small], tokens: 30 }));
      expect(store.usingFallback).to.equal(true);
      expect(await store.pendingReservations()).to.equal(1);
      await store.settle(r, 50);
      await store.release(admitted(await store.reserve({ candidates: [small], tokens: 50 })));
      expect(events.filter((e) => e.type === 'fallback').length).to.equal(1);
      expect(await store.pendingReservations()).to.equal(0);
    });
  });

  describe('a redis-server stopped mid-run and started again', function () {
    let port: number;
    beforeEach(async function () {
      port = await freePort();
      servers.push(await spawnRedis(port));
    });

    it('fail-closed: rejects while down, replays the kept settle, and serves again after the restart', async function () {
      const { store, events } = open({ redis: `redis://127.0.0.1:${port}` });
      const r = admitted(await store.reserve({ candidates: [c()], tokens: 100 }));
      await (servers.pop() as SpawnedRedis).kill();
      await rejectsUnavailable(store.reserve({ candidates: [c()], tokens: 10 }), 'reserve while down');
      await rejectsUnavailable(store.settle(r, 60), 'settle while down');
      expect(store.deferredOperations).to.equal(1);
      const recovered = nextEvent(store, 'recovered');
      servers.push(await spawnRedis(port));
      expect((await recovered).replayed).to.equal(1);
      const again = admitted(await store.reserve({ candidates: [c()], tokens: 10 }));
      await store.release(again);
      expect(store.deferredOperations).to.equal(0);
      expect(await store.pendingReservations()).to.equal(0);
      expect(events.map((e) => e.type)).to.include.members(['storeError', 'recovered']);
    });

    it('a grant that ends while Redis is down: its decisions settle locally, its split is kept and replayed', async function () {
      const { store, events } = open({ redis: `redis://127.0.0.1:${port}` });
      // One window with 1 s buckets: a grant lives up to 250 ms (real time here: the server is real).
      const perMinute = candidateOf('acme', 'small', windowOf('tokensPerMinute', 1_000_000));
      let granted: Reservation | undefined;
      for (let i = 0; i < 50 && granted === undefined; i++) {
        const r = admitted(await store.reserve({ candidates: [perMinute], tokens: 10 }));
        if (r.id.includes('/')) granted = r;
      }
      if (granted === undefined) expect.fail('no decision was taken from a grant');
      await (servers.pop() as SpawnedRedis).kill();
      // Settled locally: the grant carries it to Redis when it is split.
      await within(TIMEOUT_MS, store.settle(granted, 5), 'settle of a decision taken from a grant');
      // The grant ends on its timer; its split cannot reach Redis and is kept.
      for (let i = 0; i < 100 && store.deferredOperations === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(store.deferredOperations).to.equal(1);
      const recovered = nextEvent(store, 'recovered');
      servers.push(await spawnRedis(port));
      expect((await recovered).replayed).to.equal(1);
      expect(store.deferredOperations).to.equal(0);
      // The restarted server kept nothing (no persistence here): the split found no grant and changed nothing.
      expect(await store.pendingReservations()).to.equal(0);
      admitted(await store.reserve({ candidates: [perMinute], tokens: 10 }));
      expect(events.map((e) => e.type)).to.include.members(['storeError', 'recovered']);
    });

    it('a split that timed out but ran anyway: a decision settled after it still reaches Redis, once', async function () {
      const { store } = open({ redis: `redis://127.0.0.1:${port}`, commandTimeoutMs: 150 });
      const perMinute = candidateOf('acme', 'small', windowOf('tokensPerMinute', 1_000_000));
      const taken: Reservation[] = [];
      for (let i = 0; i < 50 && !taken.some((r) => r.id.includes('/')); i++) taken.push(admitted(await store.reserve({ candidates: [perMinute], tokens: 10 })));
      const granted = taken.find((r) => r.id.includes('/'));
      if (granted === undefined) expect.fail('no decision was taken from a grant');
      for (const r of taken) if (r !== granted) await store.release(r);
      const admin = new Redis(`redis://127.0.0.1:${port}`);
      try {
        // Redis holds every command for 700 ms: the grant's split (sent when its timer ends it) times out,
        // is kept for the replay, and runs when the pause ends.
        await admin.call('CLIENT', 'PAUSE', '700');
        for (let i = 0; i < 100 && store.deferredOperations === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(store.deferredOperations).to.equal(1);
        await admin.ping(); // answered when the pause is over
      } finally {
        admin.disconnect();
      }
      // Sent after the split: it goes to Redis, where the split made it a pending member.
      await store.settle(granted, 4);
      for (let i = 0; i < 100 && store.deferredOperations > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await store.pendingReservations()).to.equal(0);
      expect((await store.snapshot('acme')).find((w) => w.kind === 'tokens-per-minute')).to.include({ used: 4, held: 0 });
    });

    it('fail-open (createFallbackStore): falls back, settles each reservation in the store that issued it, and returns to Redis', async function () {
      const { store: redisStore, keyPrefix } = open({ redis: `redis://127.0.0.1:${port}` });
      const events: FallbackStoreEvent[] = [];
      const wrapperClock = new FakeClock();
      const store = createFallbackStore(redisStore, new MemoryStore(), { clock: wrapperClock, retryAfterMs: 1_000, onEvent: (event) => events.push(event) });
      const inRedis = admitted(await store.reserve({ candidates: [c()], tokens: 100 }));
      await (servers.pop() as SpawnedRedis).kill();
      const local = admitted(await within(TIMEOUT_MS * 3, store.reserve({ candidates: [c()], tokens: 100 }), 'reserve while down'));
      expect(store.usingFallback).to.equal(true);
      expect(events.filter((e) => e.type === 'fallback').length).to.equal(1);
      await within(TIMEOUT_MS * 3, store.settle(inRedis, 40), 'settle of a Redis reservation while down');
      expect(redisStore.deferredOperations).to.equal(1);
      const recovered = nextEvent(redisStore, 'recovered');
      servers.push(await spawnRedis(port));
      await recovered;
      // Issued by the fallback: settled there, even though Redis is back.
      await store.settle(local, 20);
      // The wrapper tries Redis again retryAfterMs after its last failure, on its clock.
      wrapperClock.advance(1_000);
      const back = admitted(await store.reserve({ candidates: [c()], tokens: 10 }));
      expect(store.usingFallback).to.equal(false);
      expect(events.map((e) => e.type)).to.deep.equal(['fallback', 'recovered']);
      const client = new Redis(`redis://127.0.0.1:${port}`);
      try {
        // The restarted server is empty but for the new reservation: it went to Redis, not the fallback.
        const members = await client.zrange(`{${keyPrefix}acme}:pending`, '0', '-1');
        expect(members.map((member) => member.split(' ')[0])).to.deep.equal([back.id]);
      } finally {
        client.disconnect();
      }
      await store.release(back);
      expect(await store.pendingReservations()).to.equal(0);
      expect(redisStore.deferredOperations).to.equal(0);
    });

    it('every call in flight when the server dies answers within the bound', async function () {
      const { store } = open({ redis: `redis://127.0.0.1:${port}` });
      const outcomes: Array<Promise<string>> = [];
      const stopAt = Date.now() + 600;
      const worker = async () => {
        while (Date.now() < stopAt) {
          const call = store.reserve({ candidates: [c()], tokens: 1 }).then(
            async (result) => {
              if (result.ok) await store.settle(result.reservation, 1).catch(() => {});
              return 'answered';
            },
            (error: unknown) => (error instanceof StoreUnavailableError ? 'unavailable' : `unexpected: ${String(error)}`),
          );
          outcomes.push(call);
          await call;
        }
      };
      const running = Promise.all(Array.from({ length: 8 }, worker));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await (servers.pop() as SpawnedRedis).kill();
      await within(2_000, running, 'the workers');
      const settled = await within(TIMEOUT_MS * 3, Promise.all(outcomes), 'in-flight calls');
      expect(settled.filter((o) => o.startsWith('unexpected'))).to.deep.equal([]);
      expect(settled).to.include('answered').and.to.include('unavailable');
    });
  });

  it('a hung Redis (DEBUG SLEEP) times out the call, and the reserves that ran late (a batch of two) are undone', async function () {
    const port = await freePort();
    servers.push(await spawnRedis(port, ['--enable-debug-command', 'yes']));
    const { store } = open({ redis: `redis://127.0.0.1:${port}` });
    const small = candidateOf('acme', 'small', windowOf('tokensPerMinute', 100));
    // Warm up (scripts loaded, connection ready), leaving the window empty.
    await store.release(admitted(await store.reserve({ candidates: [small], tokens: 10 })));
    const sleeper = new Redis(`redis://127.0.0.1:${port}`);
    try {
      const sleeping = sleeper.call('DEBUG', 'SLEEP', '1');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = Date.now();
      // Two decisions of one tick: one script, timed out as a whole, both undone.
      await Promise.all([
        rejectsUnavailable(store.reserve({ candidates: [small], tokens: 60 }), 'reserve on a hung Redis'),
        rejectsUnavailable(store.reserve({ candidates: [small], tokens: 40 }), 'second reserve of the batch'),
      ]);
      expect(Date.now() - started).to.be.below(TIMEOUT_MS * 2);
      await sleeping;
    } finally {
      sleeper.disconnect();
    }
    // The late reserve ran after the sleep, then its cancel: nothing pending, the whole limit free again.
    expect(await store.pendingReservations()).to.equal(0);
    admitted(await store.reserve({ candidates: [small], tokens: 100 }));
  });

  it('close() with a command in flight on a client the caller owns: the call fails at once, not after the timeout', async function () {
    const port = await freePort();
    servers.push(await spawnRedis(port, ['--enable-debug-command', 'yes']));
    const client = new Redis(`redis://127.0.0.1:${port}`, { enableOfflineQueue: false });
    const sleeper = new Redis(`redis://127.0.0.1:${port}`);
    try {
      const { store } = open({ redis: client, commandTimeoutMs: 5_000 });
      const small = candidateOf('acme', 'small', windowOf('tokensPerMinute', 100));
      await store.release(admitted(await store.reserve({ candidates: [small], tokens: 10 })));
      const sleeping = sleeper.call('DEBUG', 'SLEEP', '0.5');
      await new Promise((resolve) => setTimeout(resolve, 30));
      const pending = store.reserve({ candidates: [small], tokens: 10 }).then(
        () => 'resolved',
        (error: unknown) => error,
      );
      await new Promise((resolve) => setImmediate(resolve));
      const started = Date.now();
      await store.close();
      const outcome = await within(200, pending, 'reserve after close');
      expect(outcome).to.be.instanceOf(StoreUnavailableError);
      expect((outcome as Error).message).to.include('closed before Redis answered');
      expect(Date.now() - started).to.be.below(200);
      await sleeping;
    } finally {
      sleeper.disconnect();
      client.disconnect();
    }
  });
});
