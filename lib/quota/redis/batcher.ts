/**
 * Per-tick batching: the decisions one process makes in one tick travel in one reserve script, its
 * settles, releases and observations in one after-a-call script, and the second leaves before the first
 * (one connection: Redis runs scripts in the order sent), so capacity given back earlier in the tick is
 * seen by the decisions of the same tick, as in the memory store.
 *
 * Groups are slot groups: '' on a standalone Redis (one script for everything), the workspace's hash tag
 * on a Cluster (a script stays within one slot).
 */
import type { Connection } from './connection.js';
import { encodeAfter, encodeCancel, encodeReserve, type ReserveDecision, type ResolvedCandidate, type ScriptArgs } from './protocol.js';
import { decodeReserveReply, type DecisionReply } from './replies.js';
import type { StoreTime } from './time.js';

/** Most decisions (or settle and observe pieces) one script takes (a tick with more sends several). */
const MAX_BATCH = 64;
/** Decisions that leave at once when no reserve script of their group is in flight (see decide). */
const EARLY_BATCH = 8;

/** A decision's answer: the script's time, its reply, and the local time read before the script left. */
export type DecisionAnswer = [now: number, decision: DecisionReply, sentAt: number];

interface QueuedDecision extends ReserveDecision {
  resolve(answer: DecisionAnswer): void;
  reject(error: unknown): void;
}

/** A settle, release or observation waiting for its batch. */
interface QueuedPiece extends ScriptArgs {
  readonly kind: 'settle' | 'observe';
  resolve(applied: unknown): void;
  reject(error: unknown): void;
}

export class TickBatcher {
  readonly #connection: Connection;
  readonly #time: StoreTime;
  readonly #reservationTtlMs: number;
  readonly #commandTimeoutMs: number;
  /** Decisions waiting for the end of the tick, by group. */
  readonly #batches = new Map<string, QueuedDecision[]>();
  /** Reserve scripts sent and not answered yet, by group. */
  readonly #inFlight = new Map<string, number>();
  /** Settles, releases and observations waiting for the end of the tick, by group. */
  readonly #pieces = new Map<string, QueuedPiece[]>();

  constructor(connection: Connection, time: StoreTime, reservationTtlMs: number, commandTimeoutMs: number) {
    this.#connection = connection;
    this.#time = time;
    this.#reservationTtlMs = reservationTtlMs;
    this.#commandTimeoutMs = commandTimeoutMs;
  }

  /**
   * Queues one decision for the batch of this tick. Every decision queued before the tick ends travels in
   * one script, with one exception: when no script of the group is in flight, the first EARLY_BATCH
   * decisions leave at once, so that Redis works on them while this process is still making the rest
   * (otherwise a process whose calls all finish together would leave Redis idle while it queues, then
   * itself idle while Redis runs). When Redis is the bottleneck, scripts are in flight and decisions gather
   * into large batches.
   */
  decide(group: string, decision: ReserveDecision): Promise<DecisionAnswer> {
    return new Promise((resolve, reject) => {
      let queue = this.#batches.get(group);
      if (queue === undefined) {
        this.#batches.set(group, (queue = []));
        process.nextTick(() => this.#flush(group));
      }
      queue.push({ ...decision, resolve, reject });
      if (queue.length >= EARLY_BATCH && (this.#inFlight.get(group) ?? 0) === 0) this.#flush(group);
    });
  }

  /**
   * Queues one settle or release, or one observation, for the batch of this tick: everything queued before
   * the tick ends travels in one after-a-call script, settles first, then observations, each kind in call
   * order. A failed script fails each of its pieces. Resolves with the piece's reply (1 applied, 0 not).
   */
  queuePiece(kind: 'settle' | 'observe', group: string, piece: ScriptArgs): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let queue = this.#pieces.get(group);
      if (queue === undefined) {
        this.#pieces.set(group, (queue = []));
        process.nextTick(() => this.#flushPieces(group));
      }
      queue.push({ kind, keys: piece.keys, args: piece.args, resolve, reject });
    });
  }

  /** Sends the decisions queued for `group`, at most MAX_BATCH per script. */
  #flush(group: string): void {
    const queue = this.#batches.get(group);
    if (queue === undefined) return;
    this.#batches.delete(group);
    try {
      this.#send(group, queue);
    } catch (error) {
      // Runs from process.nextTick: a throw here would be an uncaught exception. The batch fails instead.
      for (const decision of queue) decision.reject(error);
    }
  }

