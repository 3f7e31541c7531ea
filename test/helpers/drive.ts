/**
 * Driving a FakeClock while real I/O (a client against the emulator) is in flight, for integration tests.
 */
import type { FakeClock } from '../../lib/clock.js';
import type { MemoryStore } from '../../lib/quota/memory/index.js';

/**
 * Let pending promise work and fake timers run, in small steps, until `promise` settles or time runs out.
 * Fake time moves only while no call is in flight (up to 100 ms of real time per step, judged by the
 * store's pending reservations): a call admitted in fake second s reaches the emulator in fake second s
 * even on a cold first run, when the client's first request takes longer than a turn of the event loop.
 */
export async function drive<T>(clock: FakeClock, promise: Promise<T>, store: MemoryStore | undefined, stepMs = 50, maxMs = 120_000): Promise<T> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  for (let elapsed = 0; !settled && elapsed <= maxMs; elapsed += stepMs) {
    for (let waited = 0; store !== undefined && waited < 100 && !settled && (await store.pendingReservations()) > 0; waited += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await clock.advanceAsync(stepMs);
  }
  return promise;
}
