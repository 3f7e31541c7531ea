/**
 * Grants (the `localGrants` option of RedisStore): a process deciding fast on one candidate takes decisions
 * locally from capacity Redis charged for it in one atomic step. What must hold: no window admits more
 * than its limit (one process or several), nothing a grant held and did not use stays held once it ends,
 * the decisions taken from it settle and release exactly, and a 429, close(), snapshot() and
 * pendingReservations() end it. Time is a FakeClock (the scripts take it as their time), never a sleep.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { FakeClock } from '../../lib/clock.js';
import { RedisStore } from '../../lib/quota/redis/index.js';
import { CANCEL_SCRIPT, RESERVE_SCRIPT } from '../../lib/quota/redis/scripts/index.js';
import type { QuotaCandidate, Reservation, WindowSnapshot } from '../../lib/quota/types.js';
import { admitted, candidateOf, refused, windowOf } from '../quota/store-contract.js';
import { countingConnection, flushPrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';

/** The start of a second: every 50 ms bucket of a requests-per-second window starts on it. */
const START = Date.UTC(2026, 10, 29, 12);

const usedIn = (snapshot: readonly WindowSnapshot[], kind: string): WindowSnapshot => {
  const window = snapshot.find((w) => w.kind === kind);
  if (window === undefined) expect.fail(`no ${kind} window in the snapshot`);
  return window;
};
const fromGrant = (reservation: Reservation) => reservation.id.includes('/');

