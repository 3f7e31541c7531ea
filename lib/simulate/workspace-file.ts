/**
 * The workspaces a simulation pools, from a YAML (or JSON) file: each with its tier and the overrides
 * that give its real limits. The same list shape as the gateway's configuration, so a gateway file
 * (`mistral-router serve --config`) is also a workspace file: its other sections and its `apiKey`s are
 * ignored (the replay talks to its own emulator with keys of its own).
 *
 * ```yaml
 * workspaces:
 *   - name: team-a
 *     tier: free
 *     overrides:
 *       requestsPerSecond: null            # unmetered
 *       models:
 *         ministral-8b-2512: { tokensPerMinute: 150000 }
 * ```
 *
 * Every problem is a ConfigFileError naming the file, the line and the field.
 */
import type { Catalog } from '../catalog/catalog.js';
import { CatalogDocument, compileSchema, type LocatedErrorFactory } from '../catalog/document.js';
import { gatewayConfigSchema } from '../gateway/config-schema.js';
import { ConfigFileError } from '../gateway/errors.js';
import type { WorkspaceOverrides } from '../router/options.js';

/** A workspace of a simulation: the router's and the emulator's limits both come from it. */
export interface SimulatedWorkspace {
  readonly name: string;
  readonly tier: string;
  /** Model keys are resolved to ids (an alias in the file works). */
  readonly overrides?: WorkspaceOverrides;
}

/** The gateway's workspace entry, with `apiKey` optional (ignored): one shape for both files. */
const gatewayWorkspace = gatewayConfigSchema.properties.workspaces.items;

export const workspaceFileSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://mistral-router.dev/schemas/simulate-workspaces.schema.json',
  type: 'object',
  required: ['workspaces'],
  properties: {
    workspaces: {
      type: 'array',
      minItems: 1,
      items: { ...gatewayWorkspace, required: ['name', 'tier'], properties: { ...gatewayWorkspace.properties, budgets: { type: 'object' } } },
    },
  },
} as const;

const configError: LocatedErrorFactory = (_code, message, location, options) => new ConfigFileError({ ...location, message, cause: options?.cause });

/** Read a workspace file and check its tiers and models against the catalogue. */
export function loadWorkspaceFile(file: string, catalog: Catalog): SimulatedWorkspace[] {
  const document = CatalogDocument.read(file, configError);
  document.validate(compileSchema(workspaceFileSchema));
  const fail = (pointer: string, message: string) => document.error('CONFIG_INVALID', message, pointer) as ConfigFileError;
  const entries = (document.data as { workspaces: { name: string; tier: string; overrides?: WorkspaceOverrides }[] }).workspaces;
  const seen = new Map<string, number>();
  return entries.map((entry, index) => {
    const before = seen.get(entry.name);
    if (before !== undefined) throw fail(`/workspaces/${index}/name`, `duplicate workspace name ${JSON.stringify(entry.name)} (also workspaces[${before}])`);
    seen.set(entry.name, index);
    if (!catalog.hasTier(entry.tier)) throw fail(`/workspaces/${index}/tier`, `unknown tier ${JSON.stringify(entry.tier)}; known tiers: ${catalog.tiers.map((t) => t.name).join(', ')}`);
    if (entry.overrides === undefined) return { name: entry.name, tier: entry.tier };
    const models: Record<string, { tokensPerMinute?: number | null; tokensPerMonth?: number | null }> = {};
    for (const [name, limits] of Object.entries(entry.overrides.models ?? {})) {
      const model = catalog.model(name);
      if (model === undefined) throw fail(`/workspaces/${index}/overrides/models/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`, `unknown model ${JSON.stringify(name)}`);
      models[model.id] = limits;
    }
    return { name: entry.name, tier: entry.tier, overrides: { ...entry.overrides, models } };
  });
}
