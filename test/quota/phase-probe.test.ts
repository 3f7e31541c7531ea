/**
 * The pure parts of phase probes: what a 429 teaches the learner (its remaining, its Retry-After), and
 * when a charge log lets a probe go and what it counts under the latest phase.
 */
import { expect } from 'chai';
import { ChargeLog } from '../../lib/quota/charge-log.js';
import { UpstreamRuleLearner } from '../../lib/quota/upstream-rule.js';

const LIMIT = 1_000_000;
/** A whole minute: instants below are seconds past it. */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const s = (seconds: number) => T0 + seconds * 1_000;

/**
 * A learner that saw an upstream's fixed windows (from :17) through calls of 100 tokens at :17.5-:19.5
 * and :40, then at 1:30-1:32: the first call after the boundary at :17 was at :17.5, the last before the
 * boundary at 1:17 at :40, so the phase is only known to lie in (:40, 1:17.5], 37.5 s.
 */
function learnerWithWideArc(): UpstreamRuleLearner {
  const learner = new UpstreamRuleLearner();
  let held = 0;
  let window = 0;
  for (const at of [17.5, 18, 18.5, 19, 19.5, 40, 90, 91, 92]) {
    const index = Math.floor((s(at) - s(17)) / 60_000);
    if (index !== window) [window, held] = [index, 0];
    held += 100;
    learner.observe({ sentAt: s(at), answeredAt: s(at), limit: LIMIT, remaining: LIMIT - held, queryCost: 100, usedTokens: 100 });
  }
  return learner;
}

describe('UpstreamRuleLearner: what a 429 teaches', () => {
  it('narrows a wide fixed arc to the second its Retry-After names (the boundary rounded up), its end once a probe confirms it', () => {
    const learner = learnerWithWideArc();
    expect(learner.window).to.deep.equal({ kind: 'fixed', phaseMs: 40_000, uncertaintyMs: 37_500 });
    // At 1:40 the window (from 1:17) holds the 300 of 1:30-1:32; the boundary at 2:17 is 37 s away. Believed
    // up to its start (2:16); its end is where the next probe looks, not yet a boundary the count trusts.
    learner.observeRefusal({ at: s(100), limit: LIMIT, remaining: LIMIT - 300, retryAfterMs: 37_000 });
    expect(learner.window).to.deep.equal({ kind: 'fixed', phaseMs: 16_000, uncertaintyMs: 1_500, probeMs: 17_000 });
    // The probe at 2:17 is admitted into a fresh window: the boundary was there or before.
    learner.observe({ sentAt: s(137), answeredAt: s(137), limit: LIMIT, remaining: LIMIT - 100, queryCost: 100, usedTokens: 100 });
    expect(learner.window).to.deep.equal({ kind: 'fixed', phaseMs: 16_000, uncertaintyMs: 1_000 });
    expect(learner.charge).to.equal('max-tokens');
  });

  for (const [name, wait] of [
    ['negative', -5_000],
    ['not a number', Number.NaN],
    ['infinite', Number.POSITIVE_INFINITY],
    ['beyond a period', 3_600_000],
    ['a boundary the arc rules out', 59_000],
    ['absent', undefined],
  ] as const) {
    it(`ignores a Retry-After that is ${name}, and halves the arc with its next probe instead`, () => {
      const learner = learnerWithWideArc();
      learner.observeRefusal({ at: s(100), limit: LIMIT, remaining: LIMIT - 300, retryAfterMs: wait });
      // The arc as it was; the probe point halfway in it (:58.75).
      expect(learner.window).to.deep.equal({ kind: 'fixed', phaseMs: 40_000, uncertaintyMs: 37_500, probeMs: 58_750 });
    });
  }

  it('judges a 429 by its remaining: one that contradicts the learned rule unlearns it', () => {
    const learner = learnerWithWideArc();
    // The window from 1:17 holds 300; a 429 saying it holds 5,000 fits no phase of a fixed window.
    learner.observeRefusal({ at: s(100), limit: LIMIT, remaining: LIMIT - 5_000, retryAfterMs: 37_000 });
    expect(learner.window).to.equal(undefined);
  });

  it('ignores a 429 under another limit or with impossible numbers', () => {
    const learner = learnerWithWideArc();
    for (const sample of [
      { at: s(100), limit: 7, remaining: 0, retryAfterMs: 37_000 },
      { at: s(100), limit: LIMIT, remaining: LIMIT + 1, retryAfterMs: 37_000 },
      { at: s(100), limit: LIMIT, remaining: -1, retryAfterMs: 37_000 },
      { at: Number.NaN, limit: LIMIT, remaining: LIMIT - 300, retryAfterMs: 37_000 },
    ]) {
      learner.observeRefusal(sample);
    }
    expect(learner.window).to.deep.equal({ kind: 'fixed', phaseMs: 40_000, uncertaintyMs: 37_500 });
  });

  it("probes a Retry-After's claim at the whole second inside it", () => {
    const learner = learnerWithWideArc();
    learner.observeRefusal({ at: s(100.4), limit: LIMIT, remaining: LIMIT - 300, retryAfterMs: 37_000 });
    // (2:16.4, 2:17.4]: the boundary rounded up to the second, 37 s after 1:40.4; :17 is inside it.
    expect(learner.window).to.deep.equal({ kind: 'fixed', phaseMs: 16_400, uncertaintyMs: 1_100, probeMs: 17_000 });
  });

  it('points a probe at the whole second inside an arc of a second or less', () => {
    const learner = learnerWithWideArc();
    learner.observeRefusal({ at: s(100.4), limit: LIMIT, remaining: LIMIT - 300, retryAfterMs: 37_000 });
    // An admission at 2:17.2 into a fresh window: the arc is (2:16.4, 2:17.2], :17 inside it.
    learner.observe({ sentAt: s(137.2), answeredAt: s(137.2), limit: LIMIT, remaining: LIMIT - 100, queryCost: 100, usedTokens: 100 });
    expect(learner.window).to.deep.equal({ kind: 'fixed', phaseMs: 16_400, uncertaintyMs: 800, probeMs: 17_000 });
  });
});

