/**
 * The batcher and the OpenAI-compatible provider against a real HTTP server (fake-openai-server):
 * request counts, de-duplication within and across concurrent calls, the concurrency cap,
 * retries with Retry-After, failures, timeouts, the persistent cache across reopen, dims,
 * base64 and float answers, keys from the environment.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Embeddings } from '../../src/embed/index.ts';
import type { EmbeddingsOptions } from '../../src/embed/index.ts';
import { parseRetryAfter } from '../../src/embed/provider.ts';
import { toVector } from '../../src/embed/providers/openai.ts';
import type { EmbeddingSource } from '../../src/core/index.ts';
import { QuiverError } from '../../src/core/errors.ts';
import { FakeOpenAIServer, fakeShortVector } from './fake-openai-server.ts';
import { HTTP_STATUS } from '../../src/api/problem.ts';

const NATIVE_DIMS = 8;
const MODEL = 'fake-embed';

let server: FakeOpenAIServer;
const dirs: string[] = [];
const open: Embeddings[] = [];

beforeAll(async () => {
  server = await FakeOpenAIServer.start({ dims: NATIVE_DIMS });
});
afterAll(async () => {
  await server.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  for (const e of open.splice(0)) e.close();
  server.reset();
  server.delayMs = 0;
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-embed-'));
  dirs.push(dir);
  return dir;
}

/** An Embeddings over a fresh data dir whose embedding.json has MODEL with `settings`. */
function openWith(settings: Record<string, unknown> = {}, options: EmbeddingsOptions & { dataDir?: string } = {}): Embeddings {
  const dataDir = options.dataDir ?? tempDir();
  const config = {
    models: {
      [MODEL]: { provider: 'openai', baseURL: server.baseURL, model: 'remote-embed', dims: NATIVE_DIMS, maxBatch: 10, maxConcurrency: 4, timeoutMs: 5000, maxRetries: 3, ...settings },
    },
  };
  writeFileSync(join(dataDir, 'embedding.json'), JSON.stringify(config));
  const embeddings = Embeddings.open({ env: {}, batcher: { retryBaseMs: 10, retryMaxMs: 50 }, ...options, dataDir });
  open.push(embeddings);
  return embeddings;
}

