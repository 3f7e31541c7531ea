/**
 * FIM streamed through the one attempt loop, against the project's emulator on a fake clock: the library's
 * `router.fim.stream` (the SDK's `fim.stream`) and the wire API's `router.wire.fimStream` run the same
 * scenarios (fallback on quota before the first chunk, usage on the last chunk settles, a reader that stops
 * or a signal that aborts settles, a break after the first chunk is a typed STREAM_FAILED), and each
 * must leave nothing pending. The stream is measured like a chat stream (time to first chunk, by operation).
 */
import type { CompletionEvent } from '@mistralai/mistralai/models/components/index.js';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { RouterError } from '../../lib/errors.js';
import type { Router, RouterEvents } from '../../lib/index.js';
import type { AttemptRecord } from '../../lib/router/events.js';
import type { RoutedStreamOf } from '../../lib/router/stream.js';
import { createPrometheusMetrics } from '../../lib/telemetry/prometheus.js';
import { closeRouted, drive, failure, startRouted, type Routed } from '../helpers/routed.js';
import type { EmulatorOptions } from '../../lib/emulator/index.js';

const KEY = 'sk-fim-stream-test-key-0123456789abcdef';

afterEach(closeRouted);

/** One chunk as a test reads it, whichever API produced it. */
interface Read {
  readonly model: string;
  readonly content: string;
  readonly totalTokens: number | undefined;
}

interface FimRequest {
  readonly model?: string;
  readonly prompt: string;
  readonly suffix: string;
  readonly maxTokens: number;
}

/** The two ways to stream FIM: the library's (SDK events, camelCase) and the wire API's (raw chunks). */
const VIAS = {
  sdk: async (router: Router, request: FimRequest, signal?: AbortSignal) => {
    const stream = await router.fim.stream(request, signal === undefined ? undefined : { signal });
    return { stream: stream as RoutedStreamOf<unknown>, read: (chunk: unknown): Read => {
      const { data } = chunk as CompletionEvent;
      return { model: data.model, content: String(data.choices[0]?.delta.content ?? ''), totalTokens: data.usage?.totalTokens };
    } };
  },
  wire: async (router: Router, request: FimRequest, signal?: AbortSignal) => {
    const { maxTokens, ...rest } = request;
    const stream = await router.wire.fimStream({ ...rest, max_tokens: maxTokens }, signal === undefined ? undefined : { signal });
    return { stream: stream as RoutedStreamOf<unknown>, read: (chunk: unknown): Read => {
      const { json } = chunk as { json: { model: string; choices: { delta: { content?: string } }[]; usage?: { total_tokens: number } } };
      return { model: json.model, content: json.choices[0]?.delta.content ?? '', totalTokens: json.usage?.total_tokens };
    } };
  },
} as const;

const start = (emulator: Partial<EmulatorOptions> = {}) => startRouted({ apiKeys: [KEY], emulator, record: ['done', 'fallback'] });
const attemptsOf = (attempts: readonly AttemptRecord[]) => attempts.map((a) => [a.model, a.outcome, a.status]);
const doneOf = (s: Routed) => s.events.filter((e) => e.name === 'done').map((e) => e.event as RouterEvents['done']).map((d) => [d.endpoint, d.ok]);
const request: FimRequest = { prompt: 'def add(a, b):', suffix: '\n', maxTokens: 12 };

