/**
 * loadCatalog: the bundled catalogue plus the user's files, validated whole and merged.
 *
 * Order: the bundled models.yaml and tiers.yaml, then each user file in the order given. A user file may
 * hold `models`, `aliases` and `tiers` together. A model or tier whose id/name already exists is an
 * override: only the fields the file gives change. A new one must be complete. Any problem in any file
 * refuses the whole load with a CatalogError naming the file, the line and the field: the catalogue is
 * never half-loaded.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CatalogError, type RouterError } from '../errors.js';
import { Catalog, type CatalogSourceDocument } from './catalog.js';
import { CatalogDocument, compileSchema, decodeUtf8, type CatalogInput, type CatalogSource } from './document.js';
import { checkCitations, checkDeprecations, type Citation } from './checks.js';
import type { Capability, Deprecation, Model, ModelLimits, Prices, Stage, Tier } from './types.js';
import type { RawModel, Origin } from './checks.js';

export interface LoadCatalogOptions {
  /** Extra catalogue files (YAML paths), applied in order after the bundled ones. @default [] */
  readonly files?: readonly string[];
  /** Extra catalogue documents given as text, applied after `files`. @default [] */
  readonly sources?: readonly CatalogSource[];
  /** Start from the bundled catalogue (catalog/models.yaml, catalog/tiers.yaml). @default true */
  readonly bundled?: boolean;
}

/** Where the bundled catalogue and its schemas live (the package's `catalog/` folder). */
export const bundledCatalogDirectory = fileURLToPath(new URL('../../../catalog/', import.meta.url));

let schemas: { models: object; tiers: object; modelOverrides: object; tierOverrides: object; modelItem: object; tierItem: object } | undefined;

function loadSchemas(): NonNullable<typeof schemas> {
  if (schemas !== undefined) return schemas;
  const read = (name: string): Record<string, unknown> => JSON.parse(readFileSync(`${bundledCatalogDirectory}${name}`, 'utf8')) as Record<string, unknown>;
  const models = read('models.schema.json');
  const tiers = read('tiers.schema.json');
  // Overrides: the same shapes, but an item needs only its id (models) or name (tiers).
  const relax = (schema: Record<string, unknown>, definition: string, key: string, topRequired: string[]) => {
    const copy = structuredClone(schema) as { required: string[]; definitions: Record<string, { required: string[] }> };
    copy.required = topRequired;
    const item = copy.definitions[definition];
    if (item !== undefined) item.required = [key];
    // A tier override may give one limit of a model the tier already has (the other keeps its value);
    // mergeTiers requires both for a model (or defaults) the tier did not have.
    const limits = copy.definitions.modelLimits;
    if (limits !== undefined) limits.required = [];
    delete (copy as Record<string, unknown>).$id;
    return copy;
  };
  // A single model or tier, checked when a user file adds a new one (it must then be complete).
  const item = (schema: Record<string, unknown>, definition: string): object => ({
    definitions: structuredClone(schema.definitions),
    $ref: `#/definitions/${definition}`,
  });
  schemas = {
    models,
    tiers,
    modelOverrides: relax(models, 'model', 'id', ['schemaVersion']),
    tierOverrides: relax(tiers, 'tier', 'name', ['schemaVersion']),
    modelItem: item(models, 'model'),
    tierItem: item(tiers, 'tier'),
  };
  return schemas;
}

/**
 * The bundled files, validated. Parsing YAML and compiling the schemas cost tens of milliseconds on a
 * cold process, so the build writes a snapshot of the validated bundled data keyed by a hash of the
 * YAML texts; when the texts still hash the same, the snapshot is used and the YAML is parsed only if
 * an error has to name a line. An edited bundled file no longer matches and takes the full path.
 */
