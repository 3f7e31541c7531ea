import { expect } from 'chai';
import { loadCatalog, mergeCatalogCards } from '../../lib/catalog/index.js';
import { normaliseNeed, type Need } from '../../lib/need.js';
import { rankModels, servedPairs } from '../../lib/router/plan.js';
import { NeedError } from '../../lib/errors.js';

const catalog = loadCatalog();
const DECEMBER = catalog.lifecycleOn(Date.UTC(2026, 11, 7));
const JUNE = catalog.lifecycleOn(Date.UTC(2026, 5, 1));
const need = (given: Need = {}, endpoint: 'chat' | 'embeddings' | 'fim' = 'chat') => normaliseNeed(given, endpoint, [], 'smallest-sufficient');

describe('plan: the lifecycle on the plan\'s day', () => {
  it('never makes a retired model a candidate, and says why', () => {
    const ranked = rankModels(catalog, need({ capabilities: ['vision'] }), undefined, true, { lifecycle: DECEMBER });
    const ids = ranked.ranked.map((model) => model.id);
    for (const id of ids) expect(DECEMBER.status(id), id).to.not.equal('retired');
    expect(ids[0]).to.equal('ministral-3b-2512');
    expect(ranked.rejected.find((r) => r.model === 'pixtral-12b-2409')?.reason).to.equal('retired on 2025-12-31 (replaced by ministral-14b-2512)');
  });

  it('routes every capability of the old table to a current model today', () => {
    for (const [capability, endpoint] of [['chat', 'chat'], ['vision', 'chat'], ['audio', 'chat'], ['reasoning', 'chat'], ['function_calling', 'chat'], ['json_mode', 'chat'], ['fim', 'fim'], ['embedding', 'embeddings'], ['code', 'chat']] as const) {
      const first = rankModels(catalog, need({ capabilities: [capability] }, endpoint), undefined, true, { lifecycle: DECEMBER }).ranked[0];
      expect(first, capability).to.not.equal(undefined);
      expect(DECEMBER.status(first?.id as string), `${capability}: ${first?.id}`).to.equal('current');
    }
  });

  it('sends a named retired model (or an alias of it) to its replacement chain, then the fallbacks, then the rest', () => {
    const named = rankModels(catalog, need(), 'mistral-small-2506', true, { lifecycle: DECEMBER });
    expect(named.ranked[0]?.id).to.equal('mistral-small-2603');
    expect(named.replaced).to.deep.equal({ requested: 'mistral-small-2506', retiredModel: 'mistral-small-2506', by: 'mistral-small-2603', reason: 'retired' });
    const alias = rankModels(catalog, need(), 'open-mistral-nemo-2407', true, { lifecycle: DECEMBER });
    expect(alias.ranked[0]?.id).to.equal('ministral-8b-2512');
    expect(alias.replaced).to.include({ requested: 'open-mistral-nemo-2407', retiredModel: 'open-mistral-nemo', by: 'ministral-8b-2512' });
    // Configured fallbacks reach the plan as `prefer`: after the replacement chain.
    const withFallbacks = rankModels(catalog, need({ prefer: ['codestral-2508'] }), 'mistral-small-2506', true, { lifecycle: DECEMBER });
    expect(withFallbacks.ranked.slice(0, 2).map((model) => model.id)).to.deep.equal(['mistral-small-2603', 'codestral-2508']);
    // Fallback off: only the replacement chain.
    const only = rankModels(catalog, need(), 'mistral-small-2506', false, { lifecycle: DECEMBER });
    expect(only.ranked.map((model) => model.id)).to.deep.equal(['mistral-small-2603']);
    // A chain whose models are all retired leaves the configured fallbacks and the rest.
    const orphan = rankModels(catalog, need(), 'labs-leanstral-2603', false, { lifecycle: DECEMBER });
    expect(orphan.ranked).to.deep.equal([]);
    expect(orphan.replaced?.by).to.equal(null);
  });

  it('uses a deprecated model when named, ranks it after current ones by need, and warns', () => {
    const named = rankModels(catalog, need({ prefer: ['codestral-2508'] }), 'mistral-small-2506', true, { lifecycle: JUNE });
    // Named first, then its replacement (if Mistral refuses it), then the configured fallbacks.
    expect(named.ranked.slice(0, 3).map((model) => model.id)).to.deep.equal(['mistral-small-2506', 'mistral-small-2603', 'codestral-2508']);
    expect(rankModels(catalog, need(), 'mistral-small-2506', false, { lifecycle: JUNE }).ranked.map((model) => model.id)).to.deep.equal(['mistral-small-2506']);
    expect(named.replaced).to.equal(undefined);
    expect(named.warnings?.find((w) => w.model === 'mistral-small-2506')).to.deep.include({ retired: '2026-07-31', replacement: 'mistral-small-2603' });
    const byNeed = rankModels(catalog, need({ capabilities: ['vision', 'function_calling'] }), undefined, true, { lifecycle: JUNE }).ranked.map((model) => model.id);
    const firstDeprecated = byNeed.findIndex((id) => JUNE.status(id) === 'deprecated');
    expect(firstDeprecated).to.be.greaterThan(0);
    expect(byNeed.slice(firstDeprecated).every((id) => JUNE.status(id) === 'deprecated')).to.equal(true);
    // includeDeprecated: false leaves them out, except the one named.
    const without = rankModels(catalog, need({ includeDeprecated: false }), 'mistral-small-2506', true, { lifecycle: JUNE }).ranked.map((model) => model.id);
    expect(without[0]).to.equal('mistral-small-2506');
    expect(without.slice(1).some((id) => JUNE.status(id) === 'deprecated')).to.equal(false);
  });

  it('ranks preview and labs models after GA ones of the same capability', () => {
    // GLM 5.2 (preview) has fewer capabilities beyond plain chat than any GA model, and still comes last.
    const ranked = rankModels(catalog, need(), undefined, true, { lifecycle: DECEMBER }).ranked;
    expect(ranked.at(-1)?.id).to.equal('zai-glm-5-2');
    expect(ranked.slice(0, -1).every((model) => model.stage === 'ga')).to.equal(true);
  });

  it('without a lifecycle, plans as before (every model current)', () => {
    expect(rankModels(catalog, need(), 'mistral-small-2506').ranked[0]?.id).to.equal('mistral-small-2506');
    expect(() => rankModels(catalog, need(), 'gpt-4', true, { lifecycle: DECEMBER })).to.throw(NeedError, /unknown model "gpt-4"/);
  });

  it('leaves out the (workspace, model) pairs a workspace\'s /v1/models list does not serve', () => {
    const merged = mergeCatalogCards(catalog, [{ id: 'mistral-small-2603', capabilities: { completion_chat: true } }], { workspace: 'a', now: Date.UTC(2026, 11, 7) }).catalog;
    const models = ['mistral-small-2603', 'ministral-8b-2512'].map((id) => merged.model(id)!);
    const { pairs, rejected } = servedPairs(merged, models, ['a', 'b']);
    expect(pairs.map((pair) => `${pair.workspace}/${pair.model.id}`)).to.deep.equal(['a/mistral-small-2603', 'b/mistral-small-2603', 'b/ministral-8b-2512']);
    expect(rejected).to.deep.equal([{ model: 'ministral-8b-2512', reason: 'not served to workspace a (its GET /v1/models list)' }]);
  });
});
