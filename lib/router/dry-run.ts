/**
 * The dry run of {@link Router.plan}: a request's plan with, for each candidate, whether every window has
 * room for it now and, if not, the first that has none. Reads the store's snapshots; reserves nothing.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { Clock } from '../clock.js';
import { AbortError } from '../errors.js';
import type { QuotaStore, WindowSnapshot } from '../quota/types.js';
import type { Plan, PlanCandidate } from './decision.js';
import type { Prepared } from './prepare.js';
import { windowsFor, type Workspace } from './workspaces.js';

export async function dryRun(
  store: QuotaStore,
  clock: Clock,
  catalog: Catalog,
  workspace: (name: string) => Workspace,
  prepared: Prepared,
  signal: AbortSignal | undefined,
): Promise<Plan> {
  const snapshots = new Map<string, WindowSnapshot[]>();
  const candidates: PlanCandidate[] = [];
  const now = clock.now();
  for (const candidate of prepared.plan.candidates) {
    let snapshot = snapshots.get(candidate.workspace);
    if (snapshot === undefined) {
      if (signal?.aborted) throw new AbortError('The dry run was aborted by its AbortSignal.');
      snapshots.set(candidate.workspace, (snapshot = await store.snapshot(candidate.workspace)));
    }
    let quota: string | undefined;
    for (const window of windowsFor(catalog, workspace(candidate.workspace), candidate.model)) {
      const state = snapshot.find((s) => s.kind === window.kind && (window.scope === 'workspace' ? s.model === undefined : s.model === candidate.model));
      const limit = state?.limit ?? window.limit;
      const cost = window.unit === 'requests' ? 1 : prepared.estimated;
      if (state?.blockedUntil !== undefined && state.blockedUntil > now) quota = `${window.kind} blocked by an upstream 429 for ${state.blockedUntil - now} ms`;
      else if (limit !== null && cost > limit) quota = `${window.kind}: the request (${cost}) exceeds the limit (${limit})`;
      else if (limit !== null && (state?.used ?? 0) + cost > limit) quota = `${window.kind} full: ${state?.used ?? 0} of ${limit} used`;
      if (quota !== undefined) break;
    }
    candidates.push({ ...candidate, room: quota === undefined, ...(quota === undefined ? {} : { quota }) });
  }
  if (signal?.aborted) throw new AbortError('The dry run was aborted by its AbortSignal.');
  return { ...prepared.plan, candidates };
}
