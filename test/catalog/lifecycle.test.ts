import { expect } from 'chai';
import { dayOf, LifecycleDay, lifecycleStatus, loadCatalog } from '../../lib/catalog/index.js';
import { findReplacementLoop } from '../../lib/catalog/lifecycle.js';

describe('catalogue: the lifecycle by day', () => {
  const catalog = loadCatalog();
  const DECEMBER = Date.UTC(2026, 11, 7, 15, 30);

  it('judges a model current, deprecated or retired by the UTC day, retired from the start of its day', () => {
    const small = { deprecated: '2026-04-30', retired: '2026-07-31', replacement: 'mistral-small-2603' };
    expect(lifecycleStatus(small, '2026-04-29')).to.equal('current');
    expect(lifecycleStatus(small, '2026-04-30')).to.equal('deprecated');
    expect(lifecycleStatus(small, '2026-07-30')).to.equal('deprecated');
    expect(lifecycleStatus(small, '2026-07-31')).to.equal('retired');
    // A retirement announced without a deprecation date deprecates at once; a successor without dates does not.
    expect(lifecycleStatus({ deprecated: null, retired: '2026-09-30', replacement: null }, '2026-08-01')).to.equal('deprecated');
    expect(lifecycleStatus({ deprecated: null, retired: null, replacement: 'mistral-ocr-4-1' }, '2026-12-07')).to.equal('current');
    // A date-time (as cards and headers give it) counts by its UTC day.
    expect(lifecycleStatus({ deprecated: null, retired: '2026-07-31T23:59:00+00:00', replacement: null }, '2026-07-31')).to.equal('retired');
    expect(lifecycleStatus(null, '2099-01-01')).to.equal('current');
    expect(dayOf(Date.UTC(2026, 6, 31, 23, 59, 59, 999))).to.equal('2026-07-31');
  });

  it('retires the pair the project was made for on 2026-07-31 and names their replacements', () => {
    for (const [id, replacement] of [['mistral-small-2506', 'mistral-small-2603'], ['open-mistral-nemo', 'ministral-8b-2512']] as const) {
      expect(catalog.lifecycle(id, '2026-07-30')).to.include({ status: 'deprecated', retired: '2026-07-31', successor: replacement });
      expect(catalog.lifecycle(id, DECEMBER)).to.include({ status: 'retired', replacement, successor: replacement });
    }
    // An alias resolves first: open-mistral-nemo-2407 is the catalogue's open-mistral-nemo.
    expect(catalog.lifecycle('open-mistral-nemo-2407', DECEMBER)?.status).to.equal('retired');
    expect(catalog.lifecycle('gpt-4', DECEMBER)).to.equal(undefined);
  });

  it('resolves a replacement chain to the first model still served, or none', () => {
    // Leanstral (2603) -> Leanstral 1.5, itself retired on 2026-09-30 with no replacement.
    expect(catalog.lifecycle('labs-leanstral-2603', '2026-07-15')).to.include({ status: 'retired', successor: 'labs-leanstral-1-5' });
    const december = catalog.lifecycle('labs-leanstral-2603', DECEMBER);
    expect(december?.chain).to.deep.equal(['labs-leanstral-1-5']);
    expect(december?.successor).to.equal(null);
  });

  it('on today\'s date leaves a current model for every capability of the old table', () => {
    const day = catalog.lifecycleOn(DECEMBER);
    for (const capability of ['chat', 'vision', 'audio', 'reasoning', 'function_calling', 'json_mode', 'fim', 'embedding', 'moderation', 'ocr', 'code'] as const) {
      const current = catalog.query({ capabilities: [capability] }).filter((model) => day.status(model.id) === 'current');
      expect(current, capability).to.not.have.length(0);
    }
    // Every retired model has a live successor except the ones whose chain ends at a retired model without one.
    const orphans = [...day.retired].filter((id) => day.of(id)?.successor === null);
    expect(orphans).to.have.members(['labs-leanstral-2603', 'labs-leanstral-1-5']);
  });

  it('computes a day once: the same day returns the same view, the next day a new one', () => {
    const first = catalog.lifecycleOn(DECEMBER);
    expect(catalog.lifecycleOn(DECEMBER + 3_600_000)).to.equal(first);
    expect(catalog.lifecycleOn('2026-12-07')).to.equal(first);
    const next = catalog.lifecycleOn(Date.UTC(2026, 11, 8));
    expect(next).to.not.equal(first);
    expect(next.day).to.equal('2026-12-08');
    expect(() => catalog.lifecycleOn('07/12/2026')).to.throw(TypeError, /YYYY-MM-DD/);
    expect(new LifecycleDay(catalog.models, DECEMBER).retired.size).to.equal(first.retired.size);
  });

  it('finds replacement loops, and none in the bundled catalogue', () => {
    const of = (replacement: string | null) => ({ deprecation: { deprecated: null, retired: null, replacement } });
    expect(findReplacementLoop(new Map([['a', of('b')], ['b', of('c')], ['c', of('a')]]))).to.deep.equal(['a', 'b', 'c', 'a']);
    expect(findReplacementLoop(new Map([['a', of('a')]]))).to.deep.equal(['a', 'a']);
    expect(findReplacementLoop(new Map([['a', of('b')], ['b', of(null)], ['c', of('gone')]]))).to.equal(undefined);
    expect(findReplacementLoop(new Map(catalog.models.map((model) => [model.id, model])))).to.equal(undefined);
  });

  it('cites a public source for every model, and every cited key is in sources', () => {
    expect([...catalog.sources.keys()]).to.have.members(['rl', 'models', 'caps-2025', 'sdk']);
    for (const source of catalog.sources.values()) expect(source.url).to.match(/^https:\/\//);
    for (const model of catalog.models) expect(model.source, model.id).to.match(/\[(rl|models|caps-2025|sdk)\]/);
  });

  it('gives prices where the source does: per million tokens, embeddings input only, OCR per thousand pages', () => {
    expect(catalog.model('mistral-small-latest')?.prices).to.deep.equal({ input: 0.15, output: 0.6 });
    expect(catalog.model('codestral-embed')?.prices).to.deep.equal({ input: 0.15, output: null });
    expect(catalog.model('mistral-ocr-latest')?.prices).to.include({ input: null, pagesPerThousand: 4, annotatedPagesPerThousand: 5 });
    expect(catalog.model('voxtral-small-latest')?.prices).to.deep.equal({ input: 0.1, output: 0.4, audioPerMinute: 0.004 });
    expect(catalog.model('mistral-large-2402')?.prices).to.equal(null);
  });
});
