// A front end that already speaks Mistral's wire format routes through router.wire: the JSON body goes
// upstream as it came (with the chosen model), and the upstream's answer comes back as it came, routed,
// waited for, settled and reported like any router call. Here: a 25-line chat proxy on node:http, called
// with fetch. Runs against the bundled emulator (no API key or network needed).
//   npm install && node examples/wire-proxy.mjs
import { createServer } from 'node:http';
import { createRouter } from 'mistral-router';
import { startEmulator } from 'mistral-router/emulator';

const emulator = await startEmulator({ tier: 'free' });
const router = createRouter({
  workspaces: [{ name: 'team-a', apiKey: process.env.MISTRAL_API_KEY ?? 'local-key', tier: 'free' }],
  serverURL: emulator.url, // omit to call api.mistral.ai
});

const proxy = createServer(async (req, res) => {
  let text = '';
  for await (const piece of req) text += piece;
  const body = JSON.parse(text);
  try {
    if (body.stream === true) {
      const stream = await router.wire.chatStream(body, { need: { capabilities: ['function_calling'] } });
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-model': stream.routing.model });
      for await (const chunk of stream) res.write(`data: ${chunk.data}\n\n`); // each chunk's text as sent
      res.end('data: [DONE]\n\n');
    } else {
      const answer = await router.wire.chat(body, { maxWaitMs: 2_000 });
      res.writeHead(200, { 'content-type': 'application/json', 'x-model': answer.routing.model });
      res.end(answer.text); // the upstream's JSON as it came
    }
  } catch (error) {
    res.writeHead(error.code === 'NEED_INVALID' ? 400 : 502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'error', message: error.message, param: error.field ?? null }));
  }
});
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${proxy.address().port}/v1/chat/completions`;
const post = (body) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const json = await post({ messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 20 });
const answer = await json.json();
console.log('JSON:', json.headers.get('x-model'), JSON.stringify(answer.choices[0].message.content), answer.usage);

const streamed = await post({ messages: [{ role: 'user', content: 'Count to three.' }], max_tokens: 20, stream: true });
console.log('SSE :', streamed.headers.get('x-model'), (await streamed.text()).split('\n\n').filter(Boolean).length, 'events');

const refused = await post({ messages: [{ role: 'user', content: 'hi' }], temprature: 0.2 });
console.log('400 :', (await refused.json()).param, 'is not a field Mistral takes');

proxy.close();
await router.close();
await emulator.stop();
