/**
 * The arguments of every script: KEYS and ARGV as the Lua in scripts/ reads them, built here and only
 * here. Each script's file describes its layout; the store never builds an argument itself.
 */
import type { QuotaCandidate, UpstreamObservation } from '../types.js';
import { WINDOW_KINDS } from '../types.js';
import { validateCandidate } from '../window.js';
import { layoutCode, windowKey, workspaceKeys, type WorkspaceKeys } from './keys.js';

/** KEYS and ARGV of one script run. */
export interface ScriptArgs {
  readonly keys: string[];
  readonly args: Array<string | number>;
}

/**
 * A candidate resolved once per candidate object (plans are cached above the store): its keys and the
 * script arguments that never change, so a decision only concatenates prebuilt pieces.
 */
export interface ResolvedCandidate {
  readonly keys: WorkspaceKeys;
  /** The window keys, in the candidate's order. */
  readonly windowKeys: readonly string[];
  /** One layout code per window (period letter + unit letter). */
  readonly codes: readonly string[];
  /** ` :w:K :m:M:K...`: the window keys without the tag, ending a pending member. */
  readonly suffix: string;
  /** The configured limit of each window as the reserve script takes it ('' = unknown). */
  readonly limits: readonly string[];
}

/** Validates a candidate and resolves its keys and codes under `prefix`. */
export function resolveCandidate(prefix: string, candidate: QuotaCandidate, index: number): ResolvedCandidate {
  validateCandidate(candidate, `candidates[${index}]`);
  const keys = workspaceKeys(prefix, candidate.workspace);
  const windowKeys = candidate.windows.map((spec) => windowKey(keys.tag, spec.kind, spec.scope === 'model' ? candidate.model : undefined));
  const codes = candidate.windows.map((spec) => layoutCode(spec.period, spec.unit));
  const suffix = windowKeys.map((key) => ` ${key.slice(keys.tag.length)}`).join('');
  const limits = candidate.windows.map((spec) => (spec.limit === null ? '' : String(spec.limit)));
  return { keys, windowKeys, codes, suffix, limits };
}

/** The pending member of a reservation (see the key layout in keys.ts). */
export function pendingMember(id: string, tokens: number, requests: number, candidate: ResolvedCandidate): string {
  return `${id} ${tokens} ${requests}${candidate.suffix}`;
}

/** One decision of a reserve batch. */
export interface ReserveDecision {
  readonly id: string;
  readonly tokens: number;
  readonly requests: number;
  /** The grant asked for (see scripts/reserve.ts): 0 = none. */
  readonly want: number;
  readonly candidates: readonly ResolvedCandidate[];
}

/** KEYS and ARGV of one reserve script run over a batch (see scripts/reserve.ts for the layout). */
export function encodeReserve(batch: readonly ReserveDecision[], now: number | string, ttl: number): ScriptArgs {
  const keys: string[] = [];
  const groups = new Map<string, number>();
  const windowKeys: string[] = [];
  const windows = new Map<string, number>();
  const definitions = new Map<ResolvedCandidate, number>();
  const defined: string[] = [];
  const numbers: number[][] = [];
  for (const decision of batch) {
    const listed: number[] = [];
    for (const candidate of decision.candidates) {
      let number = definitions.get(candidate);
      if (number === undefined) {
        definitions.set(candidate, (number = definitions.size + 1));
        let g = groups.get(candidate.keys.tag);
        if (g === undefined) {
          groups.set(candidate.keys.tag, (g = groups.size + 1));
          keys.push(candidate.keys.pending, candidate.keys.windows);
        }
        // One argument per candidate; names are URI-encoded, so '|' is a safe separator.
        let definition = `${g}|${candidate.codes.length}|${candidate.suffix}`;
        candidate.windowKeys.forEach((key, i) => {
          let w = windows.get(key);
          if (w === undefined) {
            windowKeys.push(key);
            windows.set(key, (w = windowKeys.length));
          }
          definition += `|${w}|${candidate.codes[i] as string}|${candidate.limits[i] as string}`;
        });
        defined.push(definition);
      }
      listed.push(number);
    }
    numbers.push(listed);
  }
  for (const key of windowKeys) keys.push(key);
  const args: Array<string | number> = [now, ttl, groups.size, definitions.size, batch.length];
  for (const definition of defined) args.push(definition);
  batch.forEach((decision, d) => {
    const listed = numbers[d] as number[];
    args.push(decision.id, decision.tokens, decision.requests, decision.want);
    // 0 = every definition in order (the common case: one decision, or decisions sharing one list).
    if (listed.length === defined.length && listed.every((number, i) => number === i + 1)) args.push(0);
    else args.push(listed.length, ...listed);
  });
  return { keys, args };
}

