/**
 * `startGateway`: the HTTP gateway over a router, from a configuration file or object. It listens on
 * 127.0.0.1 unless told otherwise and returns `{ url, close() }`.
 *
 * `close()` drains, in this order: new requests get 503; the requests in flight (calls and streams) have
 * `server.drainTimeoutMs` to finish; then `router.close()` ends what is left (waits for quota are refused,
 * open streams are cut with an error event, calls already sent finish); once every handler has answered
 * and settled its key's reservation, the connections close and the store closes. The router is given the
 * store without its `close` (see build.ts's sharedStore), so the keys' settles never meet a closed store.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Catalog } from '../catalog/catalog.js';
import { systemClock, type Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { QuotaStore } from '../quota/types.js';
import { createRouter, type Router } from '../router/router.js';
import { TokenEstimator } from '../tokens.js';
import { checkConfig, configCatalog, configStore, routerOptions, sharedStore } from './build.js';
import { loadGatewayConfig, type GatewayConfig, type GatewayConfigInput, type LoadedConfig } from './config.js';
import { VirtualKeys } from './keys.js';
import { gatewayMetrics } from './metrics.js';
import { dashboardPage } from './dashboard-page.js';
import { dashboardState } from './dashboard-state.js';
import { RecentDecisions } from './recent.js';
import { Routes } from './routes.js';
import { GatewayServer, type ServerHost } from './server.js';

/** Options of {@link startGateway}: a configuration (`config` or `configFile`), and what tests inject. */
export interface GatewayOptions {
  /** The configuration, in the file's shape. Exactly one of `config` and `configFile`. */
  readonly config?: GatewayConfigInput;
  /** A YAML configuration file. */
  readonly configFile?: string;
  /** The quota store. @default the config's `store` (memory, or Redis) */
  readonly store?: QuotaStore;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default the bundled catalogue plus the config's `catalog.files` */
  readonly catalog?: Catalog;
  /** Where `${NAME}` references are read. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Overrides `server.host`. */
  readonly host?: string;
  /** Overrides `server.port` (0: any free port). */
  readonly port?: number;
  /** Where access-log lines and internal errors go. @default one line each on stderr */
  readonly log?: (line: string) => void;
}

/** A running gateway. */
export interface Gateway {
  /** `http://host:port`, the base URL for Mistral's SDK (`serverURL`); OpenAI's client takes `${url}/v1`. */
  readonly url: string;
  readonly router: Router;
  readonly config: GatewayConfig;
  /** Requests being served now. */
  readonly inFlight: number;
  /** Drain and stop (see the module comment). Calling it again returns the same promise. */
  close(): Promise<void>;
}

