/**
 * The last decisions the gateway answered, for the dashboard: a fixed ring (memory does not grow with the
 * requests served), each entry a small record built only from the decision (workspace and model names,
 * never a key).
 */
import type { Decision } from '../router/decision.js';

export interface RecentDecision {
  /** Epoch ms when it was answered (the gateway's clock). */
  readonly at: number;
  readonly key: string;
  readonly route: string;
  readonly endpoint: string;
  readonly model: string;
  readonly workspace: string;
  readonly attempts: number;
  /** What was passed over before `model`: failed attempts (`model outcome`) and candidates without quota (`model quota`). */
  readonly fallbacks: readonly string[];
  readonly waitedMs: number;
  readonly tokens: number | undefined;
}

const NONE: readonly string[] = Object.freeze([]);

/** What a decision passed over before its model: failed attempts (`model outcome`), then candidates without quota (`model quota`). */
export function fallbacksOf(decision: Decision): readonly string[] {
  const { attempts, passedOver } = decision;
  if (attempts.length === 1 && passedOver.length === 0) return NONE;
  const fallbacks: string[] = [];
  for (let i = 0; i < attempts.length - 1; i++) fallbacks.push(`${attempts[i]?.model} ${attempts[i]?.outcome}`);
  // Passed over for its own windows (quota) or for a monthly budget in USD (a key's, a workspace's, the router's).
  for (const passed of passedOver) fallbacks.push(`${passed.model} ${passed.windows.some((kind) => kind.includes('usd')) ? 'budget' : 'quota'}`);
  return fallbacks;
}

export class RecentDecisions {
  readonly #ring: (RecentDecision | undefined)[];
  #next = 0;
  #count = 0;
  /** Calls answered per key name (bounded: the configuration's keys). */
  readonly #perKey = new Map<string, number>();

  constructor(readonly size = 50) {
    this.#ring = new Array<RecentDecision | undefined>(size);
  }

  add(at: number, decision: Decision, key: string, route: string): void {
    this.#ring[this.#next] = { at, key, route, endpoint: decision.endpoint, model: decision.model, workspace: decision.workspace, attempts: decision.attempts.length, fallbacks: fallbacksOf(decision), waitedMs: decision.waitedMs, tokens: decision.tokens.used };
    this.#next = (this.#next + 1) % this.size;
    this.#count++;
    this.#perKey.set(key, (this.#perKey.get(key) ?? 0) + 1);
  }

  /** Decisions answered since the start. */
  get total(): number {
    return this.#count;
  }

  /** Calls answered for one key since the start. */
  answeredFor(key: string): number {
    return this.#perKey.get(key) ?? 0;
  }

  /** The newest first. */
  list(): RecentDecision[] {
    const out: RecentDecision[] = [];
    for (let i = 1; i <= Math.min(this.#count, this.size); i++) out.push(this.#ring[(this.#next - i + this.size) % this.size] as RecentDecision);
    return out;
  }
}