function texts(n: number, prefix = 'text'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix} ${i}`);
}

async function rejection(promise: Promise<unknown>): Promise<QuiverError> {
  try {
    await promise;
  } catch (error) {
    return error as QuiverError;
  }
  throw new Error('expected the call to fail');
}

describe('batching and the cache', () => {
  it('sends 1,000 distinct texts with maxBatch 10 in exactly 100 requests, and the same texts again in none', async () => {
    const embeddings = openWith();
    const input = texts(1000);
    const vectors = await embeddings.embed(MODEL, NATIVE_DIMS, input);
    expect(server.requests).toBe(100);
    expect(server.inputs).toBe(1000);
    expect(server.received.every((r) => r.input.length === 10 && r.model === 'remote-embed')).toBe(true);
    expect(vectors).toHaveLength(1000);
    vectors.forEach((v, i) => expect(v).toEqual(fakeShortVector(input[i], NATIVE_DIMS, NATIVE_DIMS)));

    const again = await embeddings.embed(MODEL, NATIVE_DIMS, input);
    expect(server.requests).toBe(100);
    expect(again).toEqual(vectors);
    expect(embeddings.getCached(MODEL, NATIVE_DIMS, input.slice(0, 3))).toEqual(vectors.slice(0, 3));
  });

  it('de-duplicates texts within a call and returns vectors in input order', async () => {
    const embeddings = openWith();
    const vectors = await embeddings.embed(MODEL, NATIVE_DIMS, ['a', 'b', 'a', 'c', 'b', 'a']);
    expect(server.requests).toBe(1);
    expect(server.received[0].input).toEqual(['a', 'b', 'c']);
    expect(vectors[0]).toEqual(vectors[2]);
    expect(vectors[0]).toEqual(vectors[5]);
    expect(vectors[1]).toEqual(vectors[4]);
    expect(vectors[3]).toEqual(fakeShortVector('c', NATIVE_DIMS, NATIVE_DIMS));
    expect(vectors[0]).not.toEqual(vectors[1]);
  });

  it('sends only cache misses', async () => {
    const embeddings = openWith();
    await embeddings.embed(MODEL, NATIVE_DIMS, texts(15));
    server.reset();
    await embeddings.embed(MODEL, NATIVE_DIMS, texts(25));
    expect(server.requests).toBe(1);
    expect(server.received[0].input).toEqual(texts(25).slice(15));
  });

  it('sends a text once when concurrent calls miss it', async () => {
    const embeddings = openWith();
    server.delayMs = 100;
    const shared = texts(25, 'shared');
    const [a, b, c] = await Promise.all([
      embeddings.embed(MODEL, NATIVE_DIMS, shared),
      embeddings.embed(MODEL, NATIVE_DIMS, [...shared.slice(0, 5), 'only b']),
      embeddings.embed(MODEL, NATIVE_DIMS, [...shared].reverse()),
    ]);
    // 25 shared texts in 3 requests from the first call, 1 for the text only the second has.
    expect(server.requests).toBe(4);
    expect(server.inputs).toBe(26);
    expect(b.slice(0, 5)).toEqual(a.slice(0, 5));
    expect(b[5]).toEqual(fakeShortVector('only b', NATIVE_DIMS, NATIVE_DIMS));
    expect(c).toEqual([...a].reverse());
  });

  it('fails a call waiting on another call\'s texts with that call\'s failure, without sending them again', async () => {
    const embeddings = openWith({ maxRetries: 0 });
    server.delayMs = 50;
    server.answerAll({ kind: 'fail', status: 400, message: 'input rejected' });
    const [first, second] = await Promise.all([rejection(embeddings.embed(MODEL, NATIVE_DIMS, ['same'])), rejection(embeddings.embed(MODEL, NATIVE_DIMS, ['same']))]);
    expect(server.requests).toBe(1);
    for (const error of [first, second]) {
      expect(error.code).toBe('EMBEDDING_FAILED');
      expect(error.message).toContain('HTTP 400: input rejected');
    }
  });

  it('sends the texts itself when the call it waited on was given up by its caller', async () => {
    const embeddings = openWith();
    server.delayMs = 200;
    const controller = new AbortController();
    const reason = new Error('client went away');
    const abandoned = embeddings.embed(MODEL, NATIVE_DIMS, ['contested'], controller.signal);
    const waiting = embeddings.embed(MODEL, NATIVE_DIMS, ['contested']);
    // Given up once its request has reached the provider.
    while (server.requests === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort(reason);
    await expect(abandoned).rejects.toBe(reason);
    expect(await waiting).toEqual([fakeShortVector('contested', NATIVE_DIMS, NATIVE_DIMS)]);
    expect(server.requests).toBe(2);
  });

  it('never has more than maxConcurrency requests in flight, even across concurrent calls', async () => {
    const embeddings = openWith({ maxConcurrency: 3, maxBatch: 5 });
    server.delayMs = 40;
    await Promise.all([embeddings.embed(MODEL, NATIVE_DIMS, texts(50, 'x')), embeddings.embed(MODEL, NATIVE_DIMS, texts(50, 'y'))]);
    expect(server.requests).toBe(20);
    expect(server.maxInFlight).toBe(3);
  });

  it('keeps the cache across a reopen of the same data dir', async () => {
    const dataDir = tempDir();
    const first = openWith({}, { dataDir });
    const vectors = await first.embed(MODEL, NATIVE_DIMS, texts(30));
    first.close();
    server.reset();
    const second = openWith({}, { dataDir });
    expect(second.getCached(MODEL, NATIVE_DIMS, texts(30))).toEqual(vectors);
    expect(await second.embed(MODEL, NATIVE_DIMS, texts(30))).toEqual(vectors);
    expect(server.requests).toBe(0);
    expect(second.cacheStats().entries).toBe(30);
  });

  it('keys the cache by endpoint and model, so a renamed model keeps it and a repointed one does not', async () => {
    const dataDir = tempDir();
    const first = openWith({}, { dataDir });
    await first.embed(MODEL, NATIVE_DIMS, ['hello']);
    first.close();
    const repointed = openWith({ model: 'another-remote-model' }, { dataDir });
    await repointed.embed(MODEL, NATIVE_DIMS, ['hello']);
    expect(server.requests).toBe(2);
  });
});

describe('dims', () => {
  it('sends `dimensions` when the model can shorten and fewer are asked, and not otherwise', async () => {
    const embeddings = openWith({ canShorten: true });
    const [short] = await embeddings.embed(MODEL, 4, ['shorten me']);
    expect(short).toEqual(fakeShortVector('shorten me', NATIVE_DIMS, 4));
    await embeddings.embed(MODEL, NATIVE_DIMS, ['full length']);
    expect(server.received.map((r) => r.dimensions)).toEqual([4, undefined]);
    // The two lengths are cached apart.
    expect(embeddings.getCached(MODEL, 4, ['full length'])).toEqual([undefined]);
  });

  it('refuses dims a model cannot make, before any request', async () => {
    const embeddings = openWith();
    const error = await rejection(embeddings.embed(MODEL, 4, ['x']));
    expect(error).toBeInstanceOf(QuiverError);
    expect(error.code).toBe('EMBEDDING_DIMENSIONS');
    expect(error.message).toContain(`${NATIVE_DIMS}-dimensional`);
    expect(() => openWith({ canShorten: true }).resolveDims(MODEL, NATIVE_DIMS + 1)).toThrow(/1 to 8 dimensions; got 9/);
    expect(embeddings.resolveDims(MODEL, undefined)).toBe(NATIVE_DIMS);
    expect(server.requests).toBe(0);
  });

  it('fails clearly when the provider returns vectors of the wrong length', async () => {
    const embeddings = openWith();
    server.answerAll({ kind: 'wrong-dims', dims: 5 });
    const error = await rejection(embeddings.embed(MODEL, NATIVE_DIMS, ['x']));
    expect(error.code).toBe('EMBEDDING_FAILED');
    expect(error.message).toMatch(/returned 5-dimensional vectors where 8 were expected/);
    expect(server.requests).toBe(1);
  });

  it('asks for base64 by default, and decodes it to exactly what the float path gives', async () => {
    const input = texts(25, 'encoded');
    const viaBase64 = await openWith().embed(MODEL, NATIVE_DIMS, input);
    const viaFloat = await openWith({ encodingFormat: 'float' }).embed(MODEL, NATIVE_DIMS, input);
    expect(server.received.map((r) => r.encodingFormat)).toEqual(['base64', 'base64', 'base64', 'float', 'float', 'float']);
    expect(viaBase64).toEqual(viaFloat);
    viaBase64.forEach((v, i) => expect(v).toEqual(fakeShortVector(input[i], NATIVE_DIMS, NATIVE_DIMS)));
  });

  it('asks for float from then on when a server refuses base64 by name', async () => {
    const embeddings = openWith({ maxRetries: 0 });
    server.refuseBase64 = true;
    const [v] = await embeddings.embed(MODEL, NATIVE_DIMS, ['refused']);
    expect(v).toEqual(fakeShortVector('refused', NATIVE_DIMS, NATIVE_DIMS));
    await embeddings.embed(MODEL, NATIVE_DIMS, ['next']);
    expect(server.received.map((r) => r.encodingFormat)).toEqual(['base64', 'float', 'float']);
  });
});

describe('toVector', () => {
  const base64Of = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');

  it('decodes base64 float32 little-endian bit for bit, into a vector that owns its memory', () => {
    const v = Float32Array.from([0, -0, 1, -1.5, 3.4028234663852886e38, 1.401298464324817e-45, -1.1754943508222875e-38, Math.PI]);
    const decoded = toVector(base64Of(v))!;
    expect(new Uint8Array(decoded.buffer)).toEqual(new Uint8Array(v.buffer));
    expect(decoded.byteOffset).toBe(0);
    expect(decoded.buffer.byteLength).toBe(v.byteLength);
    expect(toVector(Array.from(v))).toEqual(decoded);
  });

  it('refuses what is not a vector of finite float32 values', () => {
    expect(toVector(Buffer.from([1, 2, 3]).toString('base64'))).toBeUndefined(); // not whole floats
    expect(toVector(base64Of(Float32Array.from([1, NaN])))).toBeUndefined();
    expect(toVector(base64Of(Float32Array.from([Infinity])))).toBeUndefined();
    expect(toVector('!!!!AAAA')).toBeUndefined(); // not base64
    expect(toVector([1, '2'])).toBeUndefined();
    expect(toVector({ 0: 1 })).toBeUndefined();
  });
});

describe('retries, failures and timeouts', () => {
  it('waits out a 429 with Retry-After and then succeeds', async () => {
    const embeddings = openWith();
    server.answer(1, { status: 429, message: 'Rate limit reached', headers: { 'retry-after': '1' } });
    const started = performance.now();
    const [v] = await embeddings.embed(MODEL, NATIVE_DIMS, ['throttled']);
    const elapsed = performance.now() - started;
    expect(v).toEqual(fakeShortVector('throttled', NATIVE_DIMS, NATIVE_DIMS));
    expect(server.requests).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(3000);
  });

  it('retries 5xx with backoff up to maxRetries, then fails naming the status', async () => {
    const embeddings = openWith({ maxRetries: 2 });
    server.answer(1, { status: 503, message: 'overloaded' });
    server.answer(2, { status: 502, message: 'bad gateway' });
    await embeddings.embed(MODEL, NATIVE_DIMS, ['eventually']);
    expect(server.requests).toBe(3);

    server.reset();
    server.answerAll({ kind: 'fail', status: 500, message: 'still broken' });
    const error = await rejection(embeddings.embed(MODEL, NATIVE_DIMS, ['never']));
    expect(server.requests).toBe(3);
    expect(error.code).toBe('EMBEDDING_FAILED');
    expect(error.message).toContain('after 3 attempts');
    expect(error.message).toContain('HTTP 500: still broken');
  });

  it('does not retry a 400', async () => {
    const embeddings = openWith();
    server.answerAll({ kind: 'fail', status: 400, message: 'input too long' });
    const error = await rejection(embeddings.embed(MODEL, NATIVE_DIMS, ['x']));
    expect(server.requests).toBe(1);
    expect(error.message).toContain('HTTP 400: input too long');
  });

  it('fails the whole call when the 3rd of 5 batches fails, naming model, status, message and counts', async () => {
    const embeddings = openWith({ maxConcurrency: 1, maxRetries: 0 });
    server.answer(3, { status: 500, message: 'the GPU caught fire' });
    const input = texts(50);
    const error = await rejection(embeddings.embed(MODEL, NATIVE_DIMS, input));
    expect(error).toBeInstanceOf(QuiverError);
    expect(error.code).toBe('EMBEDDING_FAILED');
    expect(HTTP_STATUS[error.code]).toBe(502);
    expect(error.message).toContain(`embedding model ${MODEL}`);
    expect(error.message).toContain('HTTP 500: the GPU caught fire');
    expect(error.message).toContain('a batch of 10 of the 50 texts');
    // The failure stopped the batches after it; the two before it are cached.
    expect(server.requests).toBe(3);
    expect(embeddings.cacheStats().entries).toBe(20);
    server.reset();
    await embeddings.embed(MODEL, NATIVE_DIMS, input);
    expect(server.inputs).toBe(30);
  });

  it('gives up on a hung provider within its timeout', async () => {
    const embeddings = openWith({ timeoutMs: 300, maxRetries: 3 });
    server.answerAll({ kind: 'hang' });
    const started = performance.now();
    const error = await rejection(embeddings.embed(MODEL, NATIVE_DIMS, texts(25)));
    const elapsed = performance.now() - started;
    expect(error.code).toBe('EMBEDDING_FAILED');
    expect(error.message).toMatch(/timed out: no answer within 300 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
    // Timeouts are not retried: one request per batch.
    expect(server.requests).toBe(3);
  });

  it('stops at once when the caller aborts', async () => {
    const embeddings = openWith();
    server.answerAll({ kind: 'hang' });
    const controller = new AbortController();
    const reason = new Error('statement cancelled');
    setTimeout(() => controller.abort(reason), 50);
    const started = performance.now();
    await expect(embeddings.embed(MODEL, NATIVE_DIMS, ['x'], controller.signal)).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('cancels a timed-out request on the provider thread: its connection is closed at once', async () => {
    // The SDK's own backstop would close it only at twice the timeout (2 s).
    const embeddings = openWith({ timeoutMs: 1000, maxRetries: 0 });
    server.answerAll({ kind: 'hang' });
    const error = await rejection(embeddings.embed(MODEL, NATIVE_DIMS, ['x']));
    expect(error.message).toMatch(/timed out/);
    const gaveUp = performance.now();
    while (server.hanging > 0 && performance.now() - gaveUp < 900) await new Promise((r) => setTimeout(r, 10));
    expect(server.hanging).toBe(0);
  });

  it('fails a request in flight when the models are closed, and refuses new ones', async () => {
    const embeddings = openWith({ timeoutMs: 30_000 });
    server.answerAll({ kind: 'hang' });
    const inFlight = rejection(embeddings.embed(MODEL, NATIVE_DIMS, ['x']));
    while (server.requests === 0) await new Promise((r) => setTimeout(r, 10));
    const closedAt = performance.now();
    embeddings.close();
    expect((await inFlight).message).toMatch(/embedding models were closed/);
    expect(performance.now() - closedAt).toBeLessThan(1000);
    await expect(embeddings.embed(MODEL, NATIVE_DIMS, ['y'])).rejects.toThrow(/closed/);
  });

  it('retries a refused connection, then fails saying the provider could not be reached', async () => {
    const dead = await FakeOpenAIServer.start();
    const baseURL = dead.baseURL;
    await dead.close();
    const embeddings = openWith({ baseURL, maxRetries: 1 });
    const error = await rejection(embeddings.embed(MODEL, NATIVE_DIMS, ['x']));
    expect(error.code).toBe('EMBEDDING_FAILED');
    expect(error.message).toMatch(/could not be reached/);
    expect(error.message).toContain('after 2 attempts');
  });

  it('parses Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('honours a Retry-After given as an HTTP date', async () => {
    const embeddings = openWith();
    const at = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000);
    server.answer(1, { status: 429, message: 'slow down', headers: { 'retry-after': at.toUTCString() } });
    await embeddings.embed(MODEL, NATIVE_DIMS, ['dated']);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime() - 5);
    expect(server.requests).toBe(2);
  });

  it('fails at once when Retry-After asks for longer than Quiver waits', async () => {
    const embeddings = openWith();
    server.answerAll({ kind: 'fail', status: 429, message: 'quota exhausted', headers: { 'retry-after': '3600' } });
    const error = await rejection(embeddings.embed(MODEL, NATIVE_DIMS, ['x']));
    expect(server.requests).toBe(1);
    expect(error.message).toContain('asked to retry after 3600 s');
  });
});

describe('keys', () => {
  const KEY = 'sk-test-0123456789abcdefghij';

  it('sends the key from the environment variable the config names', async () => {
    const keyed = await FakeOpenAIServer.start({ dims: NATIVE_DIMS, apiKey: KEY });
    try {
      const embeddings = openWith({ baseURL: keyed.baseURL, apiKeyEnv: 'FAKE_EMBED_KEY' }, { env: { FAKE_EMBED_KEY: KEY } });
      await embeddings.embed(MODEL, NATIVE_DIMS, ['with key']);
      expect(keyed.received[0].authorization).toBe(`Bearer ${KEY}`);
    } finally {
      await keyed.close();
    }
  });

  it('names the missing variable, and never echoes a wrong key the server quotes back', async () => {
    const keyed = await FakeOpenAIServer.start({ dims: NATIVE_DIMS, apiKey: KEY });
    try {
      const missing = openWith({ baseURL: keyed.baseURL, apiKeyEnv: 'FAKE_EMBED_KEY' });
      const error = await rejection(missing.embed(MODEL, NATIVE_DIMS, ['x']));
      expect(error.code).toBe('EMBEDDING_FAILED');
      expect(error.message).toContain('FAKE_EMBED_KEY');
      expect(keyed.requests).toBe(0);

      const wrongKey = 'sk-wrong-9876543210zyxwvutsrq';
      const wrong = openWith({ baseURL: keyed.baseURL, apiKeyEnv: 'FAKE_EMBED_KEY' }, { env: { FAKE_EMBED_KEY: wrongKey } });
      const denied = await rejection(wrong.embed(MODEL, NATIVE_DIMS, ['x']));
      expect(denied.message).toContain('HTTP 401');
      expect(denied.message).not.toContain(wrongKey);
      expect(denied.message).not.toContain('9876543210');
      expect(JSON.stringify(wrong.listModels())).not.toContain(wrongKey);
    } finally {
      await keyed.close();
    }
  });

  it('does not pick up OPENAI_API_KEY or OPENAI_BASE_URL from the process environment', async () => {
    const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL };
    process.env.OPENAI_API_KEY = 'sk-from-the-process-0123456789';
    process.env.OPENAI_BASE_URL = 'http://127.0.0.1:9/v1';
    try {
      const embeddings = openWith();
      await embeddings.embed(MODEL, NATIVE_DIMS, ['isolated']);
      expect(server.received[0].authorization).not.toContain('sk-from-the-process');
    } finally {
      if (saved.key === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved.key;
      if (saved.url === undefined) delete process.env.OPENAI_BASE_URL;
      else process.env.OPENAI_BASE_URL = saved.url;
    }
  });
});

describe('the SQL layer', () => {
  it('is an EmbeddingSource', async () => {
    const embeddings = openWith();
    const source: EmbeddingSource = embeddings;
    expect(source.resolveDims(MODEL, undefined)).toBe(NATIVE_DIMS);
    const [v] = await source.fetch(MODEL, NATIVE_DIMS, ['from sql']);
    expect(source.cached(MODEL, NATIVE_DIMS, ['from sql', 'not yet'])).toEqual([v, undefined]);
  });
});
