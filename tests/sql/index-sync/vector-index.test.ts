/**
 * The vector index seen through SQL: visibility after DELETE, UPDATE and ROLLBACK, freshness
 * before any flush, every planner path against exact search, EXPLAIN, OPTIMIZE TABLE and
 * SHOW INDEX STATUS, a model-based property test, and persistence across a restart; and
 * quantized indexes: every DDL form of the option, bad values, answers and memory against
 * float32, restart, and a database from before the option existed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/sql/index.ts';
import { engineConnection } from '../exec/engine-connection.ts';

let dir: string;
let engine: Engine;
const warnings: string[] = [];

/** Small tables go through the index too (the planner would scan them), and segments build inline. */
function open(): Engine {
  return Engine.open({
    dataDir: dir,
    index: { flushRows: 64, builder: 'inline', warn: (m) => warnings.push(m) },
    planner: { exactMaxRows: 0, prefilterMaxRows: 50 },
  });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-vidx-'));
  warnings.length = 0;
  engine = open();
});

afterEach(() => {
  engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A deterministic pseudo-random generator, so failures reproduce. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function vector(rand: () => number, dims: number): number[] {
  return Array.from({ length: dims }, () => rand() * 2 - 1);
}

async function ids(sql: string, params?: unknown[] | Record<string, unknown>): Promise<number[]> {
  const { results } = await engine.execute(sql, params);
  return results[results.length - 1].rows.map((r) => r[0] as number);
}

async function explain(sql: string, params?: unknown[]): Promise<string> {
  const { results } = await engine.execute(`EXPLAIN ${sql}`, params);
  return String(results[0].rows[0][2]);
}

async function load(rows: number, dims = 8, seed = 1): Promise<void> {
  await engine.execute(`CREATE TABLE items (id INT PRIMARY KEY, cat INT, v VECTOR(${dims}), VECTOR INDEX vi(v) m=8 distance=cosine)`);
  const rand = random(seed);
  for (let start = 0; start < rows; start += 200) {
    const batch = Array.from({ length: Math.min(200, rows - start) }, (_, i) => start + i + 1);
    await engine.execute(
      `INSERT INTO items VALUES ${batch.map(() => '(?, ?, ?)').join(', ')}`,
      batch.flatMap((id) => [id, id % 10, vector(rand, dims)]),
    );
  }
}

const NEAREST = 'SELECT id FROM items ORDER BY VEC_DISTANCE(v, ?) LIMIT 10';
const NEAREST_WITH_DISTANCE = 'SELECT id, VEC_DISTANCE(v, ?) FROM items ORDER BY VEC_DISTANCE(v, ?) LIMIT 10';

/** [id, distance] rows of the last result. */
async function hits(sql: string, params: unknown[]): Promise<[number, number][]> {
  const { results } = await engine.execute(sql, params);
  return results[results.length - 1].rows as [number, number][];
}

describe('visibility', () => {
  test('a committed insert is returned by the very next query, before any flush', async () => {
    await load(10);
    await engine.execute('INSERT INTO items VALUES (100, 0, ?)', [[1, 1, 1, 1, 1, 1, 1, 1]]);
    expect(await ids('SELECT id FROM items ORDER BY VEC_DISTANCE(v, ?) LIMIT 1', [[1, 1, 1, 1, 1, 1, 1, 1]])).toEqual([100]);
    expect(await explain('SELECT id FROM items ORDER BY VEC_DISTANCE(v, ?) LIMIT 1', [[1, 1, 1, 1, 1, 1, 1, 1]])).toMatch(/: ann /);
  });

  test('after DELETE or UPDATE of the vector the old row or vector is never returned, by any path', async () => {
    await load(300);
    const target = [0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5];
    await engine.execute('UPDATE items SET v = ? WHERE id = 7', [target]);
    await engine.execute('INSERT INTO items VALUES (1000, 3, ?)', [target]);
    expect((await ids(NEAREST, [target])).slice(0, 2).sort((a, b) => a - b)).toEqual([7, 1000]);
    await engine.execute('DELETE FROM items WHERE id = 1000');
    await engine.execute('UPDATE items SET v = ? WHERE id = 7', [target.map((x) => -x)]);
    for (const sql of [
      NEAREST,
      'SELECT id FROM items FORCE INDEX (vi) WHERE cat = 3 ORDER BY VEC_DISTANCE(v, ?) LIMIT 10',
      'SELECT id FROM items IGNORE INDEX (vi) ORDER BY VEC_DISTANCE(v, ?) LIMIT 10',
      'SELECT id FROM items WHERE cat >= 0 ORDER BY VEC_DISTANCE(v, ?) LIMIT 10',
    ]) {
      const got = await ids(sql, [target]);
      expect(got).not.toContain(1000);
      expect(got[0]).not.toBe(7);
    }
  });

  test('rows inserted in a rolled-back transaction never appear', async () => {
    await load(100);
    const target = [9, 9, 9, 9, 9, 9, 9, 9];
    const error = await engine.execute('INSERT INTO items VALUES (500, 1, ?); INSERT INTO items VALUES (1, 1, ?)', [target, target]).catch((e) => e);
    expect(error.code).toBe('CONSTRAINT_VIOLATION');
    await engine.execute('BEGIN; INSERT INTO items VALUES (501, 1, ?); ROLLBACK', [target]);
    const got = await ids(NEAREST, [target]);
    expect(got).not.toContain(500);
    expect(got).not.toContain(501);
  });

  test('inside a transaction that changed indexed rows, the query sees them (exact path)', async () => {
    await load(100);
    const target = [3, 1, 3, 1, 3, 1, 3, 1];
    const { results } = await engine.execute(`BEGIN; INSERT INTO items VALUES (600, 1, ?); ${NEAREST}; EXPLAIN ${NEAREST}; COMMIT`, [target, target, target]);
    expect(results[2].rows[0][0]).toBe(600);
    expect(String(results[3].rows[0][2])).toMatch(/exact .*this transaction changed indexed rows/);
  });
});

describe('planner paths agree with exact search', () => {
  test('ann, prefilter, filtered-ann and postfilter return min(k, matching) rows, only matching ones, with high recall', async () => {
    await load(2000, 8, 7);
    await engine.execute('OPTIMIZE TABLE items');
    const rand = random(99);
    let overlap = 0;
    let expected = 0;
    const cases: [string, RegExp][] = [
      ['', /: ann /],
      ['WHERE id <= 5', /: prefilter /],
      ['WHERE cat = 3', /: filtered-ann /],
      ['WHERE cat <> 3', /: postfilter /],
      ['WHERE id > 1995', /: prefilter /],
    ];
    for (let q = 0; q < 20; q++) {
      const query = vector(rand, 8);
      for (const [where, path] of cases) {
        const sql = `SELECT id FROM items ${where} ORDER BY DISTANCE(v, ?, 'COSINE') LIMIT 10`;
        expect(await explain(sql, [query])).toMatch(path);
        const exact = await ids(sql.replace('FROM items', 'FROM items IGNORE INDEX (vi)'), [query]);
        const got = await ids(sql, [query]);
        expect(got.length).toBe(exact.length);
        const matching = new Set(await ids(`SELECT id FROM items ${where}`));
        expect(got.every((id) => matching.has(id))).toBe(true);
        overlap += got.filter((id) => exact.includes(id)).length;
        expected += exact.length;
      }
    }
    expect(overlap / expected).toBeGreaterThanOrEqual(0.9);
  });

  test('a filter that leaves fewer than k rows returns all of them', async () => {
    await load(500);
    const got = await ids('SELECT id FROM items FORCE INDEX (vi) WHERE id IN (3, 30, 300) ORDER BY VEC_DISTANCE(v, ?) LIMIT 10', [[1, 0, 0, 0, 0, 0, 0, 0]]);
    expect(got.sort((a, b) => a - b)).toEqual([3, 30, 300]);
  });

  test('regression: ? parameters before the query vector (select list, WHERE) bind on every index path', async () => {
    // The planner runs parts of the statement on their own; a part holding only the second ?
    // once failed with "Too few parameter values" (found by tests/api/crash.test.ts).
    await load(500);
    const q = [0.3, -0.1, 0.2, 0, 0.5, -0.4, 0.1, 0.2];
    for (const where of ['', 'WHERE cat = ?', 'WHERE cat <> ?']) {
      const sql = `SELECT id, VEC_DISTANCE(v, ?) AS d FROM items FORCE INDEX (vi) ${where} ORDER BY VEC_DISTANCE(v, ?) LIMIT 5`;
      const params = where ? [q, 3, q] : [q, q];
      expect(await explain(sql, params)).toMatch(/: (ann|filtered-ann|postfilter) /);
      expect(await ids(sql, params)).toEqual(await ids(sql.replace('FORCE INDEX', 'IGNORE INDEX'), params));
    }
  });

  test('the vector query can sit in a subquery (seed 001 shape) and join other tables', async () => {
    await load(300);
    await engine.execute('CREATE TABLE cats (cat INT PRIMARY KEY, name TEXT)');
    await engine.execute("INSERT INTO cats VALUES (0,'a'),(1,'b'),(2,'c'),(3,'d'),(4,'e'),(5,'f'),(6,'g'),(7,'h'),(8,'i'),(9,'j')");
    const q = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    const nearest = await ids(NEAREST.replace('LIMIT 10', 'LIMIT 3'), [q]);
    const { results } = await engine.execute(
      'SELECT group_concat(c.name) FROM (SELECT id, cat FROM items ORDER BY VEC_DISTANCE(v, ?) LIMIT 3) AS t JOIN cats c ON c.cat = t.cat',
      [q],
    );
    const { results: names } = await engine.execute(`SELECT name FROM cats JOIN items USING (cat) WHERE id IN (${nearest.join(',')})`);
    expect(String(results[0].rows[0][0]).split(',').sort()).toEqual(names[0].rows.map((r) => r[0]).sort());
  });

  test('hybrid: full-text filter and vector ranking in one statement, through the index', async () => {
    await load(1200);
    await engine.execute('ALTER TABLE items ADD COLUMN doc TEXT');
    await engine.execute("UPDATE items SET doc = CASE WHEN id % 3 = 0 THEN 'red apple' ELSE 'green pear' END");
    await engine.execute('CREATE FULLTEXT INDEX items_ft ON items (doc)');
    const q = [0.2, 0.1, 0, -0.3, 0.5, 0.1, 0.9, -0.2];
    const sql = 'SELECT id FROM items WHERE MATCH (doc) AGAINST (:w) ORDER BY VEC_DISTANCE(v, :q) LIMIT 10';
    expect(await explain(sql.replace(':w', "'apple'").replace(':q', `'${JSON.stringify(q)}'`))).toMatch(/filtered-ann|postfilter|prefilter/);
    const got = await ids(sql, { w: 'apple', q });
    const exact = await ids(sql.replace('FROM items', 'FROM items IGNORE INDEX (vi)'), { w: 'apple', q });
    expect(got.every((id) => id % 3 === 0)).toBe(true);
    expect(got.filter((id) => exact.includes(id)).length).toBeGreaterThanOrEqual(9);
  });

  test('SET vidx_hnsw_ef_search changes ef for the rest of the request', async () => {
    await load(100);
    const { results } = await engine.execute(`SET vidx_hnsw_ef_search = 123; EXPLAIN ${NEAREST}`, [[1, 0, 0, 0, 0, 0, 0, 0]]);
    expect(String(results[1].rows[0][2])).toContain('ef_search=123');
    const error = await engine.execute('SET no_such_setting = 1').catch((e) => e);
    expect(error.code).toBe('UNSUPPORTED_STATEMENT');
  });
});

describe('maintenance and status', () => {
  test('OPTIMIZE TABLE flushes the tail into segments; SHOW INDEX STATUS shows rows, segments and lag', async () => {
    await load(200);
    await engine.execute('OPTIMIZE TABLE items');
    const { results } = await engine.execute('SHOW INDEX STATUS FROM items');
    const row = Object.fromEntries(results[0].columns.map((c, i) => [c, results[0].rows[0][i]]));
    expect(row).toMatchObject({ index: 'vi', table: 'items', column: 'v', metric: 'cosine', state: 'ready', rows: 200, indexed_rows: 200, tail_rows: 0, lag_rows: 0 });
    expect(row.segments).toBe(1);
  });

  test('DROP INDEX removes the index and its capture; the vectors stay searchable exactly', async () => {
    await load(50);
    await engine.execute('DROP INDEX vi');
    const { results } = await engine.execute('SHOW INDEX STATUS');
    expect(results[0].rows).toEqual([]);
    await engine.execute('INSERT INTO items VALUES (99, 1, ?)', [[1, 2, 3, 4, 5, 6, 7, 8]]);
    expect(await ids('SELECT id FROM items ORDER BY VEC_DISTANCE_COSINE(v, ?) LIMIT 1', [[1, 2, 3, 4, 5, 6, 7, 8]])).toEqual([99]);
    expect(engineConnection(engine).prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'").pluck().get()).toBe(0);
  });

  test('rebuilding an indexed table (ADD COLUMN ... STORED) reindexes it', async () => {
    await load(30);
    await engine.execute('ALTER TABLE items ADD COLUMN twice INT AS (id * 2) STORED');
    const { results } = await engine.execute('SHOW INDEX STATUS');
    expect(results[0].rows[0].slice(4, 6)).toEqual(['ready', 30]);
    const target = [4, 4, 4, 4, 4, 4, 4, 4];
    await engine.execute('UPDATE items SET v = ? WHERE id = 12', [target]);
    expect(await ids(NEAREST, [target])).toContain(12);
  });

  test('CREATE VECTOR INDEX on a table with rows indexes them all', async () => {
    await engine.execute('CREATE TABLE t (v VECTOR(2))');
    await engine.execute("INSERT INTO t VALUES ('[1,0]'), ('[0,1]'), ('[1,1]')");
    await engine.execute('CREATE VECTOR INDEX tv ON t(v) distance=euclidean');
    const { results } = await engine.execute('SHOW INDEX STATUS');
    expect(results[0].rows[0].slice(0, 6)).toEqual(['tv', 't', 'v', 'euclidean', 'ready', 3]);
    expect(await ids("SELECT rowid FROM t ORDER BY VEC_DISTANCE(v, '[0.9, 0.1]') LIMIT 1")).toEqual([1]);
  });
});

describe('restart', () => {
  test('a clean shutdown saves the index; the next start loads it and replays later changes', async () => {
    await load(300);
    await engine.execute('OPTIMIZE TABLE items');
    await engine.shutdown();
    expect(fs.readdirSync(path.join(dir, 'indexes', 'vi')).length).toBeGreaterThan(0);
    engine = open();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the files load asynchronously
    const target = [2, 2, 2, 2, 2, 2, 2, 2];
    await engine.execute('INSERT INTO items VALUES (900, 1, ?)', [target]);
    expect(await ids(NEAREST, [target])).toContain(900);
    const { results } = await engine.execute('SHOW INDEX STATUS');
    expect(results[0].rows[0][5]).toBe(301);
    expect(warnings).toEqual([]);
  });

  test('a corrupt segment file is rebuilt from the table with a warning, never a wrong answer', async () => {
    await load(300);
    await engine.execute('OPTIMIZE TABLE items');
    await engine.shutdown();
    const files = fs.readdirSync(path.join(dir, 'indexes', 'vi')).filter((f) => f.includes('seg'));
    expect(files.length).toBeGreaterThan(0);
    const file = path.join(dir, 'indexes', 'vi', files[0]);
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(file, bytes);
    engine = open();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(warnings.join('\n')).toMatch(/vi: .*corrupt.*rebuilding it from items/);
    const q = [0.3, -0.2, 0.1, 0, 0.5, -0.4, 0.2, 0.1];
    const exact = await ids(NEAREST.replace('FROM items', 'FROM items IGNORE INDEX (vi)'), [q]);
    const got = await ids(NEAREST, [q]);
    expect(got.filter((id) => exact.includes(id)).length).toBeGreaterThanOrEqual(9);
  });
});

describe('property: random inserts, updates, deletes, optimizes and restarts against exact search', () => {
  test('every ANN answer holds only live rows, recall@10 stays >= 0.9, filters return min(k, matching)', async () => {
    await load(1500, 8, 3);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), n: fc.integer({ min: 1, max: 40 }), seed: fc.integer() }),
      fc.record({ kind: fc.constant('update' as const), n: fc.integer({ min: 1, max: 40 }), seed: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), n: fc.integer({ min: 1, max: 40 }), seed: fc.integer() }),
      fc.record({ kind: fc.constant('optimize' as const) }),
      fc.record({ kind: fc.constant('restart' as const) }),
    );
    let nextId = 5000;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 3, maxLength: 8 }), fc.integer(), async (ops, querySeed) => {
        for (const o of ops) {
          if (o.kind === 'insert' || o.kind === 'update') {
            const rand = random(o.seed);
            if (o.kind === 'insert') {
              const rows = Array.from({ length: o.n }, () => [nextId++, Math.floor(rand() * 10), vector(rand, 8)]);
              await engine.execute(`INSERT INTO items VALUES ${rows.map(() => '(?, ?, ?)').join(', ')}`, rows.flat());
            } else {
              await engine.execute(`UPDATE items SET v = VEC_FROMTEXT(?) WHERE id % 97 = ?`, [JSON.stringify(vector(rand, 8)), Math.abs(o.seed) % 97]);
            }
          } else if (o.kind === 'delete') {
            await engine.execute('DELETE FROM items WHERE id % 113 = ?', [o.n]);
          } else if (o.kind === 'optimize') {
            await engine.execute('OPTIMIZE TABLE items');
          } else {
            await engine.shutdown();
            engine = open();
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          const rand = random(querySeed);
          const live = new Set(await ids('SELECT id FROM items'));
          let found = 0;
          for (let i = 0; i < 5; i++) {
            const query = vector(rand, 8);
            const exact = await hits(NEAREST_WITH_DISTANCE.replace('FROM items', 'FROM items IGNORE INDEX (vi)'), [query, query]);
            // ef 100 as a user tuning for recall would set it; the default 40 is tuned for speed.
            const got = await hits(`SET vidx_hnsw_ef_search = 100; ${NEAREST_WITH_DISTANCE}`, [query, query]);
            expect(got.every(([id]) => live.has(id))).toBe(true);
            // The UPDATEs give many rows one vector: a row tied with exact search's k-th is as
            // right as the tied rows exact search happened to list (seen: 12 rows at one distance).
            const kth = exact[exact.length - 1][1];
            found += got.filter(([, d]) => d <= kth + 1e-12).length;
          }
          expect(found / 50).toBeGreaterThanOrEqual(0.9);
          const q = vector(rand, 8);
          const matching = (await ids('SELECT id FROM items WHERE cat = 4')).length;
          const filtered = await ids('SELECT id FROM items FORCE INDEX (vi) WHERE cat = 4 ORDER BY VEC_DISTANCE(v, ?) LIMIT 10', [q]);
          expect(filtered.length).toBe(Math.min(10, matching));
        }
      }),
      { numRuns: 6 },
    );
    expect(warnings).toEqual([]);
  });
});

