/**
 * @module body
 * Reading a request body safely: its media type, its size, its arrival time and its text. The
 * whole body is received before the request is admitted (`readBody`). The size limit is
 * checked twice on purpose: against Content-Length before reading (so an honest large upload
 * is refused without being received), and while reading (so a chunked or lying body is cut
 * off at the limit instead of being buffered whole). Bodies are UTF-8; anything else is
 * refused rather than guessed at. JSON bodies are read with exact integers (exact-json.ts).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { QuiverError } from '../core/index.ts';
import { parseExactJson } from './exact-json.ts';
import { problemResponse } from './problem.ts';

export interface MediaType {
  /** `type/subtype`, lower-cased, without parameters. */
  essence: string;
  /** The lower-cased `charset` parameter, if any. */
  charset: string | undefined;
}

/** Parses a Content-Type header; undefined when there is none. */
export function parseMediaType(header: string | null): MediaType | undefined {
  if (header === null || header.trim() === '') return undefined;
  const [essence, ...params] = header.split(';');
  let charset: string | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq >= 0 && param.slice(0, eq).trim().toLowerCase() === 'charset') {
      charset = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    }
  }
  return { essence: essence.trim().toLowerCase(), charset };
}

/** True for the charset parameters that mean UTF-8 (or none at all). */
export function isUtf8Charset(charset: string | undefined): boolean {
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}

function tooLarge(maxBytes: number): QuiverError {
  return new QuiverError(
    'PAYLOAD_TOO_LARGE',
    `request body is larger than this server's limit of ${maxBytes} bytes; send the SQL in smaller requests`,
  );
}

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by `readBody`: the request's whole body, received before the request is admitted. */
    body: Uint8Array;
  }
}

const NO_BODY = new Uint8Array(0);

/**
 * Receives the whole body before anything else holds a resource for the request: mounted
 * before `admission` (app.ts), so a body trickling in holds no admission slot, worker or lock,
 * only its socket. A body larger than `maxBytes` is refused 413; one not complete within
 * `timeoutMs` (QUIVER_BODY_TIMEOUT_MS) is refused 408 BODY_TIMEOUT and its connection closed, since the rest of
 * it is never read. Routes take the bytes with {@link bodyText}.
 */
export function readBody(maxBytes: number, timeoutMs: number): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') {
      c.set('body', NO_BODY);
      return next();
    }
    const abort = new AbortController();
    const reading = readBodyBytes(c.req.raw, maxBytes, abort.signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    let bytes: Uint8Array | 'late';
    try {
      bytes = await Promise.race([reading, late]);
    } finally {
      clearTimeout(timer);
    }
    if (bytes === 'late') {
      abort.abort();
      // The read ends in an error once the connection is closed; nobody waits for it.
      reading.catch(() => undefined);
      const error = new QuiverError(
        'BODY_TIMEOUT',
        `the request body did not arrive within ${timeoutMs} ms of the request's headers (QUIVER_BODY_TIMEOUT_MS); send it at once, or in smaller requests`,
      );
      c.res = problemResponse(error, { request: c.req.raw, headers: { connection: 'close' } });
      return;
    }
    c.set('body', bytes);
    await next();
  };
}

/** The body `readBody` received, as UTF-8 text. */
export function bodyText(c: Context): string {
  return decodeUtf8(c.get('body') ?? NO_BODY);
}

/** Reads the whole body, refusing more than `maxBytes` bytes; `signal` stops a streamed read. */
async function readBodyBytes(request: Request, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared)) {
    if (Number(declared) > maxBytes) throw tooLarge(maxBytes);
    // With a declared length Node's HTTP parser never delivers more bytes than that, so the
    // whole body can be read at once: @hono/node-server reads it straight from the socket,
    // which costs a fraction of pulling it through a web stream (BENCHMARKS.md, bench:sql).
    return new Uint8Array(await request.arrayBuffer());
  }
  if (request.body === null) return NO_BODY;

  const reader = request.body.getReader();
  signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Stop the sender instead of draining the rest; a failed cancel changes nothing for us.
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/** fatal: invalid bytes are an error, not U+FFFD; a leading BOM is dropped. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new QuiverError('BAD_REQUEST', 'request body is not valid UTF-8; send the SQL as UTF-8 text');
  }
}

/**
 * A JSON body as a value, integers beyond 2^53 as bigints (exact-json.ts). V8's message may
 * quote the body (and so a bound parameter), so only the offset is taken from it, turned into a
 * line and column. The message format is not a contract: without an offset the answer just has
 * no position.
 */
export function parseJsonBody(text: string): unknown {
  try {
    return parseExactJson(text);
  } catch (error) {
    const offset = Number(/at position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1] ?? NaN);
    if (!Number.isInteger(offset)) throw new QuiverError('INVALID_JSON', 'the request body is not valid JSON');
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    throw new QuiverError('INVALID_JSON', `the request body is not valid JSON (line ${line}, column ${column})`, {
      position: { line, column },
    });
  }
}
