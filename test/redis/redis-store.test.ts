/**
 * What only the Redis store has to prove: the key layout (hash tags, expiry, constant size), the server
 * clock, script reloading, candidates across workspaces, crashed reservations and option checks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
import { FakeClock } from '../../lib/clock.js';
import { RedisStore, StoreError } from '../../lib/quota/redis/index.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import { EXPIRY_MARGIN } from '../../lib/quota/redis/keys.js';
import { createFallbackStore } from '../../lib/quota/fallback-store.js';
import { WINDOW_KINDS, type UpstreamObservation, type WindowSpec } from '../../lib/quota/types.js';
import { admitted, candidateOf, refused, windowOf } from '../quota/store-contract.js';
import { countingConnection, flushPrefix, redisUrl, requireRedis, spawnPrivateRedis, uniquePrefix, type SpawnedRedis } from '../helpers/redis.js';

describe('RedisStore (Redis-specific)', function () {
  let client: Redis;
  let prefix: string;
  const stores: RedisStore[] = [];
  /** Connections a test made itself (a store does not close a client it was given). */
  const connections: Redis[] = [];
  const open = (options: ConstructorParameters<typeof RedisStore>[0] = {}) => {
    const store = new RedisStore({ redis: redisUrl, keyPrefix: prefix, ...options });
    stores.push(store);
    return store;
  };

  before(async function () {
    await requireRedis(this);
    client = new Redis(redisUrl);
  });
  beforeEach(function () {
    prefix = uniquePrefix('store');
  });
  afterEach(async function () {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    for (const connection of connections.splice(0)) connection.disconnect();
    await flushPrefix(prefix);
  });
  after(async function () {
    client?.disconnect();
  });

  const keysOf = async () => (await client.keys(`{${prefix}*`)).sort();
  /**
   * A store on a connection that counts the scripts it sends (counted on the client: other tests on the same
   * Redis do not change the figure).
   */
  const counted = (options: ConstructorParameters<typeof RedisStore>[0] = {}) => {
    const counting = countingConnection();
    connections.push(counting.redis);
    return { store: open({ redis: counting.redis, ...options }), scripts: counting.scripts };
  };

  it('puts every key of a workspace under one hash tag, and every key expires', async function () {
    const store = open();
    const c = candidateOf('acme', 'small', windowOf('requestsPerSecond', 10), windowOf('tokensPerMinute', 1000), windowOf('tokensPerMonth', 10_000));
    const r = admitted(await store.reserve({ candidates: [c], tokens: 100 }));
    await store.observe({ workspace: 'acme', model: 'small', windows: [{ ...WINDOW_KINDS.requestsPerMinute, limit: 60, remaining: 50 }] });
    const keys = await keysOf();
    expect(keys).to.deep.equal(
      [
        `{${prefix}acme}:m:small:tokens-per-minute`,
        `{${prefix}acme}:m:small:tokens-per-month`,
        `{${prefix}acme}:pending`,
        `{${prefix}acme}:w:requests-per-minute`,
        `{${prefix}acme}:w:requests-per-second`,
        `{${prefix}acme}:windows`,
        `{${prefix}}workspaces`,
      ].sort(),
    );
    for (const key of keys) expect(await client.pttl(key), key).to.be.greaterThan(0);
    expect(await client.pttl(`{${prefix}acme}:w:requests-per-second`)).to.be.at.most(1_000 + 50 + 2_000);
    expect(await client.pttl(`{${prefix}acme}:m:small:tokens-per-minute`)).to.be.at.most(61_000 + 2_000);
    // A learned limit is kept for a day even though the window is a minute long.
    expect(await client.pttl(`{${prefix}acme}:w:requests-per-minute`)).to.be.greaterThan(86_000_000);
    const time = await client.time();
    const now = Number(time[0]) * 1000;
    const nextMonth = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth() + 1, 1);
    expect(await client.pttl(`{${prefix}acme}:m:small:tokens-per-month`)).to.be.closeTo(nextMonth - now + 86_400_000, 5_000);
    await store.settle(r, 50);
    expect(await client.zcard(`{${prefix}acme}:pending`)).to.equal(0);
  });

  it('encodes names so that braces and colons in a workspace or model cannot break the layout', async function () {
    const store = open();
    admitted(await store.reserve({ candidates: [candidateOf('a}b:{c', 'm:1', windowOf('tokensPerMinute', 10))], tokens: 1 }));
    expect(await keysOf()).to.include(`{${prefix}a%7Db%3A%7Bc}:m:m%3A1:tokens-per-minute`);
    expect((await store.snapshot()).map((w) => [w.workspace, w.model])).to.deep.equal([['a}b:{c', 'm:1']]);
  });

  it('keeps a sliding window at N + 1 buckets whatever the request rate (old buckets are deleted)', async function () {
    const clock = new FakeClock(Date.UTC(2026, 2, 10));
    const store = open({ clock });
    const c = candidateOf('acme', 'small', windowOf('tokensPerMinute', null));
    for (let i = 0; i < 300; i++) {
      admitted(await store.reserve({ candidates: [c], tokens: 1 }));
      clock.advance(700);
    }
    const fields = await client.hkeys(`{${prefix}acme}:m:small:tokens-per-minute`);
    expect(fields.filter((f) => /^\d+$/.test(f)).length).to.be.at.most(61);
  });

  it('reads the time from Redis when no clock is given: reservation.at is the server time', async function () {
    const store = open();
    const before = await client.time();
    const r = admitted(await store.reserve({ candidates: [candidateOf('acme', 'small', windowOf('requestsPerSecond', 10))], tokens: 0 }));
    const after = await client.time();
    const ms = ([s, us]: ReadonlyArray<string | number>) => Number(s) * 1000 + Math.floor(Number(us) / 1000);
    expect(r.at).to.be.within(ms(before), ms(after));
  });

  it('sends the decisions of one tick in batches (8 at once when Redis is idle, the rest at the end of the tick), decided in call order', async function () {
    const { store, scripts: scriptsRun } = counted();
    const small = candidateOf('acme', 'small', windowOf('tokensPerMinute', 100));
    const medium = candidateOf('acme', 'medium', windowOf('tokensPerMinute', 1_000));
    await store.release(admitted(await store.reserve({ candidates: [small], tokens: 1 })));
    const before = await scriptsRun();
    // 12 decisions of 30 tokens: small takes 3 (90 of 100), then each falls back to medium.
    const results = await Promise.all(Array.from({ length: 12 }, () => store.reserve({ candidates: [small, medium], tokens: 30 })));
    const after = await scriptsRun();
    // Nothing in flight: the first 8 leave at once, the other 4 together at the end of the tick.
    expect(after - before, 'scripts for 12 decisions').to.equal(2);
    const models = results.map((result) => admitted(result).model);
    expect(models).to.deep.equal(['small', 'small', 'small', ...Array(9).fill('medium')]);
    // A refusal inside the batch reports the window as the earlier decisions of the batch left it.
    const fourth = results[3];
    expect(fourth?.refusals[0]?.windows[0]).to.include({ used: 90, needed: 30, limit: 100 });
    const snapshot = await store.snapshot('acme');
    expect(snapshot.find((w) => w.model === 'small')).to.include({ used: 90, held: 90 });
    expect(snapshot.find((w) => w.model === 'medium')).to.include({ used: 270, held: 270 });
    await Promise.all(results.map((result) => store.settle(admitted(result), 10)));
    expect(await store.pendingReservations()).to.equal(0);
    expect((await store.snapshot('acme')).find((w) => w.model === 'medium')).to.include({ used: 90, held: 0 });
  });

  it('sends the settles and releases of one tick in one script, applied in call order, once each', async function () {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 100));
    const { store, scripts: scriptsRun } = counted({ clock });
    const small = candidateOf('acme', 'small', windowOf('requestsPerSecond', 100), windowOf('tokensPerMinute', 1_000));
    const first = admitted(await store.reserve({ candidates: [small], tokens: 100 }));
    clock.advance(1_500); // the next two land in another one-second bucket of the minute window
    const second = admitted(await store.reserve({ candidates: [small], tokens: 100 }));
    const third = admitted(await store.reserve({ candidates: [small], tokens: 100 }));
    const minuteKey = (await keysOf()).find((key) => key.endsWith(':tokens-per-minute')) as string;
    const bucketsBefore = Object.keys(await client.hgetall(minuteKey)).filter((field) => /^\d+$/.test(field)).sort();
    expect(bucketsBefore).to.have.length(2);
    const before = await scriptsRun();
    await Promise.all([
      store.settle(first, 0), // its bucket empties: deleted
      store.settle(second, 250), // charged 150 more
      store.release(third), // everything back, its request too
      store.settle(first, 999), // already settled: nothing
    ]);
    expect((await scriptsRun()) - before, 'scripts for 4 give-backs').to.equal(1);
    const minute = (await store.snapshot('acme')).find((w) => w.kind === 'tokens-per-minute');
    expect(minute).to.include({ used: 250, held: 0 });
    const second_ = (await store.snapshot('acme')).find((w) => w.kind === 'requests-per-second');
    expect(second_).to.include({ held: 0 });
    const fields = await client.hgetall(minuteKey);
    expect(Object.keys(fields).filter((field) => /^\d+$/.test(field)).sort()).to.deep.equal([bucketsBefore[1]]);
    expect(fields).to.include({ t: '250', [bucketsBefore[1] as string]: '250' });
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('sends the observations of one tick in one script, applied in call order, with the memory store\'s results', async function () {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 100));
    const { store: redisStore, scripts: scriptsRun } = counted({ clock });
    const memoryStore = new MemoryStore({ clock });
    const small = candidateOf('acme', 'small', windowOf('requestsPerSecond', 100), windowOf('tokensPerMinute', null));
    const observations: UpstreamObservation[] = [
      { workspace: 'acme', model: 'small', windows: [{ ...WINDOW_KINDS.tokensPerMinute, limit: 1_000, remaining: 900 }] },
      { workspace: 'acme', model: 'small', windows: [{ ...WINDOW_KINDS.tokensPerMinute, remaining: 700 }, { ...WINDOW_KINDS.requestsPerMinute, limit: 5, remaining: 4 }] },
      { workspace: 'acme', model: 'large', windows: [], rateLimited: { kind: 'tokens-per-minute', blockedForMs: 5_000 } },
      { workspace: 'acme', model: 'small', windows: [{ ...WINDOW_KINDS.tokensPerMinute, remaining: 800 }] }, // more than ours now: nothing
    ];
    const views: Array<Array<Record<string, unknown>>> = [];
    for (const store of [memoryStore, redisStore]) {
      await store.release(admitted(await store.reserve({ candidates: [small], tokens: 1 })));
      const before = await scriptsRun();
      await Promise.all(observations.map((observation) => store.observe(observation)));
      if (store === redisStore) expect((await scriptsRun()) - before, 'scripts for 4 observations').to.equal(1);
      const snapshot = await store.snapshot('acme');
      views.push(
        snapshot
          .map(({ model, kind, limit, used, blockedUntil }) => ({ model, kind, limit, used, blockedUntil }))
          .sort((x, y) => `${x.model}${x.kind}`.localeCompare(`${y.model}${y.kind}`)),
      );
    }
    expect(views[1]).to.deep.equal(views[0]);
    expect(views[1]).to.deep.include({ model: 'small', kind: 'tokens-per-minute', limit: 1_000, used: 300, blockedUntil: undefined });
    expect(views[1]?.find((w) => w.model === 'large')).to.include({ kind: 'tokens-per-minute', blockedUntil: clock.now() + 5_000 });
  });

  it('a 429 and a header observation of the same window in one tick: both applied, with the memory store\'s results', async function () {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 100));
    const redisStore = open({ clock });
    const memoryStore = new MemoryStore({ clock });
    const small = candidateOf('acme', 'small', windowOf('requestsPerSecond', 100), windowOf('tokensPerMinute', 1_000));
    const views: Array<Array<Record<string, unknown>>> = [];
    for (const store of [memoryStore, redisStore]) {
      const reservation = admitted(await store.reserve({ candidates: [small], tokens: 100 }));
      // The 429 names no window: it blocks the pair's model windows, read back by name; the next
      // observation goes on from the same window in the same script.
      await Promise.all([
        store.settle(reservation, 80),
        store.observe({ workspace: 'acme', model: 'small', windows: [], rateLimited: { blockedForMs: 5_000 } }),
        store.observe({ workspace: 'acme', model: 'small', windows: [{ ...WINDOW_KINDS.tokensPerMinute, limit: 2_000, remaining: 1_500 }] }),
      ]);
      const snapshot = await store.snapshot('acme');
      views.push(snapshot.map(({ kind, limit, used, held, blockedUntil, learned }) => ({ kind, limit, used, held, blockedUntil, learned })).sort((x, y) => x.kind.localeCompare(y.kind)));
    }
    expect(views[1]).to.deep.equal(views[0]);
    expect(views[1]).to.deep.include({ kind: 'tokens-per-minute', limit: 2_000, used: 500, held: 0, blockedUntil: clock.now() + 5_000, learned: true });
    expect(redisStore.deferredOperations).to.equal(0);
    // The learned limit is kept a day: the key's expiry moved with it.
    const minuteKey = (await keysOf()).find((key) => key.endsWith(':tokens-per-minute')) as string;
    expect(await client.pttl(minuteKey)).to.be.greaterThan(86_000_000);
  });

  it('a pending key emptied by the last settle and created again by the next reserve still expires', async function () {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 100));
    const store = open({ clock, reservationTtlMs: 600_000 });
    const small = candidateOf('acme', 'small', windowOf('requestsPerSecond', 100), windowOf('tokensPerMinute', 1_000));
    await store.settle(admitted(await store.reserve({ candidates: [small], tokens: 100 })), 50);
    const pendingKey = `{${prefix}acme}:pending`;
    expect(await client.exists(pendingKey)).to.equal(0);
    // Same buckets: no window opens a bucket, yet the key is new.
    admitted(await store.reserve({ candidates: [small], tokens: 100 }));
    expect(await client.pttl(pendingKey)).to.be.greaterThan(600_000);
  });

  it('a release queued before a reserve in the same tick is applied first, as in the memory store', async function () {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 100));
    const results: string[][] = [];
    for (const store of [new MemoryStore({ clock }), open({ clock })]) {
      const small = candidateOf('acme', 'small', windowOf('requestsPerSecond', 100), windowOf('tokensPerMinute', 1_000));
      const held = admitted(await store.reserve({ candidates: [small], tokens: 900 }));
      const outcomes = await Promise.all([
        store.reserve({ candidates: [small], tokens: 50 }),
        store.release(held),
        store.reserve({ candidates: [small], tokens: 500 }),
      ]);
      results.push(outcomes.map((outcome) => (outcome === undefined ? 'released' : outcome.ok ? 'ok' : 'refused')));
    }
    expect(results[1]).to.deep.equal(results[0]);
    expect(results[1]).to.deep.equal(['ok', 'released', 'ok']);
  });

  it('reloads its scripts after SCRIPT FLUSH (NOSCRIPT)', async function () {
    const store = open();
    const c = candidateOf('acme', 'small', windowOf('tokensPerMinute', 100));
    admitted(await store.reserve({ candidates: [c], tokens: 60 }));
    await client.script('FLUSH');
    refused(await store.reserve({ candidates: [c], tokens: 60 }));
    admitted(await store.reserve({ candidates: [c], tokens: 40 }));
  });

  it('a command Redis refuses (a key of the wrong type under its prefix) is a typed StoreError, not an outage', async function () {
    const events: string[] = [];
    // Behind the fail-open wrapper: a refused command is not an outage, so the fallback does not answer.
    const redisStore = open({ onEvent: (event) => events.push(event.type) });
    const store = createFallbackStore(redisStore, new MemoryStore(), { onEvent: (event) => events.push(event.type) });
    const c = candidateOf('acme', 'small', windowOf('tokensPerMinute', 100));
    // Other code wrote a plain string where the store keeps a window hash.
    await client.set(`{${prefix}acme}:m:small:tokens-per-minute`, 'not a hash');
    const error = await store.reserve({ candidates: [c], tokens: 10 }).then(
      () => expect.fail('reserve should fail'),
      (e: unknown) => e as StoreError,
    );
    expect(error).to.be.instanceOf(StoreError);
    expect(error.code).to.equal('STORE_FAILED');
    expect(error.operation).to.equal('reserve');
    expect(error.message).to.match(/RedisStore: Redis refused reserve: .*WRONGTYPE/);
    const direct = await redisStore.reserve({ candidates: [c], tokens: 10 }).then(() => undefined, (e: unknown) => e);
    expect(direct).to.be.instanceOf(StoreError);
    expect((error.cause as Error).name).to.equal('ReplyError');
    // Not an outage: no fallback store took over, nothing was reserved anywhere.
    expect(events).to.deep.equal([]);
    expect(store.usingFallback).to.equal(false);
    expect(await store.pendingReservations()).to.equal(0);
    // The workspace's other windows still work.
    admitted(await store.reserve({ candidates: [candidateOf('acme', 'large', windowOf('tokensPerMinute', 100))], tokens: 10 }));
  });

  it('takes candidates of several workspaces in order, each charged under its own hash tag', async function () {
    const store = open();
    const rps = windowOf('requestsPerSecond', 1);
    const a1 = candidateOf('alpha', 'small', rps);
    const b1 = candidateOf('beta', 'small', rps);
    const a2 = candidateOf('alpha', 'large', rps);
    expect(admitted(await store.reserve({ candidates: [a1, b1, a2], tokens: 0 })).workspace).to.equal('alpha');
    const second = await store.reserve({ candidates: [a1, b1, a2], tokens: 0 });
    expect(admitted(second)).to.include({ workspace: 'beta', candidateIndex: 1 });
    expect(second.refusals.map((r) => r.workspace)).to.deep.equal(['alpha']);
    const third = refused(await store.reserve({ candidates: [a1, b1, a2], tokens: 0 }));
    expect(third.refusals.map((r) => [r.candidateIndex, r.workspace])).to.deep.equal([[0, 'alpha'], [1, 'beta'], [2, 'alpha']]);
    expect(await client.exists(`{${prefix}alpha}:w:requests-per-second`, `{${prefix}beta}:w:requests-per-second`)).to.equal(2);
    expect(await store.pendingReservations()).to.equal(2);
  });

  it('two stores on the same prefix share the quota (and pending reservations); another prefix does not', async function () {
    const a = open();
    const b = open();
    const other = new RedisStore({ redis: redisUrl, keyPrefix: `${prefix}other:` });
    stores.push(other);
    const c = candidateOf('acme', 'small', windowOf('tokensPerMinute', 100));
    const r = admitted(await a.reserve({ candidates: [c], tokens: 70 }));
    refused(await b.reserve({ candidates: [c], tokens: 31 }));
    admitted(await other.reserve({ candidates: [c], tokens: 100 }));
    await b.settle(r, 40);
    expect(await a.pendingReservations()).to.equal(0);
    admitted(await b.reserve({ candidates: [c], tokens: 60 }));
  });

  it("forgets a crashed process's reservation after reservationTtlMs, keeping its charge", async function () {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12));
    const crashed = open({ reservationTtlMs: 100, clock });
    const c = candidateOf('acme', 'small', windowOf('tokensPerMinute', 1000));
    admitted(await crashed.reserve({ candidates: [c], tokens: 300 }));
    expect(await crashed.pendingReservations()).to.equal(1);
    clock.advance(150);
    const survivor = open({ clock });
    expect(await survivor.pendingReservations()).to.equal(0);
    expect(await client.zcard(`{${prefix}acme}:pending`)).to.equal(0);
    const window = (await survivor.snapshot('acme')).find((w) => w.kind === 'tokens-per-minute');
    expect(window).to.include({ used: 300, held: 0 });
  });

  it('keeps the pending key alive under continuous traffic: each reserve renews it once it is due, no settle is lost', async function () {
    // The pending key lives 2 x TTL + margin in Redis's real time and is renewed by a reserve that finds
    // less than TTL + margin left. Instead of waiting that long, the test shortens the key's life to just
    // under that mark before each reserve (as if the time had passed), through a candidate with a short
    // window and one through a month window only. Window time is a FakeClock: nothing here waits.
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12));
    const ttl = 120;
    const renewBelow = ttl + EXPIRY_MARGIN.sliding;
    const store = open({ clock, reservationTtlMs: ttl, localGrants: false });
    const pendingKey = `{${prefix}acme}:pending`;
    const viaShort = candidateOf('acme', 'small', windowOf('requestsPerSecond', 1_000), windowOf('tokensPerMinute', 1_000_000));
    const monthOnly = candidateOf('acme', 'large', windowOf('tokensPerMonth', 1_000_000));
    let settled = 0;
    // Overlapping reservations (a new one before the previous settles), so the pending set never empties
    // (Redis deletes an empty key, which would start it afresh).
    for (const candidate of [viaShort, monthOnly]) {
      let previous = admitted(await store.reserve({ candidates: [candidate], tokens: 100 }));
      for (let i = 0; i < 20; i++) {
        await client.pexpire(pendingKey, renewBelow - 1);
        const next = admitted(await store.reserve({ candidates: [candidate], tokens: 100 }));
        expect(await client.pttl(pendingKey), 'the pending key renewed by the reserve').to.be.greaterThan(renewBelow);
        clock.advance(20);
        await store.settle(previous, 40);
        settled++;
        previous = next;
      }
      await store.settle(previous, 40);
      settled++;
    }
    expect(await store.pendingReservations()).to.equal(0);
    const snapshot = await store.snapshot('acme');
    const perMinute = snapshot.find((w) => w.kind === 'tokens-per-minute')?.used ?? 0;
    const perMonth = snapshot.find((w) => w.kind === 'tokens-per-month')?.used ?? 0;
    expect(perMinute + perMonth, 'tokens recorded after every settle').to.equal(40 * settled);
    expect(await client.pttl(pendingKey)).to.be.lessThan(0); // empty: Redis deleted it
  });

  it('validates its options, naming the option', function () {
    expect(() => new RedisStore({ redis: redisUrl, keyPrefix: 'a{b' })).to.throw(TypeError, /keyPrefix/);
    expect(() => new RedisStore({ redis: redisUrl, localGrants: 'sometimes' as unknown as boolean })).to.throw(TypeError, /localGrants/);
    expect(() => new RedisStore({ redis: redisUrl, onEvent: 'log' as unknown as () => void })).to.throw(TypeError, /onEvent/);
    expect(() => new RedisStore({ redis: redisUrl, commandTimeoutMs: 0 })).to.throw(TypeError, /commandTimeoutMs/);
    expect(() => new RedisStore({ redis: redisUrl, reservationTtlMs: -1 })).to.throw(TypeError, /reservationTtlMs/);
    expect(() => new RedisStore({ redis: redisUrl, commandTimeoutMs: 3e9 })).to.throw(TypeError, /commandTimeoutMs/);
    // A bad clock accepted here would crash the process from the batch's nextTick at the first reserve.
    expect(() => new RedisStore({ redis: redisUrl, clock: {} as FakeClock })).to.throw(TypeError, /clock/);
    expect(() => new RedisStore({ redis: redisUrl, keyPrefix: 5 as unknown as string })).to.throw(TypeError, /keyPrefix/);
    expect(() => new RedisStore(null as unknown as {})).to.throw(TypeError, /options/);
  });

  it('a clock that throws mid-tick fails only decisions that were never sent: every admitted reservation, and only those, is pending', async function () {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12));
    let reads = 0;
    const breaking = { now: () => (++reads === 3 ? (() => { throw new Error('clock broke'); })() : clock.now()), setTimer: clock.setTimer.bind(clock) };
    const store = open({ clock: breaking as unknown as FakeClock });
    const c = candidateOf('acme', 'small', windowOf('tokensPerMinute', null));
    const results = await Promise.all(Array.from({ length: 100 }, () => store.reserve({ candidates: [c], tokens: 1 }).then((r) => r.ok, () => false)));
    const admittedCount = results.filter(Boolean).length;
    // The store itself: it ends its grants first (a grant is one member however many decisions it held).
    expect(await store.pendingReservations()).to.equal(admittedCount);
    const reader = open({ clock });
    expect(await reader.pendingReservations()).to.equal(admittedCount);
  });

  it('refuses a settle or release of something that is not a reservation, typed as the memory store does', async function () {
    const store = open();
    for (const bad of [null, undefined, {}, { id: 5 }]) {
      const settle = await store.settle(bad as never, 1).then(() => undefined, (e: unknown) => e);
      expect((settle as { code?: string }).code, String(bad)).to.equal('QUOTA_INVALID');
      const release = await store.release(bad as never).then(() => undefined, (e: unknown) => e);
      expect((release as { code?: string }).code, String(bad)).to.equal('QUOTA_INVALID');
    }
  });

  it('uses a client it is given without closing it', async function () {
    const own = new Redis(redisUrl);
    const store = new RedisStore({ redis: own, keyPrefix: prefix });
    const spec: WindowSpec = { kind: 'tokens-per-second', unit: 'tokens', period: 'second', scope: 'model', limit: 5 };
    admitted(await store.reserve({ candidates: [candidateOf('acme', 'small', spec)], tokens: 5 }));
    await store.close();
    expect(await own.ping()).to.equal('PONG');
    own.disconnect();
  });
});

