import type { ChatCompletionRequest } from '@mistralai/mistralai/models/components';
import { expect } from 'chai';
import { NeedError, RouterError } from '../lib/errors.js';
import { TokenEstimator } from '../lib/tokens.js';

type Messages = ChatCompletionRequest['messages'];

/** A base64 WAV file of `seconds` of silence, 16 kHz mono 16-bit (byte rate 32000). */
function wavBase64(seconds: number): string {
  const dataBytes = Math.round(seconds * 32000);
  const buffer = Buffer.alloc(44 + dataBytes);
  buffer.write('RIFF', 0, 'latin1');
  buffer.writeUInt32LE(36 + dataBytes, 4);
  buffer.write('WAVEfmt ', 8, 'latin1');
  buffer.writeUInt32LE(16, 16);
  buffer.writeUInt16LE(1, 20);
  buffer.writeUInt16LE(1, 22);
  buffer.writeUInt32LE(16000, 24);
  buffer.writeUInt32LE(32000, 28);
  buffer.writeUInt16LE(2, 32);
  buffer.writeUInt16LE(16, 34);
  buffer.write('data', 36, 'latin1');
  buffer.writeUInt32LE(dataBytes, 40);
  return buffer.toString('base64');
}

describe('TokenEstimator', function () {
  // Round numbers: 1 token per ASCII character, 10 per message, so expected values are exact.
  const exact = () => new TokenEstimator({ charsPerToken: 1, perMessageOverhead: 10, requestOverhead: 0, imageTokens: 1000, audioPartTokens: 500, audioTokensPerSecond: 10 });

  describe('estimateMessages: each shape', function () {
    it('counts string content plus the per-message and per-request overheads, with defaults 3.5 chars, 4 per message, 3 per request', function () {
      const estimator = new TokenEstimator();
      expect(estimator.estimateMessages([{ role: 'user', content: 'x'.repeat(35) }])).to.equal(10 + 4 + 3);
      expect(estimator.estimateMessages([{ role: 'user', content: 'x'.repeat(36) }])).to.equal(15 + 3); // ceil
      expect(estimator.estimateMessages([])).to.equal(0);
      expect(exact().estimateMessages([{ role: 'system', content: 'abc' }, { role: 'user', content: 'hello' }])).to.equal(13 + 15);
    });

    it('counts null and absent content as the overhead alone', function () {
      const estimator = exact();
      expect(estimator.estimateMessages([{ role: 'user', content: null }])).to.equal(10);
      expect(estimator.estimateMessages([{ role: 'assistant' }])).to.equal(10);
    });

    it('counts text chunks, and recognises a text chunk without its type', function () {
      const messages: Messages = [
        { role: 'user', content: [{ type: 'text', text: 'abcd' }, { type: 'text', text: 'ef' }] },
        { role: 'system', content: [{ type: 'text', text: 'ghi' }] },
      ];
      expect(exact().estimateMessages(messages)).to.equal(10 + 6 + 10 + 3);
      expect(exact().estimateMessages([{ role: 'user', content: [{ text: 'abcd' }] }])).to.equal(14);
    });

    it('adds the image allowance per image_url chunk, whatever the URL length', function () {
      const estimator = exact();
      const image = (url: string) => ({ type: 'image_url' as const, imageUrl: url });
      expect(estimator.estimateMessages([{ role: 'user', content: [{ type: 'text', text: 'what?' }, image('https://x/a.png')] }])).to.equal(10 + 5 + 1000);
      expect(estimator.estimateMessages([{ role: 'user', content: [image(`data:image/png;base64,${'A'.repeat(100_000)}`), image('https://x/b.png')] }])).to.equal(10 + 2000);
      expect(estimator.estimateMessages([{ role: 'user', content: [{ type: 'image_url', imageUrl: { url: 'https://x', detail: 'high' } }] }])).to.equal(1010);
      // Snake case and an absent type are read too.
      expect(estimator.estimateMessages([{ role: 'user', content: [{ image_url: 'https://x/c.png' }] }])).to.equal(1010);
      expect(new TokenEstimator().estimateMessages([{ role: 'user', content: [image('https://x/a.png')] }])).to.equal(1604 + 3);
    });

    it('adds the audio allowance per input_audio chunk, or duration x rate for base64 WAV', function () {
      const estimator = exact();
      expect(estimator.estimateMessages([{ role: 'user', content: [{ type: 'input_audio', inputAudio: 'https://x/a.mp3' }] }])).to.equal(510);
      expect(estimator.estimateMessages([{ role: 'user', content: [{ type: 'input_audio', inputAudio: wavBase64(7) }] }])).to.equal(10 + 70);
      expect(estimator.estimateMessages([{ role: 'user', content: [{ type: 'input_audio', inputAudio: `data:audio/wav;base64,${wavBase64(3)}` }] }])).to.equal(40);
      // Not WAV after all (broken header): the allowance.
      expect(estimator.estimateMessages([{ role: 'user', content: [{ type: 'input_audio', inputAudio: 'UklGRxxxxxxxxxxxx' }] }])).to.equal(510);
      expect(new TokenEstimator().estimateMessages([{ role: 'user', content: [{ type: 'input_audio', inputAudio: 'https://x' }] }])).to.equal(3004 + 3);
      expect(new TokenEstimator().estimateMessages([{ role: 'user', content: [{ type: 'input_audio', inputAudio: wavBase64(60) }] }])).to.equal(4 + 750 + 3);
    });

    it('counts tool call ids, names and arguments (string or object), and tool results with toolCallId and name', function () {
      const estimator = exact();
      const args = '{"city":"Paris"}';
      const assistant: Messages = [
        { role: 'assistant', content: null, toolCalls: [{ id: 'abc123XYZ', function: { name: 'get_weather', arguments: args } }] },
      ];
      expect(estimator.estimateMessages(assistant)).to.equal(10 + 9 + 11 + args.length);
      const asObject: Messages = [{ role: 'assistant', content: '', toolCalls: [{ id: 'abc123XYZ', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }];
      expect(estimator.estimateMessages(asObject)).to.equal(10 + 9 + 11 + args.length);
      const result: Messages = [{ role: 'tool', content: '{"temp":21}', toolCallId: 'abc123XYZ', name: 'get_weather' }];
      expect(estimator.estimateMessages(result)).to.equal(10 + 11 + 9 + 11);
      // The wire's snake_case names too.
      expect(estimator.estimateMessages([{ role: 'assistant', tool_calls: [{ id: 'a', function: { name: 'f', arguments: '{}' } }] }])).to.equal(14);
      expect(estimator.estimateMessages([{ role: 'tool', content: 'r', tool_call_id: 'abc' }])).to.equal(14);
    });

    it('counts thinking chunks by their text, and other or unknown chunks by their JSON', function () {
      const estimator = exact();
      expect(estimator.estimateMessages([{ role: 'assistant', content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'hmm' }] }] }])).to.equal(13);
      const document = { type: 'document_url', documentUrl: 'https://x/doc.pdf' };
      expect(estimator.estimateMessages([{ role: 'user', content: [document] }])).to.equal(10 + JSON.stringify(document).length);
      const unknown = { type: 'hologram', payload: [1, 2, 3] };
      expect(estimator.estimateMessages([{ role: 'user', content: [unknown] }])).to.equal(10 + JSON.stringify(unknown).length);
    });

    it('never throws on odd shapes inside a message object', function () {
      const cyclic: Record<string, unknown> = { type: 'loop' };
      cyclic['self'] = cyclic;
      const odd: unknown[] = [
        { role: 'user', content: 42 },
        { role: 'user', content: [null, 7, 'plain string chunk', cyclic, { type: 'text', text: 5 }, [1, 2]] },
        { role: 'assistant', toolCalls: [null, { function: null }, { function: { name: 3, arguments: 10n } }] },
        { role: 'assistant', toolCalls: 'not an array' },
        { role: 'user', content: [{ type: 'input_audio', inputAudio: 12 }, { type: 'thinking', thinking: 'x' }] },
        {},
      ];
      const estimate = exact().estimateMessages(odd);
      expect(estimate).to.be.a('number').and.satisfy(Number.isSafeInteger).and.be.greaterThan(60);
    });

    it('weights non-ASCII text: CJK one token per character, accented letters double', function () {
      const estimator = new TokenEstimator({ charsPerToken: 4, perMessageOverhead: 0, requestOverhead: 0 });
      expect(estimator.estimateText('abcd')).to.equal(1);
      expect(estimator.estimateText('你好世界')).to.equal(4);
      expect(estimator.estimateText('éèàç')).to.equal(2);
      expect(estimator.estimateText('😀')).to.equal(2);
    });

    it('is monotonic in text length and returns integers >= 0', function () {
      const estimator = new TokenEstimator();
      let previous = -1;
      for (let length = 0; length <= 2000; length += 7) {
        const text = 'Bonjour, voilà un test 你好 '.repeat(100).slice(0, length);
        const estimate = estimator.estimateMessages([{ role: 'user', content: text }]);
        expect(Number.isSafeInteger(estimate) && estimate >= 0, String(estimate)).to.equal(true);
        expect(estimate, `length ${length}`).to.be.at.least(previous);
        previous = estimate;
      }
      expect(previous).to.be.greaterThan(500);
    });
  });

  describe('the other endpoints', function () {
    it('estimateText, estimateInputs (one per input overhead) and estimateFim (one overhead)', function () {
      const estimator = exact();
      expect(estimator.estimateText('hello')).to.equal(5);
      expect(estimator.estimateText('')).to.equal(0);
      expect(estimator.estimateInputs('hello')).to.equal(6);
      expect(estimator.estimateInputs(['hello', 'ab', ''])).to.equal(6 + 3 + 1);
      expect(estimator.estimateInputs([])).to.equal(0);
      expect(estimator.estimateFim('def f(', '):')).to.equal(10 + 6 + 2);
      expect(estimator.estimateFim('def f(', null)).to.equal(16);
      expect(estimator.estimateFim('def f(')).to.equal(16);
    });
  });

  describe('cache', function () {
    const long = 'The quick brown fox jumps over the lazy dog. '.repeat(40);

    it('answers a repeated prompt from the cache with the same estimate', function () {
      const estimator = new TokenEstimator();
      const messages: Messages = [{ role: 'system', content: long }, { role: 'user', content: `${long}?` }];
      const first = estimator.estimateMessages(messages);
      expect(estimator.stats()).to.deep.equal({ cacheHits: 0, cacheMisses: 2, observations: 0, measuredHits: 0 });
      // An equal copy (not the same string objects) hits too.
      const copy = JSON.parse(JSON.stringify(messages)) as Messages;
      expect(estimator.estimateMessages(copy)).to.equal(first);
      expect(estimator.stats()).to.include({ cacheHits: 2, cacheMisses: 2 });
      // A growing conversation re-scans only the new turn.
      estimator.estimateMessages([...messages, { role: 'assistant', content: `${long}!` }]);
      expect(estimator.stats()).to.include({ cacheHits: 4, cacheMisses: 3 });
    });

    it('keeps at most cacheSize texts, and cacheSize 0 disables it', function () {
      const estimator = new TokenEstimator({ cacheSize: 2 });
      for (const suffix of ['a', 'b', 'c', 'a']) estimator.estimateText(long + suffix);
      expect(estimator.stats()).to.include({ cacheHits: 0, cacheMisses: 4 }); // 'a' was evicted by 'c'
      const uncached = new TokenEstimator({ cacheSize: 0 });
      expect(uncached.estimateText(long)).to.equal(uncached.estimateText(long));
      expect(uncached.stats()).to.include({ cacheHits: 0, cacheMisses: 0 });
    });

    it('stores the raw estimate, so calibration applies to cached texts', function () {
      const estimator = new TokenEstimator();
      const before = estimator.estimateText(long);
      for (let i = 0; i < 100; i++) estimator.observe(estimator.estimateText(long), before * 2);
      expect(estimator.stats().cacheHits).to.be.greaterThan(90);
      expect(estimator.estimateText(long)).to.be.closeTo(before * 2, before * 0.03);
    });
  });

  describe('calibration', function () {
    it('starts at 1 and converges toward a consistent actual/estimate ratio', function () {
      for (const truth of [1.6, 0.7]) {
        const estimator = new TokenEstimator();
        expect(estimator.ratio).to.equal(1);
        const raw = 1000;
        for (let i = 0; i < 80; i++) {
          const estimated = Math.round(raw * estimator.ratio);
          estimator.observe(estimated, raw * truth);
        }
        expect(estimator.ratio, String(truth)).to.be.closeTo(truth, truth * 0.01);
        expect(estimator.stats().observations).to.equal(80);
        expect(estimator.estimateText('x'.repeat(3500))).to.be.closeTo(1000 * truth, 1000 * truth * 0.01);
      }
    });

    it('moves little on one hostile value and stays within [0.25, 4] under garbage', function () {
      const estimator = new TokenEstimator();
      estimator.observe(100, 1e12);
      expect(estimator.ratio).to.be.above(1).and.at.most(4 ** 0.25 + 1e-9);
      for (let i = 0; i < 200; i++) estimator.observe(1, 1e9);
      expect(estimator.ratio).to.be.at.most(4);
      for (let i = 0; i < 200; i++) estimator.observe(1e9, 1);
      expect(estimator.ratio).to.be.at.least(0.25);
    });

    it('judges an estimate by the ratio it was made with, so waiting calls do not feed the error back', function () {
      const estimator = new TokenEstimator();
      const raw = 1000;
      // 50 calls estimated at once (ratio 1), then settled one after another while the ratio moves.
      const estimates = Array.from({ length: 50 }, () => ({ estimated: Math.round(raw * estimator.ratio), ratio: estimator.ratio }));
      for (const { estimated, ratio } of estimates) estimator.observe(estimated, raw * 1.3, ratio);
      expect(estimator.ratio).to.be.closeTo(1.3, 0.013);
      // Without the ratio they were made with, the same observations overshoot.
      const naive = new TokenEstimator();
      for (const { estimated } of estimates) naive.observe(estimated, raw * 1.3);
      expect(naive.ratio).to.be.above(2);
    });

    it('reproduces a consistent count exactly once 8 samples agree, instead of approaching it from above', function () {
      const estimator = new TokenEstimator();
      // 800 tokens of emulator prompt that the raw estimate puts at 3 + 4 + 3,172 / 3.5 (about 913.3).
      const text = 'x'.repeat(3_172);
      const messages = [{ role: 'user', content: text }];
      const estimates: number[] = [];
      for (let i = 0; i < 12; i++) {
        const ratio = estimator.ratio;
        const estimated = estimator.estimateMessages(messages);
        estimates.push(estimated);
        estimator.observe(estimated, 800, ratio);
      }
      expect(estimates[0]).to.be.above(900);
      expect(estimates.slice(-3)).to.deep.equal([800, 800, 800]);
      // One disagreeing sample: back to the mean that leans high, never below the count seen.
      estimator.observe(estimator.estimateMessages(messages), 1_000);
      expect(estimator.estimateMessages(messages)).to.be.above(800);
    });

    it('leans high: an upward error is corrected faster than a downward one', function () {
      const up = new TokenEstimator();
      const down = new TokenEstimator();
      up.observe(1000, 2000);
      down.observe(1000, 500);
      expect(Math.log(up.ratio)).to.be.greaterThan(-Math.log(down.ratio) * 2);
    });

    it('ignores non-finite, negative or zero values', function () {
      const estimator = new TokenEstimator();
      const garbage: [number, number][] = [[0, 100], [-5, 100], [Number.NaN, 100], [Infinity, 100], [100, Number.NaN], [100, -1], [100, 0], [100, Infinity]];
      for (const [estimated, actual] of garbage) estimator.observe(estimated, actual);
      expect(estimator.ratio).to.equal(1);
      expect(estimator.stats().observations).to.equal(0);
    });

    it('does not move when calibration is off', function () {
      const estimator = new TokenEstimator({ calibration: false });
      for (let i = 0; i < 10; i++) estimator.observe(100, 300);
      expect(estimator.ratio).to.equal(1);
      expect(estimator.stats().observations).to.equal(0);
    });
  });

  describe('invalid input', function () {
    const estimator = new TokenEstimator();

    it('throws NeedError naming the field', function () {
      const cases: [() => unknown, string][] = [
        [() => estimator.estimateMessages('hello' as unknown as unknown[]), 'messages'],
        [() => estimator.estimateMessages(null as unknown as unknown[]), 'messages'],
        [() => estimator.estimateMessages([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }, 'c']), 'messages[2]'],
        [() => estimator.estimateMessages([null]), 'messages[0]'],
        [() => estimator.estimateMessages([[{ role: 'user' }]]), 'messages[0]'],
        [() => estimator.estimateText(3 as unknown as string), 'text'],
        [() => estimator.estimateInputs({} as unknown as string), 'inputs'],
        [() => estimator.estimateInputs(['a', 5] as unknown as string[]), 'inputs[1]'],
        [() => estimator.estimateFim(undefined as unknown as string), 'prompt'],
        [() => estimator.estimateFim('a', 5 as unknown as string), 'suffix'],
      ];
      for (const [call, field] of cases) {
        let caught: unknown;
        try {
          call();
        } catch (error) {
          caught = error;
        }
        expect(caught, field).to.be.instanceOf(NeedError);
        expect(caught).to.include({ field, code: 'NEED_INVALID' });
      }
    });

    it('never puts the prompt itself into the error', function () {
      expect(() => estimator.estimateMessages([{ role: 'user', content: 'ok' }, 'secret prompt text']))
        .to.throw(NeedError)
        .that.satisfies((error: Error) => !error.message.includes('secret'));
    });

    it('validates its options, naming the option', function () {
      const bad: [Record<string, unknown>, string][] = [
        [{ charsPerToken: 0 }, 'charsPerToken'],
        [{ charsPerToken: Number.NaN }, 'charsPerToken'],
        [{ perMessageOverhead: -1 }, 'perMessageOverhead'],
        [{ imageTokens: Infinity }, 'imageTokens'],
        [{ audioTokensPerSecond: -2 }, 'audioTokensPerSecond'],
        [{ audioPartTokens: '3000' }, 'audioPartTokens'],
        [{ cacheSize: 1.5 }, 'cacheSize'],
        [{ cacheSize: -1 }, 'cacheSize'],
        [{ calibration: 'yes' }, 'calibration'],
      ];
      for (const [options, option] of bad) {
        expect(() => new TokenEstimator(options), option).to.throw(RouterError, option).with.property('code', 'CONFIG_INVALID');
      }
    });
  });
});
