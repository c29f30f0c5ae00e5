/**
 * The statement timeout reaches every loop of a statement (src/sql/lower/deadline-checks.ts):
 * a join, a correlated subquery or a recursive CTE whose inner loops alone would run for
 * minutes is stopped within a second of its deadline. On the writer's connection the call
 * returns by then; on a read worker the thread itself stops, so it gives its CPU back. Tables
 * have 50,000 rows: one row of a three-way self-join's outermost loop is 2.5e9 rows of its inner
 * loops, which a check per row of the outermost loop (the earlier placement) left unchecked for
 * tens of seconds or more. And the checks change no answer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/sql/index.ts';
import { QuiverError } from '../../../src/core/index.ts';
import { HTTP_STATUS } from '../../../src/api/problem.ts';
import type { CatalogLookup, TableInfo } from '../../../src/sql/catalog/table-info.ts';
import { lowerStatement } from '../../../src/sql/lower/to-sqlite.ts';
import { parseStatement } from '../../../src/sql/dialect/index.ts';
import { DEADLINE_FUNCTION, OUTER_DEADLINE_FUNCTION } from '../../../src/sql/runtime/limits.ts';
import type { ReadPool } from '../../../src/sql/workers/read-pool.ts';
import { engineConnection } from './engine-connection.ts';

const ROWS = 50_000;
const TIMEOUT_MS = 300;
/** How long after its deadline a statement may still run: the aim is "within a second". */
const GRACE_MS = 1_000;

const SETUP = `
  CREATE TABLE big (v INTEGER);
  INSERT INTO big WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${ROWS}) SELECT x FROM c;
  CREATE TABLE ibig (v INTEGER); INSERT INTO ibig SELECT v FROM big; CREATE INDEX ibig_v ON ibig (v);
  CREATE TABLE wr (k INTEGER PRIMARY KEY, v INTEGER) WITHOUT ROWID; INSERT INTO wr SELECT v, v FROM big;
  CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)`;

/** Statements that run for minutes inside SQLite unless every loop checks the deadline. */
const RUNAWAY = {
  threeWayJoin: 'SELECT count(*) FROM big a, big b, big c WHERE a.v + b.v + c.v < 0',
  correlatedSubquery: 'SELECT sum((SELECT count(*) FROM big b, big c, big d WHERE b.v + c.v + d.v < a.v)) FROM big a',
  recursiveCte: 'WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT r.x + 1 FROM r, big b, big c WHERE b.v + c.v < 0) SELECT count(*) FROM r',
  subqueryInFrom: 'SELECT count(*) FROM (SELECT DISTINCT v FROM big) s, big a, big b WHERE s.v + a.v + b.v < 0',
  withoutRowid: 'SELECT count(*) FROM wr x, wr y, big z WHERE x.v + y.v + z.v < 0',
  // The innermost loop is an index lookup that finds nothing: the outer loops do the work.
  emptyLookups: 'SELECT count(*) FROM big a, big b, ibig c WHERE c.v = a.v + b.v + 1000000000',
  leftJoin: 'SELECT count(*) FROM big a, big b LEFT JOIN big c ON a.v + b.v + c.v < 0',
  rightJoin: 'SELECT count(*) FROM big a, big b RIGHT JOIN ibig c ON c.v = a.v + b.v + 1000000000',
};

const dirs: string[] = [];
const engines: Engine[] = [];

async function open(readWorkers: number): Promise<Engine> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-deadline-checks-'));
  dirs.push(dir);
  const engine = Engine.open({ dataDir: dir, readWorkers, limits: { statementTimeoutMs: 30_000 } });
  engines.push(engine);
  await engine.execute(SETUP);
  return engine;
}

afterAll(async () => {
  for (const e of engines.splice(0)) await e.shutdown();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Runs `sql` with the short timeout; expects STATEMENT_TIMEOUT (a 408) and returns when it was started. */
async function timesOut(engine: Engine, sql: string): Promise<number> {
  const started = performance.now();
  const e = await engine.execute(sql, [], { timeoutMs: TIMEOUT_MS }).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(QuiverError);
  expect((e as QuiverError).code).toBe('STATEMENT_TIMEOUT');
  expect(HTTP_STATUS[(e as QuiverError).code]).toBe(408);
  return started;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('on the writer connection, a runaway statement returns within a second of its deadline', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await open(0);
  });

  test.each(Object.entries(RUNAWAY))('%s', async (_name, sql) => {
    const started = await timesOut(engine, sql);
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + GRACE_MS);
  });

  test('INSERT ... SELECT with a heavy subquery, and UPDATE ... FROM a join; neither writes', async () => {
    for (const sql of ['INSERT INTO t SELECT (SELECT count(*) FROM big a, big b, big c WHERE a.v + b.v + c.v < 0)', 'UPDATE t SET a = 2 FROM big x, big y WHERE x.v + y.v < 0']) {
      const started = await timesOut(engine, sql);
      expect(performance.now() - started, sql).toBeLessThan(TIMEOUT_MS + GRACE_MS);
    }
    expect((await engine.execute('SELECT a FROM t')).results[0].rows).toEqual([[1]]);
  });
});

