/**
 * The configuration file: refused at start with the file, the line and the field (schema, `${ENV}`,
 * duplicate keys, impossible routes, the router's own checks); `serve --check`; `serve` under SIGTERM.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { checkConfig } from '../../lib/gateway/build.js';
import { ConfigFileError, loadGatewayConfig } from '../../lib/gateway/index.js';
import { loadCatalog } from '../../lib/catalog/index.js';
import { startEmulator } from '../../lib/emulator/index.js';
import { catalog2025 } from '../helpers/catalog-2025.js';
import { runCli } from '../helpers/cli.js';
import { spawnServe, type ServeProcess } from './serve-process.js';

const GOOD = `server:
  port: 0
router:
  serverURL: \${UPSTREAM_URL:-http://127.0.0.1:9}
workspaces:
  - name: team
    apiKey: \${UPSTREAM}
    tier: free
routes:
  vision-chat:
    need: { capabilities: [vision, function_calling], minContext: 60000 }
keys:
  - name: alpha
    key: \${GW_ALPHA}
    routes: [vision-chat, auto]
    limits: { requestsPerSecond: 5 }
`;
const ENV = { UPSTREAM: 'sk-upstream-in-env-0123456789', GW_ALPHA: 'sk-gw-alpha-in-env-0123456789' };

const dir = mkdtempSync(join(tmpdir(), 'mr-gateway-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The ConfigFileError that loading (and checking against the mid-2025 catalogue) throws. */
function refusal(text: string, env: Record<string, string> = ENV): ConfigFileError {
  try {
    checkConfig(loadGatewayConfig({ text, name: 'gw.yaml' }, env), catalog2025);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigFileError);
    return error as ConfigFileError;
  }
  throw new Error('expected the configuration to be refused');
}