function bundledDocuments(schema: NonNullable<typeof schemas>): CatalogInput[] {
  const paths = [`${bundledCatalogDirectory}models.yaml`, `${bundledCatalogDirectory}tiers.yaml`] as const;
  const texts = paths.map((path) => readBundled(path));
  const hash = createHash('sha256').update(texts.join('\0')).digest('hex');
  const snapshot = readSnapshot();
  if (snapshot !== undefined && snapshot.hash === hash) {
    return paths.map((path, index) => new SnapshotDocument(path, snapshot.data[index]));
  }
  const documents = paths.map((path, index) => CatalogDocument.parse({ name: path, text: texts[index] as string }));
  (documents[0] as CatalogDocument).validate(compileSchema(schema.models));
  (documents[1] as CatalogDocument).validate(compileSchema(schema.tiers));
  return documents;
}

function readBundled(path: string): string {
  try {
    return decodeUtf8(readFileSync(path), path);
  } catch (error) {
    if (error instanceof CatalogError) throw error;
    throw new CatalogError('CATALOG_FILE', `cannot read the bundled catalogue: ${(error as Error).message}`, { file: path }, { cause: error });
  }
}

const snapshotPath = fileURLToPath(new URL('./bundled-snapshot.json', import.meta.url));

function readSnapshot(): { hash: string; data: unknown[] } | undefined {
  if (!existsSync(snapshotPath)) return undefined;
  try {
    return JSON.parse(readFileSync(snapshotPath, 'utf8')) as { hash: string; data: unknown[] };
  } catch {
    return undefined; // a damaged snapshot only costs the slow path
  }
}

/** Build step: validate the bundled YAML the slow way and write the snapshot next to this module. */
export function writeBundledSnapshot(): string {
  const schema = loadSchemas();
  const paths = [`${bundledCatalogDirectory}models.yaml`, `${bundledCatalogDirectory}tiers.yaml`];
  const texts = paths.map((path) => readBundled(path));
  const documents = paths.map((path, index) => CatalogDocument.parse({ name: path, text: texts[index] as string }));
  (documents[0] as CatalogDocument).validate(compileSchema(schema.models));
  (documents[1] as CatalogDocument).validate(compileSchema(schema.tiers));
  loadCatalog(); // the cross-file checks (aliases, tiers naming models) must pass too
  const hash = createHash('sha256').update(texts.join('\0')).digest('hex');
  writeFileSync(snapshotPath, JSON.stringify({ hash, data: documents.map((d) => d.data) }));
  return snapshotPath;
}

/** A bundled file taken from the snapshot: parses its YAML only to locate an error. */
class SnapshotDocument implements CatalogInput {
  readonly name: string;
  readonly data: unknown;
  constructor(name: string, data: unknown) {
    this.name = name;
    this.data = data;
  }
  error(...args: Parameters<CatalogInput['error']>): RouterError {
    return CatalogDocument.read(this.name).error(...args);
  }
}


interface RawTier {
  name: string;
  models?: Record<string, Partial<ModelLimits>>;
  [field: string]: unknown;
}


/**
 * Load, validate and merge the catalogue. Synchronous: it reads a few small files once at start-up.
 * @throws CatalogError for any unreadable, malformed or inconsistent file.
 */
