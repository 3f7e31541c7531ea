/**
 * The router's configuration: the types of {@link RouterOptions} and per-call {@link CallOptions}, their
 * defaults, and their validation (every bad value is a ConfigError or NeedError naming the field, before
 * anything is built or reserved).
 */
import type { Catalog } from '../catalog/catalog.js';
import { loadCatalog } from '../catalog/load.js';
import { systemClock, type Clock } from '../clock.js';
import { ConfigError, NeedError, redactSecrets } from '../errors.js';
import { STRATEGIES, type Strategy } from '../need.js';
import { describeReceived } from '../received.js';
import { MemoryStore } from '../quota/memory/index.js';
import { DEFAULT_HEADER_BOUNDS } from '../quota/header-bounds.js';
import type { Fetcher } from '../mistral/node-fetch.js';
import type { QuotaStore } from '../quota/types.js';
import { TokenEstimator } from '../tokens.js';
import { CallBudget, checkBudget, type BudgetConfig, type RouterBudgetConfig } from './budgets.js';
import { DEFAULT_UNKNOWN_CONTEXT_TOKENS } from './plan.js';

/** Limits that replace a tier's for one workspace (e.g. the real ones from its console). */
export interface WorkspaceOverrides {
  readonly requestsPerSecond?: number | null;
  readonly models?: Readonly<Record<string, { readonly tokensPerMinute?: number | null; readonly tokensPerMonth?: number | null }>>;
}

/** One API key and its usage tier. */
export interface WorkspaceConfig {
  /** The name decisions, events and errors use (never the key). */
  readonly name: string;
  readonly apiKey: string;
  /** A tier name from the catalogue (e.g. `free`). */
  readonly tier: string;
  readonly overrides?: WorkspaceOverrides;
  /** A monthly budget in USD for this workspace's calls (see `budgetWarning`, `router.usage()`). */
  readonly budgets?: BudgetConfig;
}

export interface RouterOptions {
  /** The workspaces (API keys) pooled by this router; each has its own requests-per-second window. */
  readonly workspaces: readonly WorkspaceConfig[];
  /** @default loadCatalog() (the bundled catalogue) */
  readonly catalog?: Catalog;
  /** Where quota lives. @default new MemoryStore({ clock }) */
  readonly store?: QuotaStore;
  /** @default systemClock */
  readonly clock?: Clock;
  /** How long a call may wait for quota before QuotaExhaustedError. @default 30_000 */
  readonly maxWaitMs?: number;
  /** Candidate order. @default 'smallest-sufficient' */
  readonly strategy?: Strategy;
  /** The API's base URL (the emulator's in tests). @default Mistral's */
  readonly serverURL?: string;
  /**
   * The fetch the SDK calls Mistral through, e.g. `createNodeFetch()` (node:http with keep-alive agents,
   * what the gateway uses) or one that goes through a proxy. @default the global fetch
   */
  readonly fetch?: Fetcher;
  /** Attempts per call, fallbacks included. @default 5 */
  readonly maxAttempts?: number;
  /** How long a model is avoided after capacity errors, 5xx, connection errors and timeouts. @default 30_000 */
  readonly cooldownMs?: number;
  /** Per-attempt timeout. @default 120_000 */
  readonly timeoutMs?: number;
  /** Output tokens reserved when a chat or FIM request sets no maxTokens. @default 1024 */
  readonly defaultMaxTokens?: number;
  /** A model whose context window is unknown takes requests up to this size. @default 32_768 */
  readonly unknownContextTokens?: number;
  /** @default new TokenEstimator() */
  readonly tokenEstimator?: TokenEstimator;
  /** Plans cached per need. @default 500 */
  readonly planCacheSize?: number;
  /**
   * Fallbacks of a model named in a request (`model: 'mistral-small-2506'`), tried right after it, before
   * the rest of the eligible models in strategy order. Ids or aliases. @default {}
   */
  readonly fallbacks?: Readonly<Record<string, readonly string[]>>;
  /**
   * Refresh the catalogue from every workspace's `GET /v1/models` at most once per `intervalMs` of the
   * clock: the first call after the interval starts a refresh in the background (calls never wait for it).
   * `router.refreshCatalog()` refreshes on demand either way. @default off
   */
  readonly refreshCatalog?: { readonly intervalMs: number };
  /** How long a (workspace, model) that Mistral answered "Invalid model" for is passed over. @default 3_600_000 (one hour) */
  readonly unavailableMs?: number;
  /**
   * The longest a 429 may block a window (its `Retry-After`, its reset header, or the period's turn); a
   * longer one is capped and reported (`headersIgnored`). Five minutes: Mistral's second and minute windows
   * turn within 60 s, and a month really spent costs one refused request per pair per ceiling, where a false
   * 32-day `Retry-After` would lock the workspace out. At least 1000. @default 300_000
   */
  readonly maxRetryAfterMs?: number;
  /**
   * A monthly budget in USD over all this router's calls; routers sharing a store and `name` share it.
   * Workspaces may have their own (`WorkspaceConfig.budgets`): a call must fit both.
   */
  readonly budgets?: RouterBudgetConfig;
}

