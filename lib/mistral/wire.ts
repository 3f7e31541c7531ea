/**
 * Mistral's wire format (the snake_case JSON of its HTTP API, which curl, Python and OpenAI-style clients send)
 * to and from the camelCase shapes of `@mistralai/mistralai`, which the router takes and returns.
 *
 * The SDK only converts one way (its request schemas serialise camelCase to the wire, its response schemas
 * parse the wire), so a server that speaks the wire (the gateway) or a client library that produces it (the
 * AI SDK's Mistral provider, through its `fetch` option) needs the other direction. Keys are converted
 * mechanically (`max_tokens` <-> `maxTokens`); the SDK's two exceptions (`input` <-> `inputs` of an embeddings
 * request, `schema` <-> `schemaDefinition` of a JSON schema) are written out; user data is never touched (a
 * tool's `parameters`, a JSON schema's `schema`, `metadata`, a tool call's `arguments`).
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

/** Keys whose values are the caller's own data, passed through as they are. */
const OPAQUE_KEYS: ReadonlySet<string> = new Set(['parameters', 'metadata', 'arguments']);

/** The wire request converted: the SDK request, and the extra fields the caller asked to take out. */
export interface FromWire {
  /** The request in the SDK's shape (camelCase), without `stream` (the caller chooses complete or stream). */
  readonly request: Record<string, unknown>;
  /** Whether the wire request asked for a stream. */
  readonly stream: boolean;
  /** Fields named in `options.extras` found in the body (e.g. the router's `need`), untouched. */
  readonly extras: Readonly<Record<string, unknown>>;
}

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

function camelKey(key: string): string {
  return key.includes('_') ? key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) : key;
}

function snakeKey(key: string): string {
  return /[A-Z]/.test(key) ? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : key;
}

/** Converts keys to camelCase all the way down, except inside opaque values. */
function toCamel(value: unknown, parentKey: string): unknown {
  if (Array.isArray(value)) return value.map((item) => toCamel(item, parentKey));
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (OPAQUE_KEYS.has(key)) out[key] = item;
    else if (key === 'schema' && parentKey === 'json_schema') out.schemaDefinition = item;
    else out[camelKey(key)] = toCamel(item, key);
  }
  return out;
}

/** Converts keys to snake_case all the way down, except inside opaque values. */
function toSnake(value: unknown, parentKey: string): unknown {
  if (Array.isArray(value)) return value.map((item) => toSnake(item, parentKey));
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (item === undefined) continue;
    if (OPAQUE_KEYS.has(key)) out[key] = item;
    else if (key === 'schemaDefinition' && parentKey === 'jsonSchema') out.schema = item;
    else out[snakeKey(key)] = toSnake(item, key);
  }
  return out;
}

/**
 * A wire request body (already parsed JSON) as the SDK's request. Throws NeedError naming the field for a body
 * that is not an object, a field Mistral's API does not take, or a nested shape it does not take (a message
 * of an unknown role or field, a content part of an unknown type: see wire-schema.ts).
 */
export function requestFromWire(endpoint: WireEndpoint, body: unknown, options: FromWireOptions = {}): FromWire {
  const { view, stream, extras } = readWire(endpoint, body, options, true, undefined);
  return { request: view, stream, extras };
}

/**
 * A wire request checked for the router's wire transport (`router.wire`): the same checks as
 * {@link requestFromWire}, and no conversion of what is sent. One per call (the router may add its routing
 * fields to `view`).
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

/** Checks a wire body (NeedError naming the field, as {@link requestFromWire}) into a {@link WireRequest}. */
export function wireRequest(endpoint: WireEndpoint, body: unknown, options: FromWireOptions = {}): WireRequest {
  const sent: Record<string, unknown> = {};
  const { view, stream, extras } = readWire(endpoint, body, options, false, sent);
  return { endpoint, body: sent, view, stream, extras };
}

/** The one reading of a wire body: checked; `deep` converts every key (the SDK's request), else the top level only. */
function readWire(endpoint: WireEndpoint, body: unknown, options: FromWireOptions, deep: boolean, sent: Record<string, unknown> | undefined): { view: Record<string, unknown>; stream: boolean; extras: Record<string, unknown> } {
  if (!isObject(body)) throw new NeedError('body', `expected a JSON object, received ${describe(body)}`);
  const known = REQUEST_FIELDS[endpoint];
  const extraNames = options.extras ?? [];
  const extras: Record<string, unknown> = {};
  const view: Record<string, unknown> = {};
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
    if (sent !== undefined && key !== 'model') sent[key] = value;
    if (endpoint === 'embeddings' && key === 'input') view.inputs = value;
    else if (OPAQUE_KEYS.has(key)) view[key] = value;
    else view[camelKey(key)] = deep ? toCamel(value, key) : value;
  }
  checkWireBody(endpoint, body);
  return { view, stream, extras };
}

/**
 * An SDK response (chat, FIM, embeddings) as the wire's JSON object. Fields the router adds (`routing`) are not
 * Mistral's and are left out; the caller reports them its own way (headers).
 */
export function responseToWire(response: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(response)) {
    if (key === 'routing' || value === undefined) continue;
    out[snakeKey(key)] = toSnake(value, key);
  }
  return out;
}

/** One chunk of a stream (the SDK's `CompletionEvent.data`) as the wire's JSON object of a `data:` line. */
export function chunkToWire(chunk: object): Record<string, unknown> {
  return toSnake(chunk, '') as Record<string, unknown>;
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
