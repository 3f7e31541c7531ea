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
  #month = Number.NaN;
  readonly #rows = new Map<string, MutableRow>();

  /** A call at `at` (epoch ms) cost `cost`. A new month starts the ledger afresh. */
  record(at: number, workspace: string, model: string, cost: Cost): void {
    this.#roll(at);
    const key = `${workspace}\u0000${model}`;
    let row = this.#rows.get(key);
    if (row === undefined) this.#rows.set(key, (row = { workspace, model, calls: 0, unpricedCalls: 0, inputTokens: 0, outputTokens: 0, usd: 0 }));
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
    const spend = [...this.#rows.values()].map((row) => Object.freeze({ ...row })).sort((a, b) => a.workspace.localeCompare(b.workspace) || a.model.localeCompare(b.model));
    return { month: new Date(since).toISOString().slice(0, 7), since, spend };
  }

  #roll(at: number): void {
    const month = monthIndex(at);
    if (month === this.#month) return;
    this.#month = month;
    this.#rows.clear();
  }
}
