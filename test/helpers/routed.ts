/**
 * A router on the real SDK against the emulator, both on one fake clock, and the bounded ways a test
 * waits for it: `drive` (fake time in steps while no call is in flight), `until` (real time, for the I/O
 * the fake clock does not drive). Every wait has a fixed maximum and fails naming what it waited for.
 */
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../lib/emulator/index.js';
import { createRouter, type Router, type RouterEvents, type RouterOptions } from '../../lib/index.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import { catalog2025 } from './catalog-2025.js';

/** Mid-second, so that second boundaries show in the assertions. */
export const START = Date.UTC(2026, 10, 28, 12, 0, 0, 500);

export interface Routed {
  readonly clock: FakeClock;
  readonly emulator: Emulator;
  readonly router: Router;
  readonly store: MemoryStore;
  readonly events: { name: keyof RouterEvents; event: unknown }[];
}

export interface RoutedOptions {
  /** The emulator's keys; the router's one workspace, `team-a`, uses the first. */
  readonly apiKeys: readonly string[];
  readonly emulator?: Partial<EmulatorOptions>;
  readonly router?: Partial<RouterOptions>;
  /** The router's serverURL, from the emulator's (a proxy in front of it). @default the emulator's */
  readonly serverURL?: (emulatorURL: string) => Promise<string> | string;
  /** The events recorded in `events`. */
  readonly record?: readonly (keyof RouterEvents)[];
}

const open: Routed[] = [];

export async function startRouted(options: RoutedOptions): Promise<Routed> {
  const clock = new FakeClock(START);
  const emulator = await startEmulator({ catalog: catalog2025, tier: 'free', clock, apiKeys: options.apiKeys, ...options.emulator });
  const store = new MemoryStore({ clock });
  const serverURL = options.serverURL === undefined ? emulator.url : await options.serverURL(emulator.url);
  const router = createRouter({
    catalog: catalog2025,
    workspaces: [{ name: 'team-a', apiKey: options.apiKeys[0] as string, tier: 'free' }],
    serverURL,
    clock,
    store,
    ...options.router,
  });
  const events: Routed['events'] = [];
  for (const name of options.record ?? []) router.events.on(name, (event) => events.push({ name, event }));
  const routed = { clock, emulator, router, store, events };
  open.push(routed);
  return routed;
}

/** Close every router and emulator started since the last call (an afterEach hook). */
export async function closeRouted(): Promise<void> {
  while (open.length > 0) {
    const s = open.pop() as Routed;
    await s.router.close();
    await s.emulator.stop();
  }
}

/** A promise's outcome, to look at later without an unhandled rejection. */
export function track<T>(promise: Promise<T>): { value?: T; error?: unknown; done: boolean } {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then((value) => Object.assign(state, { value, done: true }), (error: unknown) => Object.assign(state, { error, done: true }));
  return state;
}

/** The error `promise` rejects with; fails the test when it resolves. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

const turn = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Settle `promise` by moving the fake clock `stepMs` at a time, at most `maxSteps` times. Before each step
 * the call's I/O may run: while a reservation is out (a call in flight), up to 100 turns of 1 ms of real
 * time, so that a call admitted in fake second s reaches the emulator in fake second s even when the
 * SDK's first request is slow.
 */
export async function drive<T>(s: Pick<Routed, 'clock' | 'store'>, promise: Promise<T>, stepMs = 50, maxSteps = 2_400): Promise<T> {
  const call = track(promise);
  for (let step = 0; !call.done; step++) {
    if (step === maxSteps) throw new Error(`the call did not settle within ${maxSteps} steps of ${stepMs} ms of fake time`);
    for (let waited = 0; waited < 100 && !call.done && (await s.store.pendingReservations()) > 0; waited++) await turn(1);
    if (!call.done) await s.clock.advanceAsync(stepMs);
  }
  return promise;
}

/** Wait in real time, at most `maxTurns` turns of 5 ms, until `condition` holds; else fail naming `what`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, maxTurns = 400): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (await condition()) return;
    await turn(5);
  }
  throw new Error(`gave up waiting for ${what} after ${maxTurns} turns of 5 ms`);
}
