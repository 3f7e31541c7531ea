/**
 * The model cards of `GET /v1/models`: their fields, their capability flags and how those map to the
 * catalogue's capabilities, and the checks a card must pass before the router trusts it. A card comes
 * either as Mistral sends it (snake_case JSON, e.g. a saved list) or as the SDK's `models.list()` returns
 * it (camelCase, `deprecation` as a Date): both are read the same way.
 */
import type { Capability, Model } from './types.js';

/** The capability flags of a card, as the API and the SDK's model card types name them. */
export const CARD_CAPABILITIES = [
  'completion_chat',
  'function_calling',
  'reasoning',
  'completion_fim',
  'fine_tuning',
  'vision',
  'ocr',
  'classification',
  'moderation',
  'audio',
  'audio_transcription',
  'audio_transcription_realtime',
  'audio_speech',
  'unified_resources',
] as const;

export type CardCapability = (typeof CARD_CAPABILITIES)[number];

/**
 * The catalogue capabilities each flag stands for. `json_mode` goes with every chat model, as the catalogue
 * has it; `fine_tuning` and `classification` describe other endpoints than the router's and map to none.
 */
const FLAG_CAPABILITIES: Readonly<Record<CardCapability, readonly Capability[]>> = {
  completion_chat: ['chat', 'json_mode'],
  function_calling: ['function_calling'],
  reasoning: ['reasoning'],
  completion_fim: ['fim'],
  fine_tuning: [],
  vision: ['vision'],
  ocr: ['ocr'],
  classification: [],
  moderation: ['moderation'],
  audio: ['audio'],
  audio_transcription: ['transcription'],
  audio_transcription_realtime: ['transcription'],
  audio_speech: ['speech'],
  unified_resources: [],
};

/** Catalogue capabilities no card flag carries: a merged model keeps the bundled value of these. */
export const CAPABILITIES_NOT_ON_CARDS: ReadonlySet<Capability> = new Set(['embedding', 'code']);

/** A `/v1/models` card as the API sends it. Every field but `id` and `capabilities` may be absent. */
export interface ModelCard {
  readonly id: string;
  readonly object?: string;
  readonly created?: number;
  readonly owned_by?: string;
  readonly name?: string | null;
  readonly description?: string | null;
  readonly max_context_length?: number;
  readonly aliases?: readonly string[];
  /** ISO date-time from which the model is no longer served, or null. */
  readonly deprecation?: string | null;
  readonly deprecation_replacement_model?: string | null;
  readonly default_model_temperature?: number | null;
  /** `base`, or `fine-tuned` (with `job`, `root`, `archived`). */
  readonly type?: string;
  readonly capabilities: Partial<Record<CardCapability, boolean>>;
  readonly job?: string;
  readonly root?: string;
  readonly archived?: boolean;
}

/** Why a card was not used. */
export type CardIssueCode =
  | 'card-invalid'
  | 'unknown-capability'
  | 'negative-context'
  | 'replacement-missing'
  | 'replacement-retired'
  | 'replacement-loop'
  | 'alias-conflict';

/** A card the merge skipped (or one of its aliases it dropped), naming the model and the field. */
export interface CardIssue {
  readonly code: CardIssueCode;
  /** The card's id, or `#N` (its index in the list) when it has none. */
  readonly model: string;
  /** The card field at fault, e.g. `max_context_length`, `capabilities.telepathy`. */
  readonly field: string;
  readonly message: string;
}

/** A card that passed its own checks, in the catalogue's terms. */
export interface CheckedCard {
  readonly id: string;
  readonly name: string | null;
  readonly description: string | null;
  readonly contextWindow: number | null;
  readonly aliases: readonly string[];
  /** The day (UTC, YYYY-MM-DD) of `deprecation`, or null. */
  readonly retired: string | null;
  readonly replacement: string | null;
  readonly capabilities: readonly Capability[];
  readonly fineTuned: boolean;
  readonly ownedBy: string | null;
}

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const flagNames: ReadonlySet<string> = new Set(CARD_CAPABILITIES);

/** `maxContextLength` -> `max_context_length`: the SDK's names as the API's. */
function snake(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function snakeKeys(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) out[snake(key)] = field;
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 60));
  if (typeof value === 'number') return String(value);
  return typeof value;
}

