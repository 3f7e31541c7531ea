/**
 * The gateway's configuration: a YAML file (or the same shape as an object) validated by a JSON Schema,
 * with `${ENV}` references filled in from the environment, defaults applied, and every problem a
 * {@link ConfigFileError} naming the file, the line and the field. Checks that need the catalogue (a
 * route no model serves, a key allowed an unknown model) are made where the gateway is built
 * (build.ts), through {@link LoadedConfig.fail}, with the same locations.
 *
 * Secrets: a workspace's `apiKey` and a virtual key's `key` are read from the environment here; a virtual
 * key is kept only as its SHA-256, and no secret is ever part of an error message.
 */
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { CatalogDocument, compileSchema, type LocatedErrorFactory } from '../catalog/document.js';
import { ConfigFileError } from './errors.js';
import type { Need, Strategy } from '../need.js';
import type { RouterBudgetConfig } from '../router/budgets.js';
import type { WorkspaceConfig } from '../router/options.js';
import { ENV_REFERENCE, gatewayConfigSchema } from './config-schema.js';

/** How the HTTP server listens, limits and drains. */
export interface ServerSettings {
  /** @default '127.0.0.1' */
  readonly host: string;
  /** @default 4000 */
  readonly port: number;
  /** Largest request body; a larger one gets 413. @default 10485760 (10 MiB) */
  readonly bodyLimitBytes: number;
  /** A client that has not sent its headers within this is disconnected. @default 10000 */
  readonly headersTimeoutMs: number;
  /** A client that has not sent its whole request (body included) within this gets 408. @default 30000 */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. @default 5000 */
  readonly keepAliveTimeoutMs: number;
  /** On close (SIGTERM), how long calls and streams in flight may take to finish before they are cut. @default 10000 */
  readonly drainTimeoutMs: number;
  /** One JSON line per request on stderr (key name, never the key). @default false */
  readonly accessLog: boolean;
  /** Serve `GET /dashboard` and its data. @default true */
  readonly dashboard: boolean;
}

/** A named route: the need its requests are routed by (like a LiteLLM model group). */
export interface RouteConfig {
  readonly need?: Need;
  /** How long a request may wait for quota before 429. @default router.maxWaitMs */
  readonly maxWaitMs?: number;
}

/** A virtual key's own limits, metered in the quota store like a workspace's windows. */
export interface KeyLimits {
  readonly requestsPerSecond?: number;
  readonly tokensPerMinute?: number;
  readonly tokensPerMonth?: number;
  /**
   * USD per calendar month (UTC), priced from the catalogue: each call holds its estimated cost and settles
   * at the real one (a model without a price is passed over for this key's calls).
   */
  readonly monthlyUsd?: number;
}

/** A virtual key as the gateway keeps it: its name and the SHA-256 of the key (never the key). */
export interface KeyConfig {
  readonly name: string;
  /** Lower-case hex. */
  readonly sha256: string;
  /** Route names (and `auto`) the key may use; absent: every route and `auto`. */
  readonly routes?: readonly string[];
  /** Model ids or aliases the key may name; absent: every model. */
  readonly models?: readonly string[];
  readonly limits?: KeyLimits;
}

/** The router's options that a configuration file sets. */
export interface RouterSettings {
  readonly serverURL?: string;
  readonly maxWaitMs?: number;
  readonly strategy?: Strategy;
  readonly maxAttempts?: number;
  readonly cooldownMs?: number;
  readonly timeoutMs?: number;
  readonly defaultMaxTokens?: number;
  readonly fallbacks?: Readonly<Record<string, readonly string[]>>;
  /** The router's own monthly budget over every workspace (see RouterOptions.budgets). */
  readonly budgets?: RouterBudgetConfig;
}

/** A configuration, validated, with its defaults. */
export interface GatewayConfig {
  readonly server: ServerSettings;
  /** `memory`, or a redis:// URL. @default 'memory' */
  readonly store: string;
  /** The Redis store's key prefix (stores with different prefixes share nothing). @default the store's ('mr:') */
  readonly storeKeyPrefix?: string;
  /** Extra catalogue files (absolute paths: relative ones are resolved against the config file's folder). */
  readonly catalogFiles: readonly string[];
  readonly router: RouterSettings;
  readonly workspaces: readonly WorkspaceConfig[];
  readonly routes: Readonly<Record<string, RouteConfig>>;
  readonly keys: readonly KeyConfig[];
}

/** The shape of the file, as written (before `${ENV}` references are filled in and defaults applied). */
export interface GatewayConfigInput {
  readonly server?: Partial<ServerSettings>;
  readonly store?: string | { readonly redis: string; readonly keyPrefix?: string };
  readonly catalog?: { readonly files?: readonly string[] };
  readonly router?: RouterSettings;
  readonly workspaces: readonly WorkspaceConfig[];
  readonly routes?: Readonly<Record<string, RouteConfig>>;
  readonly keys?: readonly ({ readonly name: string; readonly sha256?: string; readonly key?: string } & Omit<KeyConfig, 'name' | 'sha256'>)[];
}

