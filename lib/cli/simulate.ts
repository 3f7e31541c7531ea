/**
 * `mistral-router simulate`: replay a trace through the router against the local emulator on a fake
 * clock (lib/simulate), print the summary tables and write the HTML report.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadCatalog } from '../catalog/index.js';
import type { UpstreamCharge, UpstreamWindow } from '../emulator/options.js';
import { ConfigFileError } from '../gateway/errors.js';
import { normaliseNeed, STRATEGIES, type Need, type Strategy } from '../need.js';
import { loadWorkspaceFile, type SimulatedWorkspace } from '../simulate/workspace-file.js';
import { TraceFileError } from '../simulate/errors.js';
import { readTrace, type TraceFormat } from '../simulate/trace.js';
import { replay } from '../simulate/replay.js';
import { summarise } from '../simulate/summary.js';
import { MODEL_HEADER, modelTableRows, reportHtml, totalsRows } from '../simulate/report.js';
import { capabilitiesFlag, dateFlag, integerFlag, numberFlag, parseFlags, table, tierFlag } from './args.js';
import { EXIT_USAGE, processIO, UsageError, type CliCommand } from './io.js';
import { lineProgress, terminalProgress, type Progress } from './progress.js';

const USAGE = `Usage: mistral-router simulate --trace FILE [options]

Replays a trace through the router against a local emulator on a fake clock (minutes of trace in
seconds), prints what was served, waited, refused, and writes an HTML report with a chart per model.

  --trace FILE            the requests: an Azure CSV (TIMESTAMP,ContextTokens,GeneratedTokens) or JSON lines
                          ({"at": ms, "promptTokens": N, "maxTokens": N, "need": {...}}; see the README)
  --format F              azure-csv | jsonl (default: by the extension, else by the first line)
  --minutes N             replay only the first N minutes of the trace
  --speedup N             trace time / replay time (default 1; 4 replays 12 minutes in 3 virtual minutes)
  --tier NAME             one workspace on this tier of the catalogue (default free)
  --workspace-file F      the workspaces instead (YAML: workspaces: [{ name, tier, overrides }])
  --need NEED             the need of requests that give none: JSON ('{"family":["ministral-8b"]}') or
                          a comma-separated capability list (default: chat)
  --strategy S            ${STRATEGIES.join(' | ')} (default smallest-sufficient)
  --window W              the upstream's minute windows: fixed | sliding (default fixed)
  --charge C              what the upstream charges: max-tokens | max-tokens-corrected | usage (default max-tokens)
  --max-wait-ms N         how long a request may wait for quota, virtual ms (default 30000)
  --date YYYY-MM-DD       the replay's virtual day (the models' lifecycle; default today)
  --catalog-file F        extra catalogue file (tiers, models); repeatable
  --out FILE              write the HTML report there

Exit codes: 0 replayed, 1 the replay failed, 2 a bad flag, a missing file or a malformed trace.
`;

const FLAGS = {
  trace: { type: 'string' },
  format: { type: 'string' },
  minutes: { type: 'string' },
  speedup: { type: 'string' },
  tier: { type: 'string' },
  'workspace-file': { type: 'string' },
  need: { type: 'string' },
  strategy: { type: 'string' },
  window: { type: 'string' },
  charge: { type: 'string' },
  'max-wait-ms': { type: 'string' },
  date: { type: 'string' },
  'catalog-file': { type: 'string', multiple: true },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const WINDOWS: readonly UpstreamWindow[] = ['fixed', 'sliding'];
const CHARGES: readonly UpstreamCharge[] = ['max-tokens', 'max-tokens-corrected', 'usage'];
const FORMATS: readonly TraceFormat[] = ['azure-csv', 'jsonl'];

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag} expects ${allowed.join(' or ')}, received ${JSON.stringify(value)}`);
  return value as T;
}

function existingFile(flag: string, value: string): string {
  if (!existsSync(value) || !statSync(value).isFile()) throw new UsageError(`--${flag}: no such file ${JSON.stringify(value)}`);
  return value;
}

/** `--need`: a JSON object, or a capability list; checked as the router will check it. */
function needFlag(value: string | undefined): Need {
  if (value === undefined) return {};
  let need: Need;
  if (value.trim().startsWith('{')) {
    try {
      need = JSON.parse(value) as Need;
    } catch (error) {
      throw new UsageError(`--need expects a JSON object or a comma-separated capability list; the JSON does not parse: ${(error as Error).message}`);
    }
  } else {
    need = { capabilities: capabilitiesFlag(value) ?? [] };
  }
  normaliseNeed(need, 'chat', [], 'smallest-sufficient'); // a NeedError: exit code 2, naming the field
  return need;
}

