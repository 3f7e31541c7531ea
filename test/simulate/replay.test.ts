import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../../lib/catalog/index.js';
import { CHART, loadWorkspaceFile, readTrace, replay, reportHtml, summarise, type ReplayResult, type ReplaySummary } from '../../lib/simulate/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));

/** The elements of an SVG with their attributes (the report's SVG is ours: flat, quoted attributes). */
export function svgElements(svg: string, tag: string, className?: string): Record<string, string>[] {
  const found: Record<string, string>[] = [];
  for (const match of svg.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))) {
    const attributes: Record<string, string> = {};
    for (const [, name, value] of (match[1] as string).matchAll(/([\w:-]+)="([^"]*)"/g)) attributes[name as string] = value as string;
    if (className === undefined || attributes.class === className) found.push(attributes);
  }
  return found;
}

/** Each model's chart in a report, by its data-model. */
export function chartsOf(html: string): Map<string, string> {
  const charts = new Map<string, string>();
  for (const match of html.matchAll(/<svg\b[^>]*data-model="([^"]+)"[\s\S]*?<\/svg>/g)) charts.set(match[1] as string, match[0]);
  return charts;
}

/** The report's SVG series read back, checked against the summary (the chart test, shared with the CLI test). */
export function checkCharts(html: string, summary: ReplaySummary): void {
  const charts = chartsOf(html);
  expect([...charts.keys()]).to.deep.equal(summary.models.map((m) => m.model));
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  for (const model of summary.models) {
    const svg = charts.get(model.model) as string;
    const yMax = Number(svgElements(svg, 'svg')[0]?.['data-y-max']);
    const toY = (tokens: number) => CHART.top + plotHeight - (tokens / yMax) * plotHeight;
    const bars = svgElements(svg, 'rect', 'used');
    expect(bars.map((b) => Number(b['data-tokens']))).to.deep.equal(model.usedPerMinute);
    expect(bars.reduce((sum, b) => sum + Number(b['data-tokens']), 0)).to.equal(model.tokensUsed);
    for (const bar of bars) {
      expect(Number(bar.height)).to.be.closeTo((Number(bar['data-tokens']) / yMax) * plotHeight, 0.01);
      expect(Number(bar.y)).to.be.closeTo(toY(Number(bar['data-tokens'])), 0.01);
    }
    const limits = svgElements(svg, 'line', 'limit');
    if (model.limitPerMinute === null) expect(limits).to.have.length(0);
    else {
      expect(limits).to.have.length(1);
      expect(Number(limits[0]?.['data-limit'])).to.equal(model.limitPerMinute);
      expect(Number(limits[0]?.y1)).to.be.closeTo(toY(model.limitPerMinute), 0.01);
      expect(limits[0]?.y2).to.equal(limits[0]?.y1);
    }
    const needed = svgElements(svg, 'polyline', 'needed')[0] as Record<string, string>;
    const ys = (needed.points as string).split(' ').map((p) => Number(p.split(',')[1]));
    expect(ys).to.have.length(model.neededPerMinute.length);
    ys.forEach((y, m) => expect(y).to.be.closeTo(toY(model.neededPerMinute[m] as number), 0.01));
    const count = (cls: string) => svgElements(svg, cls === 'wait' ? 'circle' : 'path', cls).reduce((sum, e) => sum + Number(e['data-count']), 0);
    expect(count('refusal')).to.equal(model.refused);
    expect(count('wait')).to.equal(model.waitsPerMinute.reduce((a, b) => a + b, 0));
  }
  const refusals = [...charts.values()].reduce((sum, svg) => sum + svgElements(svg, 'path', 'refusal').reduce((s, e) => s + Number(e['data-count']), 0), 0);
  expect(refusals).to.equal(summary.refused);
}

