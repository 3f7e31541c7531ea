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
  'transcription',
  'speech',
] as const;

export type Capability = (typeof CAPABILITIES)[number];

/** Model ids the bundled catalogue knows; any other string is accepted too (user catalogues, new models). */
export type KnownModelId =
  | 'magistral-small-2507'
  | 'voxtral-small-2507'
  | 'voxtral-mini-2507'
  | 'mistral-small-2506'
  | 'magistral-small-2506'
  | 'devstral-small-2507'
  | 'mistral-small-2503'
  | 'mistral-small-2501'
  | 'devstral-small-2505'
  | 'pixtral-12b-2409'
  | 'open-mistral-nemo'
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
  | 'mistral-saba-2502'
  | 'mistral-small-2402'
  | 'mistral-small-2409'
  | 'open-mistral-7b'
  | 'open-mixtral-8x22b'
  | 'open-mixtral-8x7b'
  | 'pixtral-large-2411'
  | 'mistral-small-2603'
  | 'mistral-medium-3-5'
  | 'mistral-medium-2508'
  | 'mistral-medium-2505'
  | 'mistral-large-2512'
  | 'ministral-3b-2512'
  | 'ministral-8b-2512'
  | 'ministral-14b-2512'
  | 'codestral-2508'
  | 'codestral-embed-2505'
  | 'devstral-2512'
  | 'devstral-medium-2507'
  | 'labs-devstral-small-2512'
  | 'magistral-medium-2506'
  | 'magistral-medium-2507'
  | 'magistral-medium-2509'
  | 'magistral-small-2509'
  | 'labs-mistral-small-creative'
  | 'labs-leanstral-2603'
  | 'labs-leanstral-1-5'
  | 'mistral-moderation-2603'
  | 'mistral-ocr-2503'
  | 'mistral-ocr-2505'
  | 'mistral-ocr-2512'
  | 'mistral-ocr-4-0'
  | 'mistral-ocr-4-1'
  | 'voxtral-mini-2602'
  | 'voxtral-mini-transcribe-realtime-2602'
  | 'voxtral-mini-tts-2603'
  | 'zai-glm-5-2';

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
  /** Release stage while current (`ga`, `preview`, `labs`); null when unknown. */
  readonly stage: Stage | null;
  /** Prices in USD, when the sources give them. */
  readonly prices: Prices | null;
  /** The lifecycle, when announced: see {@link Deprecation} and `Catalog.lifecycle()`. */
  readonly deprecation: Deprecation | null;
  /** Where the facts come from (free text). */
  readonly source: string | null;
}

/** A model's release stage while it is current. */
export type Stage = 'ga' | 'preview' | 'labs';

/**
 * A model's announced end of life. A model is deprecated from `deprecated` (or, with no such date, as soon
 * as a retirement is announced) and retired from the start (UTC) of `retired`: from then on Mistral
 * answers "Invalid model" and the router sends its requests to `replacement`.
 */
export interface Deprecation {
  /** Day (YYYY-MM-DD, or an ISO date-time) the model was deprecated; null when not given. */
  readonly deprecated: string | null;
  /** Day (YYYY-MM-DD, or an ISO date-time) the model stops being served; null when not announced. */
  readonly retired: string | null;
  /** The model that replaces it (id), or null. */
  readonly replacement: string | null;
}

/** Prices in USD. Token prices are per million tokens; null where the source gives none. */
export interface Prices {
  /** USD per million input tokens. */
  readonly input: number | null;
  /** USD per million output tokens (null for embeddings and moderation: input only). */
  readonly output: number | null;
  /** USD per minute of audio input (audio models). */
  readonly audioPerMinute?: number | null;
  /** USD per thousand pages (OCR). */
  readonly pagesPerThousand?: number | null;
  /** USD per thousand annotated pages (OCR). */
  readonly annotatedPagesPerThousand?: number | null;
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
  /**
   * `false` leaves out every model whose entry announces a deprecation (a query has no day; plans judge
   * the lifecycle on their day instead, see `Need.includeDeprecated`). @default true
   */
  readonly includeDeprecated?: boolean;
}
