/** Errors of input that can never work as written: a catalogue file, a need or request, a constructor's options. */
import { RouterError, hasMarker, type RouterErrorCode, type RouterErrorFields, type RouterErrorOptions } from './base.js';

export interface CatalogErrorLocation {
  /** The file (path, or `<bundled>/models.yaml` for the shipped catalogue). */
  readonly file: string;
  /** 1-based line, when known. */
  readonly line?: number;
  /** 1-based column, when known. */
  readonly column?: number;
  /** JSON pointer to the field, e.g. `/models/3/contextWindow`. */
  readonly pointer?: string;
}

export interface CatalogErrorFields extends RouterErrorFields, CatalogErrorLocation {}

/** `file:line:column: message (at pointer)`: how every error located in a file reads. */
export function locatedMessage(message: string, location: CatalogErrorLocation): string {
  const where = `${location.file}${location.line === undefined ? '' : `:${location.line}`}${location.column === undefined ? '' : `:${location.column}`}`;
  const field = location.pointer === undefined || location.pointer === '' ? '' : ` (at ${location.pointer})`;
  return `${where}: ${message}${field}`;
}

const catalogErrorMarker = Symbol.for('mistral-router.error.CatalogError');

/** A catalogue file that cannot be used. The whole file is refused; nothing of it is loaded. */
export class CatalogError extends RouterError {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly pointer: string | undefined;
  readonly [catalogErrorMarker] = true;

  constructor(fields: CatalogErrorFields);
  constructor(code: RouterErrorCode, message: string, location: CatalogErrorLocation, options?: RouterErrorOptions);
  constructor(code: RouterErrorCode | CatalogErrorFields, message = '', location?: CatalogErrorLocation, options: RouterErrorOptions = {}) {
    const fields: CatalogErrorFields = typeof code === 'object' ? code : { ...(location as CatalogErrorLocation), code, message, cause: options.cause };
    super({ code: fields.code, message: locatedMessage(fields.message, fields), cause: fields.cause });
    this.name = 'CatalogError';
    this.file = fields.file;
    this.line = fields.line;
    this.column = fields.column;
    this.pointer = fields.pointer;
  }

  static override isInstance(error: unknown): error is CatalogError { return hasMarker(error, catalogErrorMarker); }
}

/** `message` says what was wrong with `field`; the error's message is `<field>: <message>`. */
export interface NeedErrorFields extends RouterErrorOptions {
  readonly field: string;
  readonly message: string;
}

const needErrorMarker = Symbol.for('mistral-router.error.NeedError');

/** A need or request that can never be served as written (unknown capability, negative token count...). */
export class NeedError extends RouterError {
  /** The field of the need or request that was wrong, e.g. `need.capabilities[1]`. */
  readonly field: string;
  readonly [needErrorMarker] = true;

  constructor(fields: NeedErrorFields);
  constructor(field: string, message: string, options?: RouterErrorOptions);
  constructor(field: string | NeedErrorFields, message = '', options: RouterErrorOptions = {}) {
    const fields = typeof field === 'object' ? field : { field, message, cause: options.cause };
    super({ code: 'NEED_INVALID', message: `${fields.field}: ${fields.message}`, cause: fields.cause });
    this.name = 'NeedError';
    this.field = fields.field;
  }

  static override isInstance(error: unknown): error is NeedError { return hasMarker(error, needErrorMarker); }
}

/** `message` says what was wrong with `option`; the error's message is `<option>: <message>`. */
export interface ConfigErrorFields extends RouterErrorOptions {
  readonly option: string;
  readonly message: string;
}

const configErrorMarker = Symbol.for('mistral-router.error.ConfigError');

/** Options given to a constructor or factory that cannot work. Mirrors TypeError but carries a code. */
export class ConfigError extends RouterError {
  readonly option: string;
  readonly [configErrorMarker] = true;

  constructor(fields: ConfigErrorFields);
  constructor(option: string, message: string, options?: RouterErrorOptions);
  constructor(option: string | ConfigErrorFields, message = '', options: RouterErrorOptions = {}) {
    const fields = typeof option === 'object' ? option : { option, message, cause: options.cause };
    super({ code: 'CONFIG_INVALID', message: `${fields.option}: ${fields.message}`, cause: fields.cause });
    this.name = 'ConfigError';
    this.option = fields.option;
  }

  static override isInstance(error: unknown): error is ConfigError { return hasMarker(error, configErrorMarker); }
}
