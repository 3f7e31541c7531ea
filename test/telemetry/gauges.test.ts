/**
 * The gauges (quota and budget remaining) read the observed routers' stores once per collection: a
 * Prometheus scrape and an OpenTelemetry collection each take one snapshot per store for both gauges,
 * and the next collection reads again (the figures are current, not cached).
 */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { FakeClock } from '../../lib/clock.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import type { QuotaStore } from '../../lib/quota/types.js';
import { instrumentRouter } from '../../lib/telemetry/otel.js';
import { createPrometheusMetrics } from '../../lib/telemetry/prometheus.js';
import { otelHarness } from '../helpers/otel.js';
import { KEY_A, closeAll, pricedRouter, text } from '../helpers/priced-router.js';

afterEach(closeAll);

/** A MemoryStore whose snapshot() calls are counted. */
function countingStore(): { make: (clock: FakeClock) => QuotaStore; snapshots: () => number } {
  let snapshots = 0;
  return {
    snapshots: () => snapshots,
    make: (clock) => {
      const inner = new MemoryStore({ clock });
      return new Proxy(inner, {
        get(target, property) {
          if (property === 'snapshot') {
            return (...args: Parameters<MemoryStore['snapshot']>) => {
              snapshots++;
              return target.snapshot(...args);
            };
          }
          const value = Reflect.get(target, property, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
}

const budgeted = { workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', budgets: { monthlyUsd: 1 }, overrides: { models: { 'lean-chat': { tokensPerMinute: 10_000 } } } }], budgets: { monthlyUsd: 2, name: 'fleet' } };

describe('telemetry: one store snapshot per collection', () => {
  it('Prometheus: a scrape reads the store once for both gauges; the next scrape reads again, current', async () => {
    const counting = countingStore();
    const { router } = await pricedRouter(budgeted, {}, counting.make);
    const registry = new Registry();
    createPrometheusMetrics({ registry }).observe(router);
    await router.chat.complete({ model: 'lean-chat', messages: text('one'), maxTokens: 10 });
    let before = counting.snapshots();
    const first = await registry.metrics();
    expect(counting.snapshots() - before).to.equal(1);
    expect(first).to.match(/^mistral_router_quota_remaining\{.*\} \d+$/m);
    expect(first).to.match(/^mistral_router_budget_remaining_usd\{.*mistral_router_budget="fleet".*\} [\d.]+$/m);
    const fleet = (out: string) => Number(/^mistral_router_budget_remaining_usd\{[^}]*"fleet"[^}]*\} ([\d.e-]+)$/m.exec(out)?.[1]);
    await router.chat.complete({ model: 'lean-chat', messages: text('two'), maxTokens: 10 });
    before = counting.snapshots();
    const second = await registry.metrics();
    expect(counting.snapshots() - before).to.equal(1);
    expect(fleet(second)).to.be.lessThan(fleet(first));
  });

  it('OpenTelemetry: a collection reads the store once for both gauges (one batch callback); stop() removes it', async () => {
    const counting = countingStore();
    const { router } = await pricedRouter(budgeted, {}, counting.make);
    const otel = otelHarness();
    try {
      const stop = instrumentRouter(router, { tracer: otel.tracerProvider.getTracer('test'), meter: otel.meterProvider.getMeter('test') });
      await router.chat.complete({ model: 'lean-chat', messages: text('one'), maxTokens: 10 });
      const before = counting.snapshots();
      const { resourceMetrics } = await otel.reader.collect();
      expect(counting.snapshots() - before).to.equal(1);
      const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
      const names = metrics.filter((m) => m.dataPoints.length > 0).map((m) => m.descriptor.name);
      expect(names).to.include.members(['mistral_router.quota.remaining', 'mistral_router.budget.remaining']);
      stop();
      const after = counting.snapshots();
      await otel.reader.collect();
      expect(counting.snapshots(), 'no gauge callback after stop()').to.equal(after);
    } finally {
      await otel.close();
    }
  });
});
