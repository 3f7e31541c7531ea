/**
 * Which models the emulator serves to which key on its clock's day: not the models retired that day, only
 * a key's subset when `modelsByKey` gives one, plus the models of `extraCards`. The day's retired set and
 * each key's `/v1/models` body are built once per day and configuration, not per request.
 */
import { checkCard, completeCard, type ModelCard } from '../catalog/cards.js';
import { dayOf, dayStartOf, lifecycleStatus } from '../catalog/lifecycle.js';
import { modelFromCard } from '../catalog/merge.js';
import type { Model } from '../catalog/types.js';
import type { Clock } from '../clock.js';
import type { EmulatorCatalog, EmulatorReconfiguration } from './options.js';
import { aliasesByModel, modelListBody } from './responses.js';

const DAY_MS = 86_400_000;

export class ServedModels {
  readonly #catalog: EmulatorCatalog;
  readonly #clock: Clock;
  readonly #created: number;
  readonly #aliases: ReadonlyMap<string, readonly string[]>;
  readonly #byKey: ReadonlyMap<string, ReadonlySet<string>>;
  readonly #extraModels = new Map<string, Model>();
  readonly #extraCards: readonly ModelCard[];
  #today: { startMs: number; retired: ReadonlySet<string>; lists: Map<string, string> } | undefined;

  /** @throws TypeError for an extra card that fails the card checks, naming it. */
  constructor(catalog: EmulatorCatalog, clock: Clock, options: Pick<EmulatorReconfiguration, 'modelsByKey' | 'extraCards'>) {
    this.#catalog = catalog;
    this.#clock = clock;
    this.#created = Math.floor(clock.now() / 1000);
    this.#aliases = aliasesByModel(catalog.models, (name) => catalog.model(name), catalog.aliases?.());
    (options.extraCards ?? []).forEach((raw, index) => {
      const checked = checkCard(raw, index);
      if ('issue' in checked) throw new TypeError(`extraCards[${index}]: ${checked.issue.message}`);
      const model = modelFromCard(checked.card);
      for (const name of [model.id, ...model.aliases]) this.#extraModels.set(name, model);
    });
    this.#extraCards = (options.extraCards ?? []).map((card) => completeCard(card, this.#created));
    this.#byKey = new Map(Object.entries(options.modelsByKey ?? {}).map(([key, names]) => [key, new Set(names.map((name) => this.model(name)?.id ?? name))]));
  }

  /** The model of a name (id or alias): the catalogue's, else an extra card's. */
  model(name: string): Model | undefined {
    return this.#catalog.model(name) ?? this.#extraModels.get(name);
  }

  /** Whether `key` is served the model `id` today (not retired, and in the key's subset if it has one). */
  serves(key: string, id: string): boolean {
    if (this.#day().retired.has(id)) return false;
    const subset = this.#byKey.get(key);
    return subset === undefined || subset.has(id);
  }

  /** The `/v1/models` body for `key` today. */
  listBody(key: string): string {
    const day = this.#day();
    const subset = this.#byKey.get(key);
    const listKey = subset === undefined ? '' : key;
    let body = day.lists.get(listKey);
    if (body === undefined) {
      const models = this.#catalog.models.filter((model) => !day.retired.has(model.id) && (subset === undefined || subset.has(model.id)));
      const extra = this.#extraCards.filter((card) => subset === undefined || subset.has(card.id));
      body = modelListBody(models, this.#created, this.#aliases, extra);
      day.lists.set(listKey, body);
    }
    return body;
  }

  #day() {
    const now = this.#clock.now();
    const today = this.#today;
    if (today !== undefined && now >= today.startMs && now < today.startMs + DAY_MS) return today;
    const day = dayOf(now);
    const retired = new Set(this.#catalog.models.filter((model) => lifecycleStatus(model.deprecation, day) === 'retired').map((model) => model.id));
    return (this.#today = { startMs: dayStartOf(now), retired, lists: new Map() });
  }
}
