/**
 * The wire bodies' JSON Schemas (lib/mistral/wire-schema.ts, checked by wireRequest): every shape the
 * official SDK sends passes (the SDK's own request schemas serialise the requests, so the bodies are the
 * SDK's wire, not ours), and malformed nested shapes are a NeedError naming the field path.
 */
import { expect } from 'chai';
import { ChatCompletionRequest$outboundSchema, EmbeddingRequest$outboundSchema, FIMCompletionRequest$outboundSchema } from '@mistralai/mistralai/models/components/index.js';
import { NeedError } from '../../lib/errors.js';
import { wireRequest, type WireEndpoint } from '../../lib/mistral/wire.js';

/** Every role, every content part, every tool kind, and the structured fields, as the SDK takes them. */
const sdkChat = {
  model: 'mistral-small-latest',
  temperature: null,
  maxTokens: 50,
  stop: 'END',
  metadata: null,
  messages: [
    { role: 'system', content: [{ type: 'text', text: 'Be brief.' }, { type: 'thinking', thinking: [{ type: 'text', text: 'plan' }], signature: 'sig', closed: true }] },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'look' },
        { type: 'image_url', imageUrl: 'https://example.com/a.png' },
        { type: 'image_url', imageUrl: { url: 'data:image/png;base64,AAAA', detail: 'high' } },
        { type: 'document_url', documentUrl: 'https://example.com/a.pdf', documentName: 'a.pdf' },
        { type: 'reference', referenceIds: [1, 'two'] },
        { type: 'file', fileId: 'file-123' },
        { type: 'input_audio', inputAudio: 'UklGRg==' },
      ],
    },
    { role: 'user', content: null },
    { role: 'assistant', content: 'calling', toolCalls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: { city: 'Paris' } } }, { function: { name: 'g', arguments: '{}' } }], prefix: false },
    { role: 'assistant', content: [{ type: 'text', text: 'prefix' }], prefix: true },
    { role: 'tool', content: [{ type: 'text', text: '21' }], toolCallId: 'c1', name: 'f' },
  ],
  responseFormat: { type: 'json_schema', jsonSchema: { name: 'answer', description: null, schemaDefinition: { type: 'object' }, strict: true } },
  tools: [
    { type: 'function', function: { name: 'f', description: 'd', strict: false, parameters: { type: 'object', properties: {} } } },
    { type: 'web_search' },
    { type: 'web_search_premium' },
    { type: 'code_interpreter' },
    { type: 'image_generation' },
    { type: 'document_library', libraryIds: ['lib-1'] },
  ],
  toolChoice: { type: 'function', function: { name: 'f' } },
  presencePenalty: 0.1,
  n: 1,
  prediction: { type: 'content', content: 'draft' },
  parallelToolCalls: true,
  reasoningEffort: 'high',
  promptMode: 'reasoning',
  guardrails: [{ blockOnError: true }],
  promptCacheKey: 'k',
  serviceTier: 'auto',
  safePrompt: false,
};

const wireOf = (schema: { parse: (value: unknown) => unknown }, request: object) => {
  const wire = schema.parse(request) as Record<string, unknown>;
  delete wire.stream; // the SDK fills it in; wire.ts reads it apart
  return wire;
};

