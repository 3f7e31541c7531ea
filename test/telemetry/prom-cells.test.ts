/**
 * prom-cells.ts: measurements held per label set reach prom-client whenever a metric is read, and by
 * the end of the event loop's turn otherwise; what prom-client would refuse is refused when recorded.
 */
import { expect } from 'chai';
import { Counter, Histogram, Registry } from 'prom-client';
import { PromCells } from '../../lib/telemetry/prom-cells.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function instruments() {
  const registry = new Registry();
  const cells = new PromCells();
  const collect = () => cells.flush();
  const calls = new Counter({ name: 'calls_total', help: 'calls', labelNames: ['model', 'workspace'], registers: [registry], collect });
  const seconds = new Histogram({ name: 'call_seconds', help: 'seconds', labelNames: ['model', 'error'], buckets: [0.1, 1], registers: [registry], collect });
  cells.watchReset(calls);
  cells.watchReset(seconds);
  return { registry, cells, calls, seconds };
}

/** One counter and one histogram measurement for the label set `small`. */
function recordSmall({ cells, calls, seconds }: ReturnType<typeof instruments>): void {
  cells.record('calls', calls, true, ['model', 'workspace'], ['small', 'team-a'], 5);
  cells.record('seconds', seconds, false, ['model', 'error'], ['small', undefined], 0.5);
}

/** Neither measurement of {@link recordSmall} is in the registry's exposition. */
async function expectNoSmall(registry: Registry): Promise<void> {
  const text = await registry.metrics();
  expect(text).to.not.include('calls_total{model="small"');
  expect(text).to.not.include('call_seconds_count{model="small"}');
}

describe('telemetry: prom-cells', () => {
  it('a read in the same turn sees every measurement: counters summed per label set, histograms observed one by one', async () => {
    const { registry, cells, calls, seconds } = instruments();
    cells.record('calls', calls, true, ['model', 'workspace'], ['small', 'team-a'], 1);
    cells.record('calls', calls, true, ['model', 'workspace'], ['small', 'team-a'], 2);
    cells.record('calls', calls, true, ['model', 'workspace'], ['large', 'team-a'], 1);
    cells.record('seconds', seconds, false, ['model', 'error'], ['small', undefined], 0.05);
    cells.record('seconds', seconds, false, ['model', 'error'], ['small', undefined], 0.5);
    cells.record('seconds', seconds, false, ['model', 'error'], ['small', 'timeout'], 2);
    const text = await registry.metrics();
    expect(text).to.include('calls_total{model="small",workspace="team-a"} 3');
    expect(text).to.include('calls_total{model="large",workspace="team-a"} 1');
    // A label left out is absent, not empty: its own series.
    expect(text).to.include('call_seconds_bucket{le="0.1",model="small"} 1');
    expect(text).to.include('call_seconds_bucket{le="1",model="small"} 2');
    expect(text).to.include('call_seconds_sum{model="small"} 0.55');
    expect(text).to.include('call_seconds_count{model="small",error="timeout"} 1');
    // Read again: nothing handed over twice.
    expect(await registry.metrics()).to.include('calls_total{model="small",workspace="team-a"} 3');
  });

  it('without a read, everything is in prom-client by the end of the turn (a reset after it starts from zero)', async () => {
    const set = instruments();
    const { registry, cells, calls } = set;
    recordSmall(set);
    // prom-client's own state (its internal hashMap: what a read without collect would find): not there yet in this turn...
    expect((calls as unknown as { hashMap: Record<string, unknown> }).hashMap).to.deep.equal({});
    await nextTurn();
    // ...and handed over once the turn ended.
    expect(Object.keys((calls as unknown as { hashMap: Record<string, unknown> }).hashMap)).to.have.length(1);
    registry.resetMetrics();
    await expectNoSmall(registry);
    cells.record('calls', calls, true, ['model', 'workspace'], ['small', 'team-a'], 1);
    expect(await registry.metrics()).to.include('calls_total{model="small",workspace="team-a"} 1');
  });

  it('a reset in the same turn drops what the cells still hold; a label set counted only zeros is a series at 0', async () => {
    const set = instruments();
    const { registry, cells, calls } = set;
    recordSmall(set);
    registry.resetMetrics();
    await nextTurn();
    await expectNoSmall(registry);
    cells.record('calls', calls, true, ['model', 'workspace'], ['free', 'team-a'], 0);
    expect(await registry.metrics()).to.include('calls_total{model="free",workspace="team-a"} 0');
  });

  it('a histogram cell holding thousands of observations within one turn hands them over before its queue grows further', async () => {
    const { cells, seconds } = instruments();
    for (let i = 0; i < 10_000; i++) cells.record('seconds', seconds, false, ['model', 'error'], ['small', undefined], 0.05);
    const held = (seconds as unknown as { hashMap: Record<string, { count: number }> }).hashMap;
    const inProm = Object.values(held)[0]?.count ?? 0;
    expect(inProm).to.be.at.least(8192);
    cells.flush();
    expect(Object.values((seconds as unknown as { hashMap: Record<string, { count: number }> }).hashMap)[0]?.count).to.equal(10_000);
  });

  it('refuses when recorded what prom-client would refuse at the hand-over: a counter going down, a value that is not a number', () => {
    const { cells, calls, seconds } = instruments();
    expect(() => cells.record('calls', calls, true, ['model', 'workspace'], ['small', 'team-a'], -1)).to.throw('not possible to decrease a counter');
    expect(() => cells.record('seconds', seconds, false, ['model', 'error'], ['small', undefined], Number.NaN)).to.throw(TypeError, 'not a valid number');
    expect(() => cells.record('calls', calls, true, ['model', 'workspace'], ['small', 'team-a'], Number.POSITIVE_INFINITY)).to.throw(TypeError);
    cells.flush();
  });
});
