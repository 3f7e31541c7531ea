/**
 * A router on the priced test catalogue against the emulator, both on one fake clock: what the cost,
 * telemetry, `cheapest` and budget tests start from. `closeAll()` (in an afterEach) stops what was opened.
 */
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../lib/emulator/index.js';
import { createRouter, type Router, type RouterEvents, type RouterOptions } from '../../lib/index.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import type { QuotaStore } from '../../lib/quota/types.js';
import { catalogPriced } from './catalog-priced.js';

export const KEY_A = 'sk-priced-key-workspace-a-0123456789';
export const KEY_B = 'sk-priced-key-workspace-b-9876543210';
/** Mid-month, mid-second: month and second boundaries are visible in the assertions. */
export const START = Date.UTC(2026, 5, 15, 12, 0, 0, 500);

export interface PricedSetup {
  readonly clock: FakeClock;
  readonly emulator: Emulator;
  readonly router: Router;
  readonly store: QuotaStore;
  readonly events: { name: keyof RouterEvents; event: Record<string, unknown> }[];
}

const open: PricedSetup[] = [];

export async function pricedRouter(routerOptions: Partial<RouterOptions> = {}, emulatorOptions: Partial<EmulatorOptions> = {}, store?: QuotaStore): Promise<PricedSetup> {
  const clock = new FakeClock(START);
  const emulator = await startEmulator({ catalog: catalogPriced, tier: 'free', clock, apiKeys: [KEY_A, KEY_B], ...emulatorOptions });
  const quota = store ?? new MemoryStore({ clock });
  const router = createRouter({
    catalog: catalogPriced,
    workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free' }],
    serverURL: emulator.url,
    clock,
    store: quota,
    ...routerOptions,
  });
  const events: PricedSetup['events'] = [];
  for (const name of ['decision', 'fallback', 'wait', 'exhausted', 'done'] as const) {
    router.events.on(name, (event) => events.push({ name, event: event as unknown as Record<string, unknown> }));
  }
  const setup = { clock, emulator, router, store: quota, events };
  open.push(setup);
  return setup;
}

export async function closeAll(): Promise<void> {
  while (open.length > 0) {
    const s = open.pop() as PricedSetup;
    await s.router.close();
    await s.emulator.stop();
  }
}

export const text = (content: string) => [{ role: 'user' as const, content }];
