import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli as run } from '../helpers/cli.js';

describe('cli: mistral-router route (dry run)', () => {
  it('prints the chosen model, the candidates in order and why every other model lost', async () => {
    const { code, out } = await run('route', '--capability', 'vision,function_calling', '--prompt-tokens', '60000', '--max-tokens', '1000', '--date', '2026-12-07');
    expect(code).to.equal(0);
    expect(out).to.match(/day 2026-12-07$/m);
    // Equal capabilities and windows: the cheaper (smaller) model first.
    expect(out).to.match(/^chosen: ministral-3b-2512$/m);
    expect(out).to.match(/2\s+ministral-8b-2512\s+256k\s+unknown\s+unknown/);
    expect(out).to.match(/mistral-small-2506\s+retired on 2026-07-31 \(replaced by mistral-small-2603\)/);
    expect(out).to.match(/voxtral-small-2507\s+missing capability: vision/);
    expect(out).to.match(/voxtral-mini-2602\s+missing capability: chat, vision, function_calling/);
  });

  it('sends a retired model named by the request to its replacement, and warns of deprecated ones', async () => {
    const retired = await run('route', '--model', 'mistral-small-2506', '--date', '2026-12-07', '--json');
    const plan = JSON.parse(retired.out) as { chosen: string; replaced: unknown; warnings: { model: string }[] };
    expect(plan.chosen).to.equal('mistral-small-2603');
    expect(plan.replaced).to.deep.equal({ requested: 'mistral-small-2506', retiredModel: 'mistral-small-2506', by: 'mistral-small-2603', reason: 'retired' });
    // Before its retirement it is still served, with a warning.
    const before = JSON.parse((await run('route', '--model', 'mistral-small-2506', '--date', '2026-06-01', '--json')).out) as typeof plan;
    expect(before.chosen).to.equal('mistral-small-2506');
    expect(before.replaced).to.equal(null);
    expect(before.warnings.map((w) => w.model)).to.include('mistral-small-2506');
    const { code, err } = await run('route', '--date', '2026-02-30');
    expect(code).to.equal(2);
    expect(err).to.match(/--date expects a day YYYY-MM-DD, received "2026-02-30"/);
  });

  it('says when the context is too small or unknown, as JSON', async () => {
    const { code, out } = await run('route', '--prompt-tokens', '2000000', '--max-tokens', '0', '--json', '--date', '2026-12-07');
    const plan = JSON.parse(out) as { chosen: string | null; rejected: { model: string; reason: string }[] };
    expect(code).to.equal(1);
    expect(plan.chosen).to.equal(null);
    expect(plan.rejected.find((r) => r.model === 'mistral-small-2603')?.reason).to.equal('context too small: 262144 < 2000000 tokens');
    const dir = mkdtempSync(join(tmpdir(), 'mr-route-'));
    const file = join(dir, 'unknown-window.yaml');
    writeFileSync(file, 'schemaVersion: 1\nmodels:\n  - id: codestral-2605\n    family: codestral\n    version: "26.05"\n    release: "2026-05"\n    capabilities: [chat, code, fim]\n    contextWindow: null\n    openWeights: null\n    license: null\n    aliases: []\n    deprecation: null\n');
    const large = JSON.parse((await run('route', '--family', 'codestral', '--prompt-tokens', '100000', '--max-tokens', '0', '--json', '--date', '2026-12-07', '--catalog-file', file)).out) as typeof plan;
    expect(large.chosen).to.equal('codestral-2508');
    expect(large.rejected.find((r) => r.model === 'codestral-2605')?.reason).to.match(/^context window unknown and the request \(100000 tokens\) exceeds the 32768 assumed/);
    expect(large.rejected.find((r) => r.model === 'codestral-2501')?.reason).to.equal('retired on 2025-11-30 (replaced by codestral-2508)');
  });

  for (const [args, message] of [
    [['--endpoint', 'images'], /--endpoint expects chat, embeddings or fim/],
    [['--strategy', 'cheapest'], /--strategy expects one of smallest-sufficient, newest, prefer/],
    [['--prompt-tokens', '-1'], /--prompt-tokens expects a whole number >= 0, received "-1"/],
    [['--capability', 'telepathy'], /unknown capability "telepathy"/],
    [['--capability', ',,'], /--capability expects a comma-separated list of capabilities/],
    [['--model', 'gpt-4'], /model: unknown model "gpt-4"/],
    [['--tier', 'gold'], /--tier: unknown tier "gold"; known tiers: free/],
    [['--endpoint', 'embeddings', '--max-tokens', 'abc'], /--max-tokens expects a whole number >= 0, received "abc"/],
    [['--prefer', 'open-mistral-nemo,'], /--prefer expects a comma-separated list of names/],
  ] as const) {
    it(`exits 2 for ${args.join(' ')}`, async () => {
      const { code, err } = await run('route', ...args);
      expect(err).to.match(message);
      expect(code).to.equal(2);
    });
  }
});

describe('cli: route --prefer and --exclude', () => {
  it('puts the preferred models first, in the order given, and leaves the excluded out', async () => {
    // On a day when both preferred models are deprecated, not yet retired.
    const { code, out } = await run('route', '--prefer', 'open-mistral-nemo,mistral-small-2506', '--exclude', 'mistral-small-2503', '--json', '--date', '2026-06-01');
    expect(code).to.equal(0);
    const plan = JSON.parse(out) as { chosen: string; need: { strategy: string }; candidates: { model: string }[]; rejected: { model: string; reason: string }[] };
    expect(plan.need.strategy).to.equal('prefer');
    expect(plan.candidates.slice(0, 2).map((c) => c.model)).to.deep.equal(['open-mistral-nemo', 'mistral-small-2506']);
    expect(plan.candidates.map((c) => c.model)).to.not.include('mistral-small-2503');
    expect(plan.rejected.find((r) => r.model === 'mistral-small-2503')?.reason).to.match(/exclude/);
  });
});

describe('cli: no command', () => {
  it('prints the usage on stderr and exits 2', async () => {
    const { code, out, err } = await run();
    expect(code).to.equal(2);
    expect(out).to.equal('');
    expect(err).to.match(/^Usage: mistral-router <command>/);
  });
});

describe('cli: mistral-router demo', function () {
  this.timeout(30_000);
  it('routes a small burst through the free-tier emulator and prints where each went and a summary', async () => {
    const { code, out } = await run('demo', '--requests', '4', '--interval-ms', '0');
    expect(code).to.equal(0);
    expect(out).to.match(/refreshed the catalogue from GET \/v1\/models of team-a, team-b: new to the bundled catalogue: mistral-small-2612/);
    expect(out).to.match(/# 1 vision: describe an image\s+→ \S+ via team-/);
    expect(out).to.match(/# 2 mistral-small-2506 by name \(retired\)\s+→ mistral-small-2603 via team-/);
    expect(out).to.match(/replaced: mistral-small-2506 is retired; mistral-small-2603 answered/);
    expect(out).to.match(/mistral-small-2506 is retired \(retired 2026-07-31\); its requests go to mistral-small-2603/);
    expect(out).to.match(/# 3 vision \+ audio \(a model the refresh found\)\s+→ mistral-small-2612 via team-/);
    expect(out).to.match(/summary: 4\/4 served/);
    expect(out).to.match(/model\s+requests\s+tokens used\s+tokens\/min limit per workspace/);
  });
});
