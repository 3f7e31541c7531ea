/**
 * The access log: one JSON line per request, off by default (`server.accessLog: true`). It names the
 * virtual key by its name; no key, header or body is ever written.
 */

/** What one request did, filled in as it is served. */
export interface AccessRecord {
  /** Epoch ms when the request arrived (the gateway's clock). */
  readonly time: number;
  readonly method: string;
  readonly path: string;
  status: number;
  /** The virtual key's name, once authenticated. */
  key: string | undefined;
  /** The route, `auto`, or the model name the request gave. */
  route: string | undefined;
  /** The model that answered. */
  model: string | undefined;
  /** Tokens the call used (usage.total_tokens), when known. */
  tokens: number | undefined;
  attempts: number | undefined;
  /** The error's type, for a request that failed. */
  error: string | undefined;
}

export function accessRecord(time: number, method: string, path: string): AccessRecord {
  return { time, method, path, status: 0, key: undefined, route: undefined, model: undefined, tokens: undefined, attempts: undefined, error: undefined };
}

/** The line written for a finished request (`ms`: from arrival to the end of the answer). */
export function accessLine(record: AccessRecord, ms: number): string {
  return JSON.stringify({
    time: new Date(record.time).toISOString(),
    method: record.method,
    path: record.path,
    status: record.status,
    key: record.key ?? null,
    route: record.route ?? null,
    model: record.model ?? null,
    tokens: record.tokens ?? null,
    attempts: record.attempts ?? null,
    ms,
    ...(record.error === undefined ? {} : { error: record.error }),
  });
}
