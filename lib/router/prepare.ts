/**
 * A request before anything is reserved: checked, its need normalised (with what its content implies and
 * the named model's fallbacks), its tokens estimated, its plan made. Everything here is synchronous and
 * does no I/O, so bad input fails at once with a NeedError naming the field.
 */
import type { ChatCompletionRequest, EmbeddingRequest, FIMCompletionRequest } from '@mistralai/mistralai/models/components/index.js';
import type { Capability, Model } from '../catalog/types.js';
import { NeedError } from '../errors.js';
import { impliedCapabilities, normaliseNeed, tokenCount, type Endpoint, type Need, type NormalisedNeed } from '../need.js';
import type { TokenEstimator } from '../tokens.js';
import type { Candidates } from './candidates.js';
import type { CatalogView } from './catalog-view.js';
import type { Plan } from './decision.js';
import { describeReceived } from '../received.js';
import { MAX_TIMER_MS, type Settings } from './options.js';

/** Routing fields added to every SDK request shape. */
export interface RoutingFields {
  /** What the request needs; absent = whatever the endpoint and the content imply. */
  readonly need?: Need;
  /** Per-call wait bound (overrides the router's). @default RouterOptions.maxWaitMs */
  readonly maxWaitMs?: number;
}

export type RoutedChatRequest = Omit<ChatCompletionRequest, 'model'> & { readonly model?: string } & RoutingFields;
export type RoutedEmbeddingRequest = Omit<EmbeddingRequest, 'model'> & { readonly model?: string } & RoutingFields;
export type RoutedFimRequest = Omit<FIMCompletionRequest, 'model'> & { readonly model?: string } & RoutingFields;
export type RoutedRequest = RoutedChatRequest | RoutedEmbeddingRequest | RoutedFimRequest;

/** A request ready to reserve for. */
export interface Prepared {
  readonly endpoint: Endpoint;
  readonly plan: Plan;
  /** The models the request fits, in order. */
  readonly models: readonly Model[];
  /** The tokens reserved: prompt estimate + max output. */
  readonly estimated: number;
  readonly promptEstimate: number;
  /** The estimator's ratio when promptEstimate was made (calibration compares against it). */
  readonly ratio: number;
  /** The request's content key (TokenEstimator.contentKey), under which its measured prompt size is remembered. */
  readonly contentKey: number | undefined;
  /** Whether promptEstimate is the size measured for the same content before (not an estimate). */
  readonly measured: boolean;
  readonly maxWaitMs: number;
  /** The caller's request; {@link toSdkRequest} strips the routing fields when the call goes out. */
  readonly request: Record<string, unknown>;
}

/** What preparing reads: fixed for a router's life. */
export interface PrepareContext {
  readonly view: CatalogView;
  readonly tokens: TokenEstimator;
  readonly settings: Settings;
  readonly fallbacks: ReadonlyMap<string, readonly string[]>;
  readonly candidates: Candidates;
  /** The normal form of a request with no need and nothing its content implies, per endpoint (see plainNeed). */
  readonly plainNeeds: Map<Endpoint, NormalisedNeed>;
}

export function prepare(context: PrepareContext, endpoint: Endpoint, request: Record<string, unknown>): Prepared {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) throw new NeedError('request', `expected a request object, received ${describeReceived(request)}`);
  const { tokens, settings } = context;
  const { need, maxWaitMs, model } = request as { need?: Need; maxWaitMs?: number; model?: unknown };
  if (model !== undefined && (typeof model !== 'string' || model === '')) throw new NeedError('model', `expected a model id or alias, received ${describeReceived(model)}`);
  const ratio = tokens.ratio;
  const contentKey = tokens.contentKey(endpoint, request);
  const measured = tokens.measured(contentKey);
  const { promptEstimate, maxOutput, contextTokens } = estimateRequest(tokens, settings.defaultMaxTokens, endpoint, request, measured);
  const implied: readonly Capability[] = endpoint === 'chat' ? impliedCapabilities(request) : [];
  const configured = typeof model === 'string' ? context.fallbacks.get(context.view.catalog.resolve(model) ?? model) : undefined;
  const withFallbacks = configured === undefined ? need : { ...need, prefer: [...configured, ...(need?.prefer ?? [])] };
  const normalised = withFallbacks === undefined && implied.length === 0 ? plainNeed(context, endpoint) : normaliseNeed(withFallbacks, endpoint, implied, settings.strategy);
  const ranked = context.candidates.ranked(endpoint, model as string | undefined, normalised);
  const fitted = context.candidates.fit(ranked, contextTokens, normalised.minContext);
  const { models, rejected, candidates } = normalised.strategy === 'cheapest' ? context.candidates.byCost(ranked, fitted, { endpoint, input: promptEstimate, output: maxOutput }) : fitted;
  const estimated = promptEstimate + maxOutput;
  const plan: Plan = { endpoint, need: normalised, tokens: { prompt: promptEstimate, maxOutput, total: estimated }, candidates, rejected };
  if (ranked.replaced !== undefined) {
    Object.assign(plan, { replaced: ranked.replaced });
    context.view.reportLifecycle(ranked.replaced.retiredModel, context.view.lifecycle());
  }
  if (ranked.warnings !== undefined) Object.assign(plan, { warnings: ranked.warnings });
  const wait = maxWaitMs === undefined ? settings.maxWaitMs : waitBound(maxWaitMs);
  return { endpoint, plan, models, estimated, promptEstimate, ratio, contentKey, measured: measured !== undefined, maxWaitMs: wait, request };
}

