/**
 * The gateway's own refusals: a configuration file it cannot serve, and an HTTP request it refuses before
 * routing. Both are RouterErrors (stable `code`, per-class `isInstance` across package copies, no key in
 * any message).
 */
import { RouterError, hasMarker, locatedMessage, type CatalogErrorLocation, type RouterErrorOptions } from '../errors.js';

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

  constructor(message: string, location: CatalogErrorLocation, options: RouterErrorOptions = {}) {
    super({ code: 'CONFIG_INVALID', message: locatedMessage(message, location), cause: options.cause });
    this.name = 'ConfigFileError';
    this.file = location.file;
    this.line = location.line;
    this.column = location.column;
    this.pointer = location.pointer;
  }

  static override isInstance(error: unknown): error is ConfigFileError {
    return hasMarker(error, configFileErrorMarker);
  }
}

/** The HTTP status of each gateway refusal. */
const GATEWAY_STATUS = {
  GATEWAY_UNAUTHORIZED: 401,
  GATEWAY_FORBIDDEN: 403,
  GATEWAY_NOT_FOUND: 404,
  GATEWAY_BAD_REQUEST: 400,
  GATEWAY_BODY_TOO_LARGE: 413,
  GATEWAY_METHOD_NOT_ALLOWED: 405,
  GATEWAY_CLOSING: 503,
  GATEWAY_QUOTA_NEVER_FITS: 429,
} as const;

export type GatewayErrorCode = keyof typeof GATEWAY_STATUS;

const gatewayErrorMarker = Symbol.for('mistral-router.error.GatewayError');

/**
 * The gateway refused an HTTP request before routing it: no or an unknown key (401), a route or model the
 * key may not use (403), an unknown route, model or path (404), a method the path does not take (405), a
 * body that is not JSON (400) or too large (413), a request larger than the key's own limit (429, no
 * Retry-After: it never fits), or any request once the gateway is shutting down (503).
 */
export class GatewayError extends RouterError {
  /** The HTTP status the client gets. */
  readonly status: number;
  /** The request field at fault (`model`, `body`), when there is one. */
  readonly param: string | null;
  readonly [gatewayErrorMarker] = true;

  constructor(code: GatewayErrorCode, message: string, param: string | null = null, options: RouterErrorOptions = {}) {
    super({ code, message, cause: options.cause });
    this.name = 'GatewayError';
    this.status = GATEWAY_STATUS[code];
    this.param = param;
  }

  static override isInstance(error: unknown): error is GatewayError {
    return hasMarker(error, gatewayErrorMarker);
  }
}
