/**
 * Pure catalogue queries: capability sets, minimum context, family, version constraints, open weights.
 */
import { NeedError } from '../errors.js';
import { CAPABILITIES, type Capability, type Model, type ModelQuery, type VersionConstraint } from './types.js';

const capabilitySet: ReadonlySet<string> = new Set(CAPABILITIES);

/** True for a known capability name. */
export function isCapability(value: unknown): value is Capability {
  return typeof value === 'string' && capabilitySet.has(value);
}

/** A parsed version constraint. */
export type ParsedVersionConstraint =
  | { readonly kind: 'latest' }
  | { readonly kind: 'compare'; readonly operator: '>=' | '>' | '<=' | '<' | '='; readonly version: number };

/**
 * Parse `latest`, `25.06`, `=25.06`, `>=25.03`, `>25.03`, `<=25.03`, `<25.03`.
 * Throws NeedError (field `version`) for anything else.
 */
export function parseVersionConstraint(constraint: VersionConstraint, field = 'version'): ParsedVersionConstraint {
  const text = String(constraint).trim();
  if (text === 'latest') return { kind: 'latest' };
  const match = /^(>=|<=|>|<|=)?\s*(\d{2})\.(\d{2})$/.exec(text);
  if (match === null) {
    throw new NeedError(field, `expected "latest", a version such as "25.06", or a comparison such as ">=25.03"; received ${JSON.stringify(constraint)}`);
  }
  const operator = (match[1] ?? '=') as '>=' | '>' | '<=' | '<' | '=';
  return { kind: 'compare', operator, version: versionNumber(`${match[2]}.${match[3]}`) };
}

/** `25.06` -> 2506, comparable as a number; null for an unknown version. */
export function versionNumber(version: string | null): number {
  if (version === null) return -1;
  const [year, month] = version.split('.');
  return Number(year) * 100 + Number(month);
}

function compare(operator: '>=' | '>' | '<=' | '<' | '=', left: number, right: number): boolean {
  switch (operator) {
    case '>=':
      return left >= right;
    case '>':
      return left > right;
    case '<=':
      return left <= right;
    case '<':
      return left < right;
    case '=':
      return left === right;
  }
}

/** Whether one model passes a version constraint, given the newest version of its family. */
export function matchesVersion(model: Model, constraint: ParsedVersionConstraint, newestOfFamily: ReadonlyMap<string, number>): boolean {
  if (model.version === null) return false;
  const version = versionNumber(model.version);
  if (constraint.kind === 'latest') return version === newestOfFamily.get(model.family);
  return compare(constraint.operator, version, constraint.version);
}

/** The newest known version of each family. */
export function newestVersions(models: readonly Model[]): Map<string, number> {
  const newest = new Map<string, number>();
  for (const model of models) {
    const version = versionNumber(model.version);
    if (version > (newest.get(model.family) ?? -1)) newest.set(model.family, version);
  }
  return newest;
}

/** Validate a query's fields (unknown capability, negative context...) and throw NeedError naming the field. */
export function validateQuery(query: ModelQuery): void {
  if (query === null || typeof query !== 'object' || Array.isArray(query)) throw new NeedError('query', 'expected an object');
  if (query.capabilities !== undefined && !Array.isArray(query.capabilities)) throw new NeedError('capabilities', 'expected a list of capabilities');
  const family = query.family;
  if (family !== undefined && !(typeof family === 'string' ? family !== '' : Array.isArray(family) && family.length > 0 && family.every((f) => typeof f === 'string' && f !== ''))) {
    throw new NeedError('family', 'expected a family name or a list of them');
  }
  for (const flag of ['openWeights', 'includeDeprecated'] as const) {
    if (query[flag] !== undefined && typeof query[flag] !== 'boolean') throw new NeedError(flag, 'expected true or false');
  }
  query.capabilities?.forEach((capability, index) => {
    if (!isCapability(capability)) {
      throw new NeedError(`capabilities[${index}]`, `unknown capability ${JSON.stringify(capability)}; known: ${CAPABILITIES.join(', ')}`);
    }
  });
  if (query.minContext !== undefined && !(Number.isInteger(query.minContext) && query.minContext >= 0)) {
    throw new NeedError('minContext', `expected a whole number of tokens >= 0, received ${String(query.minContext)}`);
  }
  if (query.version !== undefined) parseVersionConstraint(query.version);
}

/**
 * Why a model fails a query, or undefined when it passes. The reasons are what `route` and plans print.
 */
export function rejectionReason(
  model: Model,
  query: ModelQuery,
  version: ParsedVersionConstraint | undefined,
  newestOfFamily: ReadonlyMap<string, number>,
): string | undefined {
  const missing = (query.capabilities ?? []).filter((c) => !model.capabilities.includes(c));
  if (missing.length > 0) return `missing capability: ${missing.join(', ')}`;
  if (query.minContext !== undefined && query.minContext > 0) {
    if (model.contextWindow === null) return `context window unknown (need ${query.minContext} tokens)`;
    if (model.contextWindow < query.minContext) return `context too small: ${model.contextWindow} < ${query.minContext} tokens`;
  }
  if (query.family !== undefined) {
    const families = typeof query.family === 'string' ? [query.family] : query.family;
    if (!families.includes(model.family)) return `family ${model.family} not in ${families.join(', ')}`;
  }
  if (version !== undefined && !matchesVersion(model, version, newestOfFamily)) {
    return model.version === null
      ? `version unknown (need ${query.version})`
      : version.kind === 'latest'
        ? `not the latest ${model.family} (${model.version})`
        : `version ${model.version} does not satisfy ${query.version}`;
  }
  if (query.openWeights === true && model.openWeights !== true) {
    return model.openWeights === false ? 'weights not open' : 'open weights not confirmed';
  }
  if (query.includeDeprecated === false && model.deprecation !== null) {
    return `deprecated${model.deprecation.replacement ? ` (use ${model.deprecation.replacement})` : ''}`;
  }
  return undefined;
}
