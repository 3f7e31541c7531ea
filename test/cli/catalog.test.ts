import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator } from '../../lib/emulator/index.js';
import { runCli as run } from '../helpers/cli.js';

const rowsOf = (out: string) => (out.split('\ndrift between')[0] as string).split('\n').filter((line) => /^[a-z]/.test(line) && !line.startsWith('model') && !/^\d+ model/.test(line));

describe('cli: mistral-router catalog', () => {
  it('prints a table filtered by capability, with the lifecycle on the day and free-tier limits', async () => {
    const { code, out } = await run('catalog', '--capability', 'vision,function_calling', '--date', '2026-12-07');
    expect(code).to.equal(0);
    expect(rowsOf(out).map((r) => r.split(/\s+/)[0])).to.deep.equal(['mistral-small-2603', 'mistral-medium-3-5', 'mistral-large-2512', 'ministral-3b-2512', 'ministral-8b-2512', 'ministral-14b-2512']);
    expect(out).to.match(/mistral-small-2603\s+mistral-small\s+26\.03\s+256k\s+chat,vision,reasoning,function_calling,json_mode\s+current\s+unknown\s+unknown/);
    expect(out).to.match(/6 model\(s\) on 2026-12-07 \(\d+ retired hidden: --include-retired lists them\)/);
  });

  it('marks deprecated models, and lists retired ones with --include-retired', async () => {
    const june = await run('catalog', '--capability', 'vision,function_calling', '--date', '2026-06-01');
    expect(june.out).to.match(/mistral-small-2506\s.*deprecated \(retires 2026-07-31\)\s+unknown/);
    expect(june.out).to.not.match(/mistral-small-2503/);
    const all = await run('catalog', '--capability', 'vision,function_calling', '--date', '2026-12-07', '--include-retired');
    expect(all.out).to.match(/mistral-small-2503\s.*retired -> mistral-small-2603\s+500k\s+1G/);
    expect(all.out).to.match(/pixtral-12b-2409\s.*retired -> ministral-14b-2512/);
  });

  it('filters by minimum context, family and open weights, and prints JSON with the lifecycle', async () => {
    const { code, out } = await run('catalog', '--min-context', '100000', '--family', 'mistral-small', '--open-weights', '--json', '--include-retired', '--date', '2026-12-07');
    expect(code).to.equal(0);
    const models = JSON.parse(out) as { id: string; limits: { tokensPerMinute: number | null }; lifecycle: { status: string; successor: string | null } }[];
    expect(models.map((m) => m.id)).to.deep.equal(['mistral-small-2506', 'mistral-small-2503']);
    expect(models[1]?.limits.tokensPerMinute).to.equal(500_000);
    expect(models[0]?.lifecycle).to.include({ status: 'retired', successor: 'mistral-small-2603' });
  });

  it('--live merges the emulator\'s /v1/models and reports the drift', async () => {
    const emulator = await startEmulator({
      clock: new FakeClock(Date.UTC(2026, 11, 7)),
      // The emulator serves that key three models, and one the bundled catalogue lacks (an extra card).
      modelsByKey: { 'mistral-router-cli': ['mistral-small-2603', 'ministral-8b-2512', 'mistral-embed', 'mistral-small-2612'] },
      extraCards: [
        {
          id: 'mistral-small-2612',
          name: 'mistral-small-2612',
          max_context_length: 524288,
          aliases: [],
          deprecation: null,
          capabilities: { completion_chat: true, function_calling: true, vision: true },
        },
      ],
    });
    const saved = process.env.MISTRAL_API_KEY;
    delete process.env.MISTRAL_API_KEY;
    try {
      const { code, out } = await run('catalog', '--live', '--server-url', emulator.url, '--date', '2026-12-07');
      expect(code, out).to.equal(0);
      expect(rowsOf(out).map((r) => r.split(/\s+/)[0])).to.have.members(['mistral-embed', 'mistral-small-2603', 'ministral-8b-2512', 'mistral-small-2612']);
      expect(out).to.match(/mistral-small-2612\s+mistral-small-2612\s+\?\s+512k\s+chat,vision,function_calling,json_mode\s+current/);
      expect(out).to.match(/listed by the API, not in the bundled catalogue \(1\): mistral-small-2612/);
      expect(out).to.match(/bundled, no longer served \(\d+, and 41 retired as the catalogue expects\): .*mistral-large-2512 \(current\)/);
      const json = JSON.parse((await run('catalog', '--live', '--server-url', emulator.url, '--date', '2026-12-07', '--json')).out) as { drift: { added: string[] } };
      expect(json.drift.added).to.deep.equal(['mistral-small-2612']);
    } finally {
      if (saved !== undefined) process.env.MISTRAL_API_KEY = saved;
      await emulator.stop();
    }
  });

  it('--live reports a failed list and exits 1', async () => {
    const emulator = await startEmulator({ apiKeys: ['only-this-key'] });
    const saved = process.env.MISTRAL_API_KEY;
    delete process.env.MISTRAL_API_KEY;
    try {
      const { code, err } = await run('catalog', '--live', '--server-url', emulator.url);
      expect(code).to.equal(1);
      expect(err).to.match(/GET http:\/\/127\.0\.0\.1:\d+\/v1\/models failed: .*401/);
      expect(err).to.not.contain('mistral-router-cli');
    } finally {
      if (saved !== undefined) process.env.MISTRAL_API_KEY = saved;
      await emulator.stop();
    }
  });

  for (const [args, message] of [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--capability', 'telepathy'], /unknown capability "telepathy"/],
    [['--min-context', 'lots'], /--min-context expects a whole number >= 0, received "lots"/],
    [['--min-context=-5'], /--min-context expects a whole number/],
    [['--version', 'newest'], /version: expected "latest"/],
    [['--date', 'yesterday'], /--date expects a day YYYY-MM-DD, received "yesterday"/],
    [['--server-url', 'http://127.0.0.1:1'], /--server-url is used with --live/],
    [['--live', '--server-url', 'http://user:secret@127.0.0.1:1'], /--server-url expects an http\(s\) URL without credentials, received "http:\/\/\*\*\*@127/],
  ] as const) {
    it(`exits 2 with a clear message for ${args.join(' ')}`, async () => {
      const { code, err } = await run('catalog', ...args);
      expect(err).to.match(message);
      expect(err).to.not.contain('secret');
      expect(code).to.equal(2);
    });
  }

  it('exits 2 for an unknown command', async () => {
    const { code, err } = await run('frobnicate');
    expect(code).to.equal(2);
    expect(err).to.match(/unknown command "frobnicate"/);
  });
});
