/**
 * What the router keeps of each call's cost: this process's spend per workspace and model this month
 * (`router.usage()`), and the monthly budgets (budgets.ts) each call holds its estimate in and settles at
 * its real cost. A store failure while settling a budget is a `storeError` event, never the call's error.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { Clock } from '../clock.js';
import type { QuotaStore, Reservation } from '../quota/types.js';
import type { Endpoint } from '../need.js';
import { MICRO_USD_PER_USD, exactMicroUsd, splitUsage, type Cost, type UsageCounts } from '../telemetry/cost.js';
import { SpendLedger, type SpendRow } from '../telemetry/spend.js';
import type { BudgetHold, BudgetReport, Budgets, CallBudget } from './budgets.js';
import type { CallState } from './failures.js';
import type { Learning } from './learning.js';
import type { Prepared } from './prepare.js';

/** What `router.usage()` answers. */
export interface UsageReport {
  /** The calendar month (UTC), `YYYY-MM`, of the router's clock. */
  readonly month: string;
  /** Epoch ms of its first instant. */
  readonly since: number;
  /** This process's calls this month, per workspace and model. */
  readonly spend: readonly SpendRow[];
  /** Every configured budget, with the store's figures (shared by every router on the store). */
  readonly budgets: readonly BudgetReport[];
}

export class Accounting {
  readonly budgets: Budgets;
  readonly #ledger = new SpendLedger();
  readonly #store: QuotaStore;
  readonly #clock: Clock;
  readonly #learning: Learning;
  readonly #catalog: () => Catalog;
  /** Quota given back: the wait queue may serve a waiter now. */
  readonly #returned: () => void;

  constructor(budgets: Budgets, store: QuotaStore, clock: Clock, learning: Learning, catalog: () => Catalog, returned: () => void) {
    this.budgets = budgets;
    this.#returned = returned;
    this.#store = store;
    this.#clock = clock;
    this.#learning = learning;
    this.#catalog = catalog;
  }

  /** Whether a call with `own` budget (its CallOptions.budget) holds anything: nothing else runs otherwise. */
  budgeted(own: CallBudget | undefined): boolean {
    return own !== undefined || this.budgets.active;
  }

  /**
   * Hold the call's estimate in its budgets (the router's, its workspace's, and `own`, the caller's), after its quota `reservation`. Refused: the reservation is
   * given back, `state` knows what to pass over next, and undefined is returned. A store failure gives
   * the reservation back too, then throws.
   */
  async hold(prepared: Prepared, reservation: Reservation, state: CallState, own?: CallBudget): Promise<BudgetHold | undefined> {
    let hold: BudgetHold | undefined;
    try {
      hold = await this.budgets.hold(prepared, this.#catalog(), reservation, state, own);
    } catch (error) {
      await this.#learning.bookkeeping('release', () => this.#store.release(reservation));
      this.#returned();
      throw error;
    }
    if (hold === undefined) {
      await this.#learning.bookkeeping('release', () => this.#store.release(reservation));
      this.#returned();
    }
    return hold;
  }

  /** The call happened and cost `cost` (null: unknown): counted, and its budgets settled. */
  spent(hold: BudgetHold | undefined, reservation: Reservation, cost: Cost | null): Promise<void> | undefined {
    if (cost !== null) this.#ledger.record(this.#clock.now(), reservation.workspace, reservation.model, cost);
    if (hold === undefined || hold.reservations.length === 0) return undefined;
    return this.#learning.bookkeeping('settle', () => this.budgets.settle(hold, cost));
  }

  /**
   * {@link Accounting.spent} of a call that held no budget, from its usage: the same figures in the spend
   * ledger, without the `Cost` object a decision shows (a lease's settle needs none).
   */
  spentUnbudgeted(reservation: Reservation, endpoint: Endpoint, usage: UsageCounts | undefined): void {
    const split = splitUsage(usage, endpoint);
    if (split === undefined) return;
    const micro = exactMicroUsd(this.#catalog().model(reservation.model)?.prices, endpoint, split.input, split.output);
    this.#ledger.record(this.#clock.now(), reservation.workspace, reservation.model, { usd: micro === null ? null : micro / MICRO_USD_PER_USD, inputTokens: split.input, outputTokens: split.output });
  }

  /** The call did not happen (or failed): its budgets get their estimate back. */
  release(hold: BudgetHold | undefined): Promise<void> | undefined {
    if (hold === undefined || hold.reservations.length === 0) return undefined;
    return this.#learning.bookkeeping('release', () => this.budgets.release(hold));
  }

  async usage(): Promise<UsageReport> {
    const { month, since, spend } = this.#ledger.report(this.#clock.now());
    return { month, since, spend, budgets: await this.budgets.report() };
  }
}
