/**
 * The router on today's lineup: the bundled 2026 catalogue, the emulator's lifecycle and model lists, the
 * real SDK, one fake clock. Retired models are never sent, named ones reach their replacement, "Invalid
 * model" costs one request per (workspace, model) and unavailableMs, and a refresh from /v1/models
 * changes what is routable.
 */
import { expect } from 'chai';
import { loadCatalog } from '../../lib/catalog/index.js';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../lib/emulator/index.js';
import { ConfigError, NoEligibleModelError, UpstreamError } from '../../lib/errors.js';
import { createRouter, type Router, type RouterEvents, type RouterOptions } from '../../lib/index.js';
import type { Capability } from '../../lib/catalog/types.js';
import { catalog2025 } from '../helpers/catalog-2025.js';

const KEY_A = 'sk-lifecycle-key-a-0123456789';
const KEY_B = 'sk-lifecycle-key-b-9876543210';
const DECEMBER = Date.UTC(2026, 11, 7, 12);
const bundled = loadCatalog();

interface Setup {
  readonly clock: FakeClock;
  readonly emulator: Emulator;
  readonly router: Router;
  readonly events: { name: keyof RouterEvents; event: Record<string, unknown> }[];
}

const open: Setup[] = [];
afterEach(async () => {
  while (open.length > 0) {
    const s = open.pop() as Setup;
    await s.router.close();
    await s.emulator.stop();
  }
});

async function setup(emulatorOptions: Partial<EmulatorOptions> = {}, routerOptions: Partial<RouterOptions> = {}, at = DECEMBER): Promise<Setup> {
  const clock = new FakeClock(at);
  const emulator = await startEmulator({ tier: 'free', clock, apiKeys: [KEY_A, KEY_B], overrides: { requestsPerSecond: null }, ...emulatorOptions });
  const router = createRouter({
    workspaces: [{ name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { requestsPerSecond: null } }],
    serverURL: emulator.url,
    clock,
    ...routerOptions,
  });
  const events: Setup['events'] = [];
  for (const name of ['deprecated', 'modelUnavailable', 'catalogRefreshed', 'catalogRefreshFailed', 'cardSkipped', 'fallback'] as const) {
    router.events.on(name, (event) => events.push({ name, event: event as unknown as Record<string, unknown> }));
  }
  const s = { clock, emulator, router, events };
  open.push(s);
  return s;
}

const hi = [{ role: 'user' as const, content: 'hi' }];
const image = 'data:image/png;base64,iVBORw0KGgo=';
const audio = 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=';

