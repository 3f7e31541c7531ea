import { expect } from 'chai';
import { loadCatalog, modelCard } from '../../lib/catalog/index.js';
import { FakeClock } from '../../lib/clock.js';
import { CatalogView } from '../../lib/router/catalog-view.js';
import { RouterEventEmitter, type RouterEvents } from '../../lib/router/events.js';

const bundled = loadCatalog();
const cardOf = (id: string) => modelCard(bundled.model(id)!, id, 0, []);

function setup() {
  const clock = new FakeClock(Date.UTC(2026, 11, 7));
  const events = new RouterEventEmitter();
  const seen: { name: keyof RouterEvents; event: unknown }[] = [];
  for (const name of ['catalogRefreshed', 'catalogRefreshFailed', 'cardSkipped', 'deprecated', 'modelUnavailable'] as const) events.on(name, (event) => seen.push({ name, event }));
  return { clock, events, seen, view: new CatalogView(bundled, clock, events, 3_600_000) };
}

describe('router: the catalogue view', () => {
  it('merges each workspace\'s list, keeps the last good one when a refresh fails, and never empties', async () => {
    const { view, seen } = setup();
    let failing = false;
    const newModel = { id: 'mistral-small-2612', name: 'mistral-small-2612', max_context_length: 524_288, capabilities: { completion_chat: true } };
    const listers = [
      { workspace: 'a', list: async () => (failing ? Promise.reject(new Error('HTTP 503 upstream')) : [cardOf('mistral-small-2603'), newModel]) },
      { workspace: 'b', list: async () => [cardOf('ministral-8b-2512'), { id: 'bad', capabilities: { telepathy: true } }] },
    ];
    const first = await view.refresh(listers);
    expect(first).to.deep.include({ refreshed: ['a', 'b'], failed: [], added: ['mistral-small-2612'] });
    expect(first.issues.map((issue) => [issue.workspace, issue.model, issue.code])).to.deep.equal([['b', 'bad', 'unknown-capability']]);
    expect(view.catalog.isServed('a', 'mistral-small-2612')).to.equal(true);
    expect(view.catalog.isServed('b', 'mistral-small-2612')).to.equal(false);
    const version = view.version;
    failing = true;
    const second = await view.refresh(listers);
    expect(second.failed).to.deep.equal([{ workspace: 'a', message: 'HTTP 503 upstream' }]);
    expect(view.catalog.model('mistral-small-2612')?.contextWindow).to.equal(524_288);
    expect(view.catalog.isServed('a', 'mistral-small-2612')).to.equal(true);
    expect(view.version).to.be.greaterThan(version);
    expect(seen.filter((e) => e.name === 'catalogRefreshFailed')).to.deep.equal([{ name: 'catalogRefreshFailed', event: { workspace: 'a', message: 'HTTP 503 upstream' } }]);
    expect(seen.filter((e) => e.name === 'cardSkipped')).to.have.length(2);
  });

  it('shares one refresh between concurrent callers', async () => {
    const { view } = setup();
    let calls = 0;
    const listers = [{ workspace: 'a', list: async () => (calls++, [cardOf('mistral-small-2603')]) }];
    const [one, two] = await Promise.all([view.refresh(listers), view.refresh(listers)]);
    expect(one).to.equal(two);
    expect(calls).to.equal(1);
  });

  it('takes a retirement announced by a header, and reports a model\'s lifecycle once per status', () => {
    const { view, seen, clock } = setup();
    expect(view.noteRetirement('mistral-small-2603', Date.UTC(2027, 0, 31, 12))).to.equal(true);
    expect(view.noteRetirement('mistral-small-2603', Date.UTC(2027, 0, 31, 18))).to.equal(false);
    expect(view.noteRetirement('unknown-model', Date.UTC(2027, 0, 31))).to.equal(false);
    expect(view.catalog.lifecycle('mistral-small-2603', clock.now())).to.include({ status: 'deprecated', retired: '2027-01-31' });
    expect(view.reportLifecycle('mistral-small-2603', view.lifecycle())).to.equal(true);
    expect(view.reportLifecycle('mistral-small-2603', view.lifecycle())).to.equal(false);
    clock.advance(Date.UTC(2027, 1, 1) - clock.now());
    expect(view.reportLifecycle('mistral-small-2603', view.lifecycle())).to.equal(true);
    expect(seen.filter((e) => e.name === 'deprecated').map((e) => (e.event as { status: string }).status)).to.deep.equal(['deprecated', 'retired']);
    expect(view.reportLifecycle('ministral-8b-2512', view.lifecycle())).to.equal(false);
  });

  it('passes an Invalid-model pair over until unavailableMs has passed on the clock', () => {
    const { view, clock, seen } = setup();
    expect(view.hasUnavailable).to.equal(false);
    const until = view.markUnavailable('a', 'mistral-large-2512', 400);
    expect(until).to.equal(clock.now() + 3_600_000);
    expect(view.unavailableUntil('a', 'mistral-large-2512', clock.now())).to.equal(until);
    expect(view.unavailableUntil('b', 'mistral-large-2512', clock.now())).to.equal(undefined);
    expect(seen.find((e) => e.name === 'modelUnavailable')?.event).to.deep.equal({ workspace: 'a', model: 'mistral-large-2512', until, status: 400 });
    clock.advance(3_600_000);
    expect(view.unavailableUntil('a', 'mistral-large-2512', clock.now())).to.equal(undefined);
    expect(view.hasUnavailable).to.equal(false);
  });
});
