/**
 * A workspace as the router holds it: its configuration, its SDK client, whether it is still usable, and
 * the quota windows a call through it uses (the tier's, with its overrides, and kinds learned from headers).
 */
import type { Catalog } from '../catalog/catalog.js';
import { WorkspaceClient } from '../mistral/client.js';
import type { Fetcher } from '../mistral/node-fetch.js';
import { WINDOW_KINDS, type WindowSpec } from '../quota/types.js';
import type { WorkspaceConfig } from './options.js';

export interface Workspace {
  readonly config: WorkspaceConfig;
  readonly client: WorkspaceClient;
  /** Out after a 401/403: no candidate list holds it (see candidates.ts). */
  disabled: boolean;
  /** Window kinds learned from headers that the tier did not define (e.g. requests-per-minute). */
  readonly learnedKinds: Map<string, WindowSpec>;
  /** The tier's windows per model, with this workspace's limits and overrides (built once per model). */
  readonly tierWindows: Map<string, WindowSpec[]>;
  /** Limits the headers reported, per window kind, per model ('' for workspace-scoped windows). */
  readonly knownLimits: Map<string, Map<string, number | null>>;
}

export function createWorkspace(config: WorkspaceConfig, serverURL: string | undefined, timeoutMs: number, fetch?: Fetcher): Workspace {
  return {
    config,
    client: new WorkspaceClient({ name: config.name, apiKey: config.apiKey, serverURL, timeoutMs, ...(fetch === undefined ? {} : { fetch }) }),
    disabled: false,
    learnedKinds: new Map(),
    tierWindows: new Map(),
    knownLimits: new Map(),
  };
}

/** The windows a call to `model` through `workspace` uses: the tier's (see tierWindows), then any learned kinds. */
export function windowsFor(catalog: Catalog, workspace: Workspace, model: string): WindowSpec[] {
  const windows = tierWindows(catalog, workspace, model);
  return workspace.learnedKinds.size === 0 ? windows : [...windows, ...workspace.learnedKinds.values()];
}

/** The tier's windows of `model` through `workspace`, with its limits and overrides (built once). */
export function tierWindows(catalog: Catalog, workspace: Workspace, model: string): WindowSpec[] {
  let windows = workspace.tierWindows.get(model);
  if (windows === undefined) {
    const limits = catalog.limits(workspace.config.tier, model);
    const overrides = workspace.config.overrides;
    const modelOverrides = overrides?.models?.[model];
    windows = [
      { ...WINDOW_KINDS.requestsPerSecond, limit: overrides?.requestsPerSecond !== undefined ? overrides.requestsPerSecond : limits.requestsPerSecond },
      { ...WINDOW_KINDS.tokensPerMinute, limit: modelOverrides?.tokensPerMinute !== undefined ? modelOverrides.tokensPerMinute : limits.tokensPerMinute },
      { ...WINDOW_KINDS.tokensPerMonth, limit: modelOverrides?.tokensPerMonth !== undefined ? modelOverrides.tokensPerMonth : limits.tokensPerMonth },
    ];
    workspace.tierWindows.set(model, windows);
  }
  return windows;
}
