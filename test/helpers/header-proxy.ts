/**
 * A broken or hostile proxy in front of the emulator: it forwards every request as it is and lets a test
 * rewrite the response headers (add, replace, remove) before they reach the SDK. Binds 127.0.0.1.
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Changes a response's headers in place; `status` is the emulator's. */
export type HeaderRewrite = (status: number, headers: IncomingHttpHeaders) => void;

export interface HeaderProxy {
  readonly url: string;
  close(): Promise<void>;
}

export async function startHeaderProxy(target: string, rewrite: HeaderRewrite): Promise<HeaderProxy> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const forwarded = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      const headers = { ...answer.headers };
      rewrite(answer.statusCode ?? 502, headers);
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
