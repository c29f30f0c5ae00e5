/**
 * A real HTTP server on 127.0.0.1 speaking OpenAI's `POST /v1/chat/completions` (whole and
 * streamed as server-sent events, with `stream_options.include_usage`) alongside
 * `POST /v1/embeddings`, for /v1/chat tests through the `openai` package: nothing is mocked at
 * the function level. The sibling of tests/embed/fake-openai-server.ts, whose deterministic
 * vectors it reuses. Its answers are a deterministic function of the prompt: it counts the
 * numbered passages `[n] ...` in the last user message and cites the first, so tests can check
 * that passages reached the model. It records every request and can be told how to answer any
 * one: an HTTP error, no answer, a stream cut off mid-way, or an in-stream error event.
 *
 * @example
 * ```ts
 * const server = await FakeChatServer.start();
 * server.answer(1, { kind: 'fail', status: 500, message: 'overloaded' });
 * // ... point a chat model's baseURL at server.baseURL ...
 * await server.close();
 * ```
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fakeShortVector, fakeVector } from '../embed/fake-openai-server.ts';

export type ChatBehavior =
  | { kind: 'ok' }
  /** An error body `{"error": {...}}` with this status (before any stream starts). */
  | { kind: 'fail'; status: number; message: string; headers?: Record<string, string> }
  /** Read the request, never answer. */
  | { kind: 'hang' }
  /** Stream `afterChunks` content chunks, then destroy the connection. */
  | { kind: 'cut'; afterChunks: number }
  /** Stream `afterChunks` content chunks, then an OpenAI in-stream error event. */
  | { kind: 'stream-error'; afterChunks: number; message: string };

export interface ReceivedChat {
  model: string;
  messages: { role: string; content: string }[];
  stream: boolean;
  temperature: number | undefined;
  maxTokens: number | undefined;
  includeUsage: boolean;
  authorization: string | undefined;
}

export interface FakeChatServerOptions {
  /** When set, requests must carry `Authorization: Bearer <apiKey>`, or get OpenAI's 401. */
  apiKey?: string;
  /** Dims of the embeddings model. */
  dims?: number;
}

/** The answer the fake model gives to `prompt` (the last user message). */
export function fakeAnswer(prompt: string): string {
  const passages = [...prompt.matchAll(/^\[(\d+)\] (.*)$/gm)];
  if (passages.length === 0) return 'I do not know: no passages were given.';
  const first = passages[0][2].split(/(?<=[.!?])\s/)[0];
  return `There are ${passages.length} passages. ${first.replace(/[.!?]$/, '')} [${passages[0][1]}].`;
}

/** Word-ish pieces of `text`, as a model streams them (spaces kept with the word before). */
export function pieces(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

function words(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

export class FakeChatServer {
  requests = 0;
  readonly received: ReceivedChat[] = [];
  readonly embeddingInputs: string[] = [];
  private readonly planned = new Map<number, ChatBehavior>();
  private fallback: ChatBehavior = { kind: 'ok' };
  private readonly open = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    private readonly apiKey: string | undefined,
    readonly dims: number,
  ) {}

  static async start(options: FakeChatServerOptions = {}): Promise<FakeChatServer> {
    let fake: FakeChatServer | undefined;
    const server = createServer((req, res) => {
      fake!.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(error) } }));
      });
    });
    fake = new FakeChatServer(server, options.apiKey, options.dims ?? 8);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** The base URL a client is configured with (ends in /v1). */
  get baseURL(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v1`;
  }

  /** How to answer the `n`th chat request (1-based, since start or reset). */
  answer(n: number, behavior: ChatBehavior): void {
    this.planned.set(n, behavior);
  }

  answerAll(behavior: ChatBehavior): void {
    this.fallback = behavior;
  }

  reset(): void {
    this.requests = 0;
    this.received.length = 0;
    this.embeddingInputs.length = 0;
    this.planned.clear();
    this.fallback = { kind: 'ok' };
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = req.url?.split('?')[0];
    if (this.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return this.send(res, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } });
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    if (req.method === 'POST' && path === '/v1/embeddings') return this.embeddings(res, body);
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return this.send(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } });
    }
    const n = ++this.requests;
    const messages = (body.messages as { role: string; content: string }[]) ?? [];
    const received: ReceivedChat = {
      model: String(body.model),
      messages,
      stream: body.stream === true,
      temperature: body.temperature as number | undefined,
      maxTokens: body.max_tokens as number | undefined,
      includeUsage: (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true,
      authorization: req.headers.authorization,
    };
    this.received.push(received);
    const behavior = this.planned.get(n) ?? this.fallback;
    if (behavior.kind === 'hang') {
      this.open.add(res);
      res.on('close', () => this.open.delete(res));
      return;
    }
    if (behavior.kind === 'fail') {
      return this.send(res, behavior.status, { error: { message: behavior.message, type: 'server_error', code: null } }, behavior.headers);
    }
    const prompt = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    const answer = fakeAnswer(prompt);
    const usage = { prompt_tokens: messages.reduce((sum, m) => sum + words(m.content), 0), completion_tokens: words(answer) };
    const fullUsage = { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens };
    const id = `chatcmpl-fake-${n}`;
    const created = Math.floor(Date.now() / 1000);
    if (!received.stream) {
      return this.send(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: received.model,
        choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
        usage: fullUsage,
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    this.open.add(res);
    res.on('close', () => this.open.delete(res));
    const event = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      event({ id, object: 'chat.completion.chunk', created, model: received.model, choices: [{ index: 0, delta, finish_reason: finish }] });
    chunk({ role: 'assistant', content: '' }, null);
    const parts = pieces(answer);
    for (let i = 0; i < parts.length; i++) {
      if ((behavior.kind === 'cut' || behavior.kind === 'stream-error') && i === behavior.afterChunks) {
        if (behavior.kind === 'cut') {
          res.destroy();
          return;
        }
        event({ error: { message: behavior.message, type: 'server_error', code: null } });
        res.end();
        return;
      }
      chunk({ content: parts[i] }, null);
      // Let each chunk leave as its own write, as a real model's tokens do.
      await new Promise((resolve) => setImmediate(resolve));
    }
    chunk({}, 'stop');
    if (received.includeUsage) event({ id, object: 'chat.completion.chunk', created, model: received.model, choices: [], usage: fullUsage });
    res.end('data: [DONE]\n\n');
  }

  private embeddings(res: ServerResponse, body: Record<string, unknown>): void {
    const input = typeof body.input === 'string' ? [body.input] : (body.input as string[]);
    this.embeddingInputs.push(...input);
    const dims = (body.dimensions as number | undefined) ?? this.dims;
    const data = input.map((text, index) => ({
      object: 'embedding',
      index,
      embedding: Array.from(dims < this.dims ? fakeShortVector(text, this.dims, dims) : fakeVector(text, dims)),
    }));
    this.send(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: input.length, total_tokens: input.length } });
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }
}
