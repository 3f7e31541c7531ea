/**
 * The provider's pure mappings, compared as whole objects: a decision as providerMetadata (JSON, with the
 * cost at the bundled catalogue's prices), and the router's errors as the AI SDK's.
 */
import { expect } from 'chai';
import { APICallError } from '@ai-sdk/provider';
import { toAISDKError } from '../../lib/ai-sdk/errors.js';
import { RouterAPICallError } from '../../lib/ai-sdk/index.js';
import { routingMetadata } from '../../lib/ai-sdk/metadata.js';
import { loadCatalog } from '../../lib/catalog/index.js';
import { NeedError, QuotaExhaustedError, RouterError, UpstreamError } from '../../lib/errors.js';
import { decision, type Plan } from '../../lib/router/decision.js';

const catalog = loadCatalog();
const plan = { endpoint: 'chat', need: {}, tokens: { prompt: 10, maxOutput: 20, total: 30 }, candidates: [], rejected: [] } as unknown as Plan;
const URL = 'https://mistral-router.invalid/v1/chat/completions';

describe('ai-sdk provider: the decision as providerMetadata', () => {
  it('is JSON (an infinite wait is null), with the cost at the catalogue prices', () => {
    const refusals = [
      { workspace: 'team-a', model: 'mistral-small-2603', windows: [{ kind: 'tokens-per-minute' }], retryAfterMs: 12_000 },
      { workspace: 'team-b', model: 'mistral-small-2603', windows: [{ kind: 'tokens-per-month' }], retryAfterMs: Infinity },
    ];
    const attempts = [
      { workspace: 'team-a', model: 'mistral-large-2512', outcome: 'server-error' as const, status: 500, durationMs: 12 },
      { workspace: 'team-b', model: 'open-mistral-nemo', outcome: 'ok' as const, status: undefined, durationMs: 30 },
    ];
    const made = decision({ endpoint: 'chat', chosen: { workspace: 'team-b', model: 'open-mistral-nemo' }, attempts, refusals: refusals as never, waitedMs: 250, estimated: 30, used: 28, plan, cost: null });
    const metadata = routingMetadata(made, catalog, { inputTokens: 1_000_000, outputTokens: 2_000_000 });
    expect(metadata).to.deep.equal({
      endpoint: 'chat',
      model: 'open-mistral-nemo',
      workspace: 'team-b',
      attempts: [
        { workspace: 'team-a', model: 'mistral-large-2512', outcome: 'server-error', status: 500, durationMs: 12 },
        { workspace: 'team-b', model: 'open-mistral-nemo', outcome: 'ok', status: null, durationMs: 30 },
      ],
      passedOver: [
        { workspace: 'team-a', model: 'mistral-small-2603', windows: ['tokens-per-minute'], retryAfterMs: 12_000 },
        { workspace: 'team-b', model: 'mistral-small-2603', windows: ['tokens-per-month'], retryAfterMs: null },
      ],
      waitedMs: 250,
      tokens: { estimated: 30, used: 28 },
      costUsd: 0.45,
    });
    expect(JSON.parse(JSON.stringify(metadata))).to.deep.equal(metadata);
  });

  it('costs null when a price or the usage is unknown; embeddings cost their input only', () => {
    const made = (model: string) => decision({ endpoint: 'embeddings', chosen: { workspace: 'w', model }, attempts: [], refusals: [], waitedMs: 0, estimated: 5, used: undefined, plan, cost: null });
    expect(routingMetadata(made('mistral-embed'), catalog, { inputTokens: 2_000_000, outputTokens: 0 }).costUsd).to.equal(0.2);
    expect(routingMetadata(made('mistral-embed'), catalog, { inputTokens: 10, outputTokens: 5 }).costUsd, 'output is not priced for embeddings').to.equal(0.000001);
    expect(routingMetadata(made('open-mistral-nemo'), catalog, { inputTokens: undefined, outputTokens: 5 }).costUsd).to.equal(null);
    expect(routingMetadata(made('not-in-the-catalogue'), catalog, { inputTokens: 1, outputTokens: 1 }).costUsd).to.equal(null);
    expect(routingMetadata(made('mistral-embed'), catalog, { inputTokens: 1, outputTokens: 0 }).tokens).to.deep.equal({ estimated: 5, used: null });
  });
});

describe("ai-sdk provider: the router's errors as the AI SDK's", () => {
  it('quota within a minute: a retryable 429 with retry-after-ms and retry-after, the router code and the original as cause', () => {
    const original = new QuotaExhaustedError('No quota for 1.2 s.', 1_200.4);
    const error = toAISDKError(original, URL, { model: 'auto' }) as RouterAPICallError;
    expect(error).to.be.instanceOf(RouterAPICallError);
    expect(APICallError.isInstance(error) && RouterError.isInstance(error)).to.equal(true);
    expect({ message: error.message, url: error.url, statusCode: error.statusCode, isRetryable: error.isRetryable, responseHeaders: error.responseHeaders, data: error.data, code: error.code, retryAfterMs: error.retryAfterMs, body: error.requestBodyValues }).to.deep.equal({
      message: 'No quota for 1.2 s.',
      url: URL,
      statusCode: 429,
      isRetryable: true,
      responseHeaders: { 'retry-after-ms': '1201', 'retry-after': '2' },
      data: { code: 'QUOTA_EXHAUSTED', retryAfterMs: 1_200.4 },
      code: 'QUOTA_EXHAUSTED',
      retryAfterMs: 1_200.4,
      body: { model: 'auto' },
    });
    expect(error.cause).to.equal(original);
  });

  it('quota past a minute: not retryable, with its retry header', () => {
    const later = toAISDKError(new QuotaExhaustedError('later', 61_000), URL, {}) as RouterAPICallError;
    expect([later.isRetryable, later.responseHeaders?.['retry-after-ms']]).to.deep.equal([false, '61000']);
  });

  it('an upstream error keeps its status and body and is not retryable (the router fell back already); others pass as they are', () => {
    const upstream = new UpstreamError('mistral-small-2603 via workspace a failed (HTTP 503)', { status: 503, body: '{"message":"busy"}', isRetryable: true, model: 'mistral-small-2603', workspace: 'a' });
    const error = toAISDKError(upstream, URL, {}) as RouterAPICallError;
    expect([error.statusCode, error.responseBody, error.isRetryable, error.code]).to.deep.equal([503, '{"message":"busy"}', false, 'UPSTREAM_ERROR']);
    const need = new NeedError('need.capabilities[0]', 'unknown capability');
    expect(toAISDKError(need, URL, {})).to.equal(need);
    expect(toAISDKError(error, URL, {}), 'not wrapped twice').to.equal(error);
    const plain = new Error('x');
    expect(toAISDKError(plain, URL, {})).to.equal(plain);
  });
});
