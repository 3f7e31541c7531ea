/**
 * The emulator's options: what tier it enforces, which faults it injects, and how to override limits.
 * Validated once, at start and on every `configure()`, with messages that name the option and the value.
 */
import type { Clock } from '../clock.js';
import type { ModelCard } from '../catalog/cards.js';
import type { Model, Tier } from '../catalog/types.js';

/**
 * The part of the catalogue the emulator reads. The catalogue returned by `loadCatalog()` satisfies it;
 * a test may pass a hand-made one.
 */
export interface EmulatorCatalog {
  readonly models: readonly Model[];
  /** The model for an id or an alias, if known. */
  model(idOrAlias: string): Model | undefined;
  /** The tier of that name; throws for an unknown name. */
  tier(name: string): Tier;
  /**
   * Every alias and the model id it resolves to, when the catalogue has aliases beyond its models' own
   * lists (a top-level alias map). `/v1/models` lists each alias as a card; without this, only the
   * aliases of `models[].aliases` that `model()` resolves to their model. The package's Catalog has it.
   */
  aliases?(): ReadonlyMap<string, string>;
}

/** Which family of rate-limit headers to send (Mistral changed it in 2025). */
export type HeaderFamily = 'current' | 'legacy';

/** Status of an injected server error. */
export type FaultStatus = 500 | 502 | 503;

/**
 * Faults injected on the model endpoints (chat, FIM, embeddings), for reliability tests. Each rate is a
 * probability per request, drawn from a PRNG seeded by `seed`, so a run with the same seed and the same
 * sequence of requests injects the same faults. The rates of `dropBeforeRate`, `errorRate` and
 * `capacityRate` share one draw per request, so their sum must not exceed 1.
 */
export interface EmulatorFaults {
  /** Extra delay (wall-clock ms) before answering requests to the targeted models. @default 0 */
  readonly latencyMs?: number;
  /** Share of requests answered 500, 502 or 503. @default 0 */
  readonly errorRate?: number;
  /** Statuses the error faults pick from, in turn. @default [500, 502, 503] */
  readonly errorStatuses?: readonly FaultStatus[];
  /** Share of requests answered `Service tier capacity exceeded for this model.` (code 3505). @default 0 */
  readonly capacityRate?: number;
  /** Status of the capacity error. @default 429 */
  readonly capacityStatus?: 429 | 503;
  /** Share of requests whose connection is destroyed before any response byte. Charges nothing. @default 0 */
  readonly dropBeforeRate?: number;
  /**
   * Share of streamed chat/FIM requests whose connection is destroyed right after the first SSE chunk.
   * The request was admitted, so its tokens stay charged (as upstream, where the model already ran).
   * @default 0
   */
  readonly dropMidStreamRate?: number;
  /**
   * Wall-clock ms between the server-sent events of a stream, as a model that writes slowly: the stream
   * stays open for (events - 1) x this, so a test can act while it is open. @default 0 (all at once)
   */
  readonly chunkIntervalMs?: number;
  /** Send `Retry-After` (seconds) on 429 responses. @default true */
  readonly retryAfter?: boolean;
  /** Rate-limit header family. @default 'current' */
  readonly headerFamily?: HeaderFamily;
  /**
   * Restrict the injected faults (all but `retryAfter` and `headerFamily`) to these models (ids or
   * aliases). Absent: every model.
   */
  readonly models?: readonly string[];
}

/** Per-model token limits replacing the tier's; `null` = unmetered. */
export interface EmulatorModelOverride {
  readonly tokensPerMinute?: number | null;
  readonly tokensPerMonth?: number | null;
}

/** Limits replacing the tier's, e.g. small ones that a test can reach in a few requests. */
export interface EmulatorOverrides {
  /** Workspace requests per second; `null` = unmetered. */
  readonly requestsPerSecond?: number | null;
  /**
   * Workspace requests per minute, which Mistral reports in `x-ratelimit-*-req-minute`. Absent or `null`:
   * not metered and those headers are not sent.
   */
  readonly requestsPerMinute?: number | null;
  /** Keyed by model id (aliases are resolved). */
  readonly models?: Readonly<Record<string, EmulatorModelOverride>>;
}

/** How the per-minute windows count: fixed windows that start over on the minute, or a sliding 60-second log. */
export type UpstreamWindow = 'fixed' | 'sliding';

/**
 * What an admitted request is charged, and when:
 * - `max-tokens`: prompt + `max_tokens` at admission, kept (the request must fit whole);
 * - `max-tokens-corrected`: the same at admission, corrected to the real usage once the response is sent;
 * - `usage`: admitted while the prompt fits, charged its real usage (prompt + completion) after the response.
 */
export type UpstreamCharge = 'max-tokens' | 'max-tokens-corrected' | 'usage';

