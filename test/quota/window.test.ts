import { expect } from 'chai';
import fc from 'fast-check';
import { RouterError } from '../../lib/errors.js';
import type { WindowPeriod } from '../../lib/quota/types.js';
import {
  WindowCounter,
  admits,
  bucketIndex,
  bucketStart,
  daysInMonth,
  isLeapYear,
  monthIndex,
  monthStart,
  windowGeometry,
} from '../../lib/quota/window.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 10, 12); // the start of a second, a minute and an hour

describe('window arithmetic', function () {
  describe('calendar', function () {
    it('knows leap years by the Gregorian rules', function () {
      expect([1900, 2000, 2024, 2026, 2028, 2100].map(isLeapYear)).to.deep.equal([false, true, true, false, true, false]);
    });

    it('counts the days of months of 28, 29, 30 and 31 days', function () {
      const cases: [number, number, number][] = [
        [2026, 0, 31],
        [2026, 1, 28],
        [2028, 1, 29],
        [2100, 1, 28],
        [2000, 1, 29],
        [2026, 3, 30],
        [2026, 10, 30],
        [2026, 11, 31],
      ];
      for (const [year, month, days] of cases) expect(daysInMonth(year, month), `${year}-${month + 1}`).to.equal(days);
    });

    it('indexes months across the turn of a year, and their starts are 00:00 UTC on the 1st', function () {
      const lastMs = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
      expect(monthIndex(lastMs + 1)).to.equal(monthIndex(lastMs) + 1);
      expect(monthStart(monthIndex(lastMs))).to.equal(Date.UTC(2026, 11, 1));
      expect(monthStart(monthIndex(lastMs) + 1)).to.equal(Date.UTC(2027, 0, 1));
      expect(monthIndex(Date.UTC(1970, 0, 1))).to.equal(0);
      expect(monthStart(-1)).to.equal(Date.UTC(1969, 11, 1));
    });

    it('month index and start agree for any instant', function () {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) }), (at) => {
          const index = monthIndex(at);
          return monthStart(index) <= at && at < monthStart(index + 1);
        }),
      );
    });
  });

  describe('geometry and buckets', function () {
    it('cuts each sliding period into fixed sub-buckets and sums N + 1 of them', function () {
      expect(windowGeometry('second')).to.deep.equal({ periodMs: 1000, bucketMs: 50, span: 21 });
      expect(windowGeometry('minute')).to.deep.equal({ periodMs: 60_000, bucketMs: 1000, span: 61 });
      expect(windowGeometry('rolling-30d')).to.deep.equal({ periodMs: 30 * DAY, bucketMs: DAY, span: 31 });
      expect(windowGeometry('month')).to.deep.equal({ periodMs: 31 * DAY, bucketMs: undefined, span: 1 });
    });

    it('refuses an unknown period with QUOTA_INVALID naming it', function () {
      expect(() => windowGeometry('week' as WindowPeriod))
        .to.throw(RouterError, /period.*"week"/)
        .with.property('code', 'QUOTA_INVALID');
    });

    it('maps instants to buckets and back for every period', function () {
      const periods: WindowPeriod[] = ['second', 'minute', 'rolling-30d', 'month'];
      fc.assert(
        fc.property(fc.constantFrom(...periods), fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) }), (period, at) => {
          const index = bucketIndex(period, at);
          return bucketStart(period, index) <= at && at < bucketStart(period, index + 1);
        }),
      );
      expect(bucketIndex('second', T0 + 49)).to.equal(T0 / 50);
      expect(bucketIndex('second', T0 + 50)).to.equal(T0 / 50 + 1);
    });

    it('admits anything under an unknown limit, and exactly up to a known one', function () {
      expect(admits(1e12, 1e12, null)).to.equal(true);
      expect(admits(90, 10, 100)).to.equal(true);
      expect(admits(90, 11, 100)).to.equal(false);
    });
  });

  describe('WindowCounter', function () {
    it('second: a request leaves the sum after 21 buckets of 50 ms', function () {
      const counter = new WindowCounter('second');
      counter.addAt(T0 + 10, T0 + 10, 1);
      expect(counter.usedAt(T0 + 1049)).to.equal(1);
      expect(counter.usedAt(T0 + 1050)).to.equal(0);
    });

    it('minute: sums the current bucket and the 60 before it', function () {
      const counter = new WindowCounter('minute');
      counter.addAt(T0, T0, 5);
      counter.addAt(T0 + 10_500, T0 + 10_500, 3);
      expect(counter.usedAt(T0 + 60_999)).to.equal(8);
      expect(counter.usedAt(T0 + 61_000)).to.equal(3);
      expect(counter.usedAt(T0 + 71_000)).to.equal(0);
    });

    it('retryAfterMs waits for just enough old buckets to leave', function () {
      const make = () => {
        const counter = new WindowCounter('minute');
        counter.addAt(T0, T0, 5);
        counter.addAt(T0 + 10_000, T0 + 10_000, 3);
        return counter;
      };
      const now = T0 + 20_000;
      expect(make().retryAfterMs(now, 2, 10)).to.equal(0);
      expect(make().retryAfterMs(now, 3, 10)).to.equal(61_000 - 20_000);
      expect(make().retryAfterMs(now, 8, 10)).to.equal(71_000 - 20_000);
      expect(make().retryAfterMs(now, 11, 10)).to.equal(Number.POSITIVE_INFINITY);
      expect(make().retryAfterMs(now, 1e9, null)).to.equal(0);
    });

    it('rolling-30d: daily buckets, a day counted for 31 days, then gone', function () {
      const counter = new WindowCounter('rolling-30d');
      const day0 = Date.UTC(2026, 0, 1);
      counter.addAt(day0 + 12 * 3_600_000, day0 + 12 * 3_600_000, 700);
      expect(counter.usedAt(day0 + 30 * DAY + 12 * 3_600_000)).to.equal(700);
      const later = new WindowCounter('rolling-30d');
      later.addAt(day0 + 1, day0 + 1, 700);
      expect(later.retryAfterMs(day0 + 10 * DAY, 1, 700)).to.equal(21 * DAY);
      expect(later.usedAt(day0 + 31 * DAY)).to.equal(0);
    });

    for (const [label, year, month, days] of [
      ['31-day January', 2026, 0, 31],
      ['28-day February', 2026, 1, 28],
      ['29-day February (leap year)', 2028, 1, 29],
      ['30-day April', 2026, 3, 30],
      ['31-day December (turn of the year)', 2026, 11, 31],
    ] as const) {
      it(`month: a full ${label} has room again exactly at 00:00 UTC on the next 1st`, function () {
        const first = Date.UTC(year, month, 1);
        const next = Date.UTC(year, month + 1, 1);
        expect(next - first).to.equal(days * DAY);
        const counter = new WindowCounter('month');
        counter.addAt(first, first, 100);
        expect(counter.retryAfterMs(first, 1, 100)).to.equal(days * DAY);
        expect(counter.usedAt(next - 1)).to.equal(100);
        expect(counter.retryAfterMs(next - 1, 1, 100)).to.equal(1);
        expect(counter.usedAt(next)).to.equal(0);
      });
    }

    it('does not touch a bucket that left the window, and never goes below zero', function () {
      const counter = new WindowCounter('minute');
      counter.addAt(T0, T0, 10);
      expect(counter.addAt(T0 + 61_000, T0, -10)).to.equal(false);
      counter.addAt(T0 + 61_000, T0 + 61_000, 4);
      counter.addAt(T0 + 61_000, T0 + 61_000, -9);
      expect(counter.usedAt(T0 + 61_000)).to.equal(0);
    });

    it('treats an older instant as the newest seen (never rewinds)', function () {
      const counter = new WindowCounter('minute');
      counter.addAt(T0 + 70_000, T0 + 70_000, 1);
      expect(counter.usedAt(T0)).to.equal(1);
    });

    it('property: retryAfterMs is the first instant with room, to the millisecond', function () {
      const period = fc.constantFrom<WindowPeriod>('second', 'minute', 'rolling-30d', 'month');
      const adds = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 40 * DAY }), amount: fc.integer({ min: 0, max: 50 }) }), { maxLength: 20 });
      fc.assert(
        fc.property(period, adds, fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 120 }), (p, steps, limit, cost) => {
          const scale = p === 'second' ? 1 / 20_000 : p === 'minute' ? 1 / 500 : 1;
          const build = () => {
            const counter = new WindowCounter(p);
            let at = T0;
            for (const { dt, amount } of steps) {
              at += Math.floor(dt * scale);
              counter.addAt(at, at, amount);
            }
            return { counter, at };
          };
          const { counter, at } = build();
          const wait = counter.retryAfterMs(at, cost, limit);
          if (cost > limit) return wait === Number.POSITIVE_INFINITY;
          const fitsAt = (t: number) => build().counter.usedAt(t) + cost <= limit;
          if (wait === 0) return fitsAt(at);
          return fitsAt(at + wait) && !fitsAt(at + wait - 1);
        }),
        { numRuns: 500 },
      );
    });
  });
});
