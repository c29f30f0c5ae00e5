/**
 * EMBEDDING() of texts only the rows hold, in reads on worker threads
 * (src/sql/functions/read-embedding-calls.ts): the worker's collecting run answers with the
 * texts it missed, the engine looks them up in the cache and fetches the rest, and the read runs
 * again on a worker — never on the writer's connection. Against a real local HTTP server
 * speaking OpenAI's embeddings API: the same answers as the writer's connection, the writer free
 * meanwhile, many texts, the provider failing, the per-request text limit, errors at their
 * statement, and the event loop responsive while such a read runs to its timeout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Embeddings } from '../../../src/embed/index.ts';
import { Engine } from '../../../src/sql/index.ts';
import type { ExecuteResult } from '../../../src/sql/index.ts';
import { FakeOpenAIServer, fakeVector } from '../../embed/fake-openai-server.ts';
import { failure, plain } from './results.ts';

const DIMS = 4;
let server: FakeOpenAIServer;
let dir: string;
let embeddings: Embeddings;
const engines: Engine[] = [];

beforeAll(async () => {
  server = await FakeOpenAIServer.start({ dims: DIMS });
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.reset();
  server.delayMs = 0;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-worker-embeddings-'));
  const config = { models: { m: { provider: 'openai', baseURL: server.baseURL, dims: DIMS, maxBatch: 32, maxConcurrency: 2, timeoutMs: 5000, maxRetries: 0 } } };
  fs.writeFileSync(path.join(dir, 'embedding.json'), JSON.stringify(config));
  embeddings = Embeddings.open({ dataDir: dir, env: {} });
});

afterEach(async () => {
  for (const e of engines.splice(0)) await e.shutdown();
  embeddings.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** An engine on the model; `readWorkers: 0` runs every read on the writer's connection. */
function open(options: Partial<Parameters<typeof Engine.open>[0]> = {}): Engine {
  const engine = Engine.open({ dataDir: fs.mkdtempSync(path.join(dir, 'engine-')), embeddings, readWorkers: 2, ...options });
  engines.push(engine);
  return engine;
}

/** Once both read workers have started (a thread takes a while to load its code), so timings are the reads' own. */
async function started(engine: Engine): Promise<Engine> {
  await Promise.all([engine.execute('SELECT 1'), engine.execute('SELECT 1')]);
  return engine;
}

/** Float32 vectors equal to float32 precision (the provider's JSON rounds the last bit). */
function expectNear(actual: unknown, expected: Float32Array): void {
  expect(actual).toBeInstanceOf(Float32Array);
  expect(actual).toHaveLength(expected.length);
  (actual as Float32Array).forEach((x, i) => expect(x).toBeCloseTo(expected[i], 6));
}

const rows = (r: ExecuteResult) => r.results[0].rows;

/** A table of `n` texts no vector was ever made of. */
function texts(n: number): string {
  return `CREATE TABLE d (id INTEGER PRIMARY KEY, doc TEXT); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) INSERT INTO d SELECT x, 'text ' || x FROM c`;
}

/** Runs about as long as `n` rows take, calling into JavaScript for each (the deadline can stop it). */
const slow = (n: number) => `(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT count(VECTOR_DIM('[1,2]')) FROM c)`;

