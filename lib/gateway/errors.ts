/**
 * The gateway's own refusals: a configuration file it cannot serve, and an HTTP request it refuses before
 * routing. Both are RouterErrors (stable `code`, per-class `isInstance` across package copies, no key in
 * any message).
 */
import { RouterError, hasMarker, locatedMessage, type CatalogErrorLocation, type RouterErrorOptions } from '../errors.js';

export interface ConfigFileErrorFields extends RouterErrorOptions, CatalogErrorLocation {
  readonly message: string;
}

const configFileErrorMarker = Symbol.for('mistral-router.error.ConfigFileError');

/**
 * A gateway configuration file that cannot be served (`CONFIG_INVALID`): YAML syntax, a schema violation,
 * an unset `${ENV}` variable, a duplicate key name, a route no model can serve. Located like a
 * CatalogError: file, line and the JSON pointer of the field.
 */
export class ConfigFileError extends RouterError {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly pointer: string | undefined;
  readonly [configFileErrorMarker] = true;

  constructor(fields: ConfigFileErrorFields) {
    super({ code: 'CONFIG_INVALID', message: locatedMessage(fields.message, fields), cause: fields.cause });
    this.name = 'ConfigFileError';
    this.file = fields.file;
    this.line = fields.line;
    this.column = fields.column;
    this.pointer = fields.pointer;
  }

  static override isInstance(error: unknown): error is ConfigFileError { return hasMarker(error, configFileErrorMarker); }
}

/** The HTTP status of each gateway refusal. */
const GATEWAY_STATUS = {
  GATEWAY_UNAUTHORIZED: 401,
  GATEWAY_FORBIDDEN: 403,
  GATEWAY_NOT_FOUND: 404,
  GATEWAY_BAD_REQUEST: 400,
  GATEWAY_BODY_TOO_LARGE: 413,
  GATEWAY_UNSUPPORTED_ENCODING: 415,
  GATEWAY_METHOD_NOT_ALLOWED: 405,
  GATEWAY_CLOSING: 503,
} as const;

export type GatewayErrorCode = keyof typeof GATEWAY_STATUS;

export interface GatewayErrorFields extends RouterErrorOptions {
  readonly code: GatewayErrorCode;
  readonly message: string;
  /** The request field at fault (`model`, `body`), when there is one. */
  readonly param?: string | null;
}

const gatewayErrorMarker = Symbol.for('mistral-router.error.GatewayError');

/**
 * The gateway refused an HTTP request before routing it: no or an unknown key (401), a route or model the
 * key may not use (403), an unknown route, model or path (404), a method the path does not take (405), a
 * body that is not JSON (400), too large (413) or compressed (415), or any request once the gateway is
 * shutting down (503).
 */
export class GatewayError extends RouterError {
  /** The HTTP status the client gets. */
  readonly status: number;
  readonly param: string | null;
  readonly [gatewayErrorMarker] = true;

  constructor(fields: GatewayErrorFields) {
    super({ code: fields.code, message: fields.message, cause: fields.cause });
    this.name = 'GatewayError';
    this.status = GATEWAY_STATUS[fields.code];
    this.param = fields.param ?? null;
  }

  static override isInstance(error: unknown): error is GatewayError { return hasMarker(error, gatewayErrorMarker); }
}