describe('wire bodies: the JSON Schema of each endpoint', () => {
  it('accepts every shape the official SDK sends (chat, FIM, embeddings)', () => {
    const chat = wireOf(ChatCompletionRequest$outboundSchema, sdkChat);
    expect(() => wireRequest('chat', chat)).not.to.throw();
    expect(() => wireRequest('chat', { ...chat, tool_choice: 'any', tools: null, stop: ['a', 'b'], response_format: { type: 'json_object' } })).not.to.throw();
    const fim = wireOf(FIMCompletionRequest$outboundSchema, { model: 'codestral-2501', prompt: 'def f(', suffix: null, minTokens: 1, maxTokens: 8, stop: ['\n'], randomSeed: 3, topP: 0.9 });
    expect(() => wireRequest('fim', fim)).not.to.throw();
    for (const inputs of ['one', ['one', 'two']]) {
      const embeddings = wireOf(EmbeddingRequest$outboundSchema, { model: 'mistral-embed', inputs, outputDimension: 256, outputDtype: 'int8', encodingFormat: 'float' });
      expect(() => wireRequest('embeddings', embeddings)).not.to.throw();
    }
  });

  const malformed: [WireEndpoint, Record<string, unknown>, string, RegExp][] = [
    ['chat', { messages: { role: 'user', content: 'hi' } }, 'messages', /expected a list, received an object/],
    ['chat', { messages: [{ content: 'hi' }] }, 'messages[0].role', /missing \(required in a message\)/],
    ['chat', { messages: [{ role: 'robot', content: 'hi' }] }, 'messages[0].role', /expected one of system, user, assistant, tool, received "robot"/],
    ['chat', { messages: [{ role: 'user', content: 'hi', name: 'bob' }] }, 'messages[0].name', /unknown field of a user message; known: role, content/],
    ['chat', { messages: [{ role: 'user' }] }, 'messages[0].content', /missing \(required in a user message\)/],
    ['chat', { messages: [{ role: 'user', content: 42 }] }, 'messages[0].content', /expected a string or a list or null, received 42/],
    ['chat', { messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'video_url', url: 'x' }] }] }, 'messages[0].content[1].type', /expected one of text, image_url, .*input_audio, received "video_url"/],
    ['chat', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { detail: 'low' } }] }] }, 'messages[0].content[0].image_url.url', /missing/],
    ['chat', { messages: [{ role: 'system', content: [{ type: 'image_url', image_url: 'x' }] }] }, 'messages[0].content[0].type', /expected one of text, thinking/],
    ['chat', { messages: [{ role: 'assistant', tool_calls: [{ function: { arguments: '{}' } }] }] }, 'messages[0].tool_calls[0].function.name', /missing \(required in a tool call's function\)/],
    ['chat', { messages: [{ role: 'user', content: 'x' }], tools: { type: 'function' } }, 'tools', /expected a list or null/],
    ['chat', { messages: [{ role: 'user', content: 'x' }], tools: [{ function: { name: 'f' } }] }, 'tools[0].type', /missing \(required in a tool\)/],
    ['chat', { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 7 } }] }, 'tools[0].function.name', /expected a string, received 7/],
    ['chat', { messages: [{ role: 'user', content: 'x' }], tool_choice: { type: 'function' } }, 'tool_choice.function', /missing/],
    ['chat', { messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'n' } } }, 'response_format.json_schema.schema', /missing/],
    ['chat', { messages: [{ role: 'user', content: 'x' }], max_tokens: '20' }, 'max_tokens', /expected a whole number or null, received "20"/],
    ['chat', { messages: [{ role: 'user', content: 'x' }], stop: ['a', 1] }, 'stop[1]', /expected a string, received 1/],
    ['chat', { model: 'auto' }, 'messages', /missing \(required in a chat completion\)/],
    ['fim', { prompt: ['def f('] }, 'prompt', /expected a string/],
    ['fim', { prompt: 'x', min_tokens: -1 }, 'min_tokens', /expected at least 0, received -1/],
    ['embeddings', { input: [1, 2] }, 'input[0]', /expected a string, received 1/],
    ['embeddings', { input: 'x', output_dimension: 2.5 }, 'output_dimension', /expected a whole number or null/],
  ];

  it('refuses malformed nested shapes with a NeedError naming the field path', () => {
    for (const [endpoint, body, field, message] of malformed) {
      let caught: unknown;
      try {
        wireRequest(endpoint, body);
      } catch (error) {
        caught = error;
      }
      const what = `${endpoint} ${JSON.stringify(body)}`;
      expect(caught, what).to.be.instanceOf(NeedError);
      expect((caught as NeedError).field, what).to.equal(field);
      expect((caught as NeedError).message, what).to.match(message);
    }
  });

  it('names an unknown top-level field before judging shapes (a typo is the likelier mistake)', () => {
    expect(() => wireRequest('chat', { messages: 'nope', temprature: 1 })).to.throw(NeedError, /^temprature: unknown field/);
  });
});
