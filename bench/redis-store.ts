/**
 * Redis store benchmark: decisions per second and per-decision latency (median, p99) of RedisStore.reserve
 * with 1 and 4 client processes and 1 and 4 calls in flight per process, against rate-limiter-flexible's
 * RateLimiterRedis doing one `consume` per call, measured in the same run at the same concurrency.
 *
 * What is compared, honestly: one RedisStore decision is one Lua script that checks and charges THREE
 * windows of the candidate (requests-per-second of the workspace: 20 x 50 ms buckets; tokens-per-minute of
 * the model: 60 x 1 s buckets; tokens-per-month) on Redis's clock and records the pending reservation so
 * it can be settled or released; one rate-limiter-flexible consume is one script over ONE fixed-window
 * counter key (SET NX + INCRBY + PTTL) with nothing to settle. rate-limiter-flexible runs on a client with
 * the settings its README recommends (`enableOfflineQueue: false`); RedisStore on the client it creates.
 *
 * `redis-store` is the store as shipped: a process deciding this fast on one candidate gets grants (see the
 * `localGrants` option) and takes most decisions locally, from capacity Redis charged for it atomically;
 * the benchmark's limits are high, so grants are as large as they get. `redis-store-no-grants` is the same
 * store with `localGrants: false`: every decision one script, the cost of the atomic three-window decision
 * itself.
 *
 * Run: `node dist/bench/redis-store.js` (REDIS_URL, default redis://127.0.0.1:6379; BENCH_SECONDS, default 2;
 * BENCH_INFLIGHT, default "1,4,16"; BENCH_PROCESSES, default "1,4").
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { RedisStore, prefixPattern } from '../lib/quota/redis/index.js';
import { RESERVE_SCRIPT } from '../lib/quota/redis/scripts/index.js';
import type { QuotaCandidate, ReserveRequest } from '../lib/quota/types.js';
import { WINDOW_KINDS } from '../lib/quota/types.js';
import { report, summarise } from './stats.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const inflightLevels = (process.env.BENCH_INFLIGHT ?? '1,4,16').split(',').map(Number);
const processLevels = (process.env.BENCH_PROCESSES ?? '1,4').split(',').map(Number);
const PREFIX = `mr-bench-${process.pid}:`;
/** Calls each measuring process makes before timing. */
const WARMUP = 500;

type Target = 'redis-store' | 'redis-store-no-grants' | 'redis-store-fallback-candidates' | 'redis-store-18-candidates' | 'redis-store-reserve-settle' | 'rate-limiter-flexible' | 'rate-limiter-flexible-3-windows';

/** What a measuring process sends back. */
interface Sample {
  readonly latenciesUs: number[];
  readonly elapsedMs: number;
}

/** A candidate with the three windows of a tier; limits high enough that the measured path admits. */
function candidate(model: string, tokensPerMinute: number): QuotaCandidate {
  return {
    workspace: 'bench',
    model,
    windows: [
      { ...WINDOW_KINDS.requestsPerSecond, limit: 1_000_000_000 },
      { ...WINDOW_KINDS.tokensPerMinute, limit: tokensPerMinute },
      { ...WINDOW_KINDS.tokensPerMonth, limit: 1_000_000_000_000 },
    ],
  };
}

async function measure(target: Target, prefix: string, inflight: number): Promise<Sample> {
  const latenciesUs: number[] = [];
  let operation: () => Promise<unknown>;
  let close: () => Promise<void>;
  if (target === 'rate-limiter-flexible') {
    const client = new Redis(redisUrl, { enableOfflineQueue: false });
    await new Promise((resolve) => client.once('ready', resolve));
    const limiter = new RateLimiterRedis({ storeClient: client, points: 1_000_000_000, duration: 60, keyPrefix: `${prefix}rlf` });
    operation = () => limiter.consume('bench', 1);
    close = async () => void client.disconnect();
  } else if (target === 'rate-limiter-flexible-3-windows') {
    // The same three windows as one RedisStore decision, the way rate-limiter-flexible would meter them:
    // three limiters consumed together (three scripts, not atomic across them, nothing to refund).
    const client = new Redis(redisUrl, { enableOfflineQueue: false });
    await new Promise((resolve) => client.once('ready', resolve));
    const perSecond = new RateLimiterRedis({ storeClient: client, points: 1_000_000_000, duration: 1, keyPrefix: `${prefix}rlf-rps` });
    const perMinute = new RateLimiterRedis({ storeClient: client, points: 1_000_000_000, duration: 60, keyPrefix: `${prefix}rlf-tpm` });
    const perMonth = new RateLimiterRedis({ storeClient: client, points: 1_000_000_000_000, duration: 30 * 86_400, keyPrefix: `${prefix}rlf-month` });
    operation = () => Promise.all([perSecond.consume('bench', 1), perMinute.consume('bench:small', 500), perMonth.consume('bench:small', 500)]);
    close = async () => void client.disconnect();
  } else {
    const store = new RedisStore({ redis: redisUrl, keyPrefix: prefix, localGrants: target !== 'redis-store-no-grants' });
    const request: ReserveRequest =
      target === 'redis-store-fallback-candidates'
        ? // Two full candidates (zero tokens per minute) before the one that admits: a fallback decision.
          { candidates: [candidate('large', 0), candidate('medium', 0), candidate('small', 1_000_000_000_000)], tokens: 500 }
        : target === 'redis-store-18-candidates'
          ? // A router's plan carries every eligible model (18 for function_calling on the free tier); the first admits.
            { candidates: Array.from({ length: 18 }, (_, i) => candidate(`model-${i}`, 1_000_000_000_000)), tokens: 500 }
          : { candidates: [candidate('small', 1_000_000_000_000)], tokens: 500 };
    operation =
      target === 'redis-store-reserve-settle'
        ? async () => {
            const result = await store.reserve(request);
            if (result.ok) await store.settle(result.reservation, 400);
          }
        : () => store.reserve(request);
    close = () => store.close();
  }
  for (let i = 0; i < WARMUP; i++) await operation();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  // `inflight` loops, each one call at a time (a server with that many requests being handled).
  const loop = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await operation();
      latenciesUs.push((performance.now() - t0) * 1000);
    }
  };
  await Promise.all(Array.from({ length: inflight }, loop));
  const elapsedMs = performance.now() - start;
  await close();
  return { latenciesUs, elapsedMs };
}