for (const [via, open] of Object.entries(VIAS)) {
  describe(`FIM streams (${via === 'sdk' ? 'router.fim.stream' : 'router.wire.fimStream'})`, () => {
    it('streams a codestral completion and settles at the usage of its last chunk; done says fim', async () => {
      const s = await start();
      const { stream, read } = await drive(s, open(s.router, request));
      expect(stream.routing.model).to.equal('codestral-2501');
      expect(stream.routing.plan.endpoint).to.equal('fim');
      const chunks: Read[] = [];
      for await (const chunk of stream) chunks.push(read(chunk));
      expect(chunks.length).to.be.greaterThan(2);
      expect(chunks.map((c) => c.content).join('')).to.contain('(codestral-2501).');
      expect(chunks.every((c) => c.model === 'codestral-2501')).to.equal(true);
      const last = chunks.at(-1)?.totalTokens;
      expect(last).to.be.greaterThan(12);
      const final = await stream.settled;
      expect(final.tokens.used).to.equal(last);
      expect(stream.routing.tokens.used, 'the decision handed over is not changed').to.equal(undefined);
      // The window holds the real usage, not the estimate.
      const windows = (await s.store.snapshot('team-a')).filter((w) => w.model === 'codestral-2501' && w.kind === 'tokens-per-minute');
      expect(windows[0]?.used).to.equal(last);
      expect(await s.store.pendingReservations()).to.equal(0);
      expect(doneOf(s)).to.deep.equal([['fim', true]]);
    });

    it('an upstream 429 before the first chunk falls back to the next FIM model', async () => {
      // The emulator meters codestral-2501 at 10 tokens a minute (the router does not know): a 429 at once.
      const s = await start({ overrides: { models: { 'codestral-2501': { tokensPerMinute: 10 } } } });
      const { stream, read } = await drive(s, open(s.router, request));
      expect(attemptsOf(stream.routing.attempts)).to.deep.equal([['codestral-2501', 'quota', 429], ['codestral-2405', 'ok', 200]]);
      expect(s.events.find((e) => e.name === 'fallback')?.event).to.include({ reason: 'quota' });
      const models = new Set<string>();
      for await (const chunk of stream) models.add(read(chunk).model);
      expect([...models]).to.deep.equal(['codestral-2405']);
      await stream.settled;
      expect(await s.store.pendingReservations()).to.equal(0);
    });

    it('a reader that stops mid-stream (a disconnect) cancels the upstream and settles; an abort is an AbortError', async () => {
      const s = await start({ faults: { chunkIntervalMs: 60_000 } });
      const { stream } = await drive(s, open(s.router, request));
      const reader = stream[Symbol.asyncIterator]();
      expect((await reader.next()).done).to.equal(false);
      expect(await s.store.pendingReservations()).to.equal(1);
      const waiting = reader.next();
      await reader.return?.();
      await waiting.catch(() => undefined);
      expect((await stream.settled).model).to.equal('codestral-2501');
      expect(await s.store.pendingReservations()).to.equal(0);
      const controller = new AbortController();
      const aborted = await drive(s, open(s.router, request, controller.signal));
      const chunks = aborted.stream[Symbol.asyncIterator]();
      await chunks.next();
      const next = chunks.next();
      controller.abort();
      expect(((await failure(next)) as RouterError).code).to.equal('ABORTED');
      await aborted.stream.settled;
      expect(await s.store.pendingReservations()).to.equal(0);
      expect(doneOf(s)).to.deep.equal([['fim', true], ['fim', false]]);
    });

    it('a connection that breaks after the first chunk is a typed STREAM_FAILED, settled', async () => {
      const s = await start({ faults: { dropMidStreamRate: 1 } });
      const { stream } = await drive(s, open(s.router, request));
      const error = await failure((async () => {
        for await (const chunk of stream) void chunk;
      })());
      expect(RouterError.isInstance(error) && error.code).to.equal('STREAM_FAILED');
      expect((error as Error).message).not.to.include(KEY);
      await stream.settled;
      expect(await s.store.pendingReservations()).to.equal(0);
    });
  });
}

describe('FIM streams: telemetry', () => {
  it('a FIM stream is measured as a text completion: duration, time to first chunk, tokens', async () => {
    const s = await start();
    const registry = new Registry();
    createPrometheusMetrics({ registry }).observe(s.router);
    for (const open of Object.values(VIAS)) {
      const { stream } = await drive(s, open(s.router, request));
      for await (const chunk of stream) void chunk;
      await stream.settled;
    }
    const out = await registry.metrics();
    const line = (name: string, ...labels: string[]) => out.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
    const fim = 'gen_ai_operation_name="text_completion"';
    expect(line('gen_ai_client_operation_time_to_first_chunk_seconds_count', fim, 'gen_ai_request_model="codestral-2501"')).to.match(/ 2$/);
    expect(line('gen_ai_client_operation_duration_seconds_count', fim)).to.match(/ 2$/);
    expect(line('gen_ai_client_token_usage_count', fim, 'gen_ai_token_type="output"')).to.match(/ 2$/);
  });
});
