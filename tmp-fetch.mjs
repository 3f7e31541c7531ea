import http from 'node:http';
import { Mistral } from '@mistralai/mistralai';
import { HTTPClient } from '@mistralai/mistralai/lib/http.js';
import { startEmulator } from './dist/lib/emulator/index.js';
const UN = { requestsPerSecond: null, models: { 'mistral-small-2603': { tokensPerMinute: null, tokensPerMonth: null } } };
const emulator = await startEmulator({ apiKeys: ['up'], overrides: UN });
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const u = new URL(emulator.url);
function nodeFetch(request) {
  return request.text().then((body) => new Promise((resolve, reject) => {
    const headers = {}; request.headers.forEach((v, k) => (headers[k] = v));
    const r = http.request({ host: u.hostname, port: u.port, path: new URL(request.url).pathname, method: request.method, headers, agent }, (res) => {
      const chunks = []; res.on('data', (c) => chunks.push(c)); res.on('end', () => { const h = new Headers(); for (const [k, v] of Object.entries(res.headers)) h.set(k, String(v)); resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: h })); });
    });
    r.on('error', reject); r.end(body);
  }));
}
const bodyText = JSON.stringify({ model: 'mistral-small-2603', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
const rawCall = () => new Promise((resolve, reject) => { const r = http.request({ host: u.hostname, port: u.port, path: '/v1/chat/completions', method: 'POST', agent, headers: { authorization: 'Bearer up', 'content-type': 'application/json', 'content-length': Buffer.byteLength(bodyText) } }, (res) => { const c = []; res.on('data', (x) => c.push(x)); res.on('end', () => resolve(JSON.parse(Buffer.concat(c).toString()))); }); r.on('error', reject); r.end(bodyText); });
const sdk = new Mistral({ apiKey: 'up', serverURL: emulator.url, retryConfig: { strategy: 'none' } });
const sdkNode = new Mistral({ apiKey: 'up', serverURL: emulator.url, retryConfig: { strategy: 'none' }, httpClient: new HTTPClient({ fetcher: nodeFetch }) });
const req = { model: 'mistral-small-2603', messages: [{ role: 'user', content: 'hi' }], maxTokens: 10 };
async function run(name, call, n, c) { const t0 = performance.now(); let i = 0; await Promise.all(Array.from({ length: c }, async () => { while (i++ < n) await call(); })); const s = (performance.now() - t0) / 1000; console.log(name.padEnd(12), 'c=' + c, (n / s).toFixed(0).padStart(6), 'rps', (s / n * c * 1000).toFixed(3), 'ms/call'); }
for (let r = 0; r < 3; r++) for (const c of [1, 32]) { await run('raw http', rawCall, 2000, c); await run('sdk fetch', () => sdk.chat.complete(req), 2000, c); await run('sdk node', () => sdkNode.chat.complete(req), 2000, c); }
await emulator.stop(); agent.destroy();
