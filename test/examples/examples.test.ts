/**
 * Every example in examples/ runs as the README says (`node examples/<file>.mjs`) and exits 0: they run
 * against the bundled emulator, so they need no key and no network. The gateway's example configuration
 * serves against the emulator as its comments say.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startEmulator } from '../../lib/emulator/index.js';
import { startGateway } from '../../lib/gateway/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const scripts = readdirSync(`${root}examples`).filter((name) => name.endsWith('.mjs'));

describe('examples', function () {
  this.timeout(30_000);
  it('has examples to run', () => expect(scripts.length).to.be.greaterThan(0));
  for (const script of scripts) {
    it(`examples/${script} runs and exits 0`, async () => {
      const env = { ...process.env };
      delete env.MISTRAL_API_KEY;
      const { stdout } = await promisify(execFile)(process.execPath, [`examples/${script}`], { cwd: root, env, timeout: 25_000 });
      expect(stdout.length).to.be.greaterThan(0);
    });
  }
});

describe('examples/mistral-router.yaml', () => {
  it('serves against the emulator as its comments say: a route, an embeddings-only key, the key\'s own limits and budget', async () => {
    const emulator = await startEmulator({ apiKeys: ['local'] });
    const logs: string[] = [];
    const gateway = await startGateway({
      configFile: `${root}examples/mistral-router.yaml`,
      env: { MISTRAL_SERVER_URL: emulator.url, MISTRAL_API_KEY: 'local', GATEWAY_KEY: 'sk-gw-demo' },
      port: 0,
      log: (line) => logs.push(line),
    });
    try {
      // The README's curl.
      const chat = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-gw-demo', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'vision-chat', messages: [{ role: 'user', content: 'What is in this image?' }], max_tokens: 50 }),
      });
      expect(chat.status).to.equal(200);
      expect(chat.headers.get('x-mistral-router-workspace')).to.equal('main');
      expect(gateway.config.keys.find((k) => k.name === 'demo')?.limits).to.include({ requestsPerSecond: 5, monthlyUsd: 5 });
      // The key whose SHA-256 the file gives: embeddings only.
      const ci = (path: string, body: object) => fetch(`${gateway.url}${path}`, { method: 'POST', headers: { authorization: 'Bearer sk-gw-ci-embeddings', 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await ci('/v1/embeddings', { model: 'embed', input: 'hello' })).status).to.equal(200);
      expect((await ci('/v1/chat/completions', { model: 'vision-chat', messages: [{ role: 'user', content: 'hi' }] })).status).to.equal(403);
      expect(logs.length, 'accessLog: true in the file').to.be.greaterThan(0);
    } finally {
      await gateway.close();
      await emulator.stop();
    }
  });
});
