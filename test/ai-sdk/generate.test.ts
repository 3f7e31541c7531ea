/**
 * The provider through the real `ai` package: generateText, streamText, generateObject, a tool loop,
 * image and audio parts, reasoning, embeddings; routing by need, 'auto' and alias; the decision in
 * providerMetadata. Errors and fallbacks: failures.test.ts.
 */
import { expect } from 'chai';
import { createProviderRegistry, embed, embedMany, generateObject, generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { closeAll, expectNothingReserved, PNG_1X1, routing, setup } from './support.js';

const weather = tool({
  description: 'The weather in a city',
  inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false }),
  execute: async ({ city }) => ({ city, sky: 'clear' }),
});

describe('ai-sdk provider: generateText and streamText through the router', () => {
  afterEach(closeAll);

  it('generateText by need: the answering model, its usage, the decision in providerMetadata, the router events', async () => {
    const s = await setup();
    const result = await s.run(generateText({ model: s.provider({ need: { capabilities: ['vision', 'function_calling'] } }), prompt: 'hello there', maxOutputTokens: 20 }));
    expect(result.text).to.equal('This is a deterministic reply from the mistral-router emulator (mistral-small-2506).');
    expect(result.response.modelId).to.equal('mistral-small-2506');
    // The emulator's charge: 3 + 4 + ceil(11 / 4) prompt tokens, max_tokens completion tokens.
    expect([result.usage.inputTokens, result.usage.outputTokens, result.usage.totalTokens]).to.deep.equal([10, 20, 30]);
    expect(result.finishReason).to.equal('stop');
    const metadata = routing(result);
    // The fake clock moves while a request is in flight: the duration is whatever it moved.
    expect(metadata).to.deep.equal({
      endpoint: 'chat',
      model: 'mistral-small-2506',
      workspace: 'team-a',
      attempts: [{ workspace: 'team-a', model: 'mistral-small-2506', outcome: 'ok', status: 200, durationMs: metadata.attempts[0]?.durationMs }],
      passedOver: [],
      waitedMs: 0,
      tokens: { estimated: metadata.tokens.estimated, used: 30 },
      costUsd: null,
      replaced: null,
      warnings: [],
    });
    expect(metadata.tokens.estimated, 'prompt estimate + maxOutputTokens').to.be.greaterThan(20);
    expect(s.events.map((e) => e.name)).to.deep.equal(['decision', 'done']);
    expect(s.emulator.stats().tokens['mistral-small-2506']?.requests).to.equal(1);
    await expectNothingReserved(s);
  });

  const routes: { name: string; route: Parameters<Awaited<ReturnType<typeof setup>>['provider']>[0]; modelId: string; answered: string }[] = [
    { name: "'auto' (the smallest chat model)", route: 'auto', modelId: 'auto', answered: 'mistral-saba-2502' },
    { name: 'an alias', route: 'mistral-small-latest', modelId: 'mistral-small-latest', answered: 'mistral-small-2506' },
    { name: 'a model id', route: 'open-mistral-nemo', modelId: 'open-mistral-nemo', answered: 'open-mistral-nemo' },
    { name: 'a need for reasoning', route: { need: { capabilities: ['reasoning'] } }, modelId: 'auto', answered: 'magistral-small-2507' },
    { name: 'a need with a model to try first', route: { model: 'pixtral-12b-2409', need: { capabilities: ['vision'] } }, modelId: 'pixtral-12b-2409', answered: 'pixtral-12b-2409' },
  ];
  for (const row of routes) {
    it(`routes ${row.name} -> ${row.answered}`, async () => {
      const s = await setup();
      const model = s.provider(row.route);
      expect(model.modelId).to.equal(row.modelId);
      const result = await s.run(generateText({ model, prompt: 'hi', maxOutputTokens: 10 }));
      expect(result.response.modelId).to.equal(row.answered);
      expect(routing(result).model).to.equal(row.answered);
    });
  }

  it('streamText: the text in several deltas, the usage of the last chunk, the final decision on finish, settled after', async () => {
    const s = await setup();
    const result = streamText({ model: s.provider.languageModel('mistral-small-latest'), prompt: 'hello there', maxOutputTokens: 20 });
    const deltas: string[] = [];
    await s.run(
      (async () => {
        for await (const delta of result.textStream) deltas.push(delta);
      })(),
    );
    expect(deltas.length).to.be.greaterThan(3);
    expect(deltas.join('')).to.equal('This is a deterministic reply from the mistral-router emulator (mistral-small-2506).');
    expect((await result.response).modelId).to.equal('mistral-small-2506');
    expect((await result.usage).totalTokens).to.equal(30);
    expect(await result.finishReason).to.equal('stop');
    const metadata = routing({ providerMetadata: await result.providerMetadata });
    expect(metadata.model).to.equal('mistral-small-2506');
    expect(metadata.tokens.used, 'the final decision, with the stream usage').to.equal(30);
    expect(s.events.map((e) => e.name)).to.deep.equal(['decision', 'done']);
    await expectNothingReserved(s);
  });

  it('generateObject with a JSON schema: an object of the schema, from the smallest model of the family', async () => {
    const s = await setup();
    const schema = jsonSchema<{ name: string; rating: number; tags: string[] }>({
      type: 'object',
      properties: { name: { type: 'string' }, rating: { type: 'integer', minimum: 1, maximum: 5 }, tags: { type: 'array', items: { type: 'string' } } },
      required: ['name', 'rating', 'tags'],
      additionalProperties: false,
    });
    const result = await s.run(generateObject({ model: s.provider({ need: { family: 'mistral-small' } }), schema, prompt: 'rate it' }));
    expect(result.object).to.deep.equal({ name: 'name', rating: 1, tags: ['tags'] });
    expect(routing(result).model).to.equal('mistral-small-2501');
    await expectNothingReserved(s);
  });

  it('a tool loop: the model calls the tool, the result goes back, the model answers it; each step routed', async () => {
    const s = await setup();
    const result = await s.run(generateText({ model: s.provider('auto'), prompt: 'weather in Paris?', tools: { weather }, stopWhen: stepCountIs(4) }));
    expect(result.steps).to.have.length(2);
    const [first, second] = result.steps;
    expect(first?.finishReason).to.equal('tool-calls');
    expect(first?.toolCalls.map((call) => [call.toolName, call.input])).to.deep.equal([['weather', { city: 'city' }]]);
    expect(first?.toolResults.map((r) => r.output)).to.deep.equal([{ city: 'city', sky: 'clear' }]);
    expect(result.text).to.equal('The tool weather answered: {"city":"city","sky":"clear"}');
    // Tools imply function_calling: the smallest model with it, for both steps.
    expect([first?.response.modelId, second?.response.modelId]).to.deep.equal(['mistral-small-2501', 'mistral-small-2501']);
    expect(routing(second as never).model).to.equal('mistral-small-2501');
    await expectNothingReserved(s);
  });

  it('call settings Mistral supports and tool choice reach Mistral as its own fields (what the router sends)', async () => {
    const sent: Record<string, unknown>[] = [];
    // The router's own fetch: what leaves for the emulator, after the router chose the model.
    const s = await setup({}, {
      fetch: async (input, init) => {
        const request = new Request(input, init);
        sent.push((await request.clone().json()) as Record<string, unknown>);
        return fetch(request);
      },
    });
    const result = await s.run(
      generateText({ model: s.provider('auto'), prompt: 'weather?', tools: { weather }, toolChoice: { type: 'tool', toolName: 'weather' }, maxOutputTokens: 7, temperature: 0.3, topP: 0.9, seed: 42, stopSequences: ['END'], presencePenalty: 0.5, frequencyPenalty: 0.25 }),
    );
    expect(result.warnings ?? []).to.deep.equal([]);
    expect(sent).to.have.length(1);
    expect(sent[0]).to.deep.include({ model: 'mistral-small-2501', max_tokens: 7, temperature: 0.3, top_p: 0.9, random_seed: 42, stop: ['END'], presence_penalty: 0.5, frequency_penalty: 0.25, tool_choice: 'any' });
    // A forced tool: only that tool is offered.
    expect((sent[0]?.tools as { function: { name: string } }[]).map((t) => t.function.name)).to.deep.equal(['weather']);
    await expectNothingReserved(s);
  });

  it('streamText with a tool call: the call arrives as a tool-call part and the loop goes on', async () => {
    const s = await setup();
    const result = streamText({ model: s.provider('auto'), prompt: 'weather?', tools: { weather }, stopWhen: stepCountIs(3) });
    const parts: string[] = [];
    await s.run(
      (async () => {
        for await (const part of result.fullStream) parts.push(part.type);
      })(),
    );
    expect(parts).to.include.members(['tool-call', 'tool-result', 'text-delta']);
    expect(await result.text).to.equal('The tool weather answered: {"city":"city","sky":"clear"}');
    await expectNothingReserved(s);
  });

  it('an image part routes to a vision model and is sent as an image (256 prompt tokens)', async () => {
    const s = await setup();
    const result = await s.run(generateText({ model: s.provider('auto'), messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', image: PNG_1X1, mediaType: 'image/png' }] }], maxOutputTokens: 10 }));
    expect(result.response.modelId).to.equal('mistral-small-2506');
    expect(result.usage.inputTokens).to.be.greaterThan(256);
  });

  it('an audio part (which @ai-sdk/mistral alone refuses) routes to an audio model and is sent as input_audio (1,000 prompt tokens)', async () => {
    const s = await setup();
    const audio = Uint8Array.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0]);
    const result = await s.run(generateText({ model: s.provider('auto'), messages: [{ role: 'user', content: [{ type: 'text', text: 'transcribe' }, { type: 'file', data: audio, mediaType: 'audio/mpeg' }] }], maxOutputTokens: 10 }));
    expect(result.response.modelId).to.equal('voxtral-small-2507');
    expect(result.usage.inputTokens).to.be.greaterThan(1000);
  });

  it("reasoning parts where the model returns them (providerOptions.mistral.reasoningEffort passes through)", async () => {
    const s = await setup();
    const result = await s.run(generateText({ model: s.provider({ need: { capabilities: ['reasoning'] } }), prompt: 'why?', maxOutputTokens: 10, providerOptions: { mistral: { reasoningEffort: 'high' } } }));
    expect(result.reasoningText).to.equal('Thinking about the request (magistral-small-2507).');
    expect(result.text).to.contain('magistral-small-2507');
  });

  it('is a ProviderV3: a provider registry resolves its ids (a route string after the prefix)', async () => {
    const s = await setup();
    const registry = createProviderRegistry({ router: s.provider });
    const result = await s.run(generateText({ model: registry.languageModel('router:mistral-small-latest'), prompt: 'hi', maxOutputTokens: 5 }));
    expect(result.response.modelId).to.equal('mistral-small-2506');
    expect(registry.embeddingModel('router:auto').provider).to.equal('mistral-router.embedding');
    expect(() => registry.imageModel('router:anything')).to.throw(/No such imageModel/);
  });

  it('call settings Mistral lacks come back as the AI SDK warnings; a call may change the need in providerOptions.mistralRouter', async () => {
    const s = await setup();
    const result = await s.run(generateText({ model: s.provider('auto'), prompt: 'hi', maxOutputTokens: 5, topK: 3, providerOptions: { mistralRouter: { need: { capabilities: ['audio'] } } } }));
    expect(result.warnings).to.deep.include({ type: 'unsupported', feature: 'topK' });
    expect(result.response.modelId).to.equal('voxtral-small-2507');
  });
});

describe('ai-sdk provider: embeddings through the router', () => {
  afterEach(closeAll);

  it('embed and embedMany route to an embedding model, with the decision in providerMetadata', async () => {
    const s = await setup();
    const one = await s.run(embed({ model: s.provider.embeddingModel('auto'), value: 'hello world' }));
    expect(one.embedding).to.have.length(1024);
    expect(one.usage.tokens).to.equal(3);
    expect(routing(one)).to.include({ endpoint: 'embeddings', model: 'mistral-embed', workspace: 'team-a' });
    const many = await s.run(embedMany({ model: s.provider.textEmbeddingModel('mistral-embed'), values: ['hello world', 'bonjour'] }));
    expect(many.embeddings).to.have.length(2);
    expect(many.embeddings[0]).to.deep.equal(one.embedding);
    expect(many.embeddings[1]).to.not.deep.equal(one.embedding);
    await expectNothingReserved(s);
  });
});
