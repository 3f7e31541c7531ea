/**
 * The emulator's configuration as a request reads it: tier and overrides (limits resolved per model,
 * cached), keys, latency, faults, lifecycle, the upstream's metering rule. Replaced as a whole by
 * `configure()`, so a request judged while it changes sees one version, never a mix.
 */
import type { Clock } from '../clock.js';
import type { Tier } from '../catalog/types.js';
import { FaultInjector } from './faults.js';
import type { MeterLimits } from './meter.js';
import type { EmulatorCatalog, EmulatorFaults, EmulatorOptions, EmulatorOverrides, EmulatorReconfiguration, EmulatorUpstream } from './options.js';
import { ServedModels } from './served-models.js';

/** Mutable configuration, replaced as a whole by `configure()`. */
export interface State {
  readonly tier: Tier;
  readonly overrides: EmulatorOverrides;
  /** Override keys resolved to model ids once, so that an alias in the overrides works. */
  readonly modelOverrides: ReadonlyMap<string, NonNullable<EmulatorOverrides['models']>[string]>;
  readonly limits: Map<string, MeterLimits>;
  readonly apiKeys: ReadonlySet<string> | undefined;
  readonly latencyMs: number;
  readonly faults: EmulatorFaults;
  readonly seed: number;
  readonly injector: FaultInjector;
  readonly invalidModelStatus: 400 | 404;
  /** The models served to each key today (lifecycle, subsets, extra cards). */
  readonly served: ServedModels;
  readonly upstream: Required<EmulatorUpstream>;
  readonly completionTokens: EmulatorOptions['completionTokens'];
}

function resolveModels(catalog: EmulatorCatalog, names: readonly string[]): Set<string> {
  return new Set(names.map((name) => catalog.model(name)?.id ?? name));
}

export function buildState(catalog: EmulatorCatalog, clock: Clock, options: EmulatorReconfiguration): State {
  const tier = typeof options.tier === 'object' ? options.tier : catalog.tier(options.tier ?? 'free');
  const overrides = options.overrides ?? {};
  const faults = options.faults ?? {};
  const seed = options.seed ?? 1;
  const modelOverrides = new Map(Object.entries(overrides.models ?? {}).map(([name, limits]) => [catalog.model(name)?.id ?? name, limits]));
  return {
    tier,
    overrides,
    modelOverrides,
    limits: new Map(),
    apiKeys: options.apiKeys === undefined ? undefined : new Set(options.apiKeys),
    latencyMs: options.latencyMs ?? 0,
    faults,
    seed,
    injector: new FaultInjector(faults, seed, faults.models === undefined ? undefined : resolveModels(catalog, faults.models)),
    invalidModelStatus: options.invalidModelStatus ?? 400,
    served: new ServedModels(catalog, clock, options),
    upstream: { window: options.upstream?.window ?? 'fixed', phaseMs: options.upstream?.phaseMs ?? 0, charge: options.upstream?.charge ?? 'max-tokens' },
    completionTokens: options.completionTokens,
  };
}

/** The limits of one model under the state's tier and overrides (cached: this runs on every request). */
export function limitsFor(state: State, modelId: string): MeterLimits {
  let limits = state.limits.get(modelId);
  if (limits === undefined) {
    const tierLimits = state.tier.models[modelId] ?? state.tier.defaultModelLimits;
    const override = state.modelOverrides.get(modelId);
    limits = {
      requestsPerSecond: state.overrides.requestsPerSecond !== undefined ? state.overrides.requestsPerSecond : state.tier.requestsPerSecond,
      requestsPerMinute: state.overrides.requestsPerMinute ?? null,
      tokensPerMinute: override?.tokensPerMinute !== undefined ? override.tokensPerMinute : (tierLimits?.tokensPerMinute ?? null),
      tokensPerMonth: override?.tokensPerMonth !== undefined ? override.tokensPerMonth : (tierLimits?.tokensPerMonth ?? null),
    };
    state.limits.set(modelId, limits);
  }
  return limits;
}
