import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { embeddingJson } from '../../lib/emulator/responses.js';
import { sdk } from './support.js';
import { catalog2025 } from '../helpers/catalog-2025.js';

describe('emulator embeddings (stand-in vectors)', () => {
  let emulator: Emulator;
  let other: Emulator;
  beforeEach(async () => {
    emulator = await startEmulator({ catalog: catalog2025, overrides: { requestsPerSecond: null } });
    other = await startEmulator({ catalog: catalog2025, overrides: { requestsPerSecond: null } });
  });
  afterEach(() => Promise.all([emulator.stop(), other.stop()]));

  it('gives a text the same vector in every request and every emulator, in any batch position', async () => {
    const first = await sdk(emulator).embeddings.create({ model: 'mistral-embed', inputs: ['alpha', 'beta', 'gamma'] });
    const again = await sdk(emulator).embeddings.create({ model: 'mistral-embed', inputs: ['gamma', 'alpha'] });
    const elsewhere = await sdk(other).embeddings.create({ model: 'mistral-embed', inputs: 'beta' });
    const vector = (response: typeof first, index: number) => response.data[index]?.embedding;
    expect(vector(again, 1)).to.deep.equal(vector(first, 0));
    expect(vector(again, 0)).to.deep.equal(vector(first, 2));
    expect(vector(elsewhere, 0)).to.deep.equal(vector(first, 1));
    expect(first.data.map((item) => item.index)).to.deep.equal([0, 1, 2]);
  });

  it('is a pure function of (text, dimension), with a fixed value for a fixed text', () => {
    expect(embeddingJson('hello world', 1024)).to.equal(embeddingJson('hello world', 1024));
    // Pinned: the vectors are stand-ins, but a change to them must be deliberate (users may snapshot them).
    const pinned = JSON.parse(embeddingJson('hello world', 1024)) as number[];
    expect(pinned.slice(0, 4)).to.deep.equal(PINNED_HELLO_WORLD_FIRST_4);
    expect(JSON.parse(embeddingJson('hello world', 8))).to.deep.equal(PINNED_HELLO_WORLD_8);
  });

  it('gives distinct texts distinct vectors, at every size', () => {
    for (const dimension of [1, 8, 64, 255, 256, 300, 1024, 3072]) {
      const seen = new Set<string>();
      for (let i = 0; i < 2000; i++) seen.add(embeddingJson(`text number ${i}`, dimension));
      // 1 dimension has 20,001 possible values: about 5% of 2,000 texts share one (birthday bound).
      expect(seen.size, `dimension ${dimension}`).to.be.at.least(dimension === 1 ? 1850 : 2000);
    }
  });

  it('writes the requested number of components, each a number in [-1, 1] with at most 4 decimals', () => {
    for (const dimension of [1, 63, 64, 255, 256, 257, 1000, 1024, 1100]) {
      const vector = JSON.parse(embeddingJson(`dimension ${dimension}`, dimension)) as unknown[];
      expect(vector, `dimension ${dimension}`).to.have.length(dimension);
      for (const value of vector) {
        expect(value).to.be.a('number').within(-1, 1);
        expect(Math.abs(Math.round((value as number) * 10_000) - (value as number) * 10_000)).to.be.below(1e-6);
      }
    }
  });

  it('honours output_dimension through the SDK', async () => {
    const response = await sdk(emulator).embeddings.create({ model: 'mistral-embed', inputs: ['a', 'b'], outputDimension: 300 });
    expect(response.data[0]?.embedding).to.have.length(300);
    expect(response.data[0]?.embedding).to.deep.equal(JSON.parse(embeddingJson('a', 300)));
    expect(response.data[1]?.embedding).to.not.deep.equal(response.data[0]?.embedding);
  });
});

const PINNED_HELLO_WORLD_FIRST_4 = [-0.8797, 0.2117, 0.7507, -0.7635];
const PINNED_HELLO_WORLD_8 = [0.9809, 0.8806, -0.1366, 0.8551, -0.768, -0.9725, -0.1344, -0.099];
