import { expect } from 'chai';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WireHttp, bodyText, headerLines, type HttpOpened } from '../../lib/mistral/wire-http.js';

/**
 * A raw TCP server that answers each request (read up to its body, by content-length) with the next
 * scripted reply: a list of byte pieces written one by one (so the client parses across reads), then,
 * with `close`, the connection ends.
 */
interface Reply {
  readonly pieces: readonly (string | Buffer)[];
  readonly close?: boolean;
}

interface Scripted {
  readonly url: string;
  readonly connections: number;
  readonly requests: string[];
  readonly sockets: Socket[];
  close(): Promise<void>;
}

async function scripted(replies: Reply[]): Promise<Scripted> {
  const requests: string[] = [];
  const sockets: Socket[] = [];
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.push(socket);
    let buffer = '';
    socket.on('data', async (bytes) => {
      buffer += bytes.toString('latin1');
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        requests.push(buffer.slice(0, end + 4 + length));
        buffer = buffer.slice(end + 4 + length);
        const reply = replies.shift();
        if (reply === undefined) return;
        for (const piece of reply.pieces) {
          socket.write(piece);
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (reply.close === true) socket.end();
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    requests,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const json = (body: string, extra = '') => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
/** Every byte of `text` as its own piece. */
const bytewise = (text: string) => [...Buffer.from(text)].map((byte) => Buffer.from([byte]));

const LINES = headerLines({ authorization: 'Bearer k', 'content-type': 'application/json', accept: 'application/json' });

function collect(opened: HttpOpened): Promise<{ texts: string[]; ended: boolean; error?: unknown }> {
  return new Promise((resolve) => {
    const texts: string[] = [];
    opened.body.listen({ data: (text) => texts.push(text), end: () => resolve({ texts, ended: true }), error: (error) => resolve({ texts, ended: false, error }) });
  });
}

describe('wire-http: the wire transport\'s HTTP/1.1 client', () => {
  let server: Scripted | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('writes one request with its head, reads a length-framed answer that came byte by byte, and reuses connections', async () => {
    server = await scripted([{ pieces: bytewise(json('{"a":"é"}', 'x-ratelimit-limit-tokens-minute: 500\r\n')) }, ...Array.from({ length: 5 }, () => ({ pieces: [json('{"b":2}')] }))]);
    const http = new WireHttp();
    const url = new URL(`${server.url}/v1/chat/completions`);
    const first = await http.post(url, LINES, '{"model":"m"}', undefined);
    expect([first.status, first.text, first.headers['x-ratelimit-limit-tokens-minute'], first.headers['content-type']]).to.deep.equal([200, '{"a":"é"}', '500', 'application/json']);
    expect(first.rawHeaders).to.include('x-ratelimit-limit-tokens-minute');
    for (let i = 0; i < 5; i++) expect((await http.post(url, LINES, '{"model":"m"}', undefined)).text).to.equal('{"b":2}');
    // undici hands a connection back to its pool a turn after the body ends: sequential calls take turns on two.
    expect(server.connections).to.be.at.most(2);
    const sent = server.requests[0] as string;
    expect(sent.startsWith('POST /v1/chat/completions HTTP/1.1\r\n')).to.equal(true);
    expect(sent.toLowerCase()).to.include(`host: ${url.host}\r\n`).and.include('authorization: bearer k\r\n').and.include('content-length: 13\r\n');
    expect(sent.endsWith('\r\n\r\n{"model":"m"}')).to.equal(true);
  });

  it('reads a chunked event stream as it comes (extensions, trailers, a character split across chunks), then reuses the connection', async () => {
    const euro = Buffer.from('€');
    server = await scripted([
      {
        pieces: [
          'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n',
          '9;ext=1\r\ndata: {}\n\r\n',
          Buffer.concat([Buffer.from('3\r\n'), euro.subarray(0, 2)]),
          Buffer.concat([euro.subarray(2), Buffer.from('\r\n2\r\n\n\n\r\n')]),
          '0\r\nx-trailer: 1\r\n\r\n',
        ],
      },
      ...Array.from({ length: 4 }, () => ({ pieces: [json('{}')] })),
    ]);
    const http = new WireHttp();
    const opened = await http.open(new URL(`${server.url}/v1/chat/completions`), LINES, '{}', undefined);
    expect([opened.status, opened.headers['content-type']]).to.deep.equal([200, 'text/event-stream']);
    const read = await collect(opened);
    expect(read.ended).to.equal(true);
    expect(read.texts.join('')).to.equal('data: {}\n€\n\n');
    expect(read.texts).to.not.include('\uFFFD');
    for (let i = 0; i < 4; i++) expect((await http.post(new URL(`${server.url}/x`), LINES, '{}', undefined)).text).to.equal('{}');
    expect(server.connections).to.be.at.most(2);
  });

  it('Connection: close and a body up to the connection\'s end: read whole, the connection not reused', async () => {
    server = await scripted([
      { pieces: ['HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}'], close: true },
      { pieces: ['HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{"until":', '"close"}'], close: true },
      { pieces: [json('{}')] },
    ]);
    const http = new WireHttp();
    const url = new URL(`${server.url}/v1/embeddings`);
    expect((await http.post(url, LINES, '{}', undefined)).text).to.equal('{}');
    expect((await http.post(url, LINES, '{}', undefined)).text).to.equal('{"until":"close"}');
    expect((await http.post(url, LINES, '{}', undefined)).text).to.equal('{}');
    expect(server.connections).to.equal(3);
  });

  it('skips an interim 1xx head; keeps node:http\'s header record (repeats joined, set-cookie a list, retry-after once)', async () => {
    server = await scripted([{ pieces: ['HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n', 'HTTP/1.1 429 Too Many\r\nX-A: 1\r\nx-a: 2\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nretry-after: 3\r\nretry-after: 9\r\ncontent-length: 0\r\n\r\n'] }]);
    const reply = await new WireHttp().post(new URL(server.url), LINES, '', undefined);
    expect([reply.status, reply.text, reply.headers['x-a'], reply.headers['set-cookie'], reply.headers['retry-after'], reply.headers.link]).to.deep.equal([429, '', '1, 2', ['a=1', 'b=2'], '3', undefined]);
    expect(reply.rawHeaders.slice(0, 4)).to.deep.equal(['x-a', '1', 'x-a', '2']);
  });

  it('a non-success stream answer is read whole for its error', async () => {
    server = await scripted([{ pieces: ['HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{"message":"x"}'] }]);
    const opened = await new WireHttp().open(new URL(server.url), LINES, '{}', undefined);
    expect([opened.status, await bodyText(opened)]).to.deep.equal([400, '{"message":"x"}']);
  });

  it('failures: refused (fetch failed), dropped mid-body, malformed (a parse error), aborted (the signal\'s reason)', async () => {
    const http = new WireHttp();
    const probe = await scripted([]);
    const refusedUrl = new URL(probe.url);
    await probe.close();
    const refused = await http.post(refusedUrl, LINES, '{}', undefined).catch((error: unknown) => error);
    expect(refused).to.be.instanceOf(TypeError).with.property('message', 'fetch failed');

    server = await scripted([
      { pieces: ['HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{"a"'], close: true },
      { pieces: ['HTTP/1.1 2000 OK\r\n\r\n'] },
      { pieces: ['HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n', '5\r\nhello\r\n'] },
    ]);
    const url = new URL(server.url);
    const dropped = (await http.post(url, LINES, '{}', undefined).catch((error: unknown) => error)) as TypeError;
    expect([dropped.message, (dropped.cause as { code?: string }).code]).to.deep.equal(['fetch failed', 'UND_ERR_SOCKET']);
    const malformed = (await http.post(url, LINES, '{}', undefined).catch((error: unknown) => error)) as TypeError;
    expect([malformed.message, (malformed.cause as Error).name]).to.deep.equal(['fetch failed', 'HTTPParserError']);

    const controller = new AbortController();
    const opened = await http.open(url, LINES, '{}', controller.signal);
    const reading = collect(opened);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const reason = new DOMException('gone', 'AbortError');
    controller.abort(reason);
    const read = await reading;
    expect([read.texts.join(''), read.ended, read.error]).to.deep.equal(['hello', false, reason]);
    const after = await http.post(url, LINES, '{}', controller.signal).catch((error: unknown) => error);
    expect(after).to.equal(reason);
  });

  it('a request still waiting for a connection is answered at once when its signal aborts', async () => {
    server = await scripted([]); // reads requests, never answers
    const http = new WireHttp({ connections: 1 });
    const url = new URL(server.url);
    const first = http.post(url, LINES, '{}', undefined).catch((error: unknown) => error);
    const controller = new AbortController();
    const second = http.post(url, LINES, '{}', controller.signal).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.requests).to.have.length(1); // the second is queued behind the first
    const reason = new DOMException('gone', 'AbortError');
    controller.abort(reason);
    expect(await second).to.equal(reason);
    await server.close();
    server = undefined;
    expect(await first).to.be.instanceOf(TypeError).with.property('message', 'fetch failed');
    await http.close();
  });

  it('drops an idle connection the server closed and opens another', async () => {
    server = await scripted([{ pieces: [json('{}')] }, { pieces: [json('{"b":1}')] }]);
    const http = new WireHttp();
    const url = new URL(server.url);
    await http.post(url, LINES, '{}', undefined);
    for (const socket of server.sockets) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await http.post(url, LINES, '{}', undefined)).text).to.equal('{"b":1}');
    expect(server.connections).to.equal(2);
    await http.close();
  });

  it('headerLines refuses a value node:http refuses (CR/LF), naming the header and not its value', () => {
    expect(() => headerLines({ authorization: 'Bearer secret\r\nx-evil: 1' })).to.throw(TypeError, 'Invalid character in header content ["authorization"]').that.satisfies((error: Error) => !error.message.includes('secret'));
    expect(() => headerLines({ 'bad name': 'x' })).to.throw(TypeError, 'Header name must be a valid HTTP token');
  });
});
