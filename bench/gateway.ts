/**
 * The gateway's overhead (issue 17): the same chat call through the gateway and straight to the emulator,
 * in one run, at concurrency 1 (median latency: what the gateway adds) and 32 (throughput: the ratio to
 * direct), and the gateway's resident size idle and after 100,000 and 200,000 requests.
 *
 * Three processes: this one generates the load, and the emulator and the gateway are forked each into its
 * own (bench/gateway-child.ts), so the gateway's event loop is measured alone, as it runs in production.
 * The client writes raw HTTP/1.1 on keep-alive sockets (one request in flight per connection): a full
 * client would cost more CPU than the servers it measures. Rounds alternate direct / gateway so that drift
 * (JIT, GC, CPU frequency, other load on the machine) hits both alike; medians over rounds are reported,
 * and so is each process's CPU time per request in each phase (the steadier figure on a shared machine).
 *
 * Concurrency 32 is run twice: with the three processes sharing the machine's cores (the gateway's CPU
 * taken from the emulator's), and with the gateway pinned to a core of its own and the emulator and load
 * generator to another (Linux `taskset`; skipped, said so, where it cannot pin). The second is the
 * deployment's shape: Mistral's CPU is not the gateway's, so the question is whether the gateway keeps up
 * with what one upstream core serves.
 *
 *   node dist/bench/gateway.js [--rounds 5] [--requests 2000] [--memory-requests 100000]
 *   GATEWAY_BENCH_PROF=/tmp/prof node dist/bench/gateway.js   # --cpu-prof of the gateway process
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_GATEWAY_KEY, BENCH_MODEL, BENCH_UPSTREAM_KEY } from './gateway-child.js';
import { median } from './stats.js';

interface Child {
  readonly process: ChildProcess;
  readonly url: string;
}

async function startChild(args: string[], execArgv: string[] = []): Promise<Child> {
  const child = fork(fileURLToPath(new URL('./gateway-child.js', import.meta.url)), args, { execArgv: ['--expose-gc', ...execArgv], stdio: 'inherit' });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  return { process: child, url };
}

function ask<T>(child: Child, message: string): Promise<T> {
  return new Promise((resolve) => {
    child.process.once('message', (reply) => resolve(reply as T));
    child.process.send(message);
  });
}

/** CPU time (µs, user + system) used so far by the load generator (this process), the emulator and the gateway. */
async function cpuNow(emulator: Child, gateway: Child): Promise<Cpu> {
  const [e, g] = await Promise.all([ask<{ cpuMicros: number }>(emulator, 'cpu'), ask<{ cpuMicros: number; systemMicros: number }>(gateway, 'cpu')]);
  const self = process.cpuUsage();
  return { client: self.user + self.system, emulator: e.cpuMicros, gateway: g.cpuMicros, gatewaySystem: g.systemMicros };
}

/** CPU µs per request of each process. */
interface Cpu {
  readonly client: number;
  readonly emulator: number;
  readonly gateway: number;
  /** The gateway's system time (the kernel's share: its socket reads and writes). */
  readonly gatewaySystem: number;
}

/** Runs `phase` (of `count` requests) and adds each process's CPU µs per request during it to `into`. */
async function metered<T>(emulator: Child, gateway: Child, count: number, into: Cpu[], phase: () => Promise<T>): Promise<T> {
  const before = await cpuNow(emulator, gateway);
  const value = await phase();
  const after = await cpuNow(emulator, gateway);
  into.push({ client: (after.client - before.client) / count, emulator: (after.emulator - before.emulator) / count, gateway: (after.gateway - before.gateway) / count, gatewaySystem: (after.gatewaySystem - before.gatewaySystem) / count });
  return value;
}

const medianCpu = (samples: readonly Cpu[]): Cpu => ({ client: median(samples.map((s) => s.client)), emulator: median(samples.map((s) => s.emulator)), gateway: median(samples.map((s) => s.gateway)), gatewaySystem: median(samples.map((s) => s.gatewaySystem)) });

