/**
 * The drift between the bundled catalogue and what an API's `GET /v1/models` says: models it lists that
 * the catalogue lacks, catalogue models it no longer serves, and facts the cards changed. What
 * `mistral-router catalog --live` prints, as data.
 */
import type { Catalog } from './catalog.js';
import type { MergeCardsResult } from './merge.js';
import { lifecycleStatus, type LifecycleStatus } from './lifecycle.js';
import type { Model } from './types.js';

/** One fact a card changed. */
export interface DriftChange {
  readonly model: string;
  readonly field: 'contextWindow' | 'capabilities' | 'aliases' | 'retired' | 'replacement';
  readonly bundled: unknown;
  readonly live: unknown;
}

/** The differences between a catalogue and a merge of a model list over it. */
export interface CatalogDrift {
  /** Models the list holds that the catalogue lacks. */
  readonly added: readonly string[];
  /** Catalogue models the list does not serve, with their status on the day (a retired one is expected). */
  readonly missing: readonly { readonly model: string; readonly status: LifecycleStatus }[];
  readonly changed: readonly DriftChange[];
}

const sorted = (list: readonly string[]) => [...list].sort().join(',');

/** Compare a catalogue with the result of merging a workspace's list over it, on a day (YYYY-MM-DD). */
export function catalogDrift(bundled: Catalog, merge: MergeCardsResult, workspace: string, day: string): CatalogDrift {
  const merged = merge.catalog;
  const missing = bundled.models
    .filter((model) => !merged.isServed(workspace, model.id))
    .map((model) => ({ model: model.id, status: lifecycleStatus(model.deprecation, day) }));
  const changed: DriftChange[] = [];
  for (const id of merge.fromCards) {
    const before = bundled.model(id);
    const after = merged.model(id);
    if (before === undefined || after === undefined || before.id !== id) continue;
    const compare = (field: DriftChange['field'], read: (model: Model) => unknown, same: (a: unknown, b: unknown) => boolean = (a, b) => a === b) => {
      const a = read(before);
      const b = read(after);
      if (!same(a, b)) changed.push({ model: id, field, bundled: a, live: b });
    };
    const sameList = (a: unknown, b: unknown) => sorted(a as string[]) === sorted(b as string[]);
    compare('contextWindow', (model) => model.contextWindow);
    compare('capabilities', (model) => model.capabilities, sameList);
    compare('aliases', (model) => model.aliases, sameList);
    compare('retired', (model) => model.deprecation?.retired?.slice(0, 10) ?? null);
    compare('replacement', (model) => model.deprecation?.replacement ?? null);
  }
  return { added: merge.added, missing, changed };
}
