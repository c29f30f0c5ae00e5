/**
 * Replication on the SQL side, with an in-memory log between two engines on real SQLite files:
 * what a primary's transactions capture (rows, schema statements, the embeddings they used)
 * is applied on a replica into the same database, byte for byte, without the replica ever
 * calling an embedding provider; a write the log refuses is not committed; the position
 * travels with each commit. The NATS log and failover are tests/cluster's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { QuiverError } from '../../../src/core/index.ts';
import { Embeddings } from '../../../src/embed/index.ts';
import { DATABASE_FILE, Engine, type ReplicatedLog } from '../../../src/sql/index.ts';
import { FakeOpenAIServer } from '../../embed/fake-openai-server.ts';

const MODEL = 'text-embedding-v4';

/** A log in memory: the primary appends, the test hands entries to the replica. */
class MemoryLog implements ReplicatedLog {
  readonly entries: { position: number; epoch: number; changes: Uint8Array }[] = [];
  /** When set, append refuses as a fenced-off primary's would. */
  refuse: QuiverError | null = null;
  writable = true;

  lostCommit(): void {}

  clusterStatus(): never[] {
    return [];
  }

  checkWritable(): void {
    if (!this.writable) throw new QuiverError('NOT_PRIMARY', 'this node is a replica');
  }

  async append(changes: Uint8Array): Promise<{ position: number; epoch: number }> {
    if (this.refuse) throw this.refuse;
    this.entries.push({ position: this.entries.length + 1, epoch: 1, changes: Uint8Array.from(changes) });
    return { position: this.entries.length, epoch: 1 };
  }
}

let server: FakeOpenAIServer;
let dirs: string[] = [];
let opened: { engine: Engine; embeddings: Embeddings }[] = [];

function openNode(log: MemoryLog): { engine: Engine; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-replication-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'embedding.json'), JSON.stringify({ models: { [MODEL]: { provider: 'openai', baseURL: server.baseURL, dims: 8, canShorten: true, maxBatch: 16 } } }));
  const embeddings = Embeddings.open({ dataDir: dir, env: {} });
  const engine = Engine.open({ dataDir: dir, embeddings, log, writerThread: true });
  opened.push({ engine, embeddings });
  return { engine, dir };
}

/** Every user table's rows with their rowids (or keys), and every user object's SQL, as read from the file. */
function dump(dir: string): unknown {
  const db = new Database(path.join(dir, DATABASE_FILE), { readonly: true });
  try {
    const objects = db.prepare("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite%' AND name NOT LIKE '\\_\\_quiver%' ESCAPE '\\' ORDER BY name").all() as { type: string; name: string; sql: string }[];
    const tables = db.prepare("SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT LIKE '\\_\\_quiver%' ESCAPE '\\' ORDER BY name").all() as { name: string; wr: number }[];
    const rows = Object.fromEntries(tables.map((t) => [t.name, db.prepare(`SELECT ${t.wr ? '' : 'rowid AS __rowid, '}* FROM "${t.name}" ORDER BY 1`).raw().safeIntegers(true).all()]));
    const catalog = db.prepare('SELECT name, table_name FROM __quiver_vector_indexes ORDER BY name').all();
    return { objects, rows, catalog };
  } finally {
    db.close();
  }
}

async function catchUp(replica: Engine, log: MemoryLog): Promise<void> {
  for (const e of log.entries.filter((x) => x.position > replica.appliedPosition)) await replica.applyLogEntry(e);
}

beforeAll(async () => {
  server = await FakeOpenAIServer.start({ dims: 8 });
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.reset();
});