/** The need of a request that states none and implies nothing: a function of the endpoint alone, normalised once. */
function plainNeed(context: PrepareContext, endpoint: Endpoint): NormalisedNeed {
  let need = context.plainNeeds.get(endpoint);
  if (need === undefined) context.plainNeeds.set(endpoint, (need = normaliseNeed(undefined, endpoint, [], context.settings.strategy)));
  return need;
}

/** A request's own `maxWaitMs`: a whole number of ms a timer can hold. */
function waitBound(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new NeedError('maxWaitMs', `expected a whole number of ms from 0 to ${MAX_TIMER_MS}, received ${describeReceived(value)}`);
  }
  return value;
}

/** What a request will cost before it is sent: the prompt estimate, the output reserved, the context it needs. */
export interface RequestEstimate {
  readonly promptEstimate: number;
  readonly maxOutput: number;
  /** Tokens the model's context window must hold (embeddings: the largest input). */
  readonly contextTokens: number;
}

/**
 * The token estimate of an SDK-shaped request (`maxTokens`, `inputs`...), as the router reserves it. Also
 * used by callers that meter the same request in windows of their own (the gateway's virtual keys), so
 * that both hold the same count. `measured`: the prompt's size as responses reported it for the same
 * content, used instead of the estimate. Throws NeedError naming a field the estimate cannot read.
 */
export function estimateRequest(tokens: TokenEstimator, defaultMaxTokens: number, endpoint: Endpoint, request: Record<string, unknown>, measured?: number): RequestEstimate {
  if (endpoint === 'embeddings') {
    const inputs = request.inputs as string | string[] | undefined;
    if (typeof inputs !== 'string' && !Array.isArray(inputs)) throw new NeedError('inputs', `expected a string or a list of strings, received ${describeReceived(inputs)}`);
    const promptEstimate = measured ?? tokens.estimateInputs(inputs);
    const contextTokens = Math.max(0, ...(typeof inputs === 'string' ? [inputs] : inputs).map((input) => tokens.estimateText(String(input))));
    return { promptEstimate, maxOutput: 0, contextTokens };
  }
  const maxOutput = tokenCount(request.maxTokens, 'maxTokens') ?? defaultMaxTokens;
  let promptEstimate: number;
  if (endpoint === 'fim') {
    if (typeof request.prompt !== 'string') throw new NeedError('prompt', `expected a string, received ${describeReceived(request.prompt)}`);
    promptEstimate = measured ?? tokens.estimateFim(request.prompt, request.suffix as string | null | undefined);
  } else {
    if (!Array.isArray(request.messages)) throw new NeedError('messages', `expected a list of messages, received ${describeReceived(request.messages)}`);
    promptEstimate = measured ?? tokens.estimateMessages(request.messages);
  }
  return { promptEstimate, maxOutput, contextTokens: promptEstimate + maxOutput };
}


/** The SDK's request: the caller's, without the routing fields, for the chosen model. */
export function toSdkRequest(request: Record<string, unknown>, model: string): Record<string, unknown> {
  // Built as a literal with `model` first, then the caller's fields in their order: the shape of a request
  // written for the SDK. The SDK's zod-compiled parser took 17-26 µs more per call on the object that
  // rest + spread made ({ ...rest, model }), measured by profiling both against the SDK called directly.
  const sdkRequest: Record<string, unknown> = { model };
  for (const key of Object.keys(request)) {
    if (key !== 'need' && key !== 'maxWaitMs' && key !== 'model') sdkRequest[key] = request[key];
  }
  return sdkRequest;
}
