/**
 * What the stand-in model answers a chat request that asks for more than text: a tool call when tools are
 * offered, a JSON value of the requested schema, a thinking part from a reasoning model. No model runs, so
 * every answer is a pure function of the request (and the completion id), documented here so that tests of
 * tool loops, structured output and reasoning can rely on it:
 *
 * - `tools` given and `tool_choice` not `none`: when the last message is a `tool` result and the choice is
 *   `auto` (or absent), the answer is text quoting that result (`The tool <name> answered: <content>`), which
 *   ends a tool loop; otherwise it calls one tool (the one `tool_choice` names, else the first), with
 *   arguments sampled from its `parameters` schema, and finishes with `tool_calls`.
 * - `response_format` `json_schema`: the text is the JSON of a value sampled from the schema; `json_object`:
 *   `{"reply": <the usual reply>}`.
 * - a model with the `reasoning` capability asked with `reasoning_effort: "high"` or `prompt_mode:
 *   "reasoning"`: the content is a list, a `thinking` part then the text, as Magistral answers.
 *
 * Any other request gets the plain reply of responses.ts (`replyWords`), on the fast path.
 *
 * A sampled value takes, per JSON Schema keyword: `const`, else the first of `enum`, else the first
 * non-null variant of `anyOf`/`oneOf`, the first of `allOf`, a local `$ref`; an object every property; an
 * array `max(1, minItems)` items; a string its property's name (a `format` of date, date-time, email or uri
 * gets a valid example), padded to `minLength` and cut to `maxLength`; a number or integer its `minimum`
 * (else 1, at most `maximum`); a boolean `true`.
 */
import type { Model } from '../catalog/types.js';
import { replyWords, type Usage } from './responses.js';

/** One tool call as the wire writes it. */
export interface WireToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

