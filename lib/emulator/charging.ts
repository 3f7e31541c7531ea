/**
 * What one admitted request costs under the upstream's charge rule (options.ts `UpstreamCharge`): the
 * room it needs to be admitted, what the windows are charged at admission, what is charged or refunded
 * once the response is sent, and the `x-ratelimit-tokens-query-cost` it reports.
 */
import type { CompletionRequest, EmulatorOptions, UpstreamCharge } from './options.js';
import { DEFAULT_COMPLETION_TOKENS } from './token-estimate.js';

/** The token arithmetic of one request under a charge rule. */
export interface RequestCharge {
  /** Tokens that must fit in every token window for the request to be admitted. */
  readonly need: number;
  /** Tokens charged at admission. */
  readonly atAdmission: number;
  /** Tokens added (negative: refunded) once the response is sent. */
  readonly afterResponse: number;
  /** What the headers report as the request's cost. */
  readonly queryCost: number;
  /** `usage.completion_tokens`: what the reply really used. */
  readonly completionTokens: number;
}

/** The completion tokens a reply uses, by the emulator's `completionTokens` option, within [0, max_tokens]. */
export function completionTokensOf(option: EmulatorOptions['completionTokens'], request: CompletionRequest): number {
  let wanted: number = request.maxTokens;
  if (typeof option === 'number') wanted = option;
  else if (typeof option === 'function') {
    const answer = option(request);
    if (typeof answer !== 'number' || !Number.isFinite(answer)) throw new TypeError(`completionTokens() must return a finite number, returned ${String(answer)}`);
    wanted = answer;
  }
  return Math.min(request.maxTokens, Math.max(0, Math.round(wanted)));
}

/**
 * The charge of a request of `promptTokens` with `maxTokens` (undefined: the default) that replies with
 * `completionTokens` (embeddings: `maxTokens` and `completionTokens` 0, the same under every rule).
 */
export function requestCharge(rule: UpstreamCharge, promptTokens: number, maxTokens: number, completionTokens: number): RequestCharge {
  const reserved = promptTokens + maxTokens;
  const used = promptTokens + completionTokens;
  if (rule === 'usage') return { need: promptTokens, atAdmission: 0, afterResponse: used, queryCost: used, completionTokens };
  if (rule === 'max-tokens-corrected') return { need: reserved, atAdmission: reserved, afterResponse: used - reserved, queryCost: reserved, completionTokens };
  return { need: reserved, atAdmission: reserved, afterResponse: 0, queryCost: reserved, completionTokens };
}

/** `max_tokens` as the meters read it: the request's, or the documented default. */
export function maxTokensOf(maxTokens: number | undefined): number {
  return maxTokens ?? DEFAULT_COMPLETION_TOKENS;
}
