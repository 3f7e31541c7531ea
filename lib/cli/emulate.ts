/**
 * `mistral-router emulate`: run the Mistral emulator from the command line until SIGINT or SIGTERM.
 *
 * ```
 * mistral-router emulate --tier free --port 8080 --host 127.0.0.1 --latency-ms 50 --fault-rate 0.1 --keys k1,k2 --seed 7
 * ```
 */
import { parseArgs } from 'node:util';
import { loadCatalog } from '../catalog/index.js';
import { startEmulator } from '../emulator/index.js';
import { joinNegativeValues } from './args.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, untilSignal, type CliCommand, type CliIO } from './io.js';

const USAGE = `Usage: mistral-router emulate [--tier free] [--port 8080] [--host 127.0.0.1] [--latency-ms N]
                              [--fault-rate R] [--keys k1,k2] [--seed N]
Runs a local Mistral-compatible server that meters like the tier's limits, until Ctrl-C.
  --tier        usage tier of the catalogue (default free)
  --port        TCP port, 0 for any free one (default 8080)
  --host        interface to bind (default 127.0.0.1)
  --latency-ms  delay before every model response, in ms (default 0)
  --fault-rate  share of requests answered 500/502/503, between 0 and 1 (default 0)
  --keys        comma-separated API keys to accept (default: any non-empty key)
  --seed        seed of the fault generator (default 1)
`;

/** What the command line asked for, validated. */
export interface EmulateArguments {
  readonly tier: string;
  readonly port: number;
  readonly host: string;
  readonly latencyMs: number;
  readonly faultRate: number;
  readonly keys: readonly string[] | undefined;
  readonly seed: number;
  readonly help: boolean;
}

function numberOption(name: string, raw: string | undefined, fallback: number, check: (value: number) => boolean, expected: string): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || !check(value)) throw new UsageError(`--${name} must be ${expected}, received "${raw}"`);
  return value;
}

const EMULATE_FLAGS = {
  tier: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'latency-ms': { type: 'string' },
  'fault-rate': { type: 'string' },
  keys: { type: 'string' },
  seed: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parse the arguments of `emulate`; anything unknown or out of range throws a {@link UsageError}. */
export function parseEmulateArguments(args: readonly string[]): EmulateArguments {
  let values;
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(args, EMULATE_FLAGS),
      strict: true,
      allowPositionals: false,
      options: EMULATE_FLAGS,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message.replace(/\n/g, ' ')} (see mistral-router emulate --help)`);
  }
  const keys = values.keys?.split(',').map((key) => key.trim());
  if (keys !== undefined && (keys.length === 0 || keys.some((key) => key === ''))) {
    throw new UsageError(`--keys must be a comma-separated list of non-empty keys, received "${values.keys}"`);
  }
  if (values.host !== undefined && values.host.trim() === '') throw new UsageError('--host must not be empty');
  if (values.tier !== undefined && values.tier.trim() === '') throw new UsageError('--tier must not be empty');
  return {
    tier: values.tier ?? 'free',
    port: numberOption('port', values.port, 8080, (v) => Number.isInteger(v) && v >= 0 && v <= 65535, 'an integer between 0 and 65535'),
    host: values.host ?? '127.0.0.1',
    latencyMs: numberOption('latency-ms', values['latency-ms'], 0, (v) => v >= 0, 'a number of milliseconds >= 0'),
    faultRate: numberOption('fault-rate', values['fault-rate'], 0, (v) => v >= 0 && v <= 1, 'a number between 0 and 1'),
    keys,
    seed: numberOption('seed', values.seed, 1, Number.isInteger, 'an integer'),
    help: values.help ?? false,
  };
}

/**
 * Run the emulator until `stop` is aborted. Separate from {@link emulateCommand} so that tests drive it
 * with their own AbortSignal instead of sending the process a signal.
 */
export async function runEmulate(args: readonly string[], io: CliIO, stop: AbortSignal): Promise<number> {
  const options = parseEmulateArguments(args);
  if (options.help) {
    io.out(USAGE);
    return EXIT_OK;
  }
  const catalog = loadCatalog();
  if (!catalog.hasTier(options.tier)) {
    throw new UsageError(`--tier: unknown tier "${options.tier}"; known tiers: ${catalog.tiers.map((tier) => tier.name).join(', ')}`);
  }
  let emulator;
  try {
    emulator = await startEmulator({
      catalog,
      tier: options.tier,
      port: options.port,
      host: options.host,
      latencyMs: options.latencyMs,
      faults: options.faultRate > 0 ? { errorRate: options.faultRate } : undefined,
      apiKeys: options.keys,
      seed: options.seed,
    });
  } catch (error) {
    io.err(`mistral-router emulate: cannot listen on ${options.host}:${options.port}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
  io.out(`Mistral emulator (tier ${options.tier}) listening on ${emulator.url}\n`);
  if (!stop.aborted) await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
  await emulator.stop();
  const stats = emulator.stats();
  io.out(`Stopped after ${stats.requests} requests.\n`);
  return EXIT_OK;
}

/** The `emulate` command: runs until SIGINT or SIGTERM. */
export const emulateCommand: CliCommand = (args, io) => untilSignal((stop) => runEmulate(args, io, stop));
