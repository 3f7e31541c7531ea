/**
 * Bad input over raw HTTP, as curl would send it: each gets Mistral's error shape (and OpenAI's `error`
 * object), the right status, and the field at fault; nothing reaches the emulator; slow clients are cut.
 */
import { connect, type Socket } from 'node:net';
import { expect } from 'chai';
import { RedisStore } from '../../lib/quota/redis/index.js';
import OpenAI from 'openai';
import { ALPHA_KEY, BETA_KEY, baseConfig, chatBody, raw, setup } from './support.js';
import { until } from '../helpers/routed.js';

const post = (url: string, body: string, init: RequestInit & { key?: string | null } = {}) => raw(`${url}/v1/chat/completions`, { method: 'POST', body, ...init });

/** Opens a TCP connection, writes `text`, and resolves with what came back once the server closed it. */
function rawSocket(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(port), hostname, () => socket.write(text));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

describe('gateway: bad input', () => {
  it('malformed JSON, an empty body or a non-object: 400 naming `body`, in Mistral\'s and OpenAI\'s shapes', async () => {
    const { url, emulator } = await setup();
    for (const body of ['{"model": "auto", ', '', '[1, 2]', 'null']) {
      const reply = await post(url, body);
      expect(reply.status, body).to.equal(400);
      const json = reply.json();
      expect(json).to.include({ object: 'error', type: 'invalid_request_error', param: 'body' });
      expect((json.error as { message: string }).message).to.equal(json.message);
    }
    expect(emulator.stats().requests).to.equal(0);
  });

  it('an unknown field or message field: 400 naming it; an OpenAI-only field: 400 saying it has no equivalent', async () => {
    const { url } = await setup();
    const unknown = await post(url, chatBody('auto', { temprature: 0.2 }));
    expect(unknown.status).to.equal(400);
    expect(unknown.json()).to.include({ param: 'temprature' });
    const nested = await post(url, JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi', name: 'bob' }] }));
    expect(nested.json()).to.include({ param: 'messages[0].name' });
    const openai = await post(url, chatBody('auto', { logit_bias: { 42: 1 } }));
    expect(openai.status).to.equal(400);
    expect(openai.json().param).to.equal('logit_bias');
    expect(openai.json().message).to.contain('no equivalent in Mistral');
    // The official client raises it as a BadRequestError with the gateway's message.
    const client = new OpenAI({ apiKey: ALPHA_KEY, baseURL: `${url}/v1`, maxRetries: 0 });
    const error = await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }], user: 'u-1' }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).to.contain("OpenAI's user has no equivalent");
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).to.equal('user');
    const both = await post(url, chatBody('auto', { max_completion_tokens: 5 }));
    expect(both.json().param).to.equal('max_completion_tokens');
  });

  it('a malformed nested shape: 400 in Mistral\'s shape naming the field path, on every endpoint; nothing sent upstream', async () => {
    const { url, emulator } = await setup();
    const cases: [string, Record<string, unknown>, string][] = [
      ['/v1/chat/completions', { model: 'auto', messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url' }] }] }, 'messages[0].content[1].image_url'],
      ['/v1/chat/completions', { model: 'auto', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: 'get_weather' }], stream: true }, 'tools[0].function'],
      ['/v1/chat/completions', { model: 'auto', messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 'ten' }, 'max_completion_tokens'],
      ['/v1/fim/completions', { model: 'codestral-2501', prompt: { code: 'x' } }, 'prompt'],
      ['/v1/embeddings', { model: 'embed', input: [{ text: 'x' }] }, 'input[0]'],
    ];
    for (const [path, body, param] of cases) {
      const reply = await raw(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) });
      expect(reply.status, param).to.equal(400);
      const json = reply.json();
      expect(json).to.include({ object: 'error', type: 'invalid_request_error', param, code: 'invalid_field' });
      expect(json.message).to.match(new RegExp(`^${param.replace(/[[\].]/g, '\\$&')}: `));
    }
    expect(emulator.stats().requests).to.equal(0);
  });

  it('keys: none or a wrong one 401, a route the key may not use 403, an unknown model 404 naming it', async () => {
    const { url, emulator } = await setup();
    expect((await post(url, chatBody('auto'), { key: null })).status).to.equal(401);
    const wrong = await post(url, chatBody('auto'), { key: 'sk-nope' });
    expect(wrong.status).to.equal(401);
    expect(wrong.json()).to.include({ type: 'authentication_error' });
    const forbidden = await post(url, chatBody('vision-chat'), { key: BETA_KEY });
    expect(forbidden.status).to.equal(403);
    expect(forbidden.json().message).to.contain('"beta" may not use the route "vision-chat"');
    expect((await post(url, chatBody('auto'), { key: BETA_KEY })).status, 'auto is a route too').to.equal(403);
    const missing = await post(url, chatBody('gpt-4o'));
    expect(missing.status).to.equal(404);
    expect(missing.json()).to.include({ param: 'model' });
    expect(missing.json().message).to.contain('"gpt-4o" does not exist');
    expect(emulator.stats().requests).to.equal(0);
  });

  it('a body over the limit: 413 from its content-length, without reading it, and when sent chunked', async () => {
    const { url, emulator } = await setup({ config: (u) => baseConfig(u, { server: { port: 0, bodyLimitBytes: 1000 } }) });
    const big = chatBody('auto', { stop: ['x'.repeat(2000)] });
    const declared = await post(url, big);
    expect(declared.status).to.equal(413);
    expect(declared.headers.get('connection')).to.equal('close');
    expect(declared.json()).to.include({ param: 'body' });
    const chunked = await rawSocket(url, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALPHA_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n${(600).toString(16)}\r\n${'y'.repeat(600)}\r\n${(600).toString(16)}\r\n${'y'.repeat(600)}\r\n`);
    expect(chunked).to.match(/^HTTP\/1\.1 413/);
    expect(emulator.stats().requests).to.equal(0);
  });

  it('Expect: 100-continue with a body over the limit: 413 at once, never 100 Continue; under it, 100 then the answer', async () => {
    const { url, emulator } = await setup({ config: (u) => baseConfig(u, { server: { port: 0, bodyLimitBytes: 1000 } }) });
    const head = (length: number) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALPHA_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`;
    const refused = await rawSocket(url, head(5000));
    expect(refused).to.match(/^HTTP\/1\.1 413/);
    expect(refused).to.not.contain('100 Continue');
    const body = chatBody('auto');
    const { hostname, port } = new URL(url);
    const accepted = await new Promise<string>((resolve, reject) => {
      const socket: Socket = connect(Number(port), hostname, () => socket.write(head(Buffer.byteLength(body))));
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk.toString();
        if (received === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write(body);
        else if (received.includes('"choices"')) socket.end();
      });
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    });
    expect(accepted).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200/);
    expect(emulator.stats().requests).to.equal(1);
  });

  it('a compressed body: 415 naming it (not inflated); a byte-order mark before the JSON and an absolute-form target are taken', async () => {
    const { url, emulator } = await setup();
    const gzip = await raw(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody('auto'), headers: { 'content-encoding': 'gzip' } });
    expect(gzip.status).to.equal(415);
    expect(gzip.json()).to.include({ param: 'body' });
    expect(gzip.json().message).to.contain('Content-Encoding: gzip');
    expect(emulator.stats().requests).to.equal(0);
    expect((await post(url, `\ufeff${chatBody('auto')}`)).status).to.equal(200);
    const { host } = new URL(url);
    const absolute = await rawSocket(url, `GET http://${host}/healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(absolute).to.match(/^HTTP\/1\.1 200/);
    expect(absolute).to.contain('{"status":"ok"}');
  });

  it('unknown paths 404, wrong methods 405 with Allow; /healthz and /readyz answer', async () => {
    const { url } = await setup();
    expect((await raw(`${url}/v1/completions`, { method: 'POST', body: '{}' })).status).to.equal(404);
    const get = await raw(`${url}/v1/chat/completions`);
    expect(get.status).to.equal(405);
    expect(get.headers.get('allow')).to.equal('POST');
    expect((await raw(`${url}/healthz`, { key: null })).json()).to.deep.equal({ status: 'ok' });
    expect((await raw(`${url}/readyz`, { key: null })).json()).to.deep.equal({ status: 'ready' });
  });

  it('/readyz is 503 while the store does not answer; /healthz still 200 (the process is up)', async () => {
    // A Redis store where no Redis listens: the process is up, the store is not reachable.
    const { url } = await setup({ store: new RedisStore({ redis: 'redis://127.0.0.1:1', keyPrefix: 'mr-test-unreachable:', commandTimeoutMs: 200 }) });
    const ready = await raw(`${url}/readyz`, { key: null });
    expect(ready.status).to.equal(503);
    expect((await raw(`${url}/healthz`, { key: null })).status).to.equal(200);
  });

  it('a client that never finishes its headers, or its body, is cut after the configured timeouts', async () => {
    const { url, emulator, logs } = await setup({ config: (u) => baseConfig(u, { server: { port: 0, headersTimeoutMs: 200, requestTimeoutMs: 300, accessLog: true } }) });
    // Waits on the server closing the socket (mocha's timeout bounds it); no elapsed time is asserted.
    const headers = await rawSocket(url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
    expect(headers === '' || /^HTTP\/1\.1 408/.test(headers), headers).to.equal(true);
    const body = await rawSocket(url, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALPHA_KEY}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"model":`);
    expect(body).to.match(/^HTTP\/1\.1 408/);
    expect(emulator.stats().requests).to.equal(0);
    // The body that never ended is logged as the 408 node answered, not as a bad request.
    await until(() => logs.some((l) => l.includes('"path":"/v1/chat/completions"')), 'the access-log line');
    expect(JSON.parse(logs.find((l) => l.includes('"path":"/v1/chat/completions"')) as string)).to.include({ status: 408, error: 'request_timeout' });
  });

  it('a malformed chunked body: node\'s 400, logged as 400 (not as a timeout, not as the client leaving)', async () => {
    const { url, emulator, logs } = await setup();
    const reply = await rawSocket(url, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALPHA_KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{"model"\r\n`);
    expect(reply).to.match(/^HTTP\/1\.1 400 Bad Request\r\nConnection: close/);
    await until(() => logs.some((l) => l.includes('"path":"/v1/chat/completions"')), 'the access-log line');
    expect(JSON.parse(logs.find((l) => l.includes('"path":"/v1/chat/completions"')) as string)).to.include({ status: 400, error: 'bad_request' });
    expect(emulator.stats().requests).to.equal(0);
  });
});
