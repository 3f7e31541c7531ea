/**
 * The side channel between a routed model's `doGenerate`/`doStream`/`doEmbed` and the fetch adapter that
 * `@ai-sdk/mistral` calls in between: the model opens a {@link Call} and names it in a request header
 * (the AI SDK passes a call's `headers` through to `fetch`); the adapter finds the call by that header, takes
 * its route, and leaves on it what the application must see (the decision, the stream's final decision, the
 * router's error as thrown). The header never leaves the process: the adapter is the only `fetch`.
 *
 * Audio parts ride the same channel. `@ai-sdk/mistral` 3 refuses every file part but images and PDFs
 * ("Only images and PDF file parts are supported"), though Mistral's chat API takes `input_audio` parts
 * (Voxtral). So the model replaces each audio part by a text part holding a placeholder unique to the call,
 * and the adapter puts the audio back where the placeholder landed in the wire request.
 */
import type { LanguageModelV3Prompt } from '@ai-sdk/provider';
import type { Decision } from '../router/decision.js';
import type { CallRoute } from './route.js';

/** The request header naming the call; read and dropped by the fetch adapter. */
export const CALL_HEADER = 'x-mistral-router-call';

/** One doGenerate/doStream/doEmbed in progress. */
export class Call {
  readonly id: string;
  readonly route: CallRoute;
  /** Placeholder text -> the audio part's data (base64 or a URL), see the file's comment. */
  readonly audio = new Map<string, string>();
  /** The decision of the routed call (a stream's at hand-over). */
  decision: Decision | undefined;
  /** A stream's final decision, resolved once it ended and settled. */
  settled: Promise<Decision> | undefined;
  /** The error the router threw, as it threw it (the AI SDK's layers may have wrapped it since). */
  error: unknown;
  /** Why a stream failed after its first chunk, in the AI SDK's form (fetch.ts, eventStream). */
  streamFailure: unknown;
  /** The wire request, for errors (`requestBodyValues`): the caller's data, no key. */
  body: unknown;
  url = '';

  constructor(id: string, route: CallRoute) {
    this.id = id;
    this.route = route;
  }
}

/** The calls in progress of one provider, by id. */
export class Calls {
  readonly #open = new Map<string, Call>();
  #sequence = 0;

  open(route: CallRoute): Call {
    const call = new Call(`${++this.#sequence}`, route);
    this.#open.set(call.id, call);
    return call;
  }

  /** The call a request's headers name. */
  find(headers: Headers): Call {
    const id = headers.get(CALL_HEADER);
    const call = id === null ? undefined : this.#open.get(id);
    // Only this package's models call the adapter, and always with an open call.
    if (call === undefined) throw new Error(`mistral-router/ai-sdk: a request reached the router's fetch without an open call (${CALL_HEADER}: ${String(id)}).`);
    return call;
  }

  close(call: Call): void {
    this.#open.delete(call.id);
  }
}

function base64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

/** The prompt with each audio file part of a user message replaced by the call's placeholder text. */
export function withAudioPlaceholders(prompt: LanguageModelV3Prompt, call: Call): LanguageModelV3Prompt {
  let changed = false;
  const out = prompt.map((message) => {
    if (message.role !== 'user' || !message.content.some((part) => part.type === 'file' && part.mediaType.startsWith('audio/'))) return message;
    changed = true;
    const content = message.content.map((part) => {
      if (part.type !== 'file' || !part.mediaType.startsWith('audio/')) return part;
      const placeholder = `\u0000mistral-router-audio ${call.id}.${call.audio.size}\u0000`;
      // Bytes and base64 strings are what Mistral takes; a URL (the AI SDK downloads unsupported ones first) as written.
      call.audio.set(placeholder, part.data instanceof Uint8Array ? base64(part.data) : part.data instanceof URL ? part.data.href : part.data);
      return { type: 'text' as const, text: placeholder };
    });
    return { ...message, content };
  });
  return changed ? out : prompt;
}

/** Puts the call's audio parts back into a chat request (the wire's shape), in place of their placeholders. */
export function restoreAudio(request: Record<string, unknown>, call: Call): void {
  if (call.audio.size === 0 || !Array.isArray(request.messages)) return;
  for (const message of request.messages as { content?: unknown }[]) {
    if (!Array.isArray(message.content)) continue;
    message.content = message.content.map((part: { type?: unknown; text?: unknown }) => {
      const audio = part.type === 'text' && typeof part.text === 'string' ? call.audio.get(part.text) : undefined;
      return audio === undefined ? part : { type: 'input_audio', input_audio: audio };
    });
  }
}
