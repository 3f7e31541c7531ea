import { expect } from 'chai';
import { estimateChatPrompt, estimateEmbeddingInput, estimateFimPrompt } from '../../lib/emulator/token-estimate.js';

describe('emulator token estimate', () => {
  it('counts a chat prompt: 3 + per message (4 + ceil(chars / 4)) + 256 per image + 1000 per audio + tools', () => {
    const tools = [{ type: 'function', function: { name: 'f', parameters: {} } }];
    const count = estimateChatPrompt(
      [
        { role: 'system', content: 'abcdefgh' }, // 4 + 2
        { role: 'user', content: [{ type: 'text', text: 'abcde' }, { type: 'image_url', image_url: 'x' }, { type: 'input_audio', input_audio: 'y' }] }, // 4 + 2
        { role: 'assistant', content: null, tool_calls: [{ id: '1' }] }, // 4 + ceil(10 / 4)
      ],
      tools,
    );
    expect(count).to.deep.equal({
      promptTokens: 3 + 6 + 6 + 7 + 256 + 1000 + Math.ceil(JSON.stringify(tools).length / 4),
      imageParts: 1,
      audioParts: 1,
    });
  });

  it('counts FIM as 3 + ceil((prompt + suffix) / 4), embeddings as at least 1 per input', () => {
    expect(estimateFimPrompt('12345', '678')).to.equal(5);
    expect(estimateFimPrompt('', undefined)).to.equal(3);
    expect(estimateEmbeddingInput('')).to.equal(1);
    expect(estimateEmbeddingInput('123456789')).to.equal(3);
  });
});
