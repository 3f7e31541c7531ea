/**
 * One model's chart as SVG: a bar per minute of the tokens it served, the tokens its requests needed as
 * a line, its limit as a horizontal line, waits marked above the bars and refusals below the axis. Every
 * mark carries its value (`data-tokens`, `data-limit`, `data-count`) beside its geometry, so a test (or a
 * reader's script) can check the picture against the summary without reading pixels.
 */
import type { ModelSummary } from './summary.js';

/** The chart's size and plot box, in SVG user units. */
export const CHART = { width: 760, height: 280, left: 72, right: 16, top: 28, bottom: 44 } as const;

const PLOT_WIDTH = CHART.width - CHART.left - CHART.right;
const PLOT_HEIGHT = CHART.height - CHART.top - CHART.bottom;

/** `&`, `<`, `>`, `"` and `'` as entities: model names and labels go into text and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const round = (n: number) => Math.round(n * 100) / 100;

/** The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1). */
export function niceCeiling(value: number): number {
  if (!(value > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function format(n: number): string {
  return n >= 1e6 ? `${round(n / 1e6)}M` : n >= 1e3 ? `${round(n / 1e3)}k` : String(round(n));
}

/** The SVG of one model's minutes (see the module comment). */
export function modelChart(model: ModelSummary): string {
  const minutes = model.usedPerMinute.length;
  const yMax = niceCeiling(Math.max(model.limitPerMinute ?? 0, model.peakUsedPerMinute, model.peakNeededPerMinute) * 1.1);
  const barWidth = PLOT_WIDTH / Math.max(1, minutes);
  const x = (minute: number) => CHART.left + minute * barWidth;
  const y = (tokens: number) => CHART.top + PLOT_HEIGHT - (tokens / yMax) * PLOT_HEIGHT;
  const bottom = CHART.top + PLOT_HEIGHT;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${CHART.width} ${CHART.height}" width="${CHART.width}" height="${CHART.height}" data-model="${escapeXml(model.model)}" data-y-max="${yMax}" data-plot="${CHART.left} ${CHART.top} ${PLOT_WIDTH} ${PLOT_HEIGHT}" role="img" aria-label="${escapeXml(`${model.model}: tokens per minute`)}">`);
  parts.push(`<title>${escapeXml(`${model.model}: tokens per minute served (bars), needed (line) and the limit`)}</title>`);
  // Axes and the y ticks (0, half, top).
  parts.push(`<g class="axes"><line x1="${CHART.left}" y1="${bottom}" x2="${CHART.left + PLOT_WIDTH}" y2="${bottom}"/><line x1="${CHART.left}" y1="${CHART.top}" x2="${CHART.left}" y2="${bottom}"/>`);
  for (const tick of [0, yMax / 2, yMax]) parts.push(`<text class="tick" x="${CHART.left - 6}" y="${round(y(tick) + 4)}" text-anchor="end">${format(tick)}</text>`);
  const every = Math.max(1, Math.ceil(minutes / 12));
  for (let m = 0; m < minutes; m += every) parts.push(`<text class="tick" x="${round(x(m) + barWidth / 2)}" y="${bottom + 30}" text-anchor="middle">${m + 1}</text>`);
  parts.push(`<text class="axis-label" x="${CHART.left + PLOT_WIDTH / 2}" y="${CHART.height - 2}" text-anchor="middle">minute of the replay</text></g>`);
  parts.push('<g class="series-used">');
  model.usedPerMinute.forEach((tokens, m) => {
    parts.push(`<rect class="used" data-minute="${m}" data-tokens="${tokens}" x="${round(x(m) + barWidth * 0.1)}" y="${round(y(tokens))}" width="${round(barWidth * 0.8)}" height="${round(bottom - y(tokens))}"><title>minute ${m + 1}: ${tokens} tokens served</title></rect>`);
  });
  parts.push('</g>');
  const points = model.neededPerMinute.map((tokens, m) => `${round(x(m) + barWidth / 2)},${round(y(tokens))}`).join(' ');
  parts.push(`<polyline class="needed" data-values="${model.neededPerMinute.join(' ')}" points="${points}" fill="none"/>`);
  if (model.limitPerMinute !== null) {
    const at = round(y(model.limitPerMinute));
    parts.push(`<line class="limit" data-limit="${model.limitPerMinute}" x1="${CHART.left}" y1="${at}" x2="${CHART.left + PLOT_WIDTH}" y2="${at}"><title>limit: ${model.limitPerMinute} tokens per minute</title></line>`);
  }
  parts.push('<g class="marks">');
  model.waitsPerMinute.forEach((count, m) => {
    if (count > 0) parts.push(`<circle class="wait" data-minute="${m}" data-count="${count}" cx="${round(x(m) + barWidth / 2)}" cy="${CHART.top - 12}" r="${round(Math.min(8, 3 + Math.log2(count)))}"><title>minute ${m + 1}: ${count} served after waiting</title></circle>`);
  });
  model.refusalsPerMinute.forEach((count, m) => {
    if (count === 0) return;
    const cx = round(x(m) + barWidth / 2);
    const size = round(Math.min(8, 3 + Math.log2(count)));
    parts.push(`<path class="refusal" data-minute="${m}" data-count="${count}" d="M${cx},${bottom + 4} l${size},${round(size * 1.6)} h${-2 * size} z"><title>minute ${m + 1}: ${count} refused</title></path>`);
  });
  parts.push('</g></svg>');
  return parts.join('\n');
}
