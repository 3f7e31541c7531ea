/**
 * The upstream of a replay: one emulator per distinct set of limits (a workspace file may pool
 * workspaces of different tiers, and an emulator enforces one tier), all on the replay's clock, and the
 * fetch the router calls them through. That fetch does two things:
 *
 * - it sends each call to the emulator of its workspace's key (the router has one `serverURL`);
 * - it counts the HTTP exchanges in flight, body included, so the replay moves the clock only when none
 *   is: each emulator then meters a call at the instant the router reserved it, and the run is exact.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { Clock } from '../clock.js';
import { startEmulator, type Emulator, type EmulatorUpstream } from '../emulator/index.js';
import type { EmulatorStats, ModelTokenStats } from '../emulator/stats.js';
import { createNodeFetch, type Fetcher } from '../mistral/node-fetch.js';
import type { SimulatedWorkspace } from './workspace-file.js';

/** The emulators of a replay and the fetch that reaches them. */
export interface Upstreams {
  /** For the router's `serverURL`: the first emulator (the fetch re-targets each call by its key). */
  readonly serverURL: string;
  /** The API key of each workspace, by name (generated: the replay never sees a real key). */
  readonly keys: ReadonlyMap<string, string>;
  readonly fetch: Fetcher;
  /** HTTP exchanges (headers and body) not yet complete. */
  inFlight(): number;
  /** The emulators' statistics, added up. */
  stats(): EmulatorStats;
  stop(): Promise<void>;
}

/** Start the emulators for `workspaces` (one per distinct tier and overrides). */
export async function startUpstreams(catalog: Catalog, workspaces: readonly SimulatedWorkspace[], clock: Clock, upstream: EmulatorUpstream): Promise<Upstreams> {
  const groups = new Map<string, SimulatedWorkspace[]>();
  for (const workspace of workspaces) {
    const key = JSON.stringify([workspace.tier, workspace.overrides ?? null]);
    groups.set(key, [...(groups.get(key) ?? []), workspace]);
  }
  const keys = new Map(workspaces.map((w, i) => [w.name, `sk-simulate-${i}-${w.name.replace(/[^A-Za-z0-9]/g, '').slice(0, 16)}`]));
  const emulators: Emulator[] = [];
  const originByKey = new Map<string, string>();
  try {
    for (const members of groups.values()) {
      const first = members[0] as SimulatedWorkspace;
      const apiKeys = members.map((w) => keys.get(w.name) as string);
      const emulator = await startEmulator({ catalog, clock, tier: first.tier, apiKeys, upstream, ...(first.overrides === undefined ? {} : { overrides: first.overrides }) });
      emulators.push(emulator);
      for (const key of apiKeys) originByKey.set(`Bearer ${key}`, emulator.url);
    }
  } catch (error) {
    await Promise.all(emulators.map((e) => e.stop()));
    throw error;
  }
  const serverURL = (emulators[0] as Emulator).url;
  const inner = createNodeFetch();
  let inFlight = 0;
  const fetch: Fetcher = async (input, init) => {
    inFlight++;
    try {
      let request = input instanceof Request && init === undefined ? input : new Request(input, init);
      const origin = originByKey.get(request.headers.get('authorization') ?? '');
      if (origin !== undefined && origin !== serverURL) {
        const body = request.body === null ? undefined : await request.arrayBuffer();
        request = new Request(origin + request.url.slice(serverURL.length), { method: request.method, headers: request.headers, body, signal: request.signal });
      }
      const response = await inner(request);
      const body = await response.arrayBuffer();
      return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    } finally {
      inFlight--;
    }
  };
  return {
    serverURL,
    keys,
    fetch,
    inFlight: () => inFlight,
    stats: () => addStats(emulators.map((e) => e.stats())),
    stop: async () => void (await Promise.all(emulators.map((e) => e.stop()))),
  };
}

function addCounts<K extends string>(into: Record<K, number>, from: Readonly<Record<K, number>>): void {
  for (const [key, value] of Object.entries(from) as [K, number][]) into[key] = (into[key] ?? 0) + value;
}

function addStats(all: readonly EmulatorStats[]): EmulatorStats {
  const responses: Record<string, number> = {};
  const rateLimited: Record<string, number> = {};
  const faults = { error: 0, capacity: 0, dropBefore: 0, dropMidStream: 0 };
  const tokens: Record<string, ModelTokenStats> = {};
  const invalidModel: Record<string, number> = {};
  let requests = 0;
  for (const stats of all) {
    requests += stats.requests;
    addCounts(responses, stats.responses);
    addCounts(rateLimited, stats.rateLimited);
    addCounts(faults, stats.faults);
    addCounts(invalidModel, stats.invalidModel);
    for (const [model, t] of Object.entries(stats.tokens)) {
      const sum = tokens[model];
      tokens[model] = sum === undefined ? { ...t } : { requests: sum.requests + t.requests, promptTokens: sum.promptTokens + t.promptTokens, completionTokens: sum.completionTokens + t.completionTokens, totalTokens: sum.totalTokens + t.totalTokens, chargedTokens: sum.chargedTokens + t.chargedTokens };
    }
  }
  return { requests, responses, rateLimited: rateLimited as EmulatorStats['rateLimited'], faults, tokens, invalidModel };
}
