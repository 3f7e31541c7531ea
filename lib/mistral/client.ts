/**
 * The adapter over @mistralai/mistralai: one SDK client per workspace, its own retries off (the router
 * decides), and the rate-limit headers of every response captured through the SDK's HTTPClient
 * response hook. Each call carries an attempt id in a request header so that the hook can hand the
 * response's headers to the right call when several run at once on one client.
 *
 * Every attempt can be cancelled, which this module does when the attempt's timeout passes or when the
 * caller's signal fires: the SDK's calls get an AbortSignal (made when the SDK path asks for `options`),
 * the wire transport through `createNodeFetch` a {@link Cancellation} (`attempt.signal`), which is a
 * listener list: an AbortController per attempt cost the gateway 5-7 µs of CPU per request, about 5%
 * of its own work. The SDK's own `timeoutMs` is not used for routed calls: the SDK drops
 * it whenever a signal is passed (so a caller's signal turned the timeout off), and it arms it through
 * `AbortSignal.timeout`, whose signal the SDK holds only through the cloned request, so the timeout
 * was also lost when the original signal was garbage-collected during the call (seen here: a 200 ms
 * timeout on a 1.5 s call did not fire on a process's first call). The default timeout costs a slot in
 * one ring per client (see ../deadlines.ts) instead of a timer per call.
 *
 * Beside the SDK, each workspace has a wire transport (`wire`, wire-client.ts) for front ends that already
 * speak Mistral's wire format; its attempts use the same signals, and leave their response headers here
 * (`keepHeaders`) for the router to learn from, as the SDK's hook does.
 */
import { Mistral } from '@mistralai/mistralai';
import { HTTPClient } from '@mistralai/mistralai/lib/http.js';
import type { RequestOptions } from '@mistralai/mistralai/lib/sdks.js';
import { Deadlines } from '../deadlines.js';
import type { HeaderSource } from '../quota/headers.js';
import { createNodeFetch, type Fetcher } from './node-fetch.js';
import type { Cancellation } from './wire-http.js';
import { WireClient } from './wire-client.js';

/** The request header that identifies one attempt to the response hook. */
export const ATTEMPT_HEADER = 'x-mistral-router-attempt';

export interface WorkspaceClientOptions {
  /** The workspace's name (what errors and events show). */
  readonly name: string;
  /** The API key. Kept inside the SDK client; never copied into errors, events or decisions. */
  readonly apiKey: string;
  /** Base URL (the emulator's, in tests). @default Mistral's */
  readonly serverURL?: string;
  /** Per-attempt timeout, ms. @default 120_000 */
  readonly timeoutMs?: number;
  /**
   * The fetch the SDK and the wire transport call through (see node-fetch.ts). @default the global fetch
   * for the SDK; for the wire transport, one keep-alive `createNodeFetch()` shared by the process
   */
  readonly fetch?: Fetcher;
}

/** One attempt in flight: the SDK options to send it with, and `finish()` once it is over. */
export interface Attempt {
  /** The SDK's options (its AbortSignal is made on the first read). */
  readonly options: RequestOptions;
  /** The attempt's cancellation as the wire transport reads it (no AbortSignal). */
  readonly signal: Cancellation;
  /** The attempt is over (answered, failed, or its stream ended): stop its timeout, unlink the caller's signal. Idempotent. */
  finish(): void;
  /**
   * Call `callback` (once) if the attempt's signal aborts before `finish()`: its timeout passed, or the
   * caller's signal fired. Called right after the abort, or at once if that happened already.
   */
  onCancel(callback: (reason: Error) => void): void;
  /** Abort the attempt now with `reason` (as its timeout would): `onCancel` is called. No-op once finished. */
  cancel(reason: Error): void;
}

let sharedWireFetch: Fetcher | undefined;

const timeoutError = (ms: number) => () => new DOMException(`The attempt timed out after ${ms} ms.`, 'TimeoutError');

/**
 * An attempt in flight, and its own {@link Cancellation} (one object: an attempt per call is on every
 * call's path, so it is one allocation with its methods on the prototype).
 */
class RunningAttempt implements Attempt, Cancellation {
  readonly #attemptId: string;
  readonly #signal: AbortSignal | undefined;
  readonly #deadlines: Deadlines | undefined;
  #controller: AbortController | undefined;
  #options: RequestOptions | undefined;
  #finished = false;
  #timeoutId = -1;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cancelled: ((reason: Error) => void) | undefined;
  #reason: Error | undefined;
  #listeners: (() => void)[] | undefined;
  readonly #onAbort: (() => void) | undefined;

