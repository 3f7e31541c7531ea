/**
 * What a replay comes to: the counts of the summary table and, per model, the series the report's chart
 * draws. Pure: a function of the {@link ReplayResult}, so the table and the chart cannot disagree.
 *
 * Minutes are the replay's virtual minutes from its (minute-aligned) start, which are also the
 * emulator's fixed windows. A served call counts in the minute it was served (admitted and answered at
 * one instant of the replay's clock); a request's demand counts, against its first choice, in the
 * minute it arrived; a refusal is marked against its first choice in the minute it gave up.
 */
import type { CallRecord, ReplayResult } from './replay.js';

/** One model's line of the summary, and its chart's series. */
export interface ModelSummary {
  readonly model: string;
  /** Calls it served. */
  readonly served: number;
  /** Tokens its served calls used (their responses' usage). */
  readonly tokensUsed: number;
  /** Tokens per minute it may use (summed over workspaces); null: unmetered. */
  readonly limitPerMinute: number | null;
  /** `limitPerMinute` times the minutes of the replay; null: unmetered. */
  readonly allowed: number | null;
  /** Tokens it served per minute: `usedPerMinute[m]` for minute m (sums to `tokensUsed`). */
  readonly usedPerMinute: readonly number[];
  /** Tokens the requests whose first choice it was asked for, per minute of arrival. */
  readonly neededPerMinute: readonly number[];
  /** Most it served in one minute. */
  readonly peakUsedPerMinute: number;
  /** Most its requests needed in one minute. */
  readonly peakNeededPerMinute: number;
  /** Served calls that waited, per minute served. */
  readonly waitsPerMinute: readonly number[];
  /** Refusals of requests whose first choice it was, per minute. */
  readonly refusalsPerMinute: readonly number[];
  /** Refusals of requests whose first choice it was (sums `refusalsPerMinute`). */
  readonly refused: number;
}

/** The summary of a replay. */
export interface ReplaySummary {
  readonly requests: number;
  readonly served: number;
  /** Served after waiting for quota: how many, and the wait's p50/p99 (virtual ms; 0 when none waited). */
  readonly waited: { readonly count: number; readonly p50Ms: number; readonly p99Ms: number };
  /** QuotaExhaustedError: no candidate had room within maxWaitMs. */
  readonly refused: number;
  /** Other errors, by code. */
  readonly failed: Readonly<Record<string, number>>;
  /** Served by a model other than their first choice (the quota fallback, or after an upstream error). */
  readonly fallbacks: number;
  /** Attempts that failed upstream and moved on to another candidate (the router's `fallback` events). */
  readonly errorFallbacks: number;
  /** 429s the emulators answered, and the model-endpoint requests they received. */
  readonly upstream429s: number;
  readonly upstreamRequests: number;
  /** Whole minutes the replay covers (the chart's x axis). */
  readonly minutes: number;
  readonly virtualMs: number;
  readonly models: readonly ModelSummary[];
}

/** The `p`th percentile (0-100) of `values` by the nearest-rank method; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

const minuteOf = (ms: number) => Math.floor(ms / 60_000);

/** Summarise a replay (see the module comment for which minute each count goes to). */
export function summarise(result: ReplayResult): ReplaySummary {
  const { calls } = result;
  const virtualMs = calls.reduce((end, call) => Math.max(end, call.endedMs, call.arrivalMs), result.spanMs);
  const minutes = minuteOf(virtualMs) + 1;
  const served = calls.filter((call) => call.outcome === 'served');
  const waits = served.filter((call) => call.waitedMs > 0).map((call) => call.waitedMs);
  const failed: Record<string, number> = {};
  for (const call of calls) if (call.outcome === 'failed') failed[call.errorCode ?? 'UNKNOWN'] = (failed[call.errorCode ?? 'UNKNOWN'] ?? 0) + 1;
  const names = new Set<string>(Object.keys(result.limits));
  for (const call of calls) {
    if (call.model !== null) names.add(call.model);
    if (call.firstChoice !== null) names.add(call.firstChoice);
  }
  return {
    requests: calls.length,
    served: served.length,
    waited: { count: waits.length, p50Ms: percentile(waits, 50), p99Ms: percentile(waits, 99) },
    refused: calls.filter((call) => call.outcome === 'refused').length,
    failed,
    fallbacks: served.filter((call) => call.model !== call.firstChoice).length,
    errorFallbacks: result.errorFallbacks,
    upstream429s: result.emulator.responses['429'] ?? 0,
    upstreamRequests: Object.entries(result.emulator.responses).reduce((sum, [, n]) => sum + n, 0),
    minutes,
    virtualMs,
    models: [...names].sort().map((model) => modelSummary(model, calls, result.limits[model] ?? null, minutes)),
  };
}

function modelSummary(model: string, calls: readonly CallRecord[], limitPerMinute: number | null, minutes: number): ModelSummary {
  const used = new Array<number>(minutes).fill(0);
  const needed = new Array<number>(minutes).fill(0);
  const waits = new Array<number>(minutes).fill(0);
  const refusals = new Array<number>(minutes).fill(0);
  let servedCount = 0;
  let tokensUsed = 0;
  let refused = 0;
  for (const call of calls) {
    if (call.model === model) {
      servedCount++;
      tokensUsed += call.tokensUsed;
      const m = minuteOf(call.endedMs);
      used[m] = (used[m] as number) + call.tokensUsed;
      if (call.waitedMs > 0) waits[m] = (waits[m] as number) + 1;
    }
    if (call.firstChoice === model) {
      const m = minuteOf(call.arrivalMs);
      needed[m] = (needed[m] as number) + call.demandTokens;
      if (call.outcome === 'refused') {
        refused++;
        const at = minuteOf(call.endedMs);
        refusals[at] = (refusals[at] as number) + 1;
      }
    }
  }
  return {
    model,
    served: servedCount,
    tokensUsed,
    limitPerMinute,
    allowed: limitPerMinute === null ? null : limitPerMinute * minutes,
    usedPerMinute: used,
    neededPerMinute: needed,
    peakUsedPerMinute: Math.max(0, ...used),
    peakNeededPerMinute: Math.max(0, ...needed),
    waitsPerMinute: waits,
    refusalsPerMinute: refusals,
    refused,
  };
}