/** The upstream's metering rule: the shapes of independent Mistral-like servers, not only the emulator's own. */
export interface EmulatorUpstream {
  /** How the minute windows (tokens per model, requests per workspace) count. @default 'fixed' */
  readonly window?: UpstreamWindow;
  /** Where a fixed minute window starts, in ms past the clock's minute (0 to 59,999). @default 0 */
  readonly phaseMs?: number;
  /** What a request is charged and when. @default 'max-tokens' */
  readonly charge?: UpstreamCharge;
}

/** What {@link EmulatorOptions.completionTokens} is asked about one chat or FIM request. */
export interface CompletionRequest {
  /** The resolved model id. */
  readonly model: string;
  readonly endpoint: 'chat' | 'fim';
  readonly promptTokens: number;
  /** The request's `max_tokens`, or {@link DEFAULT_COMPLETION_TOKENS} when it gave none. */
  readonly maxTokens: number;
}

/** How the emulator answers a model that is retired (by its clock) or not served to the key. */
export type InvalidModelStatus = 400 | 404;

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /** The tier to enforce: a name from the catalogue, or a Tier object. @default 'free' */
  readonly tier?: string | Tier;
  /** The catalogue for models, aliases and tiers. @default loadCatalog() (the bundled one) */
  readonly catalog?: EmulatorCatalog;
  /** TCP port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Interface to bind. @default '127.0.0.1' */
  readonly host?: string;
  /** Delay (wall-clock ms) before answering every model endpoint request. @default 0 */
  readonly latencyMs?: number;
  /** Injected faults. @default none */
  readonly faults?: EmulatorFaults;
  /** The clock the meters read (latency always uses real time). @default systemClock */
  readonly clock?: Clock;
  /** The only accepted keys (others get 401). Absent: any non-empty Bearer key is a workspace. */
  readonly apiKeys?: readonly string[];
  /** Limits replacing the tier's. */
  readonly overrides?: EmulatorOverrides;
  /** Seed of the fault PRNG. @default 1 */
  readonly seed?: number;
  /**
   * The answer to a model retired by the emulator's clock, or not served to the key: 400
   * `{"type":"invalid_model","code":"1500"}` as Mistral sends it, or 404 `unknown_model` as its docs say.
   * @default 400
   */
  readonly invalidModelStatus?: InvalidModelStatus;
  /**
   * Per API key, the only models (ids or aliases) that key is served: `/v1/models` lists only those and
   * any other model answers "Invalid model". A key not listed is served every model. @default every key every model
   */
  readonly modelsByKey?: Readonly<Record<string, readonly string[]>>;
  /**
   * `/v1/models` cards of models the catalogue lacks (a newer release, a fine-tuned model): listed, and
   * callable by their cards' capabilities and context. @default []
   */
  readonly extraCards?: readonly ModelCard[];
  /** The metering rule (window shape, charge rule). @default { window: 'fixed', phaseMs: 0, charge: 'max-tokens' } */
  readonly upstream?: EmulatorUpstream;
  /**
   * The completion tokens a chat or FIM reply really uses: a count, or a function of the request; at most
   * the request's `max_tokens` (a reply stops there) and at least 0. `usage.completion_tokens` reports it,
   * and the charge rule decides whether the windows see it or `max_tokens`.
   * @default the request's max_tokens (DEFAULT_COMPLETION_TOKENS without one)
   */
  readonly completionTokens?: number | ((request: CompletionRequest) => number);
}

/** What `configure()` may change on a running emulator. Changing `upstream` starts the meters over. */
export type EmulatorReconfiguration = Pick<
  EmulatorOptions,
  'tier' | 'latencyMs' | 'faults' | 'apiKeys' | 'overrides' | 'seed' | 'invalidModelStatus' | 'modelsByKey' | 'extraCards' | 'upstream' | 'completionTokens'
>;

function checkRate(name: string, value: number | undefined): void {
  if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 1)) {
    throw new TypeError(`${name} must be a number between 0 and 1, received ${String(value)}`);
  }
}

function checkNonNegative(name: string, value: number | null | undefined, integer = false): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new TypeError(`${name} must be a ${integer ? 'non-negative integer' : 'non-negative number'}, received ${String(value)}`);
  }
}

