/**
 * The checks of a catalogue that span files: replacements name models of the catalogue and form no loop,
 * and every source a model cites is a document of some file's `sources:`. Each failure is a CatalogError
 * located where the offending field was last set.
 */
import { CatalogError } from '../errors.js';
import type { CatalogSourceDocument } from './catalog.js';
import type { CatalogInput } from './document.js';
import { findReplacementLoop } from './lifecycle.js';
import type { Deprecation } from './types.js';

/** A model entry as merged from the files, before it is frozen into a Model. */
export interface RawModel {
  id: string;
  [field: string]: unknown;
}

/** Where a field was last set. */
export interface Origin {
  readonly document: CatalogInput;
  readonly pointer: string;
  /** The file's position in the load order: a conflict is blamed on the later file. */
  readonly order: number;
}

/** A model's `source` text and where it was written. */
export interface Citation {
  readonly document: CatalogInput;
  readonly pointer: string;
  readonly id: string;
  readonly text: string;
}

/** Replacements must be model ids of the catalogue, and no chain of replacements may come back on itself. */
export function checkDeprecations(models: ReadonlyMap<string, RawModel>, aliasOrigins: ReadonlyMap<string, Origin>): void {
  const at = (id: string, code: 'CATALOG_UNKNOWN_MODEL' | 'CATALOG_REPLACEMENT_LOOP', message: string) => {
    const origin = aliasOrigins.get(`${id}#deprecation`);
    return origin === undefined ? new CatalogError(code, message, { file: '<catalogue>' }) : origin.document.error(code, message, origin.pointer, 'deprecation');
  };
  const lifecycles = new Map<string, { deprecation: Deprecation | null }>();
  for (const [id, model] of models) {
    const replacement = (model.deprecation as { replacement?: string | null } | null | undefined)?.replacement;
    if (replacement != null && !models.has(replacement)) {
      throw at(id, 'CATALOG_UNKNOWN_MODEL', `model ${id}: deprecation.replacement ${JSON.stringify(replacement)} is not a model id in the catalogue`);
    }
    lifecycles.set(id, { deprecation: replacement == null ? null : { deprecated: null, retired: null, replacement } });
  }
  const loop = findReplacementLoop(lifecycles);
  if (loop !== undefined) {
    throw at(loop[0] as string, 'CATALOG_REPLACEMENT_LOOP', `replacements go round in a loop: ${loop.join(' -> ')}; a chain of replacements must end at a model without one`);
  }
}
/** Every `[key]` a model's `source` cites must be a document of some file's `sources:`. */
export function checkCitations(citations: readonly Citation[], sources: ReadonlyMap<string, CatalogSourceDocument>): void {
  if (sources.size === 0) return; // a catalogue without a sources map cites free text
  for (const { document, pointer, id, text } of citations) {
    for (const [, key] of text.matchAll(/\[([a-z0-9][a-z0-9-]*)\]/g)) {
      if (!sources.has(key as string)) {
        throw document.error('CATALOG_SCHEMA', `model ${id}: source cites [${key}], which is not a key of any "sources:" (known: ${[...sources.keys()].join(', ')})`, pointer, 'source');
      }
    }
  }
}