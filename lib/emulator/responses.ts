/**
 * Response bodies in Mistral's shapes: the deterministic stand-ins for completions, embeddings and the
 * model list, and every error body the emulator sends. Bodies the SDK must parse follow the zod schemas
 * of @mistralai/mistralai 2.x (e.g. `deprecation` is an ISO date-time with offset, `type: "base"`).
 */
import { modelCard, type ModelCard } from '../catalog/cards.js';
import type { Model } from '../catalog/types.js';

/** Token counts of one call: exactly what was charged. */
export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

// ---- error bodies (fixed ones are preformatted: they are sent on hot paths such as a 429 storm) ------

/** 429 for requests per second / per minute, as Mistral sends it. */
export const REQUESTS_RATE_LIMIT_BODY = '{"message":"Requests rate limit exceeded"}';

/** 429 for tokens per minute / per month (code 1300). */
export const TOKENS_RATE_LIMIT_BODY = '{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300"}';

/** The provider's capacity for a model (code 3505), sent as 429 or 503. */
export const CAPACITY_BODY =
  '{"object":"error","message":"Service tier capacity exceeded for this model.","type":"service_tier_capacity_exceeded","param":null,"code":"3505"}';

/** Bodies of the injected server errors: JSON from the API for 500/503, an HTML page from the proxy for 502. */
export const SERVER_ERROR_BODIES = {
  500: { contentType: 'application/json', body: '{"object":"error","message":"Internal server error","type":"internal_server_error","param":null,"code":"1000"}' },
  502: { contentType: 'text/html', body: '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n' },
  503: { contentType: 'application/json', body: '{"object":"error","message":"Service unavailable","type":"service_unavailable","param":null,"code":"1001"}' },
} as const;

/** 401 for a missing or unknown key. */
export function unauthorizedBody(requestId: string): string {
  return `{"message":"Unauthorized","request_id":"${requestId}"}`;
}

/** Mistral's generic error object (400s). */
export function mistralErrorBody(message: string, type: string, code: string | null): string {
  return JSON.stringify({ object: 'error', message, type, param: null, code });
}

/** One entry of a 422 body, in the FastAPI/pydantic shape the SDK parses as HTTPValidationError. */
export interface ValidationDetail {
  readonly type: string;
  readonly loc: readonly (string | number)[];
  readonly msg: string;
  readonly input: unknown;
  readonly ctx?: Record<string, unknown>;
}

/** 422 body. */
export function validationErrorBody(detail: readonly ValidationDetail[]): string {
  return JSON.stringify({ detail });
}

/** The 400 bodies for requests a model cannot serve. Messages follow Mistral's wording where known. */
export const invalidRequest = {
  unknownModel: (model: string) => mistralErrorBody(`Invalid model: ${model}`, 'invalid_model', '1500'),
  /** The 404 Mistral's docs describe for a retired model (its error glossary's `unknown_model`). */
  unknownModel404: (model: string) => JSON.stringify({ object: 'error', message: `Invalid model: ${model}`, type: 'invalid_request_error', param: 'model', code: 'unknown_model' }),
  notChatModel: (model: string) => mistralErrorBody(`Model ${model} does not support chat completions`, 'invalid_request_error', '3051'),
  notFimModel: (model: string) => mistralErrorBody(`Model ${model} does not support fill-in-the-middle completions`, 'invalid_request_error', '3051'),
  notEmbeddingModel: (model: string) => mistralErrorBody(`Model ${model} does not support embeddings`, 'invalid_request_error', '3051'),
  noVision: (model: string) => mistralErrorBody(`Model ${model} does not support image input`, 'invalid_request_message_content', '3051'),
  noAudio: (model: string) => mistralErrorBody(`Model ${model} does not support audio input`, 'invalid_request_message_content', '3051'),
  /** Mistral's own wording: "Prompt contains N tokens and M draft tokens, too large for model with C maximum context length". */
  contextTooLong: (tokens: number, contextWindow: number) =>
    mistralErrorBody(
      `Prompt contains ${tokens} tokens and 0 draft tokens, too large for model with ${contextWindow} maximum context length`,
      'invalid_request_prompt',
      '3051',
    ),
};

// ---- success bodies ----------------------------------------------------------------------------------

