/**
 * The router uses the Redis store unchanged: two routers (two "processes" of a fleet) on one workspace
 * share its requests-per-second window through Redis, against the emulator, on one fake clock.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator } from '../../lib/emulator/index.js';
import { createRouter } from '../../lib/index.js';
import { RedisStore } from '../../lib/quota/redis-store.js';
import { flushPrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';

describe('router with the Redis store', function () {
  this.timeout(30_000);
  before(async function () {
    await requireRedis(this);
  });

  it('two routers sharing one workspace through Redis never exceed its 1 request/s upstream', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const emulator = await startEmulator({ tier: 'free', clock });
    const keyPrefix = uniquePrefix('router');
    const routers = [0, 1].map(() =>
      createRouter({
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
      for (let step = 0; !settled && step < 400; step++) {
        await sleep(3);
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
});
