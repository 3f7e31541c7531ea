/**
 * OpenTelemetry: the spans and metrics of real routed calls (the SDK against the emulator, fake clock),
 * read back from the SDK's in-memory exporter and a manual metric reader. Asserts names, kinds,
 * attributes, parent/child, a stream's span ending with the stream, waits as events, the caller's context
 * as parent, and that no key or message content appears anywhere.
 */
import { expect } from 'chai';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConfigError } from '../../lib/errors.js';
import { instrumentRouter } from '../../lib/telemetry/otel.js';
import { loadPeer } from '../../lib/telemetry/peer.js';
import { histogramPoints, otelHarness, withContextManager, type OtelHarness } from '../helpers/otel.js';
import { catalog2025 } from '../helpers/catalog-2025.js';
import { KEY_A, closeAll, pricedRouter, text, type PricedSetup } from '../helpers/priced-router.js';

let harness: OtelHarness | undefined;
afterEach(async () => {
  await closeAll();
  await harness?.close();
  harness = undefined;
});

async function instrumented(routerOptions: Parameters<typeof pricedRouter>[0] = {}, emulatorOptions: Parameters<typeof pricedRouter>[1] = {}): Promise<PricedSetup & { otel: OtelHarness }> {
  const setup = await pricedRouter(routerOptions, emulatorOptions);
  const otel = (harness = otelHarness());
  instrumentRouter(setup.router, { tracer: otel.tracerProvider.getTracer('test'), meter: otel.meterProvider.getMeter('test') });
  return { ...setup, otel };
}

const callSpans = (spans: ReadableSpan[]) => spans.filter((s) => s.kind === SpanKind.CLIENT);
const attemptSpans = (spans: ReadableSpan[]) => spans.filter((s) => s.name.startsWith('mistral_router.attempt '));

/** Nothing a span carries holds the key or the request's words. */
function expectClean(spans: ReadableSpan[], ...secrets: string[]): void {
  const everything = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
  for (const secret of [KEY_A, 'sk-', ...secrets]) expect(everything).to.not.include(secret);
}