  /** `deadlines` watches the client's default timeout; any other gets a timer of its own. */
  constructor(attemptId: string, signal: AbortSignal | undefined, ms: number, deadlines: Deadlines | undefined) {
    this.#attemptId = attemptId;
    this.#signal = signal;
    this.#deadlines = deadlines;
    const cancel = (error: Error) => this.cancel(error);
    if (deadlines !== undefined) {
      this.#timeoutId = deadlines.watch(cancel);
    } else {
      this.#timer = setTimeout(() => cancel(timeoutError(ms)()), ms);
      this.#timer.unref?.();
    }
    if (signal !== undefined) {
      const onAbort = () => cancel(new DOMException('The request was aborted by its AbortSignal.', 'AbortError'));
      if (signal.aborted) onAbort();
      else {
        this.#onAbort = onAbort;
        signal.addEventListener('abort', onAbort, { once: true });
      }
    }
  }

  get options(): RequestOptions {
    if (this.#options === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
      this.#options = { headers: { [ATTEMPT_HEADER]: this.#attemptId }, signal: this.#controller.signal };
    }
    return this.#options;
  }

  get signal(): Cancellation {
    return this;
  }

  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  get reason(): unknown {
    return this.#reason;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const index = this.#listeners?.indexOf(listener) ?? -1;
    if (index >= 0) this.#listeners?.splice(index, 1);
  }

  cancel(error: Error): void {
    if (this.#finished || this.#reason !== undefined) return;
    this.#reason = error;
    this.#controller?.abort(error);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
    this.#cancelled?.(error);
  }

  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    else this.#deadlines?.done(this.#timeoutId);
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#listeners = undefined;
  }

  onCancel(callback: (reason: Error) => void): void {
    // Cancelled already (between the first chunk and this call): call back at once.
    if (this.#reason !== undefined && !this.#finished) {
      callback(this.#reason);
      return;
    }
    this.#cancelled = (reason) => {
      this.#cancelled = undefined;
      callback(reason);
    };
  }
}

export class WorkspaceClient {
  readonly name: string;
  readonly sdk: Mistral;
  /** The wire transport (Mistral's HTTP API with wire bodies, no SDK): the same key, server and fetch. */
  readonly wire: WireClient;
  readonly #headers = new Map<string, HeaderSource>();
  readonly #timeoutMs: number;
  readonly #deadlines: Deadlines;

  constructor({ name, apiKey, serverURL, timeoutMs = 120_000, fetch }: WorkspaceClientOptions) {
    this.name = name;
    this.#timeoutMs = timeoutMs;
    this.#deadlines = new Deadlines(timeoutMs, timeoutError(timeoutMs));
    const httpClient = new HTTPClient(fetch === undefined ? {} : { fetcher: fetch });
    httpClient.addHook('response', (response, request) => {
      const id = request.headers.get(ATTEMPT_HEADER);
      if (id !== null) this.#headers.set(id, response.headers);
    });
    // timeoutMs here serves callers who use `router.sdk(workspace)` directly; routed calls bring their own signal.
    this.sdk = new Mistral({ apiKey, serverURL, httpClient, retryConfig: { strategy: 'none' }, timeoutMs });
    this.wire = new WireClient({ apiKey, serverURL, fetch: fetch ?? (sharedWireFetch ??= createNodeFetch()) });
  }

  /**
   * Start an attempt: its signal aborts with a `TimeoutError` after `timeoutMs` (default: the client's),
   * or with an `AbortError` when `signal` (the caller's) aborts. The SDK turns these into its
   * `RequestTimeoutError` and `RequestAbortedError`.
   */
  attempt(attemptId: string, signal: AbortSignal | undefined, timeoutMs?: number): Attempt {
    return new RunningAttempt(attemptId, signal, timeoutMs ?? this.#timeoutMs, this.#timeoutMs === (timeoutMs ?? this.#timeoutMs) ? this.#deadlines : undefined);
  }

  /**
   * Keep the headers of an attempt's response, for {@link takeHeaders} (the wire transport's, as node's own
   * record or a `Headers`; the SDK's come by its hook).
   */
  keepHeaders(attemptId: string, headers: HeaderSource): void {
    this.#headers.set(attemptId, headers);
  }

  /** The headers of the attempt's response (once), if one arrived. */
  takeHeaders(attemptId: string): HeaderSource | undefined {
    const headers = this.#headers.get(attemptId);
    if (headers !== undefined) this.#headers.delete(attemptId);
    return headers;
  }
}
