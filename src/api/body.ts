/**
 * @module body
 * Reading a request body safely: its media type, its size and its text. The size limit is
 * checked twice on purpose: against Content-Length before reading (so an honest large upload
 * is refused without being received), and while reading (so a chunked or lying body is cut
 * off at the limit instead of being buffered whole). Bodies are UTF-8; anything else is
 * refused rather than guessed at. JSON bodies are read with exact integers (exact-json.ts).
 */
import { QuiverError } from '../core/index.ts';
import { parseExactJson } from './exact-json.ts';

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

/** Reads the whole body as UTF-8 text, refusing more than `maxBytes` bytes. */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared)) {
    if (Number(declared) > maxBytes) throw tooLarge(maxBytes);
    // With a declared length Node's HTTP parser never delivers more bytes than that, so the
    // whole body can be read at once: @hono/node-server reads it straight from the socket,
    // which costs a fraction of pulling it through a web stream (BENCHMARKS.md, bench:sql).
    return decodeUtf8(new Uint8Array(await request.arrayBuffer()));
  }
  if (request.body === null) return '';

  const reader = request.body.getReader();
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
  return decodeUtf8(Buffer.concat(chunks, size));
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
