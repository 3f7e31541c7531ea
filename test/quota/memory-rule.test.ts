/**
 * The memory store's admission under a learned upstream rule and a usage-charging upstream: what is held
 * versus what must fit, and a fixed window whose phase is still uncertain counted as the lower of its log
 * and its ring. Plain numbers on a fake clock.
 */
import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { RouterError } from '../../lib/errors.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import { WINDOW_KINDS } from '../../lib/quota/types.js';
import type { WindowRule } from '../../lib/quota/upstream-rule.js';
import { admitted, candidateOf, refused, windowOf } from './store-contract.js';

const START = Date.UTC(2026, 2, 10, 12); // on a minute
const candidate = candidateOf('w', 'm', windowOf('tokensPerMinute', 1_000));

async function used(store: MemoryStore): Promise<number> {
  return (await store.snapshot('w')).find((w) => w.kind === 'tokens-per-minute')?.used ?? Number.NaN;
}

function learn(store: MemoryStore, rule: WindowRule | null): void {
  store.observeSync({ workspace: 'w', model: 'm', windows: [{ ...WINDOW_KINDS.tokensPerMinute, limit: 1_000, rule }] });
}

describe('MemoryStore: fitTokens (an upstream that admits while the prompt fits)', () => {
  it('holds tokens while asking only fitTokens to fit', () => {
    const store = new MemoryStore({ clock: new FakeClock(START) });
    admitted(store.reserveSync({ candidates: [candidate], tokens: 600, fitTokens: 100 }));
    // 600 held + 300 asked = 900: fits; the hold is the whole 600 + 600.
    admitted(store.reserveSync({ candidates: [candidate], tokens: 600, fitTokens: 300 }));
    const third = refused(store.reserveSync({ candidates: [candidate], tokens: 600, fitTokens: 1 }));
    expect(third.refusals[0]?.windows[0]?.needed).to.equal(1);
    expect(third.refusals[0]?.windows[0]?.used).to.equal(1_200);
  });

  it('refuses a fitTokens that is not an integer in [0, tokens], naming it', () => {
    const store = new MemoryStore({ clock: new FakeClock(START) });
    for (const fitTokens of [601, -1, 1.5, Number.NaN]) {
      expect(() => store.reserveSync({ candidates: [candidate], tokens: 600, fitTokens }), String(fitTokens))
        .to.throw(RouterError, /fitTokens/)
        .with.property('code', 'QUOTA_INVALID');
    }
  });
});

describe('MemoryStore: a learned fixed window with an uncertain phase', () => {
  it('counts no more than its ring, and gives capacity back at the boundary the phase surely passed', async () => {
    const clock = new FakeClock(START);
    const store = new MemoryStore({ clock });
    // The upstream's minute starts somewhere in [:10, :50]: the log alone would count up to 100 s back.
    learn(store, { kind: 'fixed', phaseMs: 10_000, uncertaintyMs: 40_000 });
    clock.set(START + 5_000);
    admitted(store.reserveSync({ candidates: [candidate], tokens: 900 }));
    // At :55 the boundary surely passed (:50 at the latest) and the charge at :05 was before its earliest (:10).
    clock.set(START + 55_000);
    expect(await used(store)).to.equal(0);
    admitted(store.reserveSync({ candidates: [candidate], tokens: 900 }));
    // At 1:40 the next boundary (somewhere in [1:10, 1:50]) may not have passed: the log counts the 900 of :55,
    // and so does the ring (within the last 61 s): refused until one of them lets go.
    clock.set(START + 100_000);
    // Under the latest phase still possible the window may have just started over: one call goes as a
    // probe of the phase (its answer would narrow it); released here, it reached no upstream.
    const probe = admitted(store.reserveSync({ candidates: [candidate], tokens: 900 }));
    expect(store.probes).to.equal(1);
    store.releaseSync(probe);
    // No second probe before the phase narrows (or a period passes): refused by the count.
    const refusal = refused(store.reserveSync({ candidates: [candidate], tokens: 900 }));
    expect(refusal.retryAfterMs).to.equal(10_000); // the log's sure boundary at 1:50; the ring's would be 1:56
    // Within the band the ring is the lower bound once the charge slid out of it: 2:10 > 0:55 + 61 s.
    learn(store, { kind: 'fixed', phaseMs: 10_000, uncertaintyMs: 59_000 });
    clock.set(START + 117_000);
    expect(await used(store)).to.equal(0);
  });

  it('sliding: the log, exact to the millisecond (below the ring, which keeps a charge a bucket longer)', () => {
    const clock = new FakeClock(START);
    const store = new MemoryStore({ clock });
    learn(store, { kind: 'sliding' });
    clock.set(START + 500);
    admitted(store.reserveSync({ candidates: [candidate], tokens: 1_000 }));
    clock.set(START + 60_499);
    expect(refused(store.reserveSync({ candidates: [candidate], tokens: 1 })).retryAfterMs).to.equal(1);
    clock.set(START + 60_500);
    admitted(store.reserveSync({ candidates: [candidate], tokens: 1_000 }));
  });
});
