/**
 * Measurements on their way to prom-client. prom-client builds, checks and hashes the label object of
 * every `inc` and `observe` (a child from `labels()` does the same), about 1 µs each, and a routed call
 * makes six of them. Here a label set's cell is found by one Map lookup per label value (values are the
 * catalogue's and the configuration's strings, whose hashes V8 keeps: no key string is built and hashed
 * per measurement): a counter's cell sums what it is
 * given, a histogram's queues its observations, and every cell is handed to prom-client when any of its
 * metrics is read (their `collect`, so a scrape or `registry.metrics()` never misses a measurement) or at
 * the end of the event loop's turn, whichever comes first. The second keeps the hand-over off the path of
 * the call's answer and what prom-client holds at most one turn old (a registry read without collecting).
 * An instrument's `reset()` (what `registry.resetMetrics()` calls) drops what its cells still hold.
 */
import type * as PromClient from 'prom-client';

type Instrument = PromClient.Counter<string> | PromClient.Histogram<string>;

interface Cell {
  readonly instrument: Instrument;
  readonly counts: boolean;
  readonly labels: Record<string, string>;
  /** A counter's sum not yet handed over. */
  sum: number;
  /** A histogram's observations not yet handed over. */
  readonly observed: number[];
  queued: boolean;
}

/** A level of the lookup: the next label value's nodes, and the cell of the label set ending here. */
interface Node {
  readonly next: Map<string | undefined, Node>;
  cell: Cell | undefined;
}

const node = (): Node => ({ next: new Map(), cell: undefined });

/** Observations a histogram's cell holds at most before it is handed over at once (memory stays bounded without a turn's end). */
const MAX_QUEUED = 4096;

export class PromCells {
  readonly #roots = new Map<string, Node>();
  #queue: Cell[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  readonly #flushSoon = (): void => {
    this.#scheduled = undefined;
    this.flush();
  };

  /**
   * Adds `value` to the counter (finite, not negative) or observes it in the histogram `instrument`, for the label set
   * `values` (in `names`' order, `undefined` for a label left out). `id` names the instrument among this object's.
   */
  record(id: string, instrument: Instrument, counts: boolean, names: readonly string[], values: readonly (string | undefined)[], value: number): void {
    // Refused now as prom-client would refuse it at the hand-over, where no caller could be told.
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    if (counts && value < 0) throw new Error('It is not possible to decrease a counter');
    let at: Node | undefined = this.#roots.get(id);
    if (at === undefined) this.#roots.set(id, (at = node()));
    for (const one of values) {
      let next: Node | undefined = at.next.get(one);
      if (next === undefined) at.next.set(one, (next = node()));
      at = next;
    }
    let cell = at.cell;
    if (cell === undefined) {
      const labels: Record<string, string> = {};
      for (let i = 0; i < names.length; i++) if (values[i] !== undefined) labels[names[i] as string] = values[i] as string;
      at.cell = cell = { instrument, counts, labels, sum: 0, observed: [], queued: false };
    }
    if (counts) cell.sum += value;
    else if (cell.observed.push(value) >= MAX_QUEUED) hand(cell);
    if (!cell.queued) {
      cell.queued = true;
      this.#queue.push(cell);
    }
    this.#scheduled ??= setImmediate(this.#flushSoon);
  }

  /** `instrument.reset()` from now on also drops what its cells hold (not handed over yet). */
  watchReset(instrument: Instrument): void {
    const reset = instrument.reset.bind(instrument);
    instrument.reset = () => {
      this.#queue = this.#queue.filter((cell) => {
        if (cell.instrument !== instrument) return true;
        cell.sum = 0;
        cell.observed.length = 0;
        cell.queued = false;
        return false;
      });
      reset();
    };
  }

  /** Hands every measurement held to prom-client. */
  flush(): void {
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    for (const cell of queue) {
      cell.queued = false;
      hand(cell);
    }
  }
}

function hand(cell: Cell): void {
  if (cell.counts) {
    // Even 0: a label set counted only zeros is a series at 0, as prom-client's own inc makes it.
    (cell.instrument as PromClient.Counter<string>).inc(cell.labels, cell.sum);
    cell.sum = 0;
    return;
  }
  const histogram = cell.instrument as PromClient.Histogram<string>;
  for (const value of cell.observed) histogram.observe(cell.labels, value);
  cell.observed.length = 0;
}
