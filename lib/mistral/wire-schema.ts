/**
 * The JSON Schemas of Mistral's request bodies as the wire spells them (chat, FIM, embeddings), written from
 * the official SDK's request schemas (`@mistralai/mistralai` 2.7, models/components: the `$Outbound` shapes,
 * which are what it sends). They judge the nested shapes a body must have before anything is routed: a
 * message of an unknown role or field, content that is neither a string nor a list of known parts, a part
 * without its payload, a tool or tool call of the wrong shape, a scalar of the wrong type.
 *
 * Where the SDK is lenient, so are these: enums the SDK keeps open (`tool_choice`, `reasoning_effort`, a
 * tool's `type` other than `function`) are any string; fields inside parts, tools and tool calls the SDK
 * does not list are let through (its schemas strip them silently; the upstream judges them). The top level
 * admits any field: unknown top-level fields are wire.ts's to refuse by name (or the gateway's to map,
 * lib/gateway/openai-compat.ts), and `stream` is read there. A message's fields are closed per role, as
 * Mistral's API closes them. User data stays opaque: a tool's `parameters`, a JSON schema's `schema`,
 * `metadata`, a tool call's `arguments`.
 *
 * Every object schema carries a `title` ("a user message"): the validator's messages name it.
 */
import type { WireEndpoint } from './wire.js';

type Schema = Readonly<Record<string, unknown>>;

const ref = (name: string): Schema => ({ $ref: `#/definitions/${name}` });
const nullable = (type: string): Schema => ({ type: [type, 'null'] });
const tokens: Schema = { type: ['integer', 'null'], minimum: 0 };
/** `{ type, ...}` objects chosen by their `type` (or a message by its `role`): one if/then per value. */
const byTag = (tag: string, cases: Readonly<Record<string, string>>): Schema => ({
  allOf: Object.entries(cases).map(([value, definition]) => ({
    if: { type: 'object', properties: { [tag]: { const: value } }, required: [tag] },
    then: ref(definition),
  })),
});
const object = (title: string, properties: Record<string, Schema>, required: readonly string[] = [], closed = false): Schema => ({
  type: 'object',
  title,
  properties,
  ...(required.length === 0 ? {} : { required }),
  ...(closed ? { additionalProperties: false } : {}),
});

/** The content parts of a user, assistant or tool message (the SDK's `ContentChunk`). */
const PART_TYPES = {
  text: 'textPart',
  image_url: 'imageUrlPart',
  document_url: 'documentUrlPart',
  reference: 'referencePart',
  file: 'filePart',
  thinking: 'thinkingPart',
  input_audio: 'audioPart',
} as const;

/** A system message takes text and thinking parts only (the SDK's `SystemMessageContentChunks`). */
const SYSTEM_PART_TYPES = { text: 'textPart', thinking: 'thinkingPart' } as const;

const MESSAGE_ROLES = { system: 'systemMessage', user: 'userMessage', assistant: 'assistantMessage', tool: 'toolMessage' } as const;

const part = (types: Readonly<Record<string, string>>): Schema => ({
  type: 'object',
  title: 'a content part',
  properties: { type: { enum: Object.keys(types) } },
  required: ['type'],
  ...byTag('type', types),
});

const content = (parts: string, nullAllowed: boolean): Schema => ({
  type: nullAllowed ? ['string', 'array', 'null'] : ['string', 'array'],
  items: ref(parts),
});

