/**
 * The one suite every QuotaStore runs (memory, Redis): the same cases, the same expected numbers.
 * A store file calls `describeStoreContract('MemoryStore', async (clock) => new MemoryStore({ clock }))`.
 *
 * Every case uses its own workspace name, so a store backed by a shared server (Redis) needs no flush
 * between cases; `teardown` still runs after each one.
 */
import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { RouterError } from '../../lib/errors.js';
import {
  WINDOW_KINDS,
  type QuotaCandidate,
  type QuotaStore,
  type Reservation,
  type ReserveResult,
  type WindowSnapshot,
  type WindowSpec,
} from '../../lib/quota/types.js';

/** A window spec of one of the standard kinds with a limit. */
export function windowOf(kind: keyof typeof WINDOW_KINDS, limit: number | null): WindowSpec {
  return { ...WINDOW_KINDS[kind], limit };
}

/** A candidate for (workspace, model) using these windows. */
export function candidateOf(workspace: string, model: string, ...windows: WindowSpec[]): QuotaCandidate {
  return { workspace, model, windows };
}

/** The reservation of an admitted result; fails the test when it was refused. */
export function admitted(result: ReserveResult): Reservation {
  if (!result.ok) expect.fail(`expected admission, got refusal (retry in ${result.retryAfterMs} ms): ${JSON.stringify(result.refusals)}`);
  return result.reservation;
}

/** The refusal of a refused result; fails the test when it was admitted. */
export function refused(result: ReserveResult): Extract<ReserveResult, { ok: false }> {
  if (result.ok) expect.fail(`expected refusal, got reservation on candidate ${result.reservation.candidateIndex}`);
  return result;
}

/** A window of a snapshot by kind (and model for model-scoped windows). */
function windowIn(snapshot: readonly WindowSnapshot[], kind: string, model?: string): WindowSnapshot {
  const found = snapshot.find((w) => w.kind === kind && (model === undefined || w.model === model));
  if (found === undefined) expect.fail(`no window ${kind}${model === undefined ? '' : ` of ${model}`} in snapshot ${JSON.stringify(snapshot)}`);
  return found;
}

/** 2026-03-10T12:00:00.000Z: the start of a second, a minute and a day, so bucket arithmetic is plain. */
const ALIGNED = Date.UTC(2026, 2, 10, 12, 0, 0);

let workspaceCounter = 0;

/**
 * Run the store contract against one store implementation.
 *
 * @param label Suite name, e.g. `MemoryStore`.
 * @param makeStore Builds a fresh store reading the given fake clock.
 * @param teardown Runs after each case (close connections, delete keys).
 */
