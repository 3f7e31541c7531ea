// The router as a Vercel AI SDK provider: generateText and streamText by capability, with fallback,
// quota waits and the decision in providerMetadata. Runs against the bundled emulator, so no API key or
// network is needed: drop serverURL and give your own keys to talk to Mistral.
//   npm install && node examples/ai-sdk.mjs
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createMistralRouterProvider } from 'mistral-router/ai-sdk';
import { startEmulator } from 'mistral-router/emulator';

const emulator = await startEmulator({ tier: 'free' });
const mistralRouter = createMistralRouterProvider({
  workspaces: [{ name: 'team-a', apiKey: process.env.MISTRAL_API_KEY ?? 'local-key', tier: 'free' }],
  serverURL: emulator.url, // omit to call api.mistral.ai
  maxWaitMs: 5_000,
});

// "a model with vision and function calling": the router picks it, the answer says which one.
const vision = mistralRouter({ need: { capabilities: ['vision', 'function_calling'] } });
const { text, response, providerMetadata } = await generateText({ model: vision, prompt: 'Describe a receipt.', maxOutputTokens: 100 });
console.log(text.slice(0, 60), '...');
console.log('answered by', response.modelId, 'via', providerMetadata.mistralRouter.workspace, `(${providerMetadata.mistralRouter.tokens.used} tokens)`);

// A stream by capability; the free tier's 1 request/s makes it wait about a second for its turn.
const stream = streamText({ model: mistralRouter({ need: { capabilities: ['reasoning'] } }), prompt: 'Why is the sky blue?', maxOutputTokens: 100 });
let streamed = '';
for await (const delta of stream.textStream) streamed += delta;
const routed = (await stream.providerMetadata).mistralRouter;
console.log('streamed', streamed.length, 'characters from', routed.model, `after waiting ${routed.waitedMs} ms`);

// A tool loop: tools imply function_calling, every step is routed and metered.
const weather = tool({
  description: 'The weather in a city',
  inputSchema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
  execute: async ({ city }) => ({ city, sky: 'clear' }),
});
const loop = await generateText({ model: mistralRouter('auto'), prompt: 'Weather in Paris?', tools: { weather }, stopWhen: stepCountIs(3) });
console.log(loop.steps.length, 'steps:', loop.steps.map((step) => step.response.modelId).join(', '), '->', loop.text);

await mistralRouter.router.close();
await emulator.stop();
