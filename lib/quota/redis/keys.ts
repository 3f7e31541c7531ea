/**
 * The key layout of the Redis store: every key it keeps, what each holds and how long it lives. Nothing
 * else writes them; the scripts (scripts/) and the store build every key name with the functions here.
 *
 * ## Key layout
 *
 * `P` is the key prefix (default `mr:`); `W` and `M` are the workspace and model names passed through
 * `encodeURIComponent` (so `{`, `}`, `:` and whitespace in a name cannot break the layout); `K` is a window
 * kind, encoded the same way. Every key of one workspace carries the hash tag `{PW}`, so every script touches
 * one hash slot and runs unchanged on Redis Cluster.
 *
 * | key | type | holds | expires |
 * |---|---|---|---|
 * | `{PW}:w:K` | hash | a workspace-scoped window (e.g. requests-per-second) | see below |
 * | `{PW}:m:M:K` | hash | a model-scoped window (e.g. tokens-per-minute of model M) | see below |
 * | `{PW}:windows` | set | the window keys of the workspace (for snapshot and 429s of unknown kind) | 35 days, renewed |
 * | `{PW}:pending` | zset | one member per pending reservation, scored by its expiry (store ms) | 2 x reservation TTL, renewed |
 * | `{PW}:grants` | hash | grant id -> its expiry (store ms), while its member is pending (removed by its split or cancel) | 2 x reservation TTL, renewed with every grant |
 * | `{PW}:early` | hash | decisions taken from a grant that another instance settled before the grant was split (field: its id; value: the token and request deltas applied) | when the newest such grant's member expires |
 * | `{P}workspaces` | set | encoded workspace names (for snapshot() and pendingReservations() of all workspaces) | 35 days, refreshed |
 *
 * A window hash has one field per sub-bucket, named by the bucket's absolute index (`floor(t / bucketMs)`,
 * or months since January 1970 for the calendar month, as in window.ts), holding the count admitted in that
 * bucket, and:
 *
 * | field | holds |
 * |---|---|
 * | `t` | the running total of every bucket still in the hash (what the window holds) |
 * | `o` | the oldest bucket index counted in `t`: buckets below it were subtracted and deleted |
 * | `p` | the layout code: period letter (`s` second, `m` minute, `d` rolling-30d, `M` month) + unit (`t`/`r`) |
 * | `c` | the configured limit last seen in a reserve (absent = unknown) |
 * | `l` | the limit learned from upstream headers (replaces `c`) |
 * | `b` | epoch ms until which an upstream 429 blocks the window |
 *
 * The kind, model and scope are the key itself. A reserve script (one decision or a batch of them) reads
 * `t o c l b` and the current bucket with one HMGET per window and writes the bucket and `t` with one HSET
 * per window, whatever the window's length and however many decisions charged it: buckets
 * that slid out are subtracted from `t` and deleted lazily, when a decision first sees a bucket index past
 * `o + N` (at most once per bucket width). Every bucket field lies in `[o, o + N]`, so a hash holds at most
 * N + 1 buckets (constant memory whatever the request rate).
 *
 * A pending reservation is one zset member, `id tokens requests :suffix1 :suffix2 ...` (the window keys
 * it charged, without the `{PW}` tag), scored `at + reservationTtlMs`; a grant (see scripts/reserve.ts) is one
 * member too, its id the id of the decision that asked for it plus `+`. Settle rebuilds the member from the
 * Reservation and removes it (a miss means already settled, released or expired); snapshot parses the
 * members for `held`. Expired members (a crashed holder) are removed when a reserve renews the key's
 * expiry (at most once per reservation TTL) and before every snapshot; their charge stays counted at the
 * estimate, as if settled.
 *
 * Expiry: a sliding window key expires when its newest bucket has slid out (`(k + N + 1) * bucketMs - now`)
 * plus a margin; a month window at the end of its month plus a day; both are extended to cover a 429 block
 * and to keep a learned limit for a day. The expiry only moves when a new bucket opens, so steady traffic
 * pays no PEXPIRE.
 *
 * Requires Redis 5 or later: the scripts read `TIME` and then write, which Redis replicates by effects
 * from 5.0 on (earlier versions needed `redis.replicate_commands()`), and HSET takes several fields.
 */