describe('RedisStore grants', function () {
  let prefix: string;
  let clock: FakeClock;
  const stores: RedisStore[] = [];
  const connections: Redis[] = [];
  const open = (options: ConstructorParameters<typeof RedisStore>[0] = {}) => {
    const store = new RedisStore({ redis: redisUrl, keyPrefix: prefix, clock, ...options });
    stores.push(store);
    return store;
  };
  /** Reserves on `candidate`, one at a time, until refused: the reservations admitted. */
  const reserveUntilRefused = async (store: RedisStore, candidate: QuotaCandidate, tokens: number) => {
    const taken: Reservation[] = [];
    for (let i = 0; i < 10_000; i++) {
      const result = await store.reserve({ candidates: [candidate], tokens });
      if (!result.ok) return taken;
      taken.push(result.reservation);
    }
    return expect.fail('never refused');
  };

  before(async function () {
    await requireRedis(this);
  });
  beforeEach(function () {
    prefix = uniquePrefix('grants');
    clock = new FakeClock(START);
  });
  afterEach(async function () {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    for (const connection of connections.splice(0)) connection.disconnect();
    await flushPrefix(prefix);
  });

  it('a process deciding fast takes most decisions from grants, in fewer scripts, and still admits exactly the limit', async function () {
    const counting = countingConnection();
    connections.push(counting.redis);
    const store = open({ redis: counting.redis });
    const c = candidateOf('acme', 'small', windowOf('requestsPerSecond', 100), windowOf('tokensPerMinute', 1_000_000));
    const taken = await reserveUntilRefused(store, c, 10);
    expect(taken).to.have.length(100);
    const local = taken.filter(fromGrant).length;
    expect(local, 'decisions taken from grants').to.be.greaterThan(50);
    // Each decision that went to Redis is one script (the splits of grants travel with the next ones).
    expect(counting.scripts()).to.be.at.most(taken.length - local + 1 + 20);
    // Every decision is pending (the open ones of each grant became members when it was split).
    expect(await store.pendingReservations()).to.equal(100);
    for (const reservation of taken) await store.settle(reservation, 4);
    const snapshot = await store.snapshot('acme');
    expect(usedIn(snapshot, 'requests-per-second')).to.include({ used: 100, held: 0 });
    expect(usedIn(snapshot, 'tokens-per-minute')).to.include({ used: 400, held: 0 });
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('with localGrants: false every decision is one script', async function () {
    const counting = countingConnection();
    connections.push(counting.redis);
    const store = open({ redis: counting.redis, localGrants: false });
    const c = candidateOf('acme', 'small', windowOf('requestsPerSecond', 100));
    const taken = await reserveUntilRefused(store, c, 10);
    expect(taken).to.have.length(100);
    expect(taken.filter(fromGrant)).to.deep.equal([]);
    expect(counting.scripts()).to.equal(101);
    expect(() => open({ localGrants: 'yes' as unknown as boolean })).to.throw(TypeError, /localGrants/);
  });

  it('another process sees what a grant holds; what the grant did not use comes back when it ends', async function () {
    const a = open();
    const b = open();
    const reader = open({ localGrants: false });
    const c = candidateOf('acme', 'small', windowOf('requestsPerSecond', 100));
    // Enough decisions for a grant of several.
    const ofA: Reservation[] = [];
    for (let i = 0; i < 12; i++) ofA.push(admitted(await a.reserve({ candidates: [c], tokens: 1 })));
    expect(ofA.some(fromGrant)).to.equal(true);
    // Read without ending A's grant: its unused part is held, for everyone.
    const held = await reader.snapshot('acme');
    const charged = usedIn(held, 'requests-per-second').used;
    expect(charged).to.be.greaterThan(12);
    // A grant never takes more than a quarter of what a window has left.
    expect(charged - 12).to.be.at.most(Math.ceil((100 - 12) / 4) + 12);
    // B takes all that is left while A's grant lives; together they never pass the limit.
    const ofB = await reserveUntilRefused(b, c, 1);
    expect(ofA.length + ofB.length + (charged - ofA.length)).to.equal(100);
    // A's grant ends with its bucket (50 ms), still inside the window: its unused part is free again, for B.
    clock.advance(60);
    await a.snapshot('acme'); // ends A's grants (so would its next decision, or its timer)
    const more = await reserveUntilRefused(b, c, 1);
    expect(ofA.length + ofB.length + more.length).to.equal(100);
  });

  it('decisions taken from a grant settle and release exactly, before and after the grant ends', async function () {
    const store = open();
    const c = candidateOf('acme', 'small', windowOf('tokensPerMinute', 1_000_000));
    const taken: Reservation[] = [];
    for (let i = 0; i < 20; i++) taken.push(admitted(await store.reserve({ candidates: [c], tokens: 100 })));
    const local = taken.filter(fromGrant);
    expect(local.length).to.be.greaterThan(5);
    // While the grant is open: one settled (twice: the second does nothing), one released.
    await store.settle(local[0] as Reservation, 30);
    await store.settle(local[0] as Reservation, 30);
    await store.release(local[1] as Reservation);
    // The grant ends; the rest are still open and become pending reservations of their own.
    clock.advance(1_500);
    const reader = open({ localGrants: false });
    admitted(await store.reserve({ candidates: [c], tokens: 100 })).id; // a decision in a new bucket ends the grant
    const last = taken.length;
    // Every decision still open, and the new one (which may have been given a grant: one member more).
    expect(await reader.pendingReservations()).to.be.within(last - 1, last);
    // Settled after the split: through Redis, once.
    let expected = 30;
    for (const reservation of taken.filter((r) => r !== local[0] && r !== local[1])) {
      expected += 70;
      await store.settle(reservation, 70);
      await store.settle(reservation, 70);
    }
    await store.snapshot('acme');
    const snapshot = await reader.snapshot('acme');
    // The decision of the new bucket is still pending at its estimate (100).
    expect(usedIn(snapshot, 'tokens-per-minute')).to.include({ used: expected + 100, held: 100 });
  });

  it('a 429 ends the grants of its workspace: the next decision sees the block', async function () {
    const store = open();
    const c = candidateOf('acme', 'small', windowOf('requestsPerSecond', 1_000), windowOf('tokensPerMinute', 1_000_000));
    // Until a decision comes from a grant (the third does: the second asks for a grant of two).
    for (let i = 0; i < 5 && !fromGrant(admitted(await store.reserve({ candidates: [c], tokens: 1 }))); i++);
    await store.observe({ workspace: 'acme', model: 'small', windows: [], rateLimited: { kind: 'tokens-per-minute', blockedForMs: 5_000 } });
    // The grant still had room: without the 429 ending it, this decision would have been taken from it.
    const after = refused(await store.reserve({ candidates: [c], tokens: 1 }));
    expect(after.refusals[0]?.windows[0]).to.include({ blocked: true });
  });

  it('close() ends the grants: their open decisions stay pending in Redis, nothing else is held', async function () {
    const store = open();
    const c = candidateOf('acme', 'small', windowOf('tokensPerMinute', 1_000_000));
    const taken: Reservation[] = [];
    for (let i = 0; i < 10; i++) taken.push(admitted(await store.reserve({ candidates: [c], tokens: 100 })));
    expect(taken.some(fromGrant)).to.equal(true);
    await store.close();
    const reader = open({ localGrants: false });
    expect(await reader.pendingReservations()).to.equal(10);
    expect(usedIn(await reader.snapshot('acme'), 'tokens-per-minute')).to.include({ used: 1_000, held: 1_000 });
  });

  it('a cancelled decision (its reserve never answered) takes its grant with it', async function () {
    const client = new Redis(redisUrl);
    connections.push(client);
    const tag = `{${prefix}acme}`;
    const keys = [`${tag}:pending`, `${tag}:windows`, `${tag}:m:small:tokens-per-minute`];
    const definition = `1|1| :m:small:tokens-per-minute|1|mt|1000000`;
    // One decision of 100 tokens asking for a grant of 8 more, as RedisStore sends it.
    const reply = (await client.eval(RESERVE_SCRIPT, keys.length, ...keys, START, 600_000, 1, 1, 1, definition, 'x.1', 100, 1, 8, 0)) as unknown[];
    expect(reply[1]).to.deep.equal([2, 8, START + 250]); // its bucket ends in 1 s; a grant lives 250 ms at most
    expect(await client.zcard(keys[0] as string)).to.equal(2);
    const cancelled = await client.eval(CANCEL_SCRIPT, 2, keys[0] as string, keys[2] as string, START + 5, 600_000, 100, 1, 8, 1, 'x.1 100 1 :m:small:tokens-per-minute', 1, 'mt');
    expect(cancelled).to.equal(1);
    expect(await client.zcard(keys[0] as string)).to.equal(0);
    expect(await client.hget(keys[2] as string, 't')).to.equal('0');
  });

  it("another process's grant holds what it charged until it ends, then that room is free", async function () {
    const a = open();
    const b = open({ localGrants: false });
    const c = candidateOf('acme', 'small', windowOf('tokensPerMonth', 1_000_000));
    for (let i = 0; i < 40; i++) admitted(await a.reserve({ candidates: [c], tokens: 1_000 }));
    // What is really used (40,000) leaves room for 959,000, but A's grant holds part of it: like a pending
    // reservation's estimate, until it ends.
    refused(await b.reserve({ candidates: [c], tokens: 959_000 }));
    clock.advance(250);
    await a.snapshot('acme'); // A's grant ends (its next decision or its timer would end it too)
    admitted(await b.reserve({ candidates: [c], tokens: 959_000 }));
  });

  it("a process's own grant, too small for a decision, ends before that decision is made", async function () {
    const store = open();
    const c = candidateOf('acme', 'small', windowOf('tokensPerMinute', 1_000_000));
    for (let i = 0; i < 40; i++) await store.settle(admitted(await store.reserve({ candidates: [c], tokens: 1_000 })), 1_000);
    // 40,000 used: 959,000 fit, once what the grant holds is back.
    admitted(await store.reserve({ candidates: [c], tokens: 959_000 }));
  });

  it('a 429 observed while a grant is on its way ends that grant as soon as it arrives', async function () {
    const store = open();
    const c = candidateOf('acme', 'small', windowOf('requestsPerSecond', 1_000), windowOf('tokensPerMinute', 1_000_000));
    admitted(await store.reserve({ candidates: [c], tokens: 10 }));
    // The second decision asks for a grant; the batch leaves when the eighth is queued, before the 429.
    const decisions = Array.from({ length: 8 }, () => store.reserve({ candidates: [c], tokens: 10 }));
    const observed = store.observe({ workspace: 'acme', model: 'small', windows: [], rateLimited: { kind: 'requests-per-second', blockedForMs: 1_000 } });
    await Promise.all([...decisions, observed]);
    clock.advance(1);
    const after = refused(await store.reserve({ candidates: [c], tokens: 10 }));
    expect(after.refusals[0]?.windows.some((w) => w.blocked)).to.equal(true);
  });

  it('a decision taken from a grant can be settled through another instance, before and after the grant is split', async function () {
    const a = open();
    const b = open({ localGrants: false });
    const c = candidateOf('acme', 'small', windowOf('tokensPerMonth', 1_000_000));
    const taken: Reservation[] = [];
    for (let i = 0; i < 6; i++) taken.push(admitted(await a.reserve({ candidates: [c], tokens: 10 })));
    // The last one comes from the grant still open (the earlier grant was split when it ran out).
    const last = taken[taken.length - 1] as Reservation;
    expect(fromGrant(last)).to.equal(true);
    // Settled by B while A's grant is open (not split): applied at once, and not made pending by the split.
    await b.settle(last, 5);
    await b.settle(last, 5); // twice: nothing more
    await a.snapshot('acme'); // A splits its grant
    for (const reservation of taken.slice(0, -1)) await b.settle(reservation, 5);
    expect(await b.pendingReservations()).to.equal(0);
    expect(usedIn(await b.snapshot('acme'), 'tokens-per-month')).to.include({ used: 5 * taken.length, held: 0 });
  });

  it('a decision taken from a grant settled or released by two instances counts once, in either order', async function () {
    const a = open();
    const b = open({ localGrants: false });
    const c = candidateOf('acme', 'small', windowOf('requestsPerSecond', 20), windowOf('tokensPerMonth', 1_000_000));
    const kept: Reservation[] = [];
    for (let i = 0; i < 3; i++) kept.push(admitted(await a.reserve({ candidates: [c], tokens: 10 })));
    const fromIt = kept.filter(fromGrant);
    expect(fromIt.length).to.be.greaterThan(0);
    // While the grant is open: one settled by B then A, one released by A then B.
    const extra = admitted(await a.reserve({ candidates: [c], tokens: 10 }));
    expect(fromGrant(extra)).to.equal(true);
    await b.settle(fromIt[0] as Reservation, 4);
    await a.settle(fromIt[0] as Reservation, 4);
    await a.release(extra);
    await b.release(extra);
    await a.snapshot('acme'); // the split
    for (const r of kept) if (r !== fromIt[0]) await b.settle(r, 4);
    const snapshot = await b.snapshot('acme');
    expect(usedIn(snapshot, 'tokens-per-month')).to.include({ used: 4 * kept.length, held: 0 });
    expect(usedIn(snapshot, 'requests-per-second')).to.include({ used: kept.length, held: 0 });
    expect(await b.pendingReservations()).to.equal(0);
    const client = new Redis(redisUrl);
    connections.push(client);
    expect(await client.exists(`{${prefix}acme}:early`)).to.equal(0); // nothing left behind
  });
});
