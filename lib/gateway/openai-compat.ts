/**
 * OpenAI's request fields where Mistral has the same thing, so that OpenAI clients work unchanged:
 *
 * | OpenAI | Mistral |
 * |---|---|
 * | `max_completion_tokens` | `max_tokens` |
 * | `seed` | `random_seed` |
 * | `stream_options.include_usage` | usage on the last chunk (Mistral always sends it; `false` leaves it out) |
 * | a `developer` message | a `system` message |
 * | `input_audio: { data, format }` | `input_audio: data` |
 * | embeddings `dimensions` | `output_dimension` |
 *
 * OpenAI fields Mistral has no equivalent for are refused with a 400 naming the field (a client that set
 * `logit_bias` must learn that it was not applied). Anything else unknown is refused by wire.ts.
 * The body is changed in place: it is the request's own parse.
 */
import { NeedError } from '../errors.js';
import type { WireEndpoint } from '../mistral/wire.js';

/** OpenAI request fields with no Mistral equivalent. */
const REFUSED: Readonly<Record<WireEndpoint, ReadonlySet<string>>> = {
  chat: new Set(['logit_bias', 'logprobs', 'top_logprobs', 'user', 'store', 'modalities', 'audio', 'web_search_options', 'functions', 'function_call', 'verbosity', 'safety_identifier']),
  embeddings: new Set(['user']),
  fim: new Set(),
};

/** What the mapping decided beyond the body. */
export interface OpenAIOptions {
  /** `stream_options.include_usage`, when sent. */
  readonly includeUsage: boolean | undefined;
  /** The OpenAI name each renamed field was sent as, by its Mistral name (undefined when none was renamed). */
  readonly renamed: Readonly<Record<string, string>> | undefined;
}

const NO_OPTIONS: OpenAIOptions = Object.freeze({ includeUsage: undefined, renamed: undefined });

/** Renames `from` to `to` in place; returns whether it did. */
function rename(body: Record<string, unknown>, from: string, to: string): boolean {
  if (!(from in body)) return false;
  if (to in body) throw new NeedError(from, `sent together with ${to}, which means the same: send one of them`);
  body[to] = body[from];
  delete body[from];
  return true;
}

/**
 * An error about a renamed field (`max_tokens: expected a whole number`) as the client sent it
 * (`max_completion_tokens`), so that `param` names a field of its own request. Any other error as it is.
 */
export function asSent(error: unknown, renamed: Readonly<Record<string, string>>): unknown {
  if (!NeedError.isInstance(error)) return error;
  const head = /^[^.[]*/.exec(error.field)?.[0] ?? '';
  const sent = renamed[head];
  if (sent === undefined) return error;
  return new NeedError(`${sent}${error.field.slice(head.length)}`, `${error.message.slice(error.field.length + 2)} (Mistral's ${head})`, { cause: error });
}

/** Maps the OpenAI-only fields of a parsed request body in place (see the module comment). */
export function fromOpenAI(endpoint: WireEndpoint, body: Record<string, unknown>): OpenAIOptions {
  const refused = REFUSED[endpoint];
  let options = NO_OPTIONS;
  for (const key in body) {
    if (refused.has(key)) throw new NeedError(key, `OpenAI's ${key} has no equivalent in Mistral's API, so it cannot be applied; remove it`);
  }
  if (endpoint === 'embeddings') {
    return rename(body, 'dimensions', 'output_dimension') ? { includeUsage: undefined, renamed: { output_dimension: 'dimensions' } } : options;
  }
  if (endpoint !== 'chat') return options;
  let renamed: Record<string, string> | undefined;
  if (rename(body, 'max_completion_tokens', 'max_tokens')) (renamed ??= {}).max_tokens = 'max_completion_tokens';
  if (rename(body, 'seed', 'random_seed')) (renamed ??= {}).random_seed = 'seed';
  if (renamed !== undefined) options = { includeUsage: undefined, renamed };
  if ('stream_options' in body) {
    const streamOptions = body.stream_options;
    delete body.stream_options;
    if (streamOptions !== null && streamOptions !== undefined) {
      if (typeof streamOptions !== 'object' || Array.isArray(streamOptions)) throw new NeedError('stream_options', 'expected an object { include_usage }');
      for (const key of Object.keys(streamOptions)) {
        if (key !== 'include_usage') throw new NeedError(`stream_options.${key}`, 'OpenAI stream option with no equivalent in Mistral\'s API; only include_usage is mapped');
      }
      const includeUsage = (streamOptions as { include_usage?: unknown }).include_usage;
      if (includeUsage !== undefined && typeof includeUsage !== 'boolean') throw new NeedError('stream_options.include_usage', 'expected true or false');
      options = { includeUsage, renamed };
    }
  }
  const messages = body.messages;
  if (Array.isArray(messages)) for (const message of messages) mapMessage(message);
  return options;
}

function mapMessage(message: unknown): void {
  if (message === null || typeof message !== 'object') return;
  const m = message as { role?: unknown; content?: unknown };
  if (m.role === 'developer') m.role = 'system';
  if (!Array.isArray(m.content)) return;
  for (const part of m.content as unknown[]) {
    const p = part as { type?: unknown; input_audio?: unknown } | null;
    if (p?.type === 'input_audio' && p.input_audio !== null && typeof p.input_audio === 'object') {
      const data = (p.input_audio as { data?: unknown }).data;
      if (typeof data === 'string') p.input_audio = data;
    }
  }
}
