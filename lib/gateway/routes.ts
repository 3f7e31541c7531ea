/**
 * What a request's `model` names: a route of the configuration (its need and wait bound), `auto` (the
 * need its content implies, plus a `need` body field if it sends one), or a model id or alias (routed
 * with its fallbacks, as the library does). The gateway adds no routing of its own: each becomes the
 * `model` / `need` / `maxWaitMs` of a router request.
 */
import type { Catalog } from '../catalog/catalog.js';
import { GatewayError } from './errors.js';
import type { Need } from '../need.js';
import type { RouteConfig } from './config.js';
import type { VirtualKey } from './keys.js';

/** The name that routes by the request's content alone. */
export const AUTO = 'auto';

/** What a `model` field resolved to. */
export type Target =
  | { readonly kind: 'route'; readonly name: string; readonly need: Need | undefined; readonly maxWaitMs: number | undefined }
  | { readonly kind: 'auto'; readonly name: typeof AUTO }
  | { readonly kind: 'model'; readonly name: string; readonly id: string };

const AUTO_TARGET: Target = Object.freeze({ kind: 'auto', name: AUTO });

export class Routes {
  readonly #routes: ReadonlyMap<string, Target & { kind: 'route' }>;
  readonly #catalog: Catalog;
  /** Model targets by the name requested (ids and aliases), made once. */
  readonly #models = new Map<string, Target & { kind: 'model' }>();

  constructor(routes: Readonly<Record<string, RouteConfig>>, catalog: Catalog) {
    this.#catalog = catalog;
    this.#routes = new Map(Object.entries(routes).map(([name, route]) => [name, Object.freeze({ kind: 'route' as const, name, need: route.need, maxWaitMs: route.maxWaitMs })]));
  }

  /** The route names, in the configuration's order. */
  get names(): readonly string[] {
    return [...this.#routes.keys()];
  }

  route(name: string): (Target & { kind: 'route' }) | undefined {
    return this.#routes.get(name);
  }

  /**
   * The target of a request's `model` (absent: `auto`) for `key`: GatewayError 404 for a name that is
   * neither a route nor a model, 403 for one the key may not use.
   */
  resolve(model: unknown, key: VirtualKey): Target {
    if (model === undefined || model === null || model === AUTO) {
      if (key.routes !== undefined && !key.routes.has(AUTO)) throw forbidden(key, 'route', AUTO);
      return AUTO_TARGET;
    }
    if (typeof model !== 'string' || model === '') throw new GatewayError({ code: 'GATEWAY_BAD_REQUEST', message: 'model: expected a route name, "auto", or a model id or alias', param: 'model' });
    const route = this.#routes.get(model);
    if (route !== undefined) {
      if (key.routes !== undefined && !key.routes.has(model)) throw forbidden(key, 'route', model);
      return route;
    }
    let target = this.#models.get(model);
    if (target === undefined) {
      const id = this.#catalog.resolve(model);
      if (id === undefined) {
        throw new GatewayError({ code: 'GATEWAY_NOT_FOUND', message: `The model ${JSON.stringify(model)} does not exist: it is neither a route of this gateway (${this.names.join(', ') || 'none'}), nor "auto", nor a model id or alias of the catalogue.`, param: 'model' });
      }
      target = Object.freeze({ kind: 'model' as const, name: model, id });
      this.#models.set(model, target);
    }
    if (key.models !== undefined && !key.models.has(target.id)) throw forbidden(key, 'model', model);
    return target;
  }
}

function forbidden(key: VirtualKey, what: 'route' | 'model', name: string): GatewayError {
  return new GatewayError({ code: 'GATEWAY_FORBIDDEN', message: `The gateway key "${key.name}" may not use the ${what} ${JSON.stringify(name)}.`, param: 'model' });
}