export function loadCatalog(options: LoadCatalogOptions = {}): Catalog {
  if (options === null || typeof options !== 'object') throw new TypeError(`loadCatalog: options must be an object, received ${options === null ? 'null' : typeof options}`);
  const { files = [], sources = [], bundled = true } = options;
  if (!Array.isArray(files) || !files.every((path) => typeof path === 'string' && path !== '')) {
    throw new TypeError('loadCatalog: option "files" must be an array of file paths (non-empty strings)');
  }
  if (!Array.isArray(sources) || !sources.every((source) => source !== null && typeof source === 'object' && typeof source.text === 'string' && typeof source.name === 'string')) {
    throw new TypeError('loadCatalog: option "sources" must be an array of { name: string, text: string }');
  }
  if (typeof bundled !== 'boolean') throw new TypeError(`loadCatalog: option "bundled" must be true or false, received ${typeof bundled}`);
  const schema = loadSchemas();

  const documents: { document: CatalogInput; full: boolean }[] = [];
  if (bundled) for (const document of bundledDocuments(schema)) documents.push({ document, full: true });
  for (const path of files) documents.push({ document: CatalogDocument.read(path), full: false });
  for (const source of sources) documents.push({ document: CatalogDocument.parse(source), full: false });

  const models = new Map<string, RawModel>();
  // Where each model's aliases (key: id) and deprecation (key: id#deprecation) were last set, for errors.
  const aliasOrigins = new Map<string, Origin>();
  const tiers = new Map<string, RawTier>();
  const aliasMaps: { document: CatalogInput; aliases: Record<string, string> }[] = [];
  const cited = new Map<string, CatalogSourceDocument>();
  const citations: Citation[] = [];

  // Models (and alias maps) of every file first, so that tiers can name models of any file.
  const tierDocuments: { document: CatalogInput; full: boolean }[] = [];
  for (const [order, { document, full }] of documents.entries()) {
    const data = document.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw document.error('CATALOG_SCHEMA', 'expected a mapping with schemaVersion and models, aliases or tiers', '');
    }
    const record = data as Record<string, unknown>;
    if (!full) {
      for (const key of Object.keys(record)) {
        if (!['schemaVersion', 'sources', 'models', 'aliases', 'tiers'].includes(key)) {
          throw document.error('CATALOG_SCHEMA', `unknown top-level field "${key}" (expected schemaVersion, sources, models, aliases, tiers)`, '', key);
        }
      }
      const { tiers: tierList, ...modelPart } = record;
      (document as CatalogDocument).validate(compileSchema(schema.modelOverrides), modelPart);
      if (tierList !== undefined) (document as CatalogDocument).validate(compileSchema(schema.tierOverrides), { schemaVersion: record.schemaVersion, tiers: tierList });
    }
    for (const [key, value] of Object.entries((record.sources as Record<string, CatalogSourceDocument> | undefined) ?? {})) {
      cited.set(key, Object.freeze({ title: value.title, url: value.url, date: value.date ?? null }));
    }
    if (Array.isArray(record.models)) {
      (record.models as RawModel[]).forEach((entry, index) => {
        if (typeof entry.source === 'string') citations.push({ document, pointer: `/models/${index}`, id: entry.id, text: entry.source });
      });
      mergeModels(document, order, record.models as RawModel[], models, aliasOrigins, full, schema.modelItem);
    }
    if (record.aliases !== undefined) aliasMaps.push({ document, aliases: record.aliases as Record<string, string> });
    if (Array.isArray(record.tiers)) tierDocuments.push({ document, full });
  }

  const aliases = buildAliases(models, aliasOrigins, aliasMaps);
  checkDeprecations(models, aliasOrigins);
  checkCitations(citations, cited);

  for (const { document, full } of tierDocuments) {
    const list = (document.data as { tiers: RawTier[] }).tiers;
    mergeTiers(document, list, tiers, models, aliases, full, schema.tierItem);
  }

  return new Catalog([...models.values()].map(toModel), aliases, [...tiers.values()].map(toTier), { sources: cited });
}



function mergeModels(
  document: CatalogInput,
  order: number,
  list: RawModel[],
  models: Map<string, RawModel>,
  aliasOrigins: Map<string, Origin>,
  full: boolean,
  itemSchema: object,
): void {
  const seen = new Set<string>();
  list.forEach((entry, index) => {
    const pointer = `/models/${index}`;
    if (seen.has(entry.id)) {
      throw document.error('CATALOG_DUPLICATE_ID', `duplicate model id ${JSON.stringify(entry.id)}: each model is listed once per file`, pointer, 'id');
    }
    seen.add(entry.id);
    const existing = models.get(entry.id);
    if (existing === undefined) {
      if (!full) requireComplete(document, itemSchema, entry, pointer, `new model ${JSON.stringify(entry.id)}`);
      models.set(entry.id, { ...entry });
    } else {
      models.set(entry.id, { ...existing, ...entry });
    }
    if (entry.aliases !== undefined) aliasOrigins.set(entry.id, { document, pointer: `${pointer}/aliases`, order });
    if (entry.deprecation !== undefined) aliasOrigins.set(`${entry.id}#deprecation`, { document, pointer, order });
  });
}

