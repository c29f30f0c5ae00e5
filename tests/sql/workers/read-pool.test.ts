/**
 * Reads on worker threads (src/sql/workers/read-pool.ts): the same answers as the writer's connection,
 * a slow read that does not hold up others, the statement timeout, the result limits, EMBEDDING()
 * (more of it in worker-embeddings.test.ts), and the writer queue's back-pressure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Embeddings } from '../../../src/embed/index.ts';
import { Engine } from '../../../src/sql/index.ts';
import type { ExecuteResult } from '../../../src/sql/index.ts';
import { FakeOpenAIServer } from '../../embed/fake-openai-server.ts';
import { HTTP_STATUS } from '../../../src/api/problem.ts';
import { failure, plain } from './results.ts';

const dirs: string[] = [];
const engines: Engine[] = [];

function open(options: Partial<Parameters<typeof Engine.open>[0]> = {}, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-read-pool-'))): Engine {
  dirs.push(dir);
  const engine = Engine.open({ dataDir: dir, readWorkers: 2, ...options });
  engines.push(engine);
  return engine;
}

afterEach(async () => {
  for (const e of engines.splice(0)) await e.shutdown();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A read that calls into JavaScript for every row and never ends on its own. */
const ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(VECTOR_DIM('[1,2]') + x) FROM c";
/** A read that runs about as long as `n` rows take, calling into JavaScript for each. */
const slow = (n: number) => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT count(VECTOR_DIM('[1,2]')) FROM c`;

const SETUP = `
  CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, big INTEGER, raw BLOB, vec VECTOR(3));
  CREATE VECTOR INDEX vi ON docs(vec) DISTANCE=COSINE;
  INSERT INTO docs VALUES (1, 'one', 9007199254740993, x'010203', '[1,0,0]'), (2, NULL, -5, NULL, '[0,1,0]'), (3, 'three', 0, x'', '[0.9,0.1,0]');
