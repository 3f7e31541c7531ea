/**
 * Monthly budgets in USD, metered as quota windows the stores already have: a budget is a window of period
 * `month` (the calendar month UTC) whose "tokens" are micro-dollars (tokens × USD per million tokens is
 * exactly micro-dollars), scoped to the workspace (`usd-per-month`) or to the router's budget name
 * (`router-usd-per-month`, under the pseudo-workspace `$router:<name>`, so routers of a fleet sharing that
 * name and a Redis store share the budget). A call holds its estimated cost (prompt estimate + max output
 * at the model's prices, rounded up) in every budget that applies, in the same atomic reserve as any
 * window, after its candidate's quota; it settles at the real cost. So a budget is never exceeded by
 * concurrent calls, in memory and in Redis alike, as long as real costs stay within their estimates.
 *
 * A budget without room passes the candidate over (`passedOver` names the budget window), and every other
 * candidate it would refuse too (those whose estimate is not lower); when nothing is left the call fails
 * with QuotaExhaustedError, `retryAfterMs` the month's end (NoEligibleModelError when the estimate is larger
 * than the whole budget). A model without a price cannot be metered: it
 * is not a candidate of a budgeted workspace. `budgetWarning` fires once a month per budget at 80%.
 *
 * A caller may bring a budget of its own per call ({@link CallBudget}, `CallOptions.budget`: the gateway's
 * virtual keys): one more window of the same kind under a workspace name of the caller's, held and settled
 * with the others, over every workspace (like the router's). A candidate without a price cannot be held
 * in it and is passed over.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { Model } from '../catalog/types.js';
import type { Clock } from '../clock.js';
import { ConfigError, NoEligibleModelError, QuotaExhaustedError } from '../errors.js';
import type { QuotaCandidate, QuotaStore, Reservation, ReserveRequest, ReserveResult, WindowSpec } from '../quota/types.js';
import { monthIndex, monthStart } from '../quota/window.js';
import { MICRO_USD_PER_USD, exactMicroUsd, wholeMicroUsd, type Cost } from '../telemetry/cost.js';
import { pairKey } from './candidates.js';
import type { PassedOver } from './decision.js';
import type { RouterEventEmitter } from './events.js';
import type { CallState } from './failures.js';
import type { Prepared } from './prepare.js';

/** A monthly budget. */
export interface BudgetConfig {
  /** USD per calendar month (UTC); a whole number of micro-dollars is metered (the rest rounded down). */
  readonly monthlyUsd: number;
}

/** The router's own budget, over all its workspaces. */
export interface RouterBudgetConfig extends BudgetConfig {
  /** Routers sharing a store and this name share the budget. @default 'router' */
  readonly name?: string;
}

/** The window kind of a workspace's budget. */
export const WORKSPACE_BUDGET_KIND = 'usd-per-month';
/** The window kind of a router's budget. */
export const ROUTER_BUDGET_KIND = 'router-usd-per-month';
/** The share of a budget spent at which `budgetWarning` fires. */
export const BUDGET_WARNING_SHARE = 0.8;
/** How often (clock ms) a budget's spend is read from the store while it is below the warning. */
const CHECK_EVERY_MS = 1_000;

/** The largest budget whose micro-dollars a double holds exactly. */
export const MAX_MONTHLY_USD = Math.floor(Number.MAX_SAFE_INTEGER / MICRO_USD_PER_USD);

/** A budget option checked: a finite number of USD >= 0, else a ConfigError naming `field`. */
export function checkBudget(field: string, budget: unknown, router = false): void {
  if (budget === null || typeof budget !== 'object') throw new ConfigError(field, `expected { monthlyUsd${router ? ', name?' : ''} }`);
  const known = router ? ['monthlyUsd', 'name'] : ['monthlyUsd'];
  for (const key of Object.keys(budget)) if (!known.includes(key)) throw new ConfigError(`${field}.${key}`, `unknown field; known: ${known.join(', ')}`);
  const { monthlyUsd, name } = budget as { monthlyUsd?: unknown; name?: unknown };
  if (typeof monthlyUsd !== 'number' || !Number.isFinite(monthlyUsd) || monthlyUsd < 0 || monthlyUsd > MAX_MONTHLY_USD) {
    throw new ConfigError(`${field}.monthlyUsd`, `expected a finite number of USD from 0 to ${MAX_MONTHLY_USD}, received ${typeof monthlyUsd === 'string' ? JSON.stringify(monthlyUsd) : String(monthlyUsd)}`);
  }
  if (router && name !== undefined && (typeof name !== 'string' || name === '')) throw new ConfigError(`${field}.name`, 'expected a non-empty string');
}

