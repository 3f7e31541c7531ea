/**
 * `mistral-router serve`: the HTTP gateway from a configuration file, until SIGINT or SIGTERM, which
 * drain it (requests in flight finish, open streams end, every reservation is settled, the store closes).
 *
 * ```
 * mistral-router serve --config mistral-router.yaml [--host 127.0.0.1] [--port 4000] [--check]
 * ```
 * `--check` validates the file against the catalogue and prints what it would serve (never a key).
 */
import { checkConfig, configCatalog, routeEndpoint, routePlan } from '../gateway/build.js';
import { loadGatewayConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/gateway.js';
import { normaliseNeed } from '../need.js';
import { integerFlag, parseFlags } from './args.js';
import { EXIT_OK, UsageError, untilSignal, type CliCommand, type CliIO } from './io.js';

const USAGE = `Usage: mistral-router serve --config FILE [--host 127.0.0.1] [--port 4000] [--check]
Runs the HTTP gateway (Mistral's and OpenAI's API) over the router, until Ctrl-C or SIGTERM.
  --config  the YAML configuration (workspaces, routes, keys, store; see examples/mistral-router.yaml)
  --host    interface to bind (default: the file's server.host, else 127.0.0.1)
  --port    TCP port, 0 for any free one (default: the file's server.port, else 4000)
  --check   validate the configuration and print what it would serve, then exit
`;

const FLAGS = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A redis:// URL without its password. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_all, auth: string) => `//${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`);
}

/** What `--check` prints: the listener, the store, workspaces, routes with their first candidates, keys. */
function describe(file: string): string {
  const loaded = loadGatewayConfig({ file });
  const catalog = configCatalog(loaded);
  checkConfig(loaded, catalog);
  const { config } = loaded;
  const lines = [`${file}: valid`, `listen: http://${config.server.host}:${config.server.port}`, `store: ${config.store === 'memory' ? 'memory' : redactUrl(config.store)}`];
  lines.push(`workspaces: ${config.workspaces.map((w) => `${w.name} (tier ${w.tier}${w.budgets === undefined ? '' : `, budget $${w.budgets.monthlyUsd} a month`})`).join(', ')}`);
  if (config.router.budgets !== undefined) lines.push(`router budget: $${config.router.budgets.monthlyUsd} a month ("${config.router.budgets.name ?? 'router'}", every workspace)`);
  const strategy = config.router.strategy ?? 'smallest-sufficient';
  lines.push('routes:');
  for (const [name, route] of Object.entries(config.routes)) {
    const endpoint = routeEndpoint(route.need);
    const need = normaliseNeed(route.need, endpoint, [], strategy);
    const models = routePlan(catalog, need, Date.now()).models.map((m) => m.id);
    lines.push(`  ${name} (${endpoint}${route.maxWaitMs === undefined ? '' : `, waits up to ${route.maxWaitMs} ms`}): ${models.slice(0, 4).join(', ')}${models.length > 4 ? `, +${models.length - 4} more` : ''}`);
  }
  lines.push('  auto: the need each request implies');
  lines.push('keys:');
  for (const key of config.keys) {
    const limits = Object.entries(key.limits ?? {}).map(([k, v]) => (k === 'monthlyUsd' ? `budget $${v} a month` : `${k} ${v}`)).join(', ');
    const models = key.models?.join(', ') ?? (key.routes === undefined ? 'all' : 'none (its routes only)');
    lines.push(`  ${key.name}: routes ${key.routes?.join(', ') ?? 'all'}; models ${models}${limits === '' ? '' : `; limits ${limits}`}`);
  }
  if (config.keys.length === 0) lines.push('  (none: every request will get 401)');
  return `${lines.join('\n')}\n`;
}

/** Run the gateway until `stop` is aborted (tests pass their own signal; the command, SIGINT/SIGTERM). */
export async function runServe(args: readonly string[], io: CliIO, stop: AbortSignal): Promise<number> {
  const { values } = parseFlags(args, FLAGS);
  if (values.help === true) {
    io.out(USAGE);
    return EXIT_OK;
  }
  if (values.config === undefined) throw new UsageError('--config FILE is required (see mistral-router serve --help)');
  if (values.host !== undefined && values.host.trim() === '') throw new UsageError('--host must not be empty');
  const port = integerFlag('port', values.port, 0);
  if (port !== undefined && port > 65535) throw new UsageError(`--port expects a whole number from 0 to 65535, received ${JSON.stringify(values.port)}`);
  if (values.check === true) {
    io.out(describe(values.config));
    return EXIT_OK;
  }
  const gateway = await startGateway({ configFile: values.config, ...(values.host === undefined ? {} : { host: values.host }), ...(port === undefined ? {} : { port }) });
  io.out(`mistral-router gateway listening on ${gateway.url}\n`);
  if (!stop.aborted) await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
  io.out('draining...\n');
  await gateway.close();
  io.out('stopped\n');
  return EXIT_OK;
}

/** The `serve` command: runs until SIGINT or SIGTERM. */
export const serveCommand: CliCommand = (args, io) => untilSignal((stop) => runServe(args, io, stop));