describe('router: the lifecycle on the clock', () => {
  it('routes every capability of the old table to a current model, and sends nothing to a retired one', async () => {
    const { router, emulator } = await setup();
    const day = bundled.lifecycleOn(DECEMBER);
    const answered: string[] = [];
    const chatNeeds: Capability[][] = [['chat'], ['vision'], ['function_calling'], ['json_mode'], ['reasoning'], ['audio'], ['code'], ['vision', 'function_calling']];
    for (const capabilities of chatNeeds) {
      answered.push((await router.chat.complete({ need: { capabilities }, messages: hi, maxTokens: 5 })).routing.model);
    }
    answered.push((await router.chat.complete({ messages: [{ role: 'user', content: [{ type: 'image_url', imageUrl: image }] }], maxTokens: 5 })).routing.model);
    answered.push((await router.chat.complete({ messages: [{ role: 'user', content: [{ type: 'input_audio', inputAudio: audio }] }], maxTokens: 5 })).routing.model);
    answered.push((await router.fim.complete({ prompt: 'def f():', maxTokens: 5 })).routing.model);
    answered.push((await router.embeddings.create({ inputs: ['a'] })).routing.model);
    for (const model of answered) expect(day.status(model), model).to.equal('current');
    expect(emulator.stats().invalidModel).to.deep.equal({});
  });

  it('sends a request naming a retired model (by id or by an alias that pointed at it) to its replacement, and says so', async () => {
    const { router, events, emulator } = await setup();
    const byId = await router.chat.complete({ model: 'mistral-small-2506', messages: hi, maxTokens: 5 });
    expect(byId.model).to.equal('mistral-small-2603');
    expect(byId.routing.replaced).to.deep.equal({ requested: 'mistral-small-2506', by: 'mistral-small-2603', reason: 'retired' });
    expect(byId.routing.plan.rejected.find((r) => r.model === 'mistral-small-2506')?.reason).to.match(/retired on 2026-07-31/);
    await router.chat.complete({ model: 'mistral-small-2506', messages: hi, maxTokens: 5 });
    // One event per model, however many requests name it.
    expect(events.filter((e) => e.name === 'deprecated')).to.deep.equal([{ name: 'deprecated', event: { model: 'mistral-small-2506', status: 'retired', retired: '2026-07-31', replacement: 'mistral-small-2603' } }]);
    expect(emulator.stats().invalidModel).to.deep.equal({});
    const current = await router.chat.complete({ model: 'mistral-small-2603', messages: hi, maxTokens: 5 });
    expect(current.routing.replaced).to.equal(undefined);
    expect(current.routing.warnings).to.deep.equal([]);
  });

  it('uses a deprecated model when named, reports it once, and ranks it after current ones otherwise', async () => {
    // 2026-06-01: mistral-small-2506 is deprecated (retires 2026-07-31), not retired.
    const { router, events } = await setup({}, {}, Date.UTC(2026, 5, 1, 12));
    const named = await router.chat.complete({ model: 'mistral-small-2506', messages: hi, maxTokens: 5 });
    expect(named.routing.model).to.equal('mistral-small-2506');
    expect(named.routing.warnings).to.have.length(1);
    expect(named.routing.warnings[0]).to.include({ model: 'mistral-small-2506', status: 'deprecated', retired: '2026-07-31', replacement: 'mistral-small-2603' });
    expect(events.filter((e) => e.name === 'deprecated').map((e) => e.event.model)).to.deep.equal(['mistral-small-2506']);
    const plan = await router.plan('chat', { need: { capabilities: ['vision'] }, messages: hi });
    const order = [...new Set(plan.candidates.map((c) => c.model))];
    const day = bundled.lifecycleOn(Date.UTC(2026, 5, 1, 12));
    const firstDeprecated = order.findIndex((m) => day.status(m) === 'deprecated');
    expect(firstDeprecated).to.be.greaterThan(0);
    for (const model of order.slice(firstDeprecated)) expect(day.status(model), model).to.equal('deprecated');
  });

  it('learns a retirement from x-model-deprecation-timestamp and stops routing to the model from that day', async () => {
    // The router's catalogue (mid-2025) knows of no retirement; the API announces it on its responses.
    const { router, clock, events, emulator } = await setup({}, { catalog: catalog2025 }, Date.UTC(2026, 6, 30, 12));
    const before = await router.chat.complete({ model: 'mistral-small-2506', messages: hi, maxTokens: 5 });
    expect(before.routing.model).to.equal('mistral-small-2506');
    expect(router.catalog.model('mistral-small-2506')?.deprecation?.retired).to.equal('2026-07-31');
    expect(events.find((e) => e.name === 'deprecated')?.event).to.include({ model: 'mistral-small-2506', status: 'deprecated' });
    clock.advance(86_400_000);
    const after = await router.plan('chat', { model: 'mistral-small-2506', messages: hi });
    expect(after.candidates.map((c) => c.model)).to.not.include('mistral-small-2506');
    expect(after.rejected.find((r) => r.model === 'mistral-small-2506')?.reason).to.match(/retired on 2026-07-31/);
    expect(emulator.stats().invalidModel).to.deep.equal({});
  });

  it('costs one refused request per (workspace, model) for a model the API refuses, then none until unavailableMs passes', async () => {
    const served = bundled.models.filter((m) => m.id !== 'ministral-3b-2512').map((m) => m.id);
    const { router, clock, emulator, events } = await setup({ modelsByKey: { [KEY_A]: served } }, { unavailableMs: 60_000 });
    const need = { capabilities: ['vision' as const, 'function_calling' as const] };
    const first = await router.chat.complete({ need, messages: hi, maxTokens: 5 });
    expect(first.routing.attempts.map((a) => [a.model, a.outcome])).to.deep.equal([['ministral-3b-2512', 'invalid-model'], [first.routing.model, 'ok']]);
    expect(events.filter((e) => e.name === 'modelUnavailable').map((e) => e.event)).to.deep.equal([{ workspace: 'team-a', model: 'ministral-3b-2512', until: DECEMBER + 60_000, status: 400 }]);
    for (let i = 0; i < 3; i++) expect((await router.chat.complete({ need, messages: hi, maxTokens: 5 })).routing.attempts).to.have.length(1);
    expect(emulator.stats().invalidModel).to.deep.equal({ 'ministral-3b-2512': 1 });
    clock.advance(60_000);
    await router.chat.complete({ need, messages: hi, maxTokens: 5 });
    expect(emulator.stats().invalidModel).to.deep.equal({ 'ministral-3b-2512': 2 });
  });

  it('gives a named model the API refuses, with no replacement and no fallback left, a typed error naming it', async () => {
    const { router } = await setup({ modelsByKey: { [KEY_A]: ['mistral-embed'] } });
    const error = await router.chat.complete({ model: 'mistral-small-2603', messages: hi, maxTokens: 5, need: { exclude: bundled.models.map((m) => m.id).filter((id) => id !== 'mistral-small-2603') } }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(UpstreamError);
    expect((error as UpstreamError).message).to.match(/mistral-small-2603 via workspace team-a failed \(HTTP 400, invalid-model\)/);
  });

  it('refreshes from /v1/models: a model the bundled catalogue lacks becomes routable by its capabilities; one a workspace does not list is not a candidate for it', async () => {
    const card = { id: 'mistral-small-2612', name: 'mistral-small-2612', max_context_length: 262_144, aliases: [], capabilities: { completion_chat: true, vision: true, audio: true } };
    const subset = [...bundled.models.map((m) => m.id).filter((id) => id !== 'voxtral-small-2507'), 'mistral-small-2612'];
    const { router, events } = await setup({ extraCards: [card], modelsByKey: { [KEY_B]: subset } }, {
      workspaces: [
        { name: 'team-a', apiKey: KEY_A, tier: 'free', overrides: { requestsPerSecond: null } },
        { name: 'team-b', apiKey: KEY_B, tier: 'free', overrides: { requestsPerSecond: null } },
      ],
    });
    const both = { need: { capabilities: ['vision' as const, 'audio' as const] }, messages: hi, maxTokens: 5 };
    expect(await router.chat.complete(both).catch((e: unknown) => e)).to.be.instanceOf(NoEligibleModelError);
    const report = await router.refreshCatalog();
    expect(report).to.deep.include({ refreshed: ['team-a', 'team-b'], failed: [], added: ['mistral-small-2612'] });
    expect(events.some((e) => e.name === 'catalogRefreshed')).to.equal(true);
    expect((await router.chat.complete(both)).routing.model).to.equal('mistral-small-2612');
    const voxtral = await router.plan('chat', { model: 'voxtral-small-2507', messages: hi });
    expect(voxtral.candidates.filter((c) => c.model === 'voxtral-small-2507').map((c) => c.workspace)).to.deep.equal(['team-a']);
    const call = await router.chat.complete({ model: 'voxtral-small-2507', messages: hi, maxTokens: 5 });
    expect(call.routing.workspace).to.equal('team-a');
  });

  it('keeps the last good view when a refresh fails, and refreshes on the clock with refreshCatalog.intervalMs', async () => {
    const card = { id: 'mistral-small-2612', name: 'mistral-small-2612', max_context_length: 262_144, aliases: [], capabilities: { completion_chat: true, vision: true, audio: true } };
    const { router, emulator, clock, events } = await setup({ extraCards: [card] }, { refreshCatalog: { intervalMs: 60_000 } });
    await router.chat.complete({ messages: hi, maxTokens: 5 });
    // The first call started a refresh in the background; the next ones find it done.
    for (let i = 0; i < 20 && router.catalog.model('mistral-small-2612') === undefined; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(router.catalog.model('mistral-small-2612')).to.not.equal(undefined);
    const refreshes = () => events.filter((e) => e.name === 'catalogRefreshed' || e.name === 'catalogRefreshFailed').length;
    await router.chat.complete({ messages: hi, maxTokens: 5 });
    expect(refreshes()).to.equal(1);
    // A key the API no longer takes: the list fails with 401.
    emulator.configure({ apiKeys: [KEY_B] });
    expect((await router.refreshCatalog()).failed.map((f) => f.workspace)).to.deep.equal(['team-a']);
    expect(events.find((e) => e.name === 'catalogRefreshFailed')?.event).to.include({ workspace: 'team-a' });
    expect(router.catalog.model('mistral-small-2612')).to.not.equal(undefined);
    emulator.configure({ apiKeys: [KEY_A, KEY_B] });
    clock.advance(60_000);
    const count = refreshes();
    await router.chat.complete({ messages: hi, maxTokens: 5 });
    for (let i = 0; i < 20 && refreshes() === count; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(refreshes()).to.equal(count + 1);
  });

  it('refuses bad refresh and unavailability options', () => {
    const base = { workspaces: [{ name: 'a', apiKey: 'k', tier: 'free' }] };
    expect(() => createRouter({ ...base, refreshCatalog: { intervalMs: 10 } })).to.throw(ConfigError, /refreshCatalog.intervalMs/);
    expect(() => createRouter({ ...base, refreshCatalog: {} as never })).to.throw(ConfigError, /refreshCatalog.intervalMs.*required/);
    expect(() => createRouter({ ...base, refreshCatalog: { intervalMs: 60_000, every: 1 } as never })).to.throw(ConfigError, /refreshCatalog.every/);
    expect(() => createRouter({ ...base, unavailableMs: -1 })).to.throw(ConfigError, /unavailableMs/);
  });
});
