/**
 * The KEYS and ARGV of every script, written once: each `write...` function below is the layout of its
 * script's arguments, slot by slot, each slot named. The store encodes with them (an {@link ArgsWriter}
 * fills the arrays it sends); layout-doc.ts runs the same functions on sample inputs with a writer that
 * keeps the names, which is where the layout tables of docs/notes/redis.md come from. The Lua in scripts/
 * reads the slots in the same order.
 *
 * Every key a script touches is one of its KEYS (Redis's EVAL contract, and what a Cluster routes by); all
 * keys of one script share one hash tag, but for the workspaces of a batch on a standalone Redis.
 */
import type { QuotaCandidate, UpstreamObservation } from '../types.js';
import { WINDOW_KINDS } from '../types.js';
import { validateCandidate } from '../validate.js';
import { layoutCode, windowKey, workspaceKeys, type WorkspaceKeys } from './keys.js';

/** Where an encoder puts a script's KEYS and ARGV. `what` names the slot (for the layout docs). */
export interface ScriptWriter {
  key(key: string, what: string): void;
  arg(value: string | number, what: string): void;
  /**
   * The slots that follow are repeated per item of `what`; without `what`, they are not (for the layout
   * docs; the store's writer ignores it).
   */
  part(what?: string): void;
}

/** KEYS and ARGV of one script run. */
export interface ScriptArgs {
  readonly keys: string[];
  readonly args: Array<string | number>;
}

/** The writer of the store: the arrays it sends, the names dropped. */
class ArgsWriter implements ScriptWriter, ScriptArgs {
  readonly keys: string[] = [];
  readonly args: Array<string | number> = [];
  key(key: string): void {
    this.keys.push(key);
  }
  arg(value: string | number): void {
    this.args.push(value);
  }
  part(): void {}
}

/** Runs one `write...` function into arrays. */
function encode<T extends unknown[]>(write: (w: ScriptWriter, ...input: T) => void, ...input: T): ScriptArgs {
  const w = new ArgsWriter();
  write(w, ...input);
  return w;
}

/** The time slot every script starts with: the injected clock's ms, or '' for Redis `TIME` (time.ts). */
type ScriptNow = number | '';

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

/**
 * reserve (scripts/reserve.ts) over a batch. Candidates are defined once per batch, in one slot each
 * (`g|window count|member suffix`, then `|w|layout code|configured limit` per window, w the window's
 * number; names are URI-encoded, so `|` never occurs in them); a decision lists the numbers of its
 * candidates, or 0 for "every definition, in order" (one decision, or decisions sharing one list).
 */
export function writeReserve(w: ScriptWriter, batch: readonly ReserveDecision[], now: ScriptNow, ttl: number): void {
  const groups = new Map<string, number>();
  const windows = new Map<string, number>();
  const windowKeys: string[] = [];
  const definitions = new Map<ResolvedCandidate, number>();
  const defined: string[] = [];
  const numbers: number[][] = [];
  w.part('workspace g of the batch, in order of first use');
  for (const decision of batch) {
    const listed: number[] = [];
    for (const candidate of decision.candidates) {
      let number = definitions.get(candidate);
      if (number === undefined) {
        definitions.set(candidate, (number = definitions.size + 1));
        let g = groups.get(candidate.keys.tag);
        if (g === undefined) {
          groups.set(candidate.keys.tag, (g = groups.size + 1));
          w.key(candidate.keys.pending, 'pending of workspace g (KEYS[3g-2])');
          w.key(candidate.keys.windows, 'windows registry of workspace g (KEYS[3g-1])');
          w.key(candidate.keys.grants, 'grants index of workspace g (KEYS[3g])');
        }
        let definition = `${g}|${candidate.codes.length}|${candidate.suffix}`;
        candidate.windowKeys.forEach((key, i) => {
          let index = windows.get(key);
          if (index === undefined) {
            windowKeys.push(key);
            windows.set(key, (index = windowKeys.length));
          }
          definition += `|${index}|${candidate.codes[i] as string}|${candidate.limits[i] as string}`;
        });
        defined.push(definition);
      }
      listed.push(number);
    }
    numbers.push(listed);
  }
  w.part('distinct window w of the batch');
  for (const key of windowKeys) w.key(key, 'window w (KEYS[3G + w])');
  w.part();
  w.arg(now, "now: ms, or '' for Redis TIME");
  w.arg(ttl, 'reservation TTL, ms');
  w.arg(groups.size, 'G: workspaces');
  w.arg(definitions.size, 'D: candidate definitions');
  w.arg(batch.length, 'R: decisions');
  w.part('candidate definition d (ARGV[5 + d])');
  for (const definition of defined) w.arg(definition, 'g|window count|member suffix, then |w|layout code|configured limit per window');
  w.part('decision');
  batch.forEach((decision, d) => {
    const listed = numbers[d] as number[];
    w.arg(decision.id, 'id');
    w.arg(decision.tokens, 'tokens');
    w.arg(decision.requests, 'requests');
    w.arg(decision.want, 'want: the grant asked for (0 = none)');
    if (listed.length === defined.length && listed.every((number, i) => number === i + 1)) w.arg(0, 'C = 0: every definition, in order');
    else {
      w.arg(listed.length, 'C: its candidates');
      for (const number of listed) w.arg(number, 'a candidate definition d, in the order to try');
    }
  });
}

