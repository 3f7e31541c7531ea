/** The in-process quota store; its parts (slab, window table, eviction, pending ring) stay internal. */
export { MemoryStore, type MemoryStoreOptions } from './store.js';