`;

const READS: [string, unknown[]][] = [
  ['SELECT * FROM docs ORDER BY id', []],
  ['SELECT id, VEC_DISTANCE_COSINE(vec, ?) AS d FROM docs ORDER BY d LIMIT 2', [[1, 0, 0]]],
  ['SELECT id FROM docs ORDER BY DISTANCE(vec, ?, "COSINE") LIMIT 2', ['[1,0,0]']],
  ['SELECT id, VEC_FROMTEXT(\'[1,2]\') AS v FROM docs WHERE id = :id', { id: 3 } as never],
  ['SELECT count(*) FROM docs; SELECT title FROM docs WHERE big > ?', [0]],
];

describe('reads on worker threads', () => {
  test('answer exactly as the writer connection does', async () => {
    const pooled = open();
    const inline = open({ readWorkers: 0 });
    for (const e of [pooled, inline]) await e.execute(SETUP);
    for (const [sql, params] of READS) {
      const a: ExecuteResult = await pooled.execute(sql, params);
      const b: ExecuteResult = await inline.execute(sql, params);
      expect(plain(a), sql).toEqual(plain(b));
    }
    const [all] = (await pooled.execute('SELECT big, raw, vec FROM docs WHERE id = 1')).results;
    expect(all.rows[0][0]).toBe(9007199254740993n);
    expect(all.rows[0][1]).toEqual(new Uint8Array([1, 2, 3]));
    expect(all.rows[0][2]).toEqual(new Float32Array([1, 0, 0]));
  });

  test('report errors at their statement, as the writer connection does', async () => {
    const engine = open();
    await engine.execute(SETUP);
    const unknown = await failure(engine.execute('SELECT 1;\nSELECT nope FROM docs'));
    expect(unknown.code).toBe('UNKNOWN_COLUMN');
    expect(unknown.statementIndex).toBe(1);
    expect(unknown.position).toEqual({ line: 2, column: 1 });
    const invalid = await failure(engine.execute("SELECT VEC_FROMTEXT('[1,x]') FROM docs"));
    expect(invalid.code).toBe('INVALID_VECTOR');
    expect((await failure(engine.execute('SELECT ?', []))).code).toBe('PARAMETER_ERROR');
  });

  test('hand reads of TEMP tables, which only the writer connection has, back to it', async () => {
    const engine = open();
    await engine.execute('CREATE TEMP TABLE scratch (a); INSERT INTO scratch VALUES (7)');
    expect((await engine.execute('SELECT a FROM scratch')).results[0].rows).toEqual([[7]]);
  });

  test('see every committed write at once', async () => {
    const engine = open();
    await engine.execute(SETUP);
    for (let i = 10; i < 30; i++) {
      await engine.execute('INSERT INTO docs (id, vec) VALUES (?, ?)', [i, [i, 1, 0]]);
      const [r] = (await engine.execute('SELECT count(*) FROM docs')).results;
      expect(r.rows[0][0]).toBe(i - 6);
    }
  });

  test('a vector query waiting for a worker still returns its k rows when a candidate is deleted meanwhile', async () => {
    const engine = open({ readWorkers: 1 });
    await engine.execute('CREATE TABLE v (id INTEGER PRIMARY KEY, tenant INTEGER, vec VECTOR(2)); CREATE VECTOR INDEX vi ON v(vec) DISTANCE=EUCLIDEAN');
    const rows = Array.from({ length: 60 }, (_, i) => `(${i}, ${i % 2}, '[${i},0]')`).join(',');
    await engine.execute(`INSERT INTO v VALUES ${rows}`);
    const query = 'SELECT id FROM v FORCE INDEX (vi) WHERE tenant = 0 ORDER BY VEC_DISTANCE(vec, ?) LIMIT 10';
    const busy = engine.execute(slow(1_000_000));
    const answer = engine.execute(query, [[0, 0]]);
    await engine.execute('DELETE FROM v WHERE id = 0');
    await busy;
    const ids = (await answer).results[0].rows.map((r) => r[0]);
    expect(ids).toHaveLength(10);
    expect((await engine.execute(query, [[0, 0]])).results[0].rows.map((r) => r[0])).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
  });

  test('a slow read holds up neither other reads nor writes', async () => {
    const engine = open();
    await engine.execute(SETUP);
    const order: string[] = [];
    const long = engine.execute(slow(3_000_000)).then(() => order.push('slow read'));
    await new Promise((r) => setTimeout(r, 50));
    await engine.execute('SELECT title FROM docs WHERE id = 1').then(() => order.push('point read'));
    await engine.execute("INSERT INTO docs (id, title) VALUES (100, 'new')").then(() => order.push('write'));
    await long;
    expect(order).toEqual(['point read', 'write', 'slow read']);
  });

  test("one key's flood of slow reads leaves a worker for another key's reads, waits behind itself, and is bounded", async () => {
    const engine = open({ readWorkers: 3, limits: { maxQueuedPerClient: 4 } });
    await engine.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO docs (body) VALUES ('a')");
    // Every worker booted before the flood, as in a server that has been up a moment.
    await Promise.all(Array.from({ length: 3 }, () => engine.execute(slow(20_000))));
    const flood = { client: 'flood', timeoutMs: 1500 };
    // Two running (the last free worker is kept for keys holding none) and four waiting: the key's share.
    const floods = Array.from({ length: 6 }, () => failure(engine.execute(ENDLESS, [], flood)));
    await new Promise((r) => setTimeout(r, 100));
    const refused = await failure(engine.execute('SELECT 1', [], flood));
    expect(refused.code).toBe('TOO_MANY_REQUESTS');
    expect(HTTP_STATUS[refused.code]).toBe(429);
    expect(refused.detail).toMatch(/QUIVER_MAX_QUEUED_PER_KEY/);
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      expect((await engine.execute('SELECT body FROM docs WHERE id = 1', [], { client: 'other' })).results[0].rows).toEqual([['a']]);
      expect(performance.now() - started).toBeLessThan(1000);
    }
    // The waiting ones' time in the queue counted against their timeout: none ran past it.
    for (const e of await Promise.all(floods)) expect(e.code).toBe('STATEMENT_TIMEOUT');
  });

  test('a read past the statement timeout is stopped with STATEMENT_TIMEOUT, and the engine goes on', async () => {
    const engine = open({ limits: { statementTimeoutMs: 10_000 } });
    await engine.execute(SETUP);
    const started = performance.now();
    const e = await failure(engine.execute(ENDLESS, [], { timeoutMs: 300 }));
    expect(e.code).toBe('STATEMENT_TIMEOUT');
    expect(HTTP_STATUS[e.code]).toBe(408);
    expect(e.detail).toMatch(/300 ms/);
    expect(performance.now() - started).toBeLessThan(5_000);
    // Both workers stay usable: one was replaced.
    for (let i = 0; i < 4; i++) expect((await engine.execute('SELECT count(*) FROM docs')).results[0].rows).toEqual([[3]]);
  });

  test('a request may lower the timeout but not raise it', async () => {
    const engine = open({ limits: { statementTimeoutMs: 200 } });
    const e = await failure(engine.execute(ENDLESS, [], { timeoutMs: 60_000 }));
    expect(e.detail).toMatch(/200 ms/);
  });

  test('results past QUIVER_MAX_ROWS or QUIVER_MAX_RESULT_BYTES are an error, never cut short', async () => {
    for (const readWorkers of [0, 2]) {
      const engine = open({ readWorkers, limits: { maxRows: 10, maxResultBytes: 10_000 } });
      expect((await engine.execute(slow(10).replace('count(', '(').replace('SELECT (', 'SELECT x, ('))).results[0].rows).toHaveLength(10);
      const rows = await failure(engine.execute('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 11) SELECT x FROM c'));
      expect(rows.code).toBe('LIMIT_EXCEEDED');
      expect(rows.detail).toMatch(/more than 10 rows \(QUIVER_MAX_ROWS\)/);
      const bytes = await failure(engine.execute("SELECT 1; SELECT printf('%.*c', 20000, 'x')"));
      expect(bytes.detail).toMatch(/QUIVER_MAX_RESULT_BYTES/);
      expect(bytes.statementIndex).toBe(1);
    }
  });

  test('requests with more SQL tokens than QUIVER_MAX_SQL_TOKENS are refused before any runs, however they are spread', async () => {
    const engine = open({ limits: { maxSqlTokens: 1_000 } });
    await engine.execute('CREATE TABLE t (a, b, c)');
    const rows = (n: number) => `INSERT INTO t VALUES ${Array.from({ length: n }, () => '(1, 2, 3)').join(', ')}`;
    expect((await engine.execute(rows(100))).results[0].changes).toBe(100);
    for (const sql of [rows(200), 'SELECT 1;'.repeat(600)]) {
      const e = await failure(engine.execute(sql));
      expect(e.code).toBe('LIMIT_EXCEEDED');
      expect(HTTP_STATUS[e.code]).toBe(400);
      expect(e.detail).toMatch(/more than 1000 tokens; .*QUIVER_MAX_SQL_TOKENS\): split it, or bind values as params/);
    }
    expect((await engine.execute('SELECT count(*) FROM t')).results[0].rows).toEqual([[100]]);
  });

  test('requests with more statements than QUIVER_MAX_STATEMENTS are refused before any runs', async () => {
    const engine = open({ limits: { maxStatements: 3 } });
    await engine.execute('CREATE TABLE t (a)');
    const e = await failure(engine.execute('INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (3); INSERT INTO t VALUES (4)'));
    expect(e.code).toBe('LIMIT_EXCEEDED');
    expect(e.detail).toMatch(/4 statements; at most 3 .*QUIVER_MAX_STATEMENTS/);
    expect((await engine.execute('SELECT count(*) FROM t')).results[0].rows).toEqual([[0]]);
  });
});

describe('with an embedding provider', () => {
  let server: FakeOpenAIServer;
  let embeddings: Embeddings;
  beforeAll(async () => {
    server = await FakeOpenAIServer.start({ dims: 4, delayMs: 300 });
  });
  afterAll(async () => {
    embeddings?.close();
    await server.close();
  });

  function openWithModel(limits: Parameters<typeof Engine.open>[0]['limits'] = {}): Engine {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-read-pool-'));
    const config = { models: { m: { provider: 'openai', baseURL: server.baseURL, dims: 4, maxBatch: 8, maxConcurrency: 1, timeoutMs: 5000, maxRetries: 0 } } };
    fs.writeFileSync(path.join(dir, 'embedding.json'), JSON.stringify(config));
    embeddings = Embeddings.open({ dataDir: dir, env: {} });
    return open({ embeddings, limits }, dir);
  }

  test('reads that call EMBEDDING() answer on a worker as the writer does, texts only the rows hold included', async () => {
    const engine = openWithModel();
    // The same model, answered by the writer's connection only.
    const reference = open({ embeddings, readWorkers: 0 });
    for (const e of [engine, reference]) {
      await e.execute("CREATE TABLE t (doc TEXT, n INT, v VECTOR(4) AS (EMBEDDING(doc, 'm')) STORED); INSERT INTO t (doc, n) VALUES ('a', 1), ('b', 2), (NULL, 3)");
      await e.execute("CREATE VIEW q AS SELECT doc, VEC_DISTANCE_COSINE(v, EMBEDDING('a', 'm')) AS d FROM t");
    }
    const reads: [string, unknown?][] = [
      ["SELECT doc FROM t ORDER BY VEC_DISTANCE_COSINE(v, EMBEDDING('a', 'm')) LIMIT 1"],
      ['SELECT doc, EMBEDDING(:q, :model, 4) AS e FROM t ORDER BY VEC_DISTANCE_EUCLIDEAN(v, EMBEDDING(:q, :model)), doc', { q: 'b', model: 'M' }],
      ["SELECT EMBEDDING(NULL, 'm'), EMBEDDING(42, 'm'), VEC_TOTEXT(EMBEDDING('a', 'm'))"],
      ["SELECT doc, EMBEDDING(doc, 'm') = v FROM t ORDER BY n"],
      ['SELECT doc FROM q ORDER BY d LIMIT 1'],
    ];
    for (const [sql, params] of reads) {
      expect(plain(await engine.execute(sql, params as never)), sql).toEqual(plain(await reference.execute(sql, params as never)));
    }
    expect((await engine.execute(reads[0][0])).results[0].rows).toEqual([['a']]);
  });

  test('a read whose EMBEDDING() texts are written in it runs on a worker: the statement timeout stops it', async () => {
    const engine = openWithModel();
    const endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(VECTOR_DIM(EMBEDDING(:q, 'm')) + x) FROM c";
    const started = performance.now();
    const e = await failure(engine.execute(endless, { q: 'question' }, { timeoutMs: 500 }));
    expect(e.code).toBe('STATEMENT_TIMEOUT');
    // The provider's 300 ms come first; the deadline counts from the run.
    expect(performance.now() - started).toBeLessThan(5000);
    expect((await engine.execute("SELECT VECTOR_DIM(EMBEDDING('question', 'm'))")).results[0].rows).toEqual([[4]]);
  });

  test('a request needing more texts embedded than QUIVER_MAX_EMBEDDING_TEXTS is refused before any is sent', async () => {
    const engine = openWithModel({ maxEmbeddingTexts: 2 });
    await engine.execute("CREATE TABLE t (doc TEXT, v VECTOR(4) AS (EMBEDDING(doc, 'm')) STORED)");
    server.reset();
    const e = await failure(engine.execute("INSERT INTO t (doc) VALUES ('a'), ('b'), ('c')"));
    expect(e.code).toBe('LIMIT_EXCEEDED');
    expect(e.detail).toMatch(/3 texts .*at most 2 .*QUIVER_MAX_EMBEDDING_TEXTS/);
    expect(server.requests).toBe(0);
    expect((await engine.execute('SELECT count(*) FROM t')).results[0].rows).toEqual([[0]]);
  });

  test('texts past QUIVER_MAX_QUEUED_EMBEDDINGS waiting on the provider: new requests get OVERLOADED, nothing half-written', async () => {
    const engine = openWithModel({ maxQueuedEmbeddings: 3 });
    await engine.execute("CREATE TABLE t (doc TEXT, v VECTOR(4) AS (EMBEDDING(doc, 'm')) STORED)");
    const first = engine.execute("INSERT INTO t (doc) VALUES ('q1'), ('q2'), ('q3')");
    await new Promise((r) => setTimeout(r, 100));
    const refused = await failure(engine.execute("INSERT INTO t (doc) VALUES ('q4')"));
    expect(refused.code).toBe('OVERLOADED');
    expect(refused.retryAfterSeconds).toBe(1);
    await first;
    expect((await engine.execute('SELECT doc FROM t ORDER BY doc')).results[0].rows).toEqual([['q1'], ['q2'], ['q3']]);
  });

  test('a full writer queue answers OVERLOADED with a Retry-After, and loses nothing it accepted', async () => {
    const engine = openWithModel({ maxQueuedWrites: 1 });
    await engine.execute("CREATE TABLE t (doc TEXT); CREATE TABLE src (doc TEXT); INSERT INTO src VALUES ('slow')");
    // An explicit transaction keeps the writer while the embeddings of texts only its rows hold are fetched (300 ms).
    const holding = engine.execute("BEGIN; INSERT INTO t SELECT VEC_TOTEXT(EMBEDDING(doc, 'm')) FROM src; COMMIT");
    await new Promise((r) => setTimeout(r, 50));
    const queued = engine.execute("INSERT INTO t VALUES ('queued')");
    const refused = await failure(engine.execute("INSERT INTO t VALUES ('refused')"));
    expect(refused.code).toBe('OVERLOADED');
    expect(HTTP_STATUS[refused.code]).toBe(503);
    expect(refused.retryAfterSeconds).toBe(1);
    await Promise.all([holding, queued]);
    expect((await engine.execute('SELECT count(*) FROM t')).results[0].rows).toEqual([[2]]);
  });
});
