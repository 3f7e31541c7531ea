/**
 * `mistral-router demo` (and `npm run demo`): the main job on the embedded defaults. Starts the emulator
 * in-process with the free tier, sends a realistic mix of capability requests faster than the tier
 * allows through a router pooling two free-tier workspaces, and prints where each went and why, the
 * fallbacks and waits, and a summary. Finishes well within a minute.
 */
import { loadCatalog } from '../catalog/index.js';
import { startEmulator } from '../emulator/index.js';
import { QuotaExhaustedError, RouterError } from '../errors.js';
import type { Decision } from '../router/decision.js';
import type { RoutedChatRequest } from '../router/prepare.js';
import { createRouter } from '../router/router.js';
import { formatCount, integerFlag, parseFlags, table } from './args.js';
import type { CliCommand } from './io.js';

const help = `Usage: mistral-router demo [--requests N] [--interval-ms N]

Routes N requests (default 24), one every --interval-ms (default 250), through two free-tier workspaces
of a local emulator. The free tier allows 1 request/s per workspace, so the router waits and falls back.
`;

interface Job {
  readonly label: string;
  readonly run: (router: ReturnType<typeof createRouter>) => Promise<{ routing: Decision }>;
}

const image = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const words = (n: number) => Array.from({ length: n }, (_, i) => ['quota', 'window', 'model', 'routing', 'tokens'][i % 5]).join(' ');

const chat = (request: RoutedChatRequest) => (router: ReturnType<typeof createRouter>) => router.chat.complete(request);

const audio = 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=';

/**
 * A release newer than this package, as a refresh from GET /v1/models would find it: the emulator lists
 * it, the bundled catalogue does not know it. It takes images and audio together, which no bundled
 * current model does, so the request that needs both is served only after the refresh.
 */
const newRelease = {
  id: 'mistral-small-2612',
  name: 'mistral-small-2612',
  max_context_length: 262_144,
  aliases: [],
  capabilities: { completion_chat: true, function_calling: true, vision: true, audio: true, reasoning: true },
};

