import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { lineProgress, terminalProgress } from '../../lib/cli/progress.js';
import { runCli } from '../helpers/cli.js';
import { chartsOf, svgElements } from '../helpers/svg.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));
const mainJs = fileURLToPath(new URL('../../lib/cli/main.js', import.meta.url));
const trace = fixture('simulate-trace.jsonl');
const workspaces = fixture('simulate-workspaces.yaml');
const need = '{"family":["ministral-3b","ministral-8b"]}';

describe('cli: mistral-router simulate', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'simulate-cli-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replays a trace end to end (the built command): plain progress lines off a TTY, the tables, the report', async () => {
    const out = join(dir, 'report.html');
    const args = [mainJs, 'simulate', '--trace', trace, '--workspace-file', workspaces, '--need', need, '--max-wait-ms', '20000', '--date', '2026-12-07', '--out', out];
    const { stdout, stderr } = await promisify(execFile)(process.execPath, args, { timeout: 60_000 });
    expect(stderr).to.equal('');
    expect(stdout).to.match(/^replaying 17 requests of .*simulate-trace\.jsonl at x1, fixed windows charging max-tokens, through solo \(free\)$/m);
    expect(stdout).to.match(/^simulate: 17\/17 \(100%\) requests arrived, 17 settled, virtual 1:10$/m);
    expect(stdout).to.not.match(/\r|\u001b\[/); // no bar, no escape codes
    expect(stdout).to.match(/^served\s+13\s+76\.5%$/m);
    expect(stdout).to.match(/^waited\s+2\s+for quota: p50 12\.0 s, p99 16\.0 s \(virtual\)$/m);
    expect(stdout).to.match(/^refused\s+3\s+/m);
    expect(stdout).to.match(/^failed\s+1\s+1 NO_ELIGIBLE_MODEL$/m);
    expect(stdout).to.match(/^fallbacks\s+2\s+/m);
    expect(stdout).to.match(/^upstream 429s\s+0\s+of 13 upstream responses$/m);
    expect(stdout).to.match(/^ministral-3b-2512\s+10\s+16,250\s+10,000\s+81\.3% of 20,000\s+10,000\s+44,100\s+3$/m);
    expect(stdout).to.match(/^ministral-8b-2512\s+3\s+5,000\s+5,000\s+50\.0% of 10,000\s+4,000\s+1,000\s+0$/m);
    expect(stdout).to.match(/^all models\s+13\s+21,250\s+15,000\s+70\.8% of 30,000\s+14,000\s+44,100\s+3$/m);
    expect(stdout).to.include(`report: ${out}`);
    const charts = chartsOf(readFileSync(out, 'utf8'));
    const used = (model: string) => svgElements(charts.get(model) as string, 'rect', 'used').reduce((sum, bar) => sum + Number(bar['data-tokens']), 0);
    expect([used('ministral-3b-2512'), used('ministral-8b-2512')]).to.deep.equal([16_250, 5_000]);
  });

  const usage: [string, string[], RegExp][] = [
    ['an unknown --window value', ['--window', 'rolling'], /--window expects fixed or sliding, received "rolling"/],
    ['an unknown --charge value', ['--charge', 'free'], /--charge expects max-tokens or max-tokens-corrected or usage, received "free"/],
    ['a missing trace', ['--trace', '/nonexistent.csv'], /--trace: no such file "\/nonexistent\.csv"/],
    ['a missing workspace file', ['--workspace-file', '/nonexistent.yaml'], /--workspace-file: no such file/],
    ['--tier with --workspace-file', ['--tier', 'free'], /give --tier or --workspace-file, not both/],
    ['an unknown tier', ['--tier', 'gold', '--workspace-file'], /--tier: unknown tier "gold"/],
    ['a bad --speedup', ['--speedup', '0'], /--speedup expects a number/],
    ['a need with an unknown capability', ['--need', 'telepathy'], /--capability: unknown capability "telepathy"/],
    ['a need that is not JSON', ['--need', '{family'], /--need expects a JSON object or a comma-separated capability list/],
    ['an unknown flag', ['--bogus'], /Unknown option '--bogus'/],
    ['an --out folder that does not exist', ['--out', '/nonexistent/dir/r.html'], /--out: the folder "\/nonexistent\/dir" does not exist/],
  ];
  for (const [what, extra, message] of usage) {
    it(`exits 2 with a clear message for ${what}`, async () => {
      const base = ['simulate', '--trace', trace, '--workspace-file', workspaces];
      // Flags given here replace the base's (parseArgs keeps the last; --workspace-file alone drops its value).
      const args = extra[extra.length - 1] === '--workspace-file' ? ['simulate', '--trace', trace, ...extra.slice(0, -1)] : [...base, ...extra];
      const { code, err, out } = await runCli(...args);
      expect(code, out + err).to.equal(2);
      expect(err).to.match(message);
    });
  }

  it('exits 2 naming the file, line and field of a malformed trace row', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,12,3\n2023-11-16 18:15:47.00,twelve,3\n');
    const { code, err } = await runCli('simulate', '--trace', bad);
    expect(code).to.equal(2);
    expect(err).to.equal(`mistral-router simulate: ${bad}:3: ContextTokens: expected a whole number of tokens >= 0, received "twelve" [TRACE_INVALID]\n`);
  });

  it('exits 2 naming the file and line of a malformed workspace file', async () => {
    const bad = join(dir, 'bad-workspaces.yaml');
    writeFileSync(bad, 'workspaces:\n  - name: a\n    tier: platinum\n');
    const { code, err } = await runCli('simulate', '--trace', trace, '--workspace-file', bad);
    expect(code).to.equal(2);
    expect(err).to.equal(`mistral-router simulate: ${bad}:3: unknown tier "platinum"; known tiers: free (at /workspaces/0/tier) [CONFIG_INVALID]\n`);
  });

  it('lists simulate among the commands and prints its help', async () => {
    expect((await runCli('--help')).out).to.match(/^ {2}simulate {2}replay a trace/m);
    const help = await runCli('simulate', '--help');
    expect(help.code).to.equal(0);
    expect(help.out).to.match(/--window W\s+the upstream's minute windows: fixed \| sliding/);
  });
});

describe('cli: progress', () => {
  it('off a terminal: a line per tenth of the work and one at the end', () => {
    const lines: string[] = [];
    const progress = lineProgress((text) => void lines.push(text), 'job', 20);
    for (let done = 1; done <= 20; done++) progress.update(done, `step ${done}`);
    progress.stop();
    progress.stop();
    expect(lines).to.have.length(10);
    expect(lines[0]).to.equal('job: 2/20 (10%) step 2\n');
    expect(lines[9]).to.equal('job: 20/20 (100%) step 20\n');
  });

  it('on a terminal: a cli-progress bar drawn on the stream', () => {
    let written = '';
    const stream = { isTTY: true, columns: 100, write: (text: string) => ((written += text), true), cursorTo: () => true, clearLine: () => true, moveCursor: () => true, on: () => stream, removeListener: () => stream } as unknown as NodeJS.WriteStream;
    const progress = terminalProgress(stream, 'simulate', 4);
    progress.update(4, 'all arrived');
    progress.stop();
    expect(written).to.match(/simulate \[[█░]+\] 100% 4\/4 all arrived/);
  });
});
