/**
 * The gateway's parts from a loaded configuration: the catalogue, the store, the router, the virtual keys
 * and the routes, after the checks that need the catalogue. Every refusal is a ConfigFileError at the
 * line of the field (a route no model can serve, a key allowed an unknown route or model, a router option
 * the router refuses), so a bad configuration stops `serve` before it listens.
 */
import type { Catalog } from '../catalog/catalog.js';
import { loadCatalog } from '../catalog/load.js';
import { systemClock, type Clock } from '../clock.js';
import { ConfigError, NeedError, RouterError } from '../errors.js';
import { normaliseNeed, type Endpoint, type Need, type NormalisedNeed } from '../need.js';
import { createNodeFetch } from '../mistral/node-fetch.js';
import { MemoryStore } from '../quota/memory/index.js';
import type { QuotaStore } from '../quota/types.js';
import { summariseRejections } from '../router/failures.js';
import { resolveOptions, type RouterOptions } from '../router/options.js';
import { DEFAULT_UNKNOWN_CONTEXT_TOKENS, fitContext, rankModels, type ModelPlan } from '../router/plan.js';
import { TokenEstimator } from '../tokens.js';
import type { LoadedConfig } from './config.js';
import { AUTO } from './routes.js';

/** The endpoint a route's need is for: embeddings or FIM when it asks for them, chat otherwise. */
export function routeEndpoint(need: Need | undefined): Endpoint {
  const capabilities = need?.capabilities ?? [];
  if (capabilities.includes('embedding')) return 'embeddings';
  if (capabilities.includes('fim')) return 'fim';
  return 'chat';
}

/**
 * What the router would plan for a route's (normalised) need on the day `now`, in its order: retired models
 * left out, deprecated ones last, a context too small rejected. The start-up check, `serve --check` and
 * `GET /v1/models` read it.
 */
export function routePlan(catalog: Catalog, need: NormalisedNeed, now: number): ModelPlan {
  return fitContext(rankModels(catalog, need, undefined, true, { lifecycle: catalog.lifecycleOn(now) }), 0, need.minContext, DEFAULT_UNKNOWN_CONTEXT_TOKENS);
}

/** `workspaces[0].overrides.models.x` (a router option) as a JSON pointer of the file. */
function optionPointer(option: string): string {
  const path = option.replace(/\[(\d+)\]/g, '.$1').split('.');
  const head = path[0] === 'workspaces' ? '' : '/router';
  return `${head}/${path.map((segment) => segment.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
}

/** The router's options of a configuration (the store and clock are the caller's). */
export function routerOptions(loaded: LoadedConfig, catalog: Catalog, store: QuotaStore, clock: Clock, tokens: TokenEstimator): RouterOptions {
  const { router, workspaces } = loaded.config;
  // node:http with keep-alive agents: the SDK's calls cost 2-3 times less than through the global fetch.
  return { ...router, workspaces, catalog, store, clock, tokenEstimator: tokens, fetch: createNodeFetch() };
}

/**
 * Checks a configuration against its catalogue; throws a ConfigFileError at the first problem. The
 * router's own checks run too (without building a router), so that their errors get a line.
 */
export function checkConfig(loaded: LoadedConfig, catalog: Catalog, now: number = Date.now()): void {
  const { config, fail } = loaded;
  try {
    resolveOptions({ ...config.router, workspaces: config.workspaces, catalog });
  } catch (error) {
    if (error instanceof ConfigError) throw fail(optionPointer(error.option), error.message.slice(error.option.length + 2));
    throw error;
  }
  const strategy = config.router.strategy ?? 'smallest-sufficient';
  for (const [name, route] of Object.entries(config.routes)) {
    const at = `/routes/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (catalog.resolve(name) !== undefined) throw fail('/routes', `the route ${JSON.stringify(name)} has the name of a model: requests for it would be ambiguous`, name);
    const endpoint = routeEndpoint(route.need);
    try {
      const need = normaliseNeed(route.need, endpoint, [], strategy);
      // On the gateway's day: a model retired by then serves nothing (the router never picks it).
      const fitted = routePlan(catalog, need, now);
      if (fitted.models.length === 0) throw fail(`${at}/need`, `no model of the catalogue can serve this ${endpoint} route: ${summariseRejections(fitted.rejected)}`);
    } catch (error) {
      if (error instanceof NeedError) throw fail(`${at}/${error.field.replace(/\[(\d+)\]/g, '.$1').split('.').join('/')}`, error.message.slice(error.field.length + 2));
      throw error;
    }
  }
  config.keys.forEach((key, index) => {
    key.routes?.forEach((route, j) => {
      if (route !== AUTO && config.routes[route] === undefined) throw fail(`/keys/${index}/routes/${j}`, `unknown route ${JSON.stringify(route)}; the routes are: ${[AUTO, ...Object.keys(config.routes)].join(', ')}`);
    });
    // An empty list would allow no model at all, not "routes only" (which is leaving `models` out).
    if (key.models?.length === 0) throw fail(`/keys/${index}/models`, 'an empty list allows no model: leave models out for a key that calls its routes only, or name the models it may use');
    key.models?.forEach((model, j) => {
      if (catalog.resolve(model) === undefined) throw fail(`/keys/${index}/models/${j}`, `unknown model ${JSON.stringify(model)}; see "mistral-router catalog" for the ids and aliases`);
    });
  });
}

/** The catalogue of a configuration: the bundled one and the config's files. */
export function configCatalog(loaded: LoadedConfig): Catalog {
  return loadCatalog({ files: loaded.config.catalogFiles });
}

/** The store a configuration names: memory (on `clock`), or Redis (on Redis's own clock unless one is given). */
export async function configStore(loaded: LoadedConfig, clock: Clock | undefined): Promise<QuotaStore> {
  const { store } = loaded.config;
  if (store === 'memory') return new MemoryStore({ clock: clock ?? systemClock });
  try {
    const { RedisStore } = await import('../quota/redis/index.js');
    const { storeKeyPrefix } = loaded.config;
    return new RedisStore({ redis: store, ...(storeKeyPrefix === undefined ? {} : { keyPrefix: storeKeyPrefix }), ...(clock === undefined ? {} : { clock }) });
  } catch (error) {
    if (RouterError.isInstance(error)) throw error;
    throw fail(loaded, `cannot use the Redis store (is ioredis installed?): ${(error as Error).message}`);
  }
}

function fail(loaded: LoadedConfig, message: string): Error {
  return loaded.fail('/store', message);
}

/**
 * The store as the router sees it: every method of `store` except `close`, which the gateway calls itself
 * once the virtual keys' reservations (taken beside the router's) are settled too.
 */
export function sharedStore(store: QuotaStore): QuotaStore {
  return {
    reserve: store.reserve.bind(store),
    settle: store.settle.bind(store),
    release: store.release.bind(store),
    observe: store.observe.bind(store),
    snapshot: store.snapshot.bind(store),
    pendingReservations: store.pendingReservations.bind(store),
    close: async () => undefined,
    ...(store.reserveSync === undefined ? {} : { reserveSync: store.reserveSync.bind(store) }),
    ...(store.settleSync === undefined ? {} : { settleSync: store.settleSync.bind(store) }),
    ...(store.releaseSync === undefined ? {} : { releaseSync: store.releaseSync.bind(store) }),
    ...(store.observeSync === undefined ? {} : { observeSync: store.observeSync.bind(store) }),
  };
}
