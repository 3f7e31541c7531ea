/**
 * The typed events of a store (the Redis store's connection, the fallback wrapper's switches): a union of
 * `{ type }` objects, listened to by type. A store extends {@link StoreEvents}. A listener that throws is
 * ignored, so that its bug never turns a store's answer into a failure.
 */

/** The operations of a QuotaStore, as store events name them. */
export type StoreOperation = 'reserve' | 'settle' | 'release' | 'observe' | 'snapshot' | 'pendingReservations';

export class StoreEvents<E extends { readonly type: string }> {
  readonly #listeners = new Map<E['type'], Set<(event: never) => void>>();

  /** Listen to one kind of event. */
  on<T extends E['type']>(type: T, listener: (event: Extract<E, { type: T }>) => void): this {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (event: never) => void);
    return this;
  }

  /** Stop listening. */
  off<T extends E['type']>(type: T, listener: (event: Extract<E, { type: T }>) => void): this {
    this.#listeners.get(type)?.delete(listener as (event: never) => void);
    return this;
  }

  /** `onEvent` (an option) listens to every type named. */
  protected listenAll(types: ReadonlyArray<E['type']>, onEvent: ((event: E) => void) | undefined): void {
    if (onEvent !== undefined) for (const type of types) this.on(type, onEvent as (event: Extract<E, { type: typeof type }>) => void);
  }

  protected emit(event: E): void {
    for (const listener of this.#listeners.get(event.type) ?? []) {
      try {
        (listener as (event: E) => void)(event);
      } catch {
        // A listener's bug must not turn a store answer into a failure.
      }
    }
  }
}
