/**
 * The AI SDK provider's tests: the real `ai` package calling a provider over a router whose upstream is
 * the project's emulator, all on one fake clock (the free tier's 1 request/s is real, waits are instant).
 */
import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { createMistralRouterProvider, type MistralRouterMetadata, type MistralRouterProvider } from '../../lib/ai-sdk/index.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../lib/emulator/index.js';
import { createRouter, type Router, type RouterEvents, type RouterOptions } from '../../lib/index.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import { catalog2025 } from '../helpers/catalog-2025.js';
import { drive } from '../helpers/drive.js';

// The warnings are asserted on results; the AI SDK would also print each one.
(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

export const KEY_A = 'sk-test-key-workspace-a-0123456789';
export const KEY_B = 'sk-test-key-workspace-b-9876543210';

export interface Setup {
  readonly clock: FakeClock;
  readonly emulator: Emulator;
  readonly router: Router;
  readonly store: MemoryStore;
  readonly provider: MistralRouterProvider;
  readonly events: { name: keyof RouterEvents; event: unknown }[];
  /** Runs a call with the fake clock driven until it settles. */
  run<T>(promise: Promise<T>): Promise<T>;
}

const open: Setup[] = [];

export async function setup(emulatorOptions: Partial<EmulatorOptions> = {}, routerOptions: Partial<RouterOptions> = {}): Promise<Setup> {
  const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
  const emulator = await startEmulator({ catalog: catalog2025, tier: 'free', clock, apiKeys: [KEY_A, KEY_B], ...emulatorOptions });
  const store = new MemoryStore({ clock });
  const router = createRouter({ catalog: catalog2025, workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }], serverURL: emulator.url, clock, store, ...routerOptions });
  const events: Setup['events'] = [];
  for (const name of ['decision', 'fallback', 'wait', 'exhausted', 'cooldown', 'done'] as const) router.events.on(name, (event) => events.push({ name, event }));
  const provider = createMistralRouterProvider({ router });
  const s: Setup = { clock, emulator, router, store, provider, events, run: (promise) => drive(clock, promise, store) };
  open.push(s);
  return s;
}

/**
 * Closes every router and emulator a test set up (mocha's afterEach), after checking that nothing stays
 * reserved once a test's calls have ended, whatever they did (answered, fell back, failed, aborted).
 */
export async function closeAll(): Promise<void> {
  const leftOver: string[] = [];
  while (open.length > 0) {
    const s = open.pop() as Setup;
    const pending = await s.store.pendingReservations();
    if (pending !== 0) leftOver.push(`${pending} reservation(s) still pending`);
    await s.router.close();
    await s.emulator.stop();
  }
  if (leftOver.length > 0) throw new Error(`after the test: ${leftOver.join('; ')}`);
}

/** `providerMetadata.mistralRouter` of a result, typed. */
export function routing(result: { providerMetadata?: Record<string, unknown> | undefined }): MistralRouterMetadata {
  const metadata = result.providerMetadata?.mistralRouter;
  expect(metadata, 'providerMetadata.mistralRouter').to.be.an('object');
  return metadata as MistralRouterMetadata;
}

export async function expectNothingReserved(s: Setup): Promise<void> {
  expect(await s.store.pendingReservations(), 'reservations left open').to.equal(0);
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** Every string in an object graph (errors with their causes, metadata), to check that no key leaks. */
export function allText(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object' || seen.has(value)) return '';
  seen.add(value);
  const parts: string[] = [];
  if (value instanceof Error) parts.push(value.message, value.stack ?? '', allText(value.cause, seen));
  for (const key of Object.keys(value)) parts.push(key, allText((value as Record<string, unknown>)[key], seen));
  return parts.join('\n');
}

/** The smallest valid PNG (1x1), as the bytes an application would read from a file. */
export const PNG_1X1 = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'));
