import { randomBytes } from 'node:crypto';
import { StoreUnavailableError } from '../../errors.js';
import { StoreEvents } from '../store-events.js';
import type { QuotaCandidate, QuotaStore, Reservation, ReserveRequest, ReserveResult, UpstreamObservation, WindowSnapshot, CandidateRefusal } from '../types.js';
import { quotaInvalid, validateActualTokens, validateObservation, validateReserveRequest } from '../window.js';
import { TickBatcher } from './batcher.js';
import { Connection, isUnavailable } from './connection.js';
import { Grants, type Demand, type GrantRequest } from './grants.js';
import { EXPIRY_MARGIN, workspaceKeys, workspaceRegistryKey } from './keys.js';
import { resolveRedisStoreOptions, type RedisStoreEvent, type RedisStoreOptions } from './options.js';
import { Outage } from './outage.js';
import { encodeInspect, encodeObserve, encodeSettle, pendingMember, resolveCandidate, type ResolvedCandidate } from './protocol.js';
import { toCandidateRefusal, toSnapshot, type DecisionReply, type InspectReply } from './replies.js';
import { storeTime, type StoreTime } from './time.js';

/**
 * A {@link QuotaStore} in Redis, shared by every process that uses the same Redis and key prefix.
 *
 * Each decision is one Lua script (EVALSHA, reloaded on NOSCRIPT), and the decisions of one tick share it
 * (scripts/reserve.ts: decided in call order, each atomic), as do the settles and releases of one tick
 * and its observations (the after-a-call script, sent before the decisions of the same tick, so capacity
 * given back is seen by the calls that start beside it; batcher.ts): reserve over a candidate list,
 * settle, release and observe are atomic per workspace. Candidates of several workspaces: on a standalone
 * Redis the whole list is still one script; on a Cluster the list is cut into runs of consecutive
 * candidates of one workspace, tried in order, one script each, so the first candidate with room still
 * wins and each run is atomic within its workspace (Mistral's metering unit; two workspaces never share a
 * window). When Redis cannot be reached, operations reject with StoreUnavailableError (fail-closed; wrap
 * the store with createFallbackStore to fail open).
 */
export class RedisStore extends StoreEvents<RedisStoreEvent> implements QuotaStore {
  readonly #prefix: string;
  readonly #time: StoreTime;
  readonly #reservationTtlMs: number;
  readonly #connection: Connection;
  readonly #outage: Outage;
  readonly #batcher: TickBatcher;
  /** Undefined when `localGrants` is false. */
  readonly #grants: Grants | undefined;
  readonly #resolved = new WeakMap<QuotaCandidate, ResolvedCandidate>();
  /** The candidate each reservation of this store charged, so settle rebuilds nothing. */
  readonly #charged = new WeakMap<Reservation, ResolvedCandidate>();
  /** Workspaces this process added to the registry, with when (local ms): refreshed daily, since it expires. */
  readonly #registered = new Map<string, number>();
  readonly #idPrefix = randomBytes(6).toString('base64url');
  #nextId = 0;
  /** close() began: no grant is used or opened any more (its splits are still sent). */
  #closing: Promise<void> | undefined;

