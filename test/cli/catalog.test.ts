import { expect } from 'chai';
import { runCli as run } from '../helpers/cli.js';

describe('cli: mistral-router catalog', () => {
  it('prints a table filtered by capability, with free-tier limits', async () => {
    const { code, out } = await run('catalog', '--capability', 'vision,function_calling');
    expect(code).to.equal(0);
    const rows = out.split('\n').filter((line) => /^[a-z]/.test(line) && !line.startsWith('model'));
    expect(rows.map((r) => r.split(/\s+/)[0])).to.deep.equal(['mistral-small-2506', 'mistral-small-2503', 'pixtral-12b-2409', 'pixtral-large-2411']);
    expect(out).to.match(/mistral-small-2503\s+mistral-small\s+25\.03\s+128k\s+chat,vision,function_calling,json_mode\s+500k\s+1G/);
  });

  it('filters by minimum context, family and open weights, and prints JSON', async () => {
    const { code, out } = await run('catalog', '--min-context', '100000', '--family', 'mistral-small', '--open-weights', '--json');
    expect(code).to.equal(0);
    const models = JSON.parse(out) as { id: string; limits: { tokensPerMinute: number | null } }[];
    expect(models.map((m) => m.id)).to.deep.equal(['mistral-small-2506', 'mistral-small-2503']);
    expect(models[1]?.limits.tokensPerMinute).to.equal(500_000);
  });

  for (const [args, message] of [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--capability', 'telepathy'], /unknown capability "telepathy"/],
    [['--min-context', 'lots'], /--min-context expects a whole number >= 0, received "lots"/],
    [['--min-context=-5'], /--min-context expects a whole number/],
    [['--version', 'newest'], /version: expected "latest"/],
  ] as const) {
    it(`exits 2 with a clear message for ${args.join(' ')}`, async () => {
      const { code, err } = await run('catalog', ...args);
      expect(err).to.match(message);
      expect(code).to.equal(2);
    });
  }

  it('exits 2 for an unknown command', async () => {
    const { code, err } = await run('frobnicate');
    expect(code).to.equal(2);
    expect(err).to.match(/unknown command "frobnicate"/);
  });
});