describe('ChargeLog: phase probes', () => {
  const wide = { kind: 'fixed' as const, phaseMs: 10_000, uncertaintyMs: 40_000 };

  it('counts under the latest phase still possible: inside the arc, only what was charged at that instant', () => {
    const log = new ChargeLog(wide, 60_000);
    log.add(s(5), s(5), 900);
    log.add(s(95), s(95), 900);
    log.add(s(100), s(100), 100);
    // At 1:40 the boundary may be anywhere in (1:10, 1:50]: counted from :10 at the earliest, from now at the latest.
    expect(log.used(s(100))).to.equal(1_000);
    expect(log.usedAtLeast(s(100))).to.equal(100);
    // At 1:55 every phase has passed its boundary: from 1:50 at the latest.
    expect(log.usedAtLeast(s(115))).to.equal(0);
    expect(new ChargeLog({ kind: 'sliding' }, 60_000).usedAtLeast(s(1))).to.equal(0);
  });

  it('one probe out at a time, and another only once the phase narrowed or a period later', () => {
    const log = new ChargeLog(wide, 60_000);
    expect(log.probeAfterMs(s(100))).to.equal(0);
    log.startProbe(7, s(100));
    expect(log.probing).to.equal(true);
    expect(log.probeAfterMs(s(100))).to.equal(Number.POSITIVE_INFINITY);
    log.endProbe(8); // another reservation: still out
    expect(log.probing).to.equal(true);
    log.endProbe(7);
    expect(log.probeAfterMs(s(100))).to.equal(60_000);
    log.rule = { ...wide, uncertaintyMs: 30_000 };
    expect(log.probeAfterMs(s(100))).to.equal(0);
  });

  it('waits for its probe point; a sharp arc only at its point, once a period; a whole-period arc only at a lent point', () => {
    const pointed = new ChargeLog({ ...wide, probeMs: 30_000 }, 60_000);
    expect(pointed.probeAfterMs(s(75))).to.equal(15_000);
    expect(pointed.probeAfterMs(s(100))).to.equal(0);
    const sharp = new ChargeLog({ kind: 'fixed', phaseMs: 16_500, uncertaintyMs: 1_000, probeMs: 17_000 }, 60_000);
    expect(sharp.probeAfterMs(s(76.7))).to.equal(300);
    expect(sharp.probeAfterMs(s(77))).to.equal(0);
    expect(sharp.probeAfterMs(s(78))).to.equal(59_000);
    expect(new ChargeLog({ kind: 'fixed', phaseMs: 16_500, uncertaintyMs: 1_000 }, 60_000).probeAfterMs(s(77))).to.equal(Number.POSITIVE_INFINITY);
    expect(new ChargeLog({ kind: 'fixed', phaseMs: 0, uncertaintyMs: 60_000 }, 60_000).probeAfterMs(s(77))).to.equal(Number.POSITIVE_INFINITY);
    expect(new ChargeLog({ kind: 'fixed', phaseMs: 0, uncertaintyMs: 60_000, probeMs: 17_000 }, 60_000).probeAfterMs(s(77))).to.equal(0);
    expect(new ChargeLog({ kind: 'sliding' }, 60_000).probeAfterMs(s(77))).to.equal(Number.POSITIVE_INFINITY);
  });
});