describe('telemetry: OpenTelemetry spans', () => {
  it('a complete call: one CLIENT span with the GenAI attributes, one child span per attempt', async () => {
    const { router, otel } = await instrumented();
    const result = await router.chat.complete({ model: 'lean-chat', messages: text('a confidential question'), maxTokens: 30 });
    const spans = otel.spans();
    expect(spans).to.have.length(2);
    const [call] = callSpans(spans);
    const [attempt] = attemptSpans(spans);
    expect(call?.name).to.equal('chat lean-chat');
    expect(call?.attributes).to.deep.equal({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'mistral_ai',
      'gen_ai.request.model': 'lean-chat',
      'gen_ai.request.max_tokens': 30,
      'gen_ai.response.model': 'lean-chat',
      'gen_ai.response.id': result.id,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': result.usage.promptTokens,
      'gen_ai.usage.output_tokens': result.usage.completionTokens,
      'mistral_router.need.capabilities': ['chat'],
      'mistral_router.need.strategy': 'smallest-sufficient',
      'mistral_router.estimated_tokens': result.routing.tokens.estimated,
      'mistral_router.stream': false,
      'mistral_router.cost.usd': result.routing.cost?.usd,
      'mistral_router.workspace': 'team-a',
      'mistral_router.attempts': 1,
      'mistral_router.fallbacks': 0,
      'mistral_router.wait_ms': 0,
    });
    expect(call?.status.code).to.equal(SpanStatusCode.UNSET);
    expect(attempt?.kind).to.equal(SpanKind.INTERNAL);
    expect(attempt?.parentSpanContext?.spanId).to.equal(call?.spanContext().spanId);
    expect(attempt?.spanContext().traceId).to.equal(call?.spanContext().traceId);
    expect(attempt?.attributes).to.deep.include({ 'gen_ai.request.model': 'lean-chat', 'mistral_router.workspace': 'team-a', 'mistral_router.attempt': 1, 'mistral_router.outcome': 'ok', 'http.response.status_code': 200 });
    expect(attempt?.attributes['mistral_router.estimated_cost.usd']).to.be.closeTo((result.routing.plan.tokens.prompt * 0.2 + 30 * 0.6) / 1e6, 1e-15);
    expectClean(spans, 'confidential');
  });

  it('embeddings and FIM: spans named `embeddings {model}` (input tokens only) and `text_completion {model}`', async () => {
    const { router, otel } = await instrumented();
    const embedded = await router.embeddings.create({ model: 'plain-embed', inputs: ['one', 'two'] });
    const [embedSpan] = callSpans(otel.spans());
    expect(embedSpan?.name).to.equal('embeddings plain-embed');
    expect(embedSpan?.attributes).to.deep.include({ 'gen_ai.operation.name': 'embeddings', 'gen_ai.usage.input_tokens': embedded.usage.promptTokens });
    expect(embedSpan?.attributes).to.not.have.property('gen_ai.usage.output_tokens');
    // FIM needs a code model: the mid-2025 catalogue's, on an emulator serving it.
    const fim = await pricedRouter(
      { catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { requestsPerSecond: 1000 } }] },
      { catalog: catalog2025, overrides: { requestsPerSecond: 1000 } },
    );
    const fimOtel = otelHarness();
    try {
      instrumentRouter(fim.router, { tracer: fimOtel.tracerProvider.getTracer('test'), meter: fimOtel.meterProvider.getMeter('test') });
      const completed = await fim.router.fim.complete({ prompt: 'def add(a, b):', suffix: 'return c', maxTokens: 10 });
      const [fimSpan] = callSpans(fimOtel.spans());
      expect(fimSpan?.name).to.equal(`text_completion ${completed.routing.model}`);
      expect(fimSpan?.attributes).to.deep.include({ 'gen_ai.operation.name': 'text_completion', 'gen_ai.usage.output_tokens': completed.usage.completionTokens });
    } finally {
      await fimOtel.close();
    }
  });

  it('a stream: the call span ends when the stream ends, with the last chunk\'s usage and time to first chunk', async () => {
    const { router, otel, clock } = await instrumented();
    const stream = await router.chat.stream({ model: 'wide-chat', messages: text('stream a private answer'), maxTokens: 20 });
    // Handed over at its first chunk: the attempt is over, the call is not.
    expect(attemptSpans(otel.spans())).to.have.length(1);
    expect(callSpans(otel.spans())).to.have.length(0);
    await clock.advanceAsync(250);
    let usage: { promptTokens?: number; completionTokens?: number } | undefined;
    for await (const event of stream) if (event.data.usage !== undefined) usage = event.data.usage;
    const settled = await stream.settled;
    const [call] = callSpans(otel.spans());
    expect(call?.name).to.equal('chat wide-chat');
    expect(call?.attributes).to.deep.include({
      'mistral_router.stream': true,
      'gen_ai.usage.input_tokens': usage?.promptTokens,
      'gen_ai.usage.output_tokens': usage?.completionTokens,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.response.time_to_first_chunk': 0,
      'mistral_router.cost.usd': settled.cost?.usd,
    });
    expect(call?.attributes['gen_ai.response.id']).to.be.a('string');
    const duration = await otel.metric('gen_ai.client.operation.duration');
    // The stream's 250 ms of fake time are in the call's duration (ended with the stream, not at its first chunk).
    expect(histogramPoints(duration, { 'gen_ai.request.model': 'wide-chat' })[0]?.value.sum).to.equal(0.25);
    expect(histogramPoints(await otel.metric('gen_ai.client.operation.time_to_first_chunk'), { 'gen_ai.request.model': 'wide-chat' })[0]?.value.count).to.equal(1);
    expectClean(otel.spans(), 'private answer');
  });

  it('a quota fallback: the candidate passed over is on the span, the span named after the model that answered', async () => {
    const { router, otel } = await instrumented({
      workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { models: { 'lean-chat': { tokensPerMinute: 1 } } } }],
    });
    const result = await router.chat.complete({ messages: text('hi'), maxTokens: 10 });
    expect(result.routing.model).to.equal('wide-chat');
    const [call] = callSpans(otel.spans());
    expect(call?.name).to.equal('chat wide-chat');
    expect(call?.attributes).to.deep.include({ 'gen_ai.request.model': 'wide-chat', 'mistral_router.passed_over': ['team-a/lean-chat: tokens-per-minute'], 'mistral_router.attempts': 1 });
    expect(call?.attributes['gen_ai.request.max_tokens']).to.equal(10);
  });

  it('an error fallback: a failed attempt span (ERROR, its kind and status), the call\'s fallbacks and why', async () => {
    const { router, otel } = await instrumented({}, { faults: { errorRate: 1, errorStatuses: [503], models: ['lean-chat'] } });
    const result = await router.chat.complete({ messages: text('hi'), maxTokens: 10 });
    expect(result.routing.model).to.equal('wide-chat');
    const attempts = attemptSpans(otel.spans());
    expect(attempts.map((s) => s.name)).to.deep.equal(['mistral_router.attempt lean-chat', 'mistral_router.attempt wide-chat']);
    expect(attempts[0]?.status).to.deep.equal({ code: SpanStatusCode.ERROR, message: 'server-error' });
    expect(attempts[0]?.attributes).to.deep.include({ 'error.type': 'server-error', 'http.response.status_code': 503, 'mistral_router.outcome': 'server-error', 'mistral_router.attempt': 1 });
    expect(attempts[1]?.attributes).to.deep.include({ 'mistral_router.attempt': 2, 'mistral_router.outcome': 'ok' });
    const [call] = callSpans(otel.spans());
    for (const attempt of attempts) expect(attempt.parentSpanContext?.spanId).to.equal(call?.spanContext().spanId);
    expect(call?.attributes).to.deep.include({ 'mistral_router.attempts': 2, 'mistral_router.fallbacks': 1, 'mistral_router.fallback.reasons': ['server-error'] });
    expect(call?.status.code).to.equal(SpanStatusCode.UNSET);
  });

  it('a call that fails: error.type on the span and the duration metric, status ERROR', async () => {
    // Its only model answers 503 and cools down; the call may not wait for it: COOLING_DOWN.
    const { router, otel } = await instrumented({}, { faults: { errorRate: 1, errorStatuses: [503] } });
    const error = await router.chat.complete({ model: 'lean-chat', messages: text('hi'), maxTokens: 10, maxWaitMs: 0, need: { exclude: ['wide-chat', 'premium-chat', 'unpriced-chat'] } }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).to.equal('COOLING_DOWN');
    const [call] = callSpans(otel.spans());
    expect(call?.status).to.deep.equal({ code: SpanStatusCode.ERROR, message: 'COOLING_DOWN' });
    expect(call?.attributes['error.type']).to.equal('COOLING_DOWN');
    expect(histogramPoints(await otel.metric('gen_ai.client.operation.duration'), { 'error.type': 'COOLING_DOWN' })).to.have.length(1);
  });

  it('a wait for quota is an event on the call\'s span', async () => {
    const { router, otel, clock } = await instrumented({ workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { requestsPerSecond: 1 } }] });
    const first = await router.chat.complete({ model: 'lean-chat', messages: text('one'), maxTokens: 5 });
    const second = router.chat.complete({ model: 'lean-chat', messages: text('two'), maxTokens: 5, need: { exclude: ['wide-chat', 'premium-chat', 'unpriced-chat'] } });
    // One request a second: the second call has room again about a second after the first.
    await clock.advanceAsync(2_000);
    const result = await second;
    expect(first.routing.waitedMs).to.equal(0);
    expect(result.routing.waitedMs).to.be.greaterThan(0);
    const waited = callSpans(otel.spans()).find((s) => s.events.length > 0);
    expect(waited?.events.map((e) => e.name)).to.deep.equal(['mistral_router.wait']);
    expect(waited?.events[0]?.attributes).to.deep.equal({ 'mistral_router.wait.retry_after_ms': waited?.events[0]?.attributes?.['mistral_router.wait.retry_after_ms'], 'mistral_router.wait.queue_length': 1 });
    expect(waited?.events[0]?.attributes?.['mistral_router.wait.retry_after_ms']).to.be.within(1, 1_100);
    expect(waited?.attributes['mistral_router.wait_ms']).to.equal(result.routing.waitedMs);
    expect(histogramPoints(await otel.metric('mistral_router.wait.duration'), {})[0]?.value.sum).to.equal(result.routing.waitedMs / 1000);
  });

  it('the caller\'s active span is the parent (a request inside a traced handler nests under it)', async () => {
    const stop = withContextManager();
    try {
      const { router, otel } = await instrumented();
      const tracer = otel.tracerProvider.getTracer('handler');
      const handler = tracer.startSpan('GET /answer');
      await context.with(trace.setSpan(context.active(), handler), async () => {
        await Promise.resolve(); // an await before the call: the context carries over
        await router.chat.complete({ model: 'lean-chat', messages: text('hi'), maxTokens: 5 });
      });
      handler.end();
      const [call] = callSpans(otel.spans());
      expect(call?.parentSpanContext?.spanId).to.equal(handler.spanContext().spanId);
      expect(call?.spanContext().traceId).to.equal(handler.spanContext().traceId);
    } finally {
      stop();
    }
  });
});

