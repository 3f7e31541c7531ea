import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../../lib/catalog/index.js';
import { loadWorkspaceFile, readTrace, replay, reportHtml, summarise, type ReplayResult, type ReplaySummary } from '../../lib/simulate/index.js';
import { checkCharts } from '../helpers/svg.js';
import { TokenEstimator } from '../../lib/tokens.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));

describe('simulate: a small replay through the router against the emulator', function () {
  const catalog = loadCatalog();
  const requests = readTrace(fixture('simulate-trace.jsonl')).requests;
  const workspaces = loadWorkspaceFile(fixture('simulate-workspaces.yaml'), catalog);
  const run = (upstream: { window: 'fixed' | 'sliding'; charge: 'max-tokens' | 'usage' }) =>
    replay({ requests, catalog, workspaces, upstream, need: { family: ['ministral-3b', 'ministral-8b'] }, maxWaitMs: 20_000, start: Date.UTC(2026, 11, 7, 9, 0, 30) });

  let fixed: ReplayResult;
  let summary: ReplaySummary;
  before(async () => {
    fixed = await run({ window: 'fixed', charge: 'max-tokens' });
    summary = summarise(fixed);
  });

  it('serves, falls back, waits and refuses exactly as the limits allow (fixed windows, prompt + max_tokens)', () => {
    // Minute 1: 3b takes five 2,000-token calls (10,000), 8b two (4,000 of 5,000), the next three are refused
    // (the windows reset 53 s later, beyond maxWaitMs); the calls at 45 s and 50 s wait into minute 2; the
    // 20,100-token one fits no limit; minute 2 serves the rest, the last by its own need on 8b.
    expect(fixed.start).to.equal(Date.UTC(2026, 11, 7, 9, 0));
    expect(summary).to.deep.include({ requests: 17, served: 13, refused: 3, failed: { NO_ELIGIBLE_MODEL: 1 }, fallbacks: 2, errorFallbacks: 0, upstream429s: 0, upstreamRequests: 13, minutes: 2 });
    expect(summary.waited.count).to.equal(2);
    expect(fixed.calls.filter((c) => c.waitedMs > 0).map((c) => [c.line, c.model])).to.deep.equal([[11, 'ministral-3b-2512'], [12, 'ministral-3b-2512']]);
    expect(fixed.calls.filter((c) => c.outcome === 'refused').map((c) => c.line)).to.deep.equal([8, 9, 10]);
    const [small, large] = summary.models;
    expect(small).to.deep.include({ model: 'ministral-3b-2512', served: 10, tokensUsed: 16_250, limitPerMinute: 10_000, allowed: 20_000, usedPerMinute: [10_000, 6_250], neededPerMinute: [44_100, 2_250], peakNeededPerMinute: 44_100, refused: 3 });
    expect(large).to.deep.include({ model: 'ministral-8b-2512', served: 3, tokensUsed: 5_000, limitPerMinute: 5_000, usedPerMinute: [4_000, 1_000], neededPerMinute: [0, 1_000], refused: 0 });
    expect(fixed.pendingReservations).to.equal(0);
  });

  it("counts the tokens the emulator charged, and every arrival on the replay's clock", () => {
    for (const model of summary.models) expect(fixed.emulator.tokens[model.model]?.totalTokens).to.equal(model.tokensUsed);
    expect(fixed.calls.map((c) => c.arrivalMs)).to.deep.equal(requests.map((r) => r.at));
    expect(fixed.calls.filter((c) => c.outcome === 'served' && c.waitedMs === 0).every((c) => c.endedMs === c.arrivalMs)).to.equal(true);
  });

  it("draws each model's series as the summary counts them (SVG bars, limit line, refusal and wait marks)", () => {
    const html = reportHtml(summary, fixed, { trace: 'simulate-trace.jsonl', speedup: 1, window: 'fixed', charge: 'max-tokens', workspaces: ['solo (free)'], need: '{}' });
    expect(html).to.not.match(/<script|https?:\/\/(?!www\.w3\.org)/); // self-contained: no script, no CDN
    checkCharts(html, summary);
  });

  it("takes more of the router's options (an estimator to watch) and records each call's estimate", async () => {
    const tokenEstimator = new TokenEstimator();
    const result = await replay({ requests: requests.slice(0, 3), catalog, workspaces, need: { family: ['ministral-3b'] }, start: Date.UTC(2026, 11, 7, 9, 0), router: { tokenEstimator } });
    expect(result.calls.map((c) => c.outcome)).to.deep.equal(['served', 'served', 'served']);
    // The estimate is the router's (its calibration moved after the first call): never 0 for a served call.
    expect(result.calls.every((c) => c.estimatedTokens > 1_000)).to.equal(true);
    expect(tokenEstimator.ratio).to.not.equal(1);
  });

  it('on a sliding log charging usage after the fact, admits what that upstream admits', async () => {
    const sliding = summarise(await run({ window: 'sliding', charge: 'usage' }));
    // The upstream admits while the prompt fits and charges the usage afterwards: 8b takes a third call.
    expect(sliding).to.deep.include({ served: 14, refused: 2, fallbacks: 3, upstream429s: 0 });
    expect(sliding.models[1]?.usedPerMinute).to.deep.equal([6_000, 1_000]);
  });
});
