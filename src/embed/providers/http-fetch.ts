/**
 * @module http-fetch
 * The `fetch` the embeddings client hands the openai SDK (its `fetch` option): node:http(s)
 * with keep-alive agents, the answer read whole, then given to the SDK as a standard Response.
 * Embedding answers are one small JSON body each, and the global fetch (undici) spends about as
 * much CPU again on streams and bookkeeping, on the path between the provider's answer and the
 * reply (measured beside a local provider: BENCHMARKS.md, bench:embed).
 * The SDK still builds requests, parses answers, times out and maps errors; only the transport
 * changes. Not for streaming (chat keeps the global fetch), and anything but a string or bytes
 * body goes to the global fetch. Compressed answers (gzip, deflate, br) are inflated, though the
 * SDK does not ask for them. Runs on the calling thread.
 */
import http from 'node:http';
import https from 'node:https';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** Statuses whose Response may not have a body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** A fetch over node:http(s) for requests with small bodies and answers; one set of agents per call. */
export function createHttpFetch(): typeof fetch {
  // Idle sockets are unref'd by the agents, so they never keep a process alive.
  const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
  return (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body;
    if (input instanceof Request || (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array))) {
      return fetch(input, init);
    }
    const url = new URL(String(input));
    const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
    if (!client) return fetch(input, init);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    return new Promise<Response>((resolve, reject) => {
      const request = client.request(url, { method, headers, agent: agents[url.protocol as 'http:' | 'https:'], signal: init.signal ?? undefined }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('close', () => {
          if (!response.complete) reject(new Error('the connection closed before the whole answer arrived'));
        });
        response.on('end', () => {
          try {
            const answerHeaders = new Headers();
            for (let i = 0; i < response.rawHeaders.length; i += 2) answerHeaders.append(response.rawHeaders[i], response.rawHeaders[i + 1]);
            const status = response.statusCode ?? 502;
            const bytes = inflate(Buffer.concat(chunks), answerHeaders);
            const empty = method === 'HEAD' || NULL_BODY_STATUSES.has(status);
            // Node's Buffers live on plain ArrayBuffers, never shared ones, whatever their static type says.
            const view = new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length);
            resolve(new Response(empty ? null : view, { status, statusText: response.statusMessage, headers: answerHeaders }));
          } catch (error) {
            reject(error);
          }
        });
      });
      request.on('error', reject);
      request.end(body ?? undefined);
    });
  };
}

/** The answer's bytes without its Content-Encoding; the headers then describe them as they are. */
function inflate(bytes: Buffer, headers: Headers): Buffer {
  const encoding = headers.get('content-encoding')?.trim().toLowerCase();
  if (!encoding || encoding === 'identity' || bytes.length === 0) return bytes;
  let out: Buffer;
  if (encoding === 'gzip' || encoding === 'x-gzip') out = gunzipSync(bytes);
  else if (encoding === 'deflate') out = inflateSync(bytes);
  else if (encoding === 'br') out = brotliDecompressSync(bytes);
  else throw new Error(`the answer is encoded as ${encoding}, which Quiver cannot read`);
  headers.delete('content-encoding');
  headers.set('content-length', String(out.length));
  return out;
}
