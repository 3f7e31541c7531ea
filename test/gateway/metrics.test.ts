import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { accessRecord } from '../../lib/gateway/access-log.js';
import { openPagesWarning } from '../../lib/gateway/gateway.js';
import { gatewayMetrics } from '../../lib/gateway/metrics.js';
import { createRouter } from '../../lib/index.js';
import { catalog2025 } from '../helpers/catalog-2025.js';

describe('gateway metrics: requests counted per label set, handed to prom-client when read or at the turn\'s end', () => {
  it('every scrape shows the running totals; paths outside /v1/ are not counted', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12));
    const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team', apiKey: 'k', tier: 'free' }], serverURL: 'http://127.0.0.1:9', clock });
    const metrics = gatewayMetrics(router);
    if (metrics === undefined) throw new Error('prom-client is a dev dependency of the project');
    const call = (status: number, key: string) => {
      const record = accessRecord(clock.now(), 'POST', '/v1/chat/completions');
      Object.assign(record, { status, key, route: 'auto', model: 'mistral-small-2506' });
      metrics.record(record);
    };
    const line = (status: number, key: string) => `mistral_router_gateway_requests_total{endpoint="chat",route="auto",model="mistral-small-2506",status="${status}",key="${key}"}`;
    call(200, 'alpha');
    call(200, 'alpha');
    call(429, 'beta');
    metrics.record(Object.assign(accessRecord(clock.now(), 'GET', '/healthz'), { status: 200 }));
    const first = await metrics.registry.metrics();
    expect(first).to.contain(`${line(200, 'alpha')} 2`).and.contain(`${line(429, 'beta')} 1`);
    expect(first).to.not.contain('endpoint=""');
    call(200, 'alpha');
    const second = await metrics.registry.metrics();
    expect(second).to.contain(`${line(200, 'alpha')} 3`).and.contain(`${line(429, 'beta')} 1`);
    expect(await metrics.registry.metrics()).to.contain(`${line(200, 'alpha')} 3`);
    await router.close();
  });
});

describe('gateway: operations pages on an address others can reach', () => {
  it('a warning when /metrics or /dashboard (which take no key) are served off loopback; none on loopback', () => {
    expect(openPagesWarning('127.0.0.1', true, true)).to.equal(undefined);
    expect(openPagesWarning('::1', true, true)).to.equal(undefined);
    expect(openPagesWarning('0.0.0.0', false, false)).to.equal(undefined);
    expect(openPagesWarning('0.0.0.0', true, true)).to.equal('GET /metrics and GET /dashboard take no key and show key names, limits and use: on 0.0.0.0 restrict them in front of the gateway, or set server.dashboard: false');
    expect(openPagesWarning('10.0.0.5', true, false)).to.equal('GET /metrics take no key and show key names, limits and use: on 10.0.0.5 restrict them in front of the gateway');
  });
});
