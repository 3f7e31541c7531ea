/**
 * The typed listeners of a store's events (the Redis store's connection, the fallback wrapper's switches):
 * a union of `{ type }` objects, listened to by type. A listener that throws is ignored, so that its bug
 * never turns a store's answer into a failure.
 */
/** The operations of a QuotaStore, as store events name them. */
export type StoreOperation = 'reserve' | 'settle' | 'release' | 'observe' | 'snapshot' | 'pendingReservations';

export class StoreListeners<E extends { readonly type: string }> {
  readonly #listeners = new Map<E['type'], Set<(event: never) => void>>();

  on<T extends E['type']>(type: T, listener: (event: Extract<E, { type: T }>) => void): void {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (event: never) => void);
  }

  off<T extends E['type']>(type: T, listener: (event: Extract<E, { type: T }>) => void): void {
    this.#listeners.get(type)?.delete(listener as (event: never) => void);
  }

  /** `onEvent` (an option) listens to every type named. */
  listenAll(types: ReadonlyArray<E['type']>, onEvent: ((event: E) => void) | undefined): void {
    if (onEvent !== undefined) for (const type of types) this.on(type, onEvent as (event: Extract<E, { type: typeof type }>) => void);
  }

  emit(event: E): void {
    for (const listener of this.#listeners.get(event.type) ?? []) {
      try {
        (listener as (event: E) => void)(event);
      } catch {
        // A listener's bug must not turn a store answer into a failure.
      }
    }
  }
}
