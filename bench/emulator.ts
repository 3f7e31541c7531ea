/**
 * Emulator throughput: requests per second served with no latency configured, against a bare node:http
 * server answering a fixed JSON body in the same run (the ceiling of node:http on this machine).
 *
 * The client runs in a worker thread (its own event loop and core) with keep-alive connections and a fixed
 * number of pipelined requests in flight on raw sockets, so the server's event loop is what is measured. Each scenario runs
 * `--rounds` times, interleaved with the others; the median is reported, with its ratio to the baseline.
 *
 *   node dist/bench/emulator.js [--seconds 2] [--concurrency 16] [--rounds 5]
 */
import { createServer } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { startEmulator } from '../lib/emulator/index.js';
import { median } from './stats.js';

/** Requests each connection keeps in flight. */
const PIPELINE = 4;

interface LoadSpec {
  readonly url: string;
  readonly path: string;
  readonly body: string;
  readonly durationMs: number;
  readonly concurrency: number;
}

interface LoadResult {
  readonly completed: number;
  readonly seconds: number;
  readonly statuses: Record<string, number>;
}

/**
 * The worker side: `concurrency` keep-alive connections, each with `PIPELINE` requests in flight
 * (HTTP/1.1 pipelining, which node:http serves in order). Raw sockets instead of an HTTP client: with two
 * cores, a full client costs more CPU than the server it measures, and the run would time the client.
 * Responses are counted by their status lines.
 */
async function generateLoad(spec: LoadSpec): Promise<LoadResult> {
  const target = new URL(spec.url);
  const raw = Buffer.from(
    `POST ${spec.path} HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: Bearer bench\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(spec.body)}\r\n\r\n${spec.body}`,
  );
  const statuses: Record<string, number> = {};
  let completed = 0;
  const start = performance.now();
  const deadline = start + spec.durationMs;
  const marker = 'HTTP/1.1 ';
  const lane = () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect(Number(target.port), target.hostname);
      let inFlight = 0;
      let tail = '';
      const send = (count: number) => {
        if (count <= 0) return;
        inFlight += count;
        socket.write(count === 1 ? raw : Buffer.concat(Array.from({ length: count }, () => raw)));
      };
      socket.setNoDelay(true);
      socket.on('connect', () => send(PIPELINE));
      socket.on('data', (chunk: Buffer) => {
        // Keep the end of the previous chunk: a status line may straddle two chunks. A marker in that tail is
        // never one already counted (a counted one needs 3 digits after it, 12 characters > the 11 kept).
        const text = tail + chunk.toString('latin1');
        let answered = 0;
        for (let at = text.indexOf(marker); at >= 0 && at + marker.length + 3 <= text.length; at = text.indexOf(marker, at + 1)) {
          const status = text.slice(at + marker.length, at + marker.length + 3);
          statuses[status] = (statuses[status] ?? 0) + 1;
          answered++;
        }
        tail = text.slice(-(marker.length + 2));
        completed += answered;
        inFlight -= answered;
        if (performance.now() < deadline) send(answered);
        else if (inFlight === 0) socket.end();
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
  await Promise.all(Array.from({ length: spec.concurrency }, lane));
  const seconds = (performance.now() - start) / 1000;
  return { completed, seconds, statuses };
}

function runWorker(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: spec });
    worker.once('message', (result: LoadResult) => resolve(result));
    worker.once('error', reject);
  });
}

interface Scenario {
  readonly name: string;
  readonly spec: Omit<LoadSpec, 'durationMs' | 'concurrency'>;
}

/**
 * Run every scenario once per round, interleaved, so that the baseline and the emulator see the same
 * background load (this machine is shared); report each scenario's median and its ratio to the baseline.
 */
async function measureAll(scenarios: readonly Scenario[], durationMs: number, concurrency: number, rounds: number): Promise<void> {
  const rates = scenarios.map(() => [] as number[]);
  const statuses = scenarios.map(() => ({}) as Record<string, number>);
  // A short untimed round first: JIT and connection setup are not what is measured.
  for (const scenario of scenarios) await runWorker({ ...scenario.spec, durationMs: Math.min(500, durationMs), concurrency });
  for (let round = 0; round < rounds; round++) {
    for (const [index, scenario] of scenarios.entries()) {
      const result = await runWorker({ ...scenario.spec, durationMs, concurrency });
      rates[index]?.push(result.completed / result.seconds);
      statuses[index] = result.statuses;
    }
  }
  const baseline = median(rates[0] ?? []);
  for (const [index, scenario] of scenarios.entries()) {
    const sample = rates[index] ?? [];
    const rate = median(sample);
    const ratio = index === 0 ? '' : `  ${((rate / baseline) * 100).toFixed(0)}% of baseline`;
    console.log(
      `${scenario.name.padEnd(50)} ${Math.round(rate).toLocaleString('en-US').padStart(8)} req/s  (runs ${sample.map((r) => Math.round(r)).join(', ')})${ratio}  last run ${JSON.stringify(statuses[index])}`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, concurrency: { type: 'string', default: '16' }, rounds: { type: 'string', default: '5' } } });
  const durationMs = Number(values.seconds) * 1000;
  const concurrency = Number(values.concurrency);
  const rounds = Number(values.rounds);
  console.log(`emulator throughput: ${concurrency} requests in flight, ${values.seconds}s per run, ${rounds} rounds (median), client in a worker thread, node ${process.version}`);

  const fixed = JSON.stringify({ id: 'cmpl-1', object: 'chat.completion', model: 'm', created: 0, choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(fixed) });
      res.end(fixed);
    });
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
  // Unmetered: one benchmark key would otherwise be refused after the first request of each second.
  const emulator = await startEmulator({ overrides: { requestsPerSecond: null, models: { 'mistral-small-2603': { tokensPerMinute: null, tokensPerMonth: null } } } });
  // The free tier as is: after the first request of each second, the rest are 429s (the "storm" path).
  const free = await startEmulator({ tier: 'free' });

  const chat = JSON.stringify({ model: 'mistral-small-2603', messages: [{ role: 'user', content: 'Say hello in French, briefly.' }], max_tokens: 16 });
  await measureAll(
    [
      { name: 'baseline: bare node:http, fixed JSON', spec: { url: bareUrl, path: '/', body: chat } },
      { name: 'emulator: POST /v1/chat/completions (200)', spec: { url: emulator.url, path: '/v1/chat/completions', body: chat } },
      {
        name: 'emulator: chat completions, stream (200)',
        spec: { url: emulator.url, path: '/v1/chat/completions', body: JSON.stringify({ ...JSON.parse(chat), stream: true }) },
      },
      {
        name: 'emulator: POST /v1/embeddings, 1024 dims (200)',
        spec: { url: emulator.url, path: '/v1/embeddings', body: JSON.stringify({ model: 'mistral-embed', input: 'Bonjour le monde' }) },
      },
      { name: 'emulator: free tier 1 rps, one key (429s)', spec: { url: free.url, path: '/v1/chat/completions', body: chat } },
    ],
    durationMs,
    concurrency,
    rounds,
  );
  await Promise.all([emulator.stop(), free.stop()]);
  bare.closeAllConnections();
  await new Promise<void>((resolve) => bare.close(() => resolve()));
}

if (isMainThread) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
} else {
  generateLoad(workerData as LoadSpec).then((result) => parentPort?.postMessage(result));
}
