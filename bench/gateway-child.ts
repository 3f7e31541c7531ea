/**
 * A process of bench/gateway.ts: the emulator (`role=emulator`) or the gateway in front of it
 * (`role=gateway`, with `upstream=<url>`), each forked on its own so that neither shares an event loop
 * with the other or with the load generator. It sends `{ url }` once listening, answers `'memory'` with
 * its resident size after a full GC and `'cpu'` with the CPU time it has used (µs: user + system, and system alone), and
 * stops on `'stop'`.
 */
import { startEmulator } from '../lib/emulator/index.js';
import { startGateway } from '../lib/gateway/index.js';

export const BENCH_UPSTREAM_KEY = 'bench-upstream-key';
export const BENCH_GATEWAY_KEY = 'bench-gateway-key';
export const BENCH_MODEL = 'mistral-small-2603';

/** Every limit lifted: the benchmark measures the path, never a wait or a refusal. */
const UNMETERED = { requestsPerSecond: null, models: { [BENCH_MODEL]: { tokensPerMinute: null, tokensPerMonth: null } } };

async function start(role: string, upstream: string | undefined): Promise<{ url: string; stop: () => Promise<void> }> {
  if (role === 'emulator') {
    const emulator = await startEmulator({ tier: 'free', apiKeys: [BENCH_UPSTREAM_KEY], overrides: UNMETERED });
    return { url: emulator.url, stop: () => emulator.stop() };
  }
  if (upstream === undefined) throw new Error('role=gateway needs upstream=<url>');
  const gateway = await startGateway({
    config: {
      server: { port: 0, accessLog: false },
      router: { serverURL: upstream, maxWaitMs: 0 },
      workspaces: [{ name: 'bench', apiKey: '${UPSTREAM}', tier: 'free', overrides: UNMETERED }],
      keys: [{ name: 'bench', key: '${GATEWAY_KEY}' }],
    },
    env: { UPSTREAM: BENCH_UPSTREAM_KEY, GATEWAY_KEY: BENCH_GATEWAY_KEY },
  });
  return { url: gateway.url, stop: () => gateway.close() };
}

function argument(name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`${name}=`))?.slice(name.length + 1);
}

if (process.send !== undefined && argument('role') !== undefined) {
  const server = await start(argument('role') as string, argument('upstream'));
  process.on('message', (message) => {
    if (message === 'memory') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send?.({ rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed });
    } else if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send?.({ cpuMicros: user + system, systemMicros: system });
    } else if (message === 'stop') {
      void server.stop().then(() => process.exit(0));
    }
  });
  process.send({ url: server.url });
}
