/**
 * Response bodies in Mistral's shapes: the deterministic stand-ins for completions, embeddings and the
 * model list, and every error body the emulator sends. Bodies the SDK must parse follow the zod schemas
 * of @mistralai/mistralai 2.x (e.g. `deprecation` is an ISO date-time with offset, `type: "base"`).
 */
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

/**
 * An embeddings response: one vector per input, derived from the input's hash, so the same text always
 * gets the same vector and different texts (almost always) different ones.
 */
export function embeddingsBody(id: string, model: string, inputs: readonly string[], dimension: number, usage: Usage): string {
  const data = inputs.map((input, index) => {
    let state = hash(input) || 1;
    const embedding = new Array<number>(dimension);
    for (let i = 0; i < dimension; i++) {
      // xorshift32: cheap, and good enough for stand-in values in (-1, 1).
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      embedding[i] = Math.round(((state >>> 0) / 2_147_483_648 - 1) * 10_000) / 10_000;
    }
    return { object: 'embedding', embedding, index };
  });
  return JSON.stringify({ id, object: 'list', model, data, usage });
}

/** The capability flags of `/v1/models`, from catalogue capabilities. */
function capabilityFlags(model: Model): Record<string, boolean> {
  const has = (capability: Model['capabilities'][number]) => model.capabilities.includes(capability);
  return {
    completion_chat: has('chat'),
    completion_fim: has('fim'),
    function_calling: has('function_calling'),
    fine_tuning: false,
    vision: has('vision'),
    ocr: has('ocr'),
    classification: has('moderation'),
    moderation: has('moderation'),
    audio: has('audio'),
    reasoning: has('reasoning'),
  };
}

/** A deprecation date as the ISO date-time with offset that the SDK's schema requires. */
function deprecationTimestamp(date: string | null): string | null {
  if (date === null) return null;
  const parsed = new Date(/T/.test(date) ? date : `${date}T00:00:00Z`);
  return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
}

/** The `/v1/models` body for a catalogue (computed once per catalogue: it never changes while running). */
export function modelListBody(models: readonly Model[], created: number): string {
  return JSON.stringify({
    object: 'list',
    data: models.map((model) => ({
      id: model.id,
      object: 'model',
      created,
      owned_by: 'mistralai',
      capabilities: capabilityFlags(model),
      name: model.id,
      description: model.description,
      // The SDK defaults a missing window to 32768; an unknown one is sent as that default too.
      max_context_length: model.contextWindow ?? 32768,
      aliases: model.aliases,
      deprecation: deprecationTimestamp(model.deprecation?.date ?? null),
      deprecation_replacement_model: model.deprecation?.replacement ?? null,
      default_model_temperature: null,
      type: 'base',
    })),
  });
}
