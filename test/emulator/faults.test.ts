import { expect } from 'chai';
import { ConnectionError } from '@mistralai/mistralai/models/errors';
import { FakeClock } from '../../lib/clock.js';
import { startEmulator, type Emulator, type EmulatorFaults } from '../../lib/emulator/index.js';
import { chatBody, post, rejection, sdk } from './support.js';
import { catalog2025 } from '../helpers/catalog-2025.js';

const SMALL = 'mistral-small-2503';
const REQUESTS = 1000;

/** Send `count` requests one after another and return their statuses (`0` = connection dropped). */
async function statuses(emulator: Emulator, count: number, body: Record<string, unknown> = chatBody(SMALL, 1)): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    try {
      out.push((await post(emulator, '/v1/chat/completions', body)).status);
    } catch {
      out.push(0);
    }
  }
  return out;
}

const count = (values: readonly number[], value: number) => values.filter((v) => v === value).length;

/** Start an emulator without request metering, so only the faults decide the statuses. */
function faulty(faults: EmulatorFaults, seed = 42): Promise<Emulator> {
  return startEmulator({ catalog: catalog2025, clock: new FakeClock(), overrides: { requestsPerSecond: null }, faults, seed });
}

describe('emulator faults', function () {
  this.timeout(30_000);
  let emulators: Emulator[] = [];
  afterEach(async () => {
    await Promise.all(emulators.map((emulator) => emulator.stop()));
    emulators = [];
  });
  const start = async (faults: EmulatorFaults, seed?: number) => {
    const emulator = await faulty(faults, seed);
    emulators.push(emulator);
    return emulator;
  };

  it('answers 500/502/503 at the configured error rate, each status in turn', async () => {
    const emulator = await start({ errorRate: 0.2 });
    const seen = await statuses(emulator, REQUESTS);
    const errors = count(seen, 500) + count(seen, 502) + count(seen, 503);
    // 1000 draws at p = 0.2: standard deviation ~12.6, so +-50 is about 4 sigma.
    expect(errors).to.be.within(150, 250);
    for (const status of [500, 502, 503]) expect(count(seen, status)).to.be.within(Math.floor(errors / 3), Math.ceil(errors / 3));
    expect(count(seen, 200)).to.equal(REQUESTS - errors);
    expect(emulator.stats().faults.error).to.equal(errors);
    // A faulted request charged nothing.
    expect(emulator.stats().tokens[SMALL]?.requests).to.equal(REQUESTS - errors);
  });

  it('is deterministic for a seed, and differs for another seed', async () => {
    const [a, b, c] = await Promise.all([start({ errorRate: 0.3 }, 7), start({ errorRate: 0.3 }, 7), start({ errorRate: 0.3 }, 8)]);
    const first = await statuses(a as Emulator, 200);
    expect(await statuses(b as Emulator, 200)).to.deep.equal(first);
    expect(await statuses(c as Emulator, 200)).to.not.deep.equal(first);
    // reset() replays the same sequence from the seed.
    (a as Emulator).reset();
    expect(await statuses(a as Emulator, 200)).to.deep.equal(first);
  });

  it('answers capacity errors (code 3505) at the configured rate, as 429 with Retry-After or as 503', async () => {
    const emulator = await start({ capacityRate: 0.1 });
    const seen = await statuses(emulator, REQUESTS);
    expect(count(seen, 429)).to.be.within(65, 135);
    const capacity = await (async () => {
      for (;;) {
        const response = await post(emulator, '/v1/chat/completions', chatBody(SMALL, 1));
        if (response.status === 429) return response;
      }
    })();
    expect(capacity.json).to.deep.equal({
      object: 'error',
      message: 'Service tier capacity exceeded for this model.',
      type: 'service_tier_capacity_exceeded',
      param: null,
      code: '3505',
    });
    expect(capacity.headers.get('retry-after')).to.equal('1');
    expect(capacity.headers.get('x-ratelimit-limit-tokens-minute')).to.equal('500000');
    expect(emulator.stats().rateLimited['requests-per-second']).to.equal(0);

    emulator.configure({ faults: { capacityStatus: 503 } });
    const after = await statuses(emulator, 200);
    expect(count(after, 429)).to.equal(0);
    expect(count(after, 503)).to.be.greaterThan(0);
  });

  it('drops connections before responding at the configured rate (SDK: ConnectionError)', async () => {
    const emulator = await start({ dropBeforeRate: 0.2 });
    const seen = await statuses(emulator, REQUESTS);
    expect(count(seen, 0)).to.be.within(150, 250);
    expect(emulator.stats().faults.dropBefore).to.equal(count(seen, 0));
    expect(emulator.stats().tokens[SMALL]?.requests).to.equal(count(seen, 200));
    emulator.configure({ faults: { dropBeforeRate: 1 } });
    const error = await rejection(sdk(emulator).chat.complete({ model: SMALL, messages: [{ role: 'user', content: 'x' }] }));
    expect(error).to.be.instanceOf(ConnectionError);
  });

  it('cuts streams after their first chunk at the configured rate, tokens charged', async () => {
    const emulator = await start({ dropMidStreamRate: 0.25 });
    const client = sdk(emulator);
    let cut = 0;
    let whole = 0;
    for (let i = 0; i < 400; i++) {
      const stream = await client.chat.stream({ model: SMALL, messages: [{ role: 'user', content: 'hello' }], maxTokens: 1 });
      const chunks: unknown[] = [];
      try {
        for await (const event of stream) chunks.push(event.data);
        whole++;
      } catch {
        // The stream started (first chunk seen), then broke: what a router must not retry transparently.
        expect(chunks).to.have.length(1);
        cut++;
      }
    }
    expect(cut).to.be.within(70, 130);
    expect(cut + whole).to.equal(400);
    expect(emulator.stats().faults.dropMidStream).to.equal(cut);
    expect(emulator.stats().tokens[SMALL]?.requests).to.equal(400);
  });

  it('adds latency (wall clock) to the targeted models only: an untargeted call sent after a delayed one answers first', async () => {
    // Ordered, not timed: the delayed reply is held 1 s, the other is answered at once.
    const emulator = await start({ latencyMs: 1_000, errorRate: 1, models: ['mistral-small-latest'] });
    const order: string[] = [];
    const delayed = post(emulator, '/v1/chat/completions', chatBody('mistral-small-2506', 1)).then((r) => {
      order.push('delayed');
      return r;
    });
    const prompt = post(emulator, '/v1/chat/completions', chatBody(SMALL, 1)).then((r) => {
      order.push('untargeted');
      return r;
    });
    const [slow, fast] = await Promise.all([delayed, prompt]);
    expect(slow.status).to.be.within(500, 503);
    expect(fast.status).to.equal(200);
    expect(order).to.deep.equal(['untargeted', 'delayed']);
  });

  it('keeps the PRNG position when configure() changes something else', async () => {
    const [a, b] = await Promise.all([start({ errorRate: 0.5 }, 3), start({ errorRate: 0.5 }, 3)]);
    const first = [...(await statuses(a as Emulator, 50)), ...(await statuses(a as Emulator, 50))];
    const second = await statuses(b as Emulator, 50);
    (b as Emulator).configure({ latencyMs: 0 });
    second.push(...(await statuses(b as Emulator, 50)));
    expect(second).to.deep.equal(first);
  });
});