function clockTime(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

export const simulateCommand: CliCommand = async (args, io) => {
  const { values } = parseFlags(args, FLAGS);
  if (values.help === true) {
    io.out(USAGE);
    return 0;
  }
  if (values.trace === undefined) throw new UsageError('--trace FILE is required (see mistral-router simulate --help)');
  const traceFile = existingFile('trace', values.trace);
  const format = values.format === undefined ? undefined : oneOf('format', values.format, FORMATS, 'azure-csv');
  const window = oneOf('window', values.window, WINDOWS, 'fixed');
  const charge = oneOf('charge', values.charge, CHARGES, 'max-tokens');
  const strategy = oneOf<Strategy>('strategy', values.strategy, STRATEGIES, 'smallest-sufficient');
  const speedup = numberFlag('speedup', values.speedup, 0, 100_000) ?? 1;
  if (speedup === 0) throw new UsageError('--speedup expects a number above 0, received "0"');
  const minutes = numberFlag('minutes', values.minutes, 0, 1e6);
  const maxWaitMs = integerFlag('max-wait-ms', values['max-wait-ms']) ?? 30_000;
  const need = needFlag(values.need);
  if (values.tier !== undefined && values['workspace-file'] !== undefined) throw new UsageError('give --tier or --workspace-file, not both (a workspace file names each workspace\'s tier)');
  const out = values.out === undefined ? undefined : resolve(values.out);
  if (out !== undefined && !existsSync(dirname(out))) throw new UsageError(`--out: the folder ${JSON.stringify(dirname(out))} does not exist`);
  const start = values.date === undefined ? Date.now() : dateFlag(values.date);
  const catalog = loadCatalog({ files: values['catalog-file'] ?? [] });

  let workspaces: SimulatedWorkspace[];
  let requests;
  try {
    workspaces = values['workspace-file'] === undefined ? [{ name: 'simulate', tier: tierFlag(catalog, values.tier) }] : loadWorkspaceFile(existingFile('workspace-file', values['workspace-file']), catalog);
    requests = readTrace(traceFile, { ...(format === undefined ? {} : { format }), ...(minutes === undefined ? {} : { minutes }) }).requests;
  } catch (error) {
    // The files named on the command line are its input: a malformed one is a usage error, at its line.
    if (TraceFileError.isInstance(error) || ConfigFileError.isInstance(error)) {
      io.err(`mistral-router simulate: ${error.message} [${error.code}]\n`);
      return EXIT_USAGE;
    }
    throw error;
  }

  io.out(`replaying ${requests.length.toLocaleString('en-US')} requests of ${traceFile} at x${speedup}, ${window} windows charging ${charge}, through ${workspaces.map((w) => `${w.name} (${w.tier})`).join(', ')}\n`);
  const terminal = io === processIO && process.stdout.isTTY === true;
  const progress: Progress = terminal ? terminalProgress(process.stdout, 'simulate', requests.length) : lineProgress(io.out, 'simulate', requests.length);
  let result;
  try {
    result = await replay({
      requests,
      catalog,
      workspaces,
      need,
      speedup,
      strategy,
      upstream: { window, charge },
      maxWaitMs,
      start,
      onProgress: (p) => progress.update(p.arrived, `requests arrived, ${p.settled.toLocaleString('en-US')} settled, virtual ${clockTime(p.virtualMs)}`),
    });
  } finally {
    progress.stop();
  }
  const summary = summarise(result);
  io.out('\n');
  io.out(table(['', 'count', ''], totalsRows(summary)));
  io.out('\n');
  io.out(table(MODEL_HEADER, modelTableRows(summary)));
  io.out(`\nreplayed ${(summary.virtualMs / 60_000).toFixed(2)} virtual minutes in ${(result.wallMs / 1000).toFixed(1)} s of wall-clock time\n`);
  if (out !== undefined) {
    const context = { trace: traceFile, speedup, window, charge, workspaces: workspaces.map((w) => `${w.name} (${w.tier})`), need: JSON.stringify(need) };
    writeFileSync(out, reportHtml(summary, result, context));
    io.out(`report: ${out}\n`);
  }
  return 0;
};