function buildAliases(
  models: ReadonlyMap<string, RawModel>,
  aliasOrigins: ReadonlyMap<string, Origin>,
  aliasMaps: readonly { document: CatalogInput; aliases: Record<string, string> }[],
): Map<string, string> {
  const aliases = new Map<string, string>();
  // Models whose aliases a later file set come last, so that a clash is reported in the file that made it.
  const byOrder = [...models].sort(([a], [b]) => (aliasOrigins.get(a)?.order ?? 0) - (aliasOrigins.get(b)?.order ?? 0));
  for (const [id, model] of byOrder) {
    const list = (model.aliases as string[] | undefined) ?? [];
    const origin = aliasOrigins.get(id);
    list.forEach((alias, index) => {
      const at = (code: 'CATALOG_ALIAS_AMBIGUOUS', message: string) =>
        origin === undefined ? new CatalogError(code, message, { file: '<catalogue>' }) : origin.document.error(code, message, `${origin.pointer}/${index}`);
      if (models.has(alias)) throw at('CATALOG_ALIAS_AMBIGUOUS', `alias ${JSON.stringify(alias)} of ${id} is also a model id`);
      const other = aliases.get(alias);
      if (other !== undefined && other !== id) {
        throw at('CATALOG_ALIAS_AMBIGUOUS', `alias ${JSON.stringify(alias)} points at two models (${other} and ${id}); to move an alias, use the top-level "aliases:" map`);
      }
      aliases.set(alias, id);
    });
  }
  for (const { document, aliases: map } of aliasMaps) {
    for (const [alias, target] of Object.entries(map)) {
      if (models.has(alias)) throw document.error('CATALOG_ALIAS_AMBIGUOUS', `alias ${JSON.stringify(alias)} is also a model id`, '/aliases', alias);
      const resolved = models.has(target) ? target : undefined;
      if (resolved === undefined) {
        throw document.error('CATALOG_ALIAS_UNKNOWN', `alias ${JSON.stringify(alias)} points at ${JSON.stringify(target)}, which is not a model id in the catalogue`, '/aliases', alias);
      }
      aliases.set(alias, resolved);
    }
  }
  return aliases;
}



function mergeTiers(
  document: CatalogInput,
  list: RawTier[],
  tiers: Map<string, RawTier>,
  models: ReadonlyMap<string, RawModel>,
  aliases: ReadonlyMap<string, string>,
  full: boolean,
  itemSchema: object,
): void {
  const seen = new Set<string>();
  list.forEach((entry, index) => {
    const pointer = `/tiers/${index}`;
    if (seen.has(entry.name)) throw document.error('CATALOG_DUPLICATE_ID', `duplicate tier name ${JSON.stringify(entry.name)}`, pointer, 'name');
    seen.add(entry.name);
    for (const modelId of Object.keys(entry.models ?? {})) {
      if (models.has(modelId)) continue;
      const target = aliases.get(modelId);
      throw document.error(
        'CATALOG_TIER_UNKNOWN_MODEL',
        target === undefined
          ? `tier ${JSON.stringify(entry.name)} names unknown model ${JSON.stringify(modelId)}; add it to a models file first`
          : `tier ${JSON.stringify(entry.name)} names alias ${JSON.stringify(modelId)}; use the model id ${JSON.stringify(target)}`,
        `${pointer}/models`,
        modelId,
      );
    }
    const existing = tiers.get(entry.name);
    if (existing === undefined) {
      if (!full) requireComplete(document, itemSchema, entry, pointer, `new tier ${JSON.stringify(entry.name)}`);
      tiers.set(entry.name, { ...entry, models: { ...entry.models } });
      return;
    }
    // Limits merge field by field; a model or default limits the tier did not have must give both.
    const complete = (limits: Partial<ModelLimits>, at: string, label: string) => {
      for (const field of ['tokensPerMinute', 'tokensPerMonth'] as const) {
        if (!(field in limits)) throw document.error('CATALOG_SCHEMA', `${label}: missing required field "${field}" (the tier had no limits to keep)`, at);
      }
    };
    const mergedModels: Record<string, Partial<ModelLimits>> = { ...existing.models };
    for (const [modelId, limits] of Object.entries(entry.models ?? {})) {
      const earlier = mergedModels[modelId];
      if (earlier === undefined) complete(limits, `${pointer}/models/${modelId}`, `tier ${JSON.stringify(entry.name)} adds model ${JSON.stringify(modelId)}`);
      mergedModels[modelId] = { ...earlier, ...limits };
    }
    const merged: RawTier = { ...existing, ...entry, models: mergedModels };
    const defaults = entry.defaultModelLimits as Partial<ModelLimits> | null | undefined;
    if (defaults != null) {
      const earlier = existing.defaultModelLimits as Partial<ModelLimits> | null | undefined;
      if (earlier == null) complete(defaults, `${pointer}/defaultModelLimits`, `tier ${JSON.stringify(entry.name)} sets defaultModelLimits`);
      merged.defaultModelLimits = { ...earlier, ...defaults };
    }
    tiers.set(entry.name, merged);
  });
}

