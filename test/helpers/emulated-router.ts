/**
 * Routers against the project's emulator, both on one fake clock started mid-second (so second boundaries
 * are visible in assertions), with the router's events recorded; every setup of a suite closes after
 * each test (`afterEach(() => setups.closeAll())`).
 */
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../lib/emulator/index.js';
import { createRouter, type Router, type RouterEvents, type RouterOptions } from '../../lib/index.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import { catalog2025 } from './catalog-2025.js';

export interface EmulatedSetup {
  readonly clock: FakeClock;
  readonly emulator: Emulator;
  readonly router: Router;
  readonly store: MemoryStore;
  readonly events: { name: keyof RouterEvents; event: unknown }[];
}

export interface EmulatedDefaults {
  /** The keys the emulator accepts. */
  readonly apiKeys: readonly string[];
  readonly workspaces: RouterOptions['workspaces'];
  /** The router events recorded in `events`. */
  readonly events: readonly (keyof RouterEvents)[];
}

export class EmulatedSetups {
  readonly #defaults: EmulatedDefaults;
  readonly #open: EmulatedSetup[] = [];

  constructor(defaults: EmulatedDefaults) {
    this.#defaults = defaults;
  }

  /** A router (catalog2025, the defaults' workspaces, a MemoryStore) against a new emulator (free tier). */
  async setup(emulatorOptions: Partial<EmulatorOptions> = {}, routerOptions: Partial<RouterOptions> = {}): Promise<EmulatedSetup> {
    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
    const emulator = await startEmulator({ catalog: catalog2025, tier: 'free', clock, apiKeys: [...this.#defaults.apiKeys], ...emulatorOptions });
    const store = new MemoryStore({ clock });
    const router = createRouter({ catalog: catalog2025, workspaces: this.#defaults.workspaces, serverURL: emulator.url, clock, store, ...routerOptions });
    const events: EmulatedSetup['events'] = [];
    for (const name of this.#defaults.events) router.events.on(name, (event) => events.push({ name, event }));
    return this.track({ clock, emulator, router, store, events });
  }

  /** A setup built by hand, closed with the others. */
  track(setup: EmulatedSetup): EmulatedSetup {
    this.#open.push(setup);
    return setup;
  }

  /** The setup made last (its store is the one a test drives). */
  get last(): EmulatedSetup | undefined {
    return this.#open.at(-1);
  }

  async closeAll(): Promise<void> {
    while (this.#open.length > 0) {
      const s = this.#open.pop() as EmulatedSetup;
      await s.router.close();
      await s.emulator.stop();
    }
  }
}
