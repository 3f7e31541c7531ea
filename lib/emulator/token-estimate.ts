/**
 * How many tokens the emulator charges for a request. No model runs, so the counts are a documented
 * estimate rather than a tokenizer's: what matters is that `usage` in the response, the
 * `x-ratelimit-tokens-query-cost` header and the meters all agree, so a router can be tested on them.
 *
 * The formula (all divisions rounded up):
 * - text: `ceil(characters / 4)` tokens (about 4 characters per token for English/French);
 * - chat prompt: `3` (reply priming) + for each message `4` (role and separators)
 *   + `ceil(text characters / 4)` where the text is the string content, the `text` of text parts, and the
 *   JSON of `tool_calls`, + `256` per `image_url` part + `1000` per `input_audio` part;
 *   plus `ceil(JSON(tools).length / 4)` when tools are given;
 * - FIM prompt: `3 + ceil((prompt + suffix characters) / 4)`;
 * - embeddings: `ceil(characters / 4)` per input, at least 1 per input; no completion;
 * - completion: `max_tokens` when given, else {@link DEFAULT_COMPLETION_TOKENS};
 * - charge = `usage.total_tokens` = prompt + completion.
 */

/** Characters per token of the estimate. */
export const CHARACTERS_PER_TOKEN = 4;
/** Tokens added once per chat request (the assistant reply's priming). */
export const CHAT_REQUEST_OVERHEAD_TOKENS = 3;
/** Tokens added per chat message (role and separators). */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** Tokens charged per `image_url` part. */
export const IMAGE_PART_TOKENS = 256;
/** Tokens charged per `input_audio` part. */
export const AUDIO_PART_TOKENS = 1000;
/** Completion tokens charged when the request gives no `max_tokens`. */
export const DEFAULT_COMPLETION_TOKENS = 256;

/** Tokens of a text by the emulator's estimate. */
export function textTokens(characters: number): number {
  return Math.ceil(characters / CHARACTERS_PER_TOKEN);
}

/** What the estimate found in a chat request's messages. */
export interface ChatPromptCount {
  readonly promptTokens: number;
  readonly imageParts: number;
  readonly audioParts: number;
}

/**
 * Prompt tokens of chat messages (already validated as objects with a role). Also counts the image and
 * audio parts, which the capability checks need, so the messages are walked once.
 */
export function estimateChatPrompt(messages: readonly Record<string, unknown>[], tools: unknown): ChatPromptCount {
  let tokens = CHAT_REQUEST_OVERHEAD_TOKENS;
  let imageParts = 0;
  let audioParts = 0;
  for (const message of messages) {
    let characters = 0;
    const content = message['content'];
    if (typeof content === 'string') {
      characters += content.length;
    } else if (Array.isArray(content)) {
      for (const part of content as unknown[]) {
        if (typeof part !== 'object' || part === null) continue;
        const type = (part as Record<string, unknown>)['type'];
        if (type === 'image_url') imageParts++;
        else if (type === 'input_audio') audioParts++;
        else {
          const text = (part as Record<string, unknown>)['text'] ?? (part as Record<string, unknown>)['thinking'];
          if (typeof text === 'string') characters += text.length;
        }
      }
    }
    const toolCalls = message['tool_calls'];
    if (Array.isArray(toolCalls) && toolCalls.length > 0) characters += JSON.stringify(toolCalls).length;
    tokens += MESSAGE_OVERHEAD_TOKENS + textTokens(characters);
  }
  tokens += imageParts * IMAGE_PART_TOKENS + audioParts * AUDIO_PART_TOKENS;
  if (Array.isArray(tools) && tools.length > 0) tokens += textTokens(JSON.stringify(tools).length);
  return { promptTokens: tokens, imageParts, audioParts };
}

/** Prompt tokens of a FIM request. */
export function estimateFimPrompt(prompt: string, suffix: string | undefined): number {
  return CHAT_REQUEST_OVERHEAD_TOKENS + textTokens(prompt.length + (suffix?.length ?? 0));
}

/** Tokens of one embeddings input (at least 1: an empty input still occupies a position). */
export function estimateEmbeddingInput(input: string): number {
  return Math.max(1, textTokens(input.length));
}
