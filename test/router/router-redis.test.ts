/**
 * The router uses the Redis store unchanged: two routers (two "processes" of a fleet) on one workspace
 * share its requests-per-second window through Redis, against the emulator, on one fake clock.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator } from '../../lib/emulator/index.js';
import { createRouter } from '../../lib/index.js';
import { RedisStore } from '../../lib/quota/redis/index.js';
import { countingConnection, flushPrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';
import { catalog2025 } from '../helpers/catalog-2025.js';

describe('router with the Redis store', function () {
  this.timeout(30_000);
  before(async function () {
    await requireRedis(this);
  });

  it('two routers sharing one workspace through Redis never exceed its 1 request/s upstream', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const emulator = await startEmulator({ catalog: catalog2025, tier: 'free', clock });
    const keyPrefix = uniquePrefix('router');
    const routers = [0, 1].map(() =>
      createRouter({
    catalog: catalog2025,
        workspaces: [{ name: 'shared', apiKey: 'shared-key-123', tier: 'free' }],
        serverURL: emulator.url,
        clock,
        store: new RedisStore({ redis: redisUrl, keyPrefix, clock }),
      }),
    );
    try {
      const calls = Array.from({ length: 6 }, (_, i) => (routers[i % 2] as (typeof routers)[number]).chat.complete({ messages: [{ role: 'user', content: `call ${i}` }], maxTokens: 10 }));
      let settled = false;
      const all = Promise.all(calls).finally(() => (settled = true));
      all.catch(() => undefined);
      // Fake time moves only while no call is in flight on the network: real I/O (Redis, HTTP) gets real
      // time between steps, so a call admitted at fake second s reaches the emulator in fake second s.
      // (A fixed real pause between steps was not enough on a cold first run: wait until nothing is held.)
      for (let step = 0; !settled && step < 400; step++) {
        await sleep(3);
        for (let waited = 0; waited < 2_000; waited += 2) {
          const held = await Promise.all(routers.map((r) => r.store.pendingReservations()));
          if (held.every((n) => n === 0)) break;
          await sleep(2);
        }
        await clock.advanceAsync(50);
      }
      expect(settled, 'every call finished within 20 s of fake time').to.equal(true);
      const results = await all;
      expect(results).to.have.length(6);
      const stats = emulator.stats();
      expect(stats.responses['200']).to.equal(6);
      expect(stats.responses['429'] ?? 0).to.equal(0);
      for (const router of routers) expect(await router.store.pendingReservations()).to.equal(0);
    } finally {
      for (const router of routers) await router.close();
      await emulator.stop();
      await flushPrefix(keyPrefix);
    }
  });

  it('a burst of concurrent calls through Redis: every settle and observation lands once (batched per tick), nothing pending', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const models = { 'mistral-small-2506': { tokensPerMinute: 1_000_000, tokensPerMonth: 1_000_000_000 } };
    const overrides = { requestsPerSecond: null, models };
    const emulator = await startEmulator({ catalog: catalog2025, tier: 'free', clock, overrides });
    const keyPrefix = uniquePrefix('router-burst');
    const stats = countingConnection();
    const store = new RedisStore({ redis: stats.redis, keyPrefix, clock });
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'busy', apiKey: 'busy-key-123', tier: 'free', overrides }], serverURL: emulator.url, clock, store });
    const scriptsRun = async () => stats.scripts();
    try {
      const before = await scriptsRun();
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) => router.chat.complete({ model: 'mistral-small-2506', messages: [{ role: 'user', content: `burst call ${i} `.repeat(1 + (i % 4)) }], maxTokens: 10 })),
      );
      expect(results.every((r) => r.routing.model === 'mistral-small-2506' && r.routing.waitedMs === 0)).to.equal(true);
      expect(emulator.stats().responses['200']).to.equal(24);
      // A call's settle and the observation of its headers share one script (with those of the same tick);
      // the 24 reserves went in a few batches.
      expect((await scriptsRun()) - before, 'scripts for 24 routed calls').to.be.at.most(24 + 4);
      expect(await store.pendingReservations()).to.equal(0);
      const used = results.reduce((sum, r) => sum + (r.usage?.totalTokens ?? 0), 0);
      const windows = await store.snapshot('busy');
      const minute = windows.find((w) => w.kind === 'tokens-per-minute' && w.model === 'mistral-small-2506');
      // Every estimate was replaced by the real usage, once; the headers' remaining agreed with it.
      expect(minute).to.include({ used, held: 0, limit: 1_000_000 });
    } finally {
      stats.redis.disconnect();
      await router.close();
      await emulator.stop();
      await flushPrefix(keyPrefix);
    }
  });

  it('calls in quick succession take their decisions from grants: same answers, exact usage in Redis, nothing pending', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const models = { 'mistral-small-2506': { tokensPerMinute: 1_000_000, tokensPerMonth: 1_000_000_000 } };
    const overrides = { requestsPerSecond: 1_000, models };
    const emulator = await startEmulator({ catalog: catalog2025, tier: 'free', clock, overrides });
    const keyPrefix = uniquePrefix('router-grants');
    const store = new RedisStore({ redis: redisUrl, keyPrefix, clock });
    let granted = 0;
    const reserve = store.reserve.bind(store);
    store.reserve = async (request) => {
      const result = await reserve(request);
      if (result.ok && result.reservation.id.includes('/')) granted++;
      return result;
    };
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'fast', apiKey: 'fast-key-123', tier: 'free', overrides }], serverURL: emulator.url, clock, store });
    try {
      const results = [];
      for (let i = 0; i < 30; i++) {
        results.push(await router.chat.complete({ model: 'mistral-small-2506', messages: [{ role: 'user', content: `call ${i} `.repeat(1 + (i % 3)) }], maxTokens: 10 }));
      }
      expect(emulator.stats().responses['200']).to.equal(30);
      expect(granted, 'decisions taken from grants').to.be.greaterThan(15);
      const used = results.reduce((sum, r) => sum + (r.usage?.totalTokens ?? 0), 0);
      // snapshot() ends the grant first: every estimate was replaced by the real usage, nothing is held.
      const minute = (await store.snapshot('fast')).find((w) => w.kind === 'tokens-per-minute' && w.model === 'mistral-small-2506');
      expect(minute).to.include({ used, held: 0 });
      expect(await store.pendingReservations()).to.equal(0);
    } finally {
      await router.close();
      await emulator.stop();
      await flushPrefix(keyPrefix);
    }
  });
});
