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
import { PromCells } from '../telemetry/prom-cells.js';
import type { AccessRecord } from './access-log.js';
import { CALLS } from './server.js';

const LABELS = ['endpoint', 'route', 'model', 'status', 'key'];

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
  // Counted per label set, handed to prom-client when read or at the turn's end (prom-cells.ts).
  const cells = new PromCells();
  const requests: PromClient.Counter = new prom.Counter({
    name: 'mistral_router_gateway_requests_total',
    help: 'HTTP requests the gateway answered, by endpoint (chat, fim, embeddings), route (or model name requested), answering model, status and virtual key.',
    labelNames: LABELS,
    registers: [registry],
    collect: () => cells.flush(),
  });
  cells.watchReset(requests);
  return {
    registry,
    record(record) {
      if (!record.path.startsWith('/v1/')) return; // health checks, scrapes, the dashboard
      cells.record('requests', requests, true, LABELS, [CALLS[record.path] ?? '', record.route ?? '', record.model ?? '', String(record.status), record.key ?? ''], 1);
    },
    async page(_req, res) {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },
  };
}