import type { WindowPeriod, WindowUnit } from '../types.js';

/** Redis key names of one workspace. */
export interface WorkspaceKeys {
  /** The hash tag `{PW}` every key of the workspace starts with. */
  readonly tag: string;
  readonly windows: string;
  readonly pending: string;
}

/** Encodes one name segment so that no workspace, model or kind can change the shape of a key. */
export function encodeSegment(name: string): string {
  return encodeURIComponent(name);
}

/** The keys of one workspace under `prefix`. */
export function workspaceKeys(prefix: string, workspace: string): WorkspaceKeys {
  const tag = `{${prefix}${encodeSegment(workspace)}}`;
  return { tag, windows: `${tag}:windows`, pending: `${tag}:pending` };
}

/** The key of one window: workspace-scoped (`model` undefined) or model-scoped. */
export function windowKey(tag: string, kind: string, model: string | undefined): string {
  return model === undefined ? `${tag}:w:${encodeSegment(kind)}` : `${tag}:m:${encodeSegment(model)}:${encodeSegment(kind)}`;
}

/** Reads a window key back: its scope, model and kind (undefined when it is not a window key of `tag`). */
export function parseWindowKey(tag: string, key: string): { model: string | undefined; kind: string } | undefined {
  if (!key.startsWith(`${tag}:`)) return undefined;
  const rest = key.slice(tag.length + 1);
  if (rest.startsWith('w:')) return { model: undefined, kind: decodeURIComponent(rest.slice(2)) };
  if (!rest.startsWith('m:')) return undefined;
  const colon = rest.indexOf(':', 2);
  if (colon < 0) return undefined;
  return { model: decodeURIComponent(rest.slice(2, colon)), kind: decodeURIComponent(rest.slice(colon + 1)) };
}

/** The set of every workspace the store has written under `prefix`. */
export function workspaceRegistryKey(prefix: string): string {
  return `{${prefix}}workspaces`;
}

/** A glob matching every key under `prefix` (for tests and tooling that flush one prefix). */
export function prefixPattern(prefix: string): string {
  return `{${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
}

/**
 * A grant (see scripts/reserve.ts) takes at most 1/GRANT_SHARE of the room each window has left, so that one
 * process's grant never takes a window's last capacity, and several processes' grants together leave room.
 */
export const GRANT_SHARE = 4;

/** The longest a grant lives, whatever its windows' buckets (a month window's bucket is a month). */
export const MAX_GRANT_MS = 250;

/** Lifetimes, in ms, beyond the strict minimum (clock skew, a script running at the edge of a bucket). */
export const EXPIRY_MARGIN = {
  sliding: 2_000,
  month: 86_400_000,
  learnedLimit: 86_400_000,
  registry: 35 * 86_400_000,
} as const;

/** The letter of each period in a layout code. */
export const PERIOD_LETTER: Readonly<Record<WindowPeriod, string>> = { second: 's', minute: 'm', 'rolling-30d': 'd', month: 'M' };
const LETTER_PERIOD: Readonly<Record<string, WindowPeriod>> = { s: 'second', m: 'minute', d: 'rolling-30d', M: 'month' };

/** The two-letter layout code of a window (period letter + unit letter), as the scripts and the `p` field use it. */
export function layoutCode(period: WindowPeriod, unit: WindowUnit): string {
  return `${PERIOD_LETTER[period]}${unit === 'tokens' ? 't' : 'r'}`;
}

/** The period and unit of a layout code read from Redis (undefined when it is not one). */
export function parseLayoutCode(code: string): { period: WindowPeriod; unit: WindowUnit } | undefined {
  const period = LETTER_PERIOD[code.charAt(0)];
  const unit = code.charAt(1) === 't' ? 'tokens' : code.charAt(1) === 'r' ? 'requests' : undefined;
  return period === undefined || unit === undefined || code.length !== 2 ? undefined : { period, unit };
}
