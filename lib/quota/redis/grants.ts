/**
 * Grants (the `localGrants` option): a decision that goes to Redis may ask for up to `want` more decisions
 * of its size on its first candidate, charged in the same atomic script (scripts/reserve.ts); this process
 * then takes them locally, without a round trip, until the grant's deadline (the end of the bucket it
 * charged, in local time). When it ends, its split (one settle piece, scripts/settle.ts) gives back what it
 * did not use and makes its decisions still open pending reservations of their own.
 *
 * A grant's life: asked (a decision carries `want`) -> open (decisions taken from it) -> closed (deadline,
 * too small for a decision, a 429 of its workspace, snapshot, close) -> splitting -> done. An outage keeps
 * a closed grant's split for the replay (outage.ts).
 */
import type { Clock } from '../../clock.js';
import type { QuotaCandidate, Reservation, ReserveRequest, ReserveResult } from '../types.js';
import type { TickBatcher } from './batcher.js';
import { isUnavailable } from './connection.js';
import type { Outage } from './outage.js';
import { encodeSettle, pendingMember, type ResolvedCandidate } from './protocol.js';

/** The period over which demand for a candidate is counted (local ms), and the most decisions one grant holds. */
const DEMAND_PERIOD_MS = 100;
const MAX_GRANT = 256;

/** How this process used one candidate lately, and the grant it holds on it. */
export interface Demand {
  since: number;
  count: number;
  previous: number;
  asking: boolean;
  grant: Grant | undefined;
}

/** What Redis granted, as the reserve reply and the decision that asked for it tell. */
export interface GrantGiven {
  /** The id of the decision that asked for it, plus `+`; a decision taken from it is `id/n`. */
  readonly id: string;
  readonly candidate: ResolvedCandidate;
  /** The slot group of its workspace ('' on a standalone Redis). */
  readonly group: string;
  /** Store time it was charged at (the buckets every decision taken from it lands in). */
  readonly at: number;
  /** Tokens and requests its member holds in Redis. */
  readonly tokens: number;
  readonly requests: number;
  /** Local time from which it is no longer used. */
  readonly deadline: number;
}

interface Grant extends GrantGiven {
  /** The demand whose grant it is (while open). */
  readonly demand: Demand;
  /** What is left to take. */
  tokensLeft: number;
  requestsLeft: number;
  next: number;
  /** Decisions taken from it and not settled yet: id -> [tokens, requests]. */
  readonly open: Map<string, [number, number]>;
  /** Ids of the decisions settled or released here (another instance may have settled one too). */
  readonly settled: string[];
  /** What the settled ones used. */
  usedTokens: number;
  usedRequests: number;
  phase: 'open' | 'closed' | 'splitting' | 'done';
  /** Its split was sent once (it may have run even if no answer came): settles go to Redis from then on. */
  sent: boolean;
  splitting: Promise<void> | undefined;
  cancelTimer: (() => void) | undefined;
}

/** A decision asking for a grant, until its answer came (see {@link Grants.ask}). */
export interface GrantRequest {
  readonly want: number;
  readonly demand: Demand;
  /** The 429s of its workspace when it was asked: a grant given after another one ends at once. */
  readonly blocks: number;
  readonly tag: string;
  done(): void;
}

export interface GrantsHost {
  /** Local time (time.ts): deadlines and the timer that ends a grant. */
  readonly clock: Clock;
  readonly batcher: TickBatcher;
  readonly outage: Outage;
  readonly reservationTtlMs: number;
  /** The candidate each reservation charged, so that its settle rebuilds nothing. */
  readonly charged: WeakMap<Reservation, ResolvedCandidate>;
  /** close() began: a grant that arrives now ends at once. */
  closing(): boolean;
}

export class Grants {
  readonly #host: GrantsHost;
  readonly #demand = new WeakMap<ResolvedCandidate, Demand>();
  /** Grants not split yet, by id: settles of the decisions taken from them are local. */
  readonly #grants = new Map<string, Grant>();
  /** Decisions that asked for a grant and whose grant is not open yet (close() waits for them). */
  readonly #asking = new Set<Promise<void>>();
  /** 429s observed so far, by workspace tag. */
  readonly #blocks = new Map<string, number>();

  constructor(host: GrantsHost) {
    this.#host = host;
  }

