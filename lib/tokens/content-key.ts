/**
 * Content keys: a number that is the same for two requests whose prompts are made of the same texts in
 * the same places, so that the prompt tokens the API measured for one are the reservation of the next.
 *
 * A key is a 53-bit hash over each message's role, text, name and tool-call id, and over the request
 * fields that change a prompt's tokens (tools, tool choice, response format, safe prompt...), taken by
 * value for primitives and by identity for objects (the same `tools` array object). Long texts enter by
 * an id given to each distinct string (cached by the string itself, so a repeated system prompt costs a
 * lookup, not a pass over its characters); texts under 32 characters by their characters. Requests with a part that
 * cannot be keyed cheaply (images, audio, tool calls, documents, a field not listed here) get no key and
 * are estimated as before. Two different contents share a key with a probability of about 2^-53 per pair.
 */
import { LRUCache } from 'lru-cache';
import { MAX_CACHED_CHARS } from './cache.js';

/** Texts from this length enter a key by an id (one lookup, the string's hash cached by the engine), shorter ones by their characters. */
const MIN_ID_LENGTH = 32;

/** Request fields that do not change the prompt's tokens. */
const NEUTRAL = new Set([
  'model', 'need', 'maxWaitMs', 'maxTokens', 'temperature', 'topP', 'randomSeed', 'stop', 'stream', 'n',
  'presencePenalty', 'frequencyPenalty', 'minTokens', 'outputDimension', 'outputDtype', 'encodingFormat', 'metadata',
]);
/** Request fields that do, taken into the key by value or identity. */
const KEYED = new Set(['tools', 'toolChoice', 'responseFormat', 'safePrompt', 'promptMode', 'prediction', 'parallelToolCalls']);
/** The fields that carry the prompt itself, per endpoint. */
const PROMPT_FIELDS = new Set(['messages', 'prompt', 'suffix', 'inputs']);

const FNV_PRIME = 0x01000193;
const MURMUR = 0x5bd1e995;

/** Builds content keys; remembers the ids of long texts and of keyed objects. */
export class ContentKeys {
  readonly #textIds: LRUCache<string, number>;
  readonly #objectIds = new WeakMap<object, number>();
  #nextId = 1;
  #h1 = 0;
  #h2 = 0;

  constructor(size: number) {
    this.#textIds = new LRUCache<string, number>({ max: size, maxSize: MAX_CACHED_CHARS, sizeCalculation: (_value, key) => key.length });
  }

  /** The key of a chat, FIM or embeddings request, or undefined when a part of it cannot be keyed. */
  of(endpoint: 'chat' | 'fim' | 'embeddings', request: Readonly<Record<string, unknown>>): number | undefined {
    this.#h1 = 0x811c9dc5;
    this.#h2 = 0x9747b28c;
    this.#int(endpoint === 'chat' ? 1 : endpoint === 'fim' ? 2 : 3);
    for (const field in request) {
      if (NEUTRAL.has(field) || PROMPT_FIELDS.has(field)) continue;
      if (!KEYED.has(field)) return undefined;
      this.#text(field);
      if (!this.#value(request[field])) return undefined;
    }
    if (endpoint === 'chat') {
      if (!this.#messages(request['messages'])) return undefined;
    } else if (endpoint === 'fim') {
      if (typeof request['prompt'] !== 'string') return undefined;
      this.#text(request['prompt']);
      const suffix = request['suffix'];
      if (suffix !== undefined && suffix !== null && typeof suffix !== 'string') return undefined;
      this.#int(typeof suffix === 'string' ? 1 : 0);
      if (typeof suffix === 'string') this.#text(suffix);
    } else {
      const inputs = request['inputs'];
      if (typeof inputs === 'string') this.#text(inputs);
      else if (Array.isArray(inputs)) {
        this.#int(inputs.length);
        for (const input of inputs) {
          if (typeof input !== 'string') return undefined;
          this.#text(input);
        }
      } else return undefined;
    }
    return (this.#h1 >>> 0) * 0x200000 + ((this.#h2 >>> 0) & 0x1fffff);
  }

  #messages(messages: unknown): boolean {
    if (!Array.isArray(messages)) return false;
    this.#int(messages.length);
    for (const message of messages as unknown[]) {
      if (message === null || typeof message !== 'object') return false;
      const fields = message as Record<string, unknown>;
      for (const field in fields) {
        const value = fields[field];
        if (value === undefined || value === null) continue;
        if (field === 'content') {
          if (!this.#content(value)) return false;
        } else if (typeof value === 'string' && (field === 'role' || field === 'name' || field === 'toolCallId' || field === 'tool_call_id')) {
          this.#text(field);
          this.#text(value);
        } else if (typeof value === 'boolean' && field === 'prefix') {
          this.#int(value ? 7 : 8);
        } else return false; // tool calls and anything else: estimated as before
      }
    }
    return true;
  }

  #content(content: unknown): boolean {
    if (typeof content === 'string') {
      this.#int(11);
      this.#text(content);
      return true;
    }
    if (!Array.isArray(content)) return false;
    this.#int(12);
    this.#int(content.length);
    for (const chunk of content as unknown[]) {
      if (chunk === null || typeof chunk !== 'object') return false;
      const fields = chunk as Record<string, unknown>;
      const text = fields['text'];
      if (typeof text !== 'string' || (fields['type'] !== undefined && fields['type'] !== 'text')) return false;
      this.#text(text);
    }
    return true;
  }

  /** A keyed field's value: primitives by value, objects by identity. */
  #value(value: unknown): boolean {
    if (value === undefined || value === null) this.#int(0);
    else if (typeof value === 'string') this.#text(value);
    else if (typeof value === 'boolean') this.#int(value ? 5 : 6);
    else if (typeof value === 'number') this.#text(String(value));
    else if (typeof value === 'object') {
      let id = this.#objectIds.get(value);
      if (id === undefined) this.#objectIds.set(value, (id = this.#nextId++));
      this.#int(-id);
    } else return false;
    return true;
  }

  #text(text: string): void {
    this.#int(text.length);
    if (text.length >= MIN_ID_LENGTH) {
      let id = this.#textIds.get(text);
      if (id === undefined) this.#textIds.set(text, (id = this.#nextId++));
      this.#int(id);
      return;
    }
    let h1 = this.#h1;
    let h2 = this.#h2;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ code, FNV_PRIME);
      h2 = Math.imul(h2 ^ code, MURMUR);
      h2 ^= h2 >>> 15;
    }
    this.#h1 = h1;
    this.#h2 = h2;
  }

  #int(value: number): void {
    this.#h1 = Math.imul(this.#h1 ^ (value | 0), FNV_PRIME);
    let h2 = Math.imul(this.#h2 ^ (value | 0), MURMUR);
    h2 ^= h2 >>> 13;
    this.#h2 = Math.imul(h2 ^ (value >>> 16), MURMUR);
  }
}
