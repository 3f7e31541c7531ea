/**
 * The simulator's own trace format: JSON lines, one request an object.
 *
 * ```
 * {"at": 0, "promptTokens": 1200, "maxTokens": 300}
 * {"at": 850, "promptTokens": 40000, "maxTokens": 1000, "need": {"capabilities": ["function_calling"], "minContext": 64000}}
 * {"timestamp": "2026-01-05T09:00:01.250Z", "promptTokens": 90, "maxTokens": 20}
 * ```
 *
 * - `at`: ms after the trace's start (a number >= 0), or `timestamp`: an ISO 8601 instant or epoch ms;
 *   every line of a file uses the same one.
 * - `promptTokens`, `maxTokens`: whole numbers >= 0 (the upstream's count of the prompt; `max_tokens`).
 * - `need`: optional, the request's need (the router's `Need`); absent, the replay's default need.
 *
 * Any other field is refused at its line (a misspelt `max_tokens` must not silently become a default).
 */
import { NeedError } from '../errors.js';
import { normaliseNeed, type Need } from '../need.js';
import { TraceFileError } from './errors.js';
import { numberedLines, type RawTraceRow } from './rows.js';

const FIELDS: ReadonlySet<string> = new Set(['at', 'timestamp', 'promptTokens', 'maxTokens', 'need']);

/** The rows of a JSON-lines trace, in file order. */
export function parseJsonLines(text: string, file: string): RawTraceRow[] {
  const rows: RawTraceRow[] = [];
  let clock: 'at' | 'timestamp' | undefined;
  let clockLine = 0;
  for (const { line, text: source } of numberedLines(text)) {
    const fail = (field: string | undefined, message: string, cause?: unknown) => new TraceFileError({ file, line, ...(field === undefined ? {} : { field }), message, cause });
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw fail(undefined, `not valid JSON: ${(error as Error).message}`, error);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fail(undefined, `expected a JSON object per line, received ${source.slice(0, 60)}`);
    const row = value as Record<string, unknown>;
    const unknown = Object.keys(row).find((key) => !FIELDS.has(key));
    if (unknown !== undefined) throw fail(unknown, `unknown field (the fields are ${[...FIELDS].join(', ')})`);
    const kind = 'at' in row ? 'at' : 'timestamp' in row ? 'timestamp' : undefined;
    if (kind === undefined) throw fail('at', 'missing: give "at" (ms after the start) or "timestamp" (ISO 8601 or epoch ms)');
    if ('at' in row && 'timestamp' in row) throw fail('timestamp', 'give "at" or "timestamp", not both');
    if (clock !== undefined && kind !== clock) throw fail(kind, `line ${clockLine} uses "${clock}": every line of a trace uses the same one`);
    if (clock === undefined) {
      clock = kind;
      clockLine = line;
    }
    const time = kind === 'at' ? atOf(row.at, fail) : timestampOf(row.timestamp, fail);
    const need = row.need === undefined ? undefined : needOf(row.need, fail);
    rows.push({ time, promptTokens: tokensOf(row.promptTokens, 'promptTokens', fail), maxTokens: tokensOf(row.maxTokens, 'maxTokens', fail), ...(need === undefined ? {} : { need }), line });
  }
  return rows;
}

type Fail = (field: string | undefined, message: string, cause?: unknown) => TraceFileError;

function received(value: unknown): string {
  return (JSON.stringify(value) ?? String(value)).slice(0, 60);
}

function atOf(value: unknown, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw fail('at', `expected ms >= 0, received ${received(value)}`);
  return value;
}

function timestampOf(value: unknown, fail: Fail): number {
  const ms = typeof value === 'number' ? value : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) throw fail('timestamp', `expected an ISO 8601 instant ("2026-01-05T09:00:01.250Z") or epoch ms, received ${received(value)}`);
  return ms;
}

function tokensOf(value: unknown, field: string, fail: Fail): number {
  if (value === undefined) throw fail(field, 'missing: a whole number of tokens >= 0');
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw fail(field, `expected a whole number of tokens >= 0, received ${received(value)}`);
  return value;
}

/** The need, checked as the router will check it (chat), so that a bad one fails here at its line. */
function needOf(value: unknown, fail: Fail): Need {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fail('need', `expected an object such as {"capabilities":["function_calling"]}, received ${received(value)}`);
  try {
    normaliseNeed(value as Need, 'chat', [], 'smallest-sufficient');
  } catch (error) {
    if (NeedError.isInstance(error)) throw fail(error.field.startsWith('need') ? error.field : `need.${error.field}`, error.message.slice(error.field.length + 2), error);
    throw error;
  }
  return value as Need;
}
