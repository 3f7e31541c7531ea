/**
 * A request's JSON body: read up to the configured limit (413 past it, without reading the rest), parsed
 * once (400 naming `body` when it is not JSON).
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from './errors.js';

function tooLarge(limit: number): GatewayError {
  return new GatewayError({ code: 'GATEWAY_BODY_TOO_LARGE', message: `The request body is larger than this gateway's limit of ${limit} bytes (server.bodyLimitBytes).`, param: 'body' });
}

/**
 * The body's bytes. Rejects with 413 as soon as the declared `content-length` or the bytes received pass
 * `limit`; the caller then answers and closes the connection (the rest of the body is never read).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit));
  const encoding = req.headers['content-encoding'];
  // Not decompressed here (no inflating a small body into a large one): refused by name.
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return Promise.reject(new GatewayError({ code: 'GATEWAY_UNSUPPORTED_ENCODING', message: `The request body is compressed (Content-Encoding: ${encoding.slice(0, 40)}): send it uncompressed.`, param: 'body' }));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    // The client went away (or the server's request timeout destroyed the socket) before the body ended.
    const onClose = () => {
      cleanup();
      reject(new GatewayError({ code: 'GATEWAY_BAD_REQUEST', message: 'The connection closed before the request body ended.', param: 'body' }));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
  });
}

/** The parsed body; an empty or malformed one is a 400 naming `body`. */
export function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) throw new GatewayError({ code: 'GATEWAY_BAD_REQUEST', message: 'The request body is empty: expected a JSON object.', param: 'body' });
  try {
    const text = bytes.toString('utf8');
    // A byte-order mark some editors and Windows tools write first is not part of the JSON.
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown;
  } catch (error) {
    throw new GatewayError({ code: 'GATEWAY_BAD_REQUEST', message: `The request body is not valid JSON: ${(error as Error).message}`, param: 'body' });
  }
}