describe('simulate: a small replay through the router against the emulator', function () {
  const catalog = loadCatalog();
  const requests = readTrace(fixture('simulate-trace.jsonl')).requests;
  const workspaces = loadWorkspaceFile(fixture('simulate-workspaces.yaml'), catalog);
  const run = (upstream: { window: 'fixed' | 'sliding'; charge: 'max-tokens' | 'usage' }) =>
    replay({ requests, catalog, workspaces, upstream, need: { family: ['ministral-3b', 'ministral-8b'] }, maxWaitMs: 20_000, start: Date.UTC(2026, 11, 7, 9, 0, 30) });

  let fixed: ReplayResult;
  let summary: ReplaySummary;
  before(async () => {
    fixed = await run({ window: 'fixed', charge: 'max-tokens' });
    summary = summarise(fixed);
  });

  it('serves, falls back, waits and refuses exactly as the limits allow (fixed windows, prompt + max_tokens)', () => {
    // Minute 1: 3b takes five 2,000-token calls (10,000), 8b two (4,000 of 5,000), the next three are refused
    // (the windows reset 53 s later, beyond maxWaitMs); the calls at 45 s and 50 s wait into minute 2; the
    // 20,100-token one fits no limit; minute 2 serves the rest, the last by its own need on 8b.
    expect(fixed.start).to.equal(Date.UTC(2026, 11, 7, 9, 0));
    expect(summary).to.deep.include({ requests: 17, served: 13, refused: 3, failed: { NO_ELIGIBLE_MODEL: 1 }, fallbacks: 2, errorFallbacks: 0, upstream429s: 0, upstreamRequests: 13, minutes: 2 });
    expect(summary.waited.count).to.equal(2);
    expect(fixed.calls.filter((c) => c.waitedMs > 0).map((c) => [c.line, c.model])).to.deep.equal([[11, 'ministral-3b-2512'], [12, 'ministral-3b-2512']]);
    expect(fixed.calls.filter((c) => c.outcome === 'refused').map((c) => c.line)).to.deep.equal([8, 9, 10]);
    const [small, large] = summary.models;
    expect(small).to.deep.include({ model: 'ministral-3b-2512', served: 10, tokensUsed: 16_250, limitPerMinute: 10_000, allowed: 20_000, usedPerMinute: [10_000, 6_250], neededPerMinute: [44_100, 2_250], peakNeededPerMinute: 44_100, refused: 3 });
    expect(large).to.deep.include({ model: 'ministral-8b-2512', served: 3, tokensUsed: 5_000, limitPerMinute: 5_000, usedPerMinute: [4_000, 1_000], neededPerMinute: [0, 1_000], refused: 0 });
    expect(fixed.pendingReservations).to.equal(0);
  });

  it("counts the tokens the emulator charged, and every arrival on the replay's clock", () => {
    for (const model of summary.models) expect(fixed.emulator.tokens[model.model]?.totalTokens).to.equal(model.tokensUsed);
    expect(fixed.calls.map((c) => c.arrivalMs)).to.deep.equal(requests.map((r) => r.at));
    expect(fixed.calls.filter((c) => c.outcome === 'served' && c.waitedMs === 0).every((c) => c.endedMs === c.arrivalMs)).to.equal(true);
  });

  it("draws each model's series as the summary counts them (SVG bars, limit line, refusal and wait marks)", () => {
    const html = reportHtml(summary, fixed, { trace: 'simulate-trace.jsonl', speedup: 1, window: 'fixed', charge: 'max-tokens', workspaces: ['solo (free)'], need: '{}' });
    expect(html).to.not.match(/<script|https?:\/\/(?!www\.w3\.org)/); // self-contained: no script, no CDN
    checkCharts(html, summary);
  });

  it('on a sliding log charging usage after the fact, admits what that upstream admits', async () => {
    const sliding = summarise(await run({ window: 'sliding', charge: 'usage' }));
    // The upstream admits while the prompt fits and charges the usage afterwards: 8b takes a third call.
    expect(sliding).to.deep.include({ served: 14, refused: 2, fallbacks: 3, upstream429s: 0 });
    expect(sliding.models[1]?.usedPerMinute).to.deep.equal([6_000, 1_000]);
  });
});
