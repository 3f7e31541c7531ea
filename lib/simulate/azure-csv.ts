/**
 * The Azure LLM inference trace format (Azure Public Dataset, AzureLLMInferenceDataset2023): a header
 * `TIMESTAMP,ContextTokens,GeneratedTokens`, then one request a row, e.g.
 * `2023-11-16 18:15:46.6805900,4808,10`. The timestamp has no zone (only differences matter, read as
 * UTC) and up to 7 fractional digits, kept to the microsecond. `GeneratedTokens` becomes the request's
 * `max_tokens`, so the reservation is exactly what the reply uses.
 */
import { TraceFileError } from './errors.js';
import { numberedLines, type RawTraceRow } from './rows.js';

const HEADER = ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens'] as const;
const STAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d{1,9})?Z?$/;

/** The rows of an Azure trace, in file order (epoch ms as `time`). */
export function parseAzureCsv(text: string, file: string): RawTraceRow[] {
  const lines = numberedLines(text.startsWith('\uFEFF') ? text.slice(1) : text);
  const header = lines[0];
  if (header === undefined) return [];
  const names = header.text.split(',').map((name) => name.trim());
  if (names.length !== HEADER.length || names.some((name, i) => name !== HEADER[i])) {
    throw new TraceFileError({ file, line: header.line, field: 'header', message: `expected "${HEADER.join(',')}", received ${JSON.stringify(header.text.slice(0, 80))}` });
  }
  const rows: RawTraceRow[] = [];
  for (const { line, text: row } of lines.slice(1)) {
    const cells = row.split(',').map((cell) => cell.trim());
    if (cells.length !== HEADER.length) {
      throw new TraceFileError({ file, line, field: cells.length < HEADER.length ? (HEADER[cells.length] as string) : 'row', message: `expected ${HEADER.length} comma-separated fields, received ${cells.length}: ${JSON.stringify(row.slice(0, 80))}` });
    }
    const [stamp, context, generated] = cells as [string, string, string];
    rows.push({ time: timestamp(stamp, file, line), promptTokens: count(context, 'ContextTokens', file, line), maxTokens: count(generated, 'GeneratedTokens', file, line), line });
  }
  return rows;
}

function timestamp(value: string, file: string, line: number): number {
  const match = STAMP.exec(value);
  const whole = match === null ? Number.NaN : Date.parse(`${match[1]}T${match[2]}Z`);
  // Date.parse rolls 2023-02-30 into March: the calendar check refuses it instead.
  if (match === null || Number.isNaN(whole) || new Date(whole).toISOString().slice(0, 19) !== `${match[1]}T${match[2]}`) {
    throw new TraceFileError({ file, line, field: 'TIMESTAMP', message: `expected a time such as "2023-11-16 18:15:46.6805900", received ${JSON.stringify(value.slice(0, 40))}` });
  }
  return whole + Math.round(Number(`0${match[3] ?? ''}`) * 1e6) / 1e3;
}

function count(value: string, field: string, file: string, line: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new TraceFileError({ file, line, field, message: `expected a whole number of tokens >= 0, received ${JSON.stringify(value.slice(0, 40))}` });
  return n;
}
