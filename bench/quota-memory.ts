/**
 * Memory-store benchmark: reserve + settle latency for 1, 100 and 10,000 (workspace, model) pairs,
 * against a bare Map get/set measured in the same run, and resident memory per window at two request
 * rates (it must not depend on the rate: the windows are fixed sub-buckets).
 *
 * Access pattern: every pair's windows exist before timing (a router in steady state), then each
 * operation picks a pair at random (a fixed pseudo-random sequence), so with 10,000 pairs (20,100
 * windows) almost every call touches windows that are not in cache. The sequential sweep (pair i % n)
 * is kept as a second row for comparison with earlier figures.
 *
 * Run: `node dist/bench/quota-memory.js` (gc is exposed from inside the script when the flag is absent).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FakeClock, systemClock } from '../lib/clock.js';
import { MemoryStore } from '../lib/quota/memory/index.js';
import { WINDOW_KINDS, type QuotaCandidate, type ReserveRequest, type WindowSpec } from '../lib/quota/types.js';
import { windowStride } from '../lib/quota/window.js';
import { report, timeAsync, timeSync } from './stats.js';

/** A full GC if we can get one: memory deltas without it measure the collector's timing, not the store. */
function collector(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing !== undefined) return existing;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  return gc ?? (() => {});
}
const gc = collector();

/** Limits so high that every reserve is admitted: the benchmark measures bookkeeping, not refusals. */
function windowsOf(): WindowSpec[] {
  return [
    { ...WINDOW_KINDS.requestsPerSecond, limit: 1e12 },
    { ...WINDOW_KINDS.tokensPerMinute, limit: 1e15 },
    { ...WINDOW_KINDS.tokensPerMonth, limit: 1e15 },
  ];
}

/** `pairs` (workspace, model) pairs over about sqrt(pairs) workspaces, one request object per pair. */
function requestsFor(pairs: number): ReserveRequest[] {
  const workspaces = Math.max(1, Math.round(Math.sqrt(pairs)));
  return Array.from({ length: pairs }, (_, i) => {
    const candidate: QuotaCandidate = { workspace: `ws-${i % workspaces}`, model: `model-${i}`, windows: windowsOf() };
    return { candidates: [candidate], tokens: 1200 };
  });
}

/** A fixed pseudo-random sequence of pair indices (xorshift32), so runs are comparable. */
function randomPairs(pairs: number, length = 1 << 20): Uint32Array {
  const out = new Uint32Array(length);
  let x = 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) % pairs;
  }
  return out;
}

/** Create every pair's windows before timing: the benchmark measures the steady state, not first use. */
function warm(store: MemoryStore, requests: readonly ReserveRequest[]): void {
  for (const request of requests) {
    const result = store.reserveSync(request);
    if (result.ok) store.settleSync(result.reservation, 900);
  }
}

function latency(): void {
  console.log('\nreserve + settle, memory store, system clock (per operation, batches of 100; pairs created before timing)');
  const map = new Map<string, number>();
  const keys = Array.from({ length: 10_000 }, (_, i) => `ws-${i % 100}\u0000model-${i}\u0000tokens-per-minute`);
  const baseline = timeSync((i) => {
    const key = keys[i % keys.length] as string;
    map.set(key, (map.get(key) ?? 0) + 1);
  }, { batches: 2000 });
  report('baseline: bare Map get + set (10,000 keys)', baseline);
  for (const pairs of [1, 100, 10_000]) {
    const store = new MemoryStore({ clock: systemClock });
    const requests = requestsFor(pairs);
    warm(store, requests);
    const order = randomPairs(pairs);
    const mask = order.length - 1;
    const random = timeSync((i) => {
      const result = store.reserveSync(requests[order[i & mask] as number] as ReserveRequest);
      if (result.ok) store.settleSync(result.reservation, 900);
    }, { batches: 5000 });
    report(`reserveSync + settleSync, ${pairs.toLocaleString('en-US')} pairs, random`, random, `×${(random.medianUs / baseline.medianUs).toFixed(1)} baseline`);
    if (pairs === 1) continue;
    const sequential = timeSync((i) => {
      const result = store.reserveSync(requests[i % pairs] as ReserveRequest);
      if (result.ok) store.settleSync(result.reservation, 900);
    }, { batches: 2000 });
    report(`reserveSync + settleSync, ${pairs.toLocaleString('en-US')} pairs, sequential`, sequential, `×${(sequential.medianUs / baseline.medianUs).toFixed(1)} baseline`);
  }
}

