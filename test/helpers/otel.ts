/**
 * OpenTelemetry for the tests: in-memory span and metric readers from the SDK packages (dev dependencies),
 * and a context manager over AsyncLocalStorage (what @opentelemetry/context-async-hooks does), so that
 * `context.with()` sets the active context across awaits as it does in an instrumented service.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, context, type Context, type ContextManager } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** A reader collected on demand (no timer). */
class ManualReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

export class AsyncLocalContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    return ((...args: unknown[]) => this.with(ctx, () => (target as (...a: unknown[]) => unknown)(...args))) as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

export interface OtelHarness {
  readonly exporter: InMemorySpanExporter;
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  readonly reader: MetricReader;
  spans(): ReadableSpan[];
  /** The metric of that name from a collection now. */
  metric(name: string): Promise<MetricData | undefined>;
  close(): Promise<void>;
}

export function otelHarness(): OtelHarness {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    exporter,
    tracerProvider,
    meterProvider,
    reader,
    spans: () => exporter.getFinishedSpans(),
    async metric(name) {
      const { resourceMetrics } = await reader.collect();
      for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) if (metric.descriptor.name === name) return metric;
      return undefined;
    },
    async close() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** Installs the AsyncLocalStorage context manager globally until the returned function is called. */
export function withContextManager(): () => void {
  const manager = new AsyncLocalContextManager();
  context.setGlobalContextManager(manager);
  return () => context.disable();
}

/** The data points of a histogram metric whose attributes include every given pair. */
export function histogramPoints(metric: MetricData | undefined, attributes: Record<string, unknown>): DataPoint<Histogram>[] {
  if (metric === undefined) return [];
  return (metric.dataPoints as DataPoint<Histogram>[]).filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
}