  constructor(options: RedisStoreOptions = {}) {
    const resolved = resolveRedisStoreOptions(options);
    super();
    this.#prefix = resolved.keyPrefix;
    this.#time = storeTime(resolved.clock);
    this.#reservationTtlMs = resolved.reservationTtlMs;
    this.listenAll(['storeError', 'recovered'], resolved.onEvent);
    this.#outage = new Outage(this.#time.local, (event) => this.emit(event), () => this.#connection.closed);
    this.#connection = new Connection(resolved.redis, resolved.commandTimeoutMs, {
      onReady: () => this.#outage.answered(),
      onAnswer: () => this.#outage.answered(),
    });
    this.#batcher = new TickBatcher(this.#connection, this.#time, resolved.reservationTtlMs, resolved.commandTimeoutMs);
    this.#grants = resolved.localGrants
      ? new Grants({
          clock: this.#time.local,
          batcher: this.#batcher,
          outage: this.#outage,
          reservationTtlMs: resolved.reservationTtlMs,
          charged: this.#charged,
          closing: () => this.#closing !== undefined,
        })
      : undefined;
  }

  /** Settles and releases waiting for Redis to answer again. */
  get deferredOperations(): number {
    return this.#outage.deferred;
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const requests = validateReserveRequest(request);
    const resolved = request.candidates.map((candidate, i) => this.#resolve(candidate, i));
    // From the moment close() begins (its grants are being split): no new quota.
    if (this.#closing !== undefined) throw new StoreUnavailableError('RedisStore: the store is closed.');
    let demand: Demand | undefined;
    if (this.#grants !== undefined) {
      const now = this.#time.local.now();
      demand = this.#grants.demandOf(resolved[0] as ResolvedCandidate, now);
      const local = this.#grants.take(demand, request, requests, now);
      if (local !== undefined) return local;
    }
    try {
      return await this.#reserveInRedis(request, resolved, requests, demand);
    } catch (error) {
      throw this.#outage.failed('reserve', error);
    }
  }

  async settle(reservation: Reservation, actualTokens: number): Promise<void> {
    checkReservation(reservation);
    validateActualTokens(actualTokens);
    await this.#giveBack('settle', reservation, actualTokens - reservation.tokens, 0);
  }

  async release(reservation: Reservation): Promise<void> {
    checkReservation(reservation);
    await this.#giveBack('release', reservation, -reservation.tokens, -reservation.requests);
  }

  async observe(observation: UpstreamObservation): Promise<void> {
    validateObservation(observation);
    const ws = workspaceKeys(this.#prefix, observation.workspace);
    if (observation.rateLimited !== undefined) this.#grants?.blocked(ws.tag);
    try {
      await this.#batcher.queuePiece('observe', this.#group(ws.tag), encodeObserve(ws, observation));
      this.#register(observation.workspace);
    } catch (error) {
      throw this.#outage.failed('observe', error);
    }
  }

  async snapshot(workspace?: string): Promise<WindowSnapshot[]> {
    // What this process's grants hold and did not use goes back first, so the figures are exact.
    await this.#endGrants(workspace);
    try {
      const inspected = await this.#inspect(workspace);
      return inspected.flatMap(({ workspace: name, reply }) => {
        const { tag } = workspaceKeys(this.#prefix, name);
        return reply[2].flatMap((row) => toSnapshot(name, tag, row) ?? []);
      });
    } catch (error) {
      throw this.#outage.failed('snapshot', error);
    }
  }

  /**
   * Reservations pending in Redis under this prefix (the whole fleet's: the store cannot tell its own from
   * another instance's once they are in Redis; expired ones excluded).
   */
  async pendingReservations(): Promise<number> {
    // A grant is one member however many decisions it admitted: split, each open decision is one.
    await this.#endGrants();
    try {
      const inspected = await this.#inspect(undefined);
      return inspected.reduce((sum, { reply }) => sum + Number(reply[1]), 0);
    } catch (error) {
      throw this.#outage.failed('pendingReservations', error);
    }
  }

  /**
   * Stop: close the Redis client if the store created it. Settles and releases still deferred are dropped
   * (their reservations expire after `reservationTtlMs`).
   */
  async close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Grants first: what they hold and did not use goes back, their open decisions become pending members.
    // A grant still on its way opens (and ends at once) before they are ended, when the store owns the
    // client (QUIT lets answers in flight arrive; each is bounded by commandTimeoutMs). On a client the
    // caller owns, a command in flight fails at close instead, and its cancel takes the grant with it.
    if (this.#connection.owned) await this.#grants?.waitForAsking();
    await this.#endGrants();
    await this.#connection.close();
  }

  async #reserveInRedis(request: ReserveRequest, resolved: readonly ResolvedCandidate[], requests: number, demand: Demand | undefined): Promise<ReserveResult> {
    const candidates = request.candidates;
    const cluster = this.#connection.cluster;
    let refusals: CandidateRefusal[] | undefined;
    // One decision on a standalone Redis; runs of one workspace on a Cluster (a script stays within one slot).
    for (let start = 0; start < candidates.length; ) {
      let end = candidates.length;
      if (cluster) {
        const workspace = (candidates[start] as QuotaCandidate).workspace;
        end = start + 1;
        while (end < candidates.length && (candidates[end] as QuotaCandidate).workspace === workspace) end++;
      }
      const id = `${this.#idPrefix}.${(this.#nextId++).toString(36)}`;
      const run = start === 0 && end === candidates.length ? resolved : resolved.slice(start, end);
      const first = run[0] as ResolvedCandidate;
      // A grant is asked for on the request's first candidate only, by one decision at a time.
      const asked: GrantRequest | undefined = start === 0 && demand !== undefined ? this.#grants?.ask(demand, first.keys.tag) : undefined;
      let now: number;
      let decision: DecisionReply;
      try {
        const group = this.#group(first.keys.tag);
        let sentAt: number;
        [now, decision, sentAt] = await this.#batcher.decide(group, { id, tokens: request.tokens, requests, want: asked?.want ?? 0, candidates: run });
        if (decision[0] === 2 && asked !== undefined) {
          // Admitted by the first candidate, with a grant of n more decisions like it until `until`.
          const [, n, until] = decision as [number, number, number];
          this.#grants?.open(asked, {
            id: `${id}+`,
            candidate: first,
            group,
            at: now,
            tokens: n * request.tokens,
            requests: n * requests,
            // `until` is the end of the bucket it charged, at most MAX_GRANT_MS and a tenth of the reservation
            // TTL away (its member, and those of its open decisions, expire reservationTtlMs after `at`).
            // Less 1 ms: Redis's TIME is read to the ms, rounded down.
            deadline: sentAt + (until - now) - 1,
          });
        }
      } finally {
        asked?.done();
      }
      // The script created the windows it checked, refused or not: list their workspaces for snapshot().
      for (let c = start; c < end; c++) this.#register((candidates[c] as QuotaCandidate).workspace);
      if (decision[0] !== 2 && decision.length > 2) {
        refusals ??= [];
        for (let i = 2; i < decision.length; i++) refusals.push(toCandidateRefusal(decision[i] as Array<number | number[]>, start, candidates));
      }
      if (decision[0] === 1 || decision[0] === 2) {
        const index = decision[0] === 2 ? start : start + (decision[1] as number) - 1;
        const candidate = candidates[index] as QuotaCandidate;
        const reservation: Reservation = {
          id,
          workspace: candidate.workspace,
          model: candidate.model,
          candidateIndex: index,
          tokens: request.tokens,
          requests,
          at: now,
          windows: candidate.windows,
        };
        this.#charged.set(reservation, resolved[index] as ResolvedCandidate);
        return { ok: true, reservation, refusals: refusals ?? [] };
      }
      start = end;
    }
    const all = refusals ?? [];
    return { ok: false, retryAfterMs: all.reduce((min, r) => Math.min(min, r.retryAfterMs), Number.POSITIVE_INFINITY), refusals: all };
  }

  async #giveBack(operation: 'settle' | 'release', reservation: Reservation, tokenDelta: number, requestDelta: number): Promise<void> {
    if (this.#grants?.settleLocally(operation, reservation, tokenDelta) === true) return;
    const candidate = this.#charged.get(reservation) ?? this.#resolve(reservation, 0);
    const piece = encodeSettle({ candidate, member: pendingMember(reservation.id, reservation.tokens, reservation.requests, candidate), at: reservation.at, tokenDelta, requestDelta });
    const send = () => this.#batcher.queuePiece('settle', this.#group(candidate.keys.tag), piece);
    try {
      await send();
    } catch (error) {
      // Kept and replayed when Redis answers (idempotent: the script applies a reservation once); if the
      // process stops first, the reservation expires in Redis after reservationTtlMs.
      // Only an outage is worth a replay: a refused command would be refused again.
      if (isUnavailable(error)) this.#outage.keep(reservation.id, send);
      throw this.#outage.failed(operation, error);
    }
  }

  /** Ends this process's grants (of one workspace) and waits for their splits. */
  async #endGrants(workspace?: string): Promise<void> {
    if (this.#grants?.any === true) await this.#grants.end(workspace === undefined ? undefined : workspaceKeys(this.#prefix, workspace).tag);
  }

  /** Runs the inspect script over one workspace or every registered one. */
  async #inspect(workspace: string | undefined): Promise<Array<{ workspace: string; reply: InspectReply }>> {
    let names: string[];
    if (workspace !== undefined) names = [workspace];
    else {
      const registry = await this.#connection.command(() => this.#connection.client.smembers(workspaceRegistryKey(this.#prefix)));
      names = registry.map((name) => decodeURIComponent(name));
    }
    return Promise.all(
      names.map(async (name) => {
        const { keys, args } = encodeInspect(this.#time.scriptNow(), workspaceKeys(this.#prefix, name));
        const reply = (await this.#connection.run('inspect', keys, args)) as InspectReply;
        return { workspace: name, reply };
      }),
    );
  }

  /** Adds a workspace to the registry once per process (outside the scripts: it lives in another slot). */
  #register(workspace: string): void {
    let now: number;
    try {
      now = this.#time.local.now();
    } catch {
      return; // best effort, and called after a reservation was made: it must not fail the reserve
    }
    if ((this.#registered.get(workspace) ?? Number.NEGATIVE_INFINITY) > now - 86_400_000) return;
    this.#registered.set(workspace, now);
    const key = workspaceRegistryKey(this.#prefix);
    const client = this.#connection.client;
    this.#connection.command(() => client.multi().sadd(key, encodeURIComponent(workspace)).pexpire(key, EXPIRY_MARGIN.registry).exec()).catch(() => {
      this.#registered.delete(workspace);
    });
  }

  /** The slot group of a workspace's scripts: '' on a standalone Redis (one script for all). */
  #group(tag: string): string {
    return this.#connection.cluster ? tag : '';
  }

  /** Resolves (and validates) a candidate's keys once per candidate object: plans are cached above. */
  #resolve(candidate: QuotaCandidate, index: number): ResolvedCandidate {
    let resolved = this.#resolved.get(candidate);
    if (resolved === undefined) {
      resolved = resolveCandidate(this.#prefix, candidate, index);
      this.#resolved.set(candidate, resolved);
    }
    return resolved;
  }
}

/** A reservation as reserve returned it (the memory store's check, and its error). */
function checkReservation(reservation: Reservation): void {
  if (reservation === null || typeof reservation !== 'object' || typeof reservation.id !== 'string' || !Array.isArray(reservation.windows)) {
    throw quotaInvalid('reservation', 'must be a Reservation returned by reserve');
  }
}
