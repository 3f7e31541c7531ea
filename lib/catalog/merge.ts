/**
 * The merge of `GET /v1/models` cards over a catalogue. The cards are the API's word on what a workspace
 * is served today: their capabilities, context window, aliases, deprecation (retirement) and replacement
 * win; the catalogue keeps what cards do not carry (family, version, licence, prices, tier limits,
 * `embedding` and `code`). A model no bundled entry knows (released after this package, or a fine-tuned
 * model of the workspace) becomes routable by its card's capabilities. A card that fails its checks is
 * skipped and reported as a {@link CardIssue}; the rest are used. Pure: no I/O, the day comes in.
 */
import { Catalog, EVERY_WORKSPACE } from './catalog.js';
import { checkCard, CAPABILITIES_NOT_ON_CARDS, type CardIssue, type CheckedCard } from './cards.js';
import { findReplacementLoop, lifecycleStatus } from './lifecycle.js';
import { CAPABILITIES, type Model } from './types.js';

/** Options of {@link mergeCatalogCards}. */
export interface MergeCardsOptions {
  /**
   * The workspace whose list this is: a model it leaves out is not a candidate for that workspace.
   * @default every workspace without a list of its own
   */
  readonly workspace?: string;
  /** The instant (epoch ms or Date) whose UTC day decides whether a replacement is retired. @default Date.now() */
  readonly now?: number | Date;
}

/** What a merge produced: the merged catalogue, and every card it skipped (or alias it dropped). */
export interface MergeCardsResult {
  readonly catalog: Catalog;
  readonly issues: readonly CardIssue[];
  /** Model ids whose facts came from a card in this merge. */
  readonly fromCards: readonly string[];
  /** Model ids added by this merge (no entry in the catalogue merged over). */
  readonly added: readonly string[];
}

/**
 * Merge a model list over a catalogue and return a new catalogue (the given one is not changed).
 *
 * @example
 * ```ts
 * const { data } = await new Mistral({ apiKey }).models.list();
 * const { catalog, issues } = mergeCatalogCards(loadCatalog(), data ?? [], { workspace: 'main' });
 * ```
 */
export function mergeCatalogCards(catalog: Catalog, cards: readonly unknown[], options: MergeCardsOptions = {}): MergeCardsResult {
  if (!Array.isArray(cards)) throw new TypeError(`mergeCatalogCards: cards must be an array (the "data" of GET /v1/models), received ${cards === null ? 'null' : typeof cards}`);
  const { workspace = EVERY_WORKSPACE, now = Date.now() } = options;
  if (typeof workspace !== 'string' || workspace === '') throw new TypeError('mergeCatalogCards: option "workspace" must be a non-empty string');
  const nowMs = typeof now === 'number' ? now : now instanceof Date ? now.getTime() : Number.NaN;
  if (!Number.isFinite(nowMs)) throw new TypeError(`mergeCatalogCards: option "now" must be epoch ms or a Date, received ${String(now)}`);
  const day = new Date(nowMs).toISOString().slice(0, 10);
  const issues: CardIssue[] = [];

  const checked: CheckedCard[] = [];
  cards.forEach((raw, index) => {
    const result = checkCard(raw, index);
    if ('issue' in result) issues.push(result.issue);
    else checked.push(result.card);
  });

  // Mistral lists each alias as a card of its own (`id` the alias, `name` the model): those name a model,
  // they do not describe one. A card is an alias card when its `name` is another card's id, or when a card
  // describing itself (`name` = `id`) lists its id among its aliases.
  const ids = new Set(checked.map((card) => card.id));
  const listedAsAlias = new Set(checked.filter((card) => card.name === null || card.name === card.id).flatMap((card) => card.aliases));
  const isAliasCard = (card: CheckedCard) => (card.name !== null && card.name !== card.id && ids.has(card.name)) || listedAsAlias.has(card.id);
  const modelCards = checked.filter((card) => !isAliasCard(card));
  const aliasCards = checked.filter(isAliasCard);

  // The model id each model card describes: the catalogue's, when the card's id or one of its aliases is
  // a name the catalogue knows (open-mistral-nemo-2407 is the catalogue's open-mistral-nemo), else its own.
  const targetOf = new Map<CheckedCard, string>();
  for (const card of modelCards) targetOf.set(card, catalog.resolve(card.id) ?? card.aliases.map((alias) => catalog.model(alias)?.id).find((id) => id !== undefined) ?? card.id);

  const models = new Map<string, Model>(catalog.models.map((model) => [model.id, model]));
  const resolveName = (name: string): string | undefined => {
    if (models.has(name)) return name;
    const fromCard = modelCards.find((card) => card.id === name || card.aliases.includes(name));
    return fromCard === undefined ? catalog.resolve(name) : targetOf.get(fromCard);
  };

  const merged = new Map<string, { card: CheckedCard; model: Model }>();
  for (const card of modelCards) {
    const id = targetOf.get(card) as string;
    if (merged.has(id)) {
      issues.push({ code: 'card-invalid', model: card.id, field: 'id', message: `card ${card.id}: id: describes ${id}, which an earlier card of the list already described; skipped` });
      continue;
    }
    let replacement: string | null = null;
    if (card.replacement !== null) {
      const resolved = resolveName(card.replacement);
      if (resolved === undefined) {
        issues.push({ code: 'replacement-missing', model: card.id, field: 'deprecation_replacement_model', message: `card ${card.id}: deprecation_replacement_model: ${JSON.stringify(card.replacement)} is neither in the list nor in the catalogue; skipped` });
        continue;
      }
      replacement = resolved;
    }
    merged.set(id, { card, model: fromCard(card, id, replacement, models.get(id)) });
  }
  for (const [id, { model }] of merged) models.set(id, model);

  // Replacement chains over the merged view: a loop, or a replacement already retired, spoils the card.
  for (;;) {
    const loop = findReplacementLoop(models);
    if (loop === undefined) break;
    const culprit = loop.map((id) => merged.get(id)).find((entry) => entry !== undefined);
    if (culprit === undefined) break; // only bundled entries, which the loader has checked: cannot happen
    issues.push({ code: 'replacement-loop', model: culprit.card.id, field: 'deprecation_replacement_model', message: `card ${culprit.card.id}: deprecation_replacement_model: the replacements go round in a loop (${loop.join(' -> ')}); skipped` });
    revert(culprit.model.id);
  }
  for (const [id, { card, model }] of [...merged]) {
    const replacement = model.deprecation?.replacement;
    if (replacement == null || lifecycleStatus(models.get(replacement)?.deprecation ?? null, day) !== 'retired') continue;
    issues.push({ code: 'replacement-retired', model: card.id, field: 'deprecation_replacement_model', message: `card ${card.id}: deprecation_replacement_model: ${replacement} is itself retired on ${day}; skipped` });
    revert(id);
  }

  function revert(id: string): void {
    merged.delete(id);
    const original = catalog.models.find((model) => model.id === id);
    if (original === undefined) models.delete(id);
    else models.set(id, original);
  }

  // Aliases: the catalogue's, then every used card's (which move an alias to the card's model).
  const aliases = new Map(catalog.aliases());
  for (const [id, { card }] of merged) {
    for (const alias of [card.id, ...card.aliases]) {
      if (alias === id) continue;
      if (models.has(alias)) {
        issues.push({ code: 'alias-conflict', model: card.id, field: 'aliases', message: `card ${card.id}: aliases: ${alias} is the id of another model; that alias is ignored` });
        continue;
      }
      aliases.set(alias, id);
    }
  }
  const namesOf = new Map<string, string[]>();
  for (const [alias, id] of aliases) {
    if (!models.has(id)) continue;
    const list = namesOf.get(id) ?? [];
    list.push(alias);
    namesOf.set(id, list);
  }
  const finalModels = [...models.values()].map((model) => {
    const names = namesOf.get(model.id) ?? [];
    return sameList(names, model.aliases) ? model : Object.freeze({ ...model, aliases: Object.freeze(names) });
  });

  // Availability: every model a usable card (or alias card) of the list names.
  const served = new Set<string>();
  for (const card of modelCards) served.add(targetOf.get(card) as string);
  for (const card of aliasCards) {
    const id = aliases.get(card.id) ?? (card.name === null ? undefined : resolveName(card.name));
    if (id !== undefined) served.add(id);
  }
  const servedLists = new Map(catalog.servedLists());
  servedLists.set(workspace, served);

  const added = [...merged.keys()].filter((id) => catalog.models.every((model) => model.id !== id));
  return {
    catalog: new Catalog(finalModels, aliases, catalog.tiers, { sources: catalog.sources, served: servedLists }),
    issues,
    fromCards: [...merged.keys()],
    added,
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item) => b.includes(item));
}