/** The stand-in reply text, split in words so that a stream has several content chunks. */
export function replyWords(model: string): readonly string[] {
  return ['This ', 'is ', 'a ', 'deterministic ', 'reply ', 'from ', 'the ', 'mistral-router ', 'emulator ', `(${model}).`];
}

/**
 * A chat (or FIM) completion response. Written as a template rather than JSON.stringify of an object:
 * this is the body of nearly every request in a benchmark, and the only variable parts are scalars.
 *
 * `model` is written as given. The server always passes the catalogue id the request resolved to, never
 * the alias it was sent with: a request for `mistral-small-latest` is answered with
 * `"model":"mistral-small-2506"` (likewise in stream chunks and embeddings), so that a test can see which
 * model served and was metered. Mistral's own API reference shows the requested name echoed instead
 * (`"model":"mistral-small-latest"`), so code that must work against both should not read the served
 * model from `model`; resolve the alias through the catalogue or `/v1/models` instead.
 */
export function completionBody(id: string, model: string, created: number, content: string, usage: Usage): string {
  return (
    `{"id":${JSON.stringify(id)},"object":"chat.completion","model":${JSON.stringify(model)},"created":${created},` +
    `"choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(content)},"tool_calls":null,"prefix":false},"finish_reason":"stop"}],` +
    `"usage":{"prompt_tokens":${usage.prompt_tokens},"completion_tokens":${usage.completion_tokens},"total_tokens":${usage.total_tokens}}}`
  );
}

/**
 * The server-sent events of a streamed completion: a first chunk with the role, one chunk per word,
 * a last chunk with `finish_reason` and `usage`, then `data: [DONE]`. As upstream, usage only arrives last.
 * `model` is the resolved catalogue id, as in `completionBody`.
 */
export function streamEvents(id: string, model: string, created: number, words: readonly string[], usage: Usage): string[] {
  const chunk = (delta: Record<string, unknown>, finishReason: string | null, withUsage: boolean): string =>
    `data: ${JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
      ...(withUsage ? { usage } : {}),
    })}\n\n`;
  const events = [chunk({ role: 'assistant', content: '' }, null, false)];
  for (const word of words) events.push(chunk({ content: word }, null, false));
  events.push(chunk({ content: '' }, 'stop', true));
  events.push('data: [DONE]\n\n');
  return events;
}

/** FNV-1a, to derive a stable vector from an input. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Stand-in vector components are multiples of 1/`COMPONENT_SCALE` in [-1, 1]. */
const COMPONENT_SCALE = 10_000;

/** Components per precomputed block, and blocks in the pool. */
const BLOCK_LENGTH = 64;
const BLOCK_POOL = 256;

/** Below this dimension a vector is generated component by component (few blocks would collide too often). */
const MIN_BLOCKED_DIMENSION = 4 * BLOCK_LENGTH;

/** One xorshift32 step: cheap, and good enough for stand-in values. */
function xorshift(state: number): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state;
}

/** The JSON text of the component a PRNG state stands for: `String(k / 10_000)`, from the table. */
function componentOf(table: readonly string[], state: number): string {
  return table[Math.round(((state >>> 0) / 2_147_483_648 - 1) * COMPONENT_SCALE) + COMPONENT_SCALE] as string;
}

interface VectorTables {
  /** The JSON text of every component, indexed by `numerator + COMPONENT_SCALE`. */
  readonly components: readonly string[];
  /** `BLOCK_POOL` blocks of `BLOCK_LENGTH` comma-separated components each, from a fixed seed. */
  readonly blocks: readonly string[];
}

let vectorTables: VectorTables | undefined;

/** Built once per process, on the first embeddings request (about 20k short strings and 256 blocks). */
function tables(): VectorTables {
  if (vectorTables === undefined) {
    const components = new Array<string>(2 * COMPONENT_SCALE + 1);
    // JSON.stringify writes a number as its shortest round-trip form (and -0 as 0): the text of each is fixed.
    for (let k = -COMPONENT_SCALE; k <= COMPONENT_SCALE; k++) components[k + COMPONENT_SCALE] = JSON.stringify(k / COMPONENT_SCALE);
    const blocks = new Array<string>(BLOCK_POOL);
    let state = 0x9e3779b9;
    for (let b = 0; b < BLOCK_POOL; b++) {
      const parts = new Array<string>(BLOCK_LENGTH);
      for (let i = 0; i < BLOCK_LENGTH; i++) parts[i] = componentOf(components, (state = xorshift(state)));
      blocks[b] = parts.join(',');
    }
    vectorTables = { components, blocks };
  }
  return vectorTables;
}

