/**
 * The words and numbers of a replay's summary, as rows (the command prints them as a text table) and
 * as a self-contained HTML page (inline CSS, inline SVG: no script, no CDN, no build step) with one
 * chart per model (chart.ts).
 */
import { CHART, escapeXml, modelChart } from './chart.js';
import type { ReplayResult } from './replay.js';
import type { ReplaySummary } from './summary.js';

/** What the report says the replay was (printed above the tables). */
export interface ReportContext {
  /** The trace file as given. */
  readonly trace: string;
  readonly speedup: number;
  readonly window: string;
  readonly charge: string;
  /** The workspaces, e.g. `team-a (free)`. */
  readonly workspaces: readonly string[];
  /** The default need, as JSON. */
  readonly need: string;
}

const count = (n: number) => n.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const share = (part: number, whole: number) => (whole > 0 ? `${((part / whole) * 100).toFixed(1)}%` : '-');

/** The totals table: one line per count. */
export function totalsRows(summary: ReplaySummary): string[][] {
  const failed = Object.entries(summary.failed);
  return [
    ['requests', count(summary.requests), `over ${(summary.virtualMs / 60_000).toFixed(2)} virtual minutes`],
    ['served', count(summary.served), share(summary.served, summary.requests)],
    ['waited', count(summary.waited.count), summary.waited.count === 0 ? 'none waited' : `for quota: p50 ${seconds(summary.waited.p50Ms)}, p99 ${seconds(summary.waited.p99Ms)} (virtual)`],
    ['refused', count(summary.refused), 'QuotaExhaustedError: no room within maxWaitMs'],
    ...(failed.length === 0 ? [] : [['failed', count(failed.reduce((sum, [, n]) => sum + n, 0)), failed.map(([code, n]) => `${n} ${code}`).join(', ')]]),
    ['fallbacks', count(summary.fallbacks), `served by another model than the first choice; ${count(summary.errorFallbacks)} attempts moved on after an upstream error`],
    ['upstream 429s', count(summary.upstream429s), `of ${count(summary.upstreamRequests)} upstream responses`],
  ];
}

export const MODEL_HEADER = ['model', 'served', 'tokens used', 'limit/min', 'used of allowed', 'peak used/min', 'peak needed/min', 'refused'] as const;

/** The per-model table: tokens used against the limit, and the peak minute the trace needed. */
export function modelRows(summary: ReplaySummary): string[][] {
  return summary.models.map((m) => [
    m.model,
    count(m.served),
    count(m.tokensUsed),
    m.limitPerMinute === null ? 'unmetered' : count(m.limitPerMinute),
    m.allowed === null ? '-' : `${share(m.tokensUsed, m.allowed)} of ${count(m.allowed)}`,
    count(m.peakUsedPerMinute),
    count(m.peakNeededPerMinute),
    count(m.refused),
  ]);
}

/** All models together (when there are several): the pool's tokens against the sum of the limits, and its peak minute. */
export function totalRow(summary: ReplaySummary): string[] | undefined {
  if (summary.models.length < 2) return undefined;
  const sum = (pick: (m: ReplaySummary['models'][number]) => number) => summary.models.reduce((total, m) => total + pick(m), 0);
  const perMinute = (pick: (m: ReplaySummary['models'][number]) => readonly number[]) => Math.max(0, ...Array.from({ length: summary.minutes }, (_, i) => sum((m) => pick(m)[i] ?? 0)));
  const metered = summary.models.every((m) => m.limitPerMinute !== null);
  const allowed = sum((m) => m.allowed ?? 0);
  return [
    'all models',
    count(sum((m) => m.served)),
    count(sum((m) => m.tokensUsed)),
    metered ? count(sum((m) => m.limitPerMinute ?? 0)) : 'unmetered',
    metered ? `${share(sum((m) => m.tokensUsed), allowed)} of ${count(allowed)}` : '-',
    count(perMinute((m) => m.usedPerMinute)),
    count(perMinute((m) => m.neededPerMinute)),
    count(summary.refused),
  ];
}

/** The per-model rows, and the total row when there are several models. */
export function modelTableRows(summary: ReplaySummary): string[][] {
  const total = totalRow(summary);
  return total === undefined ? modelRows(summary) : [...modelRows(summary), total];
}

function htmlTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const head = header.map((h) => `<th>${escapeXml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeXml(cell)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: ${CHART.width + 40}px; color: #1d2330; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; } th, td { padding: 3px 10px; text-align: left; border-bottom: 1px solid #dde; }
td:nth-child(n+2) { font-variant-numeric: tabular-nums; }
.meta { color: #556; } .legend span { margin-right: 1.2em; white-space: nowrap; }
.chart .axes line { stroke: #445; } .chart .tick, .chart .axis-label { font-size: 11px; fill: #445; }
.chart .used { fill: #5b8def; } .legend .used { background: #5b8def; } .chart .needed { stroke: #222; stroke-width: 1.5; stroke-dasharray: 4 3; }
.chart .limit { stroke: #d33; stroke-width: 2; } .chart .wait { fill: #f0a020; } .legend .wait { background: #f0a020; border-radius: 6px; }
.chart .refusal { fill: #c0282d; } .legend .refusal { background: #c0282d; clip-path: polygon(50% 0, 100% 100%, 0 100%); }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -1px; margin-right: 4px; }
.line { display: inline-block; width: 18px; height: 0; vertical-align: 3px; margin-right: 4px; border-top: 2px solid #d33; }
.line.needed { border-top: 2px dashed #222; }
`;

/** The whole report: context, both tables, a chart per model. */
export function reportHtml(summary: ReplaySummary, result: Pick<ReplayResult, 'wallMs'>, context: ReportContext): string {
  const charts = summary.models
    .map((m) => `<section class="model"><h2>${escapeXml(m.model)}</h2>\n<p class="meta">${escapeXml(`${count(m.tokensUsed)} tokens used in ${count(m.served)} calls; limit ${m.limitPerMinute === null ? 'unmetered' : `${count(m.limitPerMinute)} tokens/min`}; peak needed ${count(m.peakNeededPerMinute)} tokens/min; ${count(m.refused)} refused`)}</p>\n${modelChart(m)}</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(`mistral-router simulate: ${context.trace}`)}</title><style>${STYLE}</style></head>
<body>
<h1>mistral-router simulate</h1>
<p class="meta">${escapeXml(`trace ${context.trace}, speed-up x${context.speedup}, upstream ${context.window} windows charging ${context.charge}; workspaces ${context.workspaces.join(', ')}; need ${context.need}; replayed in ${seconds(result.wallMs)} of wall-clock time`)}</p>
${htmlTable(['', 'count', ''], totalsRows(summary))}
${htmlTable(MODEL_HEADER, modelTableRows(summary))}
<p class="legend"><span><i class="swatch used"></i>tokens served per minute</span><span><i class="line needed"></i>tokens needed (requests whose first choice it was)</span><span><i class="line"></i>limit</span><span><i class="swatch wait"></i>served after waiting</span><span><i class="swatch refusal"></i>refused</span></p>
${charts}
</body></html>
`;
}
