/**
 * Prompt text of a given size: a trace gives token counts, not text, so the replay sends one user
 * message whose text makes the emulator count exactly the trace's prompt tokens
 * (3 + 4 + ceil(characters / 4): lib/emulator/token-estimate.ts). A chat request cannot count fewer than
 * {@link SMALLEST_PROMPT_TOKENS}: smaller rows are sent at that size, and the reports count what was sent.
 */
import { CHARACTERS_PER_TOKEN, CHAT_REQUEST_OVERHEAD_TOKENS, MESSAGE_OVERHEAD_TOKENS } from '../emulator/token-estimate.js';

/** The smallest prompt of one user message with some text. */
export const SMALLEST_PROMPT_TOKENS = CHAT_REQUEST_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS + 1;

const PHRASE = 'Le renard brun saute par-dessus le chien paresseux; the quick brown fox jumps over the lazy dog. ';
let text = PHRASE.repeat(Math.ceil((20_000 * CHARACTERS_PER_TOKEN) / PHRASE.length));

/** The prompt tokens a trace row is sent with (and charged): its own, at least {@link SMALLEST_PROMPT_TOKENS}. */
export function sentPromptTokens(promptTokens: number): number {
  return Math.max(promptTokens, SMALLEST_PROMPT_TOKENS);
}

/** The text of one user message that the emulator counts as `sentPromptTokens(promptTokens)` prompt tokens. */
export function promptText(promptTokens: number): string {
  const characters = CHARACTERS_PER_TOKEN * (sentPromptTokens(promptTokens) - CHAT_REQUEST_OVERHEAD_TOKENS - MESSAGE_OVERHEAD_TOKENS);
  if (characters > text.length) text = text.repeat(Math.ceil(characters / text.length));
  return text.slice(0, characters);
}
