/**
 * The lifecycle of models by day: current, deprecated or retired, and where a retired model's requests
 * go (its replacement chain). Pure functions of the catalogue's `deprecation` facts and a UTC day, so that
 * the router computes a day's view once (when the catalogue or the day changes), never per decision.
 */
import type { Deprecation, Model } from './types.js';

/** Where a model stands on a day. */
export type LifecycleStatus = 'current' | 'deprecated' | 'retired';

/** One model's lifecycle on one day. */
export interface Lifecycle {
  readonly status: LifecycleStatus;
  /** Day the model was (or will be) deprecated, as YYYY-MM-DD; null when not given. */
  readonly deprecated: string | null;
  /** Day the model is (or will be) retired, as YYYY-MM-DD; null when not announced. */
  readonly retired: string | null;
  /** The replacement the catalogue names, or null. */
  readonly replacement: string | null;
  /**
   * The replacement chain from this model's replacement on (each one's replacement in turn), up to and
   * including the first model not retired on the day; empty when there is no replacement.
   */
  readonly chain: readonly string[];
  /** The first model of `chain` that is not retired on the day, or null when every one is (or none). */
  readonly successor: string | null;
}

const DAY_MS = 86_400_000;

/** The UTC day of an epoch-ms instant, as YYYY-MM-DD. */
export function dayOf(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** The epoch ms at which the UTC day of `ms` starts. */
export function dayStartOf(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/**
 * A catalogue date (YYYY-MM-DD or an ISO date-time) as its UTC day, or null for null or a date that does
 * not parse (the schema and the card checks refuse those before they get here).
 */
export function toDay(date: string | null): string | null {
  if (date === null) return null;
  if (/^\d{4}-\d{2}-\d{2}$/.test(date)) return date;
  const ms = Date.parse(date);
  return Number.isNaN(ms) ? null : dayOf(ms);
}

/**
 * The status of one deprecation on a day (YYYY-MM-DD): retired from the start of its `retired` day;
 * deprecated from its `deprecated` day, or, with no such date, as soon as a retirement is announced;
 * current otherwise (a replacement named without dates, as OCR 3 -> OCR 4.1, is a successor, not a deprecation).
 */
export function lifecycleStatus(deprecation: Deprecation | null, day: string): LifecycleStatus {
  if (deprecation === null) return 'current';
  const retired = toDay(deprecation.retired);
  if (retired !== null && day >= retired) return 'retired';
  const deprecated = toDay(deprecation.deprecated);
  if (deprecated !== null ? day >= deprecated : retired !== null) return 'deprecated';
  return 'current';
}

/**
 * The first replacement loop among the models (`a -> b -> a`, or a model replacing itself), as the list
 * of ids around it, or undefined. A replacement that is not a model ends its chain (the loader refuses
 * those separately).
 */
export function findReplacementLoop(models: ReadonlyMap<string, Pick<Model, 'deprecation'>>): string[] | undefined {
  const done = new Set<string>();
  for (const start of models.keys()) {
    const path: string[] = [];
    const onPath = new Set<string>();
    let id: string | null | undefined = start;
    while (id != null && !done.has(id)) {
      if (onPath.has(id)) return [...path.slice(path.indexOf(id)), id];
      onPath.add(id);
      path.push(id);
      id = models.get(id)?.deprecation?.replacement;
    }
    for (const seen of path) done.add(seen);
  }
  return undefined;
}

/**
 * The lifecycle of every model of a catalogue on one UTC day, computed once. `byId` must be free of
 * replacement loops (the loader and the card merge refuse them).
 */
export class LifecycleDay {
  /** The day, YYYY-MM-DD (UTC). */
  readonly day: string;
  /** Epoch ms of the day's start and of the next day's start: `covers(now)` is two comparisons. */
  readonly startMs: number;
  readonly endMs: number;
  readonly #lifecycles = new Map<string, Lifecycle>();
  /** Models retired on the day. */
  readonly retired: ReadonlySet<string>;
  /** Models deprecated (not yet retired) on the day. */
  readonly deprecated: ReadonlySet<string>;

  constructor(models: readonly Model[], atMs: number) {
    this.startMs = dayStartOf(atMs);
    this.endMs = this.startMs + DAY_MS;
    this.day = dayOf(atMs);
    const byId = new Map(models.map((model) => [model.id, model]));
    const retired = new Set<string>();
    const deprecated = new Set<string>();
    for (const model of models) {
      const status = lifecycleStatus(model.deprecation, this.day);
      if (status === 'retired') retired.add(model.id);
      else if (status === 'deprecated') deprecated.add(model.id);
    }
    for (const model of models) {
      const chain: string[] = [];
      let successor: string | null = null;
      for (let next = model.deprecation?.replacement ?? null; next !== null && !chain.includes(next); ) {
        chain.push(next);
        if (!retired.has(next) && byId.has(next)) {
          successor = next;
          break;
        }
        next = byId.get(next)?.deprecation?.replacement ?? null;
      }
      this.#lifecycles.set(
        model.id,
        Object.freeze({
          status: retired.has(model.id) ? 'retired' : deprecated.has(model.id) ? 'deprecated' : 'current',
          deprecated: toDay(model.deprecation?.deprecated ?? null),
          retired: toDay(model.deprecation?.retired ?? null),
          replacement: model.deprecation?.replacement ?? null,
          chain: Object.freeze(chain),
          successor,
        } satisfies Lifecycle),
      );
    }
    this.retired = retired;
    this.deprecated = deprecated;
  }

  /** Whether the instant `ms` falls on this day. */
  covers(ms: number): boolean {
    return ms >= this.startMs && ms < this.endMs;
  }

  /** The lifecycle of a model id (not an alias), or undefined for an id the catalogue does not have. */
  of(id: string): Lifecycle | undefined {
    return this.#lifecycles.get(id);
  }

  /** The status of a model id; `current` for an id the catalogue does not have. */
  status(id: string): LifecycleStatus {
    return this.retired.has(id) ? 'retired' : this.deprecated.has(id) ? 'deprecated' : 'current';
  }
}
