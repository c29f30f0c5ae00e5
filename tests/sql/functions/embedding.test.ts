/**
 * EMBEDDING() in SQL against a real local HTTP server speaking OpenAI's embeddings API: seed
 * 001 as written, batching and request counts, atomic failure, retries, UPDATE semantics,
 * backfill on ALTER TABLE, a read served while a write waits on a slow provider, texts shared
 * by concurrent requests sent once, the cache across a restart, and the texts read from a
 * statement before it runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Embeddings } from '../../../src/embed/index.ts';
import { EmbeddingRound, predictTexts } from '../../../src/sql/functions/embedding-calls.ts';
import { Engine } from '../../../src/sql/index.ts';
import { QuiverError } from '../../../src/core/index.ts';
import { parseScript } from '../../../src/sql/dialect/index.ts';
import type { Params } from '../../../src/sql/types.ts';
import { FakeOpenAIServer } from '../../embed/fake-openai-server.ts';
import { parseColumnEmbedding } from '../../../src/sql/catalog/column-embedding.ts';

const MODEL = 'text-embedding-v4';
const BATCH = 10;
let server: FakeOpenAIServer;
let dir: string;
let embeddings: Embeddings;
let engine: Engine;

/** Opens the engine on `dir` with the model configured by `settings`, closing the one a test opened before (one engine per data dir). */
function open(settings: Record<string, unknown> = {}): void {
  if (engine?.isOpen) {
    engine.close();
    embeddings.close();
  }
  const config = {
    models: {
      [MODEL]: { provider: 'openai', baseURL: server.baseURL, dims: 1024, canShorten: true, maxBatch: BATCH, maxConcurrency: 2, timeoutMs: 2000, maxRetries: 3, ...settings },
    },
  };
  fs.writeFileSync(path.join(dir, 'embedding.json'), JSON.stringify(config));
  embeddings = Embeddings.open({ dataDir: dir, env: {}, batcher: { retryBaseMs: 10, retryMaxMs: 50 } });
  engine = Engine.open({ dataDir: dir, embeddings });
}

beforeAll(async () => {
  server = await FakeOpenAIServer.start({ dims: 1024 });
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.reset();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-embedding-'));
  open();
});

