import { expect } from 'chai';
import {
  ChatCompletionRequest$outboundSchema,
  ChatCompletionResponse$inboundSchema,
  CompletionChunk$inboundSchema,
  EmbeddingRequest$outboundSchema,
  EmbeddingResponse$inboundSchema,
  FIMCompletionRequest$outboundSchema,
} from '@mistralai/mistralai/models/components/index.js';
import { NeedError } from '../../lib/errors.js';
import { chunkToWire, requestFromWire, responseToWire, wireError, wireRequestFields } from '../../lib/mistral/wire.js';

/** A chat request using most of what the wire allows, user data with snake_case keys included. */
const chatWire = {
  model: 'mistral-small-latest',
  temperature: 0.2,
  top_p: 0.9,
  max_tokens: 300,
  stop: ['\n\n'],
  random_seed: 7,
  metadata: { trace_id: 'abc', nested_key: { keep_me: 1 } },
  messages: [
    { role: 'system', content: 'Be brief.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is in this picture?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
        { type: 'input_audio', input_audio: 'UklGRg==' },
      ],
    },
    // `prefix` and `index` as the SDK's defaults fill them in.
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city_name":"Paris"}' }, index: 0 }], prefix: false },
    { role: 'tool', content: '{"temp_c":21}', tool_call_id: 'call_1', name: 'get_weather' },
  ],
  response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { the_answer: { type: 'string' } }, additionalProperties: false }, strict: true } },
  tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city_name: { type: 'string' } }, required: ['city_name'] } } }],
  tool_choice: 'auto',
  presence_penalty: 0.1,
  frequency_penalty: 0.2,
  n: 1,
  parallel_tool_calls: true,
  safe_prompt: false,
};

describe('wire format', () => {
  it('a chat request survives wire -> SDK -> wire unchanged (the SDK serialises it back to the same JSON)', () => {
    const { request, stream } = requestFromWire('chat', chatWire);
    expect(stream).to.equal(false);
    expect(request.maxTokens).to.equal(300);
    expect((request.responseFormat as { jsonSchema: { schemaDefinition: unknown } }).jsonSchema.schemaDefinition).to.deep.equal(chatWire.response_format.json_schema.schema);
    const back = ChatCompletionRequest$outboundSchema.parse(request as never);
    expect(back).to.deep.equal({ ...chatWire, stream: false });
  });

  it('keeps user data as it is: tool parameters, JSON schemas, metadata, tool call arguments', () => {
    const { request } = requestFromWire('chat', chatWire);
    const tool = (request.tools as Array<{ function: { parameters: unknown } }>)[0];
    expect(tool?.function.parameters).to.equal(chatWire.tools[0]?.function.parameters);
    expect(request.metadata).to.equal(chatWire.metadata);
  });

  it('FIM and embeddings requests round-trip too (embeddings: input <-> inputs)', () => {
    const fim = { model: 'codestral-latest', prompt: 'def f(', suffix: '):', max_tokens: 20, min_tokens: 1, stop: '\n', top_p: 1 };
    const fromFim = requestFromWire('fim', { ...fim, stream: true });
    expect(fromFim.stream).to.equal(true);
    expect(FIMCompletionRequest$outboundSchema.parse(fromFim.request as never)).to.deep.equal({ ...fim, stream: false });
    const embeddings = { model: 'mistral-embed', input: ['a', 'b'], output_dimension: 256, output_dtype: 'float', encoding_format: 'float' };
    const fromEmbeddings = requestFromWire('embeddings', embeddings);
    expect(fromEmbeddings.request.inputs).to.deep.equal(['a', 'b']);
    expect(EmbeddingRequest$outboundSchema.parse(fromEmbeddings.request as never)).to.deep.equal(embeddings);
  });

  it('takes out the extra fields the caller handles, and refuses any other unknown field by name', () => {
    const { request, extras } = requestFromWire('chat', { ...chatWire, need: { capabilities: ['vision'] } }, { extras: ['need'] });
    expect(extras).to.deep.equal({ need: { capabilities: ['vision'] } });
    expect(request).not.to.have.property('need');
    const refused = (body: unknown, endpoint: 'chat' | 'fim' | 'embeddings' = 'chat'): NeedError => {
      try {
        requestFromWire(endpoint, body);
      } catch (error) {
        expect(error).to.be.instanceOf(NeedError);
        return error as NeedError;
      }
      throw new Error('expected a NeedError');
    };
    expect(refused({ ...chatWire, logit_bias: { 1: 2 } }).field).to.equal('logit_bias');
    expect(refused({ ...chatWire, need: {} }).field).to.equal('need');
    expect(refused({ model: 'x', inputs: ['a'] }, 'embeddings').field).to.equal('inputs');
    expect(refused({ messages: [{ role: 'user', content: 'hi', name: 'bob' }] }).field).to.equal('messages[0].name');
    expect(refused({ messages: [{ role: 'developer', content: 'hi' }] }).field).to.equal('messages[0].role');
    expect(refused({ messages: 'hi' }).field).to.equal('messages');
    expect(refused({ messages: [], stream: 'yes' }).field).to.equal('stream');
    expect(refused(null).message).to.contain('received null');
    expect(refused([1]).message).to.contain('received a list');
  });

  it('a chat response and a stream chunk survive wire -> SDK -> wire unchanged, without the routing field', () => {
    const wire = {
      id: 'cmpl-1',
      object: 'chat.completion',
      model: 'mistral-small-2603',
      created: 1_765_000_000,
      usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
      choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city_name":"Paris"}' }, index: 0 }], prefix: false } }],
    };
    const sdk = ChatCompletionResponse$inboundSchema.parse(wire);
    expect(responseToWire({ ...sdk, routing: { model: 'x' } })).to.deep.equal(wire);
    const chunk = { id: 'cmpl-2', object: 'chat.completion.chunk', created: 1, model: 'mistral-small-2603', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] };
    expect(chunkToWire(CompletionChunk$inboundSchema.parse(chunk))).to.deep.equal(chunk);
    const embedding = { id: 'e-1', object: 'list', model: 'mistral-embed', usage: { prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 }, data: [{ object: 'embedding', embedding: [0.1, 0.2], index: 0 }] };
    expect(responseToWire(EmbeddingResponse$inboundSchema.parse(embedding))).to.deep.equal(embedding);
  });

  it("knows exactly the request fields of the SDK's own schemas (fails when an SDK upgrade adds one)", () => {
    const shape = (schema: unknown) => Object.keys((schema as { _zod: { def: { in: { _zod: { def: { shape: object } } } } } })._zod.def.in._zod.def.shape);
    const wire = (keys: string[]) => keys.map((k) => (k === 'inputs' ? 'input' : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))).sort();
    expect([...wireRequestFields('chat')].sort()).to.deep.equal(wire(shape(ChatCompletionRequest$outboundSchema)));
    expect([...wireRequestFields('fim')].sort()).to.deep.equal(wire(shape(FIMCompletionRequest$outboundSchema)));
    expect([...wireRequestFields('embeddings')].sort()).to.deep.equal(wire(shape(EmbeddingRequest$outboundSchema)));
  });

  it("Mistral's error body", () => {
    expect(wireError('Invalid model: x', 'invalid_model', 'model', '1500')).to.deep.equal({ object: 'error', message: 'Invalid model: x', type: 'invalid_model', param: 'model', code: '1500' });
  });
});
