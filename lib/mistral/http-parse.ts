/**
 * An HTTP/1.1 response parser for the wire transport's client (wire-http.ts): the head (status line and
 * header fields, in node's own record shape) and the body's framing (content-length, chunked, or up to
 * the connection's end), fed the socket's bytes as they come, in pieces of any size. One response at a
 * time (the client never pipelines); an interim 1xx head is skipped.
 *
 * The header record follows node:http's rules (IncomingMessage.headers), so that what the router reads
 * of a response (rate limits, Retry-After) is the same as through node:http: lower-case names, repeats
 * joined with ", ", `set-cookie` a list, `cookie` joined with "; ", and the fields node keeps once (the
 * first: content-type, retry-after...).
 */

/** A response's head. */
export interface HttpHead {
  readonly status: number;
  /** node's record: lower-case names (see the module comment). */
  readonly headers: Record<string, string | string[]>;
  /** Names and values as received, alternating. */
  readonly rawHeaders: readonly string[];
}

/** What the parser tells its connection. */
export interface ParseSink {
  head(head: HttpHead): void;
  data(chunk: Buffer): void;
  /** The body is complete; `reusable` when the connection may carry another request. */
  end(reusable: boolean): void;
}

/** A response that is not HTTP/1.1 as node would read it (node's parser errors carry `HPE_` codes too). */
export class HttpParseError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(`Parse Error: ${message}`);
    this.name = 'HttpParseError';
    this.code = code;
  }
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** node:http's default limit on a head's size. */
const MAX_HEAD_BYTES = 16 * 1024;

/** The fields node:http keeps once (the first) when a response repeats them. */
const SINGLE: ReadonlySet<string> = new Set(['content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization', 'proxy-authorization', 'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires']);

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
  Done,
}

