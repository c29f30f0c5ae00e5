/**
 * @module bench/load/provider
 * The embedding provider of the load benchmark and the soak: a real node:http server on
 * 127.0.0.1 speaking OpenAI's `POST /v1/embeddings` (float arrays, or base64 float32 when asked,
 * as Quiver asks by default), answering every batch a fixed delay after it arrived. Quiver has
 * it as an `openai` model in its embedding config file, so an INSERT takes the path a networked
 * provider takes in production: its texts are fetched over HTTP with the writer free for
 * others, then the row is written.
 *
 * Kept apart from bench/lib/fake-embeddings-server.ts, whose vectors (uniform values sharing
 * 4,096 tails) suit timing inserts but not vector search: these come from ./vectors.ts, with
 * cluster structure. It runs in the driver's process; its delay can stretch when the driver's
 * event loop is busy, which the figures then include. Counts requests, texts and failures.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { textVector } from './vectors.ts';

export class LoadProvider {
  /** Requests answered 200. */
  requests = 0;
  /** Texts across those requests. */
  inputs = 0;
  /** Requests answered otherwise (bad route or body): a run with any is void. */
  failures = 0;

  private constructor(
    private readonly server: Server,
    readonly dims: number,
    readonly delayMs: number,
  ) {}

  /** Listens on a free loopback port; every answer leaves `delayMs` after its request arrived. */
  static async start(dims: number, delayMs: number): Promise<LoadProvider> {
    let provider: LoadProvider | undefined;
    const server = createServer((req, res) => {
      provider!.handle(req, res).catch((error: unknown) => {
        provider!.failures++;
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(error), type: 'server_error' } }));
      });
    });
    provider = new LoadProvider(server, dims, delayMs);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return provider;
  }

  /** The base URL a model is configured with (ends in /v1). */
  get baseURL(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v1`;
  }

  /** The embedding config file's JSON registering this provider as `model` (dims fixed, no retries to hide a failure). */
  configJson(model: string): string {
    return JSON.stringify({
      models: {
        [model]: { provider: 'openai', baseURL: this.baseURL, dims: this.dims, canShorten: false, maxBatch: 64, maxConcurrency: 4, maxRetries: 0 },
      },
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = performance.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/embeddings') {
      this.failures++;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } }));
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string; input: string | string[]; encoding_format?: string };
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    const base64 = body.encoding_format === 'base64';
    const data = input.map((text, index) => {
      const vector = textVector(text, this.dims);
      const embedding = base64 ? Buffer.from(Float32Array.from(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    });
    const json = JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: input.length, total_tokens: input.length } });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, arrived + this.delayMs - performance.now())));
    this.requests++;
    this.inputs += input.length;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(json);
  }
}