/** One settle, release or grant split: its part of the after-a-call script (see scripts/settle.ts). */
export interface SettlePiece {
  readonly candidate: ResolvedCandidate;
  /** The pending member it removes. */
  readonly member: string;
  readonly at: number;
  readonly tokenDelta: number;
  readonly requestDelta: number;
  /** A grant split: the score and members of its decisions still open, and the ids settled by its instance. */
  readonly split?: { readonly score: number; readonly open: readonly string[]; readonly settled: readonly string[] };
}

/** KEYS and ARGV of one settle piece. */
export function encodeSettle(piece: SettlePiece): ScriptArgs {
  const { candidate, split } = piece;
  const keys = [candidate.keys.pending, ...candidate.windowKeys];
  const args: Array<string | number> = [
    candidate.codes.length,
    piece.member,
    piece.at,
    piece.tokenDelta,
    piece.requestDelta,
    split?.open.length ?? 0,
    split?.settled.length ?? 0,
  ];
  if (split !== undefined) {
    if (split.open.length > 0) args.push(split.score, ...split.open);
    args.push(...split.settled);
  }
  args.push(...candidate.codes);
  return { keys, args };
}

/** KEYS and ARGV of one observation piece (see scripts/observe.ts). */
export function encodeObserve(ws: WorkspaceKeys, observation: UpstreamObservation): ScriptArgs {
  const keys = [ws.windows];
  // The first argument, the number of KEYS this observation uses, is filled in below.
  const args: Array<string | number> = [0, observation.windows.length];
  for (const window of observation.windows) {
    const model = window.scope === 'model' ? observation.model : undefined;
    keys.push(windowKey(ws.tag, window.kind, model));
    args.push(layoutCode(window.period, window.unit), countOrEmpty(window.limit), countOrEmpty(window.remaining));
  }
  const limited = observation.rateLimited;
  if (limited !== undefined) {
    // Which windows a 429 blocks, as the memory store decides: the named kind at whichever scope exists;
    // else a standard kind's own window; else every window of the model; else its tokens-per-minute.
    const standard = Object.values(WINDOW_KINDS).find((spec) => spec.kind === limited.kind);
    if (limited.kind !== undefined) keys.push(windowKey(ws.tag, limited.kind, undefined), windowKey(ws.tag, limited.kind, observation.model));
    const create = standard ?? WINDOW_KINDS.tokensPerMinute;
    keys.push(windowKey(ws.tag, create.kind, create.scope === 'model' ? observation.model : undefined));
    args.push(limited.blockedForMs, standard === undefined ? windowKey(ws.tag, '', observation.model) : '');
    args.push(layoutCode(create.period, create.unit));
  } else {
    args.push('', '', '');
  }
  args[0] = keys.length;
  return { keys, args };
}

/** KEYS and ARGV of one after-a-call script: its settles first, then its observations (scripts/index.ts). */
export function encodeAfter(now: number | string, settles: readonly ScriptArgs[], observations: readonly ScriptArgs[]): ScriptArgs {
  const keys: string[] = [];
  const args: Array<string | number> = [now, settles.length, observations.length];
  for (const piece of settles) {
    keys.push(...piece.keys);
    args.push(...piece.args);
  }
  for (const piece of observations) {
    keys.push(...piece.keys);
    args.push(...piece.args);
  }
  return { keys, args };
}

/** KEYS and ARGV of the cancel of one decision, for the candidates of one workspace (scripts/cancel.ts). */
export function encodeCancel(now: number | string, ttl: number, decision: ReserveDecision, ofWorkspace: readonly ResolvedCandidate[]): ScriptArgs {
  const keys: string[] = [(ofWorkspace[0] as ResolvedCandidate).keys.pending];
  const args: Array<string | number> = [now, ttl, decision.tokens, decision.requests, decision.want, ofWorkspace.length];
  for (const r of ofWorkspace) {
    keys.push(...r.windowKeys);
    args.push(pendingMember(decision.id, decision.tokens, decision.requests, r), r.codes.length, ...r.codes);
  }
  return { keys, args };
}

/** KEYS and ARGV of the inspect script over one workspace (scripts/inspect.ts). */
export function encodeInspect(now: number | string, ws: WorkspaceKeys): ScriptArgs {
  return { keys: [ws.windows, ws.pending], args: [now] };
}

function countOrEmpty(value: number | undefined): number | string {
  return value !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : '';
}
