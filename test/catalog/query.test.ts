import { expect } from 'chai';
import type { ModelQuery } from '../../lib/catalog/index.js';
import { catalog2025 } from '../helpers/catalog-2025.js';
import { NeedError } from '../../lib/errors.js';

describe('catalogue: queries', () => {
  // The query mechanics on the mid-2025 catalogue, whose answers do not move with the lineup.
  const catalog = catalog2025;
  const ids = (query: ModelQuery) => catalog.query(query).map((m) => m.id);

  const table: { query: ModelQuery; expected: string[] }[] = [
    { query: { capabilities: ['vision'] }, expected: ['mistral-small-2506', 'mistral-small-2503', 'pixtral-12b-2409', 'pixtral-large-2411'] },
    { query: { capabilities: ['audio'] }, expected: ['voxtral-small-2507', 'voxtral-mini-2507'] },
    { query: { capabilities: ['reasoning'] }, expected: ['magistral-small-2507', 'magistral-small-2506', 'magistral-medium-latest'] },
    { query: { capabilities: ['fim'] }, expected: ['codestral-2405', 'codestral-2501'] },
    { query: { capabilities: ['embedding'] }, expected: ['mistral-embed'] },
    { query: { capabilities: ['moderation'] }, expected: ['mistral-moderation-2411'] },
    { query: { capabilities: ['ocr'] }, expected: [] },
    { query: { capabilities: ['vision', 'function_calling'], minContext: 60_000 }, expected: ['mistral-small-2506', 'mistral-small-2503', 'pixtral-12b-2409', 'pixtral-large-2411'] },
    { query: { capabilities: ['chat'], minContext: 200_000 }, expected: ['codestral-2501'] },
    { query: { family: 'mistral-small', version: 'latest' }, expected: ['mistral-small-2506'] },
    { query: { family: 'mistral-small', version: '>=25.03' }, expected: ['mistral-small-2506', 'mistral-small-2503'] },
    { query: { family: 'mistral-small', version: '25.01' }, expected: ['mistral-small-2501'] },
    { query: { family: 'mistral-small', version: '<25.01' }, expected: ['mistral-small-2402', 'mistral-small-2409'] },
    { query: { family: ['magistral-small', 'voxtral-mini'], version: 'latest' }, expected: ['magistral-small-2507', 'voxtral-mini-2507'] },
    { query: { capabilities: ['code'], openWeights: true }, expected: ['devstral-small-2507', 'devstral-small-2505'] },
  ];

  for (const { query, expected } of table) {
    it(`${JSON.stringify(query)} -> ${expected.join(', ') || 'nothing'}`, () => {
      expect(ids(query)).to.have.members(expected);
    });
  }

  it('a 100k-token need excludes every 32k and 40k model, and every model whose window is unknown', () => {
    const result = ids({ minContext: 100_000 });
    for (const model of catalog.models) {
      if (model.contextWindow === null || model.contextWindow < 100_000) expect(result).not.to.include(model.id);
      else expect(result).to.include(model.id);
    }
    expect(result).not.to.include.members(['voxtral-small-2507', 'magistral-small-2507', 'mistral-small-2501', 'mistral-saba-2502']);
  });

  it('explains every rejected model', () => {
    const { rejected } = catalog.explain({ capabilities: ['vision'], minContext: 100_000 });
    const reason = (id: string) => rejected.find((r) => r.model.id === id)?.reason;
    expect(reason('open-mistral-nemo')).to.equal('missing capability: vision');
    expect(rejected).to.have.length(catalog.models.length - 4);
  });

  it('resolves aliases to endpoint ids', () => {
    expect(catalog.resolve('mistral-small-latest')).to.equal('mistral-small-2506');
    expect(catalog.resolve('magistral-small-latest')).to.equal('magistral-small-2507');
    expect(catalog.resolve('devstral-small-latest')).to.equal('devstral-small-2507');
    expect(catalog.resolve('voxtral-mini-latest')).to.equal('voxtral-mini-2507');
    expect(catalog.resolve('open-mistral-nemo')).to.equal('open-mistral-nemo');
    expect(catalog.resolve('gpt-4')).to.equal(undefined);
    expect(catalog.model('mistral-small-latest')?.name).to.equal('Mistral Small 3.2');
  });

  it('refuses an unknown capability, a negative context and a malformed version with NeedError naming the field', () => {
    expect(() => catalog.query({ capabilities: ['telepathy' as never] })).to.throw(NeedError, /capabilities\[0\]: unknown capability "telepathy"/);
    expect(() => catalog.query({ minContext: -1 })).to.throw(NeedError, /minContext: expected a whole number/);
    expect(() => catalog.query({ version: 'newest' })).to.throw(NeedError, /version: expected "latest"/);
  });

  it('refuses a query of the wrong shape with NeedError naming the field (raw TypeErrors before)', () => {
    expect(() => catalog.query(null as never)).to.throw(NeedError, /query: expected an object/);
    expect(() => catalog.query({ capabilities: 'vision' as never })).to.throw(NeedError, /capabilities: expected a list/);
    expect(() => catalog.query({ family: 5 as never })).to.throw(NeedError, /family/);
    expect(() => catalog.query({ family: '' })).to.throw(NeedError, /family/);
    expect(() => catalog.query({ openWeights: 'yes' as never })).to.throw(NeedError, /openWeights/);
  });
});
