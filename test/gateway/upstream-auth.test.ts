/**
 * Mistral refuses the gateway's own upstream key (401): the client is told it is the gateway's problem
 * (502, then 503 `upstream_unauthorized`, never a 400 blaming its request), the log says which workspace,
 * and /readyz goes not ready so that a load balancer takes the instance out.
 */
import { expect } from 'chai';
import { chatBody, expectNoSecret, raw, setup } from './support.js';

describe('gateway: an upstream key Mistral refuses', () => {
  it('first the upstream 401 (502), then 503 upstream_unauthorized naming the workspace; /readyz not ready; no key anywhere', async () => {
    // The emulator knows another key only: the workspace's key is refused.
    const { url, logs, store } = await setup({ emulator: { apiKeys: ['sk-some-other-key-0123456789'] } });
    expect((await raw(`${url}/readyz`, { key: null })).status).to.equal(200);
    const first = await raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('auto') });
    expect(first.status).to.equal(502);
    expect(first.json()).to.include({ code: 'upstream_401' });
    const next = await raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('auto') });
    expect(next.status).to.equal(503);
    expect(next.json()).to.include({ code: 'upstream_unauthorized', type: 'service_unavailable' });
    expect(next.json().message).to.include('Mistral refused the API key (401/403) of every workspace that serves its models (team)');
    const ready = await raw(`${url}/readyz`, { key: null });
    expect(ready.status).to.equal(503);
    expect(ready.json()).to.deep.equal({ status: 'not ready', reason: 'Mistral refused the API key of every workspace (401/403): team' });
    const line = logs.find((l) => l.includes('refused this workspace'));
    expect(JSON.parse(line as string)).to.include({ level: 'error', workspace: 'team', status: 401 });
    expectNoSecret(first.text, next.text, ready.text, ...logs);
    expect(await store.pendingReservations()).to.equal(0);
  });
});
