/**
 * What the dashboard shows, as JSON (`GET /dashboard/state`, polled by the page): every window of the
 * store (each workspace's and model's use against its limit, whether the limit was learned from Mistral's
 * headers or configured), each virtual key's windows, the recent decisions and the calls answered per
 * key. Built from the store's snapshot and the gateway's ring of decisions: names, never keys.
 *
 * `remaining` is computed as /metrics computes `mistral_router_quota_remaining` (0 while an upstream 429
 * blocks the window), so the page and the metrics agree on every window.
 */
import type { Clock } from '../clock.js';
import { MICRO_USD_PER_USD } from '../telemetry/cost.js';
import type { QuotaStore, WindowSnapshot } from '../quota/types.js';
import type { KeyLimits } from './config.js';
import { KEY_WORKSPACE_PREFIX, type VirtualKeys } from './keys.js';
import type { RecentDecision, RecentDecisions } from './recent.js';

/** One window as the page shows it. */
export interface WindowRow {
  readonly workspace: string;
  /** undefined for a workspace-scoped window. */
  readonly model: string | undefined;
  readonly kind: string;
  /** `requests`, `tokens`, or `usd` for a monthly budget (its numbers then in USD). */
  readonly unit: string;
  readonly limit: number | null;
  readonly used: number;
  /** Held by calls in flight (estimates not yet settled). */
  readonly held: number;
  /** limit - used (0 while blocked by an upstream 429); null when the limit is unknown. */
  readonly remaining: number | null;
  /** `learned` (from Mistral's headers), `configured` (tier, override, key limit) or `unknown`. */
  readonly source: 'learned' | 'configured' | 'unknown';
  readonly blockedUntil: number | null;
}

export interface KeyRow {
  readonly name: string;
  readonly routes: readonly string[] | null;
  readonly models: readonly string[] | null;
  /** The key's own limits, as configured. */
  readonly limits: KeyLimits;
  /** Calls answered (2xx) for this key since the gateway started. */
  readonly answered: number;
  readonly windows: readonly WindowRow[];
}

export interface DashboardState {
  /** The gateway's clock, epoch ms. */
  readonly now: number;
  readonly workspaces: readonly WindowRow[];
  readonly keys: readonly KeyRow[];
  readonly decisions: readonly RecentDecision[];
  readonly answered: number;
}

function row(window: WindowSnapshot): WindowRow {
  // As the quota gauge reads it: a window the store reports blocked has nothing left.
  const blocked = window.blockedUntil !== undefined;
  // A monthly budget (a key's, a workspace's, the router's) counts micro-dollars: shown in USD, as the
  // budget gauge of /metrics reports it.
  const money = window.kind.includes('usd');
  const scale = money ? MICRO_USD_PER_USD : 1;
  const remaining = window.limit === null ? null : blocked ? 0 : Math.max(0, window.limit - window.used);
  return {
    workspace: window.workspace,
    model: window.model,
    kind: window.kind,
    unit: money ? 'usd' : window.unit,
    limit: window.limit === null ? null : window.limit / scale,
    used: window.used / scale,
    held: window.held / scale,
    remaining: remaining === null ? null : remaining / scale,
    source: window.limit === null ? 'unknown' : window.learned ? 'learned' : 'configured',
    blockedUntil: blocked ? (window.blockedUntil as number) : null,
  };
}

export async function dashboardState(store: QuotaStore, keys: VirtualKeys, recent: RecentDecisions, clock: Clock): Promise<DashboardState> {
  const now = clock.now();
  const windows = await store.snapshot();
  const workspaces: WindowRow[] = [];
  const byKey = new Map<string, WindowRow[]>();
  for (const window of windows) {
    if (window.workspace.startsWith(KEY_WORKSPACE_PREFIX)) {
      const name = window.workspace.slice(KEY_WORKSPACE_PREFIX.length);
      let list = byKey.get(name);
      if (list === undefined) byKey.set(name, (list = []));
      list.push(row(window));
    } else {
      workspaces.push(row(window));
    }
  }
  workspaces.sort((a, b) => a.workspace.localeCompare(b.workspace) || (a.model ?? '').localeCompare(b.model ?? '') || a.kind.localeCompare(b.kind));
  return {
    now,
    workspaces,
    keys: keys.list.map((key) => ({
      name: key.name,
      routes: key.routes === undefined ? null : [...key.routes],
      models: key.models === undefined ? null : [...key.models],
      limits: key.limits,
      answered: recent.answeredFor(key.name),
      windows: byKey.get(key.name) ?? [],
    })),
    decisions: recent.list(),
    answered: recent.total,
  };
}
