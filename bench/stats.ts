/**
 * Small helpers shared by the benchmarks: timing loops, medians and percentiles, and a uniform report.
 * Benchmarks report medians and ratios against a baseline measured in the same process, never absolute
 * pass/fail thresholds.
 */
import { performance } from 'node:perf_hooks';

/** Percentile (0..100) of a sample, by nearest rank on a sorted copy. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(sample: readonly number[]): number {
  return percentile(sample, 50);
}

export interface TimingSummary {
  readonly samples: number;
  /** Per-operation time, in microseconds. */
  readonly medianUs: number;
  readonly p99Us: number;
  readonly opsPerSecond: number;
}

/**
 * Time `operation` in batches of `batchSize` calls, `batches` times (after `warmupBatches` untimed
 * batches). Per-operation times are batch time / batch size, so timer resolution does not dominate.
 */
export function timeSync(
  operation: (i: number) => void,
  { batches = 200, batchSize = 100, warmupBatches = 20 }: { batches?: number; batchSize?: number; warmupBatches?: number } = {},
): TimingSummary {
  let i = 0;
  for (let b = 0; b < warmupBatches; b++) for (let j = 0; j < batchSize; j++) operation(i++);
  const perOp: number[] = [];
  const start = performance.now();
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let j = 0; j < batchSize; j++) operation(i++);
    perOp.push(((performance.now() - t0) * 1000) / batchSize);
  }
  const totalMs = performance.now() - start;
  return summarise(perOp, (batches * batchSize * 1000) / totalMs);
}

/** Like timeSync for async operations, awaited one after another. */
export async function timeAsync(
  operation: (i: number) => Promise<unknown>,
  { batches = 200, batchSize = 50, warmupBatches = 10 }: { batches?: number; batchSize?: number; warmupBatches?: number } = {},
): Promise<TimingSummary> {
  let i = 0;
  for (let b = 0; b < warmupBatches; b++) for (let j = 0; j < batchSize; j++) await operation(i++);
  const perOp: number[] = [];
  const start = performance.now();
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let j = 0; j < batchSize; j++) await operation(i++);
    perOp.push(((performance.now() - t0) * 1000) / batchSize);
  }
  const totalMs = performance.now() - start;
  return summarise(perOp, (batches * batchSize * 1000) / totalMs);
}

/** Time single async operations one by one (for latency percentiles of I/O calls). */
export async function latencies(operation: (i: number) => Promise<unknown>, count: number, warmup = 100): Promise<TimingSummary> {
  for (let i = 0; i < warmup; i++) await operation(i);
  const sample: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await operation(warmup + i);
    sample.push((performance.now() - t0) * 1000);
  }
  const totalMs = performance.now() - start;
  return summarise(sample, (count * 1000) / totalMs);
}

export function summarise(perOpUs: readonly number[], opsPerSecond: number): TimingSummary {
  return { samples: perOpUs.length, medianUs: median(perOpUs), p99Us: percentile(perOpUs, 99), opsPerSecond };
}

/** Print one line of a benchmark table. */
export function report(name: string, summary: TimingSummary, extra = ''): void {
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(3));
  console.log(
    `${name.padEnd(58)} median ${fmt(summary.medianUs).padStart(8)} µs  p99 ${fmt(summary.p99Us).padStart(8)} µs  ${Math.round(summary.opsPerSecond).toLocaleString('en-US').padStart(11)} ops/s${extra ? `  ${extra}` : ''}`,
  );
}
