import { expect } from 'chai';
import { FakeClock, type Clock } from '../../lib/clock.js';
import { RouterError } from '../../lib/errors.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import { WINDOW_KINDS } from '../../lib/quota/types.js';
import { admitted, candidateOf, describeStoreContract, refused, windowOf } from './store-contract.js';

describeStoreContract('MemoryStore', async (clock, options) => new MemoryStore({ clock, ...options }));

describe('MemoryStore (memory-specific)', function () {
  const start = Date.UTC(2026, 2, 10, 12);

  it('validates its options, naming the option', function () {
    for (const maxWindows of [0, -1, 1.5, Number.NaN]) {
      expect(() => new MemoryStore({ maxWindows }), String(maxWindows))
        .to.throw(RouterError, /maxWindows/)
        .with.property('code', 'CONFIG_INVALID');
    }
    expect(() => new MemoryStore({ clock: {} as Clock })).to.throw(RouterError, /clock/);
    for (const reservationTtlMs of [0, -5, 2.5, Number.POSITIVE_INFINITY]) {
      expect(() => new MemoryStore({ reservationTtlMs }), String(reservationTtlMs)).to.throw(RouterError, /reservationTtlMs/);
    }
  });

  it('a window held only by a forgotten reservation is dropped once the reservation expired and its usage slid out', async function () {
    const clock = new FakeClock(start);
    const store = new MemoryStore({ clock, maxWindows: 2, reservationTtlMs: 120_000 });
    // Ring slots and the older-reservations map: more forgotten reservations than the ring holds.
    for (let i = 0; i < 1500; i++) admitted(await store.reserve({ candidates: [candidateOf('w', 'forgotten', windowOf('tokensPerMinute', null))], tokens: 1 }));
    for (let i = 0; i < 4; i++) {
      const r = admitted(await store.reserve({ candidates: [candidateOf('w', `m${i}`, windowOf('tokensPerMinute', 100))], tokens: 5 }));
      await store.release(r);
    }
    expect(store.windowCount).to.equal(3); // the forgotten reservations pin their window
    clock.advance(119_999);
    expect(await store.pendingReservations()).to.equal(1500);
    clock.advance(1);
    expect(await store.pendingReservations()).to.equal(0);
    for (let i = 4; i < 8; i++) {
      const r = admitted(await store.reserve({ candidates: [candidateOf('w', `m${i}`, windowOf('tokensPerMinute', 100))], tokens: 5 }));
      await store.release(r);
    }
    expect(store.windowCount).to.equal(2);
  });

  it('evicts idle windows beyond maxWindows', async function () {
    const clock = new FakeClock(start);
    const store = new MemoryStore({ clock, maxWindows: 10 });
    for (let i = 0; i < 50; i++) {
      const r = admitted(await store.reserve({ candidates: [candidateOf('w', `m${i}`, windowOf('tokensPerMinute', 100))], tokens: 5 }));
      await store.release(r);
    }
    expect(store.windowCount).to.equal(10);
  });

  it('never forgets a window that holds usage, a reservation or a block; drops it once idle', async function () {
    const clock = new FakeClock(start);
    const store = new MemoryStore({ clock, maxWindows: 4 });
    const busy = candidateOf('w', 'busy', windowOf('tokensPerMinute', 100));
    const used = admitted(await store.reserve({ candidates: [busy], tokens: 100 }));
    await store.settle(used, 100);
    const held = admitted(await store.reserve({ candidates: [candidateOf('w', 'held', windowOf('tokensPerMinute', null))], tokens: 1 }));
    await store.observe({ workspace: 'w', model: 'blocked', windows: [], rateLimited: { kind: 'tokens-per-minute', blockedForMs: 120_000 } });
    for (let i = 0; i < 20; i++) {
      const r = admitted(await store.reserve({ candidates: [candidateOf('w', `idle${i}`, windowOf('tokensPerMinute', 100))], tokens: 1 }));
      await store.release(r);
    }
    expect(store.windowCount).to.be.at.most(4 + 3);
    refused(await store.reserve({ candidates: [busy], tokens: 1 }));
    refused(await store.reserve({ candidates: [candidateOf('w', 'blocked', windowOf('tokensPerMinute', 100))], tokens: 1 }));
    const models = (await store.snapshot('w')).map((s) => s.model);
    expect(models).to.include.members(['busy', 'held', 'blocked']);
    // A pending reservation keeps its window however old: still there after two minutes.
    clock.advance(121_000);
    const later = async (prefix: string) => {
      for (let i = 0; i < 20; i++) {
        const r = admitted(await store.reserve({ candidates: [candidateOf('w', `${prefix}${i}`, windowOf('tokensPerMinute', 100))], tokens: 1 }));
        await store.release(r);
      }
    };
    await later('after');
    expect((await store.snapshot('w')).map((s) => s.model)).to.include('held');
    // Once released, everything is idle: the pinned windows drain as new ones come in.
    await store.release(held);
    await later('later');
    expect(store.windowCount).to.equal(4);
  });

  it('keeps windows used by the reservation in progress even when the cache is smaller than the candidate', async function () {
    const store = new MemoryStore({ clock: new FakeClock(start), maxWindows: 1 });
    const c = candidateOf('w', 'm', windowOf('requestsPerSecond', 5), windowOf('tokensPerMinute', 100), windowOf('tokensPerMonth', 1000));
    const r = admitted(await store.reserve({ candidates: [c], tokens: 60 }));
    refused(await store.reserve({ candidates: [c], tokens: 41 }));
    await store.settle(r, 10);
    expect((await store.snapshot()).map((s) => [s.kind, s.used]).sort()).to.deep.equal([
      ['requests-per-second', 1],
      ['tokens-per-minute', 10],
      ['tokens-per-month', 10],
    ]);
  });

  it('remembers a learned limit after the idle window was evicted', async function () {
    const store = new MemoryStore({ clock: new FakeClock(start), maxWindows: 2 });
    await store.observe({ workspace: 'w', model: 'm', windows: [{ ...WINDOW_KINDS.tokensPerMinute, limit: 50 }] });
    for (let i = 0; i < 5; i++) await store.observe({ workspace: 'w', model: `other${i}`, windows: [{ ...WINDOW_KINDS.tokensPerMinute, remaining: 0 }] });
    expect((await store.snapshot('w')).some((s) => s.model === 'm')).to.equal(false);
    refused(await store.reserve({ candidates: [candidateOf('w', 'm', windowOf('tokensPerMinute', 1000))], tokens: 51 }));
  });

  it('does not rewind buckets when the clock goes backwards', async function () {
    let now = start + 30_000;
    const clock: Clock = { now: () => now, setTimer: () => () => {} };
    const store = new MemoryStore({ clock });
    const c = candidateOf('w', 'm', windowOf('tokensPerMinute', 100));
    admitted(await store.reserve({ candidates: [c], tokens: 100 }));
    now -= 20_000;
    const result = refused(await store.reserve({ candidates: [c], tokens: 1 }));
    expect(result.retryAfterMs).to.equal(61_000);
  });

  it('charges a reservation only once when the same window object is reached from two candidates', async function () {
    const store = new MemoryStore({ clock: new FakeClock(start) });
    const rps = windowOf('requestsPerSecond', 3);
    const candidates = [candidateOf('w', 'a', rps, windowOf('tokensPerMinute', 10)), candidateOf('w', 'b', rps)];
    for (let i = 0; i < 3; i++) admitted(await store.reserve({ candidates, tokens: 20 }));
    refused(await store.reserve({ candidates, tokens: 20 }));
    expect((await store.snapshot('w')).find((s) => s.kind === 'requests-per-second')?.used).to.equal(3);
  });

  it('refuses a candidate listing the same window twice (it would be charged twice)', async function () {
    const store = new MemoryStore({ clock: new FakeClock(start) });
    const c = candidateOf('w', 'm', windowOf('tokensPerMinute', 10), windowOf('tokensPerMinute', 10));
    try {
      await store.reserve({ candidates: [c], tokens: 1 });
      expect.fail('expected QUOTA_INVALID');
    } catch (error) {
      expect((error as RouterError).code).to.equal('QUOTA_INVALID');
      expect((error as Error).message).to.include('candidates[0].windows[1].kind');
    }
  });
});