/** Check one card. Returns the card in catalogue terms, or the first problem found. */
export function checkCard(raw: unknown, index: number): { card: CheckedCard } | { issue: CardIssue } {
  const fail = (model: string, field: string, message: string, code: CardIssueCode = 'card-invalid') => ({ issue: { code, model, field, message: `card ${model}: ${field}: ${message}` } });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail(`#${index}`, 'card', `expected an object, received ${describe(raw)}`);
  // The SDK wraps a card whose `type` it does not know as `{ raw, type: 'UNKNOWN', isUnknown: true }`.
  const unwrapped = (raw as { isUnknown?: unknown; raw?: unknown }).isUnknown === true ? (raw as { raw: unknown }).raw : raw;
  if (unwrapped === null || typeof unwrapped !== 'object' || Array.isArray(unwrapped)) return fail(`#${index}`, 'card', `expected an object, received ${describe(unwrapped)}`);
  const card = snakeKeys(unwrapped as Record<string, unknown>);
  const id = card.id;
  if (typeof id !== 'string' || !MODEL_ID.test(id)) return fail(`#${index}`, 'id', `expected a model id, received ${describe(id)}`);
  const optionalString = (field: string): string | null | { issue: CardIssue } => {
    const value = card[field];
    if (value === undefined || value === null) return null;
    return typeof value === 'string' ? value : fail(id, field, `expected a string or null, received ${describe(value)}`);
  };
  const name = optionalString('name');
  if (typeof name === 'object' && name !== null) return name;
  const description = optionalString('description');
  if (typeof description === 'object' && description !== null) return description;
  const ownedBy = optionalString('owned_by');
  if (typeof ownedBy === 'object' && ownedBy !== null) return ownedBy;

  const flags = card.capabilities;
  if (flags === null || typeof flags !== 'object' || Array.isArray(flags)) return fail(id, 'capabilities', `expected an object of flags, received ${describe(flags)}`);
  const capabilities = new Set<Capability>();
  for (const [key, value] of Object.entries(snakeKeys(flags as Record<string, unknown>))) {
    if (!flagNames.has(key)) return fail(id, `capabilities.${key}`, `unknown capability; known: ${CARD_CAPABILITIES.join(', ')}`, 'unknown-capability');
    if (typeof value !== 'boolean') return fail(id, `capabilities.${key}`, `expected true or false, received ${describe(value)}`);
    if (value) for (const capability of FLAG_CAPABILITIES[key as CardCapability]) capabilities.add(capability);
  }

  let contextWindow: number | null = null;
  const context = card.max_context_length;
  if (context !== undefined && context !== null) {
    if (typeof context !== 'number' || !Number.isSafeInteger(context)) return fail(id, 'max_context_length', `expected a whole number of tokens, received ${describe(context)}`);
    if (context <= 0) return fail(id, 'max_context_length', `expected a positive number of tokens, received ${context}`, 'negative-context');
    contextWindow = context;
  }

  const aliasList = card.aliases ?? [];
  if (!Array.isArray(aliasList)) return fail(id, 'aliases', `expected a list of model ids, received ${describe(aliasList)}`);
  for (const alias of aliasList) if (typeof alias !== 'string' || !MODEL_ID.test(alias)) return fail(id, 'aliases', `expected model ids, received ${describe(alias)}`);

  let retired: string | null = null;
  const deprecation = card.deprecation;
  if (deprecation !== undefined && deprecation !== null) {
    const ms = deprecation instanceof Date ? deprecation.getTime() : typeof deprecation === 'string' ? Date.parse(deprecation) : Number.NaN;
    if (Number.isNaN(ms)) return fail(id, 'deprecation', `expected an ISO date-time or null, received ${describe(deprecation)}`);
    retired = new Date(ms).toISOString().slice(0, 10);
  }
  const replacement = card.deprecation_replacement_model;
  if (replacement !== undefined && replacement !== null && (typeof replacement !== 'string' || !MODEL_ID.test(replacement))) {
    return fail(id, 'deprecation_replacement_model', `expected a model id or null, received ${describe(replacement)}`);
  }
  return {
    card: {
      id,
      name,
      description,
      contextWindow,
      aliases: (aliasList as string[]).filter((alias) => alias !== id),
      retired,
      replacement: typeof replacement === 'string' ? replacement : null,
      capabilities: [...capabilities],
      fineTuned: card.type === 'fine-tuned',
      ownedBy,
    },
  };
}

/** The capability flags of a catalogue model, as a card writes them. */
export function capabilityFlags(model: Pick<Model, 'capabilities'>): Record<CardCapability, boolean> {
  const has = (capability: Capability) => model.capabilities.includes(capability);
  return {
    completion_chat: has('chat'),
    function_calling: has('function_calling'),
    reasoning: has('reasoning'),
    completion_fim: has('fim'),
    fine_tuning: false,
    vision: has('vision'),
    ocr: has('ocr'),
    classification: has('moderation'),
    moderation: has('moderation'),
    audio: has('audio'),
    audio_transcription: has('transcription'),
    audio_transcription_realtime: false,
    audio_speech: has('speech'),
    unified_resources: false,
  };
}

/** A catalogue date (day or date-time) as the ISO date-time with offset that the SDK's schema requires. */
export function cardTimestamp(date: string | null): string | null {
  if (date === null) return null;
  const parsed = new Date(/T/.test(date) ? date : `${date}T00:00:00Z`);
  return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
}

/** A card with every field the API sends, the given ones kept (the emulator's extra cards). */
export function completeCard(card: ModelCard, created: number): ModelCard {
  return {
    object: 'model',
    created,
    owned_by: 'mistralai',
    name: card.id,
    description: null,
    max_context_length: 32768,
    aliases: [],
    deprecation: null,
    deprecation_replacement_model: null,
    default_model_temperature: null,
    type: 'base',
    ...card,
    capabilities: { ...Object.fromEntries(CARD_CAPABILITIES.map((flag) => [flag, false])), ...card.capabilities },
  };
}

/**
 * The card of a catalogue model under one of its names, with every field of the API's card: `deprecation`
 * is the retirement date-time (the day Mistral stops serving it), `name` the model id.
 */
export function modelCard(model: Model, id: string, created: number, otherNames: readonly string[]): ModelCard & { capabilities: Record<CardCapability, boolean> } {
  return {
    id,
    object: 'model',
    created,
    owned_by: 'mistralai',
    capabilities: capabilityFlags(model),
    name: model.id,
    description: model.description,
    // The SDK defaults a missing window to 32768; an unknown one is sent as that default too.
    max_context_length: model.contextWindow ?? 32768,
    aliases: otherNames,
    deprecation: cardTimestamp(model.deprecation?.retired ?? null),
    deprecation_replacement_model: model.deprecation?.replacement ?? null,
    default_model_temperature: null,
    type: 'base',
  };
}
