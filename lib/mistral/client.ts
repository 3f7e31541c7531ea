/**
 * The adapter over @mistralai/mistralai: one SDK client per workspace, its own retries off (the router
 * decides), and the rate-limit headers of every response captured through the SDK's HTTPClient
 * response hook. Each call carries an attempt id in a request header so that the hook can hand the
 * response's headers to the right call when several run at once on one client.
 */
import { Mistral } from '@mistralai/mistralai';
import { HTTPClient } from '@mistralai/mistralai/lib/http.js';
import type { RequestOptions } from '@mistralai/mistralai/lib/sdks.js';

/** The request header that identifies one attempt to the response hook. */
export const ATTEMPT_HEADER = 'x-mistral-router-attempt';

export interface WorkspaceClientOptions {
  /** The workspace's name (what errors and events show). */
  readonly name: string;
  /** The API key. Kept inside the SDK client; never copied into errors, events or decisions. */
  readonly apiKey: string;
  /** Base URL (the emulator's, in tests). @default Mistral's */
  readonly serverURL?: string;
  /** Per-request timeout. @default 120_000 */
  readonly timeoutMs?: number;
}

export class WorkspaceClient {
  readonly name: string;
  readonly sdk: Mistral;
  readonly #headers = new Map<string, Headers>();
  readonly #timeoutMs: number;

  constructor({ name, apiKey, serverURL, timeoutMs = 120_000 }: WorkspaceClientOptions) {
    this.name = name;
    this.#timeoutMs = timeoutMs;
    const httpClient = new HTTPClient();
    httpClient.addHook('response', (response, request) => {
      const id = request.headers.get(ATTEMPT_HEADER);
      if (id !== null) this.#headers.set(id, response.headers);
    });
    this.sdk = new Mistral({ apiKey, serverURL, httpClient, retryConfig: { strategy: 'none' }, timeoutMs });
  }

  /** Per-call SDK options: no retries, the attempt header, the caller's signal. */
  options(attemptId: string, signal: AbortSignal | undefined, timeoutMs?: number): RequestOptions {
    return {
      retries: { strategy: 'none' },
      headers: { [ATTEMPT_HEADER]: attemptId },
      timeoutMs: timeoutMs ?? this.#timeoutMs,
      ...(signal === undefined ? {} : { signal }),
    };
  }

  /** The headers of the attempt's response (once), if one arrived. */
  takeHeaders(attemptId: string): Headers | undefined {
    const headers = this.#headers.get(attemptId);
    this.#headers.delete(attemptId);
    return headers;
  }
}
