/**
 * The official clients, unchanged, against the gateway (`serverURL` / `baseURL`), the gateway routing to
 * the emulator: JSON and streamed chat, tools, images, response_format, embeddings, FIM, the model list.
 */
import { Mistral } from '@mistralai/mistralai';
import { HTTPClient } from '@mistralai/mistralai/lib/http.js';
import type { BaseModelCard } from '@mistralai/mistralai/models/components/index.js';
import { expect } from 'chai';
import OpenAI from 'openai';
import { catalog2025 } from '../helpers/catalog-2025.js';
import { ALPHA_KEY, BETA_KEY, baseConfig, chatBody, expectNoSecret, raw, setup } from './support.js';

const mistral = (url: string, key = ALPHA_KEY) => new Mistral({ apiKey: key, serverURL: url, retryConfig: { strategy: 'none' } });
const openai = (url: string, key = ALPHA_KEY) => new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 });

const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city_name: { type: 'string' } }, required: ['city_name'] } },
};

describe('gateway: the official clients, unchanged', () => {
  it('Mistral SDK: a chat completion by route, with the decision in headers and the answering model in the body', async () => {
    const { url, emulator, store } = await setup();
    const headers: Headers[] = [];
    const httpClient = new HTTPClient();
    httpClient.addHook('response', (response) => void headers.push(response.headers));
    const client = new Mistral({ apiKey: ALPHA_KEY, serverURL: url, httpClient });
    const result = await client.chat.complete({
      model: 'vision-chat',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', imageUrl: { url: 'data:image/png;base64,AAAA' } }] }],
      tools: [weatherTool],
      maxTokens: 30,
    });
    expect(result.model).to.equal('mistral-small-2506');
    // With tools, the emulator calls one, its arguments sampled from the tool's schema.
    const call = result.choices[0]?.message?.toolCalls?.[0];
    expect(call?.function.name).to.equal('get_weather');
    expect(JSON.parse(String(call?.function.arguments))).to.have.property('city_name');
    expect(result.usage.totalTokens).to.be.greaterThan(30);
    expect(headers[0]?.get('x-mistral-router-model')).to.equal('mistral-small-2506');
    expect(headers[0]?.get('x-mistral-router-attempts')).to.equal('1');
    expect(headers[0]?.get('x-mistral-router-fallbacks')).to.equal('');
    expect(emulator.stats().requests).to.equal(1);
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('OpenAI client: chat by model alias and `auto`, max_completion_tokens and seed mapped, JSON output', async () => {
    const { url } = await setup();
    const client = openai(url);
    const byAlias = await client.chat.completions.create({ model: 'mistral-small-latest', messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'hi' }], max_completion_tokens: 25, seed: 7 });
    expect(byAlias.model).to.equal('mistral-small-2506');
    expect(byAlias.usage?.completion_tokens).to.equal(25);
    const { data, response } = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: 'answer in JSON' }], response_format: { type: 'json_object' }, max_tokens: 10 })
      .withResponse();
    expect(response.headers.get('x-mistral-router-model')).to.equal(data.model);
    expect(data.choices[0]?.finish_reason).to.equal('stop');
  });

  it('a need in the body routes `auto` by it (Mistral SDK via an extra field, raw JSON via curl)', async () => {
    const { url } = await setup();
    const reply = await raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('auto', { need: { capabilities: ['reasoning'] } }) });
    expect(reply.status).to.equal(200);
    expect(reply.headers.get('x-mistral-router-model')).to.equal('magistral-small-2507');
    const refused = await raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('vision-chat', { need: { capabilities: ['reasoning'] } }) });
    expect(refused.status).to.equal(400);
    expect(refused.json().param).to.equal('need');
  });

  it('streams as server-sent events ending with [DONE]; both clients read them; usage on the last chunk', async () => {
    const { url, store } = await setup();
    const sse = await raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('mistral-small-latest', { stream: true }) });
    expect(sse.status).to.equal(200);
    expect(sse.headers.get('content-type')).to.equal('text/event-stream');
    expect(sse.headers.get('x-mistral-router-model')).to.equal('mistral-small-2506');
    const events = sse.text.split('\n\n').filter((e) => e !== '');
    expect(events.at(-1)).to.equal('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)) as { model: string; usage?: { total_tokens: number }; choices: { delta: { content?: string } }[] });
    expect(chunks.every((c) => c.model === 'mistral-small-2506')).to.equal(true);
    expect(chunks.at(-1)?.usage?.total_tokens).to.be.greaterThan(20);

    const fromMistral: string[] = [];
    for await (const event of await mistral(url).chat.stream({ model: 'vision-chat', messages: [{ role: 'user', content: 'hi' }], maxTokens: 10 })) {
      fromMistral.push(String(event.data.choices[0]?.delta.content ?? ''));
    }
    expect(fromMistral.join('')).to.contain('(mistral-small-2506).');

    const stream = await openai(url).chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: false }, max_tokens: 10 });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage ??= chunk.usage;
    }
    expect(text).to.contain('deterministic reply');
    expect(usage, 'include_usage: false leaves usage out').to.equal(undefined);
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('tools: a conversation with a tool call and its result goes to a function-calling model', async () => {
    const { url, emulator } = await setup();
    const { data, response } = await openai(url)
      .chat.completions.create({
        model: 'auto',
        messages: [
          { role: 'user', content: 'weather in Paris?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city_name":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":21}' },
        ],
        tools: [weatherTool],
        tool_choice: 'auto',
        max_tokens: 10,
      })
      .withResponse();
    const model = response.headers.get('x-mistral-router-model') ?? '';
    expect(catalog2025.model(model)?.capabilities).to.include('function_calling');
    expect(data.model).to.equal(model);
    expect(emulator.stats().requests).to.equal(1);
  });

  it('embeddings: Mistral SDK floats; OpenAI client its default base64 (decoded to the same vector) and floats', async () => {
    const { url } = await setup();
    const fromMistral = await mistral(url).embeddings.create({ model: 'embed', inputs: ['alpha', 'beta'] });
    const vector = fromMistral.data[0]?.embedding ?? [];
    expect(fromMistral.model).to.equal('mistral-embed');
    expect(vector.length).to.be.greaterThan(100);
    const client = openai(url);
    const decoded = await client.embeddings.create({ model: 'mistral-embed', input: ['alpha', 'beta'] });
    expect(decoded.data).to.have.length(2);
    const first = decoded.data[0]?.embedding ?? [];
    expect(first.length).to.equal(vector.length);
    first.forEach((value, i) => expect(value).to.be.closeTo(vector[i] as number, 1e-6));
    const floats = await client.embeddings.create({ model: 'embed', input: 'alpha', encoding_format: 'float' });
    expect(floats.data[0]?.embedding).to.deep.equal(vector);
    const mapped = await raw(`${url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'embed', input: 'alpha', dimensions: 64 }) });
    expect((mapped.json().data as { embedding: number[] }[])[0]?.embedding).to.have.length(64);
  });

  it('FIM: the Mistral SDK completes code through the gateway', async () => {
    const { url } = await setup();
    const result = await mistral(url).fim.complete({ model: 'codestral-2501', prompt: 'def add(a, b):', suffix: '\n', maxTokens: 12 });
    expect(result.model).to.equal('codestral-2501');
    expect(result.usage.completionTokens).to.equal(12);
  });

  it('GET /v1/models lists what each key may call: routes, auto and models; both clients parse it', async () => {
    const { url } = await setup();
    const all = (await mistral(url).models.list()).data as BaseModelCard[];
    const ids = all.map((card) => card.id);
    expect(ids.slice(0, 3)).to.deep.equal(['vision-chat', 'embed', 'auto']);
    expect(ids).to.include('mistral-small-2506').and.to.include('mistral-embed');
    const vision = all.find((card) => card.id === 'vision-chat');
    expect(vision?.capabilities.vision).to.equal(true);
    expect(vision?.maxContextLength).to.equal(60000);
    const beta: string[] = [];
    for await (const model of openai(url, BETA_KEY).models.list()) beta.push(model.id);
    expect(beta.slice(0, 1)).to.deep.equal(['embed']);
    expect(beta).not.to.include('vision-chat');
    expect(beta).not.to.include('auto');
  });

  it('GET /v1/models/{id}: both clients retrieve a route, a model (also by an alias) the key may call; 404 otherwise', async () => {
    const { url } = await setup();
    const route = await mistral(url).models.retrieve({ modelId: 'vision-chat' });
    expect((route as { id: string }).id).to.equal('vision-chat');
    const model = await openai(url).models.retrieve('mistral-small-2506');
    expect(model.id).to.equal('mistral-small-2506');
    const alias = (await raw(`${url}/v1/models/mistral-embed`)).json();
    expect(alias.id).to.equal('mistral-embed');
    // beta may use the route embed only.
    let refused: unknown;
    await openai(url, BETA_KEY).models.retrieve('vision-chat').catch((error: unknown) => (refused = error));
    expect((refused as { status?: number }).status).to.equal(404);
    expect((await raw(`${url}/v1/models/no-such-model`)).status).to.equal(404);
    expect((await raw(`${url}/v1/models/vision-chat`, { key: null })).status).to.equal(401);
  });

  it('an audio part (OpenAI\'s input_audio { data, format }) routes to an audio model', async () => {
    const { url, emulator } = await setup();
    const reply = await openai(url).chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'transcribe this' }, { type: 'input_audio', input_audio: { data: 'UklGRgAAAABXQVZF', format: 'wav' } }] }],
      max_tokens: 10,
    });
    expect(catalog2025.model(reply.model)?.capabilities).to.include('audio');
    expect(emulator.stats().requests).to.equal(1);
  });

  it('the access log is off by default: nothing is written for a request', async () => {
    const { url, logs } = await setup({ config: (u) => baseConfig(u, { server: { port: 0 } }) });
    expect((await raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('auto') })).status).to.equal(200);
    expect(logs).to.deep.equal([]);
  });

  it('no key ever appears in a response, a header or the access log', async () => {
    const { url, logs } = await setup();
    const seen: string[] = [];
    for (const [path, body] of [
      ['/v1/chat/completions', chatBody('auto')],
      ['/v1/chat/completions', chatBody('auto', { stream: true })],
      ['/v1/chat/completions', chatBody('nope')],
      ['/v1/embeddings', JSON.stringify({ model: 'embed', input: 'x' })],
    ] as const) {
      const reply = await raw(`${url}${path}`, { method: 'POST', body });
      seen.push(reply.text, JSON.stringify([...reply.headers]));
    }
    const wrong = await raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('auto'), key: `${ALPHA_KEY}x` });
    seen.push(wrong.text, JSON.stringify([...wrong.headers]));
    expect(logs.length).to.equal(5);
    const line = JSON.parse(logs[0] as string) as Record<string, unknown>;
    expect(line).to.include({ method: 'POST', path: '/v1/chat/completions', status: 200, key: 'alpha', route: 'auto', attempts: 1 });
    expect(JSON.parse(logs[4] as string)).to.include({ status: 401, key: null });
    expectNoSecret(...seen, ...logs);
  });
});
