/**
 * `mistral-router catalog`: the models of the catalogue, filtered, as a table or JSON.
 */
import { loadCatalog } from '../catalog/index.js';
import { capabilitiesFlag, catalogFlags, formatContext, formatCount, integerFlag, parseFlags, table, tierFlag } from './args.js';
import type { CliCommand } from './io.js';

const help = `Usage: mistral-router catalog [options]

  --capability LIST   only models with every capability (comma-separated: vision,function_calling)
  --min-context N     only models whose context window is at least N tokens
  --family F          only models of family F (e.g. mistral-small, magistral-small)
  --version V         latest | 25.06 | >=25.03 | <25.01 ...
  --open-weights      only models whose weights are open
  --tier NAME         tier whose limits are shown (default: free)
  --catalog-file F    extra catalogue file (models, aliases, tiers); repeatable
  --json              print JSON instead of a table
`;

export const catalogCommand: CliCommand = async (args, io) => {
  const { values } = parseFlags(args, catalogFlags);
  if (values.help) {
    io.out(help);
    return 0;
  }
  const catalog = loadCatalog({ files: values['catalog-file'] ?? [] });
  const tierName = tierFlag(catalog, values.tier);
  const models = catalog.query({
    capabilities: capabilitiesFlag(values.capability),
    minContext: integerFlag('min-context', values['min-context']),
    family: values.family,
    version: values.version,
    openWeights: values['open-weights'] === true ? true : undefined,
  });
  const rows = models.map((model) => ({ model, limits: catalog.limits(tierName, model.id) }));
  if (values.json) {
    io.out(`${JSON.stringify(rows.map(({ model, limits }) => ({ ...model, limits: { tier: tierName, ...limits } })), null, 2)}\n`);
    return 0;
  }
  io.out(
    table(
      ['model', 'family', 'version', 'context', 'capabilities', `${tierName} tok/min`, `${tierName} tok/month`],
      rows.map(({ model, limits }) => [
        model.id,
        model.family,
        model.version ?? '?',
        formatContext(model.contextWindow),
        model.capabilities.join(','),
        formatCount(limits.tokensPerMinute),
        formatCount(limits.tokensPerMonth),
      ]),
    ),
  );
  io.out(`${models.length} model(s); ${tierName} tier: ${formatCount(catalog.tier(tierName).requestsPerSecond)} request(s)/s per workspace\n`);
  return 0;
};
