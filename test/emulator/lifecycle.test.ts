import { expect } from 'chai';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { CARD_CAPABILITIES } from '../../lib/catalog/index.js';
import { chatBody, post, rejection, sdk } from './support.js';

const DECEMBER = Date.UTC(2026, 11, 7, 12);
const INVALID = (model: string) => `{"object":"error","message":"Invalid model: ${model}","type":"invalid_model","param":null,"code":"1500"}`;

async function models(emulator: Emulator, key = 'workspace-a'): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${emulator.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  return ((await response.json()) as { data: Record<string, unknown>[] }).data;
}

describe('emulator: the lifecycle by its clock', () => {
  const open: Emulator[] = [];
  afterEach(async () => {
    while (open.length > 0) await open.pop()?.stop();
  });
  const start = async (options: Parameters<typeof startEmulator>[0] = {}) => {
    const emulator = await startEmulator({ overrides: { requestsPerSecond: null }, ...options });
    open.push(emulator);
    return emulator;
  };

  it('answers a retired model with Mistral\'s 400 Invalid model, and serves it the day before', async () => {
    const clock = new FakeClock(Date.UTC(2026, 6, 30, 23));
    const emulator = await start({ clock });
    const served = await sdk(emulator).chat.complete({ model: 'mistral-small-2506', messages: [{ role: 'user', content: 'hi' }], maxTokens: 1 });
    expect(served.model).to.equal('mistral-small-2506');
    clock.advance(3_600_000); // 2026-07-31, its retirement day
    const refused = await post(emulator, '/v1/chat/completions', chatBody('mistral-small-2506', 1));
    expect(refused.status).to.equal(400);
    expect(refused.text).to.equal(INVALID('mistral-small-2506'));
    const error = await rejection(sdk(emulator).chat.complete({ model: 'open-mistral-nemo', messages: [{ role: 'user', content: 'hi' }] }));
    expect(error.statusCode).to.equal(400);
    expect(emulator.stats().invalidModel).to.deep.equal({ 'mistral-small-2506': 1, 'open-mistral-nemo': 1 });
    // Its replacement is served.
    expect((await post(emulator, '/v1/chat/completions', chatBody('mistral-small-2603', 1))).status).to.equal(200);
  });

  it('answers 404 unknown_model instead, as Mistral\'s docs describe, when asked to', async () => {
    const emulator = await start({ clock: new FakeClock(DECEMBER), invalidModelStatus: 404 });
    const refused = await post(emulator, '/v1/chat/completions', chatBody('pixtral-12b-2409', 1));
    expect(refused.status).to.equal(404);
    expect(refused.json).to.deep.equal({ object: 'error', message: 'Invalid model: pixtral-12b-2409', type: 'invalid_request_error', param: 'model', code: 'unknown_model' });
    // A name no catalogue knows stays the 400 Mistral sends.
    expect((await post(emulator, '/v1/chat/completions', chatBody('gpt-4', 1))).status).to.equal(400);
    expect(() => emulator.configure({ invalidModelStatus: 410 as never })).to.throw(TypeError, /invalidModelStatus must be 400 or 404/);
  });

  it('lists in /v1/models only the models served that day, each card with every field of the API', async () => {
    const emulator = await start({ clock: new FakeClock(Date.UTC(2026, 5, 1)) });
    const june = await models(emulator);
    const small = june.find((card) => card.id === 'mistral-small-2506');
    expect(small).to.include({ object: 'model', owned_by: 'mistralai', name: 'mistral-small-2506', max_context_length: 131072, deprecation: '2026-07-31T00:00:00.000Z', deprecation_replacement_model: 'mistral-small-2603', type: 'base', default_model_temperature: null });
    for (const field of ['id', 'object', 'created', 'owned_by', 'name', 'description', 'max_context_length', 'aliases', 'deprecation', 'deprecation_replacement_model', 'default_model_temperature', 'type', 'capabilities']) {
      expect(small, field).to.have.property(field);
    }
    expect(Object.keys(small?.capabilities as object)).to.have.members([...CARD_CAPABILITIES]);
    expect(june.map((card) => card.id)).to.not.include('mistral-small-2503');
    const december = await startEmulator({ clock: new FakeClock(DECEMBER) });
    open.push(december);
    const ids = (await models(december)).map((card) => card.id);
    expect(ids).to.include.members(['mistral-small-2603', 'mistral-small-latest', 'ministral-8b-2512']);
    expect(ids).to.not.include.members(['mistral-small-2506', 'open-mistral-nemo', 'open-mistral-nemo-2407']);
    // The SDK parses every card.
    const list = await sdk(december).models.list();
    expect((list.data ?? []).map((card) => (card as { id: string }).id)).to.deep.equal(ids);
  });

  it('serves a key only its subset of models, when told to', async () => {
    const emulator = await start({ clock: new FakeClock(DECEMBER), modelsByKey: { 'workspace-a': ['mistral-small-latest', 'mistral-embed'] } });
    const ids = (await models(emulator, 'workspace-a')).map((card) => card.id);
    expect(ids).to.have.members(['mistral-small-2603', 'mistral-small-latest', 'mistral-embed', 'mistral-embed-2312']);
    expect((await post(emulator, '/v1/chat/completions', chatBody('ministral-8b-2512', 1), 'workspace-a')).text).to.equal(INVALID('ministral-8b-2512'));
    expect((await post(emulator, '/v1/chat/completions', chatBody('mistral-small-2603', 1), 'workspace-a')).status).to.equal(200);
    // Another key is served every model.
    expect((await post(emulator, '/v1/chat/completions', chatBody('ministral-8b-2512', 1), 'workspace-b')).status).to.equal(200);
    expect((await models(emulator, 'workspace-b')).length).to.be.greaterThan(ids.length);
    emulator.configure({ modelsByKey: {} });
    expect((await post(emulator, '/v1/chat/completions', chatBody('ministral-8b-2512', 1), 'workspace-a')).status).to.equal(200);
  });

  it('adds cards the catalogue lacks: listed, and served by their capabilities and context', async () => {
    const card = { id: 'mistral-small-2612', name: 'mistral-small-2612', max_context_length: 1000, aliases: ['mistral-small-next'], capabilities: { completion_chat: true, function_calling: true } };
    const emulator = await start({ clock: new FakeClock(DECEMBER), extraCards: [card] });
    const listed = (await models(emulator)).find((entry) => entry.id === 'mistral-small-2612');
    expect(listed).to.include({ object: 'model', type: 'base', max_context_length: 1000, deprecation: null });
    expect(Object.keys(listed?.capabilities as object)).to.have.members([...CARD_CAPABILITIES]);
    const served = await sdk(emulator).chat.complete({ model: 'mistral-small-next', messages: [{ role: 'user', content: 'hi' }], maxTokens: 1 });
    expect(served.model).to.equal('mistral-small-2612');
    const image = { model: 'mistral-small-2612', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 'data:image/png;base64,AAAA' }] }], max_tokens: 1 };
    expect((await post(emulator, '/v1/chat/completions', image)).text).to.match(/does not support image input/);
    expect((await post(emulator, '/v1/chat/completions', chatBody('mistral-small-2612', 5000))).text).to.match(/too large for model with 1000 maximum context length/);
    expect(() => emulator.configure({ extraCards: [{ id: 'x', capabilities: { telepathy: true } } as never] })).to.throw(TypeError, /extraCards\[0\].*telepathy/);
  });
});
