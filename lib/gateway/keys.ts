/**
 * Virtual keys: the gateway's own API keys, handed to its clients instead of Mistral's. A key is known by
 * its SHA-256 only; a request's bearer token is hashed and looked up (the digest of a wrong guess says
 * nothing about a right one, so the lookup leaks no timing that helps guess a key).
 *
 * A key's own limits are windows of the same quota store as the workspaces' (memory or Redis, so several
 * gateway processes share them), under a pseudo-workspace `key:<name>` that no real workspace may be
 * called: requests per second, tokens per minute and per calendar month, scope `workspace` (a key's
 * tokens count whatever model serves them). A request takes one reservation there before it is routed
 * and settles it after, at the tokens the call used (0 when it failed: the request still counts).
 *
 * A key's monthly budget in USD is a {@link CallBudget} the router holds with each of the key's calls (the
 * window `key-usd-per-month` of the same pseudo-workspace, in micro-dollars): the router knows which model
 * a call goes to, so it holds that model's estimated cost, passes over models the budget has no room for
 * (cheaper ones may still fit), and settles at the real cost, a stream's at its end. Nothing left:
 * QuotaExhaustedError naming the key, `retryAfterMs` until the month's end (429 + Retry-After).
 *
 * What a key may call: `routes` (and `auto`) and `models` it may name; a key that lists routes but no
 * models names none (it calls its routes); one that lists neither may call anything. A key's `models`
 * also bound what may answer it: every other model is excluded from its calls' needs ({@link
 * VirtualKeys.bounded}), so neither a fallback, a route, `auto` nor a `need` in the body reaches past them.
 */
import { hash } from 'node:crypto';
import { NoEligibleModelError, QuotaExhaustedError } from '../errors.js';
import { CallBudget } from '../router/budgets.js';
import { GatewayError } from './errors.js';
import { WINDOW_KINDS, type QuotaCandidate, type QuotaStore, type Reservation, type ReserveResult, type WindowSpec } from '../quota/types.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Need } from '../need.js';
import type { KeyConfig, KeyLimits } from './config.js';

/** The workspace name under which a key's windows live. */
export const KEY_WORKSPACE_PREFIX = 'key:';
/** The window kind of a key's monthly budget (micro-dollars). */
export const KEY_BUDGET_KIND = 'key-usd-per-month';

/** A virtual key, as a request carries it once authenticated. */
export interface VirtualKey {
  readonly name: string;
  /** Route names (and `auto`) it may use; undefined: all. */
  readonly routes: ReadonlySet<string> | undefined;
  /** Model ids it may name (aliases resolved); undefined: all; empty for a key that lists routes only. */
  readonly models: ReadonlySet<string> | undefined;
  /** The model ids that may answer its calls (its configured `models`); undefined: any. */
  readonly answers: ReadonlySet<string> | undefined;
  readonly limits: KeyLimits;
  /** Its windows in the store; undefined when it has no limits (nothing is reserved). */
  readonly candidate: QuotaCandidate | undefined;
  /** Whether a token window is among them (the request's tokens must then be estimated). */
  readonly metersTokens: boolean;
  /** Its monthly budget in USD, held by the router with each call; undefined without `limits.monthlyUsd`. */
  readonly budget: CallBudget | undefined;
}

/** The windows of a key's limits. */
function keyWindows(limits: KeyLimits): WindowSpec[] {
  const windows: WindowSpec[] = [];
  if (limits.requestsPerSecond !== undefined) windows.push({ ...WINDOW_KINDS.requestsPerSecond, limit: limits.requestsPerSecond });
  if (limits.tokensPerMinute !== undefined) windows.push({ ...WINDOW_KINDS.tokensPerMinute, scope: 'workspace', limit: limits.tokensPerMinute });
  if (limits.tokensPerMonth !== undefined) windows.push({ ...WINDOW_KINDS.tokensPerMonth, scope: 'workspace', limit: limits.tokensPerMonth });
  return windows;
}

export class VirtualKeys {
  readonly #byHash = new Map<string, VirtualKey>();
  readonly #store: QuotaStore;
  /** Per key with `models`: the catalogue's other model ids, for the catalogue they were read from. */
  readonly #outside = new Map<VirtualKey, { readonly catalog: Catalog; readonly ids: readonly string[] }>();
  readonly list: readonly VirtualKey[];

