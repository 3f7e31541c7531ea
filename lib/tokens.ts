/**
 * Token estimate for Mistral requests, taken BEFORE a call: the router sizes a reservation with it
 * (estimated prompt tokens + `maxTokens`) and the plan checks context windows with it.
 *
 * No npm package tokenizes every current Mistral model exactly, so this counts characters (about 3.5 per
 * token for English and French with Tekken), adds documented allowances for images and audio, and
 * multiplies the sum by a ratio calibrated from the `usage.prompt_tokens` of real calls. Settling a
 * reservation replaces the estimate by the real usage, so an error here moves capacity in time, never
 * loses it; erring high (a little) is the safe side, since an underestimate can overrun a window.
 *
 * Text is scanned once per string and the result cached by the string itself, not by the JSON of the
 * whole request: `bench/tokens.ts` measures `JSON.stringify(messages)` (let alone a hash of it) at several
 * times the cost of the estimate it would save, while a string key costs O(1) when the caller passes the
 * same string again (a system prompt, the earlier turns of a conversation), which is the repeat that occurs.
 */
import { LRUCache } from 'lru-cache';
import { ConfigError, NeedError } from './errors.js';

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
}

/**
 * Weight of one calibration observation in the running (geometric) mean. Upward moves weigh more than
 * downward ones, so the ratio leans high: an under-estimate costs an upstream 429 (the reservation was too
 * small), an over-estimate only holds capacity until the call settles.
 */
const CALIBRATION_WEIGHT_UP = 0.25;
const CALIBRATION_WEIGHT_DOWN = 0.1;
/** Bounds of an observed actual/estimate ratio and so of the calibrated ratio. */
const MIN_RATIO = 0.25;
const MAX_RATIO = 4;
/**
 * Texts shorter than this are scanned, not cached: below it a cache lookup costs about what the scan does
 * (measured in bench/tokens.ts), and short strings would crowd the long ones out of the cache.
 */
const MIN_CACHED_LENGTH = 256;
/** Bound on the characters the cache keeps alive (its keys are the caller's strings): about 16 MB. */
const MAX_CACHED_CHARS = 8_000_000;
/** Tokens per embedding input or FIM request for its sequence control tokens. */
const INPUT_OVERHEAD = 1;

const nonAscii = /[^\x00-\x7f]/;

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
  readonly #calibration: boolean;
  readonly #requestOverhead: number;
  readonly #cache: LRUCache<string, number> | undefined;
  #ratio = 1;
  #cacheHits = 0;
  #cacheMisses = 0;
  #observations = 0;

  constructor({
    charsPerToken = 3.5,
    perMessageOverhead = 4,
    requestOverhead = 3,
    imageTokens = 1600,
    audioTokensPerSecond = 12.5,
    audioPartTokens = 3000,
    cacheSize = 1000,
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
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
      throw new ConfigError('cacheSize', `must be an integer >= 0 (0 disables the cache), received ${String(cacheSize)}`);
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
    this.#calibration = calibration;
    this.#cache =
      cacheSize === 0
        ? undefined
        : new LRUCache<string, number>({ max: cacheSize, maxSize: MAX_CACHED_CHARS, sizeCalculation: (_value, key) => key.length });
  }

  /**
   * The current calibration multiplier applied to every estimate; starts at 1 and stays within [0.25, 4].
   * See {@link TokenEstimator.observe} for how it moves.
   */
  get ratio(): number {
    return this.#ratio;
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
   * 4^0.25 ~ 1.41. Observations with a non-finite or non-positive estimate or actual count, or after
   * `calibration: false`, are ignored.
   *
   * @param ratioUsed the {@link TokenEstimator.ratio} in force when `estimated` was computed. Pass it when
   *   other calls may have moved the ratio in between (a call that waited for quota): comparing an old
   *   estimate with the current ratio would feed the error back into the ratio. @default the current ratio
   */
  observe(estimated: number, actualPromptTokens: number, ratioUsed: number = this.#ratio): void {
    if (!this.#calibration) return;
    if (typeof estimated !== 'number' || !Number.isFinite(estimated) || estimated <= 0) return;
    if (typeof actualPromptTokens !== 'number' || !Number.isFinite(actualPromptTokens) || actualPromptTokens <= 0) return;
    if (typeof ratioUsed !== 'number' || !Number.isFinite(ratioUsed) || ratioUsed <= 0) return;
    const sample = clamp((ratioUsed * actualPromptTokens) / estimated, MIN_RATIO, MAX_RATIO);
    const weight = sample > this.#ratio ? CALIBRATION_WEIGHT_UP : CALIBRATION_WEIGHT_DOWN;
    const next = this.#ratio ** (1 - weight) * sample ** weight;
    this.#ratio = clamp(next, MIN_RATIO, MAX_RATIO);
    this.#observations += 1;
  }

  /** Cache hits and misses (of texts long enough to be cached) and calibration observations so far. */
  stats(): TokenEstimatorStats {
    return { cacheHits: this.#cacheHits, cacheMisses: this.#cacheMisses, observations: this.#observations };
  }

  #calibrated(rawTokens: number): number {
    return Math.max(0, Math.ceil(rawTokens * this.#ratio - 1e-9));
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
    if (this.#cache === undefined || text.length < MIN_CACHED_LENGTH) return this.#scan(text);
    const cached = this.#cache.get(text);
    if (cached !== undefined) {
      this.#cacheHits += 1;
      return cached;
    }
    this.#cacheMisses += 1;
    const tokens = this.#scan(text);
    this.#cache.set(text, tokens);
    return tokens;
  }

  #scan(text: string): number {
    // Most prompts are ASCII: the regex test is several times faster than the per-character loop.
    if (!nonAscii.test(text)) return text.length / this.#charsPerToken;
    let units = 0;
    let wide = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code < 0x80) units += 1;
      else if (isWide(code)) wide += 1;
      else units += 2;
    }
    return units / this.#charsPerToken + wide;
  }
}

/** CJK, kana, Hangul, compatibility ideographs, full-width forms, and surrogate halves (emoji, rare CJK). */
function isWide(code: number): boolean {
  return (
    (code >= 0x2e80 && code < 0xa000) ||
    (code >= 0xac00 && code < 0xe000) ||
    (code >= 0xf900 && code < 0xfb00) ||
    (code >= 0xff00 && code < 0xfff0)
  );
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** JSON of a value for counting; never throws (cycles, BigInt, throwing toJSON count as their String()). */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    try {
      return String(value);
    } catch {
      return '';
    }
  }
}

/** A short description of a received value for error messages (never the value itself: it may be a prompt). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * Duration in seconds of base64 WAV audio (raw base64 or a `data:` URL), from the byte rate in its `fmt `
 * header and the encoded length; undefined for anything else (URLs, compressed formats, broken headers).
 */
function wavSeconds(audio: string): number | undefined {
  const comma = audio.startsWith('data:') ? audio.indexOf(',') : -1;
  const start = comma + 1;
  // "RIFF" base64-encodes to "UklGR".
  if (!audio.startsWith('UklGR', start)) return undefined;
  const header = Buffer.from(audio.slice(start, start + 48), 'base64');
  if (header.length < 36 || header.toString('latin1', 8, 16) !== 'WAVEfmt ') return undefined;
  const byteRate = header.readUInt32LE(28);
  if (byteRate === 0) return undefined;
  let padding = 0;
  if (audio.endsWith('==')) padding = 2;
  else if (audio.endsWith('=')) padding = 1;
  const bytes = Math.floor(((audio.length - start) * 3) / 4) - padding;
  return Math.max(0, bytes - 44) / byteRate;
}
