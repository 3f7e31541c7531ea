import { expect } from 'chai';
import { ChargeSums, exactAmount, recount, type CountedCall } from '../../lib/quota/charge-sums.js';
import { createPrng } from '../../lib/emulator/faults.js';

const PERIOD = 60_000;

describe('ChargeSums: the running sums agree with a recount', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: sends out of order, ties, zero amounts, a call made at or after now`, () => {
      const next = createPrng(seed);
      const sums = new ChargeSums();
      const calls: CountedCall[] = [];
      let now = 1_000_000;
      let judged = 0;
      for (let i = 0; i < 1_500; i++) {
        now += Math.floor(next() * (seed % 2 === 0 ? 120 : 900));
        const count = sums.count(now, PERIOD);
        const reference = recount(calls, now, PERIOD);
        expect(count.sum, `sum at step ${i}`).to.equal(reference.sum);
        // The amounts some start would hold (every suffix of the live calls), and some no start holds.
        const live = calls.filter((c) => c.at > now - PERIOD).sort((a, b) => a.at - b.at);
        const asked = [0, -1, 0.5, reference.sum, reference.sum + 1];
        for (let k = 0; k < 6 && live.length > 0; k++) {
          const from = Math.floor(next() * live.length);
          asked.push(live.slice(from).reduce((sum, c) => sum + c.amount, 0));
        }
        for (const expected of asked) {
          expect(count.span(expected), `span of ${expected} at step ${i}`).to.deep.equal(reference.span(expected));
          judged++;
        }
        // A call sent up to 3 s ago (answers overtake), sometimes at an instant already counted, sometimes of 0.
        const last = calls.length === 0 ? now : (calls[calls.length - 1] as CountedCall).at;
        const at = next() < 0.2 ? last : now - Math.floor(next() * 3_000) + (next() < 0.05 ? 500 : 0);
        const amount = next() < 0.1 ? 0 : 1 + Math.floor(next() * 5_000);
        sums.add(at, amount);
        calls.push({ at, amount });
        sums.expire(now - PERIOD);
        expect(sums.size).to.be.at.most(new Set(calls.filter((c) => c.at > now - PERIOD).map((c) => c.at)).size);
      }
      expect(judged).to.be.greaterThan(5_000);
    });
  }

  it('a window that holds only calls of 0 spans every start that holds them', () => {
    const sums = new ChargeSums();
    const calls = [
      { at: 10_000, amount: 0 },
      { at: 20_000, amount: 0 },
      { at: 30_000, amount: 700 },
    ];
    for (const c of calls) sums.add(c.at, c.amount);
    const now = 40_000;
    expect(sums.count(now, PERIOD).span(700)).to.deep.equal({ from: now - PERIOD, to: 30_000 });
    expect(sums.count(now, PERIOD).span(0)).to.deep.equal({ from: 30_000, to: now });
    expect(recount(calls, now, PERIOD).span(700)).to.deep.equal({ from: now - PERIOD, to: 30_000 });
  });

  it('only whole amounts in [0, 2^32] are counted by the sums (the learner recounts the rest)', () => {
    for (const amount of [0, 1, 5_000, 2 ** 32]) expect(exactAmount(amount), String(amount)).to.equal(true);
    for (const amount of [-1, 0.5, 2 ** 32 + 1, Number.NaN, Number.POSITIVE_INFINITY]) expect(exactAmount(amount), String(amount)).to.equal(false);
  });
});
