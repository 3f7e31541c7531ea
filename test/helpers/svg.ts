/** Reading the simulator's SVG charts back (test/simulate, test/cli): elements, attributes, and the check against a summary. */
import { expect } from 'chai';
import { CHART, type ReplaySummary } from '../../lib/simulate/index.js';

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

