import { expect } from 'chai';
import { runCli as run } from '../helpers/cli.js';

describe('cli: mistral-router route (dry run)', () => {
  it('prints the chosen model, the candidates in order and why every other model lost', async () => {
    const { code, out } = await run('route', '--capability', 'vision,function_calling', '--prompt-tokens', '60000', '--max-tokens', '1000');
    expect(code).to.equal(0);
    expect(out).to.match(/^chosen: mistral-small-2506$/m);
    expect(out).to.match(/2\s+mistral-small-2503\s+128k\s+500k\s+1G/);
    expect(out).to.match(/open-mistral-nemo\s+missing capability: vision/);
    expect(out).to.match(/voxtral-mini-2507\s+missing capability: vision, function_calling/);
  });

  it('says when the context is too small or unknown, as JSON', async () => {
    const { code, out } = await run('route', '--prompt-tokens', '600000', '--max-tokens', '0', '--json');
    const plan = JSON.parse(out) as { chosen: string | null; rejected: { model: string; reason: string }[] };
    expect(code).to.equal(1);
    expect(plan.chosen).to.equal(null);
    expect(plan.rejected.find((r) => r.model === 'codestral-2501')?.reason).to.equal('context too small: 262144 < 600000 tokens');
    const large = JSON.parse((await run('route', '--family', 'codestral', '--prompt-tokens', '200000', '--max-tokens', '0', '--json')).out) as typeof plan;
    expect(large.chosen).to.equal('codestral-2501');
    expect(large.rejected.find((r) => r.model === 'codestral-2405')?.reason).to.match(/^context window unknown and the request \(200000 tokens\) exceeds the 32768 assumed/);
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
    const { code, out } = await run('route', '--prefer', 'open-mistral-nemo,mistral-small-2506', '--exclude', 'mistral-small-2503', '--json');
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
    expect(out).to.match(/# 1 vision: describe an image\s+→ mistral-small-2506 via team-/);
    expect(out).to.match(/# 4 function calling: weather tool\s+→ \S+ via team-/);
    expect(out).to.match(/summary: 4\/4 served/);
    expect(out).to.match(/model\s+requests\s+tokens used\s+tokens\/min limit per workspace/);
  });
});
