/**
 * A real HTTP server on 127.0.0.1 speaking OpenAI's `POST /v1/embeddings`, for tests of
 * anything that embeds through the `openai` package: nothing is mocked at the function level.
 * Vectors are a deterministic function of the text (fakeVector), `dimensions` shortens them the
 * way OpenAI's models do (truncate, renormalize), and `encoding_format: "base64"` is honoured
 * (or refused, as some servers do).
 * The server counts requests, inputs and the most requests it saw in flight at once, and can
 * be told how to answer any given request: an HTTP error (with headers such as Retry-After),
 * or no answer at all.
 *
 * @example
 * ```ts
 * const server = await FakeOpenAIServer.start({ dims: 8 });
 * server.answer(3, { status: 500, message: 'boom' }); // the 3rd request fails
 * // ... point a model's baseURL at server.baseURL ...
 * await server.close();
 * ```
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the server answers one request. */
export type Behavior =
  | { kind: 'ok' }
  /** An error body `{"error": {"message", "type", "code"}}` with this status and headers. */
  | { kind: 'fail'; status: number; message: string; headers?: Record<string, string> }
  /** Read the request, never answer. */
  | { kind: 'hang' }
  /** Answer 200 with vectors of the wrong length. */
  | { kind: 'wrong-dims'; dims: number };

export interface FakeOpenAIServerOptions {
  /** The model's own dims. */
  dims?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`, or get OpenAI's 401. */
  apiKey?: string;
  /** Milliseconds every successful request takes (to make concurrency observable). */
  delayMs?: number;
}

/** One request as received. */
export interface ReceivedRequest {
  model: string;
  input: string[];
  dimensions: number | undefined;
  encodingFormat: string | undefined;
  authorization: string | undefined;
}

/** The deterministic unit vector the server returns for `text` (before any shortening). */
export function fakeVector(text: string, dims: number): Float32Array {
  const out = new Float32Array(dims);
  let block = Buffer.alloc(0);
  for (let i = 0; i < dims; i++) {
    if (i % 8 === 0) block = createHash('sha256').update(`${text}\u0000${i / 8}`).digest();
    out[i] = block.readInt32LE((i % 8) * 4) / 2 ** 31;
  }
  return normalize(out);
}

/** What the server returns for `text` when asked for `dimensions` of a `native`-dims model. */
export function fakeShortVector(text: string, native: number, dimensions: number): Float32Array {
  return normalize(fakeVector(text, native).slice(0, dimensions));
}

function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  return v.map((x) => x / n);
}

export class FakeOpenAIServer {
  /** Requests received (answered or not) since start or reset. */
  requests = 0;
  /** Texts received across those requests. */
  inputs = 0;
  inFlight = 0;
  maxInFlight = 0;
  readonly received: ReceivedRequest[] = [];
  delayMs: number;
  /** Answer requests asking for base64 with a 400 naming encoding_format, as servers without it do. */
  refuseBase64 = false;
  private readonly planned = new Map<number, Behavior>();
  private fallback: Behavior = { kind: 'ok' };
  private readonly hung = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly dims: number,
    private readonly apiKey: string | undefined,
    delayMs: number,
  ) {
    this.delayMs = delayMs;
  }

  static async start(options: FakeOpenAIServerOptions = {}): Promise<FakeOpenAIServer> {
    let fake: FakeOpenAIServer | undefined;
    const server = createServer((req, res) => {
      fake!.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: { message: String(error) } }));
      });
    });
    fake = new FakeOpenAIServer(server, options.dims ?? 8, options.apiKey, options.delayMs ?? 0);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** The base URL a client is configured with (ends in /v1). */
  get baseURL(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v1`;
  }

  /** How to answer the `n`th request (1-based, counted since start or reset). */
  /** Requests told to hang whose connection is still open. */
  get hanging(): number {
    return this.hung.size;
  }

  answer(n: number, behavior: Behavior | { status: number; message: string; headers?: Record<string, string> }): void {
    this.planned.set(n, 'kind' in behavior ? behavior : { kind: 'fail', ...behavior });
  }

  /** How to answer every request without a planned answer. */
  answerAll(behavior: Behavior): void {
    this.fallback = behavior;
  }

  /** Zeroes the counters and forgets planned answers. */
  reset(): void {
    this.requests = 0;
    this.inputs = 0;
    this.maxInFlight = 0;
    this.received.length = 0;
    this.planned.clear();
    this.fallback = { kind: 'ok' };
    this.refuseBase64 = false;
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/embeddings') {
      return this.send(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } });
    }
    const n = ++this.requests;
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      model: string;
      input: string | string[];
      dimensions?: number;
      encoding_format?: string;
    };
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    this.inputs += input.length;
    this.received.push({
      model: body.model,
      input,
      dimensions: body.dimensions,
      encodingFormat: body.encoding_format,
      authorization: req.headers.authorization,
    });
    if (this.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.apiKey}`) {
      const given = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      // As OpenAI does, the message quotes the key it got (OpenAI masks the middle; this does not).
      return this.send(res, 401, { error: { message: `Incorrect API key provided: ${given}.`, type: 'invalid_request_error', code: 'invalid_api_key' } });
    }
    if (this.refuseBase64 && body.encoding_format === 'base64') {
      return this.send(res, 400, { error: { message: "encoding_format 'base64' is not supported; use 'float'", type: 'invalid_request_error', code: null } });
    }
    const behavior = this.planned.get(n) ?? this.fallback;
    if (behavior.kind === 'hang') {
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    if (behavior.kind === 'fail') {
      return this.send(res, behavior.status, { error: { message: behavior.message, type: 'server_error', code: null } }, behavior.headers);
    }
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    } finally {
      this.inFlight--;
    }
    const dims = behavior.kind === 'wrong-dims' ? behavior.dims : (body.dimensions ?? this.dims);
    const data = input.map((text, index) => {
      const vector = dims <= this.dims ? fakeShortVector(text, this.dims, dims) : fakeVector(text, dims);
      const embedding =
        body.encoding_format === 'base64' ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64') : Array.from(vector);
      return { object: 'embedding', index, embedding };
    });
    const tokens = input.reduce((sum, text) => sum + text.split(/\s+/).length, 0);
    this.send(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }
}
