/**
 * The Need: what a request asks for. Normalised and validated here, before any I/O, so that bad input
 * (an unknown capability, a negative token count) fails at once with a NeedError naming the field.
 */
import { CAPABILITIES, type Capability, type ModelId, type VersionConstraint } from './catalog/types.js';
import { parseVersionConstraint } from './catalog/query.js';
import { NeedError } from './errors.js';
import { describeReceived } from './received.js';

/** How candidates are ordered. */
export type Strategy = 'smallest-sufficient' | 'newest' | 'prefer';

export const STRATEGIES: readonly Strategy[] = ['smallest-sufficient', 'newest', 'prefer'];

/** The router's endpoints; each implies a capability. */
export type Endpoint = 'chat' | 'embeddings' | 'fim';

const endpointCapability: Record<Endpoint, Capability> = { chat: 'chat', embeddings: 'embedding', fim: 'fim' };
/** The fields of a {@link Need}. */
const NEED_FIELDS: ReadonlySet<string> = new Set(['capabilities', 'minContext', 'family', 'version', 'openWeights', 'prefer', 'exclude', 'strategy', 'includeDeprecated']);
/** Fields of a normalised need (a plan's `need`, `route --json`) that may come back in a request: ignored. */
const DERIVED_FIELDS: ReadonlySet<string> = new Set(['signature']);

/** What a caller needs of a model. Every field narrows the candidates. */
export interface Need {
  /** Capabilities the model must have (the endpoint and the request's content add theirs). */
  readonly capabilities?: readonly Capability[];
  /** Minimum context window in tokens, beyond what the request itself needs. */
  readonly minContext?: number;
  /** Only these families (e.g. `mistral-small`). */
  readonly family?: string | readonly string[];
  /** `latest`, `25.06`, `>=25.03`... */
  readonly version?: VersionConstraint;
  /** Only models whose weights are open (confirmed by the catalogue). @default false */
  readonly openWeights?: boolean;
  /** Models to try first, in this order (ids or aliases). */
  readonly prefer?: readonly ModelId[];
  /** Models never to use (ids or aliases). */
  readonly exclude?: readonly ModelId[];
  /** How to order the rest. @default the router's strategy ('smallest-sufficient') */
  readonly strategy?: Strategy;
  /**
   * Deprecated (not yet retired) models are candidates, ranked after current models; `false` leaves them
   * out. A model the request names is used even when deprecated. Retired models are never candidates.
   * @default true
   */
  readonly includeDeprecated?: boolean;
}

/** A validated need with the capabilities the endpoint and the request imply. */
export interface NormalisedNeed {
  readonly capabilities: readonly Capability[];
  readonly minContext: number;
  readonly family: readonly string[] | undefined;
  readonly version: VersionConstraint | undefined;
  readonly openWeights: boolean;
  readonly prefer: readonly string[];
  readonly exclude: readonly string[];
  readonly strategy: Strategy;
  readonly includeDeprecated: boolean;
  /** A stable string of everything above: the plan cache's key. */
  readonly signature: string;
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) throw new NeedError(field, `expected a string or a list of strings, received ${describeReceived(value)}`);
  return list.map((item, index) => {
    if (typeof item !== 'string' || item === '') throw new NeedError(`${field}[${index}]`, `expected a non-empty string, received ${describeReceived(item)}`);
    return item;
  });
}

/**
 * Validate a need and add the capabilities implied by the endpoint and by the request (image parts need
 * `vision`, audio parts `audio`, tools `function_calling`, a JSON response format `json_mode`).
 */
