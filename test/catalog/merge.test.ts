import { expect } from 'chai';
import { catalogDrift, loadCatalog, mergeCatalogCards, modelCard, type ModelCard } from '../../lib/catalog/index.js';

const DECEMBER = Date.UTC(2026, 11, 7);
const bundled = loadCatalog();

/** The card of a bundled model, as the emulator (and Mistral) writes it. */
const cardOf = (id: string, changes: Partial<ModelCard> = {}): ModelCard => ({ ...modelCard(bundled.model(id)!, id, 0, bundled.model(id)!.aliases), ...changes });
const flags = (...on: string[]) => Object.fromEntries(on.map((flag) => [flag, true]));

describe('catalogue: merging GET /v1/models cards', () => {
  it('lets the cards win on capabilities, context, aliases, deprecation and replacement; keeps the rest', () => {
    const cards = [
      cardOf('mistral-small-2603', { max_context_length: 300_000, capabilities: flags('completion_chat', 'vision'), aliases: ['small-stable'] }),
      cardOf('mistral-embed', { deprecation: '2027-03-31T00:00:00Z', deprecation_replacement_model: 'codestral-embed-2505' }),
      cardOf('codestral-embed-2505'),
    ];
    const { catalog, issues, fromCards } = mergeCatalogCards(bundled, cards, { now: DECEMBER });
    expect(issues).to.deep.equal([]);
    expect(fromCards).to.have.members(['mistral-small-2603', 'mistral-embed', 'codestral-embed-2505']);
    const small = catalog.model('small-stable');
    expect(small).to.include({ id: 'mistral-small-2603', contextWindow: 300_000, family: 'mistral-small', version: '26.03', name: 'Mistral Small 4' });
    expect(small?.capabilities).to.deep.equal(['chat', 'vision', 'json_mode']);
    expect(small?.prices).to.deep.equal({ input: 0.15, output: 0.6 });
    // `embedding` is on no card: the bundled value stays.
    expect(catalog.model('mistral-embed')?.capabilities).to.deep.equal(['embedding']);
    expect(catalog.model('mistral-embed')?.deprecation).to.deep.equal({ deprecated: null, retired: '2027-03-31', replacement: 'codestral-embed-2505' });
    expect(catalog.lifecycle('mistral-embed', DECEMBER)?.status).to.equal('deprecated');
    // Tier limits stay with the catalogue.
    expect(catalog.limits('free', 'mistral-embed').tokensPerMinute).to.equal(20_000_000);
    // The catalogue merged over is not changed.
    expect(bundled.model('mistral-small-2603')?.contextWindow).to.equal(262_144);
  });

  it('reads the SDK\'s camelCase cards (deprecation as a Date) like the API\'s snake_case ones', () => {
    const sdkCard = { id: 'mistral-small-2603', object: 'model', type: 'base', maxContextLength: 200_000, aliases: [], deprecation: new Date('2027-01-31T00:00:00Z'), deprecationReplacementModel: 'mistral-medium-3-5', capabilities: { completionChat: true, functionCalling: true, unifiedResources: false } };
    const { catalog, issues } = mergeCatalogCards(bundled, [sdkCard], { now: DECEMBER });
    expect(issues).to.deep.equal([]);
    expect(catalog.model('mistral-small-2603')).to.include({ contextWindow: 200_000 });
    expect(catalog.model('mistral-small-2603')?.deprecation?.retired).to.equal('2027-01-31');
  });

  it('makes a model the catalogue does not know routable by its card, and lists only what the workspace is served', () => {
    const newModel: ModelCard = { id: 'mistral-small-2612', name: 'mistral-small-2612', max_context_length: 524_288, aliases: ['mistral-small-next'], capabilities: flags('completion_chat', 'function_calling') };
    const fineTuned = { id: 'ft:mistral-small-2603:acme:1234', name: 'ft:mistral-small-2603:acme:1234', type: 'fine-tuned', root: 'mistral-small-2603', max_context_length: 262_144, capabilities: flags('completion_chat') };
    const { catalog, added } = mergeCatalogCards(bundled, [cardOf('mistral-small-2603'), newModel, fineTuned], { workspace: 'acme', now: DECEMBER });
    expect(added).to.deep.equal(['mistral-small-2612', 'ft:mistral-small-2603:acme:1234']);
    expect(catalog.model('mistral-small-next')).to.include({ id: 'mistral-small-2612', contextWindow: 524_288, version: null, license: null, prices: null });
    const served = catalog.query({ capabilities: ['function_calling'], minContext: 500_000 }).filter((model) => catalog.isServed('acme', model.id));
    expect(served.map((model) => model.id)).to.deep.equal(['mistral-small-2612']);
    expect(catalog.model('ft:mistral-small-2603:acme:1234')?.source).to.match(/fine-tuned/);
    // Availability is per workspace: acme's list holds three models; another workspace has no list.
    expect(catalog.isServed('acme', 'mistral-small-2603')).to.equal(true);
    expect(catalog.isServed('acme', 'mistral-large-2512')).to.equal(false);
    expect(catalog.isServed('other', 'mistral-large-2512')).to.equal(true);
    expect([...(catalog.servedTo('acme') ?? [])]).to.have.members(['mistral-small-2603', 'mistral-small-2612', 'ft:mistral-small-2603:acme:1234']);
    // A second workspace's list merges over the first result, keeping the first's availability.
    const second = mergeCatalogCards(catalog, [cardOf('mistral-large-2512')], { workspace: 'beta', now: DECEMBER }).catalog;
    expect(second.isServed('acme', 'mistral-small-2612')).to.equal(true);
    expect(second.isServed('beta', 'mistral-small-2612')).to.equal(false);
  });

  it('takes alias cards (id = the alias, name = the model) as names of their model, not models', () => {
    const model = cardOf('mistral-small-2603');
    const alias = cardOf('mistral-small-2603', { id: 'mistral-small-latest', aliases: ['mistral-small-2603'] });
    // The API's id for Nemo is open-mistral-nemo-2407, the catalogue's open-mistral-nemo (its alias).
    const nemo: ModelCard = { id: 'open-mistral-nemo-2407', name: 'open-mistral-nemo-2407', aliases: ['open-mistral-nemo'], max_context_length: 131_072, capabilities: flags('completion_chat', 'function_calling') };
    const { catalog, added, issues } = mergeCatalogCards(bundled, [model, alias, nemo], { workspace: 'w', now: Date.UTC(2026, 5, 1) });
    expect(issues).to.deep.equal([]);
    expect(added).to.deep.equal([]);
    expect(catalog.models).to.have.length(bundled.models.length);
    expect(catalog.resolve('mistral-small-latest')).to.equal('mistral-small-2603');
    expect(catalog.resolve('open-mistral-nemo-2407')).to.equal('open-mistral-nemo');
    expect(catalog.isServed('w', 'open-mistral-nemo')).to.equal(true);
  });

  it('skips bad cards with a typed issue naming the model and the field, and uses the rest', () => {
    const cards: unknown[] = [
      null,
      { capabilities: {} },
      cardOf('mistral-small-2603', { max_context_length: '128k' as never }),
      cardOf('ministral-3b-2512', { max_context_length: -5 }),
      cardOf('ministral-8b-2512', { capabilities: { ...flags('completion_chat'), telepathy: true } as never }),
      cardOf('ministral-14b-2512', { capabilities: { completion_chat: 'yes' } as never }),
      cardOf('mistral-large-2512', { deprecation: 'next spring' }),
      cardOf('codestral-2508', { deprecation: '2027-01-01T00:00:00Z', deprecation_replacement_model: 'codestral-2612' }),
      cardOf('mistral-medium-3-5', { deprecation: '2027-01-01T00:00:00Z', deprecation_replacement_model: 'mistral-small-2506' }),
      cardOf('mistral-embed', { aliases: 'mistral-embed-2312' as never }),
      cardOf('voxtral-small-2507'),
    ];
    const { catalog, issues, fromCards } = mergeCatalogCards(bundled, cards, { workspace: 'w', now: DECEMBER });
    expect(issues.map((issue) => [issue.code, issue.model, issue.field])).to.deep.equal([
      ['card-invalid', '#0', 'card'],
      ['card-invalid', '#1', 'id'],
      ['card-invalid', 'mistral-small-2603', 'max_context_length'],
      ['negative-context', 'ministral-3b-2512', 'max_context_length'],
      ['unknown-capability', 'ministral-8b-2512', 'capabilities.telepathy'],
      ['card-invalid', 'ministral-14b-2512', 'capabilities.completion_chat'],
      ['card-invalid', 'mistral-large-2512', 'deprecation'],
      ['card-invalid', 'mistral-embed', 'aliases'],
      ['replacement-missing', 'codestral-2508', 'deprecation_replacement_model'],
      ['replacement-retired', 'mistral-medium-3-5', 'deprecation_replacement_model'],
    ]);
    for (const issue of issues) expect(issue.message).to.contain(issue.field);
    expect(fromCards).to.deep.equal(['voxtral-small-2507']);
    // A skipped card keeps the bundled facts.
    expect(catalog.model('mistral-medium-3-5')?.deprecation).to.equal(null);
    expect(catalog.model('ministral-3b-2512')?.contextWindow).to.equal(262_144);
  });

  it('skips the cards of a replacement loop, and never empties the catalogue', () => {
    const loop = [
      cardOf('mistral-small-2603', { deprecation: '2027-01-01T00:00:00Z', deprecation_replacement_model: 'mistral-medium-3-5' }),
      cardOf('mistral-medium-3-5', { deprecation: '2027-01-01T00:00:00Z', deprecation_replacement_model: 'mistral-small-2603' }),
    ];
    const { catalog, issues } = mergeCatalogCards(bundled, loop, { now: DECEMBER });
    expect(issues.map((issue) => issue.code)).to.deep.equal(['replacement-loop']);
    expect(issues[0]?.message).to.match(/mistral-small-2603 -> mistral-medium-3-5 -> mistral-small-2603/);
    expect(catalog.models).to.have.length(bundled.models.length);
    expect(() => catalog.lifecycleOn(DECEMBER)).to.not.throw();
    expect(() => mergeCatalogCards(bundled, 'cards' as never)).to.throw(TypeError, /cards must be an array/);
    expect(() => mergeCatalogCards(bundled, [], { workspace: '' })).to.throw(TypeError, /workspace/);
  });

  it('reports the drift: models added, bundled ones no longer served, facts changed', () => {
    const cards = [cardOf('mistral-small-2603', { max_context_length: 300_000 }), { id: 'mistral-small-2612', name: 'mistral-small-2612', capabilities: flags('completion_chat') }];
    const merge = mergeCatalogCards(bundled, cards, { workspace: 'w', now: DECEMBER });
    const drift = catalogDrift(bundled, merge, 'w', '2026-12-07');
    expect(drift.added).to.deep.equal(['mistral-small-2612']);
    expect(drift.changed).to.deep.equal([{ model: 'mistral-small-2603', field: 'contextWindow', bundled: 262_144, live: 300_000 }]);
    expect(drift.missing.find((entry) => entry.model === 'mistral-large-2512')).to.deep.equal({ model: 'mistral-large-2512', status: 'current' });
    expect(drift.missing.find((entry) => entry.model === 'mistral-small-2506')).to.deep.equal({ model: 'mistral-small-2506', status: 'retired' });
  });
});
