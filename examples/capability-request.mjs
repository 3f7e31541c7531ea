// Ask by capability, not by model name. Runs against the bundled emulator, so no API key or network is
// needed: replace serverURL and apiKey with your own to talk to Mistral.
//   npm install && node examples/capability-request.mjs
import { createRouter } from 'mistral-router';
import { startEmulator } from 'mistral-router/emulator';

const emulator = await startEmulator({ tier: 'free' });
const router = createRouter({
  workspaces: [{ name: 'team-a', apiKey: process.env.MISTRAL_API_KEY ?? 'local-key', tier: 'free' }],
  serverURL: emulator.url, // omit to call api.mistral.ai
  maxWaitMs: 5_000, // wait at most 5 s for quota, then QuotaExhaustedError with retryAfterMs
  fallbacks: { 'mistral-small-2603': ['ministral-8b-2512'] }, // tried right after a model named in a request
});

// "chat with vision and function calling, 60k tokens of context"
const response = await router.chat.complete({
  need: { capabilities: ['vision', 'function_calling'], minContext: 60_000 },
  messages: [{ role: 'user', content: [{ type: 'text', text: 'What is on this receipt?' }, { type: 'image_url', imageUrl: 'https://example.com/receipt.png' }] }],
  maxTokens: 300,
});
console.log(response.choices[0].message.content.slice(0, 60), '...');
console.log('routed to', response.routing.model, 'via', response.routing.workspace, `(${response.routing.tokens.used} tokens)`);

// A named model with its fallbacks; the free tier's 1 request/s makes this one wait about a second.
const named = await router.chat.complete({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hello' }], maxTokens: 50 });
console.log('routed to', named.routing.model, `after waiting ${named.routing.waitedMs} ms`);

// The dry run: what would be chosen, and why every other model lost.
const plan = await router.plan('chat', { need: { capabilities: ['reasoning'] }, messages: [{ role: 'user', content: 'Why?' }], maxTokens: 1000 });
console.log('reasoning candidates:', [...new Set(plan.candidates.map((c) => c.model))].join(', '));

// A retired model, named: its replacement answers, and the decision says so.
const retired = await router.chat.complete({ model: 'mistral-small-2506', messages: [{ role: 'user', content: 'Hello' }], maxTokens: 20 });
console.log('mistral-small-2506 ->', retired.routing.replaced);

await router.close();
await emulator.stop();
