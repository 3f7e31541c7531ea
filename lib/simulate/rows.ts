/** What the format readers (azure-csv.ts, jsonl.ts) share: a row on its own time axis, and numbered lines. */
import type { Need } from '../need.js';

/** A row as a format reader returns it: its arrival on the file's own time axis (epoch ms, or ms from 0). */
export interface RawTraceRow {
  readonly time: number;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly need?: Need;
  readonly line: number;
}

/** Text as lines with their 1-based numbers, without the line ends (LF or CRLF); blank lines dropped. */
export function numberedLines(text: string): { readonly line: number; readonly text: string }[] {
  const lines: { line: number; text: string }[] = [];
  text.split('\n').forEach((raw, index) => {
    const content = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (content.trim() !== '') lines.push({ line: index + 1, text: content });
  });
  return lines;
}