describe('on a read worker, a runaway read stops its thread within a second of its deadline', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await open(1);
  });

  const pool = () => (engine as unknown as { pool: ReadPool }).pool;

  test.each(['threeWayJoin', 'correlatedSubquery', 'recursiveCte', 'subqueryInFrom'] as const)('%s', async (name) => {
    const started = await timesOut(engine, RUNAWAY[name]);
    // The pool answers at the deadline and terminates the worker, which takes effect only once
    // the thread runs JavaScript again: here, the statement's own check stops it.
    const deadline = started + TIMEOUT_MS;
    while (pool().stats().stopping > 0 && performance.now() < deadline + GRACE_MS) await sleep(20);
    expect(pool().stats().stopping).toBe(0);
    // And the process is idle a second after the deadline: no thread still spins inside SQLite.
    await sleep(deadline + GRACE_MS - performance.now());
    const before = process.cpuUsage();
    const windowStart = performance.now();
    await sleep(500);
    const used = process.cpuUsage(before);
    const cores = (used.user + used.system) / 1000 / (performance.now() - windowStart);
    expect(cores).toBeLessThan(0.2);
    // The next read gets a fresh worker.
    expect((await engine.execute('SELECT count(*) FROM big')).results[0].rows).toEqual([[ROWS]]);
  });
});

describe('the checks', () => {
  test('change no answer', async () => {
    const engine = await open(0);
    await engine.execute('CREATE TABLE s (v INTEGER); INSERT INTO s VALUES (1), (2), (5), (NULL)');
    const queries = [
      'SELECT a.v, b.v FROM s a, s b WHERE a.v < b.v ORDER BY 1, 2',
      'SELECT a.v, b.v FROM s a LEFT JOIN s b ON b.v = a.v + 1 ORDER BY 1, 2',
      'SELECT a.v, b.v FROM s a RIGHT JOIN s b ON b.v = a.v + 1, s c WHERE c.v = 5 ORDER BY 1, 2',
      'SELECT a.v, b.v FROM s a FULL JOIN s b ON b.v = a.v * 2 ORDER BY 1, 2',
      'SELECT a.v, c.v FROM s a LEFT JOIN (s b JOIN s c ON c.v = b.v) ON b.v = a.v ORDER BY 1, 2',
      'SELECT * FROM s a NATURAL LEFT JOIN s b ORDER BY 1',
      'SELECT x.v, w.k FROM (SELECT DISTINCT v FROM s) x JOIN wr w ON w.k = x.v ORDER BY 1',
      'SELECT v, (SELECT count(*) FROM s b, s c WHERE b.v + c.v = a.v) FROM s a ORDER BY 1',
      'WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r, s WHERE s.v = 5 AND x < 4) SELECT x FROM r ORDER BY 1',
      "SELECT j.value, s.v FROM json_each('[1, 2, 3]') j JOIN s ON s.v = j.value ORDER BY 1",
      'SELECT a.v FROM s a, s b, s c WHERE a.v = b.v AND b.v = c.v AND c.v > 1 ORDER BY 1',
    ];
    const db = engineConnection(engine);
    for (const sql of queries) {
      const expected = db.prepare(sql).raw(true).all();
      expect((await engine.execute(sql)).results[0].rows, sql).toEqual(expected);
    }
    await engine.execute('UPDATE t SET a = s.v FROM s WHERE s.v = 5');
    expect((await engine.execute('SELECT a FROM t')).results[0].rows).toEqual([[5]]);
  });

  test('go first in every loop: the WHERE, or the ON where SQLite defers the WHERE', () => {
    const table = (name: string, withoutRowid = false): TableInfo => ({
      name,
      columns: [{ name: 'k', declaredType: 'INT', vectorDims: null, generated: false, defaultExpr: null, primaryKey: withoutRowid }],
      vectorIndexes: [],
      fulltextIndexes: [],
      withoutRowid,
    });
    const tables: Record<string, TableInfo> = { t: table('t'), u: table('u'), w: table('w', true) };
    const catalog: CatalogLookup = { table: (name) => tables[name.toLowerCase()] };
    const lowered = (sql: string) => lowerStatement(parseStatement(sql), catalog, sql).sql;
    const check = (column?: string) => (column ? `likelihood(${DEADLINE_FUNCTION}() OR ${column}, 1.0)` : `${OUTER_DEADLINE_FUNCTION}()`);

    expect(lowered('SELECT * FROM t, u WHERE t.k > u.k')).toBe(`SELECT * FROM t, u WHERE ${check('t.rowid')} AND ${check('u.rowid')} AND (t.k > u.k)`);
    // A WITHOUT ROWID table's key; a subquery's or CTE's first column; a table function's row id.
    expect(lowered('SELECT * FROM w, (SELECT k AS x FROM u) s')).toBe(`SELECT * FROM w, (SELECT k AS x FROM u) AS s WHERE ${check('w.k')} AND ${check('s.x')}`);
    expect(lowered('WITH c(y) AS (SELECT 1) SELECT * FROM c, json_each(?) j')).toBe(
      `WITH c(y) AS (SELECT 1) SELECT * FROM c, json_each(:1) AS j WHERE ${check('c.y')} AND ${check('j.rowid')}`,
    );
    // The right side of a LEFT JOIN is checked in its ON: SQLite runs WHERE terms on it only for the rows the ON keeps.
    expect(lowered('SELECT * FROM t LEFT JOIN u ON u.k = t.k')).toBe(`SELECT * FROM t LEFT JOIN u ON ${check('u.rowid')} AND (u.k = t.k) WHERE ${check('t.rowid')}`);
    // A view, or a name two items share, cannot be named: one check per row of the outermost loop.
    expect(lowered('SELECT * FROM some_view, t')).toBe(`SELECT * FROM some_view, t WHERE ${check('t.rowid')} AND ${check()}`);
    expect(lowered('SELECT * FROM t, t')).toBe(`SELECT * FROM t, t WHERE ${check()}`);
    // A read of one table has none; a write's SELECT of one table has one.
    expect(lowered('SELECT count(*) FROM t')).toBe('SELECT count(*) FROM t');
    expect(lowered('INSERT INTO u SELECT * FROM t')).toBe(`INSERT INTO u SELECT * FROM t WHERE ${check('t.rowid')}`);
  });
});
