import { expect } from 'chai';
import { HTTPValidationError, SDKError } from '@mistralai/mistralai/models/errors';
import type { BaseModelCard } from '@mistralai/mistralai/models/components';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { chatBody, post, rejection, sdk } from './support.js';
import { catalog2025 } from '../helpers/catalog-2025.js';

describe('emulator endpoints (real SDK)', () => {
  let emulator: Emulator;
  beforeEach(async () => {
    // Requests per second unmetered: these tests are about shapes, not the free tier's 1 request/s.
    emulator = await startEmulator({ catalog: catalog2025, overrides: { requestsPerSecond: null } });
  });
  afterEach(() => emulator.stop());

  it('answers chat.complete with usage equal to the charge (prompt estimate + max_tokens)', async () => {
    const response = await sdk(emulator).chat.complete({ model: 'mistral-small-2503', messages: [{ role: 'user', content: 'hello' }], maxTokens: 10 });
    expect(response.model).to.equal('mistral-small-2503');
    expect(response.choices[0]?.message?.content).to.be.a('string').and.not.equal('');
    expect(response.choices[0]?.finishReason).to.equal('stop');
    // 3 (request) + 4 (message) + ceil(5 / 4) = 9 prompt tokens.
    expect(response.usage).to.deep.equal({ promptTokens: 9, completionTokens: 10, totalTokens: 19 });
    expect(emulator.stats().tokens['mistral-small-2503']).to.deep.equal({ requests: 1, promptTokens: 9, completionTokens: 10, totalTokens: 19, chargedTokens: 19 });
  });

  it('resolves aliases through the catalogue', async () => {
    const response = await sdk(emulator).chat.complete({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'hi' }] });
    expect(response.model).to.equal('mistral-small-2506');
    expect(response.usage.completionTokens).to.equal(256);
  });

  it('streams chunks with usage only on the last one, then [DONE]', async () => {
    const stream = await sdk(emulator).chat.stream({ model: 'mistral-small-2503', messages: [{ role: 'user', content: 'hello' }], maxTokens: 7 });
    const chunks = [];
    for await (const event of stream) chunks.push(event.data);
    expect(chunks.length).to.be.greaterThan(2);
    expect(chunks[0]?.choices[0]?.delta.role).to.equal('assistant');
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === undefined)).to.equal(true);
    const last = chunks[chunks.length - 1];
    expect(last?.choices[0]?.finishReason).to.equal('stop');
    expect(last?.usage).to.deep.equal({ promptTokens: 9, completionTokens: 7, totalTokens: 16 });
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).to.contain('deterministic');

    const raw = await post(emulator, '/v1/chat/completions', { ...chatBody('mistral-small-2503', 7), stream: true });
    expect(raw.headers.get('content-type')).to.equal('text/event-stream');
    expect(raw.text.endsWith('data: [DONE]\n\n')).to.equal(true);
  });

  it('answers embeddings with one vector per input, deterministic per text', async () => {
    const client = sdk(emulator);
    const response = await client.embeddings.create({ model: 'mistral-embed', inputs: ['hello world', 'bonjour'] });
    expect(response.data).to.have.length(2);
    expect(response.data[0]?.embedding).to.have.length(1024);
    expect(response.usage).to.deep.equal({ promptTokens: 3 + 2, completionTokens: 0, totalTokens: 5 });
    const again = await client.embeddings.create({ model: 'mistral-embed', inputs: 'hello world' });
    expect(again.data[0]?.embedding).to.deep.equal(response.data[0]?.embedding);
    expect(again.data[0]?.embedding).to.not.deep.equal(response.data[1]?.embedding);
  });

  it('answers FIM on a FIM model, plain and streamed', async () => {
    const client = sdk(emulator);
    const response = await client.fim.complete({ model: 'codestral-2501', prompt: 'def add(a, b):', suffix: 'return c', maxTokens: 20 });
    // 3 + ceil((14 + 8) / 4) = 9.
    expect(response.usage).to.deep.equal({ promptTokens: 9, completionTokens: 20, totalTokens: 29 });
    const stream = await client.fim.stream({ model: 'codestral-2501', prompt: 'x = ', maxTokens: 5 });
    let usage;
    for await (const event of stream) usage = event.data.usage ?? usage;
    expect(usage).to.deep.equal({ promptTokens: 4, completionTokens: 5, totalTokens: 9 });
  });

  it('lists the catalogue in the /v1/models shape', async () => {
    const list = await sdk(emulator).models.list();
    // Every card the emulator sends is a base model (type "base").
    const cards = (list.data ?? []) as BaseModelCard[];
    expect(cards.every((card) => card.type === 'base')).to.equal(true);
    const small = cards.find((model) => model.id === 'mistral-small-2506');
    expect(small).to.not.equal(undefined);
    expect(small?.maxContextLength).to.equal(131072);
    expect(small?.aliases).to.include('mistral-small-latest');
    expect(small?.capabilities).to.include({ completionChat: true, vision: true, functionCalling: true, completionFim: false });
    const codestral = cards.find((model) => model.id === 'codestral-2501');
    expect(codestral?.capabilities.completionFim).to.equal(true);
  });

  it('lists each alias as a card of its own, with the capabilities of its model', async () => {
    const cards = ((await sdk(emulator).models.list()).data ?? []) as BaseModelCard[];
    const ids = cards.map((card) => card.id);
    expect(new Set(ids).size, 'no id listed twice').to.equal(ids.length);
    const model = cards.find((card) => card.id === 'mistral-small-2506');
    const alias = cards.find((card) => card.id === 'mistral-small-latest');
    expect(alias).to.not.equal(undefined);
    expect(alias?.name).to.equal('mistral-small-2506');
    expect(alias?.aliases).to.deep.equal(['mistral-small-2506']);
    expect(alias?.capabilities).to.deep.equal(model?.capabilities);
    expect(alias?.maxContextLength).to.equal(model?.maxContextLength);
    expect(alias?.deprecation).to.deep.equal(model?.deprecation);
    expect(alias?.type).to.equal('base');
    // Every alias of every model has a card, and every card's name is a model the emulator serves.
    const models = cards.filter((card) => card.id === card.name);
    const aliasCards = cards.filter((card) => card.id !== card.name);
    expect(aliasCards.map((card) => card.id).sort()).to.deep.equal(models.flatMap((card) => card.aliases).sort());
    for (const card of aliasCards) expect(models.map((m) => m.id)).to.include(card.name);
    // An alias card's id is usable as a model name.
    const served = await sdk(emulator).chat.complete({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'hi' }], maxTokens: 1 });
    expect(served.model).to.equal('mistral-small-2506');
  });

  it('lists aliases a top-level alias map adds or moves, under the model they resolve to', async () => {
    const base = catalog2025;
    // A hand-made catalogue: mistral-small-latest moved to mistral-small-2503, plus a new alias.
    const moved = new Map([...base.aliases(), ['mistral-small-latest', 'mistral-small-2503'], ['small-stable', 'mistral-small-2503']]);
    const catalog = {
      models: base.models,
      model: (name: string) => base.models.find((m) => m.id === (moved.get(name) ?? name)),
      tier: (name: string) => base.tier(name),
      aliases: () => moved,
    };
    const custom = await startEmulator({ catalog });
    try {
      const cards = ((await sdk(custom).models.list()).data ?? []) as BaseModelCard[];
      expect(cards.find((card) => card.id === 'mistral-small-2503')?.aliases).to.deep.equal(['mistral-small-latest', 'small-stable']);
      expect(cards.find((card) => card.id === 'mistral-small-2506')?.aliases).to.deep.equal([]);
      expect(cards.filter((card) => card.id === 'mistral-small-latest').map((card) => card.name)).to.deep.equal(['mistral-small-2503']);
      expect(cards.find((card) => card.id === 'small-stable')?.aliases).to.deep.equal(['mistral-small-2503', 'mistral-small-latest']);
    } finally {
      await custom.stop();
    }
  });

  it('reports statistics on GET /stats', async () => {
    await sdk(emulator).chat.complete({ model: 'mistral-small-2503', messages: [{ role: 'user', content: 'hello' }], maxTokens: 1 });
    const stats = (await (await fetch(`${emulator.url}/stats`)).json()) as Record<string, unknown>;
    // /stats itself is not counted: observing must not change what is observed.
    expect(stats['requests']).to.equal(1);
    expect(stats['responses']).to.deep.equal({ '200': 1 });
    expect(stats['tokens']).to.deep.equal({ 'mistral-small-2503': { requests: 1, promptTokens: 9, completionTokens: 1, totalTokens: 10, chargedTokens: 10 } });
  });

  describe('errors', () => {
    it('401 for a missing key, with a request id', async () => {
      const response = await post(emulator, '/v1/chat/completions', chatBody('mistral-small-2503'), null);
      expect(response.status).to.equal(401);
      expect(response.json).to.have.property('message', 'Unauthorized');
      expect(response.json).to.have.property('request_id').that.is.a('string');
    });

    it('401 for a key outside apiKeys, through the SDK', async () => {
      emulator.configure({ apiKeys: ['good-key'] });
      const error = await rejection(sdk(emulator, 'bad-key').chat.complete({ model: 'mistral-small-2503', messages: [{ role: 'user', content: 'x' }] }));
      expect(error).to.be.instanceOf(SDKError);
      expect(error.statusCode).to.equal(401);
      const ok = await sdk(emulator, 'good-key').chat.complete({ model: 'mistral-small-2503', messages: [{ role: 'user', content: 'x' }] });
      expect(ok.choices).to.have.length(1);
      expect((await rejection(sdk(emulator, 'bad-key').models.list())).statusCode).to.equal(401);
    });

    it('400 invalid_model for an unknown model', async () => {
      const error = await rejection(sdk(emulator).chat.complete({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }));
      expect(error.statusCode).to.equal(400);
      expect(JSON.parse(error.body ?? '')).to.deep.equal({ object: 'error', message: 'Invalid model: no-such-model', type: 'invalid_model', param: null, code: '1500' });
    });

    it('400 for a capability the model lacks', async () => {
      const client = sdk(emulator);
      const embeddings = await rejection(client.embeddings.create({ model: 'mistral-small-2503', inputs: 'x' }));
      expect(embeddings.statusCode).to.equal(400);
      expect(embeddings.body).to.contain('does not support embeddings');
      const fim = await rejection(client.fim.complete({ model: 'mistral-small-2503', prompt: 'x' }));
      expect(fim.statusCode).to.equal(400);
      const image = [{ role: 'user' as const, content: [{ type: 'image_url' as const, imageUrl: 'https://example.com/a.png' }] }];
      const vision = await rejection(client.chat.complete({ model: 'open-mistral-nemo', messages: image }));
      expect(vision.statusCode).to.equal(400);
      expect(vision.body).to.contain('image');
      // The same image to a vision model is served, and charged 256 tokens for the part.
      const served = await client.chat.complete({ model: 'pixtral-12b-2409', messages: image, maxTokens: 1 });
      expect(served.usage.promptTokens).to.equal(3 + 4 + 256);
      const audio = [{ role: 'user' as const, content: [{ type: 'input_audio' as const, inputAudio: 'AAAA' }] }];
      expect((await rejection(client.chat.complete({ model: 'mistral-small-2503', messages: audio }))).statusCode).to.equal(400);
      expect((await client.chat.complete({ model: 'voxtral-mini-2507', messages: audio, maxTokens: 1 })).usage.promptTokens).to.equal(3 + 4 + 1000);
      const chatOnEmbed = await rejection(client.chat.complete({ model: 'mistral-embed', messages: [{ role: 'user', content: 'x' }] }));
      expect(chatOnEmbed.statusCode).to.equal(400);
    });

    it('400 "too large for model with" when prompt + max_tokens exceed the context window', async () => {
      // mistral-small-2501 has 32,768 tokens: 9 prompt tokens + 32,760 = 32,769.
      const error = await rejection(sdk(emulator).chat.complete({ model: 'mistral-small-2501', messages: [{ role: 'user', content: 'hello' }], maxTokens: 32760 }));
      expect(error.statusCode).to.equal(400);
      expect(JSON.parse(error.body ?? '{}').message).to.contain('too large for model with 32768');
      const fits = await sdk(emulator).chat.complete({ model: 'mistral-small-2501', messages: [{ role: 'user', content: 'hello' }], maxTokens: 32759 });
      expect(fits.usage.totalTokens).to.equal(32768);
    });

    it('422 in the HTTPValidationError shape for malformed JSON and missing fields', async () => {
      const malformed = await post(emulator, '/v1/chat/completions', '{"model":');
      expect(malformed.status).to.equal(422);
      expect((malformed.json as { detail: { type: string }[] }).detail[0]?.type).to.equal('json_invalid');
      const missing = await post(emulator, '/v1/embeddings', { model: 'mistral-embed' });
      expect(missing.status).to.equal(422);
      expect(missing.json).to.deep.equal({ detail: [{ type: 'missing', loc: ['body', 'input'], msg: 'Field required', input: { model: 'mistral-embed' } }] });
      const error = await rejection(sdk(emulator).chat.complete({ model: 'mistral-small-2503', messages: [] }));
      expect(error).to.be.instanceOf(HTTPValidationError);
      expect((error as HTTPValidationError).detail?.[0]?.loc).to.deep.equal(['body', 'messages']);
    });

    it('404 and 405 for unknown paths and methods', async () => {
      expect((await fetch(`${emulator.url}/v1/nothing`)).status).to.equal(404);
      expect((await fetch(`${emulator.url}/v1/chat/completions`)).status).to.equal(405);
    });

    it('charges nothing for refused requests', async () => {
      await post(emulator, '/v1/chat/completions', chatBody('no-such-model'));
      await post(emulator, '/v1/chat/completions', '{');
      expect(emulator.stats().tokens).to.deep.equal({});
      expect(emulator.stats().responses).to.deep.equal({ '400': 1, '422': 1 });
    });
  });
});
