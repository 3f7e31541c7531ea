/**
 * Reading the body of a model-endpoint request: JSON, required fields, types. Anything malformed gets
 * the 422 details Mistral's API (FastAPI/pydantic) sends, so the SDK raises its HTTPValidationError.
 * Whether the model can serve the request is decided later, against the catalogue (400s).
 */
import { estimateChatPrompt, estimateEmbeddingInput, estimateFimPrompt } from './token-estimate.js';
import type { ValidationDetail } from './responses.js';

/** The three metered endpoints. */
export type Endpoint = 'chat' | 'fim' | 'embeddings';

/** A well-formed call, with its token estimate. */
export interface ParsedCall {
  readonly endpoint: Endpoint;
  /** The model as written in the request (id or alias). */
  readonly model: string;
  readonly stream: boolean;
  /** `max_tokens` when given. */
  readonly maxTokens: number | undefined;
  readonly promptTokens: number;
  /** The largest single input (embeddings) or the whole prompt: what must fit the context window. */
  readonly largestInputTokens: number;
  readonly imageParts: number;
  readonly audioParts: number;
  /** Embeddings inputs, in order. */
  readonly inputs: readonly string[];
  /** Embeddings `output_dimension`, when given. */
  readonly outputDimension: number | undefined;
  /** The request body as parsed (what replies.ts answers from: tools, response format, reasoning). */
  readonly body: Readonly<Record<string, unknown>>;
}

/** Either a call or the 422 details explaining why there is none. */
export type ParseResult = { readonly ok: true; readonly call: ParsedCall } | { readonly ok: false; readonly detail: ValidationDetail[] };

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function missing(field: string, body: unknown): ValidationDetail {
  return { type: 'missing', loc: ['body', field], msg: 'Field required', input: body };
}

/** Check an optional integer field (null counts as absent, as in Mistral's schema). */
function optionalInteger(body: Record<string, unknown>, field: string, minimum: number, detail: ValidationDetail[]): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    detail.push({ type: 'int_type', loc: ['body', field], msg: 'Input should be a valid integer', input: value });
    return undefined;
  }
  if (value < minimum) {
    detail.push({ type: 'greater_than_equal', loc: ['body', field], msg: `Input should be greater than or equal to ${minimum}`, input: value, ctx: { ge: minimum } });
    return undefined;
  }
  return value;
}

function optionalBoolean(body: Record<string, unknown>, field: string, detail: ValidationDetail[]): boolean {
  const value = body[field];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') {
    detail.push({ type: 'bool_type', loc: ['body', field], msg: 'Input should be a valid boolean', input: value });
    return false;
  }
  return value;
}

/** Parse and validate one request body for `endpoint`. */
export function parseCall(endpoint: Endpoint, text: string): ParseResult {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      detail: [{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {}, ctx: { error: (error as Error).message } }],
    };
  }
  if (!isObject(body)) {
    return {
      ok: false,
      detail: [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body }],
    };
  }
  const detail: ValidationDetail[] = [];
  const model = body['model'];
  if (model === undefined || model === null) detail.push(missing('model', body));
  else if (typeof model !== 'string') detail.push({ type: 'string_type', loc: ['body', 'model'], msg: 'Input should be a valid string', input: model });

  let promptTokens = 0;
  let largestInputTokens = 0;
  let imageParts = 0;
  let audioParts = 0;
  let inputs: string[] = [];
  let maxTokens: number | undefined;
  let stream = false;
  let outputDimension: number | undefined;

  if (endpoint === 'chat') {
    const messages = body['messages'];
    if (messages === undefined) detail.push(missing('messages', body));
    else if (!Array.isArray(messages)) detail.push({ type: 'list_type', loc: ['body', 'messages'], msg: 'Input should be a valid list', input: messages });
    else if (messages.length === 0) {
      detail.push({ type: 'too_short', loc: ['body', 'messages'], msg: 'List should have at least 1 item after validation, not 0', input: messages, ctx: { field_type: 'List', min_length: 1, actual_length: 0 } });
    } else {
      messages.forEach((message: unknown, index) => {
        if (!isObject(message)) {
          detail.push({ type: 'model_attributes_type', loc: ['body', 'messages', index], msg: 'Input should be a valid dictionary or object to extract fields from', input: message });
        } else if (typeof message['role'] !== 'string' || !ROLES.has(message['role'])) {
          detail.push({ type: 'union_tag_invalid', loc: ['body', 'messages', index], msg: "Input tag does not match any of the expected tags: 'assistant', 'system', 'tool', 'user'", input: message });
        }
      });
      if (detail.length === 0) {
        const count = estimateChatPrompt(messages as Record<string, unknown>[], body['tools']);
        promptTokens = count.promptTokens;
        largestInputTokens = promptTokens;
        imageParts = count.imageParts;
        audioParts = count.audioParts;
      }
    }
    maxTokens = optionalInteger(body, 'max_tokens', 0, detail);
    stream = optionalBoolean(body, 'stream', detail);
  } else if (endpoint === 'fim') {
    const prompt = body['prompt'];
    const suffix = body['suffix'];
    if (prompt === undefined) detail.push(missing('prompt', body));
    else if (typeof prompt !== 'string') detail.push({ type: 'string_type', loc: ['body', 'prompt'], msg: 'Input should be a valid string', input: prompt });
    if (suffix !== undefined && suffix !== null && typeof suffix !== 'string') {
      detail.push({ type: 'string_type', loc: ['body', 'suffix'], msg: 'Input should be a valid string', input: suffix });
    }
    if (typeof prompt === 'string') {
      promptTokens = estimateFimPrompt(prompt, typeof suffix === 'string' ? suffix : undefined);
      largestInputTokens = promptTokens;
    }
    maxTokens = optionalInteger(body, 'max_tokens', 0, detail);
    stream = optionalBoolean(body, 'stream', detail);
  } else {
    const input = body['input'];
    if (input === undefined || input === null) detail.push(missing('input', body));
    else if (typeof input === 'string') inputs = [input];
    else if (Array.isArray(input) && input.every((item) => typeof item === 'string')) inputs = input as string[];
    else detail.push({ type: 'string_type', loc: ['body', 'input', 'str'], msg: 'Input should be a valid string', input });
    for (const item of inputs) {
      const tokens = estimateEmbeddingInput(item);
      promptTokens += tokens;
      largestInputTokens = Math.max(largestInputTokens, tokens);
    }
    outputDimension = optionalInteger(body, 'output_dimension', 1, detail);
  }

  if (detail.length > 0) return { ok: false, detail };
  return {
    ok: true,
    call: { endpoint, model: model as string, stream, maxTokens, promptTokens, largestInputTokens, imageParts, audioParts, inputs, outputDimension, body },
  };
}
