/**
 * Redis for the tests: where it is, whether it answers, and keys that belong to one test run.
 *
 * Tests connect to `REDIS_URL` (default `redis://127.0.0.1:6379`; `.ci/redis.sh` starts one). When no Redis
 * answers, a developer's run skips the Redis suites with a visible message, but a CI run (`CI=true`) fails:
 * the Redis store must never ship untested because a service was missing.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { prefixPattern } from '../../lib/quota/redis/index.js';

/** The Redis the tests use. */
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let availability: Promise<boolean> | undefined;

/** Whether a Redis answers PING at {@link redisUrl} (asked once per process, within 1 s). */
export function redisAnswers(): Promise<boolean> {
  availability ??= (async () => {
    const client = new Redis(redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  })();
  return availability;
}

/**
 * Call in a `before` hook of every Redis suite: skips the suite (with a message) when no Redis answers,
 * or throws under `CI=true`.
 */
export async function requireRedis(context: Mocha.Context): Promise<void> {
  if (await redisAnswers()) return;
  const message = `no Redis answers at ${redisUrl} (start one with .ci/redis.sh, or set REDIS_URL)`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI=true requires the Redis tests to run`);
  console.warn(`\n  SKIPPED Redis tests: ${message}\n`);
  context.skip();
}

/** A key prefix no other test run uses (several engineers and CI jobs share one Redis). */
export function uniquePrefix(label = 'test'): string {
  return `mr-${label}-${process.pid}-${randomBytes(4).toString('hex')}:`;
}

/** Delete every key under `prefix` (and nothing else). */
export async function flushPrefix(prefix: string): Promise<number> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', prefixPattern(prefix), 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    client.disconnect();
  }
}

/** A redis-server this test process started (fault tests stop and restart it). */
export interface SpawnedRedis {
  readonly port: number;
  readonly url: string;
  /** Kill it (SIGKILL: an outage, not a shutdown) and wait until it is gone. */
  kill(): Promise<void>;
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Start `redis-server` on `port` (no persistence: a restart comes back empty, like a lost node) and wait
 * until it answers PING. `extraArgs` adds server options (e.g. cluster mode).
 */
export async function spawnRedis(port: number, extraArgs: readonly string[] = []): Promise<SpawnedRedis> {
  const { spawn } = await import('node:child_process');
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 200, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer within 5 s (is redis-server installed?)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
  return {
    port,
    url,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A connection that counts the scripts it sends (EVALSHA, or EVAL when ioredis reloads a script after
 * NOSCRIPT). Counted on the client, so other users of the same Redis (a parallel test run, another
 * engineer) do not change the figure, as they did with the server-wide `INFO commandstats`.
 */
export function countingConnection(): { readonly redis: Redis; scripts(): number } {
  const redis = new Redis(redisUrl);
  let scripts = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], stream?: Parameters<Redis['sendCommand']>[1]) => {
    if (/^eval(sha)?$/i.test(command.name)) scripts++;
    return send(command, stream);
  }) as Redis['sendCommand'];
  return { redis, scripts: () => scripts };
}