/** The catalogue model a card describes on its own (no bundled entry), e.g. for the emulator's extra cards. */
export function modelFromCard(card: CheckedCard): Model {
  return fromCard(card, card.id, card.replacement, undefined);
}

/** A catalogue model from a card: the card's facts over the bundled entry's, or a new entry. */
function fromCard(card: CheckedCard, id: string, replacement: string | null, bundled: Model | undefined): Model {
  const kept = bundled?.capabilities.filter((capability) => CAPABILITIES_NOT_ON_CARDS.has(capability)) ?? [];
  const set = new Set([...card.capabilities, ...kept]);
  const capabilities = Object.freeze(CAPABILITIES.filter((capability) => set.has(capability)));
  const deprecation =
    card.retired === null && replacement === null
      ? null
      : Object.freeze({ deprecated: bundled?.deprecation?.deprecated ?? null, retired: card.retired, replacement });
  const source = `GET /v1/models${card.fineTuned ? ' (fine-tuned)' : ''}`;
  if (bundled !== undefined) {
    return Object.freeze({
      ...bundled,
      capabilities,
      contextWindow: card.contextWindow ?? bundled.contextWindow,
      deprecation,
      source: bundled.source === null ? source : `${bundled.source}; ${source}`,
    });
  }
  return Object.freeze({
    id,
    name: card.name !== null && card.name !== id ? card.name : null,
    family: id,
    version: null,
    release: null,
    stage: null,
    capabilities,
    contextWindow: card.contextWindow,
    license: null,
    openWeights: null,
    description: card.description,
    aliases: Object.freeze([...card.aliases]),
    prices: null,
    deprecation,
    source,
  });
}

/**
 * The catalogue with some models' retirement days replaced (what an `x-model-deprecation-timestamp`
 * header announces): each keeps its deprecation day and replacement. A model not in the catalogue is ignored.
 */
export function withRetirements(catalog: Catalog, retirements: ReadonlyMap<string, string>): Catalog {
  if (retirements.size === 0) return catalog;
  const models = catalog.models.map((model) => {
    const retired = retirements.get(model.id);
    if (retired === undefined || model.deprecation?.retired === retired) return model;
    return Object.freeze({ ...model, deprecation: Object.freeze({ deprecated: model.deprecation?.deprecated ?? null, retired, replacement: model.deprecation?.replacement ?? null }) });
  });
  return new Catalog(models, catalog.aliases(), catalog.tiers, { sources: catalog.sources, served: catalog.servedLists() });
}
