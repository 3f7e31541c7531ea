/**
 * `mistral-router route`: the dry run. Prints the plan for a need: the chosen model, then every other
 * model with why it lost (missing capability, context too small, quota, deprecated...). Calls nothing.
 */
import { loadCatalog } from '../catalog/index.js';
import { normaliseNeed, STRATEGIES, type Endpoint, type Strategy } from '../need.js';
import { DEFAULT_UNKNOWN_CONTEXT_TOKENS, fitContext, rankModels } from '../router/plan.js';
import { capabilitiesFlag, catalogFlags, dateFlag, formatContext, formatCount, integerFlag, listFlag, parseFlags, table, tierFlag } from './args.js';
import { UsageError, type CliCommand } from './io.js';

const help = `Usage: mistral-router route [options]

  --capability LIST    capabilities the model must have (comma-separated)
  --endpoint E         chat (default) | embeddings | fim
  --prompt-tokens N    estimated prompt tokens (default 0)
  --max-tokens N       output tokens reserved (default 1024 for chat and fim)
  --min-context N      minimum context window
  --family F           only this family;  --version V   latest | 25.06 | >=25.03
  --open-weights       only open-weights models
  --model M            a model (or alias) to try first
  --prefer LIST        models to try first, in this order (comma-separated); implies --strategy prefer
  --exclude LIST       models never to use (comma-separated)
  --strategy S         smallest-sufficient (default) | newest | prefer | cheapest (by --prompt-tokens and --max-tokens at catalogue prices)
  --tier NAME          the tier whose limits apply (default free)
  --catalog-file F     extra catalogue file; repeatable
  --date YYYY-MM-DD    plan on this UTC day: retired models are never chosen (default: today)
  --json               print the plan as JSON

Exit codes: 0 a model was chosen, 1 no model can serve the need, 2 a bad flag or value.
`;

export const routeCommand: CliCommand = async (args, io) => {
  const { values } = parseFlags(args, {
    ...catalogFlags,
    endpoint: { type: 'string' },
    'prompt-tokens': { type: 'string' },
    'max-tokens': { type: 'string' },
    model: { type: 'string' },
    prefer: { type: 'string' },
    exclude: { type: 'string' },
    strategy: { type: 'string' },
  });
  if (values.help) {
    io.out(help);
    return 0;
  }
  const endpoint = (values.endpoint ?? 'chat') as Endpoint;
  if (!['chat', 'embeddings', 'fim'].includes(endpoint)) throw new UsageError(`--endpoint expects chat, embeddings or fim, received ${JSON.stringify(values.endpoint)}`);
  const prefer = listFlag('prefer', values.prefer);
  const exclude = listFlag('exclude', values.exclude);
  const strategy = (values.strategy ?? (prefer !== undefined ? 'prefer' : 'smallest-sufficient')) as Strategy;
  if (!STRATEGIES.includes(strategy)) throw new UsageError(`--strategy expects one of ${STRATEGIES.join(', ')}, received ${JSON.stringify(values.strategy)}`);
  const catalog = loadCatalog({ files: values['catalog-file'] ?? [] });
  const tier = tierFlag(catalog, values.tier);
  const promptTokens = integerFlag('prompt-tokens', values['prompt-tokens']) ?? 0;
  const maxTokensFlag = integerFlag('max-tokens', values['max-tokens']);
  const maxTokens = endpoint === 'embeddings' ? 0 : (maxTokensFlag ?? 1024); // embeddings produce no output tokens
  const need = normaliseNeed(
    {
      capabilities: capabilitiesFlag(values.capability),
      minContext: integerFlag('min-context', values['min-context']),
      family: values.family,
      version: values.version,
      openWeights: values['open-weights'] === true,
      prefer,
      exclude,
      strategy,
    },
    endpoint,
    [],
    strategy,
  );
  const total = promptTokens + maxTokens;
  const lifecycle = catalog.lifecycleOn(dateFlag(values.date));
  const ranked = rankModels(catalog, need, values.model, true, { lifecycle, size: { endpoint, input: promptTokens, output: maxTokens } });
  const plan = fitContext(ranked, total, need.minContext, DEFAULT_UNKNOWN_CONTEXT_TOKENS);
  // Quota, as far as a dry run can know it: a request larger than a limit never fits that model.
  const rejected = [...plan.rejected];
  const candidates = plan.models.filter((model) => {
    const limits = catalog.limits(tier, model.id);
    const over = limits.tokensPerMinute !== null && total > limits.tokensPerMinute ? `tokens-per-minute ${limits.tokensPerMinute}` : limits.requestsPerSecond === 0 ? 'requests-per-second 0' : undefined;
    if (over !== undefined) rejected.push({ model: model.id, reason: `quota: the request (${total} tokens) exceeds ${over} in tier ${tier}` });
    return over === undefined;
  });
  if (values.json) {
    io.out(`${JSON.stringify({ endpoint, tier, day: lifecycle.day, replaced: ranked.replaced ?? null, warnings: ranked.warnings ?? [], tokens: { prompt: promptTokens, maxOutput: maxTokens, total }, need, chosen: candidates[0]?.id ?? null, candidates: candidates.map((m) => ({ model: m.id, contextWindow: m.contextWindow, limits: catalog.limits(tier, m.id) })), rejected }, null, 2)}\n`);
    return candidates.length > 0 ? 0 : 1;
  }
  io.out(`need: ${need.capabilities.join(', ')}; ${total} tokens (${promptTokens} prompt + ${maxTokens} output); strategy ${strategy}; tier ${tier}; day ${lifecycle.day}\n`);
  if (ranked.replaced !== undefined) io.out(`replaced: ${ranked.replaced.requested} is retired; ${ranked.replaced.by ?? 'nothing'} takes its place\n`);
  for (const warning of ranked.warnings ?? []) io.out(`warning: ${warning.message}\n`);
  if (candidates.length === 0) io.out('chosen: none: no model can serve this need\n');
  else io.out(`chosen: ${candidates[0]?.id}\n`);
  io.out('\ncandidates, in order (the router falls back along this list when quota runs out):\n');
  io.out(
    table(
      ['#', 'model', 'context', `${tier} tok/min`, `${tier} tok/month`],
      candidates.map((m, i) => {
        const limits = catalog.limits(tier, m.id);
        return [String(i + 1), m.id, formatContext(m.contextWindow), formatCount(limits.tokensPerMinute), formatCount(limits.tokensPerMonth)];
      }),
    ),
  );
  io.out('\nrejected:\n');
  io.out(table(['model', 'why'], rejected.map((r) => [r.model, r.reason])));
  return candidates.length > 0 ? 0 : 1;
};