describe('telemetry: OpenTelemetry metrics', () => {
  it('token usage and duration histograms with the conventions\' attributes, router counters, the quota gauge', async () => {
    const { router, otel } = await instrumented({
      workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { models: { 'lean-chat': { tokensPerMinute: 10_000 } } } }],
    });
    const a = await router.chat.complete({ model: 'lean-chat', messages: text('first'), maxTokens: 20 });
    const b = await router.chat.complete({ model: 'lean-chat', messages: text('second one'), maxTokens: 20 });
    await router.embeddings.create({ inputs: ['x', 'y'] });
    const usage = await otel.metric('gen_ai.client.token.usage');
    expect(usage?.descriptor.unit).to.equal('{token}');
    const base = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'mistral_ai', 'gen_ai.request.model': 'lean-chat', 'gen_ai.response.model': 'lean-chat', 'mistral_router.workspace': 'team-a' };
    const input = histogramPoints(usage, { ...base, 'gen_ai.token.type': 'input' });
    expect(input).to.have.length(1);
    expect(input[0]?.value.sum).to.equal((a.usage.promptTokens ?? 0) + (b.usage.promptTokens ?? 0));
    expect(input[0]?.value.count).to.equal(2);
    expect(histogramPoints(usage, { ...base, 'gen_ai.token.type': 'output' })[0]?.value.sum).to.equal((a.usage.completionTokens ?? 0) + (b.usage.completionTokens ?? 0));
    expect(histogramPoints(usage, { 'gen_ai.operation.name': 'embeddings', 'gen_ai.token.type': 'input' })).to.have.length(1);
    const duration = await otel.metric('gen_ai.client.operation.duration');
    expect(duration?.descriptor.unit).to.equal('s');
    expect(histogramPoints(duration, base)[0]?.value.count).to.equal(2);
    const cost = await otel.metric('mistral_router.cost');
    expect((cost?.dataPoints[0]?.value as number) ?? 0).to.be.closeTo((a.routing.cost?.usd ?? 0) + (b.routing.cost?.usd ?? 0), 1e-12);
    const quota = await otel.metric('mistral_router.quota.remaining');
    const tpm = quota?.dataPoints.find((p) => p.attributes['mistral_router.window'] === 'tokens-per-minute' && p.attributes['gen_ai.request.model'] === 'lean-chat');
    expect(tpm?.value).to.equal(10_000 - (a.usage.totalTokens ?? 0) - (b.usage.totalTokens ?? 0));
    const everything = JSON.stringify((await otel.reader.collect()).resourceMetrics);
    expect(everything).to.not.include(KEY_A);
    expect(everything).to.not.include('second one');
  });

  it('without a provider (the API\'s no-op tracer and meter) calls are routed as before, and instrumentRouter returns a stop function', async () => {
    const { router } = await pricedRouter();
    const stop = instrumentRouter(router);
    const result = await router.chat.complete({ model: 'lean-chat', messages: text('hi'), maxTokens: 5 });
    expect(result.routing.model).to.equal('lean-chat');
    expect(trace.getSpan(context.active())).to.equal(undefined);
    stop();
  });

  it('a peer dependency that is not installed is a ConfigError naming the option and what to install', () => {
    expect(() => loadPeer(undefined, 'not-an-installed-package-xyz', 'api', 'instrumentRouter')).to.throw(ConfigError, 'api: instrumentRouter needs the optional peer dependency not-an-installed-package-xyz: npm install not-an-installed-package-xyz');
    const given = { marker: true };
    expect(loadPeer(given, 'not-an-installed-package-xyz', 'api', 'instrumentRouter')).to.equal(given);
  });
});