afterEach(async () => {
  for (const { engine, embeddings } of opened) {
    await engine.shutdown();
    embeddings.close();
  }
  opened = [];
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

describe('a replica applying the primary log holds the same database', () => {
  test('rows, rowids, generated EMBEDDING() columns, schema changes and transactions', async () => {
    const log = new MemoryLog();
    const primary = openNode(log);
    const replicaLog = new MemoryLog();
    replicaLog.writable = false;
    const replica = openNode(replicaLog);
    const run = (sql: string, params?: unknown[]) => primary.engine.execute(sql, params as never);

    await run(`CREATE TABLE docs (id INTEGER PRIMARY KEY, doc TEXT, score REAL, raw BLOB, tag TEXT UNIQUE,
      vec VECTOR(8) AS (EMBEDDING(doc, '${MODEL}', 8)) STORED)`);
    await run('CREATE VECTOR INDEX docs_vec ON docs (vec) DISTANCE = COSINE');
    await run('CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID');
    await run('CREATE TABLE plain (a, b)');
    await run("INSERT INTO docs (id, doc, score, raw, tag) VALUES (1, 'alpha', 2.0, x'00ff', 'a'), (2, 'beta', 1.5, NULL, 'b'), (3, 'gamma', -0.0, x'', 'c')");
    await run("INSERT INTO plain VALUES (1, 'one'), (2.0, x'01'), (9007199254740993, NULL)");
    await run("INSERT INTO kv VALUES ('x', 1), ('y', 2)");
    await run("UPDATE docs SET doc = 'alpha two', id = 10 WHERE id = 1");
    await run("INSERT OR REPLACE INTO docs (id, doc, tag) VALUES (20, 'delta', 'b')"); // replaces row 2 through UNIQUE(tag)
    await run("UPDATE kv SET k = 'z', v = v + 1 WHERE k = 'x'");
    await run("DELETE FROM kv WHERE k = 'y'");
    await run('DELETE FROM plain WHERE a = 1');
    // An explicit transaction: a savepoint rolled back leaves nothing in the log.
    await run("BEGIN; INSERT INTO plain VALUES ('kept', 1); SAVEPOINT s; INSERT INTO plain VALUES ('undone', 2); ROLLBACK TO s; RELEASE s; COMMIT");
    // Writes outside the request's transactions, around one.
    await run("INSERT INTO plain VALUES ('auto', 1); BEGIN; INSERT INTO plain VALUES ('in', 2); COMMIT; INSERT INTO plain VALUES ('auto2', 3)");
    await run("SAVEPOINT outer_sp; INSERT INTO kv VALUES ('sp', 7); RELEASE outer_sp");
    // A backfill computes EMBEDDING() for every row: the replica gets those vectors from the log.
    await run(`ALTER TABLE docs ADD COLUMN vec2 VECTOR(4) AS (EMBEDDING(tag, '${MODEL}', 4)) STORED`);
    await run('CREATE INDEX plain_b ON plain (b)');
    await run('CREATE FULLTEXT INDEX docs_ft ON docs (doc)');
    await run("UPDATE docs SET doc = 'alpha joins gamma' WHERE id = 3");
    await run('CREATE TEMP TABLE scratch (x)');
    await run('INSERT INTO scratch VALUES (1)');
    await run('TRUNCATE TABLE kv');
    await run("INSERT INTO kv VALUES ('after', 1)");
    await run('CREATE TABLE gone (x); INSERT INTO gone VALUES (1); DROP TABLE gone');

    const providerRequests = server.requests;
    await catchUp(replica.engine, log);
    expect(server.requests).toBe(providerRequests);
    expect(replica.engine.appliedPosition).toBe(log.entries.length);
    expect(primary.engine.appliedPosition).toBe(log.entries.length);
    expect(dump(replica.dir)).toEqual(dump(primary.dir));
    const d = dump(replica.dir) as { rows: Record<string, unknown[]> };
    expect(Object.keys(d.rows)).not.toContain('scratch');
    // REAL 2.0 stays a REAL (a number here), a 64-bit INTEGER stays exact (a bigint).
    expect(d.rows.plain.map((r) => (r as unknown[])[1])).toEqual([2, 9007199254740993n, 'kept', 'auto', 'in', 'auto2']);

    // The replica's own vector index, built from its rows, answers as the primary's.
    const q = `SELECT id FROM docs ORDER BY DISTANCE(vec, EMBEDDING('alpha two', '${MODEL}', 8), 'COSINE') LIMIT 3`;
    const a = await primary.engine.execute(q);
    const b = await replica.engine.execute(q);
    expect(b.results[0].rows).toEqual(a.results[0].rows);
    // So does its full-text index, fed by its own triggers from the rows it applied.
    const text = "SELECT id FROM docs WHERE MATCH (doc) AGAINST ('alpha') ORDER BY id";
    const ta = await primary.engine.execute(text);
    expect(ta.results[0].rows).toEqual([[3], [10]]);
    expect((await replica.engine.execute(text)).results[0].rows).toEqual(ta.results[0].rows);
  });

  test('a write the log refuses is rolled back, and the error is the log refusal', async () => {
    const log = new MemoryLog();
    const primary = openNode(log);
    await primary.engine.execute('CREATE TABLE t (x)');
    log.refuse = new QuiverError('NOT_PRIMARY', 'another node took over');
    await expect(primary.engine.execute('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ code: 'NOT_PRIMARY' });
    await expect(primary.engine.execute('BEGIN; INSERT INTO t VALUES (2); COMMIT')).rejects.toMatchObject({ code: 'NOT_PRIMARY' });
    log.refuse = null;
    await primary.engine.execute('INSERT INTO t VALUES (3)');
    expect((await primary.engine.execute('SELECT x FROM t')).results[0].rows).toEqual([[3]]);
    expect(log.entries).toHaveLength(2);
    expect(primary.engine.appliedPosition).toBe(2);
  });

  test('a replica refuses writes with NOT_PRIMARY and serves reads and SHOWs', async () => {
    const log = new MemoryLog();
    log.writable = false;
    const replica = openNode(log);
    await expect(replica.engine.execute('CREATE TABLE t (x)')).rejects.toMatchObject({ code: 'NOT_PRIMARY' });
    expect((await replica.engine.execute('SELECT 1')).results[0].rows).toEqual([[1]]);
    expect((await replica.engine.execute('SHOW TABLES')).results[0].rows).toEqual([]);
  });

  test('CREATE TRIGGER is refused in cluster mode (it would fire again on replicas)', async () => {
    const log = new MemoryLog();
    const primary = openNode(log);
    await primary.engine.execute('CREATE TABLE t (x); CREATE TABLE audit (x)');
    await expect(primary.engine.execute('CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN INSERT INTO audit VALUES (NEW.x); END')).rejects.toMatchObject({
      code: 'UNSUPPORTED_STATEMENT',
      message: expect.stringMatching(/cluster mode/),
    });
    expect(log.entries).toHaveLength(1);
  });

  test('reads-only transactions and SELECTs write nothing to the log', async () => {
    const log = new MemoryLog();
    const primary = openNode(log);
    await primary.engine.execute('CREATE TABLE t (x)');
    await primary.engine.execute('BEGIN; SELECT * FROM t; COMMIT');
    await primary.engine.execute('SELECT count(*) FROM t');
    expect(log.entries).toHaveLength(1);
  });
});
