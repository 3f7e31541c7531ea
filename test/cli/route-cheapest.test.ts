/** `mistral-router route --strategy cheapest`: the bundled catalogue's candidates in cost order for the given size. */
import { expect } from 'chai';
import { loadCatalog } from '../../lib/catalog/index.js';
import { expectedUsd } from '../../lib/telemetry/cost.js';
import { runCli as run } from '../helpers/cli.js';

describe('cli: route --strategy cheapest', () => {
  it('lists the candidates by expected cost of --prompt-tokens and --max-tokens, unknown prices last', async () => {
    const { code, out } = await run('route', '--strategy', 'cheapest', '--prompt-tokens', '2000', '--max-tokens', '500', '--json', '--date', '2026-06-01');
    expect(code).to.equal(0);
    const plan = JSON.parse(out) as { chosen: string; need: { strategy: string }; candidates: { model: string }[] };
    expect(plan.need.strategy).to.equal('cheapest');
    const catalog = loadCatalog();
    const costs = plan.candidates.map((c) => expectedUsd(catalog.model(c.model), 'chat', 2_000, 500) ?? Number.POSITIVE_INFINITY);
    expect(costs.length).to.be.greaterThan(3);
    expect(costs).to.deep.equal([...costs].sort((a, b) => a - b));
    expect(plan.chosen).to.equal(plan.candidates[0]?.model);
    expect(Number.isFinite(costs[0])).to.equal(true);
  });
});
