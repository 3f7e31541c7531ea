/**
 * The README's one-shot commands run as written: every `npm run catalog -- ...`, `npm run cli -- route ...`
 * and `mistral-router catalog ...` line of its `sh` blocks is run through the CLI in-process and must exit 0
 * (a `--server-url` of the README's local emulator is pointed at one started here). Long-running commands
 * (`emulate`, `serve`, `demo`, `bench`) and the ones that need the real API (`--live` without a server URL)
 * are left to their own tests. The table printed after the first catalogue command is compared too, so the
 * README shows what the command prints today.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startEmulator } from '../../lib/emulator/index.js';
import { runCli } from '../helpers/cli.js';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

/** The lines of the README's ```sh blocks, continuation lines joined, comments dropped. */
function shellLines(): string[] {
  const lines: string[] = [];
  for (const block of readme.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    const joined = (block[1] ?? '').replace(/\\\n\s*/g, ' ');
    for (const line of joined.split('\n')) {
      const command = line.replace(/\s+#.*$/, '').trim();
      if (command !== '') lines.push(command);
    }
  }
  return lines;
}

/** The CLI arguments of a line this test runs, or undefined for a line it leaves to other tests. */
function cliArgs(line: string): string[] | undefined {
  const words = line.split(/\s+/);
  let args: string[];
  if (words[0] === 'npm' && words[1] === 'run' && words[2] === 'catalog' && words[3] === '--') args = ['catalog', ...words.slice(4)];
  else if (words[0] === 'npm' && words[1] === 'run' && words[2] === 'cli' && words[3] === '--') args = words.slice(4);
  else if (words[0] === 'mistral-router') args = words.slice(1);
  else return undefined;
  if (args[0] !== 'catalog' && args[0] !== 'route') return undefined;
  if (args.includes('--live') && !args.includes('--server-url')) return undefined;
  return args;
}

describe('README commands', () => {
  const commands = shellLines().map((line) => ({ line, args: cliArgs(line) })).filter((c) => c.args !== undefined) as { line: string; args: string[] }[];

  it('has catalogue and route commands to run', () => {
    expect(commands.map((c) => c.args[0])).to.include.members(['catalog', 'route']);
  });

  for (const { line, args } of commands) {
    it(`${line} exits 0`, async () => {
      const emulator = args.includes('--server-url') ? await startEmulator({ apiKeys: ['local'] }) : undefined;
      const previousKey = process.env.MISTRAL_API_KEY;
      try {
        const run = emulator === undefined ? args : args.map((arg) => (arg === 'http://127.0.0.1:8080' ? emulator.url : arg));
        if (emulator !== undefined) process.env.MISTRAL_API_KEY = 'local';
        const { code, out, err } = await runCli(...run);
        expect(code, err).to.equal(0);
        expect(out.length).to.be.greaterThan(0);
      } finally {
        if (previousKey === undefined) delete process.env.MISTRAL_API_KEY;
        else process.env.MISTRAL_API_KEY = previousKey;
        await emulator?.stop();
      }
    });
  }

  it('shows the table the first catalogue command prints on the README\'s day', async () => {
    const shown = /npm run catalog -- --capability vision,function_calling\n```\n\n```\n([\s\S]*?)\n```/.exec(readme)?.[1];
    expect(shown, 'the table after the command').to.be.a('string');
    const day = /model\(s\) on (\d{4}-\d{2}-\d{2})/.exec(shown ?? '')?.[1] as string;
    const { out } = await runCli('catalog', '--capability', 'vision,function_calling', '--date', day);
    expect(out.trimEnd()).to.equal((shown ?? '').trimEnd());
  });
});
