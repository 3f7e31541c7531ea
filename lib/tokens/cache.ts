/**
 * The estimator's two memories, both bounded by lru-cache:
 * - {@link TextCache}: the raw estimate of each long text, by the text itself (a string key costs O(1)
 *   when the caller passes the same string again: a system prompt, the earlier turns of a conversation);
 * - {@link PromptMemory}: the prompt tokens the API reported for a request's content (a content key,
 *   content-key.ts), so that a prompt seen before is reserved at its measured size, not re-estimated.
 */
import { LRUCache } from 'lru-cache';

/**
 * Texts shorter than this are scanned, not cached: below it a cache lookup costs about what the scan does
 * (measured in bench/tokens.ts), and short strings would crowd the long ones out of the cache.
 */
export const MIN_CACHED_LENGTH = 256;
/** Bound on the characters a text cache keeps alive (its keys are the caller's strings): about 16 MB. */
export const MAX_CACHED_CHARS = 8_000_000;

/** Raw token counts of long texts. */
export class TextCache {
  readonly #cache: LRUCache<string, number>;
  hits = 0;
  misses = 0;

  constructor(size: number) {
    this.#cache = new LRUCache<string, number>({ max: size, maxSize: MAX_CACHED_CHARS, sizeCalculation: (_value, key) => key.length });
  }

  /** The raw count of `text`, from the cache or from `scan` (then cached). */
  count(text: string, scan: (text: string) => number): number {
    const cached = this.#cache.get(text);
    if (cached !== undefined) {
      this.hits += 1;
      return cached;
    }
    this.misses += 1;
    const tokens = scan(text);
    this.#cache.set(text, tokens);
    return tokens;
  }
}

/** Prompt tokens measured per content key. */
export class PromptMemory {
  readonly #measured: LRUCache<number, number>;
  hits = 0;

  constructor(size: number) {
    this.#measured = new LRUCache<number, number>({ max: size });
  }

  /** The count measured for `key`, if any. */
  get(key: number): number | undefined {
    const measured = this.#measured.get(key);
    if (measured !== undefined) this.hits += 1;
    return measured;
  }

  /**
   * Remember what a response reported. The largest count measured for a key is kept: models with
   * different tokenizers may serve the same content, and the reservation is made before the model is
   * chosen, so it must cover the largest.
   */
  set(key: number, promptTokens: number): void {
    const known = this.#measured.get(key);
    if (known === undefined || promptTokens > known) this.#measured.set(key, promptTokens);
  }
}
