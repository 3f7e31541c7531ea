/**
 * The emulator's answers beyond plain text (replies.ts): tool calls, JSON of a schema, thinking parts,
 * through the real SDK and as raw wire bodies; the schema sampler as a pure function.
 */
import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { sampleOf } from '../../lib/emulator/replies.js';
import { catalog2025 } from '../helpers/catalog-2025.js';
import { post, sdk } from './support.js';

const weather = { type: 'function' as const, function: { name: 'weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 3 } }, required: ['city', 'days'] } } };

describe('emulator replies: tools, JSON, reasoning', () => {
  let emulator: Emulator;
  beforeEach(async () => {
    emulator = await startEmulator({ catalog: catalog2025, overrides: { requestsPerSecond: null } });
  });
  afterEach(() => emulator.stop());

  it('calls the first tool with arguments sampled from its schema, then answers the tool result in text', async () => {
    const client = sdk(emulator);
    const first = await client.chat.complete({ model: 'mistral-small-2506', messages: [{ role: 'user', content: 'weather in Paris?' }], tools: [weather] });
    const choice = first.choices[0];
    expect(choice?.finishReason).to.equal('tool_calls');
    const call = choice?.message?.toolCalls?.[0];
    expect(call?.function.name).to.equal('weather');
    expect(JSON.parse(call?.function.arguments as string)).to.deep.equal({ city: 'city', days: 3 });
    expect(call?.id).to.match(/^[A-Za-z0-9]{9}$/);

    const second = await client.chat.complete({
      model: 'mistral-small-2506',
      tools: [weather],
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        { role: 'assistant', content: '', toolCalls: [{ id: call?.id as string, function: { name: 'weather', arguments: call?.function.arguments as string } }] },
        { role: 'tool', toolCallId: call?.id as string, name: 'weather', content: '{"sky":"clear"}' },
      ],
    });
    expect(second.choices[0]?.finishReason).to.equal('stop');
    expect(second.choices[0]?.message?.content).to.equal('The tool weather answered: {"sky":"clear"}');
  });

  it('calls no tool with tool_choice none, and the named one when tool_choice names it', async () => {
    const other = { type: 'function' as const, function: { name: 'time', parameters: { type: 'object', properties: {} } } };
    const none = await post(emulator, '/v1/chat/completions', { model: 'mistral-small-2506', messages: [{ role: 'user', content: 'hi' }], tools: [weather, other], tool_choice: 'none' });
    expect((none.json as { choices: { finish_reason: string }[] }).choices[0]?.finish_reason).to.equal('stop');
    const named = await post(emulator, '/v1/chat/completions', { model: 'mistral-small-2506', messages: [{ role: 'user', content: 'hi' }], tools: [weather, other], tool_choice: { type: 'function', function: { name: 'time' } } });
    const message = (named.json as { choices: { message: { tool_calls: { function: { name: string; arguments: string } }[] } }[] }).choices[0]?.message;
    expect(message?.tool_calls[0]?.function).to.deep.equal({ name: 'time', arguments: '{}' });
  });

  it('streams a tool call whole in one chunk, finishing with tool_calls', async () => {
    const stream = await sdk(emulator).chat.stream({ model: 'mistral-small-2506', messages: [{ role: 'user', content: 'weather?' }], tools: [weather], toolChoice: 'any' });
    const chunks = [];
    for await (const event of stream) chunks.push(event.data);
    const calls = chunks.flatMap((chunk) => chunk.choices[0]?.delta.toolCalls ?? []);
    expect(calls).to.have.length(1);
    expect(calls[0]?.function).to.deep.equal({ name: 'weather', arguments: '{"city":"city","days":3}' });
    expect(chunks.at(-1)?.choices[0]?.finishReason).to.equal('tool_calls');
  });

  it('answers a json_schema response format with a value of the schema, in one body or streamed', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string', minLength: 6 }, tags: { type: 'array', items: { enum: ['a', 'b'] }, minItems: 2 }, score: { type: 'number', maximum: 0.5 } }, required: ['name'] };
    const responseFormat = { type: 'json_schema' as const, jsonSchema: { name: 'thing', schemaDefinition: schema } };
    const response = await sdk(emulator).chat.complete({ model: 'mistral-small-2506', messages: [{ role: 'user', content: 'a thing' }], responseFormat });
    expect(JSON.parse(response.choices[0]?.message?.content as string)).to.deep.equal({ name: 'namexx', tags: ['a', 'a'], score: 0.5 });
    const stream = await sdk(emulator).chat.stream({ model: 'mistral-small-2506', messages: [{ role: 'user', content: 'a thing' }], responseFormat });
    let text = '';
    let chunks = 0;
    for await (const event of stream) {
      text += (event.data.choices[0]?.delta.content as string | undefined) ?? '';
      chunks++;
    }
    expect(chunks).to.be.greaterThan(3);
    expect(JSON.parse(text)).to.deep.equal({ name: 'namexx', tags: ['a', 'a'], score: 0.5 });
    const object = await post(emulator, '/v1/chat/completions', { model: 'mistral-small-2506', messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_object' } });
    expect(JSON.parse((object.json as { choices: { message: { content: string } }[] }).choices[0]?.message.content as string)).to.have.property('reply').that.contains('deterministic');
  });

  it('answers a reasoning model asked to reason with a thinking part before the text; others as before', async () => {
    const thought = await post(emulator, '/v1/chat/completions', { model: 'magistral-small-2507', messages: [{ role: 'user', content: 'why?' }], reasoning_effort: 'high' });
    const content = (thought.json as { choices: { message: { content: { type: string }[] } }[] }).choices[0]?.message.content;
    expect(content?.map((part) => part.type)).to.deep.equal(['thinking', 'text']);
    const plain = await post(emulator, '/v1/chat/completions', { model: 'magistral-small-2507', messages: [{ role: 'user', content: 'why?' }] });
    expect((plain.json as { choices: { message: { content: unknown } }[] }).choices[0]?.message.content).to.be.a('string');
    const notReasoning = await post(emulator, '/v1/chat/completions', { model: 'mistral-small-2506', messages: [{ role: 'user', content: 'why?' }], reasoning_effort: 'high' });
    expect((notReasoning.json as { choices: { message: { content: unknown } }[] }).choices[0]?.message.content).to.be.a('string');
  });
});

describe('emulator replies: the schema sampler', () => {
  it('follows const, enum, anyOf (skipping null), allOf, local $ref, formats and bounds', () => {
    const schema = {
      type: 'object',
      properties: {
        kind: { const: 'fixed' },
        when: { type: 'string', format: 'date-time' },
        maybe: { anyOf: [{ type: 'null' }, { type: 'integer', exclusiveMinimum: 4 }] },
        both: { allOf: [{ type: 'boolean' }] },
        ref: { $ref: '#/$defs/point' },
        short: { type: 'string', maxLength: 2 },
        nullable: { type: ['null', 'number'] },
      },
      $defs: { point: { type: 'object', properties: { x: { type: 'number', minimum: -2 } } } },
    };
    expect(sampleOf(schema)).to.deep.equal({ kind: 'fixed', when: '2026-01-01T00:00:00Z', maybe: 5, both: true, ref: { x: -2 }, short: 'sh', nullable: 1 });
    expect(sampleOf({ type: 'array', items: { type: 'string' }, minItems: 3, maxItems: 2 }, 'tag')).to.deep.equal(['tag', 'tag']);
    expect(sampleOf(undefined)).to.equal(null);
  });
});