/** A model or tier that a user file adds (rather than overrides) must pass the full item schema. */
function requireComplete(document: CatalogInput, itemSchema: object, entry: unknown, pointer: string, label: string): void {
  const validator = compileSchema(itemSchema);
  if (validator(entry) as boolean) return;
  const error = validator.errors?.[0];
  const problem = error?.keyword === 'required' ? `missing required field "${String(error.params.missingProperty)}"` : (error?.message ?? 'is invalid');
  throw document.error('CATALOG_SCHEMA', `${label}: ${problem} (an entry that is not in an earlier file must be complete)`, pointer + (error?.instancePath ?? ''));
}

function toModel(raw: RawModel): Model {
  const deprecation = raw.deprecation as Partial<Deprecation> | null | undefined;
  const prices = raw.prices as Prices | null | undefined;
  return Object.freeze({
    id: raw.id,
    name: (raw.name as string | null | undefined) ?? null,
    family: raw.family as string,
    version: (raw.version as string | null | undefined) ?? null,
    release: (raw.release as string | null | undefined) ?? null,
    capabilities: Object.freeze([...(raw.capabilities as Capability[])]),
    contextWindow: (raw.contextWindow as number | null | undefined) ?? null,
    license: (raw.license as string | null | undefined) ?? null,
    openWeights: (raw.openWeights as boolean | null | undefined) ?? null,
    description: (raw.description as string | null | undefined) ?? null,
    aliases: Object.freeze([...((raw.aliases as string[] | undefined) ?? [])]),
    stage: (raw.stage as Stage | null | undefined) ?? null,
    prices: prices == null ? null : Object.freeze({ ...prices }),
    deprecation:
      deprecation == null
        ? null
        : Object.freeze({ deprecated: deprecation.deprecated ?? null, retired: deprecation.retired ?? null, replacement: deprecation.replacement ?? null }),
    source: (raw.source as string | null | undefined) ?? null,
  });
}

function toTier(raw: RawTier): Tier {
  const limits = (value: Partial<ModelLimits> | null | undefined): ModelLimits | null =>
    value == null ? null : Object.freeze({ tokensPerMinute: value.tokensPerMinute ?? null, tokensPerMonth: value.tokensPerMonth ?? null });
  const models: Record<string, ModelLimits> = {};
  for (const [id, value] of Object.entries(raw.models ?? {})) models[id] = limits(value) as ModelLimits;
  return Object.freeze({
    name: raw.name,
    description: (raw.description as string | null | undefined) ?? null,
    requestsPerSecond: (raw.requestsPerSecond as number | null | undefined) ?? null,
    defaultModelLimits: limits(raw.defaultModelLimits as Partial<ModelLimits> | null | undefined),
    models: Object.freeze(models),
  });
}