/**
 * The JSON array text of the stand-in vector of an input, a pure function of (input, dimension): the same
 * text gets the same vector in every request, emulator and run. A PRNG (xorshift32) seeded with the input's
 * FNV-1a hash picks, for each 64 components, one of 256 precomputed blocks, then writes any remaining
 * components one by one: a 1,024-dimension vector is 16 string concatenations, not 1,024 number
 * formattings (~200 µs per vector, which made embeddings the slowest endpoint). Two texts get the same
 * vector only if their 32-bit hashes collide or, at 256 dimensions or more, all their block picks do
 * (about one chance in 2^32). Below 256 dimensions every component is drawn directly.
 */
export function embeddingJson(input: string, dimension: number): string {
  const { components, blocks } = tables();
  let state = hash(input) || 1;
  let out = '[';
  let written = 0;
  if (dimension >= MIN_BLOCKED_DIMENSION) {
    for (; written + BLOCK_LENGTH <= dimension; written += BLOCK_LENGTH) {
      state = xorshift(state);
      if (written > 0) out += ',';
      out += blocks[(state >>> 0) % BLOCK_POOL] as string;
    }
  }
  for (; written < dimension; written++) {
    state = xorshift(state);
    if (written > 0) out += ',';
    out += componentOf(components, state);
  }
  return `${out}]`;
}

/**
 * An embeddings response: one vector per input (see `embeddingJson`: the same text always gets the same
 * vector, different texts almost always different ones). A template rather than JSON.stringify of an
 * object, as `completionBody`. `model` is written as given: the server passes the resolved catalogue id.
 */
export function embeddingsBody(id: string, model: string, inputs: readonly string[], dimension: number, usage: Usage): string {
  let data = '';
  for (let index = 0; index < inputs.length; index++) {
    if (index > 0) data += ',';
    data += `{"object":"embedding","embedding":${embeddingJson(inputs[index] as string, dimension)},"index":${index}}`;
  }
  return (
    `{"id":${JSON.stringify(id)},"object":"list","model":${JSON.stringify(model)},"data":[${data}],` +
    `"usage":{"prompt_tokens":${usage.prompt_tokens},"completion_tokens":${usage.completion_tokens},"total_tokens":${usage.total_tokens}}}`
  );
}

/**
 * Every alias of each model, by model id: the aliases its catalogue entry lists that still resolve to it,
 * plus those a top-level alias map points at it (`aliases`, when the catalogue exposes one), in that order.
 */
export function aliasesByModel(models: readonly Model[], resolve: (name: string) => Model | undefined, aliases?: ReadonlyMap<string, string>): Map<string, string[]> {
  const byModel = new Map<string, string[]>(models.map((model) => [model.id, [] as string[]]));
  const add = (alias: string, id: string) => {
    const list = byModel.get(id);
    if (list !== undefined && !list.includes(alias)) list.push(alias);
  };
  for (const model of models) for (const alias of model.aliases) if (resolve(alias)?.id === model.id) add(alias, model.id);
  for (const [alias, id] of aliases ?? []) add(alias, id);
  return byModel;
}

/**
 * The `/v1/models` body for a list of models and extra cards (the server builds it once per day and key).
 *
 * As Mistral's own list, every alias is also a card of its own: `id` is the alias, `name` the model it
 * resolves to, `aliases` the model's other names (its id first), and capabilities, context and deprecation
 * those of the model. A model's own card lists its aliases. Cards come model by model, each model's card
 * followed by its aliases' cards. `aliases` defaults to each model's catalogue list.
 */
export function modelListBody(models: readonly Model[], created: number, aliases?: ReadonlyMap<string, readonly string[]>, extraCards: readonly ModelCard[] = []): string {
  const card = (id: string, model: Model, otherNames: readonly string[]) => modelCard(model, id, created, otherNames);
  const data: ModelCard[] = models.flatMap((model) => {
    const names = aliases?.get(model.id) ?? model.aliases;
    return [card(model.id, model, names), ...names.map((alias) => card(alias, model, [model.id, ...names.filter((other) => other !== alias)]))];
  });
  return JSON.stringify({ object: 'list', data: [...data, ...extraCards] });
}
