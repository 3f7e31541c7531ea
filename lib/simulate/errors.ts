/**
 * A trace file the simulator cannot replay: unreadable, empty, or a row whose field is malformed. The
 * message reads `file:line: field: what was wrong, received ...`, so an editor jumps to the row.
 */
import { RouterError, hasMarker, locatedMessage, type RouterErrorOptions } from '../errors.js';

export interface TraceFileErrorFields extends RouterErrorOptions {
  readonly file: string;
  /** 1-based line of the row; absent for a problem of the whole file (unreadable, empty). */
  readonly line?: number;
  /** The column or JSON field at fault (`ContextTokens`, `need.capabilities`, `header`). */
  readonly field?: string;
  readonly message: string;
}

const traceFileErrorMarker = Symbol.for('mistral-router.error.TraceFileError');

/** A trace file that cannot be replayed (`TRACE_INVALID`); nothing of it is replayed. */
export class TraceFileError extends RouterError {
  readonly file: string;
  readonly line: number | undefined;
  readonly field: string | undefined;
  readonly [traceFileErrorMarker] = true;

  constructor(fields: TraceFileErrorFields) {
    const message = fields.field === undefined ? fields.message : `${fields.field}: ${fields.message}`;
    super({ code: 'TRACE_INVALID', message: locatedMessage(message, { file: fields.file, line: fields.line }), cause: fields.cause });
    this.name = 'TraceFileError';
    this.file = fields.file;
    this.line = fields.line;
    this.field = fields.field;
  }

  static override isInstance(error: unknown): error is TraceFileError { return hasMarker(error, traceFileErrorMarker); }
}