/** Pins process `pid` (every thread of it) to the cores `cpus` ("0", "1", "0-1"); false where taskset cannot. */
function pin(pid: number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function stopChild(child: Child): Promise<void> {
  const exited = new Promise((resolve) => child.process.once('exit', resolve));
  child.process.send('stop');
  await exited;
}

/** One keep-alive connection that sends the same request and resolves when each whole response is in. */
class Lane {
  readonly #socket: Socket;
  readonly #request: Buffer;
  #buffer = '';
  #done: ((status: number) => void) | undefined;

  private constructor(socket: Socket, request: Buffer) {
    this.#socket = socket;
    this.#request = request;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
  }

  static open(url: string, key: string, body: string): Promise<Lane> {
    const target = new URL(url);
    const request = Buffer.from(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    return new Promise((resolve, reject) => {
      const socket = connect(Number(target.port), target.hostname, () => resolve(new Lane(socket, request)));
      socket.once('error', reject);
    });
  }

  send(): Promise<number> {
    return new Promise((resolve) => {
      this.#done = resolve;
      this.#socket.write(this.#request);
    });
  }

  #read(chunk: Buffer): void {
    this.#buffer += chunk.toString('latin1');
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const length = /\r\ncontent-length: *(\d+)/i.exec(this.#buffer.slice(0, end));
    if (length === null) throw new Error(`a response without content-length: ${this.#buffer.slice(0, 200)}`);
    if (this.#buffer.length < end + 4 + Number(length[1])) return;
    const status = Number(this.#buffer.slice(9, 12));
    this.#buffer = this.#buffer.slice(end + 4 + Number(length[1]));
    const done = this.#done;
    this.#done = undefined;
    done?.(status);
  }

  close(): void {
    this.#socket.destroy();
  }
}

interface Target {
  readonly name: string;
  readonly url: string;
  readonly key: string;
}

const BODY = JSON.stringify({ model: BENCH_MODEL, messages: [{ role: 'user', content: 'Summarise the plot of Hamlet in one sentence.' }], max_tokens: 64 });

/** Per-request latencies (µs) of `count` requests one after another. */
async function sequential(target: Target, count: number): Promise<number[]> {
  const lane = await Lane.open(target.url, target.key, BODY);
  const sample: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const status = await lane.send();
    sample.push((performance.now() - t0) * 1000);
    if (status !== 200) throw new Error(`${target.name}: HTTP ${status}`);
  }
  lane.close();
  return sample;
}

/** Requests per second with `concurrency` connections sending `count` requests in all. */
async function concurrent(target: Target, concurrency: number, count: number): Promise<number> {
  const lanes = await Promise.all(Array.from({ length: concurrency }, () => Lane.open(target.url, target.key, BODY)));
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(
    lanes.map(async (lane) => {
      while (sent < count) {
        sent++;
        const status = await lane.send();
        if (status !== 200) throw new Error(`${target.name}: HTTP ${status}`);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  for (const lane of lanes) lane.close();
  return count / seconds;
}

/** Concurrency 32 with the gateway on core 1 and the emulator and this process on core 0, alternating direct / gateway. */
async function ownCore(emulator: Child, gateway: Child, direct: Target, through: Target, rounds: number, count: number): Promise<void> {
  const cores = availableParallelism();
  const all = `0-${cores - 1}`;
  const pids = [process.pid, emulator.process.pid as number, gateway.process.pid as number];
  if (cores < 2 || !pin(pids[0] as number, '0') || !pin(pids[1] as number, '0') || !pin(pids[2] as number, '1')) {
    for (const pid of pids) pin(pid, all);
    console.log(`chat calls, concurrency 32, the gateway on a core of its own: skipped (${cores < 2 ? 'one core' : 'taskset cannot pin these processes'})`);
    return;
  }
  try {
    const rates = { direct: [] as number[], gateway: [] as number[] };
    const cpu: Cpu[] = [];
    for (let round = 0; round < rounds; round++) {
      rates.direct.push(await concurrent(direct, 32, count));
      rates.gateway.push(await metered(emulator, gateway, count, cpu, () => concurrent(through, 32, count)));
    }
    const [d, g] = [median(rates.direct), median(rates.gateway)];
    console.log(`chat calls, concurrency 32, the gateway on a core of its own, the emulator and load generator on another (median of ${rounds} rounds x ${count} requests)`);
    console.log(`  direct to the emulator      ${Math.round(d).toLocaleString('en-US')} req/s`);
    console.log(`  through the gateway         ${Math.round(g).toLocaleString('en-US')} req/s   x${(g / d).toFixed(2)} direct; gateway CPU ${Math.round(medianCpu(cpu).gateway)} µs per request`);
  } finally {
    for (const pid of pids) pin(pid, all);
  }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const memory = (m: { rss: number; heapUsed: number }) => `rss ${mb(m.rss)} (heap ${mb(m.heapUsed)})`;

export async function runGatewayBench(argv: readonly string[] = []): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: { rounds: { type: 'string' }, requests: { type: 'string' }, 'memory-requests': { type: 'string' } } });
  const rounds = Number(values.rounds ?? 5);
  const requests = Number(values.requests ?? 2000);
  const memoryRequests = Number(values['memory-requests'] ?? 100_000);
  const prof = process.env.GATEWAY_BENCH_PROF;
  const emulator = await startChild(['role=emulator']);
  const gateway = await startChild(['role=gateway', `upstream=${emulator.url}`], prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]);
  try {
    const direct: Target = { name: 'direct', url: emulator.url, key: BENCH_UPSTREAM_KEY };
    const through: Target = { name: 'gateway', url: gateway.url, key: BENCH_GATEWAY_KEY };
    const idle = await ask<{ rss: number; heapUsed: number }>(gateway, 'memory');
    // Warm both paths (JIT, connection pools) before anything is timed.
    await sequential(direct, 500);
    await sequential(through, 500);
    await concurrent(through, 32, 2000);
    const latency = { direct: [] as number[], gateway: [] as number[] };
    const throughput = { direct: [] as number[], gateway: [] as number[] };
    const cpu = { direct1: [] as Cpu[], gateway1: [] as Cpu[], direct32: [] as Cpu[], gateway32: [] as Cpu[] };
    for (let round = 0; round < rounds; round++) {
      latency.direct.push(median(await metered(emulator, gateway, requests, cpu.direct1, () => sequential(direct, requests))));
      latency.gateway.push(median(await metered(emulator, gateway, requests, cpu.gateway1, () => sequential(through, requests))));
      throughput.direct.push(await metered(emulator, gateway, requests * 2, cpu.direct32, () => concurrent(direct, 32, requests * 2)));
      throughput.gateway.push(await metered(emulator, gateway, requests * 2, cpu.gateway32, () => concurrent(through, 32, requests * 2)));
    }
    const [d1, g1, d32, g32] = [median(latency.direct), median(latency.gateway), median(throughput.direct), median(throughput.gateway)];
    console.log(`chat call, concurrency 1 (median of ${rounds} rounds x ${requests} requests, each round's median)`);
    console.log(`  direct to the emulator      ${(d1 / 1000).toFixed(3)} ms`);
    console.log(`  through the gateway         ${(g1 / 1000).toFixed(3)} ms   added ${((g1 - d1) / 1000).toFixed(3)} ms (target <= 0.25 ms)`);
    console.log(`chat calls, concurrency 32 (median of ${rounds} rounds x ${requests * 2} requests)`);
    console.log(`  direct to the emulator      ${Math.round(d32).toLocaleString('en-US')} req/s`);
    console.log(`  through the gateway         ${Math.round(g32).toLocaleString('en-US')} req/s   x${(g32 / d32).toFixed(2)} direct (target >= 0.8)`);
    // CPU per request is the steadier figure on a shared machine: wall-clock rates move with other load,
    // the work each process does per request much less.
    const us = (value: number) => `${Math.round(value)} µs`;
    const line = (label: string, c: Cpu, through_: boolean) =>
      console.log(`  ${label.padEnd(26)} ${through_ ? `gateway ${us(c.gateway)} (system ${us(c.gatewaySystem)}), ` : ''}emulator ${us(c.emulator)}, load generator ${us(c.client)}`);
    console.log(`CPU per request (user + system, median of ${rounds} rounds)`);
    line('direct, concurrency 1', medianCpu(cpu.direct1), false);
    line('gateway, concurrency 1', medianCpu(cpu.gateway1), true);
    line('direct, concurrency 32', medianCpu(cpu.direct32), false);
    line('gateway, concurrency 32', medianCpu(cpu.gateway32), true);
    await ownCore(emulator, gateway, direct, through, rounds, requests * 2);
    const served = 1000 + rounds * requests * 5 + 2000;
    await concurrent(through, 32, Math.max(0, memoryRequests - served));
    const after = await ask<{ rss: number; heapUsed: number }>(gateway, 'memory');
    await concurrent(through, 32, memoryRequests);
    const twice = await ask<{ rss: number; heapUsed: number }>(gateway, 'memory');
    console.log(`gateway memory: idle ${memory(idle)}; after ${memoryRequests.toLocaleString('en-US')} requests ${memory(after)}; after ${(2 * memoryRequests).toLocaleString('en-US')} ${memory(twice)}`);
  } finally {
    await stopChild(gateway);
    await stopChild(emulator);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runGatewayBench(process.argv.slice(2));
