// What a call gets when its only model fails, and how to tell the errors apart. Runs against the bundled
// emulator (no API key or network needed); the emulator answers every FIM request with a 503 at first.
//   npm install && node examples/when-models-fail.mjs
import { createRouter, ModelCoolingDownError, NeedError, QuotaExhaustedError } from 'mistral-router';
import { startEmulator } from 'mistral-router/emulator';

const emulator = await startEmulator({ tier: 'free', faults: { errorRate: 1, errorStatuses: [503], models: ['codestral-2508'] } });
const router = createRouter({
  workspaces: [{ name: 'team-a', apiKey: process.env.MISTRAL_API_KEY ?? 'local-key', tier: 'free' }],
  serverURL: emulator.url, // omit to call api.mistral.ai
  cooldownMs: 1_500, // a model that failed (5xx, capacity, timeout) is avoided this long
});
const fim = { prompt: 'def add(a, b):', suffix: '\n', maxTokens: 20 }; // only codestral-2508 does fill-in-the-middle

function explain(error) {
  if (ModelCoolingDownError.isInstance(error)) return `${error.code}: ${error.models.map((m) => `${m.model} (${m.reason})`).join(', ')} back in ${error.retryAfterMs} ms`;
  if (QuotaExhaustedError.isInstance(error)) return `${error.code}: capacity returns in ${error.retryAfterMs} ms`;
  if (NeedError.isInstance(error)) return `${error.code}: fix ${error.field}`;
  throw error;
}

// 1. The 503 cools codestral-2508 down; this call may not wait, so it learns when the model is back.
console.log(await router.fim.complete({ ...fim, maxWaitMs: 0 }).catch(explain));

// 2. The model recovers. A call that may wait 5 s waits for the cooldown to end, then is served.
emulator.configure({ faults: { errorRate: 0 } });
const served = await router.fim.complete({ ...fim, maxWaitMs: 5_000 });
console.log('served by', served.routing.model, `after waiting ${served.routing.waitedMs} ms for the cooldown`);

// 3. A request the SDK's schema refuses names the field, before anything is sent.
console.log(await router.chat.complete({ messages: [{ role: 'user', content: 42 }] }).catch(explain));

await router.close();
await emulator.stop();