/** An answer beyond plain text. */
export interface Answer {
  readonly text: string;
  readonly thinking: string | undefined;
  readonly toolCalls: readonly WireToolCall[];
  readonly finishReason: 'stop' | 'tool_calls';
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const MAX_DEPTH = 12;
const STRING_FORMATS: Readonly<Record<string, string>> = {
  date: '2026-01-01',
  'date-time': '2026-01-01T00:00:00Z',
  time: '00:00:00Z',
  email: 'emulator@example.com',
  uri: 'https://example.com/',
  uuid: '00000000-0000-4000-8000-000000000000',
};

function resolveRef(root: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = isObject(node) ? node[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  return node;
}

function sampleString(schema: Json, name: string): string {
  const format = typeof schema.format === 'string' ? STRING_FORMATS[schema.format] : undefined;
  let text = format ?? name;
  const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
  if (text.length < minLength) text = text.padEnd(minLength, 'x');
  if (typeof schema.maxLength === 'number' && text.length > schema.maxLength) text = text.slice(0, schema.maxLength);
  return text;
}

function sampleNumber(schema: Json, integer: boolean): number {
  let value = typeof schema.minimum === 'number' ? schema.minimum : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : 1;
  if (typeof schema.maximum === 'number' && value > schema.maximum) value = schema.maximum;
  return integer ? Math.ceil(value) : value;
}

/** A value of a JSON Schema (see the file's comment for the rules). */
export function sampleOf(schema: unknown, name = 'text', root: Json | undefined = isObject(schema) ? schema : undefined, depth = 0): unknown {
  if (!isObject(schema) || depth > MAX_DEPTH) return null;
  const base = root ?? schema;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (typeof schema.$ref === 'string') return sampleOf(resolveRef(base, schema.$ref), name, base, depth + 1);
  const variants = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (variants !== undefined && variants.length > 0) {
    const chosen = variants.find((variant) => !(isObject(variant) && variant.type === 'null')) ?? variants[0];
    return sampleOf(chosen, name, base, depth + 1);
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) return sampleOf(schema.allOf[0], name, base, depth + 1);
  const type = Array.isArray(schema.type) ? (schema.type.find((t) => t !== 'null') ?? 'null') : schema.type;
  switch (type ?? (isObject(schema.properties) ? 'object' : undefined)) {
    case 'object': {
      const out: Json = {};
      if (isObject(schema.properties)) for (const [key, property] of Object.entries(schema.properties)) out[key] = sampleOf(property, key, base, depth + 1);
      return out;
    }
    case 'array': {
      let count = Math.max(1, typeof schema.minItems === 'number' ? schema.minItems : 0);
      if (typeof schema.maxItems === 'number') count = Math.min(count, schema.maxItems);
      return Array.from({ length: count }, () => sampleOf(schema.items, name, base, depth + 1));
    }
    case 'string':
      return sampleString(schema, name);
    case 'integer':
      return sampleNumber(schema, true);
    case 'number':
      return sampleNumber(schema, false);
    case 'boolean':
      return true;
    default:
      return null;
  }
}

interface WireTool {
  readonly name: string;
  readonly parameters: unknown;
}

function toolsOf(body: Json): WireTool[] {
  if (!Array.isArray(body.tools)) return [];
  const tools: WireTool[] = [];
  for (const tool of body.tools) {
    const fn = isObject(tool) && isObject(tool.function) ? tool.function : undefined;
    if (fn !== undefined && typeof fn.name === 'string') tools.push({ name: fn.name, parameters: fn.parameters });
  }
  return tools;
}

/** The tool the request makes the model call, or undefined when it answers in text. */
function toolToCall(body: Json, tools: readonly WireTool[]): WireTool | undefined {
  const choice = body.tool_choice;
  if (tools.length === 0 || choice === 'none') return undefined;
  if (isObject(choice)) {
    const named = isObject(choice.function) ? choice.function.name : undefined;
    return tools.find((tool) => tool.name === named) ?? tools[0];
  }
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last: unknown = messages[messages.length - 1];
  const answersResult = isObject(last) && last.role === 'tool';
  return answersResult && (choice === undefined || choice === null || choice === 'auto') ? undefined : tools[0];
}

function toolResultText(body: Json): string {
  const messages = body.messages as unknown[];
  const last = messages[messages.length - 1] as Json;
  const content = typeof last.content === 'string' ? last.content : JSON.stringify(last.content);
  return `The tool ${typeof last.name === 'string' ? last.name : 'call'} answered: ${content}`;
}

function jsonText(body: Json, model: Model): string | undefined {
  const format = body.response_format;
  if (!isObject(format)) return undefined;
  if (format.type === 'json_schema') return JSON.stringify(sampleOf(isObject(format.json_schema) ? format.json_schema.schema : undefined));
  if (format.type === 'json_object') return JSON.stringify({ reply: replyWords(model.id).join('') });
  return undefined;
}

/** The answer to a chat request that asks for tools, JSON or reasoning; undefined for the plain reply. */
export function chatAnswer(body: Json, model: Model, id: string): Answer | undefined {
  const tools = toolsOf(body);
  const reasons = model.capabilities.includes('reasoning') && (body.reasoning_effort === 'high' || body.prompt_mode === 'reasoning');
  const json = jsonText(body, model);
  if (tools.length === 0 && json === undefined && !reasons) return undefined;
  const thinking = reasons ? `Thinking about the request (${model.id}).` : undefined;
  const tool = toolToCall(body, tools);
  if (tool !== undefined) {
    const call: WireToolCall = { id: id.replace(/[^A-Za-z0-9]/g, '').slice(-9).padStart(9, '0'), type: 'function', function: { name: tool.name, arguments: JSON.stringify(sampleOf(tool.parameters)) } };
    return { text: '', thinking, toolCalls: [call], finishReason: 'tool_calls' };
  }
  const answersResult = tools.length > 0 && json === undefined;
  const text = json ?? (answersResult ? toolResultText(body) : replyWords(model.id).join(''));
  return { text, thinking, toolCalls: [], finishReason: 'stop' };
}

function messageContent(answer: Answer): unknown {
  if (answer.thinking === undefined) return answer.text;
  return [{ type: 'thinking', thinking: [{ type: 'text', text: answer.thinking }] }, { type: 'text', text: answer.text }];
}

/** The completion response of an answer. */
export function answerBody(id: string, model: string, created: number, answer: Answer, usage: Usage): string {
  const message = { role: 'assistant', content: messageContent(answer), tool_calls: answer.toolCalls.length > 0 ? answer.toolCalls : null, prefix: false };
  return JSON.stringify({ id, object: 'chat.completion', model, created, choices: [{ index: 0, message, finish_reason: answer.finishReason }], usage });
}

/** Text in pieces of about `size` characters, so that a stream has several content chunks. */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length; at += size) out.push(text.slice(at, at + size));
  return out;
}

/**
 * The server-sent events of an answer: the role, the thinking part, the text in pieces, the tool calls
 * (whole, in one chunk, as Mistral sends them), a last chunk with the finish reason and usage, `[DONE]`.
 */
export function answerEvents(id: string, model: string, created: number, answer: Answer, usage: Usage): string[] {
  const chunk = (delta: Json, finishReason: string | null, withUsage: boolean): string =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finishReason }], ...(withUsage ? { usage } : {}) })}\n\n`;
  const events = [chunk({ role: 'assistant', content: '' }, null, false)];
  if (answer.thinking !== undefined) events.push(chunk({ content: [{ type: 'thinking', thinking: [{ type: 'text', text: answer.thinking }] }] }, null, false));
  for (const piece of pieces(answer.text, 16)) events.push(chunk({ content: piece }, null, false));
  if (answer.toolCalls.length > 0) events.push(chunk({ tool_calls: answer.toolCalls.map((call, index) => ({ ...call, index })) }, null, false));
  events.push(chunk({ content: '' }, answer.finishReason, true));
  events.push('data: [DONE]\n\n');
  return events;
}
