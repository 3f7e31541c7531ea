/**
 * Token estimate for Mistral requests, taken BEFORE a call: the router sizes a reservation with it
 * (estimated prompt tokens + `maxTokens`) and the plan checks context windows with it.
 *
 * No npm package tokenizes every current Mistral model exactly, so this counts characters (about 3.5 per
 * token for English and French with Tekken; tokens/text.ts), adds documented allowances for images and
 * audio, and multiplies the sum by a ratio calibrated from the `usage.prompt_tokens` of real calls
 * (tokens/calibration.ts). Settling a reservation replaces the estimate by the real usage, so an error here
 * moves capacity in time, never loses it; erring high (a little) is the safe side.
 *
 * Two memories (tokens/cache.ts) spare the work and the error: long texts are scanned once and cached by
 * the string itself (not by the JSON of the whole request: `bench/tokens.ts` measures that at several times
 * the cost of the estimate it would save), and the prompt tokens the API reported for a request's content
 * are remembered by a content key (tokens/content-key.ts), so that a prompt seen before is reserved at
 * exactly its measured size.
 */
import { ConfigError, NeedError } from './errors.js';
import { Calibration } from './tokens/calibration.js';
import { MIN_CACHED_LENGTH, PromptMemory, TextCache } from './tokens/cache.js';
import { ContentKeys } from './tokens/content-key.js';
import { describe, safeJson, scanText, wavSeconds } from './tokens/text.js';

/** Options of a {@link TokenEstimator}. Validated once, in the constructor. */
export interface TokenEstimatorOptions {
  /**
   * Characters of plain (ASCII) text per token. Other scripts are weighted by the estimator (see
   * {@link TokenEstimator.estimateText}); calibration corrects what remains.
   * @default 3.5
   */
  readonly charsPerToken?: number;
  /**
   * Tokens added per chat message for its role and control tokens (`[INST]`, `[/INST]`, `</s>`...).
   * @default 4
   */
  readonly perMessageOverhead?: number;
  /**
   * Tokens added once per chat request (not empty) for the control tokens that open the sequence and
   * close the last turn.
   * @default 3
   */
  readonly requestOverhead?: number;
  /**
   * Documented allowance per image part (`image_url` chunk), whatever its size: Pixtral spends one token
   * per 16x16 patch (plus row breaks), and the API downsizes large images, so 1600 covers a typical
   * image up to about 640x640. Raise it for high-resolution images.
   * @default 1600
   */
  readonly imageTokens?: number;
  /**
   * Tokens per second of audio, used when the duration of an `input_audio` part can be read (base64 WAV).
   * Voxtral encodes audio at 12.5 frames per second (one token per 80 ms).
   * @default 12.5
   */
  readonly audioTokensPerSecond?: number;
  /**
   * Allowance per audio part whose duration cannot be read (a URL, compressed audio): 4 minutes at 12.5/s.
   * @default 3000
   */
  readonly audioPartTokens?: number;
  /**
   * How many distinct texts the estimate cache keeps (least recently used first out). 0 disables it.
   * @default 1000
   */
  readonly cacheSize?: number;
  /**
   * How many request contents the measured prompt memory keeps (see {@link TokenEstimator.contentKey}).
   * 0 disables it.
   * @default 10000
   */
  readonly measuredSize?: number;
  /**
   * Whether {@link TokenEstimator.observe} updates the calibration ratio. When false, `ratio` stays 1.
   * @default true
   */
  readonly calibration?: boolean;
}

/** What the estimator has done so far, for logs and tests. */
export interface TokenEstimatorStats {
  /** Text lookups answered from the cache. */
  readonly cacheHits: number;
  /** Text lookups that had to scan the text (and then filled the cache). */
  readonly cacheMisses: number;
  /** Calls of `observe` that were taken into the calibration ratio (ignored ones are not counted). */
  readonly observations: number;
  /** Prompts answered from the measured memory (see {@link TokenEstimator.measured}). */
  readonly measuredHits: number;
}

/** Tokens per embedding input or FIM request for its sequence control tokens. */
const INPUT_OVERHEAD = 1;

/**
 * Estimates the prompt tokens of Mistral requests (chat messages, embedding inputs, FIM), calibrated by
 * the usage of real calls. One instance per process (or per model family, whose tokenizers differ).
 *
 * @example
 * const estimator = new TokenEstimator();
 * const estimate = estimator.estimateMessages(request.messages);
 * const reservation = estimate + (request.maxTokens ?? 1024);
 * const response = await client.chat.complete(request);
 * estimator.observe(estimate, response.usage.promptTokens);
 */
