import { expect } from 'chai';
import { ChargeLog } from '../../lib/quota/charge-log.js';
import { intersectArcs } from '../../lib/quota/arcs.js';
import { UpstreamRuleLearner, type ChargeRule } from '../../lib/quota/upstream-rule.js';

const LIMIT = 1_000_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/**
 * A tiny upstream for the learner: a fixed (phase) or sliding minute window under a charge rule, with the
 * headers it would write for each call (remaining before corrections and after-the-fact charges land).
 */
function upstream(window: 'fixed' | 'sliding', charge: ChargeRule, phaseMs = 0) {
  const log: { at: number; amount: number }[] = [];
  const held = (now: number) =>
    log.filter((e) => (window === 'sliding' ? e.at + 60_000 > now : e.at >= Math.floor((now - phaseMs) / 60_000) * 60_000 + phaseMs)).reduce((sum, e) => sum + e.amount, 0);
  return (now: number, cost: number, used: number) => {
    const entry = { at: now, amount: charge === 'usage' ? 0 : cost };
    log.push(entry);
    const remaining = LIMIT - held(now);
    if (charge !== 'max-tokens') entry.amount = used; // corrected, or charged, once the headers are out
    return { sentAt: now, answeredAt: now, limit: LIMIT, remaining, queryCost: charge === 'usage' ? used : cost, usedTokens: used };
  };
}

describe('UpstreamRuleLearner', () => {
  for (const window of ['fixed', 'sliding'] as const) {
    for (const charge of ['max-tokens', 'max-tokens-corrected', 'usage'] as const) {
      it(`learns ${charge} on a ${window} window (phase 17 s) from calls every 300 ms to 700 ms`, () => {
        const learner = new UpstreamRuleLearner();
        const call = upstream(window, charge, 17_000);
        let now = T0 + 5_000;
        let chargeAt: number | undefined;
        for (let i = 0; i < 300; i++) {
          now += 300 + ((i * 37) % 400);
          learner.observe(call(now, 120, 40 + (i % 7)));
          if (learner.charge === charge) chargeAt ??= i + 1;
        }
        expect(chargeAt, 'responses before the charge rule is known').to.equal(3);
        expect(learner.charge).to.equal(charge);
        const rule = learner.window;
        if (window === 'sliding') expect(rule).to.deep.equal({ kind: 'sliding' });
        else {
          expect(rule?.kind).to.equal('fixed');
          const { phaseMs, uncertaintyMs } = rule as { phaseMs: number; uncertaintyMs: number };
          expect(uncertaintyMs).to.be.at.most(1_000);
          expect(17_000).to.be.within(phaseMs, phaseMs + uncertaintyMs);
        }
        expect(learner.settleTokens(120, 45)).to.equal(charge === 'max-tokens' ? 120 : 45);
      });
    }
  }

  it('knows nothing before a window boundary or expiry tells the two kinds apart', () => {
    const learner = new UpstreamRuleLearner();
    const call = upstream('sliding', 'max-tokens');
    for (let i = 0; i < 20; i++) learner.observe(call(T0 + 1_000 + i * 2_000, 100, 100));
    expect(learner.charge).to.equal('max-tokens');
    expect(learner.window).to.equal(undefined);
  });

  it('unlearns on a remaining that grows without a reset, and on calls it does not know of', () => {
    const learner = new UpstreamRuleLearner();
    const call = upstream('sliding', 'max-tokens');
    let now = T0;
    for (let i = 0; i < 200; i++) learner.observe(call((now += 500), 100, 60));
    expect(learner.window).to.deep.equal({ kind: 'sliding' });
    // A hostile remaining: up by 5,000 with nothing leaving the window.
    const honest = call((now += 500), 100, 60);
    learner.observe({ ...honest, remaining: honest.remaining + 5_000 });
    expect(learner.window).to.equal(undefined);
    expect(learner.charge).to.equal(undefined);
    expect(learner.settleTokens(100, 60), 'unknown: the larger of cost and usage').to.equal(100);
    expect(learner.settleTokens(30, 60), 'a cost below the usage is not believed').to.equal(60);
    // Honest headers again: the rule is confirmed anew.
    for (let i = 0; i < 5; i++) learner.observe(call((now += 500), 100, 60));
    expect(learner.charge).to.equal('max-tokens');
    expect(learner.window).to.deep.equal({ kind: 'sliding' });
  });

  for (const window of ['sliding', 'fixed'] as const) {
    it(`${window}: keeps the rule through a fractional query cost (a recount while it is remembered, the running sums again once it left)`, () => {
      const learner = new UpstreamRuleLearner();
      const call = upstream(window, 'max-tokens', 17_000);
      let now = T0;
      for (let i = 0; i < 400; i++) {
        // Calls 100-119 cost a fraction: the sums cannot hold them exactly; 60 s after the last one left, they do again.
        learner.observe(call((now += 700), i >= 100 && i < 120 ? 120.5 : 120, 60));
        if (i >= 95 && window === 'sliding') expect(learner.window, `response ${i}`).to.deep.equal({ kind: 'sliding' });
      }
      expect(learner.charge).to.equal('max-tokens');
      if (window === 'fixed') {
        const rule = learner.window as { kind: string; phaseMs: number; uncertaintyMs: number };
        expect(rule.kind).to.equal('fixed');
        expect(17_000).to.be.within(rule.phaseMs, rule.phaseMs + rule.uncertaintyMs);
      }
    });
  }

  it('ignores impossible samples and starts over when the limit changes', () => {
    const learner = new UpstreamRuleLearner();
    const call = upstream('fixed', 'max-tokens');
    for (let i = 0; i < 10; i++) learner.observe(call(T0 + i * 1_000, 50, 50));
    expect(learner.charge).to.equal('max-tokens');
    learner.observe({ sentAt: T0, answeredAt: T0 + 20_000, limit: 100, remaining: 200, queryCost: 1, usedTokens: 1 });
    learner.observe({ sentAt: T0, answeredAt: T0 + 20_000, limit: Number.NaN, remaining: 2, queryCost: 1, usedTokens: 1 });
    expect(learner.charge).to.equal('max-tokens');
    learner.observe({ sentAt: T0 + 21_000, answeredAt: T0 + 21_000, limit: 20_000, remaining: 19_950, queryCost: 50, usedTokens: 50 });
    expect(learner.charge).to.equal(undefined);
  });

  it('intersects phase arcs across the wrap of the period', () => {
    expect(intersectArcs(59_000, 2_000, 0, 500, 60_000)).to.deep.equal({ lo: 0, width: 500 });
    expect(intersectArcs(10_000, 1_000, 10_500, 5_000, 60_000)).to.deep.equal({ lo: 10_500, width: 500 });
    expect(intersectArcs(10_000, 1_000, 30_000, 1_000, 60_000)).to.equal(undefined);
    expect(intersectArcs(0, 60_000, 30_000, 100, 60_000)).to.deep.equal({ lo: 30_000, width: 100 });
  });
});