export function describeStoreContract(
  label: string,
  makeStore: (clock: FakeClock, options?: { reservationTtlMs?: number }) => Promise<QuotaStore>,
  teardown: (store: QuotaStore) => Promise<void> = (store) => store.close(),
): void {
  describe(`QuotaStore contract: ${label}`, function () {
    let clock: FakeClock;
    let store: QuotaStore;
    let ws: string;

    beforeEach(async function () {
      clock = new FakeClock(ALIGNED);
      store = await makeStore(clock);
      ws = `contract-${process.pid}-${++workspaceCounter}`;
    });

    afterEach(async function () {
      await teardown(store);
    });

    const used = async (kind: string, model?: string) => windowIn(await store.snapshot(ws), kind, model).used;

    describe('admission', function () {
      it('admits up to the limit exactly and refuses one token past it', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', 1000));
        admitted(await store.reserve({ candidates: [c], tokens: 600 }));
        admitted(await store.reserve({ candidates: [c], tokens: 400 }));
        const result = refused(await store.reserve({ candidates: [c], tokens: 1 }));
        const window = result.refusals[0]?.windows[0];
        expect(window).to.include({ kind: 'tokens-per-minute', scope: 'model', limit: 1000, used: 1000, needed: 1, blocked: false });
        expect(await used('tokens-per-minute')).to.equal(1000);
      });

      it('counts requests per second across the models of a workspace, and not across workspaces', async function () {
        const rps = windowOf('requestsPerSecond', 2);
        admitted(await store.reserve({ candidates: [candidateOf(ws, 'a', rps)], tokens: 10 }));
        admitted(await store.reserve({ candidates: [candidateOf(ws, 'b', rps)], tokens: 10 }));
        refused(await store.reserve({ candidates: [candidateOf(ws, 'c', rps)], tokens: 10 }));
        admitted(await store.reserve({ candidates: [candidateOf(`${ws}-other`, 'a', rps)], tokens: 10 }));
      });

      it('gives the exact retryAfterMs of a minute window and admits at that instant, not 1 ms before', async function () {
        clock.advance(250);
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', 1000));
        admitted(await store.reserve({ candidates: [c], tokens: 1000 }));
        clock.advance(30_000);
        // The bucket of the admission (started at ALIGNED) leaves the sum when bucket k+61 starts.
        const result = refused(await store.reserve({ candidates: [c], tokens: 1 }));
        expect(result.retryAfterMs).to.equal(61_000 - 30_250);
        expect(result.refusals[0]?.retryAfterMs).to.equal(30_750);
        expect(result.refusals[0]?.windows[0]?.retryAfterMs).to.equal(30_750);
        clock.advance(30_749);
        expect(refused(await store.reserve({ candidates: [c], tokens: 1 })).retryAfterMs).to.equal(1);
        clock.advance(1);
        admitted(await store.reserve({ candidates: [c], tokens: 1 }));
      });

      it('gives the exact retryAfterMs of a requests-per-second window (50 ms sub-buckets)', async function () {
        clock.advance(10);
        const c = candidateOf(ws, 'small', windowOf('requestsPerSecond', 1));
        admitted(await store.reserve({ candidates: [c], tokens: 0 }));
        const result = refused(await store.reserve({ candidates: [c], tokens: 0 }));
        expect(result.retryAfterMs).to.equal(21 * 50 - 10);
        clock.advance(21 * 50 - 11);
        refused(await store.reserve({ candidates: [c], tokens: 0 }));
        clock.advance(1);
        admitted(await store.reserve({ candidates: [c], tokens: 0 }));
      });

      it('answers Infinity when the cost exceeds the limit itself', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', 100));
        const result = refused(await store.reserve({ candidates: [c], tokens: 101 }));
        expect(result.retryAfterMs).to.equal(Number.POSITIVE_INFINITY);
      });

      it('admits anything through a window whose limit is unknown, and still counts it', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', null));
        admitted(await store.reserve({ candidates: [c], tokens: 1_000_000_000 }));
        admitted(await store.reserve({ candidates: [c], tokens: 1_000_000_000 }));
        const window = windowIn(await store.snapshot(ws), 'tokens-per-minute');
        expect(window).to.include({ limit: null, used: 2_000_000_000, learned: false });
      });
    });

    describe('all or nothing', function () {
      it('charges no window of a candidate that one window refuses', async function () {
        const c = candidateOf(ws, 'small', windowOf('requestsPerSecond', 10), windowOf('tokensPerMinute', 100), windowOf('tokensPerMonth', 10_000));
        const result = refused(await store.reserve({ candidates: [c], tokens: 150 }));
        expect(result.refusals[0]?.windows.map((w) => w.kind)).to.deep.equal(['tokens-per-minute']);
        for (const w of await store.snapshot(ws)) expect(w.used, w.kind).to.equal(0);
        expect(await store.pendingReservations()).to.equal(0);
      });

      it('charges nothing on refused candidates and the shared workspace window once', async function () {
        const rps = windowOf('requestsPerSecond', 5);
        const a = candidateOf(ws, 'a', rps, windowOf('tokensPerMinute', 100));
        const b = candidateOf(ws, 'b', rps, windowOf('tokensPerMinute', 1000));
        const reservation = admitted(await store.reserve({ candidates: [a, b], tokens: 150 }));
        expect(reservation).to.include({ candidateIndex: 1, workspace: ws, model: 'b', tokens: 150, requests: 1 });
        expect(await used('tokens-per-minute', 'a')).to.equal(0);
        expect(await used('tokens-per-minute', 'b')).to.equal(150);
        expect(await used('requests-per-second')).to.equal(1);
      });

      it('takes the first candidate that fits, in order, and reports the ones before it', async function () {
        const a = candidateOf(ws, 'a', windowOf('tokensPerMinute', 100));
        const b = candidateOf(ws, 'b', windowOf('tokensPerMinute', 100));
        const c = candidateOf(ws, 'c', windowOf('tokensPerMinute', 100));
        const first = await store.reserve({ candidates: [a, b, c], tokens: 60 });
        expect(admitted(first).candidateIndex).to.equal(0);
        expect(first.refusals).to.deep.equal([]);
        const second = await store.reserve({ candidates: [a, b, c], tokens: 60 });
        expect(admitted(second)).to.include({ candidateIndex: 1, model: 'b' });
        expect(second.refusals.map((r) => [r.candidateIndex, r.model])).to.deep.equal([[0, 'a']]);
      });

      it('refuses with the earliest candidate retry when none fits', async function () {
        const a = candidateOf(ws, 'a', windowOf('tokensPerMinute', 100));
        const b = candidateOf(ws, 'b', windowOf('tokensPerMinute', 100));
        admitted(await store.reserve({ candidates: [a], tokens: 100 }));
        clock.advance(10_000);
        admitted(await store.reserve({ candidates: [b], tokens: 100 }));
        const result = refused(await store.reserve({ candidates: [b, a], tokens: 1 }));
        expect(result.refusals.map((r) => r.retryAfterMs)).to.deep.equal([61_000, 51_000]);
        expect(result.retryAfterMs).to.equal(51_000);
      });
    });

    describe('settle and release', function () {
      it('settle refunds an over-estimate and charges an under-estimate, keeping the request counted', async function () {
        const c = candidateOf(ws, 'small', windowOf('requestsPerMinute', 100), windowOf('tokensPerMinute', 1000));
        const r1 = admitted(await store.reserve({ candidates: [c], tokens: 500 }));
        await store.settle(r1, 200);
        expect(await used('tokens-per-minute')).to.equal(200);
        const r2 = admitted(await store.reserve({ candidates: [c], tokens: 300 }));
        await store.settle(r2, 450);
        expect(await used('tokens-per-minute')).to.equal(650);
        expect(await used('requests-per-minute')).to.equal(2);
        const snapshot = await store.snapshot(ws);
        for (const w of snapshot) expect(w.held, w.kind).to.equal(0);
        // The refund is real room: 350 more fit, 351 do not.
        refused(await store.reserve({ candidates: [c], tokens: 351 }));
        admitted(await store.reserve({ candidates: [c], tokens: 350 }));
      });

      it('settle is idempotent, and release after settle changes nothing', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', 1000));
        const r = admitted(await store.reserve({ candidates: [c], tokens: 500 }));
        await store.settle(r, 100);
        await store.settle(r, 100);
        await store.settle(r, 900);
        await store.release(r);
        expect(await used('tokens-per-minute')).to.equal(100);
      });

      it('release is idempotent and settle after release changes nothing', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', 1000));
        admitted(await store.reserve({ candidates: [c], tokens: 300 }));
        const r = admitted(await store.reserve({ candidates: [c], tokens: 500 }));
        await store.release(r);
        await store.release(r);
        await store.settle(r, 700);
        expect(await used('tokens-per-minute')).to.equal(300);
      });

      it('release returns every window to empty', async function () {
        const c = candidateOf(ws, 'small', windowOf('requestsPerSecond', 5), windowOf('tokensPerMinute', 1000), windowOf('tokensPerMonth', 100_000));
        const r = admitted(await store.reserve({ candidates: [c], tokens: 700, requests: 2 }));
        const before = await store.snapshot(ws);
        expect(windowIn(before, 'requests-per-second')).to.include({ used: 2, held: 2 });
        expect(windowIn(before, 'tokens-per-month')).to.include({ used: 700, held: 700 });
        clock.advance(20);
        await store.release(r);
        for (const w of await store.snapshot(ws)) expect([w.kind, w.used, w.held]).to.deep.equal([w.kind, 0, 0]);
      });

      it('counts pending reservations until each is settled or released', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', null));
        const r1 = admitted(await store.reserve({ candidates: [c], tokens: 1 }));
        const r2 = admitted(await store.reserve({ candidates: [c], tokens: 1 }));
        expect(r1.id).to.not.equal(r2.id);
        expect(await store.pendingReservations()).to.equal(2);
        await store.settle(r1, 1);
        expect(await store.pendingReservations()).to.equal(1);
        await store.release(r2);
        await store.release(r2);
        expect(await store.pendingReservations()).to.equal(0);
      });

      it('forgets a reservation nobody settles after reservationTtlMs: its charge stays, its hold goes, a late settle changes nothing', async function () {
        const short = await makeStore(clock, { reservationTtlMs: 5_000 });
        try {
          const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', 1000));
          const forgotten = admitted(await short.reserve({ candidates: [c], tokens: 300 }));
          clock.advance(4_999);
          const kept = admitted(await short.reserve({ candidates: [c], tokens: 100 }));
          expect(await short.pendingReservations()).to.equal(2);
          clock.advance(1);
          expect(await short.pendingReservations()).to.equal(1);
          expect(windowIn(await short.snapshot(ws), 'tokens-per-minute')).to.include({ used: 400, held: 100 });
          await short.settle(forgotten, 0);
          await short.release(forgotten);
          expect(windowIn(await short.snapshot(ws), 'tokens-per-minute')).to.include({ used: 400, held: 100 });
          await short.settle(kept, 50);
          expect(windowIn(await short.snapshot(ws), 'tokens-per-minute')).to.include({ used: 350, held: 0 });
          expect(await short.pendingReservations()).to.equal(0);
        } finally {
          await teardown(short);
        }
      });

      it('a refund after the bucket left the window does not free capacity twice', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', 1000));
        const r = admitted(await store.reserve({ candidates: [c], tokens: 1000 }));
        clock.advance(61_000);
        admitted(await store.reserve({ candidates: [c], tokens: 1000 }));
        await store.settle(r, 0);
        refused(await store.reserve({ candidates: [c], tokens: 1 }));
        expect(await used('tokens-per-minute')).to.equal(1000);
      });
    });

    describe('observe', function () {
      it('blocks a window after a 429 until the block ends', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', 1000));
        admitted(await store.reserve({ candidates: [c], tokens: 10 }));
        await store.observe({ workspace: ws, model: 'small', windows: [], rateLimited: { kind: 'tokens-per-minute', blockedForMs: 5000 } });
        const result = refused(await store.reserve({ candidates: [c], tokens: 1 }));
        expect(result.retryAfterMs).to.equal(5000);
        expect(result.refusals[0]?.windows[0]).to.include({ kind: 'tokens-per-minute', blocked: true, retryAfterMs: 5000 });
        expect(windowIn(await store.snapshot(ws), 'tokens-per-minute').blockedUntil).to.equal(ALIGNED + 5000);
        clock.advance(4999);
        refused(await store.reserve({ candidates: [c], tokens: 1 }));
        clock.advance(1);
        admitted(await store.reserve({ candidates: [c], tokens: 1 }));
        expect(windowIn(await store.snapshot(ws), 'tokens-per-minute').blockedUntil).to.equal(undefined);
      });

      it('a 429 naming no window blocks the pair, not the other models of the workspace', async function () {
        const rps = windowOf('requestsPerSecond', 10);
        const a = candidateOf(ws, 'a', rps, windowOf('tokensPerMinute', 1000));
        const b = candidateOf(ws, 'b', rps, windowOf('tokensPerMinute', 1000));
        admitted(await store.reserve({ candidates: [a], tokens: 1 }));
        await store.observe({ workspace: ws, model: 'a', windows: [], rateLimited: { blockedForMs: 2000 } });
        expect(refused(await store.reserve({ candidates: [a], tokens: 1 })).retryAfterMs).to.equal(2000);
        admitted(await store.reserve({ candidates: [b], tokens: 1 }));
      });

      it('a learned limit replaces the configured one', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', 1000));
        await store.observe({ workspace: ws, model: 'small', windows: [{ ...WINDOW_KINDS.tokensPerMinute, limit: 500 }] });
        const result = refused(await store.reserve({ candidates: [c], tokens: 501 }));
        expect(result.refusals[0]?.windows[0]?.limit).to.equal(500);
        admitted(await store.reserve({ candidates: [c], tokens: 500 }));
        expect(windowIn(await store.snapshot(ws), 'tokens-per-minute')).to.include({ limit: 500, learned: true });
      });

      it('a learned limit meters a window that was unknown', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', null));
        admitted(await store.reserve({ candidates: [c], tokens: 5000 }));
        await store.observe({ workspace: ws, model: 'small', windows: [{ ...WINDOW_KINDS.tokensPerMinute, limit: 6000 }] });
        refused(await store.reserve({ candidates: [c], tokens: 1001 }));
        admitted(await store.reserve({ candidates: [c], tokens: 1000 }));
      });

      it('a lower upstream remaining raises our usage to match; a higher one changes nothing', async function () {
        const c = candidateOf(ws, 'small', windowOf('tokensPerMinute', 1000));
        admitted(await store.reserve({ candidates: [c], tokens: 100 }));
        await store.observe({ workspace: ws, model: 'small', windows: [{ ...WINDOW_KINDS.tokensPerMinute, remaining: 300 }] });
        expect(await used('tokens-per-minute')).to.equal(700);
        await store.observe({ workspace: ws, model: 'small', windows: [{ ...WINDOW_KINDS.tokensPerMinute, remaining: 900 }] });
        expect(await used('tokens-per-minute')).to.equal(700);
        refused(await store.reserve({ candidates: [c], tokens: 301 }));
        admitted(await store.reserve({ candidates: [c], tokens: 300 }));
      });

      it('a learned window of a kind no tier configures (requests per minute) fits without new code', async function () {
        await store.observe({ workspace: ws, model: 'small', windows: [{ ...WINDOW_KINDS.requestsPerMinute, limit: 2, remaining: 1 }] });
        const c = candidateOf(ws, 'small', windowOf('requestsPerMinute', null));
        admitted(await store.reserve({ candidates: [c], tokens: 0 }));
        refused(await store.reserve({ candidates: [c], tokens: 0 }));
        expect(windowIn(await store.snapshot(ws), 'requests-per-minute')).to.include({ model: undefined, limit: 2, used: 2, learned: true });
      });
    });

    describe('calendar month', function () {
      it('resets at 00:00 UTC on the 1st: the last second of January waits exactly 1 s', async function () {
        clock.set(Date.UTC(2027, 0, 31, 23, 59, 59));
        const c = candidateOf(ws, 'small', windowOf('tokensPerMonth', 1000));
        admitted(await store.reserve({ candidates: [c], tokens: 1000 }));
        expect(refused(await store.reserve({ candidates: [c], tokens: 1 })).retryAfterMs).to.equal(1000);
        clock.advance(999);
        refused(await store.reserve({ candidates: [c], tokens: 1 }));
        clock.advance(1);
        admitted(await store.reserve({ candidates: [c], tokens: 1000 }));
      });

      it('waits 29 days through February of a leap year and across the turn of a year', async function () {
        clock.set(Date.UTC(2028, 1, 1));
        const c = candidateOf(ws, 'small', windowOf('tokensPerMonth', 10));
        admitted(await store.reserve({ candidates: [c], tokens: 10 }));
        expect(refused(await store.reserve({ candidates: [c], tokens: 1 })).retryAfterMs).to.equal(29 * 86_400_000);
        clock.set(Date.UTC(2028, 11, 31, 12));
        admitted(await store.reserve({ candidates: [c], tokens: 10 }));
        expect(refused(await store.reserve({ candidates: [c], tokens: 1 })).retryAfterMs).to.equal(12 * 3_600_000);
        clock.set(Date.UTC(2029, 0, 1));
        admitted(await store.reserve({ candidates: [c], tokens: 10 }));
      });
    });

    describe('snapshot', function () {
      it('lists every window of a workspace with limit, usage, holds, block and origin', async function () {
        const c = candidateOf(ws, 'small', windowOf('requestsPerSecond', 1), windowOf('tokensPerMinute', 1000), windowOf('tokensPerMonth', null));
        const r = admitted(await store.reserve({ candidates: [c], tokens: 400 }));
        await store.settle(r, 300);
        admitted(await store.reserve({ candidates: [candidateOf(ws, 'large', windowOf('tokensPerMinute', 50))], tokens: 20 }));
        await store.observe({ workspace: ws, model: 'large', windows: [], rateLimited: { kind: 'tokens-per-minute', blockedForMs: 100 } });
        admitted(await store.reserve({ candidates: [candidateOf(`${ws}-other`, 'small', windowOf('tokensPerMinute', 1))], tokens: 1 }));
        const snapshot = (await store.snapshot(ws)).sort((x, y) => `${x.model}${x.kind}`.localeCompare(`${y.model}${y.kind}`));
        expect(snapshot).to.deep.equal([
          { workspace: ws, model: 'large', kind: 'tokens-per-minute', unit: 'tokens', period: 'minute', limit: 50, used: 20, held: 20, blockedUntil: ALIGNED + 100, learned: false },
          { workspace: ws, model: 'small', kind: 'tokens-per-minute', unit: 'tokens', period: 'minute', limit: 1000, used: 300, held: 0, blockedUntil: undefined, learned: false },
          { workspace: ws, model: 'small', kind: 'tokens-per-month', unit: 'tokens', period: 'month', limit: null, used: 300, held: 0, blockedUntil: undefined, learned: false },
          { workspace: ws, model: undefined, kind: 'requests-per-second', unit: 'requests', period: 'second', limit: 1, used: 1, held: 0, blockedUntil: undefined, learned: false },
        ]);
        const all = await store.snapshot();
        expect(all.some((w) => w.workspace === `${ws}-other`)).to.equal(true);
      });
    });

    describe('bad input', function () {
      const expectInvalid = async (promise: Promise<unknown>, field: string) => {
        try {
          await promise;
        } catch (error) {
          expect(RouterError.isInstance(error), String(error)).to.equal(true);
          expect((error as RouterError).code).to.equal('QUOTA_INVALID');
          expect((error as RouterError).message).to.include(field);
          return;
        }
        expect.fail(`expected QUOTA_INVALID naming ${field}`);
      };
      const ok = () => candidateOf(ws, 'small', windowOf('tokensPerMinute', 1000));

      for (const [label, tokens] of [['negative', -1], ['NaN', Number.NaN], ['fractional', 1.5], ['infinite', Number.POSITIVE_INFINITY]] as const) {
        it(`refuses ${label} tokens, naming the field`, async function () {
          await expectInvalid(store.reserve({ candidates: [ok()], tokens }), 'tokens');
        });
      }

      it('refuses an empty candidate list', async function () {
        await expectInvalid(store.reserve({ candidates: [], tokens: 1 }), 'candidates');
      });

      it('refuses an unknown period, naming the window', async function () {
        const bad = { ...windowOf('tokensPerMinute', 10), period: 'fortnight' } as unknown as WindowSpec;
        await expectInvalid(store.reserve({ candidates: [candidateOf(ws, 'small', bad)], tokens: 1 }), 'candidates[0].windows[0].period');
      });

      it('refuses a negative limit and a bad requests count', async function () {
        await expectInvalid(store.reserve({ candidates: [candidateOf(ws, 'small', windowOf('tokensPerMinute', -5))], tokens: 1 }), 'candidates[0].windows[0].limit');
        await expectInvalid(store.reserve({ candidates: [ok()], tokens: 1, requests: -1 }), 'requests');
      });

      it('refuses bad actual tokens on settle and leaves the reservation pending', async function () {
        const r = admitted(await store.reserve({ candidates: [ok()], tokens: 10 }));
        await expectInvalid(store.settle(r, -3), 'actualTokens');
        expect(await store.pendingReservations()).to.equal(1);
      });

      it('refuses a bad observation before applying any of it', async function () {
        await expectInvalid(
          store.observe({ workspace: ws, model: 'small', windows: [{ ...WINDOW_KINDS.tokensPerMinute, limit: 10 }, { ...WINDOW_KINDS.tokensPerMonth, remaining: Number.NaN }] }),
          'observation.windows[1].remaining',
        );
        expect((await store.snapshot(ws)).filter((w) => w.learned)).to.deep.equal([]);
      });
    });
  });
}
