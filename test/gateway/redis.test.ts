/**
 * Two `mistral-router serve` processes sharing one Redis: together they never let a virtual key use more
 * than its own limit, nor a workspace's model more than its window, whichever process a request reaches.
 * Month windows (fixed for the run) make the bound exact without timing: what the emulator charged is
 * compared with the limits.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { flushPrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';
import { spawnServe, type ServeProcess } from './serve-process.js';

const MODEL = 'mistral-small-2603';
const KEY_LIMIT = 900;
const MODEL_LIMIT = 400;
const ENV = { UPSTREAM: 'sk-upstream-redis-test-0123456789', GW_ALPHA: 'sk-gw-alpha-redis-test-0123456789' };

describe('gateway: two processes sharing Redis', function () {
  // Two processes start (each loads the SDK and the catalogue): seconds on a busy machine.
  this.timeout(60_000);
  let prefix = '';
  let emulator: Emulator | undefined;
  const serving: ServeProcess[] = [];

  before(async function () {
    await requireRedis(this);
  });
  afterEach(async () => {
    for (const s of serving.splice(0)) s.kill();
    await emulator?.stop();
    if (prefix !== '') await flushPrefix(prefix);
  });

  it("never exceed a key's limit or a workspace model's window, together", async () => {
    prefix = uniquePrefix('gateway');
    emulator = await startEmulator({ apiKeys: [ENV.UPSTREAM], overrides: { requestsPerSecond: null } });
    const config = `server: { port: 0 }
store: { redis: ${redisUrl}, keyPrefix: "${prefix}" }
router: { serverURL: "${emulator.url}", maxWaitMs: 0 }
workspaces:
  - name: team
    apiKey: \${UPSTREAM}
    tier: free
    overrides: { requestsPerSecond: null, models: { ${MODEL}: { tokensPerMonth: ${MODEL_LIMIT} } } }
keys:
  - name: alpha
    key: \${GW_ALPHA}
    limits: { tokensPerMonth: ${KEY_LIMIT} }
`;
    const file = join(mkdtempSync(join(tmpdir(), 'mr-gateway-redis-')), 'gateway.yaml');
    writeFileSync(file, config);
    serving.push(...(await Promise.all([spawnServe(file, ENV), spawnServe(file, ENV)])));
    const statuses = new Map<string, number[]>();
    let next = 0;
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say something short.' }], max_tokens: 20 });
    // 60 requests, 8 at a time, alternating between the two processes: far more than the limits take.
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 60) {
          const gateway = serving[next++ % 2] as ServeProcess;
          const reply = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${ENV.GW_ALPHA}`, 'content-type': 'application/json' }, body });
          await reply.text();
          const list = statuses.get(gateway.url) ?? [];
          list.push(reply.status);
          statuses.set(gateway.url, list);
        }
      }),
    );
    const tokens = emulator.stats().tokens;
    const charged = Object.values(tokens).reduce((sum, model) => sum + model.totalTokens, 0);
    expect(charged, 'all the key used, both processes together').to.be.at.most(KEY_LIMIT).and.greaterThan(KEY_LIMIT / 2);
    expect(tokens[MODEL]?.totalTokens ?? 0, `what ${MODEL} took in the workspace`).to.be.at.most(MODEL_LIMIT).and.greaterThan(0);
    expect(Object.keys(tokens).length, 'the model full, the rest went to its fallbacks').to.be.greaterThan(1);
    for (const [url, list] of statuses) {
      expect(list.filter((s) => s === 200).length, `${url} answered some`).to.be.greaterThan(0);
      expect(list.filter((s) => s === 429).length, `${url} refused some for the key`).to.be.greaterThan(0);
      expect(list.every((s) => s === 200 || s === 429), list.join(',')).to.equal(true);
    }
    for (const s of serving.splice(0)) expect(await s.stop()).to.equal(0);
  });
});