afterEach(() => {
  engine.close();
  embeddings.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const SEED_001 = fs.readFileSync(path.join(import.meta.dirname, '../../fixtures/seeds/seed-001.sql'), 'utf8');

describe('seed 001: PolarDB IMCI', () => {
  test('runs as written and builds the prompt around the nearest sentence', async () => {
    const { results } = await engine.execute(SEED_001);
    expect(results).toHaveLength(3);
    expect(results[1].changes).toBe(3);
    // The fake model's vectors are hashes of the text, so the question is nearest to itself
    // only by chance; what matters is that the statement ran end to end through the provider.
    const prompt = results[2].rows[0][0] as string;
    expect(prompt).toMatch(/^Please refer to the following: .+and answer the user's question in the appropriate tone: What is HashMatch\?$/);
    // 3 documents + 1 question, each batch at most 10 texts.
    expect(server.inputs).toBe(4);
    const { results: index } = await engine.execute('SHOW INDEX FROM t1');
    expect(index[0].rows[0].slice(4, 7)).toEqual(['vec', 'HNSW', 'm=16 ef_construction=300 distance=cosine']);
  });
});

describe('batching and the cache', () => {
  test('1,000 distinct texts in one INSERT cost ceil(1000 / batch) requests; the same texts again cost none', async () => {
    await engine.execute(`CREATE TABLE docs (id INT AUTO_INCREMENT PRIMARY KEY, doc TEXT, vec VECTOR(1024) AS (EMBEDDING(doc, '${MODEL}', 1024)) STORED)`);
    const values = Array.from({ length: 1000 }, (_, i) => `('document number ${i}')`).join(', ');
    await engine.execute(`INSERT INTO docs (doc) VALUES ${values}`);
    expect(server.requests).toBe(Math.ceil(1000 / BATCH));
    expect(server.inputs).toBe(1000);
    server.reset();
    await engine.execute(`INSERT INTO docs (doc) VALUES ${values}`);
    expect(server.requests).toBe(0);
    const { results } = await engine.execute('SELECT count(*), count(vec), VECTOR_DIM(vec) FROM docs');
    expect(results[0].rows).toEqual([[2000, 2000, 1024]]);
  });

  test('repeated texts in one statement are embedded once; NULL text gives a NULL vector', async () => {
    await engine.execute(`CREATE TABLE docs (doc TEXT, vec VECTOR(1024) AS (EMBEDDING(doc, '${MODEL}')) STORED)`);
    await engine.execute("INSERT INTO docs VALUES ('same'), ('same'), ('other'), (NULL)");
    expect(server.inputs).toBe(2);
    const { results } = await engine.execute('SELECT doc, vec IS NULL FROM docs ORDER BY rowid');
    expect(results[0].rows).toEqual([['same', 0], ['same', 0], ['other', 0], [null, 1]]);
  });

  test('EMBEDDING() works in INSERT ... VALUES, INSERT ... SELECT, UPDATE ... SET and SELECT', async () => {
    await engine.execute('CREATE TABLE v (doc TEXT, vec VECTOR(8))');
    await engine.execute(`INSERT INTO v VALUES ('a', EMBEDDING('a', '${MODEL}', 8))`);
    await engine.execute(`INSERT INTO v SELECT 'b', EMBEDDING('b', '${MODEL}', 8)`);
    await engine.execute(`UPDATE v SET vec = EMBEDDING('c', '${MODEL}', 8) WHERE doc = 'b'`);
    const { results } = await engine.execute(`SELECT doc, VEC_DISTANCE_COSINE(vec, EMBEDDING(doc, '${MODEL}', 8)) < 1e-6 FROM v ORDER BY doc`);
    expect(results[0].rows).toEqual([['a', 1], ['b', 0]]);
    // The OpenAI-style `dimensions` parameter shortened the vectors.
    expect(server.received.every((r) => r.dimensions === 8)).toBe(true);
  });

  test('a model asked for dims it cannot produce is a clear error', async () => {
    open({ canShorten: false });
    const error = await engine.execute(`SELECT EMBEDDING('x', '${MODEL}', 8)`).catch((e) => e);
    expect(error).toBeInstanceOf(QuiverError);
    expect(error.code).toBe('EMBEDDING_DIMENSIONS');
  });

  test('an unknown model lists the configured ones, at CREATE TABLE already', async () => {
    const error = await engine.execute("CREATE TABLE d (doc TEXT, vec VECTOR(4) AS (EMBEDDING(doc, 'nope', 4)) STORED)").catch((e) => e);
    expect(error.code).toBe('UNKNOWN_MODEL');
    expect(error.detail).toContain(MODEL);
    const { results } = await engine.execute('SHOW TABLES');
    expect(results[0].rows).toEqual([]);
  });

  test('SHOW EMBEDDING MODELS lists models, never keys', async () => {
    const { results } = await engine.execute('SHOW EMBEDDING MODELS');
    expect(results[0].columns).toEqual(['model', 'provider', 'dims', 'max_batch', 'max_concurrency']);
    expect(results[0].rows).toContainEqual([MODEL, 'openai', 1024, BATCH, 2]);
    expect(results[0].rows.some((r) => r[0] === 'quiver-local-100d')).toBe(true);
  });
});

describe('failure is atomic', () => {
  beforeEach(async () => {
    await engine.execute(`CREATE TABLE docs (doc TEXT, vec VECTOR(1024) AS (EMBEDDING(doc, '${MODEL}', 1024)) STORED)`);
    await engine.execute("INSERT INTO docs VALUES ('kept')");
    server.reset();
  });

  test('the provider failing on the 3rd batch of 5 leaves the table unchanged and names the cause', async () => {
    open({ maxConcurrency: 1, maxRetries: 0 });
    server.answer(3, { status: 400, message: 'input too long' });
    const values = Array.from({ length: 50 }, (_, i) => `('new ${i}')`).join(', ');
    const error = await engine.execute(`INSERT INTO docs VALUES ${values}`).catch((e) => e);
    expect(error).toBeInstanceOf(QuiverError);
    expect(error.code).toBe('EMBEDDING_FAILED');
    expect(error.detail).toContain(MODEL);
    expect(error.detail).toContain('400');
    expect(error.detail).toContain('input too long');
    const { results } = await engine.execute('SELECT doc FROM docs');
    expect(results[0].rows).toEqual([['kept']]);
  });

  test('429 with Retry-After is waited out and the statement succeeds', async () => {
    server.answer(1, { status: 429, message: 'slow down', headers: { 'retry-after': '1' } });
    const started = performance.now();
    await engine.execute("INSERT INTO docs VALUES ('after a wait')");
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    expect(server.requests).toBe(2);
    const { results } = await engine.execute('SELECT count(vec) FROM docs');
    expect(results[0].rows).toEqual([[2]]);
  });

  test('a failing statement inside BEGIN ... COMMIT rolls back the whole transaction', async () => {
    open({ maxRetries: 0 });
    server.answerAll({ kind: 'fail', status: 503, message: 'down' });
    const error = await engine.execute("BEGIN; INSERT INTO docs VALUES ('x'); INSERT INTO docs VALUES ('y'); COMMIT").catch((e) => e);
    expect(error.code).toBe('EMBEDDING_FAILED');
    const { results } = await engine.execute('SELECT doc FROM docs');
    expect(results[0].rows).toEqual([['kept']]);
  });

  test('BEGIN ... COMMIT with embeddings commits once the vectors are fetched', async () => {
    await engine.execute("BEGIN; INSERT INTO docs VALUES ('x'); UPDATE docs SET doc = 'kept!' WHERE doc = 'kept'; COMMIT");
    const { results } = await engine.execute('SELECT doc, VECTOR_DIM(vec) FROM docs ORDER BY rowid');
    expect(results[0].rows).toEqual([['kept!', 1024], ['x', 1024]]);
  });
});

describe('UPDATE semantics', () => {
  test('changing the source column re-embeds the row; changing another column calls no provider', async () => {
    await engine.execute(`CREATE TABLE docs (id INT PRIMARY KEY, tag TEXT, doc TEXT, vec VECTOR(1024) AS (EMBEDDING(doc, '${MODEL}')) STORED)`);
    await engine.execute("INSERT INTO docs VALUES (1, 'a', 'first text')");
    const before = (await engine.execute('SELECT vec FROM docs')).results[0].rows[0][0] as Float32Array;
    server.reset();
    await engine.execute("UPDATE docs SET tag = 'b' WHERE id = 1");
    expect(server.requests).toBe(0);
    await engine.execute("UPDATE docs SET doc = 'second text' WHERE id = 1");
    expect(server.inputs).toBe(1);
    const after = (await engine.execute('SELECT vec FROM docs')).results[0].rows[0][0] as Float32Array;
    expect(Array.from(after)).not.toEqual(Array.from(before));
  });
});

describe('ALTER TABLE ADD COLUMN ... EMBEDDING() STORED', () => {
  test('backfills every existing row in batches, keeping row ids', async () => {
    await engine.execute('CREATE TABLE docs (doc TEXT)');
    const values = Array.from({ length: 95 }, (_, i) => `('row ${i}')`).join(', ');
    await engine.execute(`INSERT INTO docs VALUES ${values}`);
    await engine.execute(`ALTER TABLE docs ADD COLUMN vec VECTOR(1024) AS (EMBEDDING(doc, '${MODEL}', 1024)) STORED`);
    expect(server.requests).toBe(10);
    const { results } = await engine.execute("SELECT count(vec), min(rowid), max(rowid) FROM docs WHERE doc LIKE 'row %'");
    expect(results[0].rows).toEqual([[95, 1, 95]]);
    const { results: described } = await engine.execute('DESCRIBE docs');
    expect(described[0].rows[1].slice(0, 2)).toEqual(['vec', 'VECTOR(1024)']);
    expect(described[0].rows[1][5]).toBe('STORED GENERATED');
  });
});

describe('progress', () => {
  test('SHOW PROCESSLIST shows a backfill waiting on the provider, with texts done and total', async () => {
    await engine.execute('CREATE TABLE docs (doc TEXT)');
    await engine.execute(`INSERT INTO docs VALUES ${Array.from({ length: 40 }, (_, i) => `('text ${i}')`).join(', ')}`);
    server.delayMs = 300;
    const alter = engine.execute(`ALTER TABLE docs ADD COLUMN vec VECTOR(1024) AS (EMBEDDING(doc, '${MODEL}')) STORED`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const { results } = await engine.execute('SHOW PROCESSLIST');
    expect(results[0].columns).toEqual(['model', 'texts_done', 'texts_total', 'seconds', 'state']);
    expect(results[0].rows).toHaveLength(1);
    expect(results[0].rows[0].slice(0, 3)).toEqual([MODEL, 0, 40]);
    await alter;
    server.delayMs = 0;
    expect((await engine.execute('SHOW PROCESSLIST')).results[0].rows).toEqual([]);
  });
});

describe('a slow provider', () => {
  test('a read is served while a write waits on the provider', async () => {
    await engine.execute('CREATE TABLE plain (a INT); INSERT INTO plain VALUES (1)');
    await engine.execute(`CREATE TABLE docs (doc TEXT, vec VECTOR(1024) AS (EMBEDDING(doc, '${MODEL}')) STORED)`);
    server.delayMs = 1500;
    const write = engine.execute("INSERT INTO docs VALUES ('slow')");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    const { results } = await engine.execute('SELECT a FROM plain');
    const readMs = performance.now() - started;
    expect(results[0].rows).toEqual([[1]]);
    expect(readMs).toBeLessThan(500);
    await write;
    server.delayMs = 0;
    const { results: written } = await engine.execute('SELECT count(vec) FROM docs');
    expect(written[0].rows).toEqual([[1]]);
  });
});

describe('requests that share texts', () => {
  test('two concurrent INSERTs missing the same texts send them once', async () => {
    await engine.execute(`CREATE TABLE a (doc TEXT, vec VECTOR(1024) AS (EMBEDDING(doc, '${MODEL}', 1024)) STORED)`);
    await engine.execute(`CREATE TABLE b (doc TEXT, vec VECTOR(1024) AS (EMBEDDING(doc, '${MODEL}', 1024)) STORED)`);
    server.reset();
    server.delayMs = 150;
    const docs = Array.from({ length: 5 }, (_, i) => `shared text ${i}`);
    const values = docs.map(() => '(?)').join(', ');
    await Promise.all([engine.execute(`INSERT INTO a (doc) VALUES ${values}`, docs), engine.execute(`INSERT INTO b (doc) VALUES ${values}`, docs)]);
    server.delayMs = 0;
    expect(server.requests).toBe(1);
    expect(server.inputs).toBe(5);
    const { results } = await engine.execute('SELECT count(*) FROM a JOIN b ON a.doc = b.doc AND a.vec = b.vec');
    expect(results[0].rows).toEqual([[5]]);
  });

  test('the cache survives a clean close and reopen of the data dir', async () => {
    await engine.execute(`CREATE TABLE docs (doc TEXT, vec VECTOR(1024) AS (EMBEDDING(doc, '${MODEL}', 1024)) STORED)`);
    const values = Array.from({ length: 30 }, (_, i) => `('kept across restarts ${i}')`).join(', ');
    await engine.execute(`INSERT INTO docs VALUES ${values}`);
    expect(server.inputs).toBe(30);
    engine.close();
    embeddings.close();
    open();
    server.reset();
    await engine.execute(`INSERT INTO docs VALUES ${values}`);
    expect(server.requests).toBe(0);
    const { results } = await engine.execute('SELECT count(DISTINCT vec), count(vec) FROM docs');
    expect(results[0].rows).toEqual([[30, 60]]);
  });
});

describe('texts read before a statement runs', () => {
  /** predictTexts over `sql` against this engine's models, with a catalog of one table. */
  const catalog = {
    table: (name: string) =>
      name.toLowerCase() === 'docs'
        ? {
            columnRows: [
              { name: 'id', declaredType: 'INTEGER', generatedExpr: null, generatedStorage: null },
              { name: 'doc', declaredType: 'TEXT', generatedExpr: null, generatedStorage: null },
              { name: 'n', declaredType: 'INT', generatedExpr: null, generatedStorage: null },
              { name: 'vec', declaredType: 'VECTOR(1024)', generatedExpr: `EMBEDDING(doc, '${MODEL}', 1024)`, generatedStorage: 'STORED' },
              { name: 'nvec', declaredType: 'VECTOR(1024)', generatedExpr: `EMBEDDING(n, '${MODEL}', 1024)`, generatedStorage: 'STORED' },
              { name: 'lazy', declaredType: 'VECTOR(8)', generatedExpr: `EMBEDDING(doc, '${MODEL}', 8)`, generatedStorage: 'VIRTUAL' },
            ].map((c) => ({ ...c, embedding: c.generatedExpr === null ? null : parseColumnEmbedding(c.generatedExpr) })),
          }
        : undefined,
  };
  const predict = (sql: string, params?: Params) => predictTexts(parseScript(sql), params, catalog, embeddings);

  test('reads the VALUES of generated columns\' sources and constant EMBEDDING() calls, with parameters in order', () => {
    expect(predict("INSERT INTO docs (id, doc) VALUES (1, 'one'), (?, ?), (3, 'one')", [2, 'two'])).toEqual([{ model: MODEL, dims: 1024, texts: ['one', 'two'] }]);
    // Without a column list, VALUES fill the columns that are not generated, in order.
    expect(predict("INSERT INTO docs VALUES (1, 'x', 7)")).toEqual([{ model: MODEL, dims: 1024, texts: ['x'] }]);
    const script = `SELECT ?; INSERT INTO docs (doc) VALUES (?); SELECT doc FROM docs ORDER BY DISTANCE(vec, EMBEDDING(?, '${MODEL}', 8), 'COSINE') LIMIT :k`;
    expect(predict(script, [0, 'stored', 'question'])).toEqual([
      { model: MODEL, dims: 1024, texts: ['stored'] },
      { model: MODEL, dims: 8, texts: ['question'] },
    ]);
    expect(predict(`UPDATE docs SET doc = 'u', vec = EMBEDDING(:t, '${MODEL}', 1024) WHERE id = 1`, { t: 'named' })).toEqual([
      { model: MODEL, dims: 1024, texts: ['named'] },
    ]);
  });

  test('leaves alone what it cannot know: expressions, numbers, numeric text in numeric columns, branches, unknown models', () => {
    expect(predict("INSERT INTO docs (doc) VALUES ('a' || ?), (?), (NULL)", ['b', 42])).toEqual([]);
    // n is INT: '12' would be stored as 12; 'twelve' stays text.
    expect(predict("INSERT INTO docs (n) VALUES ('12'), ('twelve')")).toEqual([{ model: MODEL, dims: 1024, texts: ['twelve'] }]);
    expect(predict(`SELECT CASE WHEN 0 THEN EMBEDDING('never', '${MODEL}', 8) END, IIF(0, EMBEDDING('nor', '${MODEL}', 8), NULL)`)).toEqual([]);
    expect(predict("SELECT EMBEDDING('x', 'no-such-model', 8), EMBEDDING('y', 'quiver-local-100d', 99999)")).toEqual([]);
    expect(predict("INSERT INTO missing (doc) VALUES ('x')")).toEqual([]);
    expect(predict(`INSERT INTO docs (doc) SELECT 'from a select'`)).toEqual([]);
  });

  test('a round fetches what it read before any run, and keeps cached vectors for the run', async () => {
    await engine.execute(`SELECT EMBEDDING('cached already', '${MODEL}', 1024)`);
    server.reset();
    const round = new EmbeddingRound(embeddings);
    const statements = parseScript("INSERT INTO docs (doc) VALUES ('cached already'), (?)");
    expect(round.prefetchWritten(statements, ['new text'], catalog)).toBe(true);
    await round.fetchMisses();
    expect(server.received.map((r) => r.input)).toEqual([['new text']]);
    expect(round.prefetchWritten(statements, ['new text'], catalog)).toBe(false);
    round.collecting = false;
    // Both are at hand without a lookup that could miss: a run would not collect.
    expect(round.lookup(MODEL, 1024, 'cached already')).toHaveLength(1024);
    expect(round.lookup(MODEL, 1024, 'new text')).toHaveLength(1024);
  });
});

describe('the built-in model', () => {
  test('offline, it ranks "What is HashMatch?" closest to the HashMatch sentence', async () => {
    const local = SEED_001.replaceAll('"text-embedding-v4",1024', '"quiver-local-100d",100')
      .replaceAll('"text-embedding-v4", 1024', '"quiver-local-100d", 100')
      .replace('VECTOR( 1024)', 'VECTOR(100)');
    const { results } = await engine.execute(local);
    expect(results[2].rows[0][0]).toBe(
      "Please refer to the following: HashMatch is a join operator in PolarDB IMCIand answer the user's question in the appropriate tone: What is HashMatch?",
    );
    expect(server.requests).toBe(0);
  });
});
