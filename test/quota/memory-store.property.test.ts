/**
 * Invariants of the memory store under any sequence of reserve / settle (<= estimate) / release at
 * non-decreasing times: no window ever admits more than its limit inside any period of its length, and
 * releasing everything leaves every window empty.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { FakeClock } from '../../lib/clock.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import type { QuotaCandidate, Reservation } from '../../lib/quota/types.js';
import { monthIndex } from '../../lib/quota/window.js';
import { candidateOf, windowOf } from './store-contract.js';

type Operation =
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'reserve'; readonly tokens: number; readonly order: number }
  | { readonly op: 'settle'; readonly pick: number; readonly percent: number }
  | { readonly op: 'release'; readonly pick: number };

const operation = (withSettle: boolean): fc.Arbitrary<Operation> =>
  fc.oneof(
    fc.record({ op: fc.constant('advance' as const), ms: fc.oneof(
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 0, max: 70_000 }),
        // Steps that land just inside or outside sub-bucket and period edges, where off-by-one bugs live.
        fc.constantFrom(1, 49, 50, 51, 949, 950, 999, 1000, 59_001, 59_999, 60_000, 61_000),
      ) }),
    { arbitrary: fc.record({ op: fc.constant('reserve' as const), tokens: fc.integer({ min: 0, max: 400 }), order: fc.integer({ min: 0, max: 2 }) }), weight: 3 },
    ...(withSettle ? [fc.record({ op: fc.constant('settle' as const), pick: fc.nat(), percent: fc.integer({ min: 0, max: 100 }) })] : []),
    fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
  );

const limits = fc.record({
  requestsPerSecond: fc.integer({ min: 1, max: 4 }),
  tokensPerMinute: fc.integer({ min: 0, max: 800 }),
  tokensPerMonth: fc.integer({ min: 200, max: 4000 }),
});

/** A live admission: what it finally counts for in each window, at the instant it was taken. */
interface Admission {
  readonly at: number;
  readonly model: string;
  tokens: number;
  live: boolean;
}

/** The largest sum of amounts at instants inside any closed interval of length `periodMs`. */
function maxInAnyPeriod(events: readonly { at: number; amount: number }[], periodMs: number): number {
  const sorted = [...events].sort((a, b) => a.at - b.at);
  let best = 0;
  let end = 0;
  let sum = 0;
  // Two pointers: the worst interval starts at some admission, so slide its start over them.
  for (let start = 0; start < sorted.length; start++) {
    while (end < sorted.length && (sorted[end] as { at: number }).at <= (sorted[start] as { at: number }).at + periodMs) sum += (sorted[end++] as { amount: number }).amount;
    best = Math.max(best, sum);
    sum -= (sorted[start] as { amount: number }).amount;
  }
  return best;
}

async function run(ops: readonly Operation[], limit: { requestsPerSecond: number; tokensPerMinute: number; tokensPerMonth: number }) {
  // Ten minutes before a month ends, so long runs cross the calendar boundary.
  const clock = new FakeClock(Date.UTC(2026, 0, 31, 23, 50));
  const store = new MemoryStore({ clock });
  const rps = windowOf('requestsPerSecond', limit.requestsPerSecond);
  const windowsOf = () => [rps, windowOf('tokensPerMinute', limit.tokensPerMinute), windowOf('tokensPerMonth', limit.tokensPerMonth)];
  const a = candidateOf('w', 'a', ...windowsOf());
  const b = candidateOf('w', 'b', ...windowsOf());
  const orders: QuotaCandidate[][] = [[a], [b], [b, a]];
  const admissions: Admission[] = [];
  const pending: { reservation: Reservation; admission: Admission }[] = [];
  for (const step of ops) {
    if (step.op === 'advance') clock.advance(step.ms);
    else if (step.op === 'reserve') {
      const result = await store.reserve({ candidates: orders[step.order] as QuotaCandidate[], tokens: step.tokens });
      if (result.ok) {
        const admission = { at: result.reservation.at, model: result.reservation.model, tokens: step.tokens, live: true };
        admissions.push(admission);
        pending.push({ reservation: result.reservation, admission });
      }
    } else if (pending.length > 0) {
      const [entry] = pending.splice(step.pick % pending.length, 1) as [(typeof pending)[number]];
      if (step.op === 'settle') {
        entry.admission.tokens = Math.floor((entry.admission.tokens * step.percent) / 100);
        await store.settle(entry.reservation, entry.admission.tokens);
      } else {
        entry.admission.live = false;
        await store.release(entry.reservation);
      }
    }
  }
  return { store, admissions: admissions.filter((x) => x.live), pending };
}

describe('MemoryStore properties', function () {
  this.timeout(60_000);

  it('never admits more than a limit inside any period of the window length', async function () {
    let reachedLimit = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(operation(true), { maxLength: 120 }), limits, async (ops, limit) => {
        const { admissions } = await run(ops, limit);
        const requests = admissions.map((x) => ({ at: x.at, amount: 1 }));
        const peak = maxInAnyPeriod(requests, 1000);
        expect(peak).to.be.at.most(limit.requestsPerSecond);
        if (peak === limit.requestsPerSecond) reachedLimit++;
        for (const model of ['a', 'b']) {
          const tokens = admissions.filter((x) => x.model === model).map((x) => ({ at: x.at, amount: x.tokens }));
          expect(maxInAnyPeriod(tokens, 60_000)).to.be.at.most(limit.tokensPerMinute);
          const perMonth = new Map<number, number>();
          for (const t of tokens) perMonth.set(monthIndex(t.at), (perMonth.get(monthIndex(t.at)) ?? 0) + t.amount);
          for (const total of perMonth.values()) expect(total).to.be.at.most(limit.tokensPerMonth);
        }
      }),
      { numRuns: 300 },
    );
    // Not vacuous: many generated runs push a window right up to its limit.
    expect(reachedLimit).to.be.greaterThan(30);
  });

  it('releasing everything returns every window to empty', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(operation(false), { maxLength: 80 }), limits, async (ops, limit) => {
        const { store, pending } = await run(ops, limit);
        for (const { reservation } of pending) await store.release(reservation);
        expect(await store.pendingReservations()).to.equal(0);
        for (const window of await store.snapshot()) expect([window.kind, window.model, window.used, window.held]).to.deep.equal([window.kind, window.model, 0, 0]);
      }),
      { numRuns: 300 },
    );
  });

  it('after settling, nothing stays held', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(operation(true), { maxLength: 80 }), limits, async (ops, limit) => {
        const { store, pending } = await run(ops, limit);
        for (const { reservation } of pending) await store.settle(reservation, 0);
        for (const window of await store.snapshot()) expect(window.held).to.equal(0);
      }),
      { numRuns: 100 },
    );
  });

  it('the interval helper counts closed intervals of the period length', function () {
    expect(maxInAnyPeriod([{ at: 0, amount: 3 }, { at: 1000, amount: 4 }, { at: 1001, amount: 5 }], 1000)).to.equal(9);
    expect(maxInAnyPeriod([{ at: 0, amount: 3 }, { at: 1000, amount: 4 }], 1000)).to.equal(7);
    expect(maxInAnyPeriod([{ at: 0, amount: 3 }, { at: 1001, amount: 4 }], 1000)).to.equal(4);
  });
});
