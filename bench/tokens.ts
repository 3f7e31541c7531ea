/**
 * Benchmark: what the token estimate costs, and whether its cache pays for itself. For several prompt
 * sizes it times, in the same run: the estimate without cache, with the cache hit by the same strings and
 * by equal copies, the content key under which measured prompt sizes are remembered (and a hit of that
 * memory, against the estimate of the same messages), and the two whole-request keys the cache could have
 * used instead (the JSON of the messages, and a SHA-1 of it). A key that costs more than the estimate it
 * saves is a loss.
 */
import { createHash } from 'node:crypto';
import { TokenEstimator } from '../lib/tokens.js';
import { timeSync } from './stats.js';

const sentence = 'The quick brown fox jumps over the lazy dog. Le renard brun saute par-dessus le chien paresseux. ';

export function runTokensBench(): void {
  console.log('tokens: estimateMessages, median µs per call (ratio to the uncached estimate)');
  for (const size of [200, 2_000, 20_000, 200_000]) {
    const text = sentence.repeat(Math.ceil(size / sentence.length)).slice(0, size);
    const messages = [
      { role: 'system', content: text.slice(0, size / 4) },
      { role: 'user', content: [{ type: 'text', text }, { type: 'image_url', imageUrl: 'https://example.com/a.png' }] },
    ];
    const copies = Array.from({ length: 64 }, () => JSON.parse(JSON.stringify(messages)) as unknown[]);
    const options = { batches: 50, batchSize: Math.max(2, Math.floor(200_000 / size)), warmupBatches: 5 };
    const uncached = new TokenEstimator({ cacheSize: 0 });
    const cached = new TokenEstimator();
    // The content key covers text messages (the image chunk above has none): a system prompt and a question.
    const textMessages = [
      { role: 'system', content: text.slice(0, size / 4) },
      { role: 'user', content: text },
    ];
    const textRequest = { messages: textMessages, maxTokens: 256, temperature: 0.3 };
    const measured = new TokenEstimator();
    measured.remember(measured.contentKey('chat', textRequest), 1234);
    const rows: [string, number][] = [
      ['estimate, no cache', timeSync(() => uncached.estimateMessages(messages), options).medianUs],
      ['estimate, cache hit (same strings)', timeSync(() => cached.estimateMessages(messages), options).medianUs],
      ['estimate, cache hit (equal copies)', timeSync((i) => cached.estimateMessages(copies[i % copies.length] ?? []), options).medianUs],
      ['content key (tokens/content-key.ts)', timeSync(() => cached.contentKey('chat', textRequest), options).medianUs],
      ['measured hit: key + memory lookup', timeSync(() => measured.measured(measured.contentKey('chat', textRequest)), options).medianUs],
      ['estimate of the same text messages', timeSync(() => cached.estimateMessages(textMessages), options).medianUs],
      ['key: JSON.stringify(messages)', timeSync(() => JSON.stringify(messages), options).medianUs],
      ['key: sha1(JSON)', timeSync(() => createHash('sha1').update(JSON.stringify(messages)).digest('base64'), options).medianUs],
    ];
    const base = rows[0]?.[1] ?? 1;
    console.log(`  ${size} characters`);
    for (const [name, us] of rows) console.log(`    ${name.padEnd(38)} ${us.toFixed(2).padStart(9)} µs  x${(us / base).toFixed(2)}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) runTokensBench();
