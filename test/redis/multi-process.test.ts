/**
 * Four OS processes reserve concurrently against one workspace with small limits, on Redis's own clock.
 * The parent checks the two promises of a shared store: no window-length interval ever holds more than
 * the limit (requests per second, and a tokens-per-second window), and the tokens the processes settled
 * add up to exactly what Redis recorded (nothing lost, nothing counted twice).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { RedisStore } from '../../lib/quota/redis/index.js';
import type { WindowSpec } from '../../lib/quota/types.js';
import { flushPrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';
import type { Admission, WorkerReport } from './fixtures/reserve-worker.js';

const WORKER = fileURLToPath(new URL('./fixtures/reserve-worker.js', import.meta.url));
const PROCESSES = 4;
const DURATION_MS = 3_000;

/** The windows of one run: requests and tokens per second (a per-second token window exercises sliding token arithmetic within a short test). */
function windowsOf(requestsPerSecond: number, tokensPerSecond: number): WindowSpec[] {
  return [
    { kind: 'requests-per-second', unit: 'requests', period: 'second', scope: 'workspace', limit: requestsPerSecond },
    { kind: 'tokens-per-second', unit: 'tokens', period: 'second', scope: 'model', limit: tokensPerSecond },
    { kind: 'tokens-per-month', unit: 'tokens', period: 'month', scope: 'model', limit: 1_000_000_000 },
  ];
}

/** The largest sum of `value` over admissions in any interval (t - periodMs, t]. */
function heaviestInterval(admissions: readonly Admission[], periodMs: number, value: (a: Admission) => number): { sum: number; endingAt: number } {
  const sorted = [...admissions].sort((x, y) => x.at - y.at);
  let worst = { sum: 0, endingAt: 0 };
  let start = 0;
  let sum = 0;
  for (let end = 0; end < sorted.length; end++) {
    const current = sorted[end] as Admission;
    sum += value(current);
    while ((sorted[start] as Admission).at <= current.at - periodMs) sum -= value(sorted[start++] as Admission);
    // Admissions in the same ms all belong to the interval ending at that ms: measure after the last of them.
    const next = sorted[end + 1];
    if ((next === undefined || next.at !== current.at) && sum > worst.sum) worst = { sum, endingAt: current.at };
  }
  return worst;
}

describe('RedisStore across processes', function () {
  this.timeout(30_000);
  let prefix: string;

  before(async function () {
    await requireRedis(this);
    prefix = uniquePrefix('fleet');
  });
  after(async function () {
    if (prefix !== undefined) await flushPrefix(prefix);
  });

  // Small limits: most decisions go to Redis, grants are few and small. Large ones: most decisions are
  // taken locally from grants, and the limits must hold just the same.
  for (const [label, REQUESTS_PER_SECOND, TOKENS_PER_SECOND] of [
    ['small limits', 40, 3_000],
    ['large limits (mostly grants)', 2_000, 200_000],
  ] as const) {
    it(`${PROCESSES} processes never exceed a window's limit, and settled tokens add up to what Redis recorded: ${label}`, async function () {
      const workspace = `fleet-${REQUESTS_PER_SECOND}`;
      const WINDOWS = windowsOf(REQUESTS_PER_SECOND, TOKENS_PER_SECOND);
      const reports = await Promise.all(
        Array.from(
          { length: PROCESSES },
          () =>
            new Promise<WorkerReport>((resolve, reject) => {
              const child = fork(WORKER, [], {
                env: {
                  ...process.env,
                  REDIS_URL: redisUrl,
                  MR_PREFIX: prefix,
                  MR_WORKSPACE: workspace,
                  MR_DURATION_MS: String(DURATION_MS),
                  MR_CONCURRENCY: '4',
                  MR_WINDOWS: JSON.stringify(WINDOWS),
                },
                stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
              });
              let report: WorkerReport | undefined;
              child.on('message', (message) => (report = message as WorkerReport));
              child.on('error', reject);
              child.on('exit', (code) => (code === 0 && report !== undefined ? resolve(report) : reject(new Error(`worker exited with ${code}`))));
            }),
        ),
      );
      for (const report of reports) expect(report.errors).to.deep.equal([]);
      const admissions = reports.flatMap((report) => report.admissions);
      // Every process got some and was refused some: they really competed.
      for (const report of reports) {
        expect(report.admissions.length).to.be.greaterThan(0);
        expect(report.refusals).to.be.greaterThan(0);
      }
      const requests = heaviestInterval(admissions, 1_000, (a) => a.requests);
      const tokens = heaviestInterval(admissions, 1_000, (a) => a.tokens);
      expect(requests.sum, `requests in the 1 s ending at ${requests.endingAt}`).to.be.at.most(REQUESTS_PER_SECOND);
      expect(tokens.sum, `tokens in the 1 s ending at ${tokens.endingAt}`).to.be.at.most(TOKENS_PER_SECOND);
      // With large limits most admissions were taken from grants (locally, from capacity charged in Redis),
      // and the limits held anyway.
      const granted = reports.reduce((sum, report) => sum + report.granted, 0);
      if (REQUESTS_PER_SECOND > 100) expect(granted, 'admissions taken from grants').to.be.greaterThan(admissions.length / 2);
      // The limit binds: close to it at the busiest second (the test is not vacuous).
      expect(requests.sum + tokens.sum / 100).to.be.greaterThan(REQUESTS_PER_SECOND / 2);

      const store = new RedisStore({ redis: redisUrl, keyPrefix: prefix });
      try {
        const month = (await store.snapshot(workspace)).find((w) => w.kind === 'tokens-per-month');
        const settled = admissions.reduce((sum, a) => sum + a.tokens, 0);
        expect(month).to.include({ used: settled, held: 0 });
        expect(await store.pendingReservations()).to.equal(0);
      } finally {
        await store.close();
      }
    });
  }
});
