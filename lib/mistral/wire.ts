/**
 * Mistral's wire format (the snake_case JSON of its HTTP API, which curl, Python and OpenAI-style clients send),
 * as the router's wire transport (`router.wire`: the gateway, the AI SDK provider's fetch) takes it: the body
 * is sent as it came; the router reads it through a view of its top-level fields under the SDK's names
 * (`max_tokens` -> `maxTokens`, an embeddings request's `input` -> `inputs`), values shared, nothing below
 * the top level converted.
 *
 * A request field the SDK does not know would be dropped by its schemas without a word: here it is refused
 * with a NeedError naming the field, so a client learns that its field was not sent. The nested shapes
 * (messages, content parts, tools, scalars' types) are checked against the endpoint's JSON Schema
 * (wire-validate.ts), a NeedError naming the field path.
 */
import { NeedError } from '../errors.js';
import { checkWireBody } from './wire-validate.js';

export type WireEndpoint = 'chat' | 'fim' | 'embeddings';

/** The request fields Mistral's API takes (SDK 2.7), per endpoint, as the wire spells them. */
const REQUEST_FIELDS: Readonly<Record<WireEndpoint, ReadonlySet<string>>> = {
  chat: new Set([
    'model', 'temperature', 'top_p', 'max_tokens', 'stream', 'stop', 'random_seed', 'metadata', 'messages',
    'response_format', 'tools', 'tool_choice', 'presence_penalty', 'frequency_penalty', 'n', 'prediction',
    'parallel_tool_calls', 'reasoning_effort', 'prompt_mode', 'guardrails', 'prompt_cache_key', 'service_tier',
    'safe_prompt',
  ]),
  fim: new Set(['model', 'temperature', 'top_p', 'max_tokens', 'stream', 'stop', 'random_seed', 'metadata', 'prompt', 'suffix', 'min_tokens', 'prompt_cache_key']),
  embeddings: new Set(['model', 'metadata', 'input', 'output_dimension', 'output_dtype', 'encoding_format']),
};

/** The request fields Mistral's API takes at `endpoint`, as the wire spells them. */
export function wireRequestFields(endpoint: WireEndpoint): ReadonlySet<string> {
  return REQUEST_FIELDS[endpoint];
}

/** Keys whose values are the caller's own data: they keep their wire names in the router's view too. */
const OPAQUE_KEYS: ReadonlySet<string> = new Set(['parameters', 'metadata', 'arguments']);

export interface FromWireOptions {
  /** Body fields that are not Mistral's but the caller handles (taken out, not refused). @default [] */
  readonly extras?: readonly string[];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The SDK's names of the wire's fields, made once each (only known fields reach it: the map stays small). */
const CAMEL = new Map<string, string>();

function camelKey(key: string): string {
  let camel = CAMEL.get(key);
  if (camel === undefined) CAMEL.set(key, (camel = key.includes('_') ? key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) : key));
  return camel;
}

/**
 * A wire request checked for the router's wire transport (`router.wire`), with nothing of what is sent
 * converted. One per call (the router may add its routing fields to `view`).
 */
export interface WireRequest {
  readonly endpoint: WireEndpoint;
  /** The fields sent upstream, as they came, without `model` and `stream` (set per attempt) and the extras. */
  readonly body: Record<string, unknown>;
  /**
   * The request as the router reads it (need, estimate, content key): the same fields under the SDK's
   * top-level names (`maxTokens`, `responseFormat`, `inputs`), their values shared with `body`, and `model`.
   */
  readonly view: Record<string, unknown>;
  /** Whether the body asked for a stream. */
  readonly stream: boolean;
  /** Fields named in `options.extras` found in the body, untouched. */
  readonly extras: Readonly<Record<string, unknown>>;
}

/**
 * Checks a wire body (already parsed JSON) into a {@link WireRequest}. Throws NeedError naming the field for
 * a body that is not an object, a field Mistral's API does not take, or a nested shape it does not take (a
 * message of an unknown role or field, a content part of an unknown type: see wire-schema.ts).
 */
export function wireRequest(endpoint: WireEndpoint, body: unknown, options: FromWireOptions = {}): WireRequest {
  if (!isObject(body)) throw new NeedError('body', `expected a JSON object, received ${describe(body)}`);
  const known = REQUEST_FIELDS[endpoint];
  const extraNames = options.extras ?? [];
  const extras: Record<string, unknown> = {};
  const view: Record<string, unknown> = {};
  const sent: Record<string, unknown> = {};
  let stream = false;
  for (const key of Object.keys(body)) {
    const value = body[key];
    if (extraNames.includes(key)) {
      extras[key] = value;
      continue;
    }
    if (!known.has(key)) throw new NeedError(key, `unknown field for ${endpoint === 'chat' ? 'a chat completion' : endpoint === 'fim' ? 'a FIM completion' : 'an embeddings request'}; Mistral's fields: ${[...known].join(', ')}`);
    if (key === 'stream') {
      if (value !== undefined && value !== null && typeof value !== 'boolean') throw new NeedError('stream', `expected true or false, received ${describe(value)}`);
      stream = value === true;
      continue;
    }
    if (key !== 'model') sent[key] = value;
    if (endpoint === 'embeddings' && key === 'input') view.inputs = value;
    else if (OPAQUE_KEYS.has(key)) view[key] = value;
    else view[camelKey(key)] = value;
  }
  checkWireBody(endpoint, body);
  return { endpoint, body: sent, view, stream, extras };
}

/** Mistral's error body: `{ object: 'error', message, type, param, code }`. */
export interface WireErrorBody {
  readonly object: 'error';
  readonly message: string;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
}

export function wireError(message: string, type: string, param: string | null = null, code: string | null = null): WireErrorBody {
  return { object: 'error', message, type, param, code };
}