  /** Counts one decision on `candidate` (the first of its request) toward the demand that sizes a grant. */
  demandOf(candidate: ResolvedCandidate, now: number): Demand {
    let demand = this.#demand.get(candidate);
    if (demand === undefined) {
      demand = { since: now, count: 0, previous: 0, asking: false, grant: undefined };
      this.#demand.set(candidate, demand);
    } else if (now - demand.since >= DEMAND_PERIOD_MS) {
      // The last period's count still speaks for the next one only if it just ended.
      demand.previous = now - demand.since < 2 * DEMAND_PERIOD_MS ? demand.count : 0;
      demand.count = 0;
      demand.since = now;
    }
    demand.count++;
    return demand;
  }

  /** A decision taken at local time `now` from the grant on the request's first candidate, when it is valid and has room. */
  take(demand: Demand, request: ReserveRequest, requests: number, now: number): ReserveResult | undefined {
    const grant = demand.grant;
    if (grant === undefined) return undefined;
    // Too late, or too small for this one: ended first, so that what it holds is back before this decision
    // is made (its split leaves ahead of the decision's script), and the decision is not refused because of it.
    if (now >= grant.deadline || grant.tokensLeft < request.tokens || grant.requestsLeft < requests) {
      this.#close(grant);
      return undefined;
    }
    grant.tokensLeft -= request.tokens;
    grant.requestsLeft -= requests;
    const id = `${grant.id}/${(grant.next++).toString(36)}`;
    grant.open.set(id, [request.tokens, requests]);
    const candidate = request.candidates[0] as QuotaCandidate;
    const reservation: Reservation = {
      id,
      workspace: candidate.workspace,
      model: candidate.model,
      candidateIndex: 0,
      tokens: request.tokens,
      requests,
      at: grant.at,
      windows: candidate.windows,
    };
    this.#host.charged.set(reservation, grant.candidate);
    return { ok: true, reservation, refusals: [] };
  }

