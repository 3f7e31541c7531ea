/**
 * `GET /metrics` and `GET /dashboard` after a known sequence of calls: the Prometheus text counts them,
 * and the dashboard, rendered by a real headless Chromium (Debian's, through playwright-core), shows the
 * same numbers for every window and key. A screenshot is kept in test-artifacts/. Without a browser the
 * dashboard test is skipped with a message, except under CI=true, where .ci/run installs one.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { expect } from 'chai';
import { chromium, type Browser } from 'playwright-core';
import { catalogPriced } from '../helpers/catalog-priced.js';
import { BETA_KEY, baseConfig, chatBody, expectNoSecret, raw, setup, type GatewaySetup } from './support.js';

const CHROMIUM = '/usr/bin/chromium';

/** What the test reads of a page element (the tests compile without the DOM library). */
interface DomElement {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}

const ARTIFACTS = new URL('../../../test-artifacts/', import.meta.url);

/** The samples of one metric in Prometheus text: labels (as an object) and value. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[pair[1] as string] = pair[2] as string;
    out.push({ labels, value: Number(match[2]) });
  }
  return out;
}

/** Three chats by key alpha (its own token window), one embeddings call by beta, one 404. */
async function knownSequence(): Promise<GatewaySetup> {
  const s = await setup({
    config: (u) =>
      baseConfig(u, {
        workspaces: [{ name: 'team', apiKey: '${UPSTREAM}', tier: 'free', overrides: { requestsPerSecond: 1000, models: { 'mistral-small-2506': { tokensPerMinute: 100_000 } } } }],
        keys: [
          { name: 'alpha', key: '${GW_ALPHA}', limits: { tokensPerMinute: 50_000, requestsPerSecond: 100 } },
          { name: 'beta', key: '${GW_BETA}', routes: ['embed'] },
        ],
      }),
  });
  for (let i = 0; i < 3; i++) expect((await raw(`${s.url}/v1/chat/completions`, { method: 'POST', body: chatBody('vision-chat') })).status).to.equal(200);
  expect((await raw(`${s.url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'embed', input: 'x' }), key: BETA_KEY })).status).to.equal(200);
  expect((await raw(`${s.url}/v1/chat/completions`, { method: 'POST', body: chatBody('no-such-model') })).status).to.equal(404);
  return s;
}

describe('gateway: /metrics and the live dashboard', () => {
  it('/metrics counts requests by route, model, status and key, and the windows left, keys included', async () => {
    const { url, logs } = await knownSequence();
    const metrics = await raw(`${url}/metrics`, { key: null });
    expect(metrics.status).to.equal(200);
    const requests = samples(metrics.text, 'mistral_router_gateway_requests_total');
    expect(requests).to.deep.include({ labels: { endpoint: 'chat', route: 'vision-chat', model: 'mistral-small-2506', status: '200', key: 'alpha' }, value: 3 });
    expect(requests).to.deep.include({ labels: { endpoint: 'embeddings', route: 'embed', model: 'mistral-embed', status: '200', key: 'beta' }, value: 1 });
    expect(requests).to.deep.include({ labels: { endpoint: 'chat', route: '', model: '', status: '404', key: 'alpha' }, value: 1 });
    const remaining = samples(metrics.text, 'mistral_router_quota_remaining');
    const small = remaining.find((r) => r.labels.mistral_router_workspace === 'team' && r.labels.gen_ai_request_model === 'mistral-small-2506' && r.labels.mistral_router_window === 'tokens-per-minute');
    expect(small?.value).to.be.lessThan(100_000).and.greaterThan(100_000 - 3 * 200);
    const key = remaining.find((r) => r.labels.mistral_router_workspace === 'key:alpha' && r.labels.mistral_router_window === 'tokens-per-minute');
    expect(50_000 - (key?.value ?? 0)).to.equal(100_000 - (small?.value ?? 0));
    expect(metrics.text).to.match(/^gen_ai_client_token_usage_count\{.*gen_ai_token_type="input".*\} 3$/m);
    // Latency histograms of the whole call and of the routing decision (one per attempt).
    expect(samples(metrics.text, 'gen_ai_client_operation_duration_seconds_count').reduce((sum, s) => sum + s.value, 0)).to.equal(4);
    expect(samples(metrics.text, 'mistral_router_decision_duration_seconds_count')).to.deep.include.members([
      { labels: { gen_ai_operation_name: 'chat' }, value: 3 },
      { labels: { gen_ai_operation_name: 'embeddings' }, value: 1 },
    ]);
    expectNoSecret(metrics.text, ...logs);
  });

  describe('in Chromium', function () {
    let browser: Browser | undefined;
    before(async function () {
      if (!existsSync(CHROMIUM)) {
        if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing; .ci/run installs it (apt-get install -y chromium)`);
        console.warn(`\n  SKIPPED dashboard browser test: no ${CHROMIUM} (apt-get install -y chromium)\n`);
        this.skip();
      }
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    });
    after(async () => browser?.close());

    it('shows the numbers /metrics reports: every window left, each key\'s windows and calls answered', async () => {
      const { url } = await knownSequence();
      const page = await (browser as Browser).newPage();
      await page.goto(`${url}/dashboard`);
      await page.waitForSelector('#status[data-answered="4"]');
      const shown = await page.$$eval('tr[data-window]', (rows) =>
        // Runs in the page: only type casts (erased), no function of this file.
        (rows as unknown as DomElement[]).map((tr) => ({ key: tr.dataset.key, window: tr.dataset.window, remaining: tr.querySelector('td.remaining')?.dataset.value })),
      );
      const metrics = samples((await raw(`${url}/metrics`, { key: null })).text, 'mistral_router_quota_remaining');
      const compared = metrics.map((m) => {
        const workspace = m.labels.mistral_router_workspace as string;
        const isKey = workspace.startsWith('key:');
        const row = isKey
          ? shown.find((s) => s.key === workspace.slice(4) && s.window === m.labels.mistral_router_window)
          : shown.find((s) => s.key === undefined && s.window === `${workspace}|${m.labels.gen_ai_request_model ?? ''}|${m.labels.mistral_router_window}`);
        return { workspace, window: m.labels.mistral_router_window, metric: m.value, page: row?.remaining === undefined ? undefined : Number(row.remaining) };
      });
      expect(compared.length).to.be.greaterThan(3);
      for (const c of compared) expect(c.page, JSON.stringify(c)).to.equal(c.metric);
      const answered = await page.$eval('tr[data-key="alpha"] td.answered', (td) => (td as unknown as DomElement).dataset.value);
      expect(Number(answered)).to.equal(3);
      const decisions = await page.$$eval('#decisions tbody tr', (rows) => rows.map((tr) => tr.textContent ?? ''));
      expect(decisions).to.have.length(4);
      expect(decisions[0]).to.contain('beta').and.to.contain('mistral-embed');
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: new URL('gateway-dashboard.png', ARTIFACTS).pathname, fullPage: true });
      await page.close();
    });

    it('shows a key\'s monthly budget in USD, left as /metrics reports it', async () => {
      const { url } = await setup({ catalog: catalogPriced, config: (u) => baseConfig(u, { keys: [{ name: 'alpha', key: '${GW_ALPHA}', limits: { monthlyUsd: 0.05 } }] }) });
      expect((await raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('vision-chat') })).status).to.equal(200);
      const page = await (browser as Browser).newPage();
      await page.goto(`${url}/dashboard`);
      await page.waitForSelector('#status[data-answered="1"]');
      const row = await page.$eval('tr[data-key="alpha"][data-window="key-usd-per-month"]', (tr) => {
        const element = tr as unknown as DomElement;
        return { cells: Array.from(element.querySelectorAll('td'), (td) => td.textContent ?? ''), remaining: element.querySelector('td.remaining')?.dataset.value };
      });
      expect(row.cells).to.include('$0.05');
      const gauge = samples((await raw(`${url}/metrics`, { key: null })).text, 'mistral_router_budget_remaining_usd').find((m) => m.labels.mistral_router_budget === 'key:alpha');
      expect(gauge?.value).to.be.greaterThan(0).and.lessThan(0.05);
      expect(Number(row.remaining)).to.be.closeTo(gauge?.value as number, 1e-9);
      expect(row.cells.some((text) => text === `$${Number(row.remaining).toLocaleString('en-US', { maximumFractionDigits: 6 })}`)).to.equal(true);
      await page.close();
    });
  });
});
