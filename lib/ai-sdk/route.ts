/**
 * What a routed model asks the router for: a model id or alias (tried first, then its configured
 * fallbacks, then the other eligible models), `'auto'` (whatever the request's content implies), or a
 * need; with a wait bound and a per-attempt timeout. Checked when the model is created, so that a bad need
 * fails at `provider.languageModel(...)`, before any request; a call may override it through
 * `providerOptions.mistralRouter`, checked when the call starts.
 */
import type { SharedV3ProviderOptions } from '@ai-sdk/provider';
import { ConfigError, NeedError } from '../errors.js';
import { normaliseNeed, type Endpoint, type Need } from '../need.js';
import { MAX_TIMER_MS, positiveInteger } from '../router/options.js';

/** Model ids and aliases of the bundled catalogue an editor can complete; any other id passes too. */
export type KnownModelId =
  | 'mistral-small-latest'
  | 'mistral-medium-latest'
  | 'mistral-large-latest'
  | 'magistral-small-latest'
  | 'magistral-medium-latest'
  | 'ministral-8b-latest'
  | 'open-mistral-nemo'
  | 'codestral-latest'
  | 'pixtral-large-latest'
  | 'voxtral-small-latest'
  | 'mistral-embed'
  | 'codestral-embed';

/** A model id or alias, `'auto'`, or `{ need }` (optionally with the `model` to try first). */
export type ModelRoute = 'auto' | KnownModelId | (string & {}) | { readonly model?: string; readonly need?: Need };

/** Per-model routing settings (a call overrides them in `providerOptions.mistralRouter`). */
export interface RouteSettings {
  /** How long a call may wait for quota. @default the router's `maxWaitMs` */
  readonly maxWaitMs?: number;
  /** Per-attempt timeout. @default the router's `timeoutMs` */
  readonly timeoutMs?: number;
}

/** `providerOptions.mistralRouter` of one call: replaces the model's need or settings for that call. */
export interface RouterCallOptions extends RouteSettings {
  readonly need?: Need;
}

/** A route, checked. */
export interface CallRoute {
  readonly model: string | undefined;
  readonly need: Need | undefined;
  readonly maxWaitMs: number | undefined;
  readonly timeoutMs: number | undefined;
}

const ROUTE_FIELDS = ['model', 'need'];
const SETTING_FIELDS = ['maxWaitMs', 'timeoutMs'];
const CALL_FIELDS = ['need', ...SETTING_FIELDS];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkFields(value: Record<string, unknown>, known: readonly string[], where: string, error: (field: string, message: string) => Error): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw error(`${where}.${key}`, `unknown field; known: ${known.join(', ')}`);
  }
}

function checkSettings(settings: Record<string, unknown>, where: string): void {
  positiveInteger(`${where}.maxWaitMs`, settings.maxWaitMs as number | undefined, 0, 0, MAX_TIMER_MS);
  positiveInteger(`${where}.timeoutMs`, settings.timeoutMs as number | undefined, 1, 1, MAX_TIMER_MS);
}

/** Validates a need (the router's own check, with nothing implied yet): a NeedError naming the field. */
function checkNeed(need: Need | undefined, endpoint: Endpoint): void {
  if (need !== undefined) normaliseNeed(need, endpoint, [], 'smallest-sufficient');
}

/** A model's route and settings, checked (NeedError or ConfigError naming the field). */
export function resolveRoute(route: ModelRoute, settings: RouteSettings | undefined, endpoint: Endpoint): CallRoute {
  let model: string | undefined;
  let need: Need | undefined;
  if (typeof route === 'string') {
    if (route === '') throw new NeedError('model', "expected a model id or alias, 'auto', or { need }");
    model = route === 'auto' ? undefined : route;
  } else if (isObject(route)) {
    checkFields(route, ROUTE_FIELDS, 'route', (field, message) => new NeedError(field, message));
    if (route.model !== undefined && (typeof route.model !== 'string' || route.model === '')) throw new NeedError('route.model', 'expected a model id or alias');
    model = route.model === 'auto' ? undefined : route.model;
    need = route.need;
  } else {
    throw new NeedError('model', `expected a model id or alias, 'auto', or { need }, received ${route === null ? 'null' : typeof route}`);
  }
  checkNeed(need, endpoint);
  if (settings !== undefined) {
    if (!isObject(settings)) throw new ConfigError('settings', 'expected { maxWaitMs?, timeoutMs? }');
    checkFields(settings, SETTING_FIELDS, 'settings', (field, message) => new ConfigError(field, message));
    checkSettings(settings, 'settings');
  }
  const checked = settings as RouteSettings | undefined;
  return { model, need, maxWaitMs: checked?.maxWaitMs, timeoutMs: checked?.timeoutMs };
}

/** The route of one call: the model's, with `providerOptions.mistralRouter` over it. */
export function callRoute(base: CallRoute, providerOptions: SharedV3ProviderOptions | undefined, endpoint: Endpoint): CallRoute {
  const given: unknown = providerOptions?.mistralRouter;
  if (given === undefined) return base;
  const where = 'providerOptions.mistralRouter';
  if (!isObject(given)) throw new NeedError(where, 'expected { need?, maxWaitMs?, timeoutMs? }');
  checkFields(given, CALL_FIELDS, where, (field, message) => new NeedError(field, message));
  checkSettings(given, where);
  const options = given as RouterCallOptions;
  checkNeed(options.need, endpoint);
  return {
    model: base.model,
    need: options.need ?? base.need,
    maxWaitMs: options.maxWaitMs ?? base.maxWaitMs,
    timeoutMs: options.timeoutMs ?? base.timeoutMs,
  };
}

/** The `modelId` a routed model reports before it answers: the id or alias asked for, else `auto`. */
export function routeModelId(route: CallRoute): string {
  return route.model ?? 'auto';
}
