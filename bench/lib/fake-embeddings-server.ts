/**
 * @module bench/lib/fake-embeddings-server
 * A stand-in embedding provider for `bench/embed.ts`: a real node:http server on 127.0.0.1
 * speaking OpenAI's `POST /v1/embeddings` (float or base64 encoding), which answers every batch a fixed
 * delay after it arrived, so that what the benchmark measures beside that delay is Quiver's own work. It
 * runs in the benchmark's process, on the same clock as the client, and keeps one interval per
 * request, from the request's arrival to the last byte of its answer handed to the socket;
 * `busyMs` merges them into the time the provider was working on at least one request.
 *
 * Vectors are a cheap deterministic function of the text (VectorTable), with four decimals so
 * the JSON stays small: payload size and vector math are not what is being measured. The
 * tests' fake server (tests/embed/fake-openai-server.ts) does more (errors, hangs, base64,
 * shortening); this one is kept separate because bench code does not import from tests/.
 *
 * @example
 * ```ts
 * const provider = await FakeEmbeddingsServer.start({ dims: 256, delayMs: 20 });
 * // ... point a model's baseURL at provider.baseURL, run statements ...
 * provider.requestsBetween(t0, t1); // requests that arrived in [t0, t1]
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
  /** Milliseconds from a request's arrival to its answer. */
  delayMs: number;
}

/** One request: `performance.now()` at arrival, body read, answer built, delay over, and answer written out. */
export interface RequestInterval {
  start: number;
  bodyRead: number;
  built: number;
  /** Due at start + delayMs; later when the event loop was busy. */
  delayEnd: number;
  end: number;
  inputs: number;
}

/** Distinct vector tails per dims: enough that neighbouring rows differ, few enough to build in milliseconds. */
const TABLE_SIZE = 4096;

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** `count` values in [-1, 1) on the 1e-4 grid from mulberry32 (as bench/lib/random.ts) seeded with `seed`. */
function gridValues(seed: number, count: number): number[] {
  let state = seed >>> 0;
  const out = new Array<number>(count);
  for (let d = 0; d < count; d++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[d] = Math.round((unit * 2 - 1) * VECTOR_SCALE) / VECTOR_SCALE;
  }
  return out;
}

/**
 * The provider's vectors: for a text with FNV-1a hash h, element 0 is h on the 1e-4 grid of
 * [-1, 1) and the rest is row h mod TABLE_SIZE of a seeded table, kept as JSON text too. So
 * every text gets its own vector, and answering 64 texts is string concatenation: an answer
 * built number by number took ~3 ms, during which this process (which is also the benchmark's
 * client) could not see the batch's other request arrive.
 */
class VectorTable {
  private readonly tails: number[][];
  private readonly tailJson: string[];
  /** The whole table as float32, row after row, element 0 of each row left for the head. */
  private readonly float32: Float32Array;

  constructor(readonly dims: number) {
    this.tails = Array.from({ length: TABLE_SIZE }, (_, row) => gridValues(row + 1, dims - 1));
    this.tailJson = this.tails.map((tail) => tail.join(','));
    this.float32 = new Float32Array(TABLE_SIZE * dims);
    this.tails.forEach((tail, row) => this.float32.set(tail, row * dims + 1));
  }

  vector(text: string): number[] {
    const h = fnv1a(text);
    return [this.head(h), ...this.tails[h % TABLE_SIZE]];
  }

  json(text: string): string {
    const h = fnv1a(text);
    return this.dims === 1 ? `[${this.head(h)}]` : `[${this.head(h)},${this.tailJson[h % TABLE_SIZE]}]`;
  }

  /** The vector as base64 of float32 little-endian, as OpenAI's `encoding_format: "base64"`. */
  base64(text: string): string {
    const h = fnv1a(text);
    const row = (h % TABLE_SIZE) * this.dims;
    const vector = this.float32.slice(row, row + this.dims);
    vector[0] = this.head(h);
    return Buffer.from(vector.buffer).toString('base64');
  }

  private head(h: number): number {
    return Math.round(((h / 4294967296) * 2 - 1) * VECTOR_SCALE) / VECTOR_SCALE;
  }
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

/** The embeddings response for `input`, as OpenAI writes it: arrays of numbers, or base64 strings when asked. */
function answerJson(model: string, input: readonly string[], vectors: VectorTable, base64: boolean): string {
  const embedding = base64 ? (text: string) => `"${vectors.base64(text)}"` : (text: string) => vectors.json(text);
  const data = input.map((text, index) => `{"object":"embedding","index":${index},"embedding":${embedding(text)}}`).join(',');
  const tokens = input.reduce((sum, text) => sum + text.split(/\s+/).length, 0);
  return `{"object":"list","data":[${data}],"model":${JSON.stringify(model)},"usage":{"prompt_tokens":${tokens},"total_tokens":${tokens}}}`;
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

  private readonly vectors: VectorTable;

  private constructor(
    private readonly server: Server,
    readonly dims: number,
    readonly delayMs: number,
  ) {
    this.vectors = new VectorTable(dims);
  }

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

  /** The vector this server returns for `text`. */
  vectorOf(text: string): number[] {
    return this.vectors.vector(text);
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
    const bodyRead = performance.now();
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/embeddings') {
      this.failures++;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } }));
      return;
    }
    this.requests++;
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string; input: string | string[]; encoding_format?: string };
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    this.inputs += input.length;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let json: string;
    let built: number;
    try {
      // Built before waiting, so the answer leaves delayMs after the request arrived.
      json = answerJson(body.model, input, this.vectors, body.encoding_format === 'base64');
      built = performance.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + this.delayMs - built)));
    } finally {
      this.inFlight--;
    }
    const delayEnd = performance.now();
    res.on('finish', () => this.intervals.push({ start, bodyRead, built, delayEnd, end: performance.now(), inputs: input.length }));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(json);
  }
}