/** Whose a budget is: a workspace's, the router's, or a caller's own (a {@link CallBudget}). */
export type BudgetScope = 'workspace' | 'router' | 'caller';

/** One budget: its window, as a candidate of its own, and what the warning knows of its spend. */
export interface Budget {
  readonly scope: BudgetScope;
  /** How errors name it ("the monthly budget of workspace team"). */
  readonly label: string;
  /** The workspace's name, or the router budget's name. */
  readonly name: string;
  readonly monthlyUsd: number;
  readonly candidate: QuotaCandidate;
  /** Month index of the fields below. */
  month: number;
  warned: boolean;
  /** The store's figure at the last check (micro-dollars), what was settled since, and when. */
  usedAtCheck: number;
  settledSince: number;
  checkedAt: number;
}

function budget(scope: BudgetScope, label: string, name: string, workspace: string, kind: string, monthlyUsd: number): Budget {
  const window: WindowSpec = { kind, unit: 'tokens', period: 'month', scope: 'workspace', limit: Math.floor(monthlyUsd * MICRO_USD_PER_USD) };
  return { scope, label, name, monthlyUsd, candidate: { workspace, model: '$budget', windows: [window] }, month: -1, warned: false, usedAtCheck: 0, settledSince: 0, checkedAt: Number.NEGATIVE_INFINITY };
}

/** Options of a {@link CallBudget}. */
export interface CallBudgetOptions {
  /** Its name in events (`budgetWarning.budget`). */
  readonly name: string;
  /** How error messages name it, e.g. `the monthly budget of gateway key "alpha"`. */
  readonly label: string;
  /** The pseudo-workspace its window lives under: callers sharing a store and this name share the budget. */
  readonly workspace: string;
  /** Its window kind (a name containing `usd`, so that telemetry reads it as money). */
  readonly kind: string;
  readonly monthlyUsd: number;
}

/** Each CallBudget's own state (kept off the public object). */
const CALL_BUDGETS = new WeakMap<CallBudget, Budget>();

/**
 * A monthly budget in USD of the caller's own, passed per call (`CallOptions.budget`) and held beside the
 * router's budgets: the gateway gives each call the budget of its virtual key. Create it once and reuse it
 * (it remembers whether its 80% warning was given this month).
 */
export class CallBudget {
  readonly name: string;
  readonly monthlyUsd: number;
  /** The window the budget is metered in (its workspace and kind identify it in a store's snapshot). */
  readonly workspace: string;
  readonly kind: string;

  constructor(options: CallBudgetOptions) {
    if (options === null || typeof options !== 'object') throw new ConfigError('budget', 'expected { name, label, workspace, kind, monthlyUsd }');
    for (const field of ['name', 'label', 'workspace', 'kind'] as const) {
      if (typeof options[field] !== 'string' || options[field] === '') throw new ConfigError(`budget.${field}`, 'expected a non-empty string');
    }
    if (!options.kind.includes('usd')) throw new ConfigError('budget.kind', `expected a window kind containing "usd", received ${JSON.stringify(options.kind)}`);
    checkBudget('budget', { monthlyUsd: options.monthlyUsd });
    this.name = options.name;
    this.monthlyUsd = options.monthlyUsd;
    this.workspace = options.workspace;
    this.kind = options.kind;
    CALL_BUDGETS.set(this, budget('caller', options.label, options.name, options.workspace, options.kind, options.monthlyUsd));
  }

  /** Whether `value` is a CallBudget (what `CallOptions.budget` must be). */
  static isInstance(value: unknown): value is CallBudget {
    return typeof value === 'object' && value !== null && CALL_BUDGETS.has(value as CallBudget);
  }
}

/** The budgets a call holds: settle at the call's real cost, or release. */
export interface BudgetHold {
  readonly reservations: readonly Reservation[];
  /** The budget of each reservation, in the same order. */
  readonly budgets: readonly Budget[];
}

/** What a budget reports in `router.usage()`. */
export interface BudgetReport {
  readonly scope: BudgetScope;
  readonly name: string;
  readonly monthlyUsd: number;
  /** Settled this month, fleet-wide (the store's figure), USD. */
  readonly spentUsd: number;
  /** Held by calls not settled yet, USD. */
  readonly heldUsd: number;
}

const EMPTY_HOLD: BudgetHold = Object.freeze({ reservations: [], budgets: [] });

