/**
 * Argument helpers shared by the commands: strict parsing with messages that name the flag and the
 * value received.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CAPABILITIES, isCapability, type Capability, type Catalog } from '../catalog/index.js';
import { UsageError } from './io.js';

/** parseArgs in strict mode; any parse failure becomes a UsageError (exit code 2). */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  args: readonly string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>> {
  try {
    return parseArgs({ args: joinNegativeValues(args, options), options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '').replace(/\n/g, ' '));
  }
}

/**
 * `--prompt-tokens -5` as `--prompt-tokens=-5`: parseArgs takes a value that starts with a dash for an
 * option (and asks for the `=` form), so a negative number would get a message about syntax instead of
 * the flag's own check, which names the range it accepts.
 */
export function joinNegativeValues(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const next = args[i + 1];
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/** A tier of the catalogue, by name; an unknown one is a usage error naming the known tiers. */
export function tierFlag(catalog: Catalog, value: string | undefined): string {
  const name = value ?? 'free';
  if (!catalog.tiers.some((tier) => tier.name === name)) {
    throw new UsageError(`--tier: unknown tier ${JSON.stringify(name)}; known tiers: ${catalog.tiers.map((tier) => tier.name).join(', ')}`);
  }
  return name;
}

/** A comma-separated list of names (models); empty items are refused. */
export function listFlag(name: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map((s) => s.trim());
  if (list.some((item) => item === '')) throw new UsageError(`--${name} expects a comma-separated list of names, received ${JSON.stringify(value)}`);
  return list;
}

/** Flags every catalogue-reading command takes: the model filters, the tier, extra files, output. */
export const catalogFlags = {
  capability: { type: 'string' },
  'min-context': { type: 'string' },
  family: { type: 'string' },
  version: { type: 'string' },
  'open-weights': { type: 'boolean' },
  tier: { type: 'string' },
  'catalog-file': { type: 'string', multiple: true },
  date: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * The instant whose UTC day the lifecycle is judged on: `--date YYYY-MM-DD`, else now. A calendar check
 * refuses 2026-02-30 rather than letting Date roll it into March.
 */
export function dateFlag(value: string | undefined, now: () => number = Date.now): number {
  if (value === undefined) return now();
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : Number.NaN;
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) throw new UsageError(`--date expects a day YYYY-MM-DD, received ${JSON.stringify(value)}`);
  return ms;
}

/** A model's lifecycle on a day, as the tables print it: `current`, `deprecated (retires D)`, `retired -> X`. */
export function formatLifecycle(lifecycle: { status: string; retired: string | null; successor: string | null } | undefined): string {
  if (lifecycle === undefined || lifecycle.status === 'current') return 'current';
  if (lifecycle.status === 'deprecated') return lifecycle.retired === null ? 'deprecated' : `deprecated (retires ${lifecycle.retired})`;
  return lifecycle.successor === null ? `retired ${lifecycle.retired ?? ''}`.trim() : `retired -> ${lifecycle.successor}`;
}

/** A whole number >= min from a flag value. */
export function integerFlag(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${name} expects a whole number >= ${min}, received ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** A number in [min, max] from a flag value. */
export function numberFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} expects a number from ${min} to ${max}, received ${JSON.stringify(value)}`);
  }
  return n;
}

/** A comma-separated capability list. */
export function capabilitiesFlag(value: string | undefined): Capability[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new UsageError(`--capability expects a comma-separated list of capabilities (known: ${CAPABILITIES.join(', ')}), received ${JSON.stringify(value)}`);
  for (const item of list) {
    if (!isCapability(item)) throw new UsageError(`--capability: unknown capability ${JSON.stringify(item)}; known: ${CAPABILITIES.join(', ')}`);
  }
  return list as Capability[];
}

/** Render rows as an aligned text table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** A context window: 131072 -> "128k" (Mistral counts k as 1024 here), null -> "unknown". */
export function formatContext(value: number | null): string {
  if (value === null) return 'unknown';
  return value % 1024 === 0 ? `${value / 1024}k` : String(value);
}

/** 500000 -> "500k", 1000000000 -> "1G", null -> "unknown". */
export function formatCount(value: number | null): string {
  if (value === null) return 'unknown';
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, suffix] of units) if (value >= size && value % (size / 10) === 0) return `${value / size}${suffix}`;
  return String(value);
}
