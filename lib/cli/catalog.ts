/**
 * `mistral-router catalog`: the models of the catalogue, filtered, with their lifecycle on a day, as a
 * table or JSON; with `--live`, the catalogue merged with an API's `GET /v1/models` and the drift between them.
 */
import { Mistral } from '@mistralai/mistralai';
import { catalogDrift, dayOf, loadCatalog, mergeCatalogCards, type Catalog, type CatalogDrift, type CardIssue } from '../catalog/index.js';
import { capabilitiesFlag, catalogFlags, dateFlag, formatContext, formatCount, formatLifecycle, integerFlag, parseFlags, table, tierFlag } from './args.js';
import { EXIT_FAILURE, UsageError, type CliCommand, type CliIO } from './io.js';

const help = `Usage: mistral-router catalog [options]

  --capability LIST   only models with every capability (comma-separated: vision,function_calling)
  --min-context N     only models whose context window is at least N tokens
  --family F          only models of family F (e.g. mistral-small, magistral-small)
  --version V         latest | 25.06 | >=25.03 | <25.01 ...
  --open-weights      only models whose weights are open
  --tier NAME         tier whose limits are shown (default: free)
  --catalog-file F    extra catalogue file (models, aliases, tiers); repeatable
  --date YYYY-MM-DD   judge the lifecycle (deprecated, retired) on this UTC day (default: today)
  --include-retired   list retired models too (hidden by default)
  --live              merge the API's GET /v1/models (key: MISTRAL_API_KEY) and print the drift
  --server-url URL    the API for --live (e.g. a local emulator; then MISTRAL_API_KEY may be unset)
  --json              print JSON instead of a table
`;

const flags = {
  ...catalogFlags,
  'include-retired': { type: 'boolean' },
  live: { type: 'boolean' },
  'server-url': { type: 'string' },
} as const;

/** The key --live sends to a --server-url when MISTRAL_API_KEY is unset (the emulator takes any key). */
const LOCAL_KEY = 'mistral-router-cli';

export const catalogCommand: CliCommand = async (args, io) => {
  const { values } = parseFlags(args, flags);
  if (values.help) {
    io.out(help);
    return 0;
  }
  const now = dateFlag(values.date);
  const bundled = loadCatalog({ files: values['catalog-file'] ?? [] });
  const tierName = tierFlag(bundled, values.tier);
  let catalog: Catalog = bundled;
  let live: { drift: CatalogDrift; issues: readonly CardIssue[]; url: string } | undefined;
  if (values.live === true) {
    const fetched = await fetchLive(values['server-url'], bundled, now, io);
    if (fetched === undefined) return EXIT_FAILURE;
    catalog = fetched.catalog;
    live = fetched;
  } else if (values['server-url'] !== undefined) {
    throw new UsageError('--server-url is used with --live');
  }
  const day = catalog.lifecycleOn(now);
  const models = catalog
    .query({
      capabilities: capabilitiesFlag(values.capability),
      minContext: integerFlag('min-context', values['min-context']),
      family: values.family,
      version: values.version,
      openWeights: values['open-weights'] === true ? true : undefined,
    })
    .filter((model) => (live === undefined || catalog.isServed(LIVE_WORKSPACE, model.id)) && (values['include-retired'] === true || day.status(model.id) !== 'retired'));
  const rows = models.map((model) => ({ model, limits: catalog.limits(tierName, model.id), lifecycle: day.of(model.id) }));
  if (values.json) {
    const listed = rows.map(({ model, limits, lifecycle }) => ({ ...model, lifecycle, limits: { tier: tierName, ...limits } }));
    io.out(`${JSON.stringify(live === undefined ? listed : { day: day.day, models: listed, drift: live.drift, issues: live.issues }, null, 2)}\n`);
    return 0;
  }
  io.out(
    table(
      ['model', 'family', 'version', 'context', 'capabilities', 'status', `${tierName} tok/min`, `${tierName} tok/month`],
      rows.map(({ model, limits, lifecycle }) => [
        model.id,
        model.family,
        model.version ?? '?',
        formatContext(model.contextWindow),
        model.capabilities.join(','),
        formatLifecycle(lifecycle),
        formatCount(limits.tokensPerMinute),
        formatCount(limits.tokensPerMonth),
      ]),
    ),
  );
  const hidden = values['include-retired'] === true ? 0 : catalog.models.filter((model) => day.status(model.id) === 'retired').length;
  io.out(
    `${models.length} model(s) on ${day.day}${hidden > 0 ? ` (${hidden} retired hidden: --include-retired lists them)` : ''}; ${tierName} tier: ${formatCount(catalog.tier(tierName).requestsPerSecond)} request(s)/s per workspace\n`,
  );
  if (live !== undefined) printDrift(io, live.drift, live.issues, live.url);
  return 0;
};

/** The workspace name the live list is merged under. */
const LIVE_WORKSPACE = 'live';

async function fetchLive(serverURL: string | undefined, bundled: Catalog, now: number, io: CliIO) {
  const apiKey = process.env.MISTRAL_API_KEY ?? (serverURL === undefined ? undefined : LOCAL_KEY);
  if (apiKey === undefined || apiKey === '') throw new UsageError('--live needs MISTRAL_API_KEY in the environment (or --server-url for a local emulator)');
  if (serverURL !== undefined && !/^https?:\/\/[^/@\s]+(\/.*)?$/.test(serverURL)) throw new UsageError(`--server-url expects an http(s) URL without credentials, received ${JSON.stringify(serverURL.replace(/\/\/[^@/]*@/, '//***@'))}`);
  const url = serverURL ?? 'https://api.mistral.ai';
  let cards: unknown[];
  try {
    const list = await new Mistral({ apiKey, ...(serverURL === undefined ? {} : { serverURL }) }).models.list();
    cards = (list.data ?? []) as unknown[];
  } catch (error) {
    // The SDK's message names the status and body, never the key.
    io.err(`mistral-router catalog: GET ${url}/v1/models failed: ${((error as Error).message ?? String(error)).split('\n')[0]}\n`);
    return undefined;
  }
  const merge = mergeCatalogCards(bundled, cards, { workspace: LIVE_WORKSPACE, now });
  return { catalog: merge.catalog, drift: catalogDrift(bundled, merge, LIVE_WORKSPACE, dayOf(now)), issues: merge.issues, url };
}

function printDrift(io: CliIO, drift: CatalogDrift, issues: readonly CardIssue[], url: string): void {
  io.out(`\ndrift between the bundled catalogue and ${url}/v1/models:\n`);
  io.out(`  listed by the API, not in the bundled catalogue (${drift.added.length}): ${drift.added.join(', ') || 'none'}\n`);
  const missing = drift.missing.filter((entry) => entry.status !== 'retired');
  const expected = drift.missing.length - missing.length;
  io.out(`  bundled, no longer served (${missing.length}${expected > 0 ? `, and ${expected} retired as the catalogue expects` : ''}): ${missing.map((entry) => `${entry.model} (${entry.status})`).join(', ') || 'none'}\n`);
  io.out(`  changed facts (${drift.changed.length}):\n`);
  for (const change of drift.changed) io.out(`    ${change.model} ${change.field}: ${show(change.bundled)} -> ${show(change.live)}\n`);
  if (issues.length > 0) {
    io.out(`  cards skipped or corrected (${issues.length}):\n`);
    for (const issue of issues) io.out(`    ${issue.message} [${issue.code}]\n`);
  }
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (Array.isArray(value)) return value.length === 0 ? '[]' : [...value].sort().join(',');
  return String(value);
}