export function normaliseNeed(need: Need | undefined, endpoint: Endpoint, implied: readonly Capability[], defaultStrategy: Strategy): NormalisedNeed {
  if (need !== undefined && (typeof need !== 'object' || need === null || Array.isArray(need))) {
    throw new NeedError('need', `expected an object, received ${describeReceived(need)}`);
  }
  const given: Need = need ?? {};
  for (const key in given) {
    // A misspelt field (`capability`) would otherwise be ignored and the call routed without it.
    if (!NEED_FIELDS.has(key) && !DERIVED_FIELDS.has(key)) throw new NeedError(`need.${key}`, `unknown field; known: ${[...NEED_FIELDS].join(', ')}`);
  }
  const endpointBit = capabilityBit.get(endpointCapability[endpoint]);
  if (endpointBit === undefined || !Object.hasOwn(endpointCapability, endpoint)) {
    throw new NeedError('endpoint', `expected one of ${Object.keys(endpointCapability).join(', ')}, received ${describeReceived(endpoint)}`);
  }
  // Capabilities as a bit mask: a cheap, order-free key, and one shared array per distinct set.
  let mask = endpointBit;
  for (const capability of implied) mask |= capabilityBit.get(capability) as number;
  const requested = given.capabilities;
  if (requested !== undefined) {
    if (!Array.isArray(requested)) throw new NeedError('need.capabilities', 'expected a list of capabilities');
    for (let index = 0; index < requested.length; index++) {
      const bit = capabilityBit.get(requested[index] as Capability);
      if (bit === undefined) {
        throw new NeedError(`need.capabilities[${index}]`, `unknown capability ${JSON.stringify(requested[index])}; known: ${CAPABILITIES.join(', ')}`);
      }
      mask |= bit;
    }
  }
  const minContext = given.minContext ?? 0;
  if (!Number.isSafeInteger(minContext) || minContext < 0) {
    throw new NeedError('need.minContext', `expected a whole number of tokens >= 0, received ${describeReceived(given.minContext)}`);
  }
  if (given.version !== undefined) parseVersionConstraint(given.version, 'need.version');
  const strategy = given.strategy ?? defaultStrategy;
  if (!STRATEGIES.includes(strategy)) throw new NeedError('need.strategy', `expected one of ${STRATEGIES.join(', ')}, received ${describeReceived(strategy)}`);
  if (given.openWeights !== undefined && typeof given.openWeights !== 'boolean') throw new NeedError('need.openWeights', 'expected true or false');
  if (given.includeDeprecated !== undefined && typeof given.includeDeprecated !== 'boolean') throw new NeedError('need.includeDeprecated', 'expected true or false');
  const family = stringList(given.family, 'need.family');
  const prefer = stringList(given.prefer, 'need.prefer') ?? NONE;
  const exclude = stringList(given.exclude, 'need.exclude') ?? NONE;
  const openWeights = given.openWeights === true;
  const includeDeprecated = given.includeDeprecated !== false;
  // Built by hand: JSON.stringify of the whole need cost several microseconds on every call.
  const signature = `${mask}|${minContext}|${family === undefined ? '' : family.join(',')}|${given.version ?? ''}|${openWeights ? 1 : 0}|${prefer.length === 0 ? '' : prefer.join(',')}|${exclude.length === 0 ? '' : exclude.join(',')}|${strategy}|${includeDeprecated ? 1 : 0}`;
  return { capabilities: capabilitiesOf(mask), minContext, family, version: given.version, openWeights, prefer, exclude, strategy, includeDeprecated, signature };
}

const NONE: readonly string[] = Object.freeze([]);
const capabilityBit = new Map<Capability, number>(CAPABILITIES.map((capability, index) => [capability, 1 << index]));
const capabilityLists = new Map<number, readonly Capability[]>();

/** The capabilities of a mask, in catalogue order; one frozen array per mask. */
function capabilitiesOf(mask: number): readonly Capability[] {
  let list = capabilityLists.get(mask);
  if (list === undefined) {
    list = Object.freeze(CAPABILITIES.filter((capability) => (mask & (capabilityBit.get(capability) as number)) !== 0));
    capabilityLists.set(mask, list);
  }
  return list;
}

/** A token count given by a caller (maxTokens...): a whole number >= 0, else NeedError. */
export function tokenCount(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new NeedError(field, `expected a whole number of tokens >= 0, received ${describeReceived(value)}`);
  }
  return value;
}

/** Capabilities a chat request's content implies: images, audio, tools, JSON output. */
export function impliedCapabilities(request: Record<string, unknown>): Capability[] {
  const implied: Capability[] = [];
  const messages = request.messages as unknown[];
  let vision = false;
  let audio = false;
  for (const message of messages) {
    const content = (message as { content?: unknown } | null)?.content;
    if (!Array.isArray(content)) continue;
    for (const part of content) {
      const type = (part as { type?: unknown } | null)?.type;
      if (type === 'image_url') vision = true;
      else if (type === 'input_audio') audio = true;
    }
  }
  if (vision) implied.push('vision');
  if (audio) implied.push('audio');
  if (Array.isArray(request.tools) && request.tools.length > 0) implied.push('function_calling');
  const format = (request.responseFormat as { type?: string } | undefined)?.type;
  if (format === 'json_object' || format === 'json_schema') implied.push('json_mode');
  return implied;
}
