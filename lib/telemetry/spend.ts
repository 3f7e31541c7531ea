/**
 * This process's spend per workspace and model in the current calendar month (UTC): what `router.usage()`
 * reports beside the budgets' fleet-wide figures. Counts every call that reported a usage; a call whose
 * price is unknown adds its tokens and counts as unpriced, never as $0.
 */
import { monthIndex, monthStart } from '../quota/window.js';
import type { Cost } from './cost.js';

/** The spend of one (workspace, model) this month. */
export interface SpendRow {
  readonly workspace: string;
  readonly model: string;
  /** Calls that reported a usage. */
  readonly calls: number;
  /** Of those, the calls whose price is unknown (not in `usd`). */
  readonly unpricedCalls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** USD of the priced calls. */
  readonly usd: number;
}

interface MutableRow {
  workspace: string;
  model: string;
  calls: number;
  unpricedCalls: number;
  inputTokens: number;
  outputTokens: number;
  usd: number;
}

export class SpendLedger {
  /** The current month, as [start, end) epoch ms: most calls compare against it, no Date built. */
  #from = Number.POSITIVE_INFINITY;
  #until = Number.NEGATIVE_INFINITY;
  /** Rows by workspace, then model. */
  readonly #rows = new Map<string, Map<string, MutableRow>>();

  /** A call at `at` (epoch ms) cost `cost`. A new month starts the ledger afresh. */
  record(at: number, workspace: string, model: string, cost: Pick<Cost, 'usd' | 'inputTokens' | 'outputTokens'>): void {
    this.#roll(at);
    let models = this.#rows.get(workspace);
    if (models === undefined) this.#rows.set(workspace, (models = new Map()));
    let row = models.get(model);
    if (row === undefined) models.set(model, (row = { workspace, model, calls: 0, unpricedCalls: 0, inputTokens: 0, outputTokens: 0, usd: 0 }));
    row.calls++;
    row.inputTokens += cost.inputTokens;
    row.outputTokens += cost.outputTokens;
    if (cost.usd === null) row.unpricedCalls++;
    else row.usd += cost.usd;
  }

  /** The month of `at`: its first instant and every row, by workspace then model. */
  report(at: number): { readonly month: string; readonly since: number; readonly spend: readonly SpendRow[] } {
    this.#roll(at);
    const since = monthStart(monthIndex(at));
    const spend = [...this.#rows.values()]
      .flatMap((models) => [...models.values()])
      .map((row) => Object.freeze({ ...row }))
      .sort((a, b) => a.workspace.localeCompare(b.workspace) || a.model.localeCompare(b.model));
    return { month: new Date(since).toISOString().slice(0, 7), since, spend };
  }

  #roll(at: number): void {
    if (at >= this.#from && at < this.#until) return;
    const month = monthIndex(at);
    this.#from = monthStart(month);
    this.#until = monthStart(month + 1);
    this.#rows.clear();
  }
}
