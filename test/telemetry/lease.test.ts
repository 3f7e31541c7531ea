/**
 * A lease (`router.reserve()`) is a routed call the caller sends itself, and telemetry sees it as one: a
 * CLIENT span from reserve() (child of the caller's active span) to settle() or release(), with one
 * attempt span, the usage the caller reports, its cost and wait; a released lease is an error
 * (`LEASE_RELEASED`); a refused one carries the router's error code; the metrics count it.
 */
import { expect } from 'chai';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { instrumentRouter } from '../../lib/telemetry/otel.js';
import { histogramPoints, otelHarness, withContextManager, type OtelHarness } from '../helpers/otel.js';
import { KEY_A, closeAll, pricedRouter, text } from '../helpers/priced-router.js';

let harness: OtelHarness | undefined;
afterEach(async () => {
  await closeAll();
  await harness?.close();
  harness = undefined;
});

async function leased(routerOptions: Parameters<typeof pricedRouter>[0] = {}) {
  const setup = await pricedRouter(routerOptions);
  const otel = (harness = otelHarness());
  instrumentRouter(setup.router, { tracer: otel.tracerProvider.getTracer('test'), meter: otel.meterProvider.getMeter('test') });
  return { ...setup, otel };
}

const client = (spans: ReadableSpan[]) => spans.filter((s) => s.kind === SpanKind.CLIENT);
const internal = (spans: ReadableSpan[]) => spans.filter((s) => s.kind === SpanKind.INTERNAL);

describe('telemetry: leases (router.reserve) are routed calls too', () => {
  it('settled: a CLIENT span from reserve to settle, child of the caller\'s span, with the usage, cost and one attempt span', async () => {
    const stop = withContextManager();
    try {
      const { router, otel, clock } = await leased();
      const handler = otel.tracerProvider.getTracer('handler').startSpan('POST /my-own-call');
      const lease = await context.with(trace.setSpan(context.active(), handler), () => router.reserve('chat', { model: 'lean-chat', messages: text('my own private call'), maxTokens: 40 }));
      expect(otel.spans(), 'nothing ends before the lease does').to.have.length(0);
      await clock.advanceAsync(250); // the caller's own request
      await lease.settle({ promptTokens: 12, completionTokens: 30, totalTokens: 42 });
      handler.end();
      const [call] = client(otel.spans());
      const [attempt] = internal(otel.spans());
      expect(call?.name).to.equal('chat lean-chat');
      expect(call?.parentSpanContext?.spanId).to.equal(handler.spanContext().spanId);
      expect(call?.attributes).to.deep.include({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'mistral_ai',
        'gen_ai.request.model': 'lean-chat',
        'gen_ai.request.max_tokens': 40,
        'gen_ai.usage.input_tokens': 12,
        'gen_ai.usage.output_tokens': 30,
        'mistral_router.lease': true,
        'mistral_router.workspace': 'team-a',
        'mistral_router.attempts': 1,
        'mistral_router.fallbacks': 0,
        'mistral_router.wait_ms': 0,
      });
      expect(call?.attributes['mistral_router.cost.usd']).to.be.closeTo((12 * 0.2 + 30 * 0.6) / 1e6, 1e-15);
      // What the response said is the caller's to know: the router saw no response.
      expect(call?.attributes).to.not.have.property('gen_ai.response.id');
      expect(call?.status.code).to.equal(SpanStatusCode.UNSET);
      expect(attempt?.name).to.equal('mistral_router.attempt lean-chat');
      expect(attempt?.parentSpanContext?.spanId).to.equal(call?.spanContext().spanId);
      expect(attempt?.attributes).to.deep.include({ 'mistral_router.outcome': 'ok', 'mistral_router.attempt': 1 });
      const duration = histogramPoints(await otel.metric('gen_ai.client.operation.duration'), { 'gen_ai.request.model': 'lean-chat' });
      expect(duration[0]?.value.sum).to.equal(0.25);
      const tokens = histogramPoints(await otel.metric('gen_ai.client.token.usage'), { 'gen_ai.token.type': 'output' });
      expect(tokens[0]?.value.sum).to.equal(30);
      expect(JSON.stringify(otel.spans().map((s) => s.attributes))).to.not.include('private').and.not.include(KEY_A);
    } finally {
      stop();
    }
  });

  it('released: the span ends as an error of type LEASE_RELEASED; settling twice ends nothing twice', async () => {
    const { router, otel } = await leased();
    const lease = await router.reserve('chat', { model: 'lean-chat', messages: text('never sent'), maxTokens: 10 });
    await lease.release();
    await lease.release();
    await lease.settle({ totalTokens: 5 });
    const spans = client(otel.spans());
    expect(spans).to.have.length(1);
    expect(spans[0]?.attributes['error.type']).to.equal('LEASE_RELEASED');
    expect(spans[0]?.status.code).to.equal(SpanStatusCode.ERROR);
    expect(internal(otel.spans())).to.have.length(1);
  });

  it('refused (a budget with no room): the span carries the router\'s error code, no attempt span', async () => {
    const { router, otel } = await leased({ workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: 0 } }] });
    const refused = await router.reserve('chat', { model: 'lean-chat', messages: text('too dear'), maxTokens: 10, maxWaitMs: 0 }).catch((error: unknown) => error);
    expect((refused as { code?: string }).code).to.be.a('string');
    const spans = client(otel.spans());
    expect(spans).to.have.length(1);
    expect(spans[0]?.attributes['error.type']).to.equal((refused as { code: string }).code);
    expect(internal(otel.spans())).to.have.length(0);
  });
});