/** KEYS and ARGV of one reserve script run over a batch. */
export function encodeReserveArgs(batch: readonly ReserveDecision[], now: ScriptNow, ttl: number): ScriptArgs {
  return encode(writeReserve, batch, now, ttl);
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

/** One settle piece of the after-a-call script. */
export function writeSettle(w: ScriptWriter, piece: SettlePiece): void {
  const { candidate, split } = piece;
  w.key(candidate.keys.pending, 'pending of its workspace');
  w.key(candidate.keys.grants, 'grants index');
  w.key(candidate.keys.early, 'early settles of grant decisions');
  for (const key of candidate.windowKeys) w.key(key, 'a window it charged, in order');
  w.arg(candidate.codes.length, 'window count');
  w.arg(piece.member, 'pending member: id tokens requests :suffix...');
  w.arg(piece.at, 'at: when it was charged (store ms)');
  w.arg(piece.tokenDelta, 'token delta');
  w.arg(piece.requestDelta, 'request delta');
  w.arg(split?.open.length ?? 0, 'A: a split: its decisions still open (0 otherwise)');
  w.arg(split?.settled.length ?? 0, 'L: a split: its decisions settled by its own instance');
  if (split !== undefined) {
    if (split.open.length > 0) {
      w.arg(split.score, 'when A > 0: their score (the grant member expiry)');
      for (const member of split.open) w.arg(member, 'a pending member to add');
    }
    for (const id of split.settled) w.arg(id, 'an id settled by its own instance');
  }
  for (const code of candidate.codes) w.arg(code, 'layout code of each window');
}

/** KEYS and ARGV of one settle piece. */
export function encodeSettleArgs(piece: SettlePiece): ScriptArgs {
  return encode(writeSettle, piece);
}

/**
 * One observation piece of the after-a-call script (scripts/observe.ts). `modelWindows`: the keys of the
 * model's windows this process knows, blocked by a 429 whose kind names no window of its own.
 */
export function writeObserve(w: ScriptWriter, ws: WorkspaceKeys, observation: UpstreamObservation, modelWindows: readonly string[]): void {
  w.key(ws.windows, 'windows registry of its workspace');
  w.arg(observation.windows.length, 'count: observed windows');
  w.part('observed window');
  for (const window of observation.windows) {
    w.key(windowKey(ws.tag, window.kind, window.scope === 'model' ? observation.model : undefined), 'an observed window');
    w.arg(layoutCode(window.period, window.unit), 'its layout code');
    w.arg(countOrEmpty(window.limit), "its limit reported ('' = none)");
    w.arg(countOrEmpty(window.remaining), "its remaining reported ('' = none)");
  }
  w.part();
  const limited = observation.rateLimited;
  if (limited === undefined) {
    w.arg('', "blockedForMs ('' = no 429)");
    w.arg(0, 'named: keys of the 429 kind (0)');
    w.arg(0, 'scanned: model windows (0)');
    w.arg('', "layout code of the window to create ('')");
    return;
  }
  // Which windows a 429 blocks, as the memory store decides: the named kind at whichever scope exists;
  // else a standard kind's own window; else every window of the model; else its tokens-per-minute.
  const standard = Object.values(WINDOW_KINDS).find((spec) => spec.kind === limited.kind);
  const create = standard ?? WINDOW_KINDS.tokensPerMinute;
  const scanned = standard === undefined ? modelWindows : [];
  w.arg(limited.blockedForMs, 'blockedForMs');
  w.arg(limited.kind === undefined ? 0 : 2, 'named: keys of the 429 kind (2 when it names one)');
  w.arg(scanned.length, 'scanned: model windows blocked when no named one exists');
  w.arg(layoutCode(create.period, create.unit), 'layout code of the window to create when none exists');
  if (limited.kind !== undefined) {
    w.key(windowKey(ws.tag, limited.kind, undefined), 'the named kind, workspace scope');
    w.key(windowKey(ws.tag, limited.kind, observation.model), 'the named kind, model scope');
  }
  w.part('scanned model window');
  for (const key of scanned) w.key(key, 'a window of the model');
  w.part();
  w.key(windowKey(ws.tag, create.kind, create.scope === 'model' ? observation.model : undefined), 'the window to create and block');
}

/** KEYS and ARGV of one observation piece. */
export function encodeObserveArgs(ws: WorkspaceKeys, observation: UpstreamObservation, modelWindows: readonly string[]): ScriptArgs {
  return encode(writeObserve, ws, observation, modelWindows);
}

/** The slots of the after-a-call script before its pieces (scripts/index.ts). */
export function writeAfter(w: ScriptWriter, now: ScriptNow, settles: number, observations: number): void {
  w.arg(now, "now: ms, or '' for Redis TIME");
  w.arg(settles, 'S: settle pieces');
  w.arg(observations, 'M: observation pieces');
}

/** KEYS and ARGV of one after-a-call script: its settles first, then its observations, each encoded already. */
export function encodeAfterArgs(now: ScriptNow, settles: readonly ScriptArgs[], observations: readonly ScriptArgs[]): ScriptArgs {
  const w = new ArgsWriter();
  writeAfter(w, now, settles.length, observations.length);
  for (const piece of [...settles, ...observations]) {
    for (const key of piece.keys) w.keys.push(key);
    for (const arg of piece.args) w.args.push(arg);
  }
  return w;
}

/** cancel (scripts/cancel.ts): one decision whose reserve got no answer, over its candidates of one workspace. */
export function writeCancel(w: ScriptWriter, now: ScriptNow, ttl: number, decision: ReserveDecision, ofWorkspace: readonly ResolvedCandidate[]): void {
  const keys = (ofWorkspace[0] as ResolvedCandidate).keys;
  w.key(keys.pending, 'pending of the workspace');
  w.key(keys.grants, 'grants index');
  w.arg(now, "now: ms, or '' for Redis TIME");
  w.arg(ttl, 'reservation TTL, ms');
  w.arg(decision.tokens, 'tokens');
  w.arg(decision.requests, 'requests');
  w.arg(decision.want, 'want: the grant it asked for (0 = none)');
  w.arg(ofWorkspace.length, 'candidate count');
  w.part('candidate, in order');
  for (const candidate of ofWorkspace) {
    for (const key of candidate.windowKeys) w.key(key, 'its windows, in order');
    w.arg(pendingMember(decision.id, decision.tokens, decision.requests, candidate), 'its pending member, had it been taken');
    w.arg(candidate.codes.length, 'window count');
    for (const code of candidate.codes) w.arg(code, 'layout code of each window');
  }
}

/** KEYS and ARGV of the cancel of one decision, for the candidates of one workspace. */
export function encodeCancelArgs(now: ScriptNow, ttl: number, decision: ReserveDecision, ofWorkspace: readonly ResolvedCandidate[]): ScriptArgs {
  return encode(writeCancel, now, ttl, decision, ofWorkspace);
}

/** inspect (scripts/inspect.ts) over one workspace: `windowKeys` are the members of its registry, read just before. */
export function writeInspect(w: ScriptWriter, now: ScriptNow, ws: WorkspaceKeys, windowKeys: readonly string[]): void {
  w.key(ws.windows, 'windows registry');
  w.key(ws.pending, 'pending');
  for (const key of windowKeys) w.key(key, 'a window of the registry');
  w.arg(now, "now: ms, or '' for Redis TIME");
  w.arg(ws.tag, 'the workspace tag {PW} (pending members name their windows without it)');
}

/** KEYS and ARGV of the inspect script over one workspace. */
export function encodeInspectArgs(now: ScriptNow, ws: WorkspaceKeys, windowKeys: readonly string[]): ScriptArgs {
  return encode(writeInspect, now, ws, windowKeys);
}

function countOrEmpty(value: number | undefined): number | string {
  return value !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : '';
}