describe('gateway: configuration', () => {
  it('a valid file loads, with defaults, `${ENV}` filled in, keys kept as their SHA-256 only', () => {
    const { config } = loadGatewayConfig({ text: GOOD }, ENV);
    expect(config.server).to.include({ host: '127.0.0.1', port: 0, bodyLimitBytes: 10 * 1024 * 1024 });
    expect(config.router.serverURL).to.equal('http://127.0.0.1:9');
    expect(config.workspaces[0]?.apiKey).to.equal(ENV.UPSTREAM);
    expect(config.keys[0]).to.deep.include({ name: 'alpha', routes: ['vision-chat', 'auto'] });
    expect(JSON.stringify(config.keys)).not.to.contain(ENV.GW_ALPHA);
    expect(config.store).to.equal('memory');
  });

  const cases: { name: string; text: string; line: number; pointer: string; message: RegExp; env?: Record<string, string> }[] = [
    { name: 'an unknown field', text: GOOD.replace('  port: 0', '  port: 0\n  prot: 4000'), line: 3, pointer: '/server/prot', message: /unknown field "prot"/ },
    { name: 'an unknown capability', text: GOOD.replace('function_calling]', 'function_caling]'), line: 11, pointer: '/routes/vision-chat/need/capabilities/1', message: /expected one of chat, vision/ },
    { name: 'a duplicate key name', text: `${GOOD}  - name: alpha\n    sha256: ${'a'.repeat(64)}\n`, line: 17, pointer: '/keys/1/name', message: /duplicate key name "alpha" \(also keys\[0\]\)/ },
    { name: 'a key with an empty models list', text: GOOD.replace('    routes: [vision-chat, auto]', '    routes: [vision-chat, auto]\n    models: []'), line: 16, pointer: '/keys/0/models', message: /an empty list allows no model: leave models out/ },
    { name: 'a route with an impossible need', text: GOOD.replace('minContext: 60000', 'minContext: 5000000'), line: 11, pointer: '/routes/vision-chat/need', message: /no model of the catalogue can serve this chat route: .*context too small/ },
    { name: 'an unset environment variable', text: GOOD, env: { UPSTREAM: 'x' }, line: 14, pointer: '/keys/0/key', message: /the environment variable GW_ALPHA is not set/ },
    { name: 'a key written in the file', text: GOOD.replace('key: ${GW_ALPHA}', 'key: sk-literal-key'), line: 14, pointer: '/keys/0/key', message: /expected a \$\{ENV_VAR\} reference/ },
    { name: 'a route named like a model', text: GOOD.replace('  vision-chat:', '  mistral-small-latest:').replace('[vision-chat, auto]', '[auto]'), line: 10, pointer: '/routes/mistral-small-latest', message: /has the name of a model/ },
    { name: 'a key allowed an unknown route', text: GOOD.replace('[vision-chat, auto]', '[vision-chat, vision]'), line: 15, pointer: '/keys/0/routes/1', message: /unknown route "vision"/ },
    { name: 'an unknown tier (the router\'s own check)', text: GOOD.replace('tier: free', 'tier: platinum'), line: 8, pointer: '/workspaces/0/tier', message: /unknown tier "platinum"/ },
    { name: 'a negative key budget', text: GOOD.replace('requestsPerSecond: 5 }', 'requestsPerSecond: 5, monthlyUsd: -1 }'), line: 16, pointer: '/keys/0/limits/monthlyUsd', message: /expected a number >= 0, received -1/ },
    { name: 'a key budget that is not a number', text: GOOD.replace('requestsPerSecond: 5 }', 'requestsPerSecond: 5, monthlyUsd: "ten" }'), line: 16, pointer: '/keys/0/limits/monthlyUsd', message: /expected a number, received "ten"/ },
    { name: 'a negative workspace budget', text: GOOD.replace('    tier: free', '    tier: free\n    budgets: { monthlyUsd: -3 }'), line: 9, pointer: '/workspaces/0/budgets/monthlyUsd', message: /expected a number >= 0, received -3/ },
    { name: 'an unknown field of the router budget', text: GOOD.replace('  serverURL:', '  budgets: { monthlyUsd: 5, monthly: 3 }\n  serverURL:'), line: 4, pointer: '/router/budgets/monthly', message: /unknown field "monthly"/ },
    { name: 'a key with both sha256 and key', text: GOOD.replace('    key: ${GW_ALPHA}', `    key: \${GW_ALPHA}\n    sha256: ${'b'.repeat(64)}`), line: 13, pointer: '/keys/0', message: /exactly one of sha256/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} at its line and field`, () => {
      const error = refusal(c.text, c.env);
      expect(error.message).to.match(c.message);
      expect({ file: error.file, line: error.line, pointer: error.pointer }).to.deep.equal({ file: 'gw.yaml', line: c.line, pointer: c.pointer });
      expect(error.code).to.equal('CONFIG_INVALID');
    });
  }

  it('refuses a route only models retired on the gateway\'s day could serve (the bundled catalogue: codestral-2405 and -2501 are retired)', () => {
    const text = GOOD.replace('need: { capabilities: [vision, function_calling], minContext: 60000 }', 'need: { capabilities: [fim], exclude: [codestral-2508] }');
    const loaded = loadGatewayConfig({ text, name: 'gw.yaml' }, ENV);
    const bundled = loadCatalog();
    expect(() => checkConfig(loaded, bundled, Date.UTC(2026, 11, 8))).to.throw(ConfigFileError, /gw\.yaml:11: no model of the catalogue can serve this fim route: .*retired on 2025-11-30/);
    // Before codestral-2501 retired, the same route is served.
    expect(() => checkConfig(loaded, bundled, Date.UTC(2025, 10, 1))).to.not.throw();
  });

  it('never quotes a value that came from the environment in an error', () => {
    const error = refusal(GOOD.replace('${UPSTREAM_URL:-http://127.0.0.1:9}', '${UPSTREAM}'));
    expect(error.pointer).to.equal('/router/serverURL');
    expect(error.message).not.to.contain(ENV.UPSTREAM);
  });

  it('`serve --check` prints what it would serve, without a key; a bad file exits 1 naming file:line', async () => {
    Object.assign(process.env, ENV);
    const good = await runCli('serve', '--config', file('good.yaml', GOOD), '--check');
    expect(good.code).to.equal(0);
    expect(good.out).to.match(/^listen: http:\/\/127\.0\.0\.1:0$/m);
    // In the router's order on today's date (the bundled catalogue): mistral-small-2506 retired on 2026-07-31 is not listed.
    expect(good.out).to.match(/^  vision-chat \(chat\): ministral-3b-2512, /m);
    expect(good.out).not.to.contain('mistral-small-2506');
    expect(good.out).to.match(/^  alpha: routes vision-chat, auto; models none \(its routes only\); limits requestsPerSecond 5$/m);
    const budgets = GOOD.replace('    tier: free', '    tier: free\n    budgets: { monthlyUsd: 20 }').replace('requestsPerSecond: 5 }', 'requestsPerSecond: 5, monthlyUsd: 2.5 }').replace('  serverURL:', '  budgets: { monthlyUsd: 50 }\n  serverURL:');
    const withBudgets = await runCli('serve', '--config', file('budgets.yaml', budgets), '--check');
    expect(withBudgets.code, withBudgets.err).to.equal(0);
    expect(withBudgets.out).to.match(/^workspaces: team \(tier free, budget \$20 a month\)$/m);
    expect(withBudgets.out).to.match(/^router budget: \$50 a month \("router", every workspace\)$/m);
    expect(withBudgets.out).to.match(/^  alpha: routes vision-chat, auto; models none \(its routes only\); limits requestsPerSecond 5, budget \$2\.5 a month$/m);
    expect(good.out).not.to.contain(ENV.UPSTREAM);
    const bad = await runCli('serve', '--config', file('bad.yaml', GOOD.replace('tier: free', 'tier: platinum')), '--check').finally(() => {
      for (const name of Object.keys(ENV)) delete process.env[name];
    });
    expect(bad.code).to.equal(1);
    expect(bad.err).to.match(/bad\.yaml:8: unknown tier "platinum"; known: .* \(at \/workspaces\/0\/tier\) \[CONFIG_INVALID\]/);
    expect((await runCli('serve')).code).to.equal(2);
  });

  it('`mistral-router serve` answers, then drains and exits 0 on SIGTERM', async () => {
    const emulator = await startEmulator({ apiKeys: [ENV.UPSTREAM] });
    let serve: ServeProcess | undefined;
    try {
      serve = await spawnServe(file('serve.yaml', GOOD), { ...ENV, UPSTREAM_URL: emulator.url });
      const reply = await fetch(`${serve.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ENV.GW_ALPHA}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'vision-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
      });
      expect(reply.status).to.equal(200);
      // The bundled catalogue on today's date: whichever current model has vision and function calling.
      expect(loadCatalog().model(reply.headers.get('x-mistral-router-model') ?? '')?.capabilities).to.include.members(['vision', 'function_calling']);
      expect(await serve.stop()).to.equal(0);
      expect(serve.output()).to.contain('draining...\nstopped\n');
    } finally {
      serve?.kill();
      await emulator.stop();
    }
  });
});
