/**
 * The catalogue's types: models (what each endpoint can do) and tiers (how much a workspace may use).
 */

/** What a model can do. Catalogue data, never `modelId === '...'` branches in code. */
export const CAPABILITIES = [
  'chat',
  'vision',
  'audio',
  'reasoning',
  'function_calling',
  'json_mode',
  'fim',
  'embedding',
  'moderation',
  'ocr',
  'code',
] as const;

export type Capability = (typeof CAPABILITIES)[number];

/** Model ids the bundled catalogue knows; any other string is accepted too (user catalogues, new models). */
export type KnownModelId =
  | 'magistral-small-2507'
  | 'magistral-small-2506'
  | 'magistral-medium-latest'
  | 'voxtral-small-2507'
  | 'voxtral-mini-2507'
  | 'mistral-small-2506'
  | 'mistral-small-2503'
  | 'mistral-small-2501'
  | 'mistral-small-2409'
  | 'mistral-small-2402'
  | 'devstral-small-2507'
  | 'devstral-small-2505'
  | 'pixtral-12b-2409'
  | 'pixtral-large-2411'
  | 'open-mistral-nemo'
  | 'open-mistral-7b'
  | 'open-mixtral-8x7b'
  | 'open-mixtral-8x22b'
  | 'codestral-2405'
  | 'codestral-2501'
  | 'codestral-mamba-2407'
  | 'ministral-3b-2410'
  | 'ministral-8b-2410'
  | 'mistral-embed'
  | 'mistral-large-2402'
  | 'mistral-large-2407'
  | 'mistral-large-2411'
  | 'mistral-medium'
  | 'mistral-moderation-2411'
  | 'mistral-saba-2502';

/** A model id: one of the known ones (editors complete them) or any other string. */
export type ModelId = KnownModelId | (string & {});

/** One API endpoint. `null` means "not known", never a guess. */
export interface Model {
  /** The API endpoint id, e.g. `mistral-small-2506`. */
  readonly id: ModelId;
  /** Display name, e.g. `Mistral Small 3.2`. */
  readonly name: string | null;
  /** Family, e.g. `mistral-small`, `magistral-small`, `codestral`. */
  readonly family: string;
  /** Version as `YY.MM`, e.g. `25.06`; null when unknown. */
  readonly version: string | null;
  /** Release as `YYYY-MM`, when known. */
  readonly release: string | null;
  readonly capabilities: readonly Capability[];
  /** Context window in tokens; null when unknown. */
  readonly contextWindow: number | null;
  /** Open-weights licence (e.g. `Apache-2.0`), or null when the weights are not open (or unknown: see `openWeights`). */
  readonly license: string | null;
  /** true: open weights; false: not open; null: unknown. */
  readonly openWeights: boolean | null;
  readonly description: string | null;
  /** Other names that resolve to this model (e.g. `mistral-small-latest`). */
  readonly aliases: readonly string[];
  /** Deprecation, when announced. */
  readonly deprecation: { readonly date: string | null; readonly replacement: string | null } | null;
  /** Where the facts come from (free text). */
  readonly source: string | null;
}

/** A limit value: a number, or null when unknown (unmetered until learned from headers). */
export type Limit = number | null;

/** Per-model limits within a tier. */
export interface ModelLimits {
  readonly tokensPerMinute: Limit;
  readonly tokensPerMonth: Limit;
}

/** A usage tier: workspace requests per second and per-model token limits. */
export interface Tier {
  readonly name: string;
  readonly description: string | null;
  /** Workspace requests per second; null = unknown. */
  readonly requestsPerSecond: Limit;
  /** Limits for models not listed in `models` (null/absent = unknown). */
  readonly defaultModelLimits: ModelLimits | null;
  /** Per-model limits, keyed by model id. */
  readonly models: Readonly<Record<string, ModelLimits>>;
}

/** A version constraint: `latest`, an exact `25.06`, or a comparison `>=25.03` / `>25.03` / `<=` / `<`. */
export type VersionConstraint = 'latest' | `${'>=' | '>' | '<=' | '<' | '='}${string}` | (string & {});

/** A catalogue query: every field narrows the result. */
export interface ModelQuery {
  /** Every capability listed must be present. */
  readonly capabilities?: readonly Capability[];
  /** Context window at least this many tokens (models with unknown windows are excluded). */
  readonly minContext?: number;
  readonly family?: string | readonly string[];
  readonly version?: VersionConstraint;
  /** Only models with open weights. */
  readonly openWeights?: boolean;
  /** Include deprecated models. @default true for queries, false for routing plans */
  readonly includeDeprecated?: boolean;
}
