/**
 * A trace: requests with their arrival instants and sizes, read from a file in one of two formats
 * (azure-csv.ts, jsonl.ts). The replay (replay.ts) and the utilisation benchmark read traces through
 * {@link readTrace}; {@link parseTrace} reads text already in memory.
 *
 * Rows are replayed in arrival order: a file whose rows are out of order is sorted (stably), since real
 * logs are often written when a request ends rather than when it arrived.
 */
import { readFileSync } from 'node:fs';
import type { Need } from '../need.js';
import { parseAzureCsv } from './azure-csv.js';
import { TraceFileError } from './errors.js';
import { parseJsonLines } from './jsonl.js';
import type { RawTraceRow } from './rows.js';

/** One request of a trace. */
export interface TraceRequest {
  /** Arrival, in ms after the trace's first request (trace time, before any speed-up). */
  readonly at: number;
  /** Prompt tokens, as the upstream counts them. */
  readonly promptTokens: number;
  /** The request's `max_tokens` (the Azure traces: the tokens the reply generated). */
  readonly maxTokens: number;
  /** The request's own need (JSON lines only); absent: the replay's default need. */
  readonly need?: Need;
  /** The row's 1-based line in its file. */
  readonly line: number;
}

/** The formats {@link readTrace} reads. */
export type TraceFormat = 'azure-csv' | 'jsonl';

/** A trace read from a file. */
export interface Trace {
  /** The file's name as given (error messages and reports use it). */
  readonly file: string;
  readonly format: TraceFormat;
  /** In arrival order; `at` of the first is 0. */
  readonly requests: readonly TraceRequest[];
  /** `at` of the last request (0 for one request). */
  readonly spanMs: number;
}

/** Options of {@link readTrace} and {@link parseTrace}. */
export interface ReadTraceOptions {
  /** The format; absent: by the extension (`.csv`; `.jsonl`, `.ndjson`), else by the first line. */
  readonly format?: TraceFormat;
  /** Keep only the requests that arrive within this many minutes of the first. @default the whole trace */
  readonly minutes?: number;
}

/** Read and check a trace file; any problem is a {@link TraceFileError} naming the file (and line, field). */
export function readTrace(file: string, options: ReadTraceOptions = {}): Trace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new TraceFileError({ file, message: `cannot read the trace: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, cause: error });
  }
  return parseTrace(text, file, options);
}

/** Check a trace given as text; `file` names it in errors. */
export function parseTrace(text: string, file: string, options: ReadTraceOptions = {}): Trace {
  const format = options.format ?? detectFormat(file, text);
  const rows = format === 'azure-csv' ? parseAzureCsv(text, file) : parseJsonLines(text, file);
  if (rows.length === 0) throw new TraceFileError({ file, message: 'the trace has no requests' });
  const sorted = rows.map((row, index) => ({ row, index })).sort((a, b) => a.row.time - b.row.time || a.index - b.index);
  const first = (sorted[0] as { row: RawTraceRow }).row.time;
  const limitMs = options.minutes === undefined ? Number.POSITIVE_INFINITY : options.minutes * 60_000;
  const requests: TraceRequest[] = [];
  for (const { row } of sorted) {
    const at = Math.round((row.time - first) * 1000) / 1000; // to the microsecond: epoch ms plus a fraction is not exact in a double
    if (at > limitMs) break;
    const { time: _time, ...rest } = row;
    requests.push({ ...rest, at });
  }
  return { file, format, requests, spanMs: (requests[requests.length - 1] as TraceRequest).at };
}

function detectFormat(file: string, text: string): TraceFormat {
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return 'azure-csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  const firstLine = text.split('\n').find((line) => line.trim() !== '') ?? '';
  return firstLine.trimStart().startsWith('{') ? 'jsonl' : 'azure-csv';
}
