/**
 * Closing the gateway (what SIGTERM does): calls in flight finish, open streams finish within the grace
 * or are cut after it, new requests are refused, and every reservation (the router's and the keys') is
 * settled before the store closes. A client that disconnects mid-stream cancels the upstream stream.
 */
import { expect } from 'chai';
import { ALPHA_KEY, baseConfig, chatBody, raw, setup } from './support.js';

/** Polls `condition` every 10 ms, at most 300 times, failing with `what` (no unbounded wait). */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Starts a streamed chat and resolves once its first event arrived, with a reader for the rest. */
async function openStream(url: string, signal?: AbortSignal): Promise<{ first: string; rest: () => Promise<string> }> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ALPHA_KEY}`, 'content-type': 'application/json' },
    body: chatBody('auto', { stream: true }),
    ...(signal === undefined ? {} : { signal }),
  });
  expect(response.status).to.equal(200);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const read = await reader.read();
  const first = decoder.decode(read.value);
  return {
    first,
    rest: async () => {
      let text = '';
      for (;;) {
        const next = await reader.read();
        if (next.done) return text;
        text += decoder.decode(next.value);
      }
    },
  };
}

/** A gateway whose upstream streams one event every `intervalMs` (wall clock), so a stream stays open. */
const slowStreams = (intervalMs: number, drainTimeoutMs = 10_000) =>
  setup({ emulator: { faults: { chunkIntervalMs: intervalMs } }, config: (u) => baseConfig(u, { server: { port: 0, drainTimeoutMs } }) });

describe('gateway: drain and disconnects', () => {
  it('close() lets a call in flight finish, refuses new requests, then closes the store', async () => {
    const { url, gateway, store } = await setup({ emulator: { latencyMs: 150 } });
    const inFlight = raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('auto') });
    await until(() => gateway.inFlight === 1, 'the call to be in flight');
    const closing = gateway.close();
    const late = await raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('auto') }).then(
      (reply) => reply.status,
      () => 'refused',
    );
    expect(late === 503 || late === 'refused', String(late)).to.equal(true);
    const reply = await inFlight;
    expect(reply.status).to.equal(200);
    await closing;
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('a stream open when close() is called finishes with [DONE] within the grace', async () => {
    const { url, gateway, store } = await slowStreams(20);
    const stream = await openStream(url);
    expect(stream.first).to.match(/^data: \{/);
    const closing = gateway.close();
    const rest = await stream.rest();
    expect(rest.trimEnd().endsWith('data: [DONE]')).to.equal(true);
    await closing;
    expect(await store.pendingReservations()).to.equal(0);
  });

  it('a stream still open when the grace ends is cut with an error event (no [DONE]), its reservation settled', async () => {
    const { url, gateway, store, clock, emulator } = await slowStreams(1000, 100);
    const stream = await openStream(url);
    const closing = gateway.close();
    await clock.advanceAsync(100);
    const rest = await stream.rest();
    expect(rest).not.to.contain('[DONE]');
    const last = rest.trimEnd().split('\n\n').at(-1) ?? '';
    expect(JSON.parse(last.slice('data: '.length))).to.include({ object: 'error', code: 'stream_failed' });
    await closing;
    expect(await store.pendingReservations()).to.equal(0);
    expect(emulator.stats().requests).to.equal(1);
  });

  it('a client that disconnects mid-stream: the upstream stream is cancelled and nothing stays pending', async () => {
    const { url, gateway, store } = await slowStreams(1000);
    const controller = new AbortController();
    const stream = await openStream(url, controller.signal);
    expect(await store.pendingReservations()).to.equal(1);
    controller.abort();
    await stream.rest().catch(() => undefined);
    // Without the cancel, the upstream stream would stay open ~10 s (one event a second).
    await until(async () => gateway.inFlight === 0 && (await store.pendingReservations()) === 0, 'the stream to be settled');
  });
});
