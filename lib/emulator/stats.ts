/**
 * What the emulator has served since it started (or since `reset()`): the numbers a test or the demo
 * compares with what the router believes it did.
 */
import type { RefusalReason } from './meter.js';

/** Tokens charged to one model (over every workspace). */
export interface ModelTokenStats {
  /** Requests admitted and charged. */
  readonly requests: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Prompt plus completion tokens: what the replies really used. */
  readonly totalTokens: number;
  /**
   * What the windows were charged in the end: `totalTokens` unless the charge rule keeps prompt +
   * `max_tokens` for a reply that used less (`upstream.charge: 'max-tokens'`).
   */
  readonly chargedTokens: number;
}

/** Counters of faults injected, by kind. */
export interface FaultStats {
  readonly error: number;
  readonly capacity: number;
  readonly dropBefore: number;
  readonly dropMidStream: number;
}

/** The emulator's statistics, as returned by `stats()` and `GET /stats`. */
export interface EmulatorStats {
  /** Every HTTP request received (including /v1/models, 404s and 401s; not GET /stats). */
  readonly requests: number;
  /** Responses by HTTP status (`"200"`, `"429"`...); dropped connections are under `"dropped"`. */
  readonly responses: Readonly<Record<string, number>>;
  /** 429s from the meters, by the limit that refused. Capacity faults are counted under `faults`. */
  readonly rateLimited: Readonly<Record<RefusalReason, number>>;
  readonly faults: FaultStats;
  /** Tokens charged, by resolved model id. */
  readonly tokens: Readonly<Record<string, ModelTokenStats>>;
  /** Requests answered "Invalid model" (unknown, retired, or not served to the key), by the model name they gave. */
  readonly invalidModel: Readonly<Record<string, number>>;
}

interface MutableModelTokenStats {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  chargedTokens: number;
}

/** Mutable counters behind {@link EmulatorStats}. */
export class StatsRecorder {
  requests = 0;
  // Keyed by status: a plain object with small integer keys is cheaper than a Map of strings on the hot path.
  readonly responses: Record<string, number> = {};
  readonly rateLimited: Record<RefusalReason, number> = {
    'requests-per-second': 0,
    'requests-per-minute': 0,
    'tokens-per-minute': 0,
    'tokens-per-month': 0,
  };
  readonly faults = { error: 0, capacity: 0, dropBefore: 0, dropMidStream: 0 };
  readonly tokens = new Map<string, MutableModelTokenStats>();
  readonly invalidModel: Record<string, number> = {};

  refuseModel(name: string): void {
    this.invalidModel[name] = (this.invalidModel[name] ?? 0) + 1;
  }

  response(status: number | 'dropped'): void {
    this.responses[status] = (this.responses[status] ?? 0) + 1;
  }

  charge(model: string, promptTokens: number, completionTokens: number, chargedTokens: number = promptTokens + completionTokens): void {
    let entry = this.tokens.get(model);
    if (entry === undefined) {
      entry = { requests: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, chargedTokens: 0 };
      this.tokens.set(model, entry);
    }
    entry.requests++;
    entry.promptTokens += promptTokens;
    entry.completionTokens += completionTokens;
    entry.totalTokens += promptTokens + completionTokens;
    entry.chargedTokens += chargedTokens;
  }

  /** A copy that later requests do not change. */
  snapshot(): EmulatorStats {
    return {
      requests: this.requests,
      responses: { ...this.responses },
      rateLimited: { ...this.rateLimited },
      faults: { ...this.faults },
      tokens: Object.fromEntries([...this.tokens].map(([model, entry]) => [model, { ...entry }])),
      invalidModel: { ...this.invalidModel },
    };
  }
}