describe('RedisStore on a Redis Cluster (one node holding every slot)', function () {
  this.timeout(20_000);
  let server: SpawnedRedis | undefined;
  let cluster: Cluster | undefined;
  let store: RedisStore | undefined;
  let configDir: string | undefined;

  before(async function () {
    await requireRedis(this);
    configDir = await mkdtemp(join(tmpdir(), 'mr-cluster-'));
    server = await spawnPrivateRedis(['--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1', '--cluster-config-file', join(configDir, 'nodes.conf')]);
    const admin = new Redis(server.url);
    try {
      await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
      for (let i = 0; i < 100 && !String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'); i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      admin.disconnect();
    }
    cluster = new Cluster([{ host: '127.0.0.1', port: server.port }]);
    store = new RedisStore({ redis: cluster, keyPrefix: uniquePrefix('cluster') });
  });
  after(async function () {
    await store?.close();
    cluster?.disconnect();
    await server?.kill();
    if (configDir !== undefined) await rm(configDir, { recursive: true, force: true });
  });

  it('runs every script within one slot, cutting a cross-workspace candidate list into per-workspace runs', async function () {
    const s = store as RedisStore;
    const rps = windowOf('requestsPerSecond', 1);
    const candidates = [candidateOf('alpha', 'small', rps), candidateOf('beta', 'small', rps), candidateOf('alpha', 'large', rps)];
    expect(admitted(await s.reserve({ candidates, tokens: 0 })).workspace).to.equal('alpha');
    const second = admitted(await s.reserve({ candidates, tokens: 0 }));
    expect(second).to.include({ workspace: 'beta', candidateIndex: 1 });
    const third = refused(await s.reserve({ candidates, tokens: 0 }));
    expect(third.refusals.map((r) => r.candidateIndex)).to.deep.equal([0, 1, 2]);
    await s.settle(second, 0);
    await s.observe({ workspace: 'beta', model: 'small', windows: [], rateLimited: { blockedForMs: 1000 } });
    expect((await s.snapshot()).map((w) => w.workspace).sort()).to.deep.equal(['alpha', 'beta', 'beta']);
    expect(await s.pendingReservations()).to.equal(1);
  });
});
