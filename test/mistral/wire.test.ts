import { expect } from 'chai';
import { ChatCompletionRequest$outboundSchema, EmbeddingRequest$outboundSchema, FIMCompletionRequest$outboundSchema } from '@mistralai/mistralai/models/components/index.js';
import { NeedError } from '../../lib/errors.js';
import { wireError, wireRequest, wireRequestFields } from '../../lib/mistral/wire.js';

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
  it('a chat request is sent as it came (without model and stream); the router reads its top-level fields under the SDK names', () => {
    const { body, view, stream, endpoint } = wireRequest('chat', { ...chatWire, stream: false });
    expect([endpoint, stream]).to.deep.equal(['chat', false]);
    const { model, ...sent } = chatWire;
    expect(body).to.deep.equal(sent);
    expect(view).to.include({ model, maxTokens: 300, topP: 0.9, randomSeed: 7, toolChoice: 'auto', safePrompt: false });
    // Values are shared, not converted: what is sent is what came, down to the nested keys.
    expect(view.responseFormat).to.equal(chatWire.response_format);
    expect(view.messages).to.equal(chatWire.messages);
  });

  it('keeps user data as it is under its own names: tool parameters, metadata', () => {
    const { view, body } = wireRequest('chat', chatWire);
    expect(view.tools).to.equal(chatWire.tools);
    expect(view.metadata).to.equal(chatWire.metadata);
    expect(body.metadata).to.equal(chatWire.metadata);
  });

  it('FIM and embeddings bodies (a stream asked for; embeddings: input read as inputs)', () => {
    const fim = { model: 'codestral-latest', prompt: 'def f(', suffix: '):', max_tokens: 20, min_tokens: 1, stop: '\n', top_p: 1 };
    const fromFim = wireRequest('fim', { ...fim, stream: true });
    expect(fromFim.stream).to.equal(true);
    expect(fromFim.body).to.deep.equal({ prompt: 'def f(', suffix: '):', max_tokens: 20, min_tokens: 1, stop: '\n', top_p: 1 });
    expect(fromFim.view).to.include({ prompt: 'def f(', maxTokens: 20, minTokens: 1 });
    const embeddings = { model: 'mistral-embed', input: ['a', 'b'], output_dimension: 256, output_dtype: 'float', encoding_format: 'float' };
    const fromEmbeddings = wireRequest('embeddings', embeddings);
    expect(fromEmbeddings.view.inputs).to.equal(embeddings.input);
    expect(fromEmbeddings.body).to.deep.equal({ input: ['a', 'b'], output_dimension: 256, output_dtype: 'float', encoding_format: 'float' });
  });

  it('takes out the extra fields the caller handles, and refuses any other unknown field by name', () => {
    const { view, body, extras } = wireRequest('chat', { ...chatWire, need: { capabilities: ['vision'] } }, { extras: ['need'] });
    expect(extras).to.deep.equal({ need: { capabilities: ['vision'] } });
    expect(view).not.to.have.property('need');
    expect(body).not.to.have.property('need');
    const refused = (body: unknown, endpoint: 'chat' | 'fim' | 'embeddings' = 'chat'): NeedError => {
      try {
        wireRequest(endpoint, body);
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
