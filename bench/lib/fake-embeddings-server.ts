/**
 * @module bench/lib/fake-embeddings-server
 * A stand-in embedding provider for `bench/embed.ts`: a real node:http server on 127.0.0.1
 * speaking OpenAI's `POST /v1/embeddings` (float encoding), which answers every batch after a
 * fixed delay, so that what the benchmark measures beside that delay is Quiver's own work. It
 * runs in the benchmark's process, on the same clock as the client, and keeps one interval per
 * request, from the request's arrival to the last byte of its answer handed to the socket;
 * `busyMs` merges them into the time the provider was working on at least one request.
 *
 * Vectors are a cheap deterministic function of the text (`benchVector`), with four decimals
 * so the JSON stays small: payload size and vector math are not what is being measured. The
 * tests' fake server (tests/embed/fake-openai-server.ts) does more (errors, hangs, base64,
 * shortening); this one is kept separate because bench code does not import from tests/.
 *
 * @example
 * ```ts
 * const provider = await FakeEmbeddingsServer.start({ dims: 256, delayMs: 20 });
 * // ... point a model's baseURL at provider.baseURL, run statements ...
 * provider.requestsBetween(t0, t1); // requests that started in [t0, t1]
 * provider.busyMs(t0, t1);          // ms in [t0, t1] with a request in flight
 * await provider.close();
 * ```
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Decimals kept per vector element: short JSON numbers that float32 holds closely. */
const VECTOR_SCALE = 1e4;

export interface FakeEmbeddingsServerOptions {
  /** Length of every vector returned. */
  dims: number;
  /** Milliseconds between receiving a request's body and answering it. */
  delayMs: number;
}

/** One request: `performance.now()` at arrival and when its answer was written out. */
export interface RequestInterval {
  start: number;
  end: number;
  inputs: number;
}

/** The vector the server returns for `text`: seeded by FNV-1a of the text, values in [-1, 1) on a 1e-4 grid. */
export function benchVector(text: string, dims: number): number[] {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  let state = hash >>> 0;
  const out = new Array<number>(dims);
  for (let d = 0; d < dims; d++) {
    // mulberry32, as bench/lib/random.ts
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[d] = Math.round((unit * 2 - 1) * VECTOR_SCALE) / VECTOR_SCALE;
  }
  return out;
}

/** Merged length of `intervals` clipped to [from, to]. */
export function unionMs(intervals: readonly RequestInterval[], from = -Infinity, to = Infinity): number {
  const clipped = intervals
    .map(({ start, end }) => [Math.max(start, from), Math.min(end, to)] as const)
    .filter(([start, end]) => end > start)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let openStart = -Infinity;
  let openEnd = -Infinity;
  for (const [start, end] of clipped) {
    if (start > openEnd) {
      if (openEnd > openStart) total += openEnd - openStart;
      openStart = start;
      openEnd = end;
    } else if (end > openEnd) openEnd = end;
  }
  if (openEnd > openStart) total += openEnd - openStart;
  return total;
}

export class FakeEmbeddingsServer {
  /** Every answered request since start or reset, in order of completion. */
  readonly intervals: RequestInterval[] = [];
  /** Requests received since start or reset, answered or not. */
  requests = 0;
  /** Texts received across those requests. */
  inputs = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** Answers other than 200 (bad route or body); a benchmark run with any is void. */
  failures = 0;

  private constructor(
    private readonly server: Server,
    readonly dims: number,
    readonly delayMs: number,
  ) {}

  /** Listens on a free loopback port. */
  static async start(options: FakeEmbeddingsServerOptions): Promise<FakeEmbeddingsServer> {
    let fake: FakeEmbeddingsServer | undefined;
    const server = createServer((req, res) => {
      fake!.handle(req, res).catch((error: unknown) => {
        fake!.failures++;
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(error), type: 'server_error' } }));
      });
    });
    fake = new FakeEmbeddingsServer(server, options.dims, options.delayMs);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** The base URL a model is configured with (ends in /v1). */
  get baseURL(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v1`;
  }

  /** Zeroes the counters and forgets the intervals. */
  reset(): void {
    this.intervals.length = 0;
    this.requests = 0;
    this.inputs = 0;
    this.maxInFlight = 0;
    this.failures = 0;
  }

  /** Answered requests that arrived in [from, to]. */
  requestsBetween(from: number, to: number): RequestInterval[] {
    return this.intervals.filter((r) => r.start >= from && r.start <= to);
  }

  /** Milliseconds in [from, to] during which at least one request was in flight. */
  busyMs(from = -Infinity, to = Infinity): number {
    return unionMs(this.intervals, from, to);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const start = performance.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/embeddings') {
      this.failures++;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } }));
      return;
    }
    this.requests++;
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string; input: string | string[] };
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    this.inputs += input.length;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    } finally {
      this.inFlight--;
    }
    // Written by hand: JSON.stringify of 16K numbers in objects costs more than the rest of the handler.
    const data = input
      .map((text, index) => `{"object":"embedding","index":${index},"embedding":[${benchVector(text, this.dims).join(',')}]}`)
      .join(',');
    const tokens = input.reduce((sum, text) => sum + text.split(/\s+/).length, 0);
    const json =
      `{"object":"list","data":[${data}],"model":${JSON.stringify(body.model)},` +
      `"usage":{"prompt_tokens":${tokens},"total_tokens":${tokens}}}`;
    res.on('finish', () => this.intervals.push({ start, end: performance.now(), inputs: input.length }));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(json);
  }
}
