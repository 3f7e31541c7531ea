/**
 * The provider when things go wrong, through the real `ai` package: quota and error fallbacks visible in
 * providerMetadata, streams failing before and after their first chunk, waits, quota exhaustion as a
 * retryable APICallError, the AI SDK's retries not multiplying the router's attempts, aborts, bad input
 * before any request, and no API key anywhere. Nothing stays reserved after any of them.
 */
import { expect } from 'chai';
import { APICallError } from '@ai-sdk/provider';
import { generateText, jsonSchema, streamText, tool } from 'ai';
import { RouterAPICallError } from '../../lib/ai-sdk/index.js';
import { AbortError, ConfigError, NeedError, NoEligibleModelError, RouterError } from '../../lib/errors.js';
import { allText, closeAll, expectNothingReserved, KEY_A, KEY_B, PNG_1X1, rejection, routing, setup, type Setup } from './support.js';

const smallTokensPerMinute = { models: { 'mistral-small-2506': { tokensPerMinute: 40 } } };
const vision = { need: { capabilities: ['vision' as const] } };

/** Reads a streamText result to its end; the parts' types, and the errors its onError received. */
async function readStream(s: Setup, options: Parameters<typeof streamText>[0]): Promise<{ parts: string[]; errors: unknown[]; result: ReturnType<typeof streamText> }> {
  const errors: unknown[] = [];
  const result = streamText({ ...options, onError: ({ error }) => void errors.push(error) });
  const parts: string[] = [];
  await s.run(
    (async () => {
      for await (const part of result.fullStream) parts.push(part.type);
    })(),
  );
  return { parts, errors, result };
}

describe('ai-sdk provider: fallbacks and waits', () => {
  afterEach(closeAll);

  it('a quota fallback: the model out of tokens per minute is passed over, and providerMetadata says so', async () => {
    const s = await setup({ overrides: smallTokensPerMinute }, { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: smallTokensPerMinute }] });
    const model = s.provider(vision);
    const first = await s.run(generateText({ model, prompt: 'hello', maxOutputTokens: 20 }));
    expect(first.response.modelId).to.equal('mistral-small-2506');
    const second = await s.run(generateText({ model, prompt: 'hello', maxOutputTokens: 20 }));
    expect(second.response.modelId).to.equal('mistral-small-2503');
    const passed = routing(second).passedOver;
    expect(passed.map((p) => [p.workspace, p.model, p.windows])).to.deep.equal([['team-a', 'mistral-small-2506', ['tokens-per-minute']]]);
    expect(passed[0]?.retryAfterMs).to.be.a('number').greaterThan(0).and.at.most(60_000);
    expect(s.emulator.stats().tokens['mistral-small-2506']?.requests, 'passed over without asking Mistral').to.equal(1);
    await expectNothingReserved(s);
  });

  it('an error fallback: a 500 from the first model, the answer from the next, both attempts in providerMetadata', async () => {
    const s = await setup({ faults: { errorRate: 1, errorStatuses: [500], models: ['mistral-small-2506'] } });
    const result = await s.run(generateText({ model: s.provider(vision), prompt: 'hello', maxOutputTokens: 20 }));
    expect(result.response.modelId).to.equal('mistral-small-2503');
    expect(routing(result).attempts.map((a) => [a.model, a.outcome, a.status])).to.deep.equal([
      ['mistral-small-2506', 'server-error', 500],
      ['mistral-small-2503', 'ok', 200],
    ]);
    expect(s.events.map((e) => e.name)).to.include.members(['fallback', 'cooldown']);
    await expectNothingReserved(s);
  });

  it('a stream that fails before its first chunk falls back', async () => {
    const s = await setup({ faults: { errorRate: 1, errorStatuses: [503], models: ['mistral-small-2506'] } });
    const { parts, errors, result } = await readStream(s, { model: s.provider(vision), prompt: 'hello', maxOutputTokens: 20 });
    expect(errors).to.deep.equal([]);
    expect(parts).to.include('text-delta');
    expect((await result.response).modelId).to.equal('mistral-small-2503');
    const metadata = routing({ providerMetadata: await result.providerMetadata });
    expect(metadata.attempts.map((a) => [a.model, a.outcome])).to.deep.equal([
      ['mistral-small-2506', 'server-error'],
      ['mistral-small-2503', 'ok'],
    ]);
    await expectNothingReserved(s);
  });

  it('a stream that fails after its first chunk reports the router error (not retryable), with finish reason error', async () => {
    const s = await setup({ faults: { dropMidStreamRate: 1 } });
    const { parts, errors, result } = await readStream(s, { model: s.provider('auto'), prompt: 'hello', maxOutputTokens: 20 });
    expect(errors).to.have.length(1);
    const error = errors[0] as RouterAPICallError;
    expect(APICallError.isInstance(error)).to.equal(true);
    expect(error.code).to.equal('STREAM_FAILED');
    expect(error.isRetryable).to.equal(false);
    expect(error.message).to.match(/failed after its first chunk/);
    expect(parts.slice(-3)).to.deep.equal(['error', 'finish-step', 'finish']);
    expect(await result.finishReason).to.equal('error');
    expect(s.emulator.stats().requests, 'one request, no fallback after the first chunk').to.equal(1);
    await expectNothingReserved(s);
  });

  it('waits for the free tier (1 request/s) when two calls come at once: the wait is in providerMetadata', async () => {
    const s = await setup();
    const model = s.provider('auto');
    const [a, b] = await s.run(Promise.all([generateText({ model, prompt: 'one', maxOutputTokens: 5 }), generateText({ model, prompt: 'two', maxOutputTokens: 5 })]));
    const waits = [routing(a).waitedMs, routing(b).waitedMs].sort((x, y) => x - y);
    expect(waits[0]).to.equal(0);
    // A second and at most one 50 ms sub-bucket of the sliding window.
    expect(waits[1]).to.be.greaterThan(0).and.at.most(1_050);
    expect(s.events.some((e) => e.name === 'wait')).to.equal(true);
    expect(s.emulator.stats().rateLimited['requests-per-second'], 'the router waited instead of hitting the 429').to.equal(0);
    await expectNothingReserved(s);
  });
});

