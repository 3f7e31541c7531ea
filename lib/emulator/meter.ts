/**
 * The emulator's metering: plain fixed windows aligned to the clock's second, minute and calendar month
 * (UTC), the way an upstream counts. It deliberately shares nothing with the router's sliding windows:
 * the emulator plays Mistral, so a bug in the router's arithmetic cannot hide behind the same bug here.
 *
 * Per API key (workspace): requests per second and, when configured, per minute.
 * Per (key, model): tokens per minute and per calendar month.
 * Admission is all or nothing: a refused request charges no window.
 */
import type { Clock } from '../clock.js';

/** The limits in force for one (workspace, model); `null` = unmetered. */
export interface MeterLimits {
  readonly requestsPerSecond: number | null;
  readonly requestsPerMinute: number | null;
  readonly tokensPerMinute: number | null;
  readonly tokensPerMonth: number | null;
}

/** Which limit refused a request. */
export type RefusalReason = 'requests-per-second' | 'requests-per-minute' | 'tokens-per-minute' | 'tokens-per-month';

/** What the windows hold after the admission (or refusal), for the rate-limit headers. */
export interface MeterReading {
  readonly limits: MeterLimits;
  /** Requests counted in the current minute (the workspace's). */
  readonly requestsThisMinute: number;
  /** Tokens charged to the model in the current minute. */
  readonly tokensThisMinute: number;
  /** Tokens charged to the model in the current calendar month. */
  readonly tokensThisMonth: number;
  /** ms until the current minute window ends (the legacy header family reports it). */
  readonly minuteResetMs: number;
}

/** The meter's answer: admitted (and charged) or refused (nothing charged) with the reason. */
export type MeterOutcome =
  | { readonly admitted: true; readonly reading: MeterReading }
  | { readonly admitted: false; readonly reason: RefusalReason; readonly retryAfterMs: number; readonly reading: MeterReading };

/** One fixed window: which period it counts (second, minute or month start) and what it holds. */
interface FixedWindow {
  period: number;
  used: number;
}

interface WorkspaceWindows {
  readonly requestsPerSecond: FixedWindow;
  readonly requestsPerMinute: FixedWindow;
  readonly models: Map<string, ModelWindows>;
}

interface ModelWindows {
  readonly tokensPerMinute: FixedWindow;
  readonly tokensPerMonth: FixedWindow;
}

/** Start the window over when the clock has moved to another period. */
function roll(window: FixedWindow, period: number): void {
  if (window.period !== period) {
    window.period = period;
    window.used = 0;
  }
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/** Fixed-window meters for every workspace the emulator has seen. */
export class Meter {
  readonly #clock: Clock;
  #workspaces = new Map<string, WorkspaceWindows>();
  // The current calendar month as [start, end), recomputed only when the clock leaves it (a Date per request is wasteful).
  #monthStart = 0;
  #monthEnd = -1;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Forget every window. */
  reset(): void {
    this.#workspaces = new Map();
  }

  /**
   * Check every window for one request of `tokens` tokens; charge all of them if each has room,
   * none otherwise. Windows are checked workspace-first, as upstream refuses a burst before reading the body.
   */
  admit(workspace: string, model: string, limits: MeterLimits, tokens: number): MeterOutcome {
    const { ws, mw, now } = this.#roll(workspace, model);
    let reason: RefusalReason | undefined;
    let retryAfterMs = 0;
    if (limits.requestsPerSecond !== null && ws.requestsPerSecond.used + 1 > limits.requestsPerSecond) {
      reason = 'requests-per-second';
      retryAfterMs = (ws.requestsPerSecond.period + 1) * 1000 - now;
    } else if (limits.requestsPerMinute !== null && ws.requestsPerMinute.used + 1 > limits.requestsPerMinute) {
      reason = 'requests-per-minute';
      retryAfterMs = (ws.requestsPerMinute.period + 1) * 60_000 - now;
    } else if (limits.tokensPerMinute !== null && mw.tokensPerMinute.used + tokens > limits.tokensPerMinute) {
      reason = 'tokens-per-minute';
      retryAfterMs = (mw.tokensPerMinute.period + 1) * 60_000 - now;
    } else if (limits.tokensPerMonth !== null && mw.tokensPerMonth.used + tokens > limits.tokensPerMonth) {
      reason = 'tokens-per-month';
      retryAfterMs = this.#monthEnd - now;
    }
    if (reason === undefined) {
      ws.requestsPerSecond.used++;
      ws.requestsPerMinute.used++;
      mw.tokensPerMinute.used += tokens;
      mw.tokensPerMonth.used += tokens;
    }
    const reading = this.#reading(ws, mw, limits, now);
    return reason === undefined ? { admitted: true, reading } : { admitted: false, reason, retryAfterMs, reading };
  }

  /** The windows of one (workspace, model) as they stand, charging nothing (for error responses' headers). */
  peek(workspace: string, model: string, limits: MeterLimits): MeterReading {
    const { ws, mw, now } = this.#roll(workspace, model);
    return this.#reading(ws, mw, limits, now);
  }

  #reading(ws: WorkspaceWindows, mw: ModelWindows, limits: MeterLimits, now: number): MeterReading {
    return {
      limits,
      requestsThisMinute: ws.requestsPerMinute.used,
      tokensThisMinute: mw.tokensPerMinute.used,
      tokensThisMonth: mw.tokensPerMonth.used,
      minuteResetMs: (mw.tokensPerMinute.period + 1) * 60_000 - now,
    };
  }

  /** The windows of (workspace, model), created or moved to the clock's current second, minute and month. */
  #roll(workspace: string, model: string): { ws: WorkspaceWindows; mw: ModelWindows; now: number } {
    const now = this.#clock.now();
    const second = Math.floor(now / 1000);
    const minute = Math.floor(now / 60_000);
    const month = this.#monthOf(now);
    const ws = getOrCreate(this.#workspaces, workspace, () => ({
      requestsPerSecond: { period: second, used: 0 },
      requestsPerMinute: { period: minute, used: 0 },
      models: new Map<string, ModelWindows>(),
    }));
    const mw = getOrCreate(ws.models, model, () => ({ tokensPerMinute: { period: minute, used: 0 }, tokensPerMonth: { period: month, used: 0 } }));
    roll(ws.requestsPerSecond, second);
    roll(ws.requestsPerMinute, minute);
    roll(mw.tokensPerMinute, minute);
    roll(mw.tokensPerMonth, month);
    return { ws, mw, now };
  }

  /** Index of the calendar month (UTC) containing `now`, caching its bounds. */
  #monthOf(now: number): number {
    if (now < this.#monthStart || now >= this.#monthEnd) {
      const date = new Date(now);
      this.#monthStart = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
      this.#monthEnd = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    }
    return this.#monthStart;
  }
}
