/**
 * `mistral-router/redis`: the quota store a fleet shares. Ten instances of an application on one API key
 * share one requests-per-second window and one tokens-per-minute budget per model, because Mistral meters
 * the workspace, not the process; this store keeps those windows in Redis so every instance sees them.
 *
 * It is a separate entry point so that users without Redis never load ioredis (an optional peer
 * dependency). docs/notes/redis.md maps the files: the key layout (keys.ts), each script's KEYS and ARGV
 * (protocol.ts), the Lua (scripts/), the clocks (time.ts).
 *
 * @example
 * ```ts
 * import { RedisStore } from 'mistral-router/redis';
 * const store = new RedisStore({ redis: process.env.REDIS_URL });
 * store.on('storeError', (event) => console.warn('Redis did not answer', event.operation, event.error.message));
 * ```
 */
export { RedisStore } from './store.js';
export type { RedisStoreEvent, RedisStoreEventType, RedisStoreOperation, RedisStoreOptions } from './options.js';
export { prefixPattern } from './keys.js';
export { StoreError, StoreUnavailableError } from '../../errors.js';
export type { QuotaStore, Reservation, ReserveRequest, ReserveResult, UpstreamObservation, WindowSnapshot } from '../types.js';