/** Per-call options (like the SDK's). */
export interface CallOptions {
  /** Cancels a wait or a call in flight. */
  readonly signal?: AbortSignal;
  /** Per-attempt timeout. @default RouterOptions.timeoutMs */
  readonly timeoutMs?: number;
  /**
   * A monthly budget of the caller's own, held at the estimated cost and settled at the real one beside the
   * router's budgets (the gateway passes its virtual key's). Candidates it has no room for are passed over.
   */
  readonly budget?: CallBudget;
}

/** The numeric and strategy options, with their defaults applied. */
export interface Settings {
  readonly maxWaitMs: number;
  readonly strategy: Strategy;
  readonly maxAttempts: number;
  readonly cooldownMs: number;
  readonly timeoutMs: number;
  readonly defaultMaxTokens: number;
  readonly unknownContextTokens: number;
  readonly unavailableMs: number;
  readonly maxRetryAfterMs: number;
  /** The automatic refresh's interval; undefined: off. */
  readonly refreshIntervalMs: number | undefined;
}

/** {@link RouterOptions}, checked, with every default applied. */
export interface ResolvedOptions {
  readonly catalog: Catalog;
  readonly store: QuotaStore;
  readonly clock: Clock;
  readonly tokens: TokenEstimator;
  readonly settings: Settings;
  /** The workspaces, checked, their overrides keyed by model id. */
  readonly workspaces: readonly WorkspaceConfig[];
  readonly serverURL: string | undefined;
  readonly fetch: Fetcher | undefined;
  readonly planCacheSize: number;
  /** Fallbacks per model id. */
  readonly fallbacks: ReadonlyMap<string, readonly string[]>;
  readonly budgets: RouterBudgetConfig | undefined;
}

/** The longest delay a timer can hold (setTimeout's limit): every option that becomes a timer stays under it. */
export const MAX_TIMER_MS = 2_147_483_647;

export function positiveInteger(option: string, value: number | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || !Number.isInteger(value)) {
    throw new ConfigError(option, `expected a whole number from ${min} to ${max}, received ${describeReceived(value)}`);
  }
  return value;
}

/** Checks a call's options before anything is reserved. */
export function checkCallOptions(options: CallOptions | undefined): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object') throw new NeedError('options', 'expected { signal?, timeoutMs?, budget? }');
  const { signal, timeoutMs, budget } = options;
  if (budget !== undefined && !CallBudget.isInstance(budget)) throw new NeedError('options.budget', `expected a CallBudget (new CallBudget({ ... })), received ${describeReceived(budget)}`);
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function')) {
    throw new NeedError('options.signal', 'expected an AbortSignal');
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMER_MS)) {
    throw new NeedError('options.timeoutMs', `expected a whole number of ms from 1 to ${MAX_TIMER_MS}, received ${describeReceived(timeoutMs)}`);
  }
}

/** A limit an override gives: null (unknown: unmetered) or a whole number >= 0. */
function overrideLimit(field: string, value: unknown): void {
  if (value !== undefined && value !== null && !(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) {
    throw new ConfigError(field, `expected a whole number >= 0 or null, received ${describeReceived(value)}`);
  }
}

/**
 * A workspace's overrides, checked, with model aliases resolved to ids (the windows are built per id, so an
 * override under an alias or a misspelt id would be ignored without a word).
 */
function checkOverrides(field: string, overrides: WorkspaceOverrides, catalog: Catalog): WorkspaceOverrides {
  if (overrides === null || typeof overrides !== 'object') throw new ConfigError(field, 'expected { requestsPerSecond?, models? }');
  for (const key of Object.keys(overrides)) {
    if (key !== 'requestsPerSecond' && key !== 'models') throw new ConfigError(`${field}.${key}`, 'unknown field; known: requestsPerSecond, models');
  }
  overrideLimit(`${field}.requestsPerSecond`, overrides.requestsPerSecond);
  if (overrides.models === undefined) return overrides;
  if (overrides.models === null || typeof overrides.models !== 'object') throw new ConfigError(`${field}.models`, 'expected { [model]: { tokensPerMinute?, tokensPerMonth? } }');
  const models: Record<string, { tokensPerMinute?: number | null; tokensPerMonth?: number | null }> = {};
  for (const [name, limits] of Object.entries(overrides.models)) {
    const at = `${field}.models.${name}`;
    const id = catalog.resolve(name);
    if (id === undefined) throw new ConfigError(at, 'unknown model id or alias');
    if (limits === null || typeof limits !== 'object') throw new ConfigError(at, 'expected { tokensPerMinute?, tokensPerMonth? }');
    for (const key of Object.keys(limits)) {
      if (key !== 'tokensPerMinute' && key !== 'tokensPerMonth') throw new ConfigError(`${at}.${key}`, 'unknown field; known: tokensPerMinute, tokensPerMonth');
    }
    overrideLimit(`${at}.tokensPerMinute`, limits.tokensPerMinute);
    overrideLimit(`${at}.tokensPerMonth`, limits.tokensPerMonth);
    if (models[id] !== undefined) throw new ConfigError(at, `${id} is overridden twice (by id and by alias)`);
    models[id] = limits;
  }
  return { ...overrides, models };
}

const QUOTA_STORE_METHODS = ['reserve', 'settle', 'release', 'observe', 'snapshot', 'pendingReservations', 'close'] as const;
const ESTIMATOR_METHODS = ['estimateInputs', 'estimateText', 'estimateFim', 'estimateMessages', 'observe'] as const;

/** `value` has every method in `methods` (a duck-typed store or estimator), else a ConfigError naming `option`. */
function checkMethods(option: string, value: unknown, methods: readonly string[]): void {
  if (value === undefined) return;
  const missing = value === null || typeof value !== 'object' ? methods : methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) throw new ConfigError(option, `expected an object with ${missing.join(', ')}()`);
}