function addHeader(headers: Record<string, string | string[]>, name: string, value: string): void {
  const existing = headers[name];
  if (existing === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
  else if (name === 'set-cookie') (existing as string[]).push(value);
  else if (!SINGLE.has(name)) headers[name] = `${existing as string}${name === 'cookie' ? '; ' : ', '}${value}`;
}

const isDigit = (code: number) => code >= 48 && code <= 57;

/** The status of `HTTP/1.x NNN[ reason]` (the first `lineEnd` characters of `text`). */
function statusOf(text: string, lineEnd: number): number {
  const ok =
    text.startsWith('HTTP/1.') &&
    (text.charCodeAt(7) === 48 || text.charCodeAt(7) === 49) &&
    text.charCodeAt(8) === 32 &&
    isDigit(text.charCodeAt(9)) &&
    isDigit(text.charCodeAt(10)) &&
    isDigit(text.charCodeAt(11)) &&
    (lineEnd === 12 || text.charCodeAt(12) === 32);
  if (!ok) throw new HttpParseError('HPE_INVALID_CONSTANT', 'Expected HTTP/');
  return (text.charCodeAt(9) - 48) * 100 + (text.charCodeAt(10) - 48) * 10 + (text.charCodeAt(11) - 48);
}

export class ResponseParser {
  readonly #sink: ParseSink;
  #state = State.Head;
  #head = '';
  #remaining = 0;
  #line = '';
  #reusable = true;

  constructor(sink: ParseSink) {
    this.#sink = sink;
  }

  /** Whether the response is complete. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** Whether the body runs to the connection's end (then the end completes it). */
  get untilClose(): boolean {
    return this.#state === State.UntilClose;
  }

  /** Whether any byte of the response came. */
  get started(): boolean {
    return this.#state !== State.Head || this.#head.length > 0;
  }

  /** The connection ended: completes a body that runs to its end. */
  close(): void {
    if (this.#state !== State.UntilClose) return;
    this.#state = State.Done;
    this.#sink.end(false);
  }

  /** Feeds bytes; throws {@link HttpParseError}. Bytes after the response are refused (nothing was asked). */
  feed(bytes: Buffer): void {
    let offset = 0;
    while (offset < bytes.length) {
      switch (this.#state) {
        case State.Head:
          offset = this.#readHead(bytes, offset);
          break;
        case State.Length:
          offset = this.#take(bytes, offset);
          if (this.#remaining === 0) this.#finish();
          break;
        case State.ChunkSize:
        case State.Trailers:
        case State.ChunkEnd:
          offset = this.#readLine(bytes, offset);
          break;
        case State.ChunkData:
          offset = this.#take(bytes, offset);
          if (this.#remaining === 0) this.#state = State.ChunkEnd;
          break;
        case State.UntilClose:
          this.#sink.data(offset === 0 ? bytes : bytes.subarray(offset));
          offset = bytes.length;
          break;
        case State.Done:
          throw new HttpParseError('HPE_UNEXPECTED_CONTENT', 'Data after the response');
      }
    }
  }

  /** Body bytes up to what the length or the chunk has left; returns the offset after them. */
  #take(bytes: Buffer, offset: number): number {
    const n = Math.min(this.#remaining, bytes.length - offset);
    this.#sink.data(bytes.subarray(offset, offset + n));
    this.#remaining -= n;
    return offset + n;
  }

  #readHead(bytes: Buffer, offset: number): number {
    if (this.#head === '') {
      // The usual case: the whole head in one read, found without decoding the body's bytes.
      const end = bytes.indexOf(HEAD_END, offset);
      if (end >= 0 && end - offset <= MAX_HEAD_BYTES) {
        this.#startBody(bytes.toString('latin1', offset, end));
        return end + 4;
      }
    }
    const before = this.#head.length;
    this.#head += bytes.toString('latin1', offset);
    const end = this.#head.indexOf('\r\n\r\n', Math.max(0, before - 3));
    if (end < 0) {
      if (this.#head.length > MAX_HEAD_BYTES) throw new HttpParseError('HPE_HEADER_OVERFLOW', 'Header overflow');
      return bytes.length;
    }
    if (end > MAX_HEAD_BYTES) throw new HttpParseError('HPE_HEADER_OVERFLOW', 'Header overflow');
    const text = this.#head.slice(0, end);
    this.#head = '';
    this.#startBody(text);
    // The head's text is latin1, one character per byte.
    return offset + (end + 4 - before);
  }

  #startBody(text: string): void {
    let lineEnd = text.indexOf('\r\n');
    if (lineEnd < 0) lineEnd = text.length;
    const status = statusOf(text, lineEnd);
    const headers: Record<string, string | string[]> = {};
    const rawHeaders: string[] = [];
    for (let start = lineEnd + 2; start < text.length; start = lineEnd + 2) {
      lineEnd = text.indexOf('\r\n', start);
      if (lineEnd < 0) lineEnd = text.length;
      const colon = text.indexOf(':', start);
      const first = text.charCodeAt(start);
      if (colon <= start || colon > lineEnd || first === 32 || first === 9) throw new HttpParseError('HPE_INVALID_HEADER_TOKEN', 'Invalid header value char');
      const name = text.slice(start, colon);
      const value = text.slice(colon + 1, lineEnd).trim();
      rawHeaders.push(name, value);
      addHeader(headers, name.toLowerCase(), value);
    }
    if (status >= 100 && status < 200 && status !== 101) return; // interim (103 Early Hints...): the answer follows
    const connection = headers.connection === undefined ? '' : (headers.connection as string).toLowerCase();
    this.#reusable = text.charCodeAt(7) === 49 ? !connection.includes('close') : connection.includes('keep-alive');
    const encoding = headers['transfer-encoding'] as string | undefined;
    const chunked = encoding !== undefined && /(?:^|,)\s*chunked\s*$/i.test(encoding);
    const length = headers['content-length'] as string | undefined;
    this.#sink.head({ status, headers, rawHeaders });
    if (status === 101) this.#reusable = false; // a protocol switch nothing here asked for
    if (status === 204 || status === 304 || status === 101) this.#finish();
    else if (chunked) {
      // A length beside chunked is a smuggling shape: read it as chunked, and never reuse the connection.
      if (length !== undefined) this.#reusable = false;
      this.#state = State.ChunkSize;
    } else if (length !== undefined) {
      if (!/^\d+$/.test(length)) throw new HttpParseError('HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length');
      this.#remaining = Number(length);
      if (this.#remaining === 0) this.#finish();
      else this.#state = State.Length;
    } else {
      this.#reusable = false;
      this.#state = State.UntilClose;
    }
  }

  /** The chunk-size line, the CRLF after a chunk's data, or a trailer line. */
  #readLine(bytes: Buffer, offset: number): number {
    const lf = bytes.indexOf(10, offset);
    const end = lf < 0 ? bytes.length : lf;
    this.#line += bytes.toString('latin1', offset, end);
    if (this.#line.length > MAX_HEAD_BYTES) throw new HttpParseError('HPE_HEADER_OVERFLOW', 'Chunk line overflow');
    if (lf < 0) return bytes.length;
    const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
    this.#line = '';
    if (this.#state === State.ChunkEnd) {
      if (line !== '') throw new HttpParseError('HPE_STRICT', 'Expected CRLF after chunk');
      this.#state = State.ChunkSize;
    } else if (this.#state === State.ChunkSize) {
      const semicolon = line.indexOf(';');
      const hex = (semicolon < 0 ? line : line.slice(0, semicolon)).trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new HttpParseError('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size');
      this.#remaining = Number.parseInt(hex, 16);
      this.#state = this.#remaining === 0 ? State.Trailers : State.ChunkData;
    } else if (line === '') {
      this.#finish(); // trailers (if any) end with an empty line; nothing reads them
    }
    return lf + 1;
  }

  #finish(): void {
    this.#state = State.Done;
    this.#sink.end(this.#reusable);
  }
}