/** EVALSHA calls and their total µs in Redis so far (INFO commandstats): Redis's own time per script. */
async function scriptStats(): Promise<{ calls: number; usec: number }> {
  const client = new Redis(redisUrl);
  try {
    const match = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await client.info('commandstats'));
    return { calls: Number(match?.[1] ?? 0), usec: Number(match?.[2] ?? 0) };
  } finally {
    client.disconnect();
  }
}

async function runProcesses(target: Target, processes: number, inflight = 1): Promise<void> {
  const before = await scriptStats();
  const self = fileURLToPath(import.meta.url);
  const samples = await Promise.all(
    Array.from(
      { length: processes },
      () =>
        new Promise<Sample>((resolve, reject) => {
          const child = fork(self, ['--child', target, PREFIX, String(inflight)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          child.once('message', (message) => resolve(message as Sample));
          child.once('error', reject);
          child.once('exit', (code) => code !== 0 && reject(new Error(`bench child exited with ${code}`)));
        }),
    ),
  );
  const all = samples.flatMap((s) => s.latenciesUs);
  const opsPerSecond = samples.reduce((sum, s) => sum + (s.latenciesUs.length * 1000) / s.elapsedMs, 0);
  const summary = summarise(all, opsPerSecond);
  const after = await scriptStats();
  const scripts = after.calls - before.calls;
  // Every call the processes made, the 500 warm-up calls of each included (they ran scripts too).
  const calls = all.length + WARMUP * processes;
  const redisTime = scripts > 0 ? `; Redis: ${((after.usec - before.usec) / scripts).toFixed(0)} µs per script, ${(scripts / calls).toFixed(2)} scripts per call` : '';
  report(`${target} x${processes} proc, ${inflight} in flight`, summary, redisTime.slice(2));
  results.set(`${target}:${processes}:${inflight}`, summary);
}

const results = new Map<string, ReturnType<typeof summarise>>();

/**
 * Redis's own time per script (INFO commandstats), warm, 5,000 pipelined runs each: RedisStore's reserve
 * script over one candidate of three windows; the bare Redis commands such a decision cannot do without
 * (TIME, read and write each of the three windows, record the pending reservation, look at its expiry),
 * with no logic at all; and rate-limiter-flexible's whole consume script. The floor is what any atomic
 * three-window decision with a settle-able reservation pays inside Redis, before its own logic: compare it
 * with rate-limiter-flexible's whole script to see what the decisions/s target asks.
 */
async function scriptFloor(): Promise<void> {
  const client = new Redis(redisUrl);
  const tag = `{${PREFIX}floor}`;
  const keys = [`${tag}:pending`, `${tag}:windows`, `${tag}:w:requests-per-second`, `${tag}:m:small:tokens-per-minute`, `${tag}:m:small:tokens-per-month`];
  const definition = `1|3|${keys.slice(2).map((key) => ` ${key.slice(tag.length)}`).join('')}|1|sr|1000000000|2|mt|1000000000000|3|Mt|1000000000000`;
  const bare = `
local t = redis.call('TIME')
local a = redis.call('HMGET', KEYS[3], 't', 'o', 'c', 'l', 'b', '1')
local b = redis.call('HMGET', KEYS[4], 't', 'o', 'c', 'l', 'b', '2')
local c = redis.call('HMGET', KEYS[5], 't', 'o', 'c', 'l', 'b', '3')
redis.call('HSET', KEYS[3], '1', 5, 't', 6)
redis.call('HSET', KEYS[4], '2', 5, 't', 6)
redis.call('HSET', KEYS[5], '3', 5, 't', 6)
redis.call('ZADD', KEYS[1], 1, ARGV[1])
redis.call('PTTL', KEYS[1])
return 1`;
  // rate-limiter-flexible's script as its RateLimiterRedis defines it (lib/RateLimiterRedis.js).
  const rlf = `redis.call('set', KEYS[1], 0, 'EX', ARGV[2], 'NX')
local consumed = redis.call('incrby', KEYS[1], ARGV[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl == -1 then
  redis.call('expire', KEYS[1], ARGV[2])
  ttl = 1000 * ARGV[2]
end
return {consumed, ttl}`;
  const runs: Array<[string, string, (i: number) => Array<string | number>]> = [
    ['RedisStore reserve script (1 candidate, 3 windows)', RESERVE_SCRIPT, (i) => [5, ...keys, '', 600_000, 1, 1, 1, definition, `floor.${i}`, 500, 1, 0, 0]],
    ['bare commands of one decision (no logic)', bare, (i) => [5, ...keys, `floor.${i}`]],
    ["rate-limiter-flexible's consume script", rlf, () => [1, `${PREFIX}rlf-floor`, 1, 60]],
  ];
  try {
    for (const [label, lua, args] of runs) {
      const sha = (await client.script('LOAD', lua)) as string;
      for (let i = 0; i < 500; i++) await client.evalsha(sha, ...(args(i) as [number, ...Array<string | number>]));
      const before = await scriptStats();
      const pipeline = client.pipeline();
      for (let i = 0; i < 5_000; i++) pipeline.evalsha(sha, ...(args(500 + i) as [number, ...Array<string | number>]));
      await pipeline.exec();
      const after = await scriptStats();
      console.log(`  ${label.padEnd(56)} ${((after.usec - before.usec) / (after.calls - before.calls)).toFixed(1)} µs per script in Redis (warm, pipelined)`);
    }
  } finally {
    client.disconnect();
  }
}

async function flush(): Promise<void> {
  const client = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', prefixPattern(PREFIX), 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
  const rlf = await client.keys(`${PREFIX}rlf*`); // every rate-limiter-flexible prefix starts with rlf
  if (rlf.length > 0) await client.unlink(...rlf);
  client.disconnect();
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    const sample = await measure(process.argv[3] as Target, process.argv[4] as string, Number(process.argv[5] ?? 1));
    process.send?.(sample, () => process.exit(0));
    return;
  }
  console.log(`Redis store benchmark against ${redisUrl}, ${seconds} s per line`);
  console.log('RedisStore: 1 script = check + charge 3 windows (rps, tokens/min, tokens/month) + pending reservation;');
  console.log('  as shipped, a process deciding fast takes most decisions from grants (no round trip); no-grants: every decision 1 script;');
  console.log('rate-limiter-flexible: 1 script = 1 fixed-window counter key (SET NX, INCRBY, PTTL), nothing to settle;');
  console.log('rate-limiter-flexible-3-windows: the same three windows as three limiters consumed together (not atomic, no refund)\n');
  try {
    for (const processes of processLevels) {
      for (const inflight of inflightLevels) {
        for (const target of ['redis-store', 'redis-store-no-grants', 'rate-limiter-flexible', 'rate-limiter-flexible-3-windows'] as const) {
          await runProcesses(target, processes, inflight);
        }
        for (const [name, label] of [['redis-store', 'RedisStore'], ['redis-store-no-grants', 'RedisStore without grants']] as const) {
          const ours = results.get(`${name}:${processes}:${inflight}`);
          for (const baseline of ['rate-limiter-flexible', 'rate-limiter-flexible-3-windows']) {
            const theirs = results.get(`${baseline}:${processes}:${inflight}`);
            if (ours === undefined || theirs === undefined) continue;
            console.log(
              `  -> x${processes} proc, ${inflight} in flight: ${label} ${(ours.opsPerSecond / theirs.opsPerSecond).toFixed(2)}x the decisions/s of ${baseline}, median ${(ours.medianUs / theirs.medianUs).toFixed(2)}x its latency`,
            );
          }
        }
        console.log('');
      }
    }
    await runProcesses('redis-store-fallback-candidates', 1);
    await runProcesses('redis-store-18-candidates', 1);
    await runProcesses('redis-store-reserve-settle', 1);
    // A routed call reserves, then settles: the settles of one tick share a script as the reserves do.
    await runProcesses('redis-store-reserve-settle', 1, 16);
    console.log('\nRedis time per script, what a three-window decision costs before its logic:');
    await scriptFloor();
  } finally {
    await flush();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
