/**
 * What a call costs in USD, from the catalogue's prices (USD per million tokens): input tokens times the
 * input price plus output tokens times the output price; embeddings are priced on their input only. A
 * price the catalogue does not know makes the cost unknown (`usd: null`), never zero. Pure functions of
 * the model's prices and the token counts.
 *
 * Amounts metered in quota windows (budgets) are whole micro-dollars: tokens × USD per million tokens is
 * exactly micro-dollars, so no division is needed and an estimate is rounded up once.
 */
import type { Model, Prices } from '../catalog/types.js';
import type { Endpoint } from '../need.js';

/** The cost of one call: the `cost` of a decision. */
export interface Cost {
  /** USD; null when a price the call needs is unknown. */
  readonly usd: number | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** The catalogue's prices used, USD per million tokens (null: unknown). */
  readonly pricePerMillion: { readonly input: number | null; readonly output: number | null };
}

/** The token counts a response reports (the SDK's camel-cased usage). */
export interface UsageCounts {
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  readonly totalTokens?: number;
}

/** Micro-dollars in a dollar: budget windows count micro-dollars. */
export const MICRO_USD_PER_USD = 1_000_000;

/**
 * Float noise below this (micro-dollars) is not a charge: 100 × 0.1 is 10.000000000000002 in doubles,
 * and rounding it up would bill one micro-dollar too many.
 */
const NOISE_MICRO_USD = 1e-6;

const NO_PRICES = Object.freeze({ input: null, output: null });

/** Whether a call on `endpoint` needs an output price (embeddings produce no output tokens). */
function usesOutput(endpoint: Endpoint): boolean {
  return endpoint !== 'embeddings';
}

/**
 * Micro-dollars (not rounded) of `input` and `output` tokens at `prices`, or null when a price the
 * endpoint needs is unknown.
 */
export function exactMicroUsd(prices: Prices | null | undefined, endpoint: Endpoint, input: number, output: number): number | null {
  const inputPrice = prices?.input ?? null;
  if (inputPrice === null) return null;
  if (!usesOutput(endpoint)) return input * inputPrice;
  const outputPrice = prices?.output ?? null;
  if (outputPrice === null) return null;
  return input * inputPrice + output * outputPrice;
}

/** Whole micro-dollars, rounded up (a reservation never holds less than the call may cost). */
export function wholeMicroUsd(exact: number): number {
  return Math.max(0, Math.ceil(exact - NOISE_MICRO_USD));
}

/** USD of `input` and `output` tokens on `model`, or null when a price it needs is unknown. */
export function expectedUsd(model: Model | undefined, endpoint: Endpoint, input: number, output: number): number | null {
  const micro = exactMicroUsd(model?.prices, endpoint, input, output);
  return micro === null ? null : micro / MICRO_USD_PER_USD;
}

/**
 * The input and output tokens of a usage: prompt and completion counts, each derived from the total when
 * only the other is reported. Undefined when the usage does not tell them apart. Embeddings count input only.
 */
export function splitUsage(usage: UsageCounts | undefined, endpoint: Endpoint): { input: number; output: number } | undefined {
  if (usage === undefined || usage === null) return undefined;
  const { promptTokens, completionTokens, totalTokens } = usage;
  const count = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;
  if (!usesOutput(endpoint)) {
    const input = count(promptTokens) ? promptTokens : count(totalTokens) ? totalTokens : undefined;
    return input === undefined ? undefined : { input, output: 0 };
  }
  if (count(promptTokens) && count(completionTokens)) return { input: promptTokens, output: completionTokens };
  if (count(promptTokens) && count(totalTokens)) return { input: promptTokens, output: Math.max(0, totalTokens - promptTokens) };
  if (count(completionTokens) && count(totalTokens)) return { input: Math.max(0, totalTokens - completionTokens), output: completionTokens };
  return undefined;
}

/** The cost of a call on `model` with this usage; null when the usage does not give input and output tokens. */
export function costOf(model: Model | undefined, endpoint: Endpoint, usage: UsageCounts | undefined): Cost | null {
  const split = splitUsage(usage, endpoint);
  if (split === undefined) return null;
  const prices = model?.prices;
  const micro = exactMicroUsd(prices, endpoint, split.input, split.output);
  return Object.freeze({
    usd: micro === null ? null : micro / MICRO_USD_PER_USD,
    inputTokens: split.input,
    outputTokens: split.output,
    pricePerMillion: prices == null ? NO_PRICES : perMillion(prices),
  });
}

/** One frozen `pricePerMillion` per catalogue price object (a cost per call, not an allocation per call). */
const PER_MILLION = new WeakMap<Prices, Cost['pricePerMillion']>();
function perMillion(prices: Prices): Cost['pricePerMillion'] {
  let found = PER_MILLION.get(prices);
  if (found === undefined) PER_MILLION.set(prices, (found = Object.freeze({ input: prices.input ?? null, output: prices.output ?? null })));
  return found;
}