export class Budgets {
  readonly #store: QuotaStore;
  readonly #clock: Clock;
  readonly #events: RouterEventEmitter;
  readonly #byWorkspace = new Map<string, Budget>();
  readonly #router: Budget | undefined;
  /**
   * The caller budgets calls have held, one per budget window (workspace + kind): what `report()` adds.
   * Keyed by window, not object, so a caller who builds a CallBudget per call does not grow it.
   */
  readonly #callers = new Map<string, Budget>();
  readonly #sync: boolean;

  constructor(store: QuotaStore, clock: Clock, events: RouterEventEmitter, workspaces: readonly { name: string; budgets?: BudgetConfig }[], router: RouterBudgetConfig | undefined) {
    this.#store = store;
    this.#clock = clock;
    this.#events = events;
    this.#sync = typeof store.reserveSync === 'function' && typeof store.settleSync === 'function';
    for (const w of workspaces) if (w.budgets !== undefined) this.#byWorkspace.set(w.name, budget('workspace', `the monthly budget of workspace ${w.name}`, w.name, w.name, WORKSPACE_BUDGET_KIND, w.budgets.monthlyUsd));
    const name = router?.name ?? 'router';
    this.#router = router === undefined ? undefined : budget('router', `the router's monthly budget "${name}"`, name, `$router:${name}`, ROUTER_BUDGET_KIND, router.monthlyUsd);
  }

  /** Whether any budget is configured (nothing else here runs otherwise). */
  get active(): boolean {
    return this.#router !== undefined || this.#byWorkspace.size > 0;
  }

  /** Whether the router has a budget of its own. */
  get routerWide(): boolean {
    return this.#router !== undefined;
  }

  /** Whether a call through `workspace` is metered by a budget (its models then need a price). */
  meters(workspace: string): boolean {
    return this.#router !== undefined || this.#byWorkspace.has(workspace);
  }

  #applying(workspace: string): Budget[] {
    const own = this.#byWorkspace.get(workspace);
    return own === undefined ? (this.#router === undefined ? [] : [this.#router]) : this.#router === undefined ? [own] : [own, this.#router];
  }

  /** The micro-dollars a prepared request holds on `model`; null when its price is unknown. */
  estimate(prepared: Prepared, model: Model | undefined): number | null {
    const { prompt, maxOutput } = prepared.plan.tokens;
    const exact = exactMicroUsd(model?.prices, prepared.endpoint, prompt, maxOutput);
    return exact === null ? null : wholeMicroUsd(exact);
  }

