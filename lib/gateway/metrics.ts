/**
 * `GET /metrics`, Prometheus text format: the router's metric set (lib/telemetry: tokens in and out, call
 * and time-to-first-chunk durations, decisions, fallbacks by reason, waits, upstream 429s, and quota
 * remaining per window, the virtual keys' windows included) plus the gateway's own count of requests by
 * endpoint, route, model, status and key. prom-client is an optional peer: without it, /metrics is not served (said
 * once in the log). Every label is bounded: routes and keys of the configuration, catalogue model ids,
 * statuses, the three endpoints; a name a client sent that resolved to nothing is counted under route "".
 */
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as PromClient from 'prom-client';
import type { Router } from '../router/router.js';
import { createPrometheusMetrics } from '../telemetry/prometheus.js';
import type { AccessRecord } from './access-log.js';
import { CALLS } from './server.js';

/** The gateway's metrics: the page, and what each finished request adds. */
export interface GatewayMetrics {
  readonly registry: PromClient.Registry;
  /** Counts a finished request. */
  record(record: AccessRecord): void;
  /** Answers `GET /metrics`. */
  page(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

function loadPromClient(): typeof PromClient | undefined {
  try {
    return createRequire(import.meta.url)('prom-client') as typeof PromClient;
  } catch {
    return undefined;
  }
}

/** The metrics of a gateway over `router`, or undefined when prom-client is not installed. */
export function gatewayMetrics(router: Router): GatewayMetrics | undefined {
  const prom = loadPromClient();
  if (prom === undefined) return undefined;
  const registry = new prom.Registry();
  createPrometheusMetrics({ registry, promClient: prom }).observe(router);
  // Counted here per label set and handed to prom-client when /metrics is read: prom-client hashes and
  // checks the labels of every inc (a child from `labels()` does the same), a few µs per request.
  const counts = new Map<string, { readonly labels: Record<string, string>; value: number; reported: number }>();
  const requests: PromClient.Counter = new prom.Counter({
    name: 'mistral_router_gateway_requests_total',
    help: 'HTTP requests the gateway answered, by endpoint (chat, fim, embeddings), route (or model name requested), answering model, status and virtual key.',
    labelNames: ['endpoint', 'route', 'model', 'status', 'key'],
    registers: [registry],
    collect() {
      for (const count of counts.values()) {
        if (count.value === count.reported) continue;
        requests.inc(count.labels, count.value - count.reported);
        count.reported = count.value;
      }
    },
  });
  return {
    registry,
    record(record) {
      if (!record.path.startsWith('/v1/')) return; // health checks, scrapes, the dashboard
      const endpoint = CALLS[record.path] ?? '';
      const route = record.route ?? '';
      const model = record.model ?? '';
      const key = record.key ?? '';
      // Names of the configuration and the catalogue: a NUL in none of them.
      const id = `${endpoint}\0${route}\0${model}\0${record.status}\0${key}`;
      const count = counts.get(id);
      if (count !== undefined) count.value++;
      else counts.set(id, { labels: { endpoint, route, model, status: String(record.status), key }, value: 1, reported: 0 });
    },
    async page(_req, res) {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },
  };
}