  /** `resolveModel` turns a configured model name into its id (undefined: unknown, already refused by the config checks). */
  constructor(keys: readonly KeyConfig[], store: QuotaStore, resolveModel: (name: string) => string | undefined) {
    this.#store = store;
    this.list = keys.map((config) => {
      const limits = config.limits ?? {};
      const windows = keyWindows(limits);
      const answers = config.models === undefined ? undefined : new Set(config.models.map((name) => resolveModel(name) ?? name));
      const key: VirtualKey = {
        name: config.name,
        routes: config.routes === undefined ? undefined : new Set(config.routes),
        models: answers ?? (config.routes === undefined ? undefined : new Set<string>()),
        answers,
        limits,
        candidate: windows.length === 0 ? undefined : { workspace: `${KEY_WORKSPACE_PREFIX}${config.name}`, model: '*', windows },
        metersTokens: windows.some((w) => w.unit === 'tokens'),
        budget:
          limits.monthlyUsd === undefined
            ? undefined
            : new CallBudget({ name: `${KEY_WORKSPACE_PREFIX}${config.name}`, label: `the monthly budget of gateway key "${config.name}"`, workspace: `${KEY_WORKSPACE_PREFIX}${config.name}`, kind: KEY_BUDGET_KIND, monthlyUsd: limits.monthlyUsd }),
      };
      this.#byHash.set(config.sha256, key);
      return key;
    });
  }

  /**
   * `need` bounded by the key's `models` (undefined: the key has none, `need` as it is): every catalogue
   * model outside them excluded. Recomputed when the catalogue changes (a refresh may add models).
   */
  bounded(key: VirtualKey, need: Need | undefined, catalog: Catalog): Need | undefined {
    const answers = key.answers;
    if (answers === undefined) return need;
    let outside = this.#outside.get(key);
    if (outside === undefined || outside.catalog !== catalog) {
      outside = { catalog, ids: catalog.models.map((model) => model.id).filter((id) => !answers.has(id)) };
      this.#outside.set(key, outside);
    }
    // A need the router will refuse (not an object, an `exclude` of the wrong type) goes as it is: refused, never answered.
    if (need !== undefined && (need === null || typeof need !== 'object' || Array.isArray(need))) return need;
    const exclude: unknown = need?.exclude;
    if (exclude === undefined) return { ...need, exclude: outside.ids };
    if (typeof exclude === 'string') return { ...need, exclude: [exclude, ...outside.ids] };
    if (Array.isArray(exclude)) return { ...need, exclude: [...(exclude as string[]), ...outside.ids] };
    return need;
  }

  /** The key of an `Authorization: Bearer <key>` header; a GatewayError (401) when missing or unknown. */
  authenticate(authorization: string | undefined): VirtualKey {
    if (authorization === undefined || authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') {
      throw new GatewayError({ code: 'GATEWAY_UNAUTHORIZED', message: 'Missing API key: send "Authorization: Bearer <your gateway key>".' });
    }
    const token = authorization.slice(7).trim();
    // crypto.hash (Node >= 20.12; engines asks >= 20.19): one call, no Hash object per request.
    const key = token === '' ? undefined : this.#byHash.get(hash('sha256', token, 'hex'));
    if (key === undefined) throw new GatewayError({ code: 'GATEWAY_UNAUTHORIZED', message: 'Unknown API key: this gateway has no such key.' });
    return key;
  }

  /**
   * Take one request (and `tokens`, the router's estimate) in the key's windows: the reservation, or
   * undefined for a key without limits. A key over a limit: QuotaExhaustedError with the exact wait.
   */
  admit(key: VirtualKey, tokens: number): Reservation | undefined | Promise<Reservation | undefined> {
    const candidate = key.candidate;
    if (candidate === undefined) return undefined;
    const request = { candidates: [candidate], tokens: key.metersTokens ? tokens : 0 };
    if (this.#store.reserveSync !== undefined) return admitted(key, this.#store.reserveSync(request));
    return this.#store.reserve(request).then((result) => admitted(key, result));
  }

  /** The call is over: its tokens (0 when it failed) replace the estimate; the request stays counted. */
  settle(reservation: Reservation | undefined, tokens: number): void | Promise<void> {
    if (reservation === undefined) return;
    const used = reservation.tokens === 0 ? 0 : tokens;
    if (this.#store.settleSync !== undefined) return this.#store.settleSync(reservation, used);
    return this.#store.settle(reservation, used);
  }
}

const NO_PLAN = Object.freeze({ candidates: [], rejected: [] });

function admitted(key: VirtualKey, result: ReserveResult): Reservation {
  if (result.ok) return result.reservation;
  const refusal = result.refusals[0];
  const windows = refusal?.windows.map((w) => `${w.kind} (${w.used} of ${w.limit} used, ${w.needed} needed)`).join(', ') ?? 'its limits';
  // Larger than the limit itself: waiting will never help (the router says the same of its own windows).
  if (!Number.isFinite(result.retryAfterMs)) throw new NoEligibleModelError({ message: `The request is larger than a limit of the gateway key "${key.name}" itself: ${windows}.`, plan: NO_PLAN });
  throw new QuotaExhaustedError({ message: `The gateway key "${key.name}" is over its own limit: ${windows}.`, retryAfterMs: result.retryAfterMs });
}
