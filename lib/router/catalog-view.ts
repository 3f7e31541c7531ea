/**
 * The router's view of the catalogue: the bundled (or given) catalogue with each workspace's last good
 * `GET /v1/models` list merged over it, the retirements `x-model-deprecation-timestamp` headers announced,
 * the (workspace, model) pairs Mistral answered "Invalid model" for, and the day's lifecycle. Every change
 * bumps `version`, which the candidate caches compare; the day's lifecycle is the catalogue's own cache.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { CardIssue } from '../catalog/cards.js';
import type { LifecycleDay } from '../catalog/lifecycle.js';
import { mergeCatalogCards, withRetirements } from '../catalog/merge.js';
import type { Clock } from '../clock.js';
import type { RouterEventEmitter } from './events.js';

/** Where a workspace's model list comes from (the SDK's `models.list()` through its client). */
export interface ModelLister {
  readonly workspace: string;
  list(): Promise<readonly unknown[]>;
}

/** What one refresh did. */
export interface RefreshReport {
  /** Workspaces whose list was fetched and merged. */
  readonly refreshed: readonly string[];
  /** Workspaces whose list failed; their last good list stays in use. */
  readonly failed: readonly { readonly workspace: string; readonly message: string }[];
  /** Models the lists hold that the bundled catalogue lacks. */
  readonly added: readonly string[];
  readonly issues: readonly (CardIssue & { readonly workspace: string })[];
}

export class CatalogView {
  readonly #bundled: Catalog;
  readonly #clock: Clock;
  readonly #events: RouterEventEmitter;
  readonly #unavailableMs: number;
  /** Each workspace's last good list. */
  readonly #lists = new Map<string, readonly unknown[]>();
  /** Retirement days announced by headers, per model id. */
  readonly #retirements = new Map<string, string>();
  /** Pair key -> epoch ms until which Mistral's "Invalid model" keeps the pair out. */
  readonly #unavailable = new Map<string, number>();
  /** Models already reported by a `deprecated` event, with the status reported. */
  readonly #reported = new Map<string, 'deprecated' | 'retired'>();
  #catalog: Catalog;
  #refreshedAt: number | undefined;
  #inFlight: Promise<RefreshReport> | undefined;
  /** Bumped whenever the catalogue or the unavailable pairs change. */
  version = 0;

  constructor(bundled: Catalog, clock: Clock, events: RouterEventEmitter, unavailableMs: number) {
    this.#bundled = bundled;
    this.#catalog = bundled;
    this.#clock = clock;
    this.#events = events;
    this.#unavailableMs = unavailableMs;
  }

  /** The current catalogue (bundled + lists + announced retirements). */
  get catalog(): Catalog {
    return this.#catalog;
  }

  /** The lifecycle of the clock's day (computed once a day per catalogue). */
  lifecycle(): LifecycleDay {
    return this.#catalog.lifecycleOn(this.#clock.now());
  }

  /** When the last refresh ended (clock ms), or undefined before the first. */
  get refreshedAt(): number | undefined {
    return this.#refreshedAt;
  }

  /**
   * Fetch every workspace's list and merge them. A failed list keeps that workspace's last good one (the
   * catalogue is never emptied) and emits `catalogRefreshFailed`; concurrent calls share one refresh.
   */
  refresh(listers: readonly ModelLister[]): Promise<RefreshReport> {
    this.#inFlight ??= this.#refresh(listers).finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #refresh(listers: readonly ModelLister[]): Promise<RefreshReport> {
    const results = await Promise.all(
      listers.map(async (lister) => {
        try {
          const cards = await lister.list();
          if (!Array.isArray(cards)) throw new TypeError('the model list is not an array');
          return { workspace: lister.workspace, cards };
        } catch (error) {
          return { workspace: lister.workspace, error: (error as Error).message ?? String(error) };
        }
      }),
    );
    const failed: { workspace: string; message: string }[] = [];
    const refreshed: string[] = [];
    for (const result of results) {
      if ('cards' in result) {
        this.#lists.set(result.workspace, result.cards as readonly unknown[]);
        refreshed.push(result.workspace);
      } else {
        const message = (result.error ?? 'unknown error').split('\n')[0] as string;
        failed.push({ workspace: result.workspace, message });
        this.#events.emit('catalogRefreshFailed', { workspace: result.workspace, message });
      }
    }
    const { added, issues } = this.#rebuild(new Set(refreshed));
    this.#refreshedAt = this.#clock.now();
    if (refreshed.length > 0) this.#events.emit('catalogRefreshed', { workspaces: refreshed, added, issues });
    return { refreshed, failed, added, issues };
  }