async function latencyAsync(): Promise<void> {
  for (const pairs of [1, 100, 10_000]) {
    const store = new MemoryStore({ clock: systemClock });
    const requests = requestsFor(pairs);
    warm(store, requests);
    const order = randomPairs(pairs);
    const mask = order.length - 1;
    const timing = await timeAsync(async (i) => {
      const result = await store.reserve(requests[order[i & mask] as number] as ReserveRequest);
      if (result.ok) await store.settle(result.reservation, 900);
    }, { batches: 1000 });
    report(`await reserve + settle (QuotaStore API), ${pairs.toLocaleString('en-US')} pairs, random`, timing);
  }
}

/**
 * Bytes per window after `windows` minute windows each took `perWindow` reserve+settle spread over a
 * minute of fake time. Measured as heap + external (ArrayBuffers) and as RSS. The request objects are
 * built before the first measurement: what is counted is the store's (window state, key, LRU entry,
 * slab run, the candidate's cached lookup).
 */
function memoryPerWindow(windows: number, perWindow: number): { heapAndExternal: number; rss: number } {
  const clock = new FakeClock(Date.UTC(2026, 2, 10, 12));
  const requests = Array.from({ length: windows }, (_, i): ReserveRequest => ({
    candidates: [{ workspace: `ws-${i % 100}`, model: `model-${i}`, windows: [{ ...WINDOW_KINDS.tokensPerMinute, limit: 1e15 }] }],
    tokens: 100,
  }));
  gc();
  gc();
  const before = process.memoryUsage();
  const store = new MemoryStore({ clock, maxWindows: windows * 2 });
  const step = Math.max(1, Math.floor(60_000 / perWindow));
  for (let round = 0; round < perWindow; round++) {
    for (const request of requests) {
      const result = store.reserveSync(request);
      if (result.ok) store.settleSync(result.reservation, 80);
    }
    clock.advance(step);
  }
  gc();
  gc();
  const after = process.memoryUsage();
  if (store.windowCount !== windows) throw new Error(`expected ${windows} windows, store holds ${store.windowCount}`);
  const heapAndExternal = (after.heapUsed + after.external - before.heapUsed - before.external) / windows;
  const rss = (after.rss - before.rss) / windows;
  // Keep the store and the requests alive until measured.
  void store.windowCount;
  void requests.length;
  return { heapAndExternal, rss };
}

function memory(): void {
  console.log(`\nmemory per tokens-per-minute window (61 sub-buckets; its slab run is ${windowStride('minute') * 8} B), store only`);
  const rows: [string, number, number][] = [
    ['100,000 windows, 1 request per window per minute', 100_000, 1],
    ['20,000 windows, 1 request per window per minute', 20_000, 1],
    ['20,000 windows, 120 requests per window per minute', 20_000, 120],
    ['20,000 windows, 1,200 requests per window per minute', 20_000, 1200],
  ];
  const byRate = new Map<number, number>();
  for (const [label, windows, rate] of rows) {
    const { heapAndExternal, rss } = memoryPerWindow(windows, rate);
    if (windows === 20_000) byRate.set(rate, heapAndExternal);
    console.log(`${label.padEnd(58)} heap+external ${heapAndExternal.toFixed(0).padStart(6)} B/window   rss ${rss.toFixed(0).padStart(6)} B/window`);
  }
  const low = byRate.get(1) as number;
  const high = byRate.get(1200) as number;
  console.log(`rate independence: 1,200 vs 1 request per window per minute: ${(high - low >= 0 ? '+' : '') + (high - low).toFixed(0)} B/window (${((100 * (high - low)) / low).toFixed(1)}%)`);
}

latency();
await latencyAsync();
memory();
