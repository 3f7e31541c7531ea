/**
 * `POST /v1/fim/completions` with `stream: true` through the gateway to the emulator: the official
 * Mistral SDK's `fim.stream` unchanged, the raw SSE as curl sees it (the routing headers, `data:` chunks,
 * `[DONE]`), fallback on quota before the first chunk, a client that disconnects mid-stream (the upstream
 * cancelled, nothing pending), and the stream in /metrics and the access log.
 */
import { Mistral } from '@mistralai/mistralai';
import { HTTPClient } from '@mistralai/mistralai/lib/http.js';
import { expect } from 'chai';
import { until } from '../helpers/routed.js';
import { ALPHA_KEY, baseConfig, expectNoSecret, raw, setup } from './support.js';

const fimBody = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'auto', prompt: 'def add(a, b):', suffix: '\n', max_tokens: 12, stream: true, ...extra });

/** The `data:` events of an SSE body, the last one `[DONE]` when the stream completed. */
const eventsOf = (text: string) => text.split('\n\n').filter((e) => e !== '').map((e) => e.slice('data: '.length));

describe('gateway: FIM streams', () => {
  it('the Mistral SDK\'s fim.stream reads it unchanged; the decision is in the headers; nothing pending', async () => {
    const { url, store, emulator } = await setup();
    const headers: Headers[] = [];
    const httpClient = new HTTPClient();
    httpClient.addHook('response', (response) => void headers.push(response.headers));
    const client = new Mistral({ apiKey: ALPHA_KEY, serverURL: url, httpClient, retryConfig: { strategy: 'none' } });
    let text = '';
    let total: number | undefined;
    for await (const event of await client.fim.stream({ model: 'codestral-2501', prompt: 'def add(a, b):', suffix: '\n', maxTokens: 12 })) {
      text += String(event.data.choices[0]?.delta.content ?? '');
      total = event.data.usage?.totalTokens ?? total;
      expect(event.data.model).to.equal('codestral-2501');
    }
    expect(text).to.contain('(codestral-2501).');
    expect(total).to.be.greaterThan(12);
    expect(headers[0]?.get('content-type')).to.equal('text/event-stream');
    expect(headers[0]?.get('x-mistral-router-model')).to.equal('codestral-2501');
    expect(headers[0]?.get('x-mistral-router-attempts')).to.equal('1');
    expect(emulator.stats().requests).to.equal(1);
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('raw SSE as curl gets it: data chunks with the routed model, usage on the last, then [DONE]; access-logged', async () => {
    const { url, logs } = await setup();
    const sse = await raw(`${url}/v1/fim/completions`, { method: 'POST', body: fimBody() });
    expect(sse.status).to.equal(200);
    expect(sse.headers.get('content-type')).to.equal('text/event-stream');
    expect(sse.headers.get('cache-control')).to.equal('no-cache');
    expect(sse.headers.get('x-mistral-router-model')).to.equal('codestral-2501');
    expect(sse.headers.get('x-mistral-router-workspace')).to.equal('team');
    expect(sse.headers.get('x-mistral-router-fallbacks')).to.equal('');
    const events = eventsOf(sse.text);
    expect(events.at(-1)).to.equal('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { model: string; usage?: { total_tokens: number } });
    expect(chunks.length).to.be.greaterThan(2);
    expect(chunks.every((c) => c.model === 'codestral-2501'), 'auto answered by a FIM model').to.equal(true);
    const total = chunks.at(-1)?.usage?.total_tokens;
    expect(total).to.be.greaterThan(12);
    const line = JSON.parse(logs.at(-1) as string) as Record<string, unknown>;
    expect(line).to.include({ path: '/v1/fim/completions', status: 200, route: 'auto', model: 'codestral-2501', tokens: total, attempts: 1 });
    expectNoSecret(sse.text, JSON.stringify([...sse.headers]), ...logs);
  });

  it('an upstream 429 before the first chunk falls back to the next FIM model, said in the headers', async () => {
    const { url, store } = await setup({ emulator: { overrides: { requestsPerSecond: 1000, models: { 'codestral-2501': { tokensPerMinute: 10 } } } } });
    const sse = await raw(`${url}/v1/fim/completions`, { method: 'POST', body: fimBody() });
    expect(sse.status).to.equal(200);
    expect(sse.headers.get('x-mistral-router-model')).to.equal('codestral-2405');
    expect(sse.headers.get('x-mistral-router-attempts')).to.equal('2');
    expect(sse.headers.get('x-mistral-router-fallbacks')).to.equal('codestral-2501 quota');
    expect(eventsOf(sse.text).at(-1)).to.equal('[DONE]');
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('a client that disconnects mid-stream: the upstream stream is cancelled and nothing stays pending', async () => {
    const { url, gateway, store, emulator, logs } = await setup({ emulator: { faults: { chunkIntervalMs: 1000 } } });
    const controller = new AbortController();
    const response = await fetch(`${url}/v1/fim/completions`, { method: 'POST', headers: { authorization: `Bearer ${ALPHA_KEY}`, 'content-type': 'application/json' }, body: fimBody(), signal: controller.signal });
    expect(response.status).to.equal(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).to.match(/^data: \{/);
    expect(await store.pendingReservations()).to.equal(1);
    controller.abort();
    await reader.read().catch(() => undefined);
    // Without the cancel, the upstream stream would stay open ~10 s (one event a second).
    await until(async () => gateway.inFlight === 0 && (await store.pendingReservations()) === 0, 'the stream to be settled');
    expect(emulator.stats().requests).to.equal(1);
    // Logged as the client's leaving (499), with the tokens its key was charged (the estimate: no usage came).
    const line = JSON.parse(logs.find((l) => l.includes('"path":"/v1/fim/completions"')) as string) as Record<string, unknown>;
    expect(line).to.include({ status: 499, error: 'client_closed_request' });
    expect(line.tokens).to.be.a('number').and.above(0);
  });

  it('/metrics counts the stream under endpoint fim and measures it as a text completion', async () => {
    const { url } = await setup({ config: (u) => baseConfig(u, { server: { port: 0 } }) });
    expect((await raw(`${url}/v1/fim/completions`, { method: 'POST', body: fimBody() })).status).to.equal(200);
    const metrics = (await raw(`${url}/metrics`, { key: null })).text;
    expect(metrics).to.contain('mistral_router_gateway_requests_total{endpoint="fim",route="auto",model="codestral-2501",status="200",key="alpha"} 1');
    expect(metrics).to.match(/^gen_ai_client_operation_time_to_first_chunk_seconds_count\{gen_ai_operation_name="text_completion".*gen_ai_response_model="codestral-2501".*\} 1$/m);
  });

  it('embeddings still take no `stream` (Mistral\'s API has none): 400 naming it', async () => {
    const { url, emulator } = await setup();
    const reply = await raw(`${url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'embed', input: 'x', stream: true }) });
    expect(reply.status).to.equal(400);
    expect(reply.json().param).to.equal('stream');
    expect(emulator.stats().requests).to.equal(0);
  });
});
