import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCatalog } from '../../lib/catalog/index.js';
import { ConfigFileError } from '../../lib/gateway/errors.js';
import { loadWorkspaceFile } from '../../lib/simulate/index.js';

describe('simulate: workspace files', () => {
  const catalog = loadCatalog();
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'simulate-ws-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (text: string) => {
    const path = join(dir, `w${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(path, text);
    return path;
  };

  it('reads workspaces with their tiers and overrides, aliases resolved to ids, api keys ignored', () => {
    const workspaces = loadWorkspaceFile(file('server: { port: 4000 }\nworkspaces:\n  - name: a\n    tier: free\n    apiKey: ${KEY}\n    overrides: { requestsPerSecond: null, models: { ministral-8b-latest: { tokensPerMinute: 9000 } } }\n  - { name: b, tier: free }\n'), catalog);
    expect(workspaces).to.deep.equal([
      { name: 'a', tier: 'free', overrides: { requestsPerSecond: null, models: { 'ministral-8b-2512': { tokensPerMinute: 9000 } } } },
      { name: 'b', tier: 'free' },
    ]);
  });

  it("reads the README's example file", () => {
    const example = new URL('../../../examples/simulate-workspaces.yaml', import.meta.url).pathname;
    expect(loadWorkspaceFile(example, catalog).map((w) => [w.name, Object.keys(w.overrides?.models ?? {})])).to.deep.equal([
      ['team-a', ['ministral-3b-2512', 'ministral-8b-2512']],
      ['team-b', ['ministral-3b-2512', 'ministral-8b-2512']],
    ]);
  });

  const bad: [string, RegExp][] = [
    ['workspaces:\n  - name: a\n    tier: gold\n', /:3: unknown tier "gold"; known tiers: free \(at \/workspaces\/0\/tier\)/],
    ['workspaces:\n  - name: a\n    tier: free\n  - name: a\n    tier: free\n', /:4: duplicate workspace name "a" \(also workspaces\[0\]\)/],
    ['workspaces:\n  - name: a\n    tier: free\n    overrides:\n      models:\n        gpt-9: { tokensPerMinute: 1 }\n', /:6: unknown model "gpt-9"/],
    ['workspaces:\n  - name: a\n    tier: free\n    overrides: { requestsPerSecond: -1 }\n', /:4: field workspaces\.0\.overrides\.requestsPerSecond: /],
    ['workspaces:\n  - name: a\n    teir: free\n', /:2: field workspaces\.0: missing required field "tier"|unknown field "teir"/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${message.source.slice(0, 50)}`, () => {
      expect(() => loadWorkspaceFile(file(text), catalog)).to.throw(ConfigFileError, message);
    });
  }
});