/** A loaded configuration, and how to report a later problem at the line of a field. */
export interface LoadedConfig {
  readonly config: GatewayConfig;
  /** The file's name (a path, or `<config>` for an object). */
  readonly file: string;
  /** A ConfigFileError at a JSON pointer of the file (`key`: a property of the object at the pointer). */
  fail(pointer: string, message: string, key?: string): ConfigFileError;
}

export const DEFAULT_SERVER: ServerSettings = {
  host: '127.0.0.1',
  port: 4000,
  bodyLimitBytes: 10 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  drainTimeoutMs: 10_000,
  accessLog: false,
  dashboard: true,
};

const configError: LocatedErrorFactory = (_code, message, location, options) => new ConfigFileError({ ...location, message, cause: options?.cause });

/** Where the configuration comes from: a file, YAML text, or an object of the file's shape. */
export type ConfigSource = { readonly file: string } | { readonly text: string; readonly name?: string } | { readonly object: GatewayConfigInput };

/**
 * Read, validate and complete a configuration. `env` fills the `${NAME}` and `${NAME:-default}`
 * references of every string (a missing variable without a default is an error at its line).
 */
export function loadGatewayConfig(source: ConfigSource, env: Readonly<Record<string, string | undefined>> = process.env): LoadedConfig {
  const document =
    'file' in source
      ? CatalogDocument.read(source.file, configError)
      : 'text' in source
        ? CatalogDocument.parse({ name: source.name ?? '<config>', text: source.text }, configError)
        : CatalogDocument.parse({ name: '<config>', text: JSON.stringify(source.object, null, 2) ?? 'null' }, configError);
  const fail = (pointer: string, message: string, key?: string) => document.error('CONFIG_INVALID', message, pointer, key) as ConfigFileError;
  // Filled in before validation, so that `${PORT}`-free fields such as a `serverURL` from the environment
  // are checked as they will be used; values from the environment are never quoted in an error.
  const filled = new Set<string>();
  const raw = interpolate(document.data, '', env, fail, filled) as GatewayConfigInput;
  document.validate(compileSchema(gatewayConfigSchema), raw, filled);
  checkKeyReferences(document.data, fail);
  const base = 'file' in source ? dirname(resolve(source.file)) : process.cwd();
  const config: GatewayConfig = {
    server: { ...DEFAULT_SERVER, ...raw.server },
    store: typeof raw.store === 'object' ? raw.store.redis : (raw.store ?? 'memory'),
    ...(typeof raw.store === 'object' && raw.store.keyPrefix !== undefined ? { storeKeyPrefix: raw.store.keyPrefix } : {}),
    catalogFiles: (raw.catalog?.files ?? []).map((file) => resolve(base, file)),
    router: raw.router ?? {},
    workspaces: raw.workspaces,
    routes: raw.routes ?? {},
    keys: keys(raw.keys ?? [], fail),
  };
  return { config, file: document.name, fail };
}

/** The virtual keys, each as its SHA-256; two keys with one name, or with one secret, are refused. */
function keys(list: NonNullable<GatewayConfigInput['keys']>, fail: LoadedConfig['fail']): KeyConfig[] {
  const names = new Map<string, number>();
  const hashes = new Map<string, number>();
  return list.map((entry, index) => {
    const { key, sha256, ...rest } = entry;
    const previous = names.get(entry.name);
    if (previous !== undefined) throw fail(`/keys/${index}/name`, `duplicate key name ${JSON.stringify(entry.name)} (also keys[${previous}])`);
    names.set(entry.name, index);
    if ((key === undefined) === (sha256 === undefined)) throw fail(`/keys/${index}`, 'give exactly one of sha256 (the key\'s SHA-256) and key (a ${ENV_VAR} reference)');
    const hash = key === undefined ? (sha256 as string).toLowerCase() : createHash('sha256').update(key).digest('hex');
    const same = hashes.get(hash);
    if (same !== undefined) throw fail(`/keys/${index}`, `keys[${same}] and keys[${index}] have the same secret: a request could not tell them apart`);
    hashes.set(hash, index);
    return { ...rest, sha256: hash };
  });
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** A virtual key's `key` must be a `${NAME}` reference as written: the key itself never sits in the file. */
function checkKeyReferences(data: unknown, fail: LoadedConfig['fail']): void {
  const keys = (data as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) return;
  keys.forEach((entry: { key?: unknown }, index) => {
    if (entry.key !== undefined && !(typeof entry.key === 'string' && ENV_REFERENCE.test(entry.key))) {
      throw fail(`/keys/${index}/key`, 'expected a ${ENV_VAR} reference (a key never sits in the file: give its sha256, or the variable that holds it)');
    }
  });
}

/**
 * Every string with its `${NAME}` references filled in (their pointers added to `filled`); a variable
 * unset (and without a default) is an error at its line.
 */
function interpolate(value: unknown, pointer: string, env: Readonly<Record<string, string | undefined>>, fail: LoadedConfig['fail'], filled: Set<string>): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    filled.add(pointer);
    return value.replace(REFERENCE, (_whole, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw fail(pointer, `the environment variable ${name} is not set`);
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolate(item, `${pointer}/${index}`, env, fail, filled));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = interpolate(item, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, env, fail, filled);
  return out;
}