/**
 * Checks one workspace. `seen` holds the names and keys of the workspaces before it: a key given twice
 * would be metered as two workspaces while Mistral meters one, so the router would send twice its rate.
 */
function checkWorkspace(config: WorkspaceConfig, index: number, seen: { names: Set<string>; keys: Map<string, number> }, catalog: Catalog, all: readonly WorkspaceConfig[]): WorkspaceConfig {
  const field = `workspaces[${index}]`;
  if (typeof config?.name !== 'string' || config.name === '') throw new ConfigError(`${field}.name`, 'expected a non-empty string');
  if (seen.names.has(config.name)) throw new ConfigError(`${field}.name`, `duplicate workspace name ${JSON.stringify(config.name)}`);
  seen.names.add(config.name);
  if (typeof config.apiKey !== 'string' || config.apiKey === '') throw new ConfigError(`${field}.apiKey`, 'expected a non-empty string');
  const unsafe = headerUnsafe(config.apiKey);
  // Said without the key: where the character is, and the likely cause.
  if (unsafe !== undefined) throw new ConfigError(`${field}.apiKey`, `contains ${unsafe}: an HTTP header cannot carry it, so every call would fail (a key read from a file often ends with a newline)`);
  // HTTP trims a header value's spaces: "sk-1 " is the key "sk-1".
  const key = config.apiKey.trim();
  const first = seen.keys.get(key);
  if (first !== undefined) {
    throw new ConfigError(`${field}.apiKey`, `the same API key as workspaces[${first}] (${JSON.stringify(all[first]?.name)}): one Mistral workspace, whose rate limits the router would count twice; give it once`);
  }
  seen.keys.set(key, index);
  if (!catalog.hasTier(config.tier)) {
    throw new ConfigError(`${field}.tier`, `unknown tier ${JSON.stringify(config.tier)}; known: ${catalog.tiers.map((t) => t.name).join(', ')}`);
  }
  const overrides = config.overrides === undefined ? undefined : checkOverrides(`${field}.overrides`, config.overrides, catalog);
  if (config.budgets !== undefined) checkBudget(`${field}.budgets`, config.budgets);
  return overrides === undefined ? config : { ...config, overrides };
}

/**
 * Mistral's base URL, if given: http(s), and without credentials (the key goes in a header; a user or
 * password in the URL would be sent to every host and shown in every connection error). Never echoed
 * with them.
 */
function checkServerURL(serverURL: unknown): void {
  if (serverURL === undefined) return;
  const received = redactSecrets(describeReceived(serverURL));
  if (typeof serverURL !== 'string' || !URL.canParse(serverURL)) throw new ConfigError('serverURL', `expected an http(s) URL, received ${received}`);
  const url = new URL(serverURL);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('serverURL', `expected an http(s) URL, received ${received}`);
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError('serverURL', `must not carry credentials (a user or password before "@"): each workspace's apiKey authenticates; received ${received}`);
  }
}

/** What makes `value` impossible as an HTTP header value (fetch refuses it on every call), or undefined. */
function headerUnsafe(value: string): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 10 || code === 13) return `a line break at character ${i + 1}`;
    if (code < 32 || code === 127) return `a control character at character ${i + 1}`;
    if (code > 255) return `a character outside Latin-1 at character ${i + 1}`;
  }
  return undefined;
}