describe('ai-sdk provider: errors as the AI SDK sees them', () => {
  afterEach(closeAll);

  it('quota exhausted within its wait bound: a retryable APICallError (429) with the exact retry-after-ms, and the router code', async () => {
    const s = await setup({}, { maxWaitMs: 0 });
    const model = s.provider('auto');
    await s.run(generateText({ model, prompt: 'one', maxOutputTokens: 5 }));
    const error = (await rejection(s.run(generateText({ model, prompt: 'two', maxOutputTokens: 5, maxRetries: 0 })))) as unknown as RouterAPICallError;
    expect(APICallError.isInstance(error)).to.equal(true);
    expect(RouterError.isInstance(error)).to.equal(true);
    expect(error).to.be.instanceOf(RouterAPICallError);
    expect(error.code).to.equal('QUOTA_EXHAUSTED');
    expect(error.statusCode).to.equal(429);
    expect(error.isRetryable).to.equal(true);
    expect(error.retryAfterMs).to.be.greaterThan(0).and.at.most(1_000);
    expect(error.responseHeaders?.['retry-after-ms']).to.equal(String(Math.ceil(error.retryAfterMs as number)));
    expect(s.emulator.stats().requests, 'nothing sent for the refused call').to.equal(1);
    await expectNothingReserved(s);
  });

  it("maxRetries retries an exhausted quota at its retry-after-ms, once, and the retry is answered", async () => {
    const s = await setup({}, { maxWaitMs: 0 });
    const model = s.provider('auto');
    await s.run(generateText({ model, prompt: 'one', maxOutputTokens: 5 }));
    const retried = await s.run(generateText({ model, prompt: 'two', maxOutputTokens: 5, maxRetries: 1 }));
    expect(retried.text).to.contain('deterministic');
    expect(s.events.filter((e) => e.name === 'exhausted')).to.have.length(1);
    expect(s.emulator.stats().requests).to.equal(2);
  });

  it('quota that returns only next month: not retryable, the retry time still given', async () => {
    const month = { models: { 'mistral-small-2506': { tokensPerMonth: 40 } } };
    const s = await setup({ overrides: month }, { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: month }], maxWaitMs: 0 });
    const model = s.provider({ need: { family: 'mistral-small', version: '25.06' } });
    await s.run(generateText({ model, prompt: 'one', maxOutputTokens: 20 }));
    const error = (await rejection(s.run(generateText({ model, prompt: 'two', maxOutputTokens: 20 })))) as unknown as RouterAPICallError;
    expect(error.code).to.equal('QUOTA_EXHAUSTED');
    expect(error.isRetryable).to.equal(false);
    expect(error.retryAfterMs).to.be.greaterThan(60_000);
    expect(s.emulator.stats().requests, 'maxRetries (2 by default) sent nothing more').to.equal(1);
  });

  it("upstream failures the router already fell back over: not retryable, so maxRetries does not multiply the router's attempts", async () => {
    const s = await setup({ faults: { errorRate: 1, errorStatuses: [500] } }, { maxAttempts: 3 });
    const error = (await rejection(s.run(generateText({ model: s.provider('auto'), prompt: 'hello', maxOutputTokens: 5, maxRetries: 2 })))) as unknown as RouterAPICallError;
    expect(APICallError.isInstance(error)).to.equal(true);
    expect(error.code).to.equal('UPSTREAM_ERROR');
    expect(error.statusCode).to.equal(500);
    expect(error.isRetryable).to.equal(false);
    expect(s.emulator.stats().requests, 'maxAttempts, not maxAttempts x (maxRetries + 1)').to.equal(3);
    await expectNothingReserved(s);
  });

  it('an abort while waiting for quota: AbortError, its place and quota given back, nothing sent', async () => {
    const s = await setup();
    const model = s.provider('auto');
    await s.run(generateText({ model, prompt: 'one', maxOutputTokens: 5 }));
    const controller = new AbortController();
    s.router.events.on('wait', () => controller.abort());
    const error = await rejection(s.run(generateText({ model, prompt: 'two', maxOutputTokens: 5, abortSignal: controller.signal })));
    expect(error).to.be.instanceOf(AbortError);
    expect(error.name).to.equal('AbortError');
    expect(s.emulator.stats().requests).to.equal(1);
    await expectNothingReserved(s);
  });

  it('an abort of a stream in flight: the stream ends with an abort part, the call is settled', async () => {
    const s = await setup({ latencyMs: 100 });
    const controller = new AbortController();
    s.router.events.on('decision', () => setTimeout(() => controller.abort(), 10));
    const { parts, errors } = await readStream(s, { model: s.provider('auto'), prompt: 'hello', maxOutputTokens: 20, abortSignal: controller.signal });
    expect(parts).to.include('abort');
    expect(parts).to.not.include('text-delta');
    expect(errors).to.deep.equal([]);
    expect(s.events.at(-1)).to.deep.include({ name: 'done' });
    await expectNothingReserved(s);
  });
});