/** Throw a TypeError naming the first option that cannot work. */
export function validateOptions(options: EmulatorReconfiguration & Pick<EmulatorOptions, 'port' | 'host'>): void {
  checkNonNegative('port', options.port, true);
  if (options.port !== undefined && options.port > 65535) throw new TypeError(`port must be at most 65535, received ${options.port}`);
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host === '')) {
    throw new TypeError(`host must be a non-empty string, received ${String(options.host)}`);
  }
  checkNonNegative('latencyMs', options.latencyMs);
  if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new TypeError(`seed must be an integer, received ${String(options.seed)}`);
  if (options.apiKeys !== undefined) {
    if (!Array.isArray(options.apiKeys) || options.apiKeys.some((key) => typeof key !== 'string' || key === '')) {
      throw new TypeError('apiKeys must be an array of non-empty strings');
    }
  }
  if (options.invalidModelStatus !== undefined && options.invalidModelStatus !== 400 && options.invalidModelStatus !== 404) {
    throw new TypeError(`invalidModelStatus must be 400 or 404, received ${String(options.invalidModelStatus)}`);
  }
  if (options.modelsByKey !== undefined) {
    if (options.modelsByKey === null || typeof options.modelsByKey !== 'object') throw new TypeError('modelsByKey must be an object of API key -> model ids');
    for (const [key, models] of Object.entries(options.modelsByKey)) {
      if (!Array.isArray(models) || models.some((model) => typeof model !== 'string' || model === '')) {
        throw new TypeError(`modelsByKey[<key ${key.length} characters>] must be an array of model ids`);
      }
    }
  }
  if (options.extraCards !== undefined && !Array.isArray(options.extraCards)) throw new TypeError('extraCards must be an array of /v1/models cards');
  validateUpstream(options.upstream);
  const completion = options.completionTokens;
  if (completion !== undefined && typeof completion !== 'function') checkNonNegative('completionTokens', completion, true);
  const faults = options.faults;
  if (faults !== undefined) {
    checkNonNegative('faults.latencyMs', faults.latencyMs);
    checkNonNegative('faults.chunkIntervalMs', faults.chunkIntervalMs);
    checkRate('faults.errorRate', faults.errorRate);
    checkRate('faults.capacityRate', faults.capacityRate);
    checkRate('faults.dropBeforeRate', faults.dropBeforeRate);
    checkRate('faults.dropMidStreamRate', faults.dropMidStreamRate);
    const shared = (faults.errorRate ?? 0) + (faults.capacityRate ?? 0) + (faults.dropBeforeRate ?? 0);
    if (shared > 1 + 1e-9) {
      throw new TypeError(`faults.errorRate + faults.capacityRate + faults.dropBeforeRate must not exceed 1, received ${shared}`);
    }
    if (faults.errorStatuses !== undefined && (faults.errorStatuses.length === 0 || faults.errorStatuses.some((s) => s !== 500 && s !== 502 && s !== 503))) {
      throw new TypeError(`faults.errorStatuses must list 500, 502 or 503, received ${JSON.stringify(faults.errorStatuses)}`);
    }
    if (faults.capacityStatus !== undefined && faults.capacityStatus !== 429 && faults.capacityStatus !== 503) {
      throw new TypeError(`faults.capacityStatus must be 429 or 503, received ${String(faults.capacityStatus)}`);
    }
    if (faults.headerFamily !== undefined && faults.headerFamily !== 'current' && faults.headerFamily !== 'legacy') {
      throw new TypeError(`faults.headerFamily must be 'current' or 'legacy', received ${String(faults.headerFamily)}`);
    }
  }
  const overrides = options.overrides;
  if (overrides !== undefined) {
    checkNonNegative('overrides.requestsPerSecond', overrides.requestsPerSecond, true);
    checkNonNegative('overrides.requestsPerMinute', overrides.requestsPerMinute, true);
    for (const [model, limits] of Object.entries(overrides.models ?? {})) {
      checkNonNegative(`overrides.models.${model}.tokensPerMinute`, limits.tokensPerMinute, true);
      checkNonNegative(`overrides.models.${model}.tokensPerMonth`, limits.tokensPerMonth, true);
    }
  }
}

function validateUpstream(upstream: EmulatorUpstream | undefined): void {
  if (upstream === undefined) return;
  if (upstream === null || typeof upstream !== 'object') throw new TypeError(`upstream must be an object, received ${String(upstream)}`);
  if (upstream.window !== undefined && upstream.window !== 'fixed' && upstream.window !== 'sliding') {
    throw new TypeError(`upstream.window must be 'fixed' or 'sliding', received ${String(upstream.window)}`);
  }
  const charges: readonly unknown[] = ['max-tokens', 'max-tokens-corrected', 'usage'];
  if (upstream.charge !== undefined && !charges.includes(upstream.charge)) {
    throw new TypeError(`upstream.charge must be 'max-tokens', 'max-tokens-corrected' or 'usage', received ${String(upstream.charge)}`);
  }
  checkNonNegative('upstream.phaseMs', upstream.phaseMs, true);
  if (upstream.phaseMs !== undefined && upstream.phaseMs >= 60_000) throw new TypeError(`upstream.phaseMs must be below 60000, received ${upstream.phaseMs}`);
}
