import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrace, readTrace, TraceFileError } from '../../lib/simulate/index.js';

function failure(run: () => unknown): TraceFileError {
  try {
    run();
  } catch (error) {
    expect(TraceFileError.isInstance(error), String(error)).to.equal(true);
    return error as TraceFileError;
  }
  throw new Error('expected a TraceFileError');
}

describe('simulate: trace readers', () => {
  describe('Azure CSV', () => {
    const header = 'TIMESTAMP,ContextTokens,GeneratedTokens\n';

    it('reads rows as ms after the first (to the microsecond), prompt and max tokens, with their lines', () => {
      const trace = parseTrace(`${header}2023-11-16 18:15:46.6805900,4808,10\r\n\n2023-11-16 18:15:47.0000000,3180,8\n2023-11-16 18:16:46.6805910,2,1000\n`, 'a.csv');
      expect(trace.format).to.equal('azure-csv');
      expect(trace.requests).to.deep.equal([
        { at: 0, promptTokens: 4808, maxTokens: 10, line: 2 },
        { at: 319.41, promptTokens: 3180, maxTokens: 8, line: 4 },
        { at: 60_000.001, promptTokens: 2, maxTokens: 1000, line: 5 },
      ]);
      expect(trace.spanMs).to.equal(60_000.001);
    });

    it('sorts rows out of order (stably) and keeps the first N minutes', () => {
      const trace = parseTrace(`${header}2023-11-16 18:00:10,1,1\n2023-11-16 18:00:00,2,2\n2023-11-16 18:02:00,3,3\n2023-11-16 18:00:10,4,4\n`, 'b.csv', { minutes: 1 });
      expect(trace.requests.map((r) => [r.at, r.promptTokens])).to.deep.equal([[0, 2], [10_000, 1], [10_000, 4]]);
    });

    it('reads the bundled code trace: 8,819 requests', function () {
      const file = new URL('../../../../shared/data/azure-llm-inference-2023/code.csv', import.meta.url);
      const trace = readTrace(file.pathname, { minutes: 2 });
      expect(trace.requests.length).to.be.greaterThan(50);
      expect(trace.spanMs).to.be.at.most(120_000);
      expect(readTrace(file.pathname).requests.length).to.equal(8_819);
    });

    const bad: [string, string, RegExp][] = [
      ['TIMESTAMP,Context,Generated\n', 'header', /^x\.csv:1: header: expected "TIMESTAMP,ContextTokens,GeneratedTokens"/],
      [`${header}2023-11-16 18:15:46,12,3\n2023-11-16 18:15:47,-4,3\n`, 'ContextTokens', /^x\.csv:3: ContextTokens: expected a whole number of tokens >= 0, received "-4"/],
      [`${header}2023-11-16 18:15:46,12,3.5\n`, 'GeneratedTokens', /^x\.csv:2: GeneratedTokens: expected a whole number/],
      [`${header}2023-02-30 18:15:46,12,3\n`, 'TIMESTAMP', /^x\.csv:2: TIMESTAMP: expected a time such as/],
      [`${header}yesterday,12,3\n`, 'TIMESTAMP', /received "yesterday"/],
      [`${header}2023-11-16 18:15:46,12\n`, 'GeneratedTokens', /^x\.csv:2: GeneratedTokens: expected 3 comma-separated fields, received 2/],
      [`${header}2023-11-16 18:15:46,12,3,9\n`, 'row', /expected 3 comma-separated fields, received 4/],
    ];
    for (const [text, field, message] of bad) {
      it(`refuses a malformed ${field} at its line`, () => {
        const error = failure(() => parseTrace(text, 'x.csv'));
        expect(error.code).to.equal('TRACE_INVALID');
        expect(error.field).to.equal(field);
        expect(error.message).to.match(message);
      });
    }

    it('refuses a trace with no rows, and a file it cannot read', () => {
      expect(failure(() => parseTrace(header, 'empty.csv')).message).to.equal('empty.csv: the trace has no requests');
      const error = failure(() => readTrace('/nonexistent/trace.csv'));
      expect(error.message).to.equal('/nonexistent/trace.csv: cannot read the trace: ENOENT');
      expect(error.line).to.equal(undefined);
    });
  });

  describe('JSON lines', () => {
    it('reads at, prompt and max tokens and a need per line; detects the format by the first line', () => {
      const trace = parseTrace('{"at": 500, "promptTokens": 10, "maxTokens": 5}\n\n{"at": 100, "promptTokens": 7, "maxTokens": 0, "need": {"capabilities": ["function_calling"]}}\n', 'trace.txt');
      expect(trace.format).to.equal('jsonl');
      expect(trace.requests).to.deep.equal([
        { at: 0, promptTokens: 7, maxTokens: 0, need: { capabilities: ['function_calling'] }, line: 3 },
        { at: 400, promptTokens: 10, maxTokens: 5, line: 1 },
      ]);
    });

    it('reads timestamps (ISO 8601 or epoch ms) as differences', () => {
      const trace = parseTrace('{"timestamp": "2026-01-05T09:00:00.000Z", "promptTokens": 1, "maxTokens": 1}\n{"timestamp": 1767603601250, "promptTokens": 1, "maxTokens": 1}\n', 't.jsonl');
      expect(trace.requests.map((r) => r.at)).to.deep.equal([0, 1250]);
    });

    const bad: [string, string | undefined, RegExp][] = [
      ['{"at": 0, "promptTokens": 1, "maxTokens": 1}\n{"at": 1, "promptTokens": 1, "max_tokens": 1}\n', 'max_tokens', /^t\.jsonl:2: max_tokens: unknown field \(the fields are at, timestamp, promptTokens, maxTokens, need\)/],
      ['{"at": 0, "promptTokens": 1}\n', 'maxTokens', /^t\.jsonl:1: maxTokens: missing/],
      ['{"at": 0, "promptTokens": 1.5, "maxTokens": 1}\n', 'promptTokens', /promptTokens: expected a whole number of tokens >= 0, received 1.5/],
      ['{"at": -3, "promptTokens": 1, "maxTokens": 1}\n', 'at', /at: expected ms >= 0, received -3/],
      ['{"promptTokens": 1, "maxTokens": 1}\n', 'at', /at: missing: give "at"/],
      ['{"at": 0, "promptTokens": 1, "maxTokens": 1}\n{"timestamp": 5, "promptTokens": 1, "maxTokens": 1}\n', 'timestamp', /^t\.jsonl:2: timestamp: line 1 uses "at"/],
      ['{"timestamp": "soon", "promptTokens": 1, "maxTokens": 1}\n', 'timestamp', /timestamp: expected an ISO 8601 instant/],
      ['{"at": 0, "promptTokens": 1, "maxTokens": 1, "need": {"capabilities": ["telepathy"]}}\n', 'need.capabilities[0]', /^t\.jsonl:1: need\.capabilities\[0\]: /],
      ['{"at": 0, "promptTokens": 1, "maxTokens": 1, "need": []}\n', 'need', /need: expected an object/],
      ['{"at": 0, "promptTokens": 1, "maxTokens": 1\n', undefined, /^t\.jsonl:1: not valid JSON/],
      ['[1, 2]\n', undefined, /^t\.jsonl:1: expected a JSON object per line/],
    ];
    for (const [text, field, message] of bad) {
      it(`refuses ${field ?? 'a line that is not an object'} at its line: ${message.source.slice(0, 40)}`, () => {
        const error = failure(() => parseTrace(text, 't.jsonl'));
        expect(error.field).to.equal(field);
        expect(error.message).to.match(message);
      });
    }

    it('reads a file on disk by its extension', () => {
      const dir = mkdtempSync(join(tmpdir(), 'simulate-trace-'));
      try {
        const file = join(dir, 'trace.jsonl');
        writeFileSync(file, '{"at": 0, "promptTokens": 3, "maxTokens": 4}\n');
        expect(readTrace(file).requests).to.deep.equal([{ at: 0, promptTokens: 3, maxTokens: 4, line: 1 }]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