export class TokenEstimator {
  readonly #charsPerToken: number;
  readonly #perMessageOverhead: number;
  readonly #imageTokens: number;
  readonly #audioTokensPerSecond: number;
  readonly #audioPartTokens: number;
  readonly #requestOverhead: number;
  readonly #cache: TextCache | undefined;
  readonly #calibration: Calibration;
  readonly #keys: ContentKeys | undefined;
  readonly #measured: PromptMemory | undefined;
  readonly #scan = (text: string): number => scanText(text, this.#charsPerToken);

  constructor({
    charsPerToken = 3.5,
    perMessageOverhead = 4,
    requestOverhead = 3,
    imageTokens = 1600,
    audioTokensPerSecond = 12.5,
    audioPartTokens = 3000,
    cacheSize = 1000,
    measuredSize = 10_000,
    calibration = true,
  }: TokenEstimatorOptions = {}) {
    if (typeof charsPerToken !== 'number' || !Number.isFinite(charsPerToken) || charsPerToken <= 0) {
      throw new ConfigError('charsPerToken', `must be a finite number > 0, received ${String(charsPerToken)}`);
    }
    const counts = { perMessageOverhead, requestOverhead, imageTokens, audioTokensPerSecond, audioPartTokens };
    for (const [option, value] of Object.entries(counts)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new ConfigError(option, `must be a finite number >= 0, received ${String(value)}`);
      }
    }
    for (const [option, value] of Object.entries({ cacheSize, measuredSize })) {
      if (!Number.isSafeInteger(value) || value < 0) throw new ConfigError(option, `must be an integer >= 0 (0 disables it), received ${String(value)}`);
    }
    if (typeof calibration !== 'boolean') {
      throw new ConfigError('calibration', `must be a boolean, received ${String(calibration)}`);
    }
    this.#charsPerToken = charsPerToken;
    this.#perMessageOverhead = perMessageOverhead;
    this.#requestOverhead = requestOverhead;
    this.#imageTokens = imageTokens;
    this.#audioTokensPerSecond = audioTokensPerSecond;
    this.#audioPartTokens = audioPartTokens;
    this.#calibration = new Calibration(calibration);
    this.#cache = cacheSize === 0 ? undefined : new TextCache(cacheSize);
    this.#keys = measuredSize === 0 ? undefined : new ContentKeys(measuredSize);
    this.#measured = measuredSize === 0 ? undefined : new PromptMemory(measuredSize);
  }

  /**
   * The current calibration multiplier applied to every estimate; starts at 1 and stays within [0.25, 4].
   * See {@link TokenEstimator.observe} for how it moves.
   */
  get ratio(): number {
    return this.#calibration.ratio;
  }

  /**
   * The content key of a request (`request` in the SDK's shape, routing fields allowed): the same for
   * requests whose prompt is made of the same texts in the same places, undefined when a part of it cannot
   * be keyed cheaply (images, audio, tool calls, unknown fields) or the memory is off. See
   * tokens/content-key.ts.
   */
  contentKey(endpoint: 'chat' | 'fim' | 'embeddings', request: Readonly<Record<string, unknown>>): number | undefined {
    return this.#keys?.of(endpoint, request);
  }

  /** The prompt tokens the API reported for this content before (the largest, over models), if remembered. */
  measured(key: number | undefined): number | undefined {
    return key === undefined ? undefined : this.#measured?.get(key);
  }

  /**
   * Remember the `usage.prompt_tokens` a response reported for a request of this content key: the next
   * request with the same content is reserved at exactly that. Non-integer or negative counts are ignored.
   */
  remember(key: number | undefined, promptTokens: number): void {
    if (key === undefined || !Number.isSafeInteger(promptTokens) || promptTokens < 0) return;
    this.#measured?.set(key, promptTokens);
  }

  /**
   * Estimated prompt tokens of chat messages in the SDK's shapes (`@mistralai/mistralai` 2.x, camelCase;
   * the wire's snake_case names are read too). Counted: the text of string content and of `text` and
   * `thinking` chunks, tool call ids, names and arguments, `toolCallId` and `name` of tool results;
   * `perMessageOverhead` per message; `imageTokens` per `image_url` chunk; per `input_audio` chunk its
   * duration times `audioTokensPerSecond` when it is base64 WAV, else `audioPartTokens`. Any other chunk
   * (`document_url`, `reference`, `file`, unknown ones) counts as the text of its JSON, which underestimates
   * a document whose pages the server fetches.
   *
   * @returns an integer >= 0: ceil(raw estimate x {@link TokenEstimator.ratio}).
   * @throws NeedError when `messages` is not an array (`messages`) or an entry is not an object (`messages[i]`).
   */
  estimateMessages(messages: readonly unknown[]): number {
    if (!Array.isArray(messages)) {
      throw new NeedError('messages', `must be an array of chat messages, received ${describe(messages)}`);
    }
    let tokens = 0;
    for (let i = 0; i < messages.length; i++) {
      const message: unknown = messages[i];
      if (message === null || typeof message !== 'object' || Array.isArray(message)) {
        throw new NeedError(`messages[${i}]`, `must be a message object ({ role, content }), received ${describe(message)}`);
      }
      tokens += this.#perMessageOverhead + this.#messageTokens(message as Record<string, unknown>);
    }
    return this.#calibrated(messages.length === 0 ? 0 : tokens + this.#requestOverhead);
  }

  /**
   * Estimated tokens of one text: ASCII characters count 1/`charsPerToken` each, other characters below
   * U+2E80 (accented Latin, Greek, Cyrillic, Arabic...) twice that, and CJK, kana, Hangul, full-width
   * forms and each half of a surrogate pair (emoji) one token each, since Tekken spends about that on
   * them. Calibrated like the other estimates; no per-message overhead.
   * @throws NeedError when `text` is not a string.
   */
  estimateText(text: string): number {
    if (typeof text !== 'string') throw new NeedError('text', `must be a string, received ${describe(text)}`);
    return this.#calibrated(this.#textTokens(text));
  }

  /**
   * Estimated tokens of an embeddings request's `inputs` (one string or several): each input's text plus
   * one token for its sequence start.
   * @throws NeedError when `inputs` is neither a string nor an array of strings (naming `inputs[i]`).
   */
  estimateInputs(inputs: string | readonly string[]): number {
    if (typeof inputs === 'string') return this.#calibrated(INPUT_OVERHEAD + this.#textTokens(inputs));
    if (!Array.isArray(inputs)) {
      throw new NeedError('inputs', `must be a string or an array of strings, received ${describe(inputs)}`);
    }
    let tokens = 0;
    for (let i = 0; i < inputs.length; i++) {
      const input: unknown = inputs[i];
      if (typeof input !== 'string') throw new NeedError(`inputs[${i}]`, `must be a string, received ${describe(input)}`);
      tokens += INPUT_OVERHEAD + this.#textTokens(input);
    }
    return this.#calibrated(tokens);
  }

  /**
   * Estimated prompt tokens of a FIM (fill-in-the-middle) request: prompt and suffix text plus
   * `perMessageOverhead` once for the `[PREFIX]`/`[SUFFIX]` control tokens.
   * @throws NeedError when `prompt` is not a string or `suffix` is neither a string, null nor undefined.
   */
  estimateFim(prompt: string, suffix?: string | null): number {
    if (typeof prompt !== 'string') throw new NeedError('prompt', `must be a string, received ${describe(prompt)}`);
    if (suffix !== undefined && suffix !== null && typeof suffix !== 'string') {
      throw new NeedError('suffix', `must be a string, null or absent, received ${describe(suffix)}`);
    }
    const suffixTokens = typeof suffix === 'string' ? this.#textTokens(suffix) : 0;
    return this.#calibrated(this.#perMessageOverhead + this.#textTokens(prompt) + suffixTokens);
  }

  /**
   * Calibrate from a real call: `estimated` is the value this estimator returned for the request and
   * `actualPromptTokens` the `usage.prompt_tokens` (SDK: `usage.promptTokens`) of its response.
   *
   * The ratio is a geometric exponentially weighted mean of actual/raw-estimate:
   * `sample = clamp(ratioUsed x actual / estimated, 0.25, 4)` (the raw estimate being
   * `estimated / ratioUsed`), then `ratio = ratio^(1 - w) x sample^w` with w = 0.25 when the sample is
   * above the ratio and 0.1 below (the ratio leans high). A consistent bias is learned (within 1% after
   * about 45 observations), and one hostile or broken value moves the ratio by a factor of at most
   * 4^0.25 ~ 1.41. When the last 8 samples agree within 0.2%, the ratio is set to the largest of them
   * (a count that is a fixed multiple of the raw estimate is then reproduced exactly, not approached from
   * above). Observations with a non-finite or non-positive estimate or actual count, or after
   * `calibration: false`, are ignored.
   *
   * @param ratioUsed the {@link TokenEstimator.ratio} in force when `estimated` was computed. Pass it when
   *   other calls may have moved the ratio in between (a call that waited for quota): comparing an old
   *   estimate with the current ratio would feed the error back into the ratio. @default the current ratio
   */
  observe(estimated: number, actualPromptTokens: number, ratioUsed: number = this.#calibration.ratio): void {
    this.#calibration.observe(estimated, actualPromptTokens, ratioUsed);
  }

  /** Cache hits and misses (of texts long enough to be cached) and calibration observations so far. */
  stats(): TokenEstimatorStats {
    return {
      cacheHits: this.#cache?.hits ?? 0,
      cacheMisses: this.#cache?.misses ?? 0,
      observations: this.#calibration.observations,
      measuredHits: this.#measured?.hits ?? 0,
    };
  }

  #calibrated(rawTokens: number): number {
    return this.#calibration.apply(rawTokens);
  }

  #messageTokens(message: Record<string, unknown>): number {
    let tokens = this.#contentTokens(message['content']);
    tokens += this.#optionalText(message['name']);
    tokens += this.#optionalText(message['toolCallId'] ?? message['tool_call_id']);
    const toolCalls = message['toolCalls'] ?? message['tool_calls'];
    if (Array.isArray(toolCalls)) {
      for (const call of toolCalls) tokens += this.#toolCallTokens(call);
    } else if (toolCalls !== undefined && toolCalls !== null) {
      tokens += this.#jsonTokens(toolCalls);
    }
    return tokens;
  }

  #contentTokens(content: unknown): number {
    if (content === undefined || content === null) return 0;
    if (typeof content === 'string') return this.#textTokens(content);
    if (Array.isArray(content)) {
      let tokens = 0;
      for (const chunk of content) tokens += this.#chunkTokens(chunk);
      return tokens;
    }
    return this.#jsonTokens(content);
  }

  #chunkTokens(chunk: unknown): number {
    if (typeof chunk === 'string') return this.#textTokens(chunk);
    if (chunk === null || typeof chunk !== 'object') return this.#jsonTokens(chunk);
    const fields = chunk as Record<string, unknown>;
    const type = fields['type'];
    // The SDK allows `type` to be absent on text and image chunks; recognise them by their field then.
    if (type === 'text' || (type === undefined && typeof fields['text'] === 'string')) {
      return typeof fields['text'] === 'string' ? this.#textTokens(fields['text']) : this.#jsonTokens(chunk);
    }
    if (type === 'image_url' || (type === undefined && (fields['imageUrl'] ?? fields['image_url']) !== undefined)) {
      return this.#imageTokens;
    }
    if (type === 'input_audio') return this.#audioTokens(fields['inputAudio'] ?? fields['input_audio']);
    if (type === 'thinking' && Array.isArray(fields['thinking'])) return this.#contentTokens(fields['thinking']);
    return this.#jsonTokens(chunk);
  }

  #toolCallTokens(call: unknown): number {
    if (call === null || typeof call !== 'object') return this.#jsonTokens(call);
    const fields = call as Record<string, unknown>;
    const fn = fields['function'];
    if (fn === null || typeof fn !== 'object') return this.#jsonTokens(call);
    const { name, arguments: args } = fn as Record<string, unknown>;
    return (
      this.#optionalText(fields['id']) +
      this.#optionalText(name) +
      (typeof args === 'string' ? this.#textTokens(args) : this.#jsonTokens(args))
    );
  }

  #audioTokens(audio: unknown): number {
    const seconds = typeof audio === 'string' ? wavSeconds(audio) : undefined;
    return seconds === undefined ? this.#audioPartTokens : Math.ceil(seconds * this.#audioTokensPerSecond);
  }

  #optionalText(value: unknown): number {
    return typeof value === 'string' ? this.#textTokens(value) : 0;
  }

  #jsonTokens(value: unknown): number {
    return this.#textTokens(safeJson(value));
  }

  /** Raw (uncalibrated) tokens of a text, through the cache when the text is long enough to pay for it. */
  #textTokens(text: string): number {
    if (this.#cache === undefined || text.length < MIN_CACHED_LENGTH) return scanText(text, this.#charsPerToken);
    return this.#cache.count(text, this.#scan);
  }
}