describe('ai-sdk provider: bad input, before any request', () => {
  afterEach(closeAll);

  it('a need with an unknown capability: NeedError naming it when the model is created', async () => {
    const s = await setup();
    expect(() => s.provider({ need: { capabilities: ['telepathy' as never] } })).to.throw(NeedError, /need\.capabilities\[0\]: unknown capability "telepathy"/);
    expect(() => s.provider.embeddingModel({ need: { capabilitys: ['embedding'] } as never })).to.throw(NeedError, /need\.capabilitys/);
    expect(() => s.provider('auto', { maxWaitMs: -1 })).to.throw(ConfigError, /settings\.maxWaitMs/);
    expect(() => s.provider({ model: 'auto', needs: {} } as never)).to.throw(NeedError, /route\.needs/);
    expect(() => s.provider('')).to.throw(NeedError, /model/);
    expect(s.emulator.stats().requests).to.equal(0);
  });

  it('a per-call need that is wrong, or a setting Mistral does not take: NeedError naming it, nothing sent', async () => {
    const s = await setup();
    const model = s.provider('auto');
    const wrongNeed = await rejection(s.run(generateText({ model, prompt: 'hi', providerOptions: { mistralRouter: { need: { minContext: -1 } } } })));
    expect(wrongNeed).to.be.instanceOf(NeedError);
    expect(wrongNeed.message).to.match(/need\.minContext/);
    const unknownOption = await rejection(s.run(generateText({ model, prompt: 'hi', providerOptions: { mistralRouter: { wait: 5 } } })));
    expect(unknownOption.message).to.match(/providerOptions\.mistralRouter\.wait/);
    const notMistral = await rejection(s.run(generateText({ model, prompt: 'hi', providerOptions: { mistral: { documentPageLimit: 3 } } })));
    expect(notMistral).to.be.instanceOf(NeedError);
    expect(notMistral.message).to.match(/^document_page_limit: unknown field/);
    expect(s.emulator.stats().requests).to.equal(0);
    await expectNothingReserved(s);
  });

  it('content no eligible model can take: NoEligibleModelError naming the missing capability', async () => {
    const s = await setup();
    const codestral = s.provider({ need: { family: 'codestral' } });
    const image = await rejection(s.run(generateText({ model: codestral, messages: [{ role: 'user', content: [{ type: 'image', image: PNG_1X1, mediaType: 'image/png' }] }] })));
    expect(image).to.be.instanceOf(NoEligibleModelError);
    expect(image.message).to.match(/missing capability: .*vision/);
    const reasoning = s.provider({ need: { capabilities: ['reasoning'] } });
    const tools = await rejection(s.run(generateText({ model: reasoning, prompt: 'hi', tools: { t: tool({ inputSchema: jsonSchema({ type: 'object' }) }) } })));
    expect(tools).to.be.instanceOf(NoEligibleModelError);
    expect(tools.message).to.match(/function_calling/);
    expect(s.emulator.stats().requests).to.equal(0);
  });
});

describe('ai-sdk provider: no API key anywhere', () => {
  afterEach(closeAll);

  it('not in results, providerMetadata, request bodies or errors (with their causes)', async () => {
    const s = await setup({ faults: { errorRate: 1, errorStatuses: [500], models: ['open-mistral-nemo'] } }, { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }, { name: 'team-b', apiKey: KEY_B, tier: 'free' }], maxAttempts: 2 });
    const ok = await s.run(generateText({ model: s.provider('auto'), prompt: 'hi', maxOutputTokens: 5 }));
    const failed = await rejection(s.run(generateText({ model: s.provider('open-mistral-nemo', { maxWaitMs: 0 }), prompt: 'hi', maxOutputTokens: 5, maxRetries: 0 })));
    expect(RouterError.isInstance(failed), failed.message).to.equal(true);
    const text = [allText(ok.providerMetadata), allText(ok.request), allText(ok.response), allText(failed)].join('\n');
    expect(text).to.contain('team-a');
    for (const key of [KEY_A, KEY_B]) expect(text).to.not.contain(key);
    await expectNothingReserved(s);
  });
});