  async #reserve(request: ReserveRequest): Promise<ReserveResult> {
    return this.#sync ? (this.#store.reserveSync?.(request) as ReserveResult) : this.#store.reserve(request);
  }

  async #release(reservations: readonly Reservation[]): Promise<void> {
    for (const r of reservations) await (this.#sync ? this.#store.releaseSync?.(r) : this.#store.release(r));
  }

  /**
   * Hold the call's estimated cost in every budget of `reservation`'s workspace. Refused: `state` learns
   * which candidates the budget passes over (this one, and those of its scope whose estimate is not
   * lower), and the QuotaExhaustedError to throw when none is left; undefined is returned.
   */
  async hold(prepared: Prepared, catalog: Catalog, reservation: Reservation, state: CallState, own?: CallBudget): Promise<BudgetHold | undefined> {
    const applying = this.#applying(reservation.workspace);
    const caller = own === undefined ? undefined : (CALL_BUDGETS.get(own) as Budget);
    if (caller !== undefined) this.#callers.set(`${own?.workspace}\u0000${own?.kind}`, caller);
    const budgets = caller === undefined ? applying : [...applying, caller];
    if (budgets.length === 0) return EMPTY_HOLD;
    const cost = this.estimate(prepared, catalog.model(reservation.model)) ?? Number.POSITIVE_INFINITY;
    const held: Reservation[] = [];
    for (const b of budgets) {
      const result = Number.isFinite(cost) ? await this.#reserve({ candidates: [b.candidate], tokens: cost, requests: 0 }) : undefined;
      if (result?.ok) {
        held.push(result.reservation);
        continue;
      }
      await this.#release(held);
      // A budget renews at the month's end: a wait the store could not bound is that long.
      const monthEnd = monthStart(monthIndex(this.#clock.now()) + 1);
      const stored = result?.retryAfterMs;
      // Infinite: the estimate is larger than the whole budget, and no month's end lets it fit.
      const never = stored === undefined || !Number.isFinite(stored);
      const retryAfterMs = never ? Math.max(0, monthEnd - this.#clock.now()) : stored;
      const kind = (b.candidate.windows[0] as WindowSpec).kind;
      (state.budgetPassedOver ??= []).push({ workspace: reservation.workspace, model: reservation.model, windows: [kind], retryAfterMs: never ? null : retryAfterMs });
      // The budget refuses every candidate of its scope whose estimate is not lower: pass them over at once.
      for (const model of prepared.models) {
        if ((this.estimate(prepared, model) ?? Number.POSITIVE_INFINITY) < cost) continue;
        for (const workspace of b.scope === 'workspace' ? [reservation.workspace] : [...this.#workspaceNames(prepared)]) {
          (state.excluded ??= new Set()).add(pairKey(workspace, model.id));
        }
      }
      const spent = b.label;
      const what = Number.isFinite(cost) ? `estimated $${cost / MICRO_USD_PER_USD}` : 'its model has no price';
      state.lastError = never
        ? new NoEligibleModelError({ message: `${spent} ($${b.monthlyUsd}) can never hold this request (${what}): it is larger than the whole budget.`, plan: prepared.plan })
        : new QuotaExhaustedError(`${spent} ($${b.monthlyUsd}) has no room for this request (${what}); it renews at ${new Date(monthEnd).toISOString()}.`, retryAfterMs, prepared.plan);
      return undefined;
    }
    return { reservations: held, budgets };
  }

  #workspaceNames(prepared: Prepared): Set<string> {
    return new Set(prepared.plan.candidates.map((c) => c.workspace));
  }

  /** The call happened: each budget keeps its real cost (the estimate when the cost is unknown). */
  async settle(hold: BudgetHold, cost: Cost | null): Promise<void> {
    const real = cost?.usd === null || cost?.usd === undefined ? undefined : wholeMicroUsd(cost.usd * MICRO_USD_PER_USD);
    for (const [i, r] of hold.reservations.entries()) {
      const tokens = real ?? r.tokens;
      await (this.#sync ? this.#store.settleSync?.(r, tokens) : this.#store.settle(r, tokens));
      await this.#noteSpend(hold.budgets[i] as Budget, tokens);
    }
  }

  /** The call never reached Mistral (or failed there): the budgets get the estimate back. */
  release(hold: BudgetHold): Promise<void> {
    return this.#release(hold.reservations);
  }

  /** A budget crossing 80% this month is announced once; the store's figure is read at most once a second until then. */
  async #noteSpend(b: Budget, microUsd: number): Promise<void> {
    const now = this.#clock.now();
    const month = monthIndex(now);
    if (b.month !== month) Object.assign(b, { month, warned: false, usedAtCheck: 0, settledSince: 0, checkedAt: Number.NEGATIVE_INFINITY });
    if (b.warned) return;
    b.settledSince += microUsd;
    const limit = (b.candidate.windows[0] as WindowSpec).limit as number;
    const threshold = limit * BUDGET_WARNING_SHARE;
    if (b.usedAtCheck + b.settledSince < threshold && now - b.checkedAt < CHECK_EVERY_MS) return;
    const window = await this.#window(b);
    // Settled spend: what calls still hold may yet be given back.
    const used = window === undefined ? b.usedAtCheck + b.settledSince : window.used - window.held;
    Object.assign(b, { usedAtCheck: used, settledSince: 0, checkedAt: now });
    if (used >= threshold && limit > 0) {
      b.warned = true;
      this.#events.emit('budgetWarning', { scope: b.scope, budget: b.name, monthlyUsd: b.monthlyUsd, spentUsd: used / MICRO_USD_PER_USD, share: used / limit });
    }
  }

  async #window(b: Budget) {
    const kind = (b.candidate.windows[0] as WindowSpec).kind;
    return (await this.#store.snapshot(b.candidate.workspace)).find((w) => w.kind === kind && w.model === undefined);
  }

  /** Every budget with what the store holds for it this month: the configured ones, then each caller budget calls have held. */
  async report(): Promise<BudgetReport[]> {
    const all = [...this.#byWorkspace.values(), ...(this.#router === undefined ? [] : [this.#router]), ...this.#callers.values()];
    const reports: BudgetReport[] = [];
    for (const b of all) {
      const window = await this.#window(b);
      const held = window?.held ?? 0;
      reports.push({ scope: b.scope, name: b.name, monthlyUsd: b.monthlyUsd, spentUsd: ((window?.used ?? 0) - held) / MICRO_USD_PER_USD, heldUsd: held / MICRO_USD_PER_USD });
    }
    return reports;
  }
}
