/**
 * The send step of an attempt, the only part of the attempt loop that differs between the library's own
 * API (through the workspace's `@mistralai/mistralai` client: sdk-send.ts) and the wire API for front ends
 * that already speak Mistral's wire format (wire-send.ts). Everything around it (reservation, candidates,
 * fallback, waits, budgets, learning from headers, settling, events, telemetry, decisions, close) is the
 * router's one loop, whichever transport sends.
 */
import type { Attempt } from '../mistral/client.js';
import type { Decision } from './decision.js';
import type { Usage } from './learning.js';
import type { Workspace } from './workspaces.js';

/** What the router reads of a stream's chunks. */
export interface ChunkShape<Chunk> {
  /** The usage the chunk reports (the last one's settles the stream), camelCased. */
  usage(chunk: Chunk): Usage | undefined;
  /** Whether the chunk holds a finish reason (the answer is complete: a cancel after it cuts nothing). */
  finished(chunk: Chunk): boolean;
  /** The chunk's JSON, for telemetry's response info (id, model, finish reasons). */
  body(chunk: Chunk): object;
}

/** A stream's call has succeeded once its first chunk is in: a failure before it falls back. */
export interface Opened<Chunk> {
  readonly iterator: AsyncIterator<Chunk>;
  readonly first: IteratorResult<Chunk>;
}

/** How one attempt is sent and what its success is. */
export interface Transport {
  /** Whether success is a stream's first chunk (`send` resolves with an {@link Opened}). */
  readonly streams: boolean;
  /**
   * Send the call's request for `model` through `workspace`, with the attempt's signal; resolve when the
   * call succeeded, reject with the error the failure policy classifies. The response's headers are left
   * on the workspace's client under `attemptId` (learning takes them there).
   */
  send(workspace: Workspace, request: object, model: string, attempt: Attempt, attemptId: string): Promise<unknown>;
  /** A response's usage (not for streams: their chunks report it). */
  usage(result: unknown): Usage | undefined;
  /** A response's JSON, for telemetry's response info. */
  body(result: unknown): object;
  /** What the caller gets: the response with its decision. */
  answer(result: unknown, routing: Decision): object;
  /** A stream's chunks, as the router reads them. */
  readonly chunks: ChunkShape<unknown> | undefined;
}