const definitions: Record<string, Schema> = {
  part: part(PART_TYPES),
  systemPart: part(SYSTEM_PART_TYPES),
  textPart: object('a text part', { text: { type: 'string' } }, ['text']),
  imageUrlPart: object('an image_url part', { image_url: { type: ['string', 'object'], title: 'an image_url', properties: { url: { type: 'string' }, detail: nullable('string') }, required: ['url'] } }, ['image_url']),
  documentUrlPart: object('a document_url part', { document_url: { type: 'string' }, document_name: nullable('string') }, ['document_url']),
  referencePart: object('a reference part', { reference_ids: { type: 'array', items: { type: ['integer', 'string'] } } }, ['reference_ids']),
  filePart: object('a file part', { file_id: { type: 'string' } }, ['file_id']),
  thinkingPart: object('a thinking part', { thinking: { type: 'array', items: { type: 'object', title: 'a thinking item', properties: { type: { type: 'string' } }, required: ['type'] } }, signature: nullable('string'), closed: { type: 'boolean' } }, ['thinking']),
  audioPart: object('an input_audio part', { input_audio: { type: 'string' } }, ['input_audio']),
  message: {
    type: 'object',
    title: 'a message',
    properties: { role: { enum: Object.keys(MESSAGE_ROLES) } },
    required: ['role'],
    ...byTag('role', MESSAGE_ROLES),
  },
  systemMessage: object('a system message', { role: {}, content: content('systemPart', false) }, ['content'], true),
  userMessage: object('a user message', { role: {}, content: content('part', true) }, ['content'], true),
  assistantMessage: object('an assistant message', { role: {}, content: content('part', true), tool_calls: { type: ['array', 'null'], items: ref('toolCall') }, prefix: { type: 'boolean' } }, [], true),
  toolMessage: object('a tool message', { role: {}, content: content('part', true), tool_call_id: nullable('string'), name: nullable('string') }, ['content'], true),
  toolCall: object('a tool call', {
    id: { type: 'string' },
    type: { type: 'string' },
    index: { type: 'integer' },
    function: object('a tool call\'s function', { name: { type: 'string' }, arguments: { type: ['object', 'string'] } }, ['name', 'arguments']),
  }, ['function']),
  tool: {
    ...object('a tool', { type: { type: 'string' } }, ['type']),
    if: { type: 'object', properties: { type: { const: 'function' } }, required: ['type'] },
    then: { type: 'object', properties: { function: ref('function') }, required: ['function'] },
  },
  function: object('a function', { name: { type: 'string' }, description: { type: 'string' }, strict: { type: 'boolean' }, parameters: { type: 'object' } }, ['name']),
  toolChoice: {
    type: ['string', 'object'],
    title: 'a tool choice',
    properties: { type: { type: 'string' }, function: object('a tool choice\'s function', { name: { type: 'string' } }, ['name']) },
    required: ['function'],
  },
  responseFormat: object('a response format', {
    type: { type: 'string' },
    json_schema: { type: ['object', 'null'], title: 'a json_schema', properties: { name: { type: 'string' }, description: nullable('string'), schema: { type: 'object' }, strict: { type: 'boolean' } }, required: ['name', 'schema'] },
  }),
  prediction: object('a prediction', { type: { const: 'content' }, content: { type: 'string' } }),
  stop: { type: ['string', 'array', 'null'], items: { type: 'string' } },
};

/** Fields chat and FIM share (the SDK's completion arguments). */
const SAMPLING: Record<string, Schema> = {
  model: { type: 'string' },
  temperature: nullable('number'),
  top_p: nullable('number'),
  max_tokens: tokens,
  stop: ref('stop'),
  random_seed: nullable('integer'),
  metadata: nullable('object'),
  prompt_cache_key: nullable('string'),
};

const body = (title: string, properties: Record<string, Schema>, required: readonly string[]): Schema => ({
  $schema: 'http://json-schema.org/draft-07/schema#',
  ...object(title, properties, required),
  definitions,
});

/** The schema of each endpoint's body (compiled once per process by wire-validate.ts). */
export const WIRE_SCHEMAS: Readonly<Record<WireEndpoint, Schema>> = {
  chat: body('a chat completion', {
    ...SAMPLING,
    messages: { type: 'array', items: ref('message') },
    response_format: ref('responseFormat'),
    tools: { type: ['array', 'null'], items: ref('tool') },
    tool_choice: ref('toolChoice'),
    presence_penalty: nullable('number'),
    frequency_penalty: nullable('number'),
    n: { type: ['integer', 'null'], minimum: 1 },
    prediction: ref('prediction'),
    parallel_tool_calls: { type: 'boolean' },
    reasoning_effort: nullable('string'),
    prompt_mode: nullable('string'),
    guardrails: { type: ['array', 'null'], items: { type: 'object', title: 'a guardrail' } },
    service_tier: nullable('string'),
    safe_prompt: { type: 'boolean' },
  }, ['messages']),
  fim: body('a FIM completion', { ...SAMPLING, prompt: { type: 'string' }, suffix: nullable('string'), min_tokens: tokens }, ['prompt']),
  embeddings: body('an embeddings request', {
    model: { type: 'string' },
    metadata: nullable('object'),
    input: { type: ['string', 'array'], items: { type: 'string' } },
    output_dimension: { type: ['integer', 'null'], minimum: 1 },
    output_dtype: { type: 'string' },
    encoding_format: { type: 'string' },
  }, ['input']),
};