  #send(group: string, queue: QueuedDecision[]): void {
    // Settles, releases and observations queued before these decisions go first; a settle always refers
    // to a reservation of an earlier script.
    this.#flushPieces(group);
    // Read before anything is sent: what can throw here must throw before a first chunk reaches Redis.
    const now = this.#time.scriptNow();
    // Local time before the scripts leave: a grant's deadline counts from here (see time.ts).
    const sentAt = this.#time.local.now();
    for (let from = 0; from < queue.length; from += MAX_BATCH) {
      const batch = from === 0 && queue.length <= MAX_BATCH ? queue : queue.slice(from, from + MAX_BATCH);
      const { keys, args } = encodeReserve(batch, now, this.#reservationTtlMs);
      this.#inFlight.set(group, (this.#inFlight.get(group) ?? 0) + 1);
      const landed = () => {
        const left = (this.#inFlight.get(group) as number) - 1;
        if (left === 0) this.#inFlight.delete(group);
        else this.#inFlight.set(group, left);
      };
      this.#connection.run('reserve', keys, args).then(
        (reply) => {
          landed();
          const { now: at, decisions } = decodeReserveReply(reply, batch.length);
          batch.forEach((decision, i) => decision.resolve([at, decisions[i] as DecisionReply, sentAt]));
        },
        (error: unknown) => {
          landed();
          for (const decision of batch) {
            this.#cancel(decision);
            decision.reject(error);
          }
        },
      );
    }
  }

  #flushPieces(group: string): void {
    const queue = this.#pieces.get(group);
    if (queue === undefined) return;
    this.#pieces.delete(group);
    try {
      this.#sendPieces(queue);
    } catch (error) {
      // As in #flush: never throw from process.nextTick.
      for (const piece of queue) piece.reject(error);
    }
  }

  #sendPieces(queue: QueuedPiece[]): void {
    const now = this.#time.scriptNow(); // as in #send: before anything is sent
    for (let from = 0; from < queue.length; from += MAX_BATCH) {
      const chunk = queue.slice(from, from + MAX_BATCH);
      const settles = chunk.filter((piece) => piece.kind === 'settle');
      const observations = chunk.filter((piece) => piece.kind === 'observe');
      const { keys, args } = encodeAfter(now, settles, observations);
      this.#connection.run('after', keys, args).then(
        (reply) => {
          settles.forEach((piece, i) => piece.resolve((reply as unknown[])[i]));
          for (const piece of observations) piece.resolve(undefined);
        },
        (error: unknown) => chunk.forEach((piece) => piece.reject(error)),
      );
    }
  }

  /**
   * Undoes a reserve whose answer never came (timeout, lost connection), in case Redis ran it anyway: sent
   * on the same connection, it runs after the reserve. Best effort; the reservation TTL is the backstop.
   */
  #cancel(decision: ReserveDecision): void {
    const byWorkspace = new Map<string, ResolvedCandidate[]>();
    for (const candidate of decision.candidates) {
      const list = byWorkspace.get(candidate.keys.tag);
      if (list === undefined) byWorkspace.set(candidate.keys.tag, [candidate]);
      else list.push(candidate);
    }
    for (const ofWorkspace of byWorkspace.values()) {
      const { keys, args } = encodeCancel(this.#time.scriptNow(), this.#reservationTtlMs, decision, ofWorkspace);
      this.#connection.runRegardless('cancel', keys, args, this.#commandTimeoutMs * 10).catch(() => {});
    }
  }
}