describe('quantization (int8 / int16 segments, exact re-rank from the table)', () => {
  async function status(table: string): Promise<Record<string, unknown>> {
    const { results } = await engine.execute(`SHOW INDEX STATUS FROM ${table}`);
    return Object.fromEntries(results[0].columns.map((c, i) => [c, results[0].rows[0][i]]));
  }

  async function fill(table: string, rows: number, dims: number, seed: number): Promise<void> {
    const rand = random(seed);
    for (let start = 0; start < rows; start += 200) {
      const batch = Array.from({ length: Math.min(200, rows - start) }, (_, i) => start + i + 1);
      await engine.execute(`INSERT INTO ${table} VALUES ${batch.map(() => '(?, ?)').join(', ')}`, batch.flatMap((id) => [id, vector(rand, dims)]));
    }
  }

  test('every DDL form records the option; SHOW INDEX and SHOW CREATE TABLE show it', async () => {
    await engine.execute(`
      CREATE TABLE a (id INT, v VECTOR(8) COMMENT 'imci_vector_index=HNSW(metric=cosine,max_degree=16,quantization=int8)');
      CREATE TABLE b (id INT, v VECTOR(8));
      CREATE VECTOR INDEX bv ON b(v) M=16 DISTANCE=COSINE QUANTIZATION=INT8;
      CREATE TABLE c (id INT, v VECTOR(8));
      CREATE VECTOR INDEX cv ON c(v) WITH (quantization = 'int16');
      CREATE TABLE d (id INT, v VECTOR(8), VECTOR INDEX dv(v) m=8 distance=euclidean quantization=int16);
      CREATE TABLE e (id INT, v VECTOR(8));
      CREATE VECTOR INDEX ev ON e(v) distance=dot WITH (m = 8, quantization = 'none')`);
    const comment = async (table: string) => {
      const { results } = await engine.execute(`SHOW INDEX FROM ${table}`);
      return String(results[0].rows[0][6]);
    };
    expect(await comment('a')).toBe('m=16 ef_construction=200 distance=cosine quantization=int8');
    expect(await comment('b')).toBe('m=16 ef_construction=200 distance=cosine quantization=int8');
    expect(await comment('c')).toBe('m=16 ef_construction=200 distance=euclidean quantization=int16');
    expect(await comment('d')).toBe('m=8 ef_construction=200 distance=euclidean quantization=int16');
    expect(await comment('e')).toBe('m=8 ef_construction=200 distance=dot');
    const { results } = await engine.execute('SHOW CREATE TABLE d');
    const text = String(results[0].rows[0][1]);
    expect(text).toContain('VECTOR INDEX dv(v) m=8 ef_construction=200 distance=euclidean quantization=int16');
    // What SHOW CREATE TABLE prints creates the same index again.
    await engine.execute(`DROP TABLE d; ${text}`);
    expect(await comment('d')).toBe('m=8 ef_construction=200 distance=euclidean quantization=int16');
  });

  test('an unknown value is a 400 that lists what is accepted, in every form, and creates nothing', async () => {
    await engine.execute('CREATE TABLE t (id INT, v VECTOR(4))');
    for (const sql of [
      'CREATE VECTOR INDEX tv ON t(v) QUANTIZATION=INT4',
      "CREATE VECTOR INDEX tv ON t(v) WITH (quantization = 'fp16')",
      "CREATE TABLE u (v VECTOR(4) COMMENT 'imci_vector_index=HNSW(metric=cosine,quantization=binary)')",
      'CREATE TABLE w (v VECTOR(4), VECTOR INDEX wv(v) quantization=yes)',
    ]) {
      const error = await engine.execute(sql).catch((e) => e);
      expect(error.code).toBe('SQL_ERROR');
      expect(error.message).toBe('vector index option quantization must be one of none, int8, int16');
    }
    const syntax = await engine.execute('CREATE VECTOR INDEX tv ON t(v) WITH (quantization)').catch((e) => e);
    expect(syntax.code).toBe('SYNTAX_ERROR');
    const { results } = await engine.execute('SHOW INDEX STATUS');
    expect(results[0].rows).toEqual([]);
    expect((await engine.execute("SHOW TABLES LIKE 'u'; SHOW TABLES LIKE 'w'")).results.map((r) => r.rows)).toEqual([[], []]);
  });

  test('answers match exact search on every planner path, in less memory than float32', async () => {
    const dims = 32;
    await engine.execute(`
      CREATE TABLE plain (id INT PRIMARY KEY, v VECTOR(${dims}), VECTOR INDEX pv(v) distance=cosine);
      CREATE TABLE small (id INT PRIMARY KEY, v VECTOR(${dims}), VECTOR INDEX sv(v) distance=cosine quantization=int8);
      CREATE TABLE mid (id INT PRIMARY KEY, v VECTOR(${dims}), VECTOR INDEX mv(v) distance=cosine quantization=int16)`);
    for (const t of ['plain', 'small', 'mid']) {
      await fill(t, 1500, dims, 5);
      await engine.execute(`OPTIMIZE TABLE ${t}`);
    }
    const bytes = { plain: Number((await status('plain')).memory_bytes), small: Number((await status('small')).memory_bytes), mid: Number((await status('mid')).memory_bytes) };
    // 1,500 × 32 floats = 192,000 bytes of float32 vectors; int8 records are 40 bytes, int16 72.
    expect(bytes.plain - bytes.small).toBe(1500 * (128 - 40));
    expect(bytes.plain - bytes.mid).toBe(1500 * (128 - 72));
    expect([(await status('plain')).quantization, (await status('small')).quantization, (await status('mid')).quantization]).toEqual(['none', 'int8', 'int16']);
    const rand = random(17);
    for (const t of ['small', 'mid']) {
      let overlap = 0;
      for (let q = 0; q < 20; q++) {
        const query = vector(rand, dims);
        for (const where of ['', 'WHERE id <= 20', 'WHERE id % 10 = 3', 'WHERE id % 10 <> 3']) {
          const sql = `SELECT id, VEC_DISTANCE(v, ?) FROM ${t} ${where} ORDER BY VEC_DISTANCE(v, ?) LIMIT 10`;
          const { results: exact } = await engine.execute(sql.replace(`FROM ${t}`, `FROM ${t} IGNORE INDEX (${t[0]}v)`), [query, query]);
          const { results: got } = await engine.execute(sql, [query, query]);
          expect(got[0].rows.length).toBe(exact[0].rows.length);
          const exactIds = exact[0].rows.map((r) => r[0]);
          overlap += got[0].rows.filter((r) => exactIds.includes(r[0])).length / exactIds.length / 4;
        }
      }
      expect(overlap / 20).toBeGreaterThanOrEqual(0.9);
    }
  });

  test('with a generous ef the ANN path gives exactly the exact answer: the pool is re-ranked from the table', async () => {
    await engine.execute('CREATE TABLE q8 (id INT PRIMARY KEY, v VECTOR(16), VECTOR INDEX qv(v) distance=euclidean quantization=int8)');
    await fill('q8', 800, 16, 9);
    await engine.execute('OPTIMIZE TABLE q8');
    expect(await status('q8')).toMatchObject({ tail_rows: 0, segments: 1 });
    const rand = random(3);
    for (let i = 0; i < 10; i++) {
      const query = vector(rand, 16);
      const sql = 'SELECT id, VEC_DISTANCE_EUCLIDEAN(v, ?) FROM q8 ORDER BY VEC_DISTANCE_EUCLIDEAN(v, ?) LIMIT 10';
      const { results: got } = await engine.execute(`SET vidx_hnsw_ef_search = 400; ${sql}; EXPLAIN ${sql}`, [query, query, query, query]);
      expect(String(got[2].rows[0][2])).toMatch(/: ann /);
      const { results: exact } = await engine.execute(sql.replace('FROM q8', 'FROM q8 IGNORE INDEX (qv)'), [query, query]);
      expect(got[1].rows).toEqual(exact[0].rows);
    }
  });

  test('a database made before quantization existed (migrations up to 0002, version 1 segment files) opens as it was', async () => {
    await load(300);
    await engine.execute('OPTIMIZE TABLE items');
    const query = [0.3, -0.2, 0.1, 0, 0.5, -0.4, 0.2, 0.1];
    const before = await ids(NEAREST, [query]);
    await engine.shutdown();
    // Undo migration 0003 and write the segment files as version 1, as an older build left them.
    const db = new Database(path.join(dir, 'quiver.db'));
    db.exec('ALTER TABLE __quiver_vector_indexes DROP COLUMN quantization');
    db.exec('DELETE FROM __quiver_migrations WHERE created_at = (SELECT max(created_at) FROM __quiver_migrations)');
    expect(db.prepare('SELECT count(*) FROM __quiver_migrations').pluck().get()).toBe(3);
    db.close();
    for (const file of fs.readdirSync(path.join(dir, 'indexes', 'vi')).filter((f) => f.endsWith('.qvs'))) {
      const bytes = fs.readFileSync(path.join(dir, 'indexes', 'vi', file));
      bytes.writeUInt32LE(1, 8);
      bytes.writeUInt32LE(zlib.crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
      fs.writeFileSync(path.join(dir, 'indexes', 'vi', file), bytes);
    }
    engine = open();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the files load asynchronously
    const { results } = await engine.execute('SHOW INDEX FROM items');
    expect(results[0].rows[0][6]).toBe('m=8 ef_construction=200 distance=cosine');
    expect(await status('items')).toMatchObject({ state: 'ready', rows: 300, indexed_rows: 300 });
    expect(await ids(NEAREST, [query])).toEqual(before);
    expect(warnings).toEqual([]);
  });

  test('a restart loads the quantized segments from their files (version 2), same answers, same memory', async () => {
    await engine.execute('CREATE TABLE r (id INT PRIMARY KEY, v VECTOR(12), VECTOR INDEX rv(v) distance=dot quantization=int16)');
    await fill('r', 600, 12, 13);
    await engine.execute('OPTIMIZE TABLE r');
    const query = vector(random(4), 12);
    const sql = 'SELECT id FROM r ORDER BY VEC_DISTANCE(v, ?) LIMIT 10';
    const before = await ids(sql, [query]);
    const memory = (await status('r')).memory_bytes;
    await engine.shutdown();
    const files = fs.readdirSync(path.join(dir, 'indexes', 'rv')).filter((f) => f.startsWith('segment-'));
    expect(files.length).toBe(1);
    const bytes = fs.readFileSync(path.join(dir, 'indexes', 'rv', files[0]));
    expect([bytes.readUInt32LE(8), bytes.readUInt32LE(60)]).toEqual([2, 2]); // version 2, int16
    engine = open();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the files load asynchronously
    expect(await status('r')).toMatchObject({ state: 'ready', rows: 600, indexed_rows: 600, memory_bytes: memory });
    expect(await ids(sql, [query])).toEqual(before);
    expect(await ids(sql.replace('FROM r', 'FROM r IGNORE INDEX (rv)'), [query])).toEqual(before);
    expect(warnings).toEqual([]);
  });
});