describe('ChargeLog', () => {
  it('sliding: capacity returns exactly one period after each charge', () => {
    const log = new ChargeLog({ kind: 'sliding' }, 60_000);
    log.add(T0, T0, 60);
    log.add(T0 + 10_000, T0 + 10_000, 40);
    expect(log.used(T0 + 10_000)).to.equal(100);
    expect(log.retryAfterMs(T0 + 20_000, 30, 100)).to.equal(40_000); // the first leaves at T0 + 60 s
    expect(log.retryAfterMs(T0 + 20_000, 70, 100)).to.equal(50_000);
    expect(log.retryAfterMs(T0 + 20_000, 101, 100)).to.equal(Number.POSITIVE_INFINITY);
    expect(log.used(T0 + 59_999)).to.equal(100);
    expect(log.used(T0 + 60_000)).to.equal(40);
    log.add(T0 + 60_000, T0 + 10_000, -15); // a refund where the charge was made
    expect(log.used(T0 + 60_000)).to.equal(25);
    log.add(T0 + 60_000, T0, 999); // a charge that left the window is not touched
    expect(log.used(T0 + 60_000)).to.equal(25);
  });

  it('fixed: counts from the earliest start the uncertain phase allows, returns capacity when the boundary surely passed', () => {
    const log = new ChargeLog({ kind: 'fixed', phaseMs: 20_000, uncertaintyMs: 500 }, 60_000);
    log.add(T0 + 19_000, T0 + 19_000, 50);
    log.add(T0 + 20_200, T0 + 20_200, 30); // inside the uncertain boundary: counted in the new window
    expect(log.used(T0 + 20_400)).to.equal(80); // the boundary may not have passed yet
    expect(log.used(T0 + 20_500)).to.equal(30);
    expect(log.retryAfterMs(T0 + 30_000, 80, 100)).to.equal(50_500);
    expect(log.used(T0 + 80_500)).to.equal(0);
  });

  it('keeps constant memory: past its capacity the oldest charges merge later, never earlier', () => {
    const log = new ChargeLog({ kind: 'sliding' }, 60_000, 4);
    for (let i = 0; i < 10; i++) log.add(T0 + i * 1_000, T0 + i * 1_000, 10);
    expect(log.used(T0 + 9_000)).to.equal(100);
    // Seven merged into the charge of T0 + 6 s: they all leave with it, not before.
    expect(log.used(T0 + 60_000)).to.equal(100);
    expect(log.used(T0 + 66_000)).to.equal(30);
  });
});