function checkFallbacks(fallbacks: RouterOptions['fallbacks'], catalog: Catalog): Map<string, readonly string[]> {
  return new Map(
    Object.entries(fallbacks ?? {}).map(([model, list]) => {
      const id = catalog.resolve(model);
      if (id === undefined) throw new ConfigError(`fallbacks.${model}`, 'unknown model id or alias');
      if (!Array.isArray(list)) throw new ConfigError(`fallbacks.${model}`, 'expected a list of model ids or aliases');
      list.forEach((fallback, index) => {
        if (catalog.resolve(fallback) === undefined) throw new ConfigError(`fallbacks.${model}[${index}]`, `unknown model ${JSON.stringify(fallback)}`);
      });
      return [id, list];
    }),
  );
}

function checkRefresh(refresh: RouterOptions['refreshCatalog']): number | undefined {
  if (refresh === undefined) return undefined;
  if (refresh === null || typeof refresh !== 'object') throw new ConfigError('refreshCatalog', 'expected { intervalMs }');
  for (const key of Object.keys(refresh)) if (key !== 'intervalMs') throw new ConfigError(`refreshCatalog.${key}`, 'unknown field; known: intervalMs');
  if (refresh.intervalMs === undefined) throw new ConfigError('refreshCatalog.intervalMs', 'required: a whole number of ms, at least 1000');
  return positiveInteger('refreshCatalog.intervalMs', refresh.intervalMs, 0, 1_000, Number.MAX_SAFE_INTEGER);
}

/** Checks `options` (a ConfigError naming the first bad field) and applies the defaults. */
export function resolveOptions(options: RouterOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', 'createRouter needs an options object');
  const { workspaces, store, clock = systemClock, strategy = 'smallest-sufficient', serverURL, tokenEstimator, planCacheSize } = options;
  if (!Array.isArray(workspaces) || workspaces.length === 0) throw new ConfigError('workspaces', 'expected at least one { name, apiKey, tier }');
  if (!STRATEGIES.includes(strategy)) throw new ConfigError('strategy', `expected one of ${STRATEGIES.join(', ')}, received ${JSON.stringify(strategy)}`);
  checkMethods('catalog', options.catalog, ['resolve', 'model', 'hasTier', 'limits', 'query', 'lifecycleOn', 'isServed']);
  checkMethods('store', store, QUOTA_STORE_METHODS);
  checkMethods('tokenEstimator', tokenEstimator, ESTIMATOR_METHODS);
  checkMethods('clock', clock, ['now', 'setTimer']);
  checkServerURL(serverURL);
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw new ConfigError('fetch', 'expected a function (input, init) => Promise<Response>');
  const catalog = options.catalog ?? loadCatalog();
  const settings: Settings = {
    maxWaitMs: positiveInteger('maxWaitMs', options.maxWaitMs, 30_000, 0, MAX_TIMER_MS),
    strategy,
    maxAttempts: positiveInteger('maxAttempts', options.maxAttempts, 5, 1),
    cooldownMs: positiveInteger('cooldownMs', options.cooldownMs, 30_000, 0, MAX_TIMER_MS),
    timeoutMs: positiveInteger('timeoutMs', options.timeoutMs, 120_000, 1, MAX_TIMER_MS),
    defaultMaxTokens: positiveInteger('defaultMaxTokens', options.defaultMaxTokens, 1024),
    unknownContextTokens: positiveInteger('unknownContextTokens', options.unknownContextTokens, DEFAULT_UNKNOWN_CONTEXT_TOKENS),
    unavailableMs: positiveInteger('unavailableMs', options.unavailableMs, 3_600_000, 0, MAX_TIMER_MS),
    maxRetryAfterMs: positiveInteger('maxRetryAfterMs', options.maxRetryAfterMs, DEFAULT_HEADER_BOUNDS.maxRetryAfterMs, 1_000, MAX_TIMER_MS),
    refreshIntervalMs: checkRefresh(options.refreshCatalog),
  };
  const seen = { names: new Set<string>(), keys: new Map<string, number>() };
  const checked = workspaces.map((config, index) => checkWorkspace(config, index, seen, catalog, workspaces));
  const fallbacks = checkFallbacks(options.fallbacks, catalog);
  if (options.budgets !== undefined) checkBudget('budgets', options.budgets, true);
  const cacheSize = positiveInteger('planCacheSize', planCacheSize, 500, 1);
  return {
    catalog,
    // Built after every check: options that fail open no store.
    store: store ?? new MemoryStore({ clock }),
    clock,
    tokens: tokenEstimator ?? new TokenEstimator(),
    settings,
    workspaces: checked,
    serverURL,
    fetch: options.fetch,
    fallbacks,
    planCacheSize: cacheSize,
    budgets: options.budgets,
  };
}