  /**
   * A grant to ask for with the next decision on `demand` (one decision at a time), or undefined. Until
   * `done()`, close() waits for it, and a 429 of workspace `tag` observed meanwhile makes the grant end as
   * soon as it opens.
   */
  ask(demand: Demand, tag: string): GrantRequest | undefined {
    if (demand.asking) return undefined;
    const recent = Math.max(demand.count, demand.previous);
    if (recent < 2) return undefined;
    demand.asking = true;
    let answered!: () => void;
    const asking = new Promise<void>((resolve) => (answered = resolve));
    this.#asking.add(asking);
    void asking.then(() => this.#asking.delete(asking));
    return {
      want: Math.min(recent, MAX_GRANT),
      demand,
      blocks: this.#blocks.get(tag) ?? 0,
      tag,
      done() {
        demand.asking = false;
        answered();
      },
    };
  }

  /** Opens a grant Redis gave for `request`. */
  open(request: GrantRequest, given: GrantGiven): void {
    const { demand } = request;
    if (demand.grant !== undefined) this.#close(demand.grant);
    const grant: Grant = {
      ...given,
      demand,
      tokensLeft: given.tokens,
      requestsLeft: given.requests,
      next: 0,
      open: new Map(),
      settled: [],
      usedTokens: 0,
      usedRequests: 0,
      phase: 'open',
      sent: false,
      splitting: undefined,
      cancelTimer: undefined,
    };
    this.#grants.set(grant.id, grant);
    const left = grant.deadline - this.#host.clock.now();
    const stale = (this.#blocks.get(request.tag) ?? 0) !== request.blocks;
    if (left <= 0 || stale || this.#host.closing()) {
      this.#close(grant);
      return;
    }
    demand.grant = grant;
    // Ends it on time when no decision comes to notice.
    grant.cancelTimer = this.#host.clock.setTimer(() => this.#close(grant), Math.ceil(left));
  }

  /**
   * Settles or releases a decision taken from a grant whose split was not sent yet, locally; false when it
   * is not such a decision (it goes to Redis like any settle: pending there once the split ran, applied
   * early if the grant is still pending, kept for the replay if Redis cannot be reached; a split that
   * timed out may have run, so settling locally after it would be lost).
   */
  settleLocally(operation: 'settle' | 'release', reservation: Reservation, tokenDelta: number): boolean {
    if (this.#grants.size === 0) return false;
    const grant = this.#grants.get(reservation.id.slice(0, reservation.id.lastIndexOf('/')));
    if (grant === undefined || grant.sent) return false;
    const taken = grant.open.get(reservation.id);
    if (taken === undefined) return true; // a second time: nothing
    grant.open.delete(reservation.id);
    grant.settled.push(reservation.id);
    // Recorded only: what an estimate held beyond the actual use, or a released decision, is not taken again
    // from the grant. Another instance may have given the same back in Redis already (the split undoes that
    // there), and room given back twice, even for a moment, could admit past a limit.
    if (operation === 'settle') {
      const [tokens, requests] = taken;
      grant.usedTokens += tokens + tokenDelta;
      grant.usedRequests += requests;
    }
    return true;
  }

  /** A 429 for workspace `tag`: the upstream sees less room than the windows did, its grants end now. */
  blocked(tag: string): void {
    this.#blocks.set(tag, (this.#blocks.get(tag) ?? 0) + 1);
    if (this.#grants.size > 0) void this.end(tag);
  }

  /** Whether any grant is not split yet. */
  get any(): boolean {
    return this.#grants.size > 0;
  }

  /** Waits until every decision that asked for a grant has its answer (close() of a client it owns). */
  async waitForAsking(): Promise<void> {
    while (this.#asking.size > 0) await Promise.all(this.#asking);
  }

  /** Ends every grant (of workspace `tag`), and waits until their splits were answered. */
  async end(tag?: string): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const grant of [...this.#grants.values()]) {
      if (tag !== undefined && grant.candidate.keys.tag !== tag) continue;
      this.#close(grant);
      if (grant.splitting !== undefined) waits.push(grant.splitting);
    }
    await Promise.all(waits);
  }

  /** Ends a grant: no decision is taken from it any more; its split leaves with the next script. */
  #close(grant: Grant): void {
    if (grant.phase !== 'open') return;
    grant.phase = 'closed';
    grant.cancelTimer?.();
    if (grant.demand.grant === grant) grant.demand.grant = undefined;
    void this.#split(grant);
  }

  /** Splits a closed grant; an outage keeps it for the replay on recovery. Never rejects. */
  async #split(grant: Grant): Promise<void> {
    try {
      await this.#sendSplit(grant);
    } catch (error) {
      if (grant.phase === 'closed' && !this.#host.outage.keep(grant.id, () => this.#sendSplit(grant))) {
        // Too much kept already: as for a settle, the reservation TTL is the backstop (its member expires).
        grant.phase = 'done';
        this.#grants.delete(grant.id);
      }
      this.#host.outage.failed('settle', error);
    }
  }

  /**
   * The grant's member goes; what it charged and its decisions did not use goes back; its decisions still
   * open become pending members of their own (settled like any other).
   */
  #sendSplit(grant: Grant): Promise<void> {
    if (grant.phase !== 'closed') return Promise.resolve();
    const candidate = grant.candidate;
    const open: string[] = [];
    let tokens = grant.usedTokens;
    let requests = grant.usedRequests;
    for (const [id, [t, r]] of grant.open) {
      open.push(pendingMember(id, t, r, candidate));
      tokens += t;
      requests += r;
    }
    const piece = encodeSettle({
      candidate,
      member: pendingMember(grant.id, grant.tokens, grant.requests, candidate),
      at: grant.at,
      tokenDelta: tokens - grant.tokens,
      requestDelta: requests - grant.requests,
      split: { score: grant.at + this.#host.reservationTtlMs, open, settled: grant.settled },
    });
    grant.phase = 'splitting';
    grant.sent = true;
    const sending = this.#host.batcher.queuePiece('settle', grant.group, piece).then(
      () => {
        grant.phase = 'done';
        this.#grants.delete(grant.id);
      },
      (error: unknown) => {
        if (isUnavailable(error)) grant.phase = 'closed';
        else {
          // Refused (not an outage): sending it again would be refused again. The grant's member expires
          // after reservationTtlMs, counted at its full size; its decisions settle to nothing in Redis.
          grant.phase = 'done';
          this.#grants.delete(grant.id);
        }
        throw error;
      },
    );
    grant.splitting = sending.catch(() => {});
    return sending;
  }
}
