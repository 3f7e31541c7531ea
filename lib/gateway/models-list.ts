/**
 * `GET /v1/models` for one virtual key: what it may call, as Mistral's model list (cards with every field
 * the SDK's schema requires, which OpenAI's client reads as `{ id, object, created, owned_by }` too).
 * First the routes it may use (for a key with `models`, those one of them serves) and `auto`, each a card whose capabilities are its need's; then the
 * catalogue models it may name that an endpoint routes (chat, FIM, embeddings) and that are not retired
 * on the gateway's day, each with its aliases.
 */
import { capabilityFlags, completeCard, modelCard } from '../catalog/cards.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Capability } from '../catalog/types.js';
import { normaliseNeed, type Need } from '../need.js';
import { routeEndpoint, routePlan } from './build.js';
import type { VirtualKey, VirtualKeys } from './keys.js';
import { AUTO, type Routes } from './routes.js';

const ROUTABLE: readonly Capability[] = ['chat', 'fim', 'embedding'];

function routeCard(id: string, description: string, capabilities: readonly Capability[], minContext: number | undefined, created: number) {
  return completeCard(
    {
      id,
      object: 'model',
      owned_by: 'mistral-router',
      name: id,
      description,
      max_context_length: minContext ?? 32768,
      type: 'base',
      capabilities: capabilityFlags({ capabilities: capabilities.includes('chat') || capabilities.includes('embedding') || capabilities.includes('fim') ? capabilities : ['chat', ...capabilities] }),
    },
    created,
  );
}

/** The JSON body of `GET /v1/models` for `key`, at `now` (epoch ms). */
export function modelsList(catalog: Catalog, routes: Routes, keys: VirtualKeys, key: VirtualKey, now: number): string {
  return JSON.stringify({ object: 'list', data: modelCards(catalog, routes, keys, key, now) });
}

/**
 * The JSON body of `GET /v1/models/{id}` for `key`: the card of the route, `auto` or model of that id
 * (a model also by an alias) among what the key may call; undefined when there is none.
 */
export function modelRetrieved(catalog: Catalog, routes: Routes, keys: VirtualKeys, key: VirtualKey, id: string, now: number): string | undefined {
  const card = modelCards(catalog, routes, keys, key, now).find((one) => one.id === id || (one.aliases as readonly string[] | undefined)?.includes(id) === true);
  return card === undefined ? undefined : JSON.stringify(card);
}

/** Whether a model the key may be answered by serves the route's need today (always, for a key without `models`). */
function served(catalog: Catalog, keys: VirtualKeys, key: VirtualKey, need: Need | undefined, now: number): boolean {
  if (key.answers === undefined) return true;
  const bounded = keys.bounded(key, need, catalog);
  const normalised = normaliseNeed(bounded, routeEndpoint(bounded), [], 'smallest-sufficient');
  return routePlan(catalog, normalised, now).models.length > 0;
}

function modelCards(catalog: Catalog, routes: Routes, keys: VirtualKeys, key: VirtualKey, now: number): { id: string; aliases?: unknown }[] {
  const created = Math.floor(now / 1000);
  const data: { id: string; aliases?: unknown }[] = [];
  for (const name of routes.names) {
    if (key.routes !== undefined && !key.routes.has(name)) continue;
    const need = routes.route(name)?.need;
    // A route none of the key's models serves would answer it 400 every time: not listed.
    if (!served(catalog, keys, key, need, now)) continue;
    data.push(routeCard(name, `mistral-router route: ${JSON.stringify(need ?? {})}`, need?.capabilities ?? [], need?.minContext, created));
  }
  if (key.routes === undefined || key.routes.has(AUTO)) data.push(routeCard(AUTO, 'mistral-router: the need the request implies (images, audio, tools, JSON output) and its `need` field', [], undefined, created));
  const day = catalog.lifecycleOn(now);
  for (const model of catalog.models) {
    if (!model.capabilities.some((capability) => ROUTABLE.includes(capability))) continue;
    if (key.models !== undefined && !key.models.has(model.id)) continue;
    if (day.of(model.id)?.status === 'retired') continue;
    data.push(modelCard(model, model.id, created, model.aliases));
  }
  return data;
}