  /** Merge the last good lists and the announced retirements over the bundled catalogue. */
  #rebuild(report: ReadonlySet<string>): { added: string[]; issues: (CardIssue & { workspace: string })[] } {
    const now = this.#clock.now();
    let catalog = this.#bundled;
    const added = new Set<string>();
    const issues: (CardIssue & { workspace: string })[] = [];
    for (const [workspace, cards] of this.#lists) {
      const merge = mergeCatalogCards(catalog, cards, { workspace, now });
      catalog = merge.catalog;
      for (const id of merge.added) if (this.#bundled.model(id) === undefined) added.add(id);
      if (report.has(workspace)) {
        for (const issue of merge.issues) {
          const event = { ...issue, workspace };
          issues.push(event);
          this.#events.emit('cardSkipped', event);
        }
      }
    }
    this.#catalog = withRetirements(catalog, this.#retirements);
    this.version++;
    return { added: [...added], issues };
  }

  /**
   * `x-model-deprecation-timestamp` said `model` (an id) retires at `atMs`: from now on the catalogue says so
   * (the model is deprecated until then, retired from that day). Returns whether anything changed.
   */
  noteRetirement(model: string, atMs: number): boolean {
    if (!Number.isFinite(atMs) || this.#catalog.model(model)?.id !== model) return false;
    const day = new Date(atMs).toISOString().slice(0, 10);
    if (this.#catalog.model(model)?.deprecation?.retired === day) return false;
    this.#retirements.set(model, day);
    this.#catalog = withRetirements(this.#catalog, new Map([[model, day]]));
    this.version++;
    return true;
  }

  /**
   * Report a deprecated or retired model once per model and status (a `deprecated` event). Returns
   * whether this call reported it.
   */
  reportLifecycle(model: string, day: LifecycleDay): boolean {
    const lifecycle = day.of(model);
    if (lifecycle === undefined || lifecycle.status === 'current' || this.#reported.get(model) === lifecycle.status) return false;
    this.#reported.set(model, lifecycle.status);
    this.#events.emit('deprecated', { model, status: lifecycle.status, retired: lifecycle.retired, replacement: lifecycle.successor });
    return true;
  }

  /** Mistral answered "Invalid model" for (workspace, model): pass the pair over for `unavailableMs`. */
  markUnavailable(workspace: string, model: string, status: number | undefined): number {
    const until = this.#clock.now() + this.#unavailableMs;
    this.#unavailable.set(pairKeyOf(workspace, model), until);
    this.version++;
    this.#events.emit('modelUnavailable', { workspace, model, until, status });
    return until;
  }

  /** Until when (clock ms) a pair is passed over, or undefined when it is available. */
  unavailableUntil(workspace: string, model: string, now: number): number | undefined {
    const until = this.#unavailable.get(pairKeyOf(workspace, model));
    if (until === undefined) return undefined;
    if (until > now) return until;
    this.#unavailable.delete(pairKeyOf(workspace, model));
    return undefined;
  }

  /** Whether any pair is marked (the common case is none: the candidate lists skip the lookups). */
  get hasUnavailable(): boolean {
    return this.#unavailable.size > 0;
  }
}

function pairKeyOf(workspace: string, model: string): string {
  return `${workspace}\u0000${model}`;
}
