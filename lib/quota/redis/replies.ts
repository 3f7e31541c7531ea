/**
 * The replies of the scripts, read back into the store's types: a reserve decision's refusals, a window
 * of the inspect script. Lua numbers cross to Redis as integers, so Infinity and null travel as -1.
 */
import type { CandidateRefusal, QuotaCandidate, WindowRefusal, WindowSnapshot, WindowSpec } from '../types.js';
import { parseLayoutCode, parseWindowKey } from './keys.js';

/**
 * One decision of a reserve reply (see scripts/reserve.ts): `[1, candidate]` admitted by the candidate
 * (1-based) after the refusals that follow, `[2, n, until]` admitted by the first with a grant, or
 * `[0, 0, refusals...]`.
 */
export type DecisionReply = Array<number | Array<number | number[]>>;

/** The reply of the inspect script: `[now, pending count, windows]`. */
export type InspectReply = [number, number, Array<[string, string, number, string, string, string, number]>];

/** The decisions of a reserve reply, in batch order; `now` is the script's time. */
export function decodeReserveReply(reply: unknown, count: number): { now: number; decisions: DecisionReply[] } {
  const values = reply as Array<DecisionReply | number>;
  const decisions: DecisionReply[] = new Array<DecisionReply>(count);
  for (let i = 0; i < count; i++) {
    const answer = values[i + 1] as DecisionReply | number;
    // A decision admitted by the first candidate it tried comes back as that candidate's number alone.
    decisions[i] = typeof answer === 'number' ? [1, answer] : answer;
  }
  return { now: values[0] as number, decisions };
}

function never(value: number): number {
  return value === -1 ? Number.POSITIVE_INFINITY : value;
}

/** A refusal of a decision reply; `start` is the index in the request of the run's first candidate. */
export function toCandidateRefusal(raw: Array<number | number[]>, start: number, candidates: readonly QuotaCandidate[]): CandidateRefusal {
  const index = start + (raw[0] as number) - 1;
  const candidate = candidates[index] as QuotaCandidate;
  const windows = (raw.slice(2) as number[][]).map(([position, limit, used, needed, retry, blocked]): WindowRefusal => {
    const spec = candidate.windows[(position as number) - 1] as WindowSpec;
    return {
      kind: spec.kind,
      scope: spec.scope,
      limit: never(limit as number),
      used: used as number,
      needed: needed as number,
      retryAfterMs: never(retry as number),
      blocked: blocked === 1,
    };
  });
  return { candidateIndex: index, workspace: candidate.workspace, model: candidate.model, retryAfterMs: never(raw[1] as number), windows };
}

/** One window of an inspect reply; undefined for a key this store did not write. */
export function toSnapshot(workspace: string, tag: string, row: InspectReply[2][number]): WindowSnapshot | undefined {
  const [key, code, used, cfg, learned, blocked, held] = row;
  const name = parseWindowKey(tag, key);
  const layout = parseLayoutCode(code);
  if (name === undefined || layout === undefined) return undefined;
  const learnedLimit = learned === '' ? undefined : Number(learned);
  return {
    workspace,
    model: name.model,
    kind: name.kind,
    unit: layout.unit,
    period: layout.period,
    limit: learnedLimit ?? (cfg === '' ? null : Number(cfg)),
    used: Number(used),
    held: Number(held),
    blockedUntil: blocked === '' ? undefined : Number(blocked),
    learned: learnedLimit !== undefined,
  };
}
