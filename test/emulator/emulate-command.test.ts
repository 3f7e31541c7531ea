import { expect } from 'chai';
import { runEmulate, parseEmulateArguments } from '../../lib/cli/emulate.js';
import { UsageError, type CliIO } from '../../lib/cli/io.js';

function capture(): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => void stdout.push(text), err: (text) => void stderr.push(text) };
}

describe('cli: mistral-router emulate', () => {
  it('parses every flag', () => {
    expect(parseEmulateArguments(['--tier', 'free', '--port', '0', '--host', '127.0.0.1', '--latency-ms', '5', '--fault-rate', '0.1', '--keys', 'k1,k2', '--seed', '9'])).to.deep.equal({
      tier: 'free',
      port: 0,
      host: '127.0.0.1',
      latencyMs: 5,
      faultRate: 0.1,
      keys: ['k1', 'k2'],
      seed: 9,
      help: false,
    });
  });

  for (const args of [['--bogus'], ['--port', 'eighty'], ['--port', '70000'], ['--fault-rate', '2'], ['--latency-ms', '-1'], ['--keys', 'a,,b'], ['extra']]) {
    it(`throws a UsageError for ${args.join(' ')}`, () => {
      expect(() => parseEmulateArguments(args)).to.throw(UsageError);
    });
  }

  it('refuses an unknown tier with the known ones named', async () => {
    let error: unknown;
    try {
      await runEmulate(['--tier', 'platinum', '--port', '0'], capture(), new AbortController().signal);
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(UsageError).with.property('message').that.contains('free');
  });

  it('prints the URL, serves until stopped, then exits 0', async () => {
    const io = capture();
    const controller = new AbortController();
    const running = runEmulate(['--port', '0', '--keys', 'secret'], io, controller.signal);
    for (let i = 0; i < 100 && io.stdout.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const url = /listening on (http:\/\/\S+)/.exec(io.stdout.join(''))?.[1];
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer secret' } })).status).to.equal(200);
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer other' } })).status).to.equal(401);
    controller.abort();
    expect(await running).to.equal(0);
    expect(io.stdout.join('')).to.contain('Stopped after 2 requests');
  });
});
