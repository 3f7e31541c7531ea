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
import { ModelCoolingDownError, NeedError, QuotaExhaustedError, RouterError, UpstreamError } from '../../lib/errors.js';
import { decision, type Plan } from '../../lib/router/decision.js';
import { costOf } from '../../lib/telemetry/cost.js';

const catalog = loadCatalog();
const plan = { endpoint: 'chat', need: {}, tokens: { prompt: 10, maxOutput: 20, total: 30 }, candidates: [], rejected: [] } as unknown as Plan;
const URL = 'https://mistral-router.invalid/v1/chat/completions';

describe('ai-sdk provider: the decision as providerMetadata', () => {
  it('is JSON (an infinite wait is null), with the router\'s cost, the replacement and the lifecycle warnings', () => {
    const refusals = [
      { workspace: 'team-a', model: 'mistral-small-2603', windows: [{ kind: 'tokens-per-minute' }], retryAfterMs: 12_000 },
      { workspace: 'team-b', model: 'mistral-small-2603', windows: [{ kind: 'tokens-per-month' }], retryAfterMs: Infinity },
    ];
    const attempts = [
      { workspace: 'team-a', model: 'mistral-large-2512', outcome: 'server-error' as const, status: 500, durationMs: 12 },
      { workspace: 'team-b', model: 'open-mistral-nemo', outcome: 'ok' as const, status: undefined, durationMs: 30 },
    ];
    const warning = { model: 'open-mistral-nemo', status: 'deprecated' as const, retired: '2027-01-31', replacement: 'ministral-8b-2512', message: 'open-mistral-nemo is deprecated' };
    const lifecyclePlan = { ...plan, replaced: { requested: 'open-mistral-7b', retiredModel: 'open-mistral-7b', by: 'open-mistral-nemo' }, warnings: [warning] } as unknown as Plan;
    const cost = costOf(catalog.model('open-mistral-nemo'), 'chat', { promptTokens: 1_000_000, completionTokens: 2_000_000, totalTokens: 3_000_000 });
    const made = decision({ endpoint: 'chat', chosen: { workspace: 'team-b', model: 'open-mistral-nemo' }, attempts, refusals: refusals as never, waitedMs: 250, estimated: 30, used: 28, plan: lifecyclePlan, cost });
    const metadata = routingMetadata(made);
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
      costUsd: cost?.usd,
      replaced: { requested: 'open-mistral-7b', by: 'open-mistral-nemo' },
      warnings: [{ model: 'open-mistral-nemo', retired: '2027-01-31', replacement: 'ministral-8b-2512', message: 'open-mistral-nemo is deprecated' }],
    });
    expect(metadata.costUsd).to.be.closeTo(0.45, 1e-9);
    expect(JSON.parse(JSON.stringify(metadata))).to.deep.equal(metadata);
  });

  it('costs null without a usage or a price; no replacement, no warnings when there are none', () => {
    const made = (model: string, used: number | undefined) =>
      decision({ endpoint: 'embeddings', chosen: { workspace: 'w', model }, attempts: [], refusals: [], waitedMs: 0, estimated: 5, used, plan, cost: used === undefined ? null : costOf(catalog.model(model), 'embeddings', { promptTokens: used, totalTokens: used }) });
    expect(routingMetadata(made('mistral-embed', 2_000_000)).costUsd).to.be.closeTo(0.2, 1e-9);
    expect(routingMetadata(made('not-in-the-catalogue', 10)).costUsd).to.equal(null);
    const none = routingMetadata(made('mistral-embed', undefined));
    expect([none.costUsd, none.tokens, none.replaced, none.warnings]).to.deep.equal([null, { estimated: 5, used: null }, null, []]);
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

  it('quota past a minute: not retryable, the time still given; every model cooling down: a 503 at its time', () => {
    const later = toAISDKError(new QuotaExhaustedError('later', 61_000), URL, {}) as RouterAPICallError;
    expect([later.isRetryable, later.responseHeaders?.['retry-after-ms']]).to.deep.equal([false, '61000']);
    const cooling = new ModelCoolingDownError({ message: 'every model cooling down', retryAfterMs: 30_000, models: [{ model: 'm', until: 1, reason: 'server-error' }] });
    const error = toAISDKError(cooling, URL, {}) as RouterAPICallError;
    expect([error.statusCode, error.isRetryable, error.code, error.retryAfterMs, error.responseHeaders]).to.deep.equal([503, true, 'COOLING_DOWN', 30_000, { 'retry-after-ms': '30000', 'retry-after': '30' }]);
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
