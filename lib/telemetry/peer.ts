/**
 * Loading an optional peer dependency (prom-client, @opentelemetry/api) when a factory that needs it is
 * called, never when the module is imported: the package works without either installed.
 */
import { createRequire } from 'node:module';
import { ConfigError } from '../errors.js';

/**
 * `given` when the caller passed the module (a bundle), else `require(name)`. A missing package is a
 * ConfigError naming `option` and saying what to install.
 */
export function loadPeer<T>(given: T | undefined, name: string, option: string, factory: string): T {
  if (given !== undefined) return given;
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (error) {
    throw new ConfigError(option, `${factory} needs the optional peer dependency ${name}: npm install ${name}`, { cause: error });
  }
}
