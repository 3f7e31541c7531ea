/**
 * The emulator's metering, the way an upstream counts (see windows.ts for the two shapes): per API key
 * (workspace), requests per second (fixed, aligned to the clock's second) and, when configured, per
 * minute; per (key, model), tokens per minute and per calendar month (UTC, fixed). The minute windows are
 * fixed (aligned to the clock's minute plus a phase) or sliding 60-second logs, as the emulator's
 * `upstream.window` option says.
 *
 * Admission is all or nothing: a refused request charges no window. What an admitted request is charged
 * and when is the server's business (`upstream.charge`): at admission (`charge` here), corrected later
 * (`correct`), or only after the fact (`chargeLater`).
 */
import type { Clock } from '../clock.js';
import { FixedWindow, minuteWindow, type ChargeHandle, type MeterWindow, type WindowShape } from './windows.js';

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
  /** Requests counted in the current minute window (the workspace's). */
  readonly requestsThisMinute: number;
  /** Tokens the model's minute window holds. */
  readonly tokensThisMinute: number;
  /** Tokens charged to the model in the current calendar month. */
  readonly tokensThisMonth: number;
  /** ms until the minute window next gives capacity back (the legacy header family reports it). */
  readonly minuteResetMs: number;
}

/** Where an admitted request's tokens were charged, so that they can be corrected there. */
export interface MeterTicket {
  readonly windows: ModelWindows;
  readonly minute: ChargeHandle;
  readonly month: ChargeHandle;
}

/** The meter's answer: admitted (and charged) or refused (nothing charged) with the reason. */
export type MeterOutcome =
  | { readonly admitted: true; readonly reading: MeterReading; readonly ticket: MeterTicket }
  | { readonly admitted: false; readonly reason: RefusalReason; readonly retryAfterMs: number; readonly reading: MeterReading };

/** The shape of the minute windows. */
export interface MeterShape {
  readonly window: WindowShape;
  /** Fixed windows start at `phaseMs` past the clock's minute. */
  readonly phaseMs: number;
}

interface WorkspaceWindows {
  readonly requestsPerSecond: MeterWindow;
  readonly requestsPerMinute: MeterWindow;
  readonly models: Map<string, ModelWindows>;
}

interface ModelWindows {
  readonly tokensPerMinute: MeterWindow;
  readonly tokensPerMonth: MeterWindow;
}

/** Meters for every workspace the emulator has seen. */
export class Meter {
  readonly #clock: Clock;
  readonly #shape: MeterShape;
  #workspaces = new Map<string, WorkspaceWindows>();

  constructor(clock: Clock, shape: MeterShape = { window: 'fixed', phaseMs: 0 }) {
    this.#clock = clock;
    this.#shape = shape;
  }

  /** Forget every window. */
  reset(): void {
    this.#workspaces = new Map();
  }

  /**
   * Check every window for one request that needs `need` tokens of room; if each has room, count the
   * request and charge `charge` tokens (0 for an upstream that charges only after the fact), else charge
   * nothing. Windows are checked workspace-first, as upstream refuses a burst before reading the body.
   */
  admit(workspace: string, model: string, limits: MeterLimits, need: number, charge: number = need): MeterOutcome {
    const now = this.#clock.now();
    const ws = this.#workspace(workspace);
    const mw = this.#model(ws, model);
    let reason: RefusalReason | undefined;
    let retryAfterMs = 0;
    if (limits.requestsPerSecond !== null && (retryAfterMs = ws.requestsPerSecond.retryAfterMs(now, 1, limits.requestsPerSecond)) > 0) {
      reason = 'requests-per-second';
    } else if (limits.requestsPerMinute !== null && (retryAfterMs = ws.requestsPerMinute.retryAfterMs(now, 1, limits.requestsPerMinute)) > 0) {
      reason = 'requests-per-minute';
    } else if (limits.tokensPerMinute !== null && (retryAfterMs = mw.tokensPerMinute.retryAfterMs(now, need, limits.tokensPerMinute)) > 0) {
      reason = 'tokens-per-minute';
    } else if (limits.tokensPerMonth !== null && (retryAfterMs = mw.tokensPerMonth.retryAfterMs(now, need, limits.tokensPerMonth)) > 0) {
      reason = 'tokens-per-month';
    }
    if (reason !== undefined) {
      // A request larger than the limit itself never fits: its answer names the window's own reset.
      if (!Number.isFinite(retryAfterMs)) retryAfterMs = this.#windowOf(reason, ws, mw).resetMs(now);
      return { admitted: false, reason, retryAfterMs, reading: this.#reading(ws, mw, limits, now) };
    }
    ws.requestsPerSecond.charge(now, 1);
    ws.requestsPerMinute.charge(now, 1);
    const ticket: MeterTicket = { windows: mw, minute: mw.tokensPerMinute.charge(now, charge), month: mw.tokensPerMonth.charge(now, charge) };
    return { admitted: true, reading: this.#reading(ws, mw, limits, now), ticket };
  }

  /** Change an admitted request's token charge by `delta` where it was made (a charge that left its window is not touched). */
  correct(ticket: MeterTicket, delta: number): void {
    if (delta === 0) return;
    const now = this.#clock.now();
    ticket.windows.tokensPerMinute.correct(ticket.minute, now, delta);
    ticket.windows.tokensPerMonth.correct(ticket.month, now, delta);
  }

  /** Charge `tokens` to an admitted request now, after the fact (its windows as they are at this instant). */
  chargeLater(ticket: MeterTicket, tokens: number): void {
    if (tokens === 0) return;
    const now = this.#clock.now();
    ticket.windows.tokensPerMinute.charge(now, tokens);
    ticket.windows.tokensPerMonth.charge(now, tokens);
  }

  /** The windows of one (workspace, model) as they stand, charging nothing (for error responses' headers). */
  peek(workspace: string, model: string, limits: MeterLimits): MeterReading {
    const ws = this.#workspace(workspace);
    return this.#reading(ws, this.#model(ws, model), limits, this.#clock.now());
  }

  #reading(ws: WorkspaceWindows, mw: ModelWindows, limits: MeterLimits, now: number): MeterReading {
    return {
      limits,
      requestsThisMinute: ws.requestsPerMinute.used(now),
      tokensThisMinute: mw.tokensPerMinute.used(now),
      tokensThisMonth: mw.tokensPerMonth.used(now),
      minuteResetMs: mw.tokensPerMinute.resetMs(now),
    };
  }

  #windowOf(reason: RefusalReason, ws: WorkspaceWindows, mw: ModelWindows): MeterWindow {
    if (reason === 'requests-per-second') return ws.requestsPerSecond;
    if (reason === 'requests-per-minute') return ws.requestsPerMinute;
    return reason === 'tokens-per-minute' ? mw.tokensPerMinute : mw.tokensPerMonth;
  }

  #workspace(workspace: string): WorkspaceWindows {
    let ws = this.#workspaces.get(workspace);
    if (ws === undefined) {
      ws = { requestsPerSecond: new FixedWindow(1_000), requestsPerMinute: minuteWindow(this.#shape.window, this.#shape.phaseMs), models: new Map() };
      this.#workspaces.set(workspace, ws);
    }
    return ws;
  }

  #model(ws: WorkspaceWindows, model: string): ModelWindows {
    let mw = ws.models.get(model);
    if (mw === undefined) {
      mw = { tokensPerMinute: minuteWindow(this.#shape.window, this.#shape.phaseMs), tokensPerMonth: new FixedWindow('month') };
      ws.models.set(model, mw);
    }
    return mw;
  }
}