/** The configuration of `options`, loaded and checked against `catalog`. */
export function loadOptionsConfig(options: GatewayOptions): LoadedConfig {
  if ((options.config === undefined) === (options.configFile === undefined)) throw new ConfigError('config', 'startGateway needs exactly one of config and configFile');
  return loadGatewayConfig(options.configFile !== undefined ? { file: options.configFile } : { object: options.config as GatewayConfigInput }, options.env);
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const loaded = loadOptionsConfig(options);
  const catalog = options.catalog ?? configCatalog(loaded);
  checkConfig(loaded, catalog, (options.clock ?? systemClock).now());
  const { config } = loaded;
  const clock = options.clock ?? systemClock;
  const store = options.store ?? (await configStore(loaded, options.clock));
  const tokens = new TokenEstimator();
  const router = createRouter(routerOptions(loaded, catalog, sharedStore(store), clock, tokens));
  const keys = new VirtualKeys(config.keys, store, (name) => catalog.resolve(name));
  const routes = new Routes(config.routes, catalog);
  const recent = new RecentDecisions();
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const settings = { ...config.server, ...(options.host === undefined ? {} : { host: options.host }), ...(options.port === undefined ? {} : { port: options.port }) };
  const firstWorkspace = config.workspaces[0]?.name;
  // A workspace whose key Mistral refused takes no more calls (the router's policy): said in the log, and
  // /readyz is not ready once none is left, so that a load balancer takes this instance out.
  const out = new Set<string>();
  router.events.on('workspaceDisabled', ({ workspace, status }) => {
    out.add(workspace);
    log(JSON.stringify({ level: 'error', message: 'Mistral refused this workspace\'s API key: it takes no more calls until the gateway restarts with a valid key', workspace, status: status ?? null }));
  });
  const metrics = gatewayMetrics(router);
  if (metrics === undefined) log(JSON.stringify({ level: 'info', message: 'GET /metrics is not served: install the optional peer dependency prom-client to serve it' }));
  const exposed = openPagesWarning(settings.host, metrics !== undefined, settings.dashboard);
  if (exposed !== undefined) log(JSON.stringify({ level: 'warn', message: exposed }));
  const pages = new Map<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>();
  if (metrics !== undefined) pages.set('/metrics', metrics.page);
  if (settings.dashboard) {
    pages.set('/dashboard', (_req, res) => dashboardPage(res));
    pages.set('/dashboard/state', async (_req, res) => {
      const json = JSON.stringify(await dashboardState(store, keys, recent, clock));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store' });
      res.end(json);
    });
  }
  const host: ServerHost = {
    router,
    keys,
    routes,
    tokens,
    defaultMaxTokens: config.router.defaultMaxTokens ?? 1024,
    defaultMaxWaitMs: config.router.maxWaitMs ?? 30_000,
    secrets: config.workspaces.map((w) => w.apiKey),
    decided: (decision, key, route) => recent.add(clock.now(), decision, key.name, route),
    settleFailed: (error) => log(JSON.stringify({ level: 'warn', message: 'a gateway key reservation could not be settled', error: (error as Error).message })),
    settings,
    clock,
    log,
    pages,
    ...(metrics === undefined ? {} : { finished: metrics.record }),
    ready: async () => {
      if (out.size === config.workspaces.length) return `Mistral refused the API key of every workspace (401/403): ${[...out].join(', ')}`;
      try {
        await store.snapshot(firstWorkspace);
        return undefined;
      } catch {
        return 'the quota store does not answer';
      }
    },
  };
  const server = new GatewayServer(host);
  try {
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.server.listen(settings.port, settings.host, () => {
        server.server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await router.close();
    await store.close();
    throw error;
  }
  const address = server.server.address() as AddressInfo;
  const urlHost = address.address.includes(':') ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}`,
    router,
    config: { ...config, server: settings },
    get inFlight() {
      return server.inFlight;
    },
    close: () => (closing ??= drain(server, router, store, clock, settings.drainTimeoutMs)),
  };
}

async function drain(server: GatewayServer, router: Router, store: QuotaStore, clock: Clock, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.server.once('close', () => resolve()));
  const drained = server.drain();
  let cancel: (() => void) | undefined;
  const grace = new Promise<void>((resolve) => (cancel = clock.setTimer(resolve, graceMs)));
  await Promise.race([drained, grace]);
  cancel?.();
  // What has not finished within the grace is ended by the router: waits refused, streams cut.
  await router.close();
  await drained;
  server.server.closeAllConnections();
  await closed;
  await store.close();
}

/**
 * The warning for operations pages that take no key (a scraper, a browser) on an address others can
 * reach; undefined on a loopback address, or when neither page is served.
 */
export function openPagesWarning(host: string, metrics: boolean, dashboard: boolean): string | undefined {
  const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
  if (loopback || (!metrics && !dashboard)) return undefined;
  const pages = [metrics ? 'GET /metrics' : undefined, dashboard ? 'GET /dashboard' : undefined].filter((page) => page !== undefined).join(' and ');
  return `${pages} take no key and show key names, limits and use: on ${host} restrict them in front of the gateway${dashboard ? ', or set server.dashboard: false' : ''}`;
}
