/**
 * The gateway under test: the real gateway (startGateway) in front of the project's emulator, both on one
 * fake clock and the mid-2025 catalogue, with limits lifted unless a test sets its own. Keys and upstream
 * secrets are long, recognisable strings, so that a test can search every byte it saw for them.
 */
import type { Catalog } from '../../lib/catalog/catalog.js';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../lib/emulator/index.js';
import { startGateway, type Gateway, type GatewayConfigInput } from '../../lib/gateway/index.js';
import { MemoryStore } from '../../lib/quota/memory/index.js';
import type { QuotaStore } from '../../lib/quota/types.js';
import { catalog2025 } from '../helpers/catalog-2025.js';

export const UPSTREAM_KEY = 'sk-upstream-workspace-secret-0123456789abcdef';
export const ALPHA_KEY = 'sk-gw-alpha-secret-0123456789abcdef';
export const BETA_KEY = 'sk-gw-beta-secret-0123456789abcdef';
/** Every secret of the setup: none may appear in a response, header or log line. */
export const SECRETS = [UPSTREAM_KEY, ALPHA_KEY, BETA_KEY] as const;

export interface GatewaySetup {
  readonly clock: FakeClock;
  readonly emulator: Emulator;
  readonly gateway: Gateway;
  readonly store: QuotaStore;
  /** Access-log and warning lines. */
  readonly logs: string[];
  /** The gateway's base URL (Mistral's `serverURL`); OpenAI's `baseURL` is `${url}/v1`. */
  readonly url: string;
}

const open: GatewaySetup[] = [];

/** A configuration: one workspace on the emulator, key `alpha` (everything) and `beta` (route `embed` only). */
export function baseConfig(emulatorUrl: string, changes: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    server: { port: 0, accessLog: true },
    router: { serverURL: emulatorUrl, maxWaitMs: 0 },
    workspaces: [{ name: 'team', apiKey: '${UPSTREAM}', tier: 'free', overrides: { requestsPerSecond: 1000 } }],
    routes: {
      'vision-chat': { need: { capabilities: ['vision', 'function_calling'], minContext: 60000 }, maxWaitMs: 0 },
      embed: { need: { capabilities: ['embedding'] } },
    },
    keys: [
      { name: 'alpha', key: '${GW_ALPHA}' },
      { name: 'beta', key: '${GW_BETA}', routes: ['embed'] },
    ],
    ...changes,
  };
}

export async function setup(
  options: { emulator?: Partial<EmulatorOptions>; config?: (emulatorUrl: string) => GatewayConfigInput; store?: QuotaStore; catalog?: Catalog } = {},
): Promise<GatewaySetup> {
  const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 500));
  const catalog = options.catalog ?? catalog2025;
  const emulator = await startEmulator({ catalog, tier: 'free', clock, apiKeys: [UPSTREAM_KEY], overrides: { requestsPerSecond: 1000 }, ...options.emulator });
  const store = options.store ?? new MemoryStore({ clock });
  const logs: string[] = [];
  const gateway = await startGateway({
    config: (options.config ?? baseConfig)(emulator.url),
    env: { UPSTREAM: UPSTREAM_KEY, GW_ALPHA: ALPHA_KEY, GW_BETA: BETA_KEY },
    catalog,
    clock,
    store,
    log: (line) => logs.push(line),
  });
  const s = { clock, emulator, gateway, store, logs, url: gateway.url };
  open.push(s);
  return s;
}

/** Closes every gateway and emulator the test opened (mocha's root afterEach calls it). */
export async function teardown(): Promise<void> {
  while (open.length > 0) {
    const s = open.pop() as GatewaySetup;
    await s.gateway.close();
    await s.emulator.stop();
  }
}

afterEach(teardown);

/** A raw request (as curl sends it): the status, the headers and the body text. */
export async function raw(url: string, init: RequestInit & { key?: string | null } = {}): Promise<{ status: number; headers: Headers; text: string; json: () => Record<string, unknown> }> {
  const headers = new Headers(init.headers);
  if (init.key !== null) headers.set('authorization', `Bearer ${init.key ?? ALPHA_KEY}`);
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const response = await fetch(url, { ...init, headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** A chat body. */
export function chatBody(model: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 20, ...extra });
}

/** Throws if any secret occurs in `texts` (bodies, header dumps, log lines). */
export function expectNoSecret(...texts: string[]): void {
  for (const text of texts) {
    for (const secret of SECRETS) {
      if (text.includes(secret)) throw new Error(`a secret (${secret.slice(0, 8)}…) leaked into: ${text.slice(0, 200)}`);
    }
  }
}
