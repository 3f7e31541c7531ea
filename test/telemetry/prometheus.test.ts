/**
 * Prometheus: the metric set on a prom-client registry, fed by a real router calling the emulator through
 * the SDK (fake clock). The registry's text output is what the assertions read, as a scraper would.
 */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { ConfigError } from '../../lib/errors.js';
import { boundedModel } from '../../lib/telemetry/metrics-recorder.js';
import { createPrometheusMetrics } from '../../lib/telemetry/prometheus.js';
import { catalogPriced } from '../helpers/catalog-priced.js';
import { KEY_A, closeAll, pricedRouter, text } from '../helpers/priced-router.js';

afterEach(closeAll);

/** The value of the sample `name{labels}` whose labels include every given pair (undefined when absent). */
function sample(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('telemetry: Prometheus metrics', () => {
  it('histograms and counters of complete calls, embeddings and a stream, with the conventions\' labels', async () => {
    const { router } = await pricedRouter();
    const registry = new Registry();
    createPrometheusMetrics({ registry }).observe(router);
    const chat = await router.chat.complete({ model: 'lean-chat', messages: text('the secret prompt'), maxTokens: 30 });
    const again = await router.chat.complete({ model: 'lean-chat', messages: text('hello'), maxTokens: 30 });
    await router.embeddings.create({ inputs: ['embed this'] });
    const stream = await router.chat.stream({ model: 'wide-chat', messages: text('stream'), maxTokens: 10 });
    for await (const _ of stream) void _;
    await stream.settled;
    const out = await registry.metrics();
    const lean = { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'mistral_ai', gen_ai_request_model: 'lean-chat', gen_ai_response_model: 'lean-chat', mistral_router_workspace: 'team-a' };
    expect(sample(out, 'gen_ai_client_operation_duration_seconds_count', lean)).to.equal(2);
    expect(sample(out, 'gen_ai_client_token_usage_sum', { ...lean, gen_ai_token_type: 'input' })).to.equal((chat.usage.promptTokens ?? 0) + (again.usage.promptTokens ?? 0));
    expect(sample(out, 'gen_ai_client_token_usage_sum', { ...lean, gen_ai_token_type: 'output' })).to.equal((chat.usage.completionTokens ?? 0) + (again.usage.completionTokens ?? 0));
    expect(sample(out, 'gen_ai_client_token_usage_count', { gen_ai_operation_name: 'embeddings', gen_ai_token_type: 'input' })).to.equal(1);
    expect(sample(out, 'gen_ai_client_token_usage_count', { gen_ai_operation_name: 'embeddings', gen_ai_token_type: 'output' })).to.equal(undefined);
    expect(sample(out, 'mistral_router_cost_usd_total', { gen_ai_request_model: 'lean-chat' })).to.be.closeTo((chat.routing.cost?.usd ?? 0) + (again.routing.cost?.usd ?? 0), 1e-12);
    expect(sample(out, 'mistral_router_decisions_total', { gen_ai_operation_name: 'chat', gen_ai_request_model: 'lean-chat', mistral_router_workspace: 'team-a' })).to.equal(2);
    expect(sample(out, 'gen_ai_client_operation_time_to_first_chunk_seconds_count', { gen_ai_request_model: 'wide-chat' })).to.equal(1);
    expect(sample(out, 'gen_ai_client_operation_time_to_first_chunk_seconds_count', { gen_ai_request_model: 'lean-chat' })).to.equal(undefined);
    // Nothing of the request, nothing of the key.
    expect(out).to.not.include('secret prompt');
    expect(out).to.not.include(KEY_A);
    expect(out).to.not.include('sk-');
  });

  it('fallbacks by reason, upstream 429s, an error type for a failed call, unpriced calls', async () => {
    // The emulator meters lean-chat at 5 tokens a minute (the router does not know): its first call is a 429.
    const { router } = await pricedRouter({}, { overrides: { models: { 'lean-chat': { tokensPerMinute: 5 } } }, faults: { errorRate: 1, errorStatuses: [503], models: ['wide-chat'] } });
    const registry = new Registry();
    createPrometheusMetrics({ registry }).observe(router);
    const result = await router.chat.complete({ messages: text('hi'), maxTokens: 10 });
    // lean-chat (429) -> wide-chat (503) -> premium-chat.
    expect(result.routing.attempts.map((a) => [a.model, a.outcome])).to.deep.equal([['lean-chat', 'quota'], ['wide-chat', 'server-error'], ['premium-chat', 'ok']]);
    await router.chat.complete({ model: 'unpriced-chat', messages: text('hi'), maxTokens: 10 });
    // lean-chat alone, its window blocked by the 429 for longer than the call may wait: QUOTA_EXHAUSTED.
    const failed = await router.chat.complete({ model: 'lean-chat', messages: text('hi'), maxTokens: 10, need: { exclude: ['wide-chat', 'premium-chat', 'unpriced-chat'] } }).catch((error: unknown) => error);
    expect((failed as { code?: string }).code).to.equal('QUOTA_EXHAUSTED');
    const out = await registry.metrics();
    expect(sample(out, 'mistral_router_fallbacks_total', { gen_ai_request_model: 'lean-chat', mistral_router_reason: 'quota' })).to.equal(1);
    expect(sample(out, 'mistral_router_fallbacks_total', { gen_ai_request_model: 'wide-chat', mistral_router_reason: 'server-error' })).to.equal(1);
    expect(sample(out, 'mistral_router_upstream_rate_limited_total', { gen_ai_request_model: 'lean-chat' })).to.be.at.least(1);
    expect(sample(out, 'mistral_router_unpriced_calls_total', { gen_ai_request_model: 'unpriced-chat' })).to.equal(1);
    expect(sample(out, 'gen_ai_client_operation_duration_seconds_count', { gen_ai_request_model: 'lean-chat', error_type: 'QUOTA_EXHAUSTED' })).to.equal(1);
    expect(sample(out, 'mistral_router_decisions_total', { gen_ai_request_model: 'premium-chat' })).to.equal(1);
    // The routing decision's latency, once per attempt that went out: 3 + 1 (the refused call sent nothing).
    expect(sample(out, 'mistral_router_decision_duration_seconds_count', { gen_ai_operation_name: 'chat' })).to.equal(4);
    const decided = sample(out, 'mistral_router_decision_duration_seconds_sum', { gen_ai_operation_name: 'chat' }) as number;
    expect(Number.isFinite(decided) && decided >= 0, String(decided)).to.equal(true);
  });

  it('the quota gauge reads each metered window on scrape; a quota pass-over counts as a fallback', async () => {
    const { router } = await pricedRouter({
      workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { requestsPerSecond: 10, models: { 'lean-chat': { tokensPerMinute: 1 }, 'wide-chat': { tokensPerMinute: 5_000 } } } }],
    });
    const registry = new Registry();
    const metrics = createPrometheusMetrics({ registry });
    metrics.observe(router);
    const result = await router.chat.complete({ messages: text('hi'), maxTokens: 10 });
    expect(result.routing.model).to.equal('wide-chat');
    expect(result.routing.passedOver.map((p) => [p.model, p.windows])).to.deep.equal([['lean-chat', ['tokens-per-minute']]]);
    const out = await registry.metrics();
    expect(sample(out, 'mistral_router_fallbacks_total', { gen_ai_request_model: 'lean-chat', mistral_router_reason: 'passed-over' })).to.equal(1);
    expect(sample(out, 'mistral_router_quota_remaining', { gen_ai_request_model: 'wide-chat', mistral_router_window: 'tokens-per-minute' })).to.equal(5_000 - (result.usage.totalTokens ?? 0));
    expect(sample(out, 'mistral_router_quota_remaining', { mistral_router_workspace: 'team-a', mistral_router_window: 'requests-per-second' })).to.equal(9);
  });

  it('the budget gauge reads what each monthly budget has left, in USD', async () => {
    const { router } = await pricedRouter({ workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: 0.5 } }], budgets: { monthlyUsd: 2, name: 'fleet' } });
    const registry = new Registry();
    createPrometheusMetrics({ registry }).observe(router);
    const result = await router.chat.complete({ model: 'lean-chat', messages: text('hi'), maxTokens: 10 });
    const spent = Math.ceil((result.routing.cost?.usd ?? 0) * 1e6 - 1e-6) / 1e6;
    const out = await registry.metrics();
    expect(sample(out, 'mistral_router_budget_remaining_usd', { mistral_router_budget: 'team-a', mistral_router_window: 'usd-per-month' })).to.be.closeTo(0.5 - spent, 1e-12);
    expect(sample(out, 'mistral_router_budget_remaining_usd', { mistral_router_budget: 'fleet', mistral_router_window: 'router-usd-per-month' })).to.be.closeTo(2 - spent, 1e-12);
    // Budgets are not request or token windows.
    expect(out).to.not.match(/mistral_router_quota_remaining\{[^}]*usd/);
  });

  it('observe() returns a function that stops measuring', async () => {
    const { router } = await pricedRouter();
    const registry = new Registry();
    const stop = createPrometheusMetrics({ registry }).observe(router);
    await router.chat.complete({ model: 'lean-chat', messages: text('one'), maxTokens: 5 });
    stop();
    await router.chat.complete({ model: 'lean-chat', messages: text('two'), maxTokens: 5 });
    expect(sample(await registry.metrics(), 'mistral_router_decisions_total', { gen_ai_request_model: 'lean-chat' })).to.equal(1);
  });

  it('refuses a second metric set on one registry and a registry that is not one, naming the option', () => {
    const registry = new Registry();
    createPrometheusMetrics({ registry });
    expect(() => createPrometheusMetrics({ registry })).to.throw(ConfigError, /registry: already holds gen_ai_client_token_usage/);
    expect(() => createPrometheusMetrics({ registry: {} as Registry })).to.throw(ConfigError, /^registry: expected a prom-client Registry/);
  });

  it('label values are bounded: aliases resolve to catalogue ids, anything else is "other"', () => {
    expect(boundedModel(catalogPriced, 'lean-chat')).to.equal('lean-chat');
    expect(boundedModel(catalogPriced, 'a-model-nobody-knows')).to.equal('other');
    expect(boundedModel(catalogPriced, undefined)).to.equal(undefined);
  });
});