describe('a read calling EMBEDDING() on its rows\' texts', () => {
  const SETUP = `
    CREATE TABLE t (id INTEGER PRIMARY KEY, doc TEXT, v VECTOR(4));
    CREATE VECTOR INDEX vi ON t(v) DISTANCE=COSINE;
    INSERT INTO t VALUES (1, 'alpha', '[1,0,0,0]'), (2, 'beta', '[0,1,0,0]'), (3, NULL, '[0,0,1,0]'), (4, 'gamma', '[0.9,0.1,0,0]');
    CREATE VIEW q AS SELECT id, VEC_DISTANCE_COSINE(EMBEDDING(doc, 'm'), EMBEDDING('alpha', 'm')) AS d FROM t;
  `;
  const READS: [string, Record<string, unknown>?][] = [
    ["SELECT id, doc, EMBEDDING(doc, 'm') FROM t ORDER BY id"],
    // Texts written in the request and texts of the rows, in one statement.
    ["SELECT id, VEC_DISTANCE_COSINE(EMBEDDING(doc, 'm', 4), EMBEDDING(:q, 'M')) AS d FROM t ORDER BY d, id", { q: 'beta' }],
    ['SELECT id, d FROM q ORDER BY d, id'],
    // A query vector whose text is computed: missed while planning, on the engine's thread.
    ["SELECT id FROM t ORDER BY DISTANCE(v, EMBEDDING(lower('DELTA'), 'm'), 'COSINE') LIMIT 2"],
    // A query vector only a subquery knows: missed on the worker.
    ["SELECT id FROM t ORDER BY DISTANCE(v, EMBEDDING((SELECT doc FROM t WHERE id = 4), 'm'), 'COSINE') LIMIT 2"],
    ["SELECT count(*) FROM t; SELECT id, EMBEDDING(doc || '!', 'm') FROM t WHERE doc IS NOT NULL ORDER BY id"],
  ];

  test('answers as the writer connection does, each text embedded once', async () => {
    // Even a table this small is searched through its index.
    const pooled = open({ planner: { exactMaxRows: 0 } });
    const inline = open({ readWorkers: 0, planner: { exactMaxRows: 0 } });
    for (const e of [pooled, inline]) await e.execute(SETUP);
    // The pooled engine first: its reads find nothing in the cache the two engines share.
    const answers: ExecuteResult[] = [];
    for (const [sql, params] of READS) answers.push(await pooled.execute(sql, params));
    // alpha, beta, gamma, delta, and alpha!, beta!, gamma!.
    expect(server.inputs).toBe(7);
    for (const [i, [sql, params]] of READS.entries()) expect(plain(answers[i]), sql).toEqual(plain(await inline.execute(sql, params)));
    const [alpha, beta, none, gamma] = rows(answers[0]).map((r) => r[2]);
    expectNear(alpha, fakeVector('alpha', DIMS));
    expectNear(beta, fakeVector('beta', DIMS));
    expectNear(gamma, fakeVector('gamma', DIMS));
    expect(none).toBeNull();
    expect(rows(answers[1]).find((r) => r[0] === 2)?.[1]).toBeCloseTo(0);
  });

  test('runs on a worker: the writer connection and the event loop stay free for others meanwhile', async () => {
    const engine = await started(open());
    await engine.execute(`${SETUP}; CREATE TABLE log (a TEXT)`);
    const begun = performance.now();
    let readMs = 0;
    const read = engine.execute(`SELECT count(EMBEDDING(doc, 'm')), ${slow(1_000_000)} FROM t`).then((r) => {
      readMs = performance.now() - begun;
      return r;
    });
    await new Promise((r) => setTimeout(r, 50));
    await engine.execute('SELECT doc FROM t WHERE id = 1');
    await engine.execute("INSERT INTO log VALUES ('written')");
    const othersMs = performance.now() - begun;
    expect(rows(await read)[0][0]).toBe(3);
    // Both of the read's runs (collecting, then with the vectors) take about a second each.
    expect(readMs).toBeGreaterThan(1000);
    expect(othersMs).toBeLessThan(300);
  });

  test('many texts are fetched in slices, once; the next read finds them in the cache', async () => {
    const engine = open();
    await engine.execute(texts(600));
    const sql = "SELECT doc, EMBEDDING(doc, 'm') FROM d ORDER BY id";
    const first = rows(await engine.execute(sql));
    expect(first).toHaveLength(600);
    for (const [doc, vector] of first) expectNear(vector, fakeVector(doc as string, DIMS));
    // 600 texts in slices of 256, batches of 32.
    expect(server.inputs).toBe(600);
    expect(server.requests).toBe(Math.ceil(256 / 32) * 2 + Math.ceil(88 / 32));
    server.reset();
    expect(rows(await engine.execute(sql))).toEqual(first);
    expect(server.requests).toBe(0);
  });

  test('SHOW PROCESSLIST shows its texts while the provider answers', async () => {
    const engine = await started(open());
    await engine.execute(texts(40));
    server.delayMs = 300;
    const read = engine.execute("SELECT count(EMBEDDING(doc, 'm')) FROM d");
    await new Promise((r) => setTimeout(r, 150));
    expect(rows(await engine.execute('SHOW PROCESSLIST')).map((r) => r.slice(0, 3))).toEqual([['m', 0, 40]]);
    expect(rows(await read)).toEqual([[40]]);
  });

  test('the provider failing is reported as for a write, naming the cause', async () => {
    const engine = open();
    await engine.execute(texts(3));
    server.answer(1, { status: 400, message: 'input too long' });
    const e = await failure(engine.execute("SELECT EMBEDDING(doc, 'm') FROM d"));
    expect(e.code).toBe('EMBEDDING_FAILED');
    expect(e.detail).toContain('m');
    expect(e.detail).toContain('400');
    expect(e.detail).toContain('input too long');
  });

  test('more texts to fetch than QUIVER_MAX_EMBEDDING_TEXTS are refused before any is sent; cached ones do not count', async () => {
    const engine = open({ limits: { maxEmbeddingTexts: 2 } });
    await engine.execute(texts(3));
    const e = await failure(engine.execute("SELECT EMBEDDING(doc, 'm') FROM d"));
    expect(e.code).toBe('LIMIT_EXCEEDED');
    expect(e.detail).toMatch(/3 texts .*at most 2 .*QUIVER_MAX_EMBEDDING_TEXTS/);
    expect(server.requests).toBe(0);
    expect(rows(await engine.execute("SELECT count(EMBEDDING(doc, 'm')) FROM d WHERE id < 3"))).toEqual([[2]]);
    expect(rows(await engine.execute("SELECT count(EMBEDDING(doc, 'm')) FROM d"))).toEqual([[3]]);
    expect(server.inputs).toBe(3);
  });

  test('a bad model or dims, or no model at all, is reported at its statement as on the writer connection', async () => {
    const none = open({ embeddings: undefined });
    const pooled = open();
    const inline = open({ readWorkers: 0 });
    for (const e of [none, pooled, inline]) await e.execute(texts(2));
    const reads = ["SELECT 1; SELECT EMBEDDING(doc, 'nope') FROM d", "SELECT 1; SELECT EMBEDDING(doc, 'm', 3) FROM d", "SELECT 1; SELECT EMBEDDING(doc, 'nope', 100000) FROM d"];
    for (const sql of reads) {
      const [a, b] = [await failure(pooled.execute(sql)), await failure(inline.execute(sql))];
      expect({ code: a.code, detail: a.detail, statementIndex: a.statementIndex }, sql).toEqual({ code: b.code, detail: b.detail, statementIndex: 1 });
    }
    const e = await failure(none.execute("SELECT EMBEDDING(doc, 'm') FROM d"));
    expect(e.code).toBe('UNKNOWN_MODEL');
    expect(e.detail).toMatch(/no embedding model is configured/);
    expect(server.requests).toBe(0);
  });

  test('run to its timeout beside a heavy subquery, it leaves the event loop free', async () => {
    const engine = await started(open({ limits: { statementTimeoutMs: 30_000 } }));
    await engine.execute(texts(3));
    await engine.execute('CREATE TABLE big (x INTEGER); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 600) INSERT INTO big SELECT x FROM c');
    // Every 10 ms, how late the timer fired.
    let lastTick = performance.now();
    let worstLag = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      worstLag = Math.max(worstLag, now - lastTick - 10);
      lastTick = now;
    }, 10);
    try {
      const started = performance.now();
      const heavy = failure(engine.execute("SELECT EMBEDDING(doc, 'm'), (SELECT count(*) FROM big a, big b, big c) FROM d", [], { timeoutMs: 1000 }));
      await new Promise((r) => setTimeout(r, 300));
      const point = performance.now();
      expect(rows(await engine.execute('SELECT doc FROM d WHERE id = 1'))).toEqual([['text 1']]);
      const pointMs = performance.now() - point;
      const e = await heavy;
      expect(e.code).toBe('STATEMENT_TIMEOUT');
      expect(performance.now() - started).toBeGreaterThan(900);
      expect(pointMs).toBeLessThan(200);
      expect(worstLag).toBeLessThan(200);
    } finally {
      clearInterval(ticker);
    }
  });
});