const jobs: readonly Job[] = [
  { label: 'vision: describe an image', run: chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', imageUrl: image }] }], maxTokens: 200 }) },
  { label: 'mistral-small-2506 by name (retired)', run: chat({ model: 'mistral-small-2506', messages: [{ role: 'user', content: words(400) }], maxTokens: 2_000 }) },
  {
    label: 'vision + audio (a model the refresh found)',
    run: chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Does the clip match the picture?' }, { type: 'image_url', imageUrl: image }, { type: 'input_audio', inputAudio: audio }] }], maxTokens: 200 }),
  },
  { label: 'reasoning: a proof', run: chat({ need: { capabilities: ['reasoning'] }, messages: [{ role: 'user', content: 'Prove that the square root of 2 is irrational.' }], maxTokens: 600 }) },
  { label: 'audio: transcribe', run: chat({ need: { capabilities: ['audio'] }, messages: [{ role: 'user', content: [{ type: 'text', text: 'Transcribe this.' }, { type: 'input_audio', inputAudio: audio }] }], maxTokens: 300 }) },
  {
    label: 'function calling: weather tool',
    run: chat({
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
      maxTokens: 100,
    }),
  },
  { label: 'long context: 35k tokens, needs a 100k window', run: chat({ need: { minContext: 100_000 }, messages: [{ role: 'user', content: `Summarise: ${words(20_000)}` }], maxTokens: 1_000 }) },
  { label: 'embeddings: three passages', run: (router) => router.embeddings.create({ inputs: ['quota windows', 'capability routing', 'fair waiting'] }) },
  { label: 'fill-in-the-middle: code', run: (router) => router.fim.complete({ prompt: 'def fibonacci(n):\n    ', suffix: '\n    return a', maxTokens: 64 }) },
];

export const demoCommand: CliCommand = async (args, io) => {
  const { values } = parseFlags(args, { requests: { type: 'string' }, 'interval-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.out(help);
    return 0;
  }
  const requests = integerFlag('requests', values.requests, 1) ?? 24;
  const intervalMs = integerFlag('interval-ms', values['interval-ms']) ?? 250;
  const catalog = loadCatalog();
  // The free tier as the source gives it, plus a limit the source leaves unknown for mistral-small-2603:
  // the emulator plays a workspace whose real limit is 6,000 tokens/min, which the router learns from headers.
  const hidden = { 'mistral-small-2603': { tokensPerMinute: 6_000, tokensPerMonth: null } };
  const emulator = await startEmulator({
    tier: 'free',
    catalog,
    overrides: { models: hidden },
    extraCards: [newRelease],
    faults: { capacityRate: 0.5, capacityStatus: 503, models: ['ministral-3b-2512'] },
  });
  const router = createRouter({
    workspaces: [
      { name: 'team-a', apiKey: 'demo-key-team-a', tier: 'free' },
      { name: 'team-b', apiKey: 'demo-key-team-b', tier: 'free' },
    ],
    catalog,
    serverURL: emulator.url,
    maxWaitMs: 20_000,
    // Its replacement (mistral-small-2603) comes first, then this: a current model for when it is full.
    fallbacks: { 'mistral-small-2506': ['ministral-8b-2512'] },
  });
  io.out(`emulator (free tier: 1 request/s per workspace) at ${emulator.url}; 2 workspaces; ${requests} requests, one every ${intervalMs} ms\n`);
  router.events.on('deprecated', (e) => io.out(`   ⚑ ${e.model} is ${e.status}${e.retired === null ? '' : ` (retired ${e.retired})`}${e.replacement === null ? '' : `; its requests go to ${e.replacement}`}\n`));
  const refresh = await router.refreshCatalog();
  io.out(`refreshed the catalogue from GET /v1/models of ${refresh.refreshed.join(', ')}: ${refresh.added.length === 0 ? 'no new models' : `new to the bundled catalogue: ${refresh.added.join(', ')}`}\n\n`);
  let fallbacks = 0;
  let quotaFallbacks = 0;
  let waits = 0;
  router.events.on('fallback', (e) => {
    fallbacks++;
    io.out(`   ↪ fallback: ${e.from.model} via ${e.from.workspace} answered ${e.status ?? e.reason} (${e.reason}); ${e.action}\n`);
  });
  router.events.on('wait', () => void waits++);
  router.events.on('limitsLearned', (e) => io.out(`   ✎ learned from headers: ${e.workspace}/${e.model} ${e.kind} = ${formatCount(e.limit)} (was ${e.previous === null ? 'unknown' : formatCount(e.previous)})\n`));
  const started = Date.now();
  const outcomes: { ok: boolean; model?: string }[] = [];
  const calls: Promise<void>[] = [];
  for (let i = 0; i < requests; i++) {
    const job = jobs[i % jobs.length] as Job;
    const n = i + 1;
    calls.push(
      job.run(router).then(
        ({ routing }) => {
          outcomes.push({ ok: true, model: routing.model });
          const waited = routing.waitedMs > 0 ? `, waited ${routing.waitedMs} ms` : '';
          const tries = routing.attempts.length > 1 ? `, after ${routing.attempts.length - 1} fallback(s)` : '';
          io.out(`#${String(n).padStart(2)} ${job.label.padEnd(44)} → ${routing.model} via ${routing.workspace} (${routing.tokens.used ?? '?'} tokens${waited}${tries})\n`);
          if (routing.replaced !== undefined) io.out(`   ↪ replaced: ${routing.replaced.requested} is retired; ${routing.replaced.by} answered\n`);
          // A quota fallback: the candidates ahead of the chosen one had no room in some window.
          const overModels = routing.passedOver.filter((p) => p.model !== routing.model);
          if (overModels.length > 0) {
            quotaFallbacks++;
            const why = overModels.map((p) => `${p.model} via ${p.workspace} (${p.windows.join(', ')} full)`).join('; ');
            io.out(`   ↪ quota fallback: passed over ${why}\n`);
          }
        },
        (error: unknown) => {
          outcomes.push({ ok: false });
          const why = QuotaExhaustedError.isInstance(error) ? `quota exhausted, capacity returns in ${Math.ceil(error.retryAfterMs)} ms` : RouterError.isInstance(error) ? `${error.code}: ${error.message}` : String(error);
          io.out(`#${String(n).padStart(2)} ${job.label.padEnd(44)} ✗ ${why}\n`);
        },
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  await Promise.all(calls);
  const seconds = (Date.now() - started) / 1000;
  const stats = emulator.stats();
  const served = outcomes.filter((o) => o.ok).length;
  io.out(`\nsummary: ${served}/${requests} served in ${seconds.toFixed(1)} s; ${fallbacks} fallback(s) after an error, ${quotaFallbacks} for quota; ${waits} wait(s); upstream 429s: ${stats.responses['429'] ?? 0} (of which quota: ${Object.values(stats.rateLimited).reduce((a, b) => a + b, 0)}); capacity errors injected: ${stats.faults.capacity}\n\n`);
  const snapshots = await router.store.snapshot();
  const rows = Object.entries(stats.tokens).map(([model, used]) => {
    const window = snapshots.find((s) => s.model === model && s.kind === 'tokens-per-minute' && s.limit !== null);
    const configured = catalog.limits('free', model).tokensPerMinute;
    const limit = window?.limit ?? configured;
    // Learned: the headers taught a limit the catalogue did not know (or had wrong); confirmed: they agreed.
    const source = window?.learned ? (configured === window.limit ? ' (confirmed by headers)' : ' (learned)') : '';
    return [model, String(used.requests), String(used.totalTokens), `${formatCount(limit)}${source}`];
  });
  io.out(table(['model', 'requests', 'tokens used', 'tokens/min limit per workspace'], rows));
  await router.close();
  await emulator.stop();
  return served === requests ? 0 : 1;
};
