/**
 * The statement timeout where SQLite cannot be interrupted (limits.ts DEADLINE_FUNCTION, which
 * to-sqlite.ts has the loops of SELECTs call as they step): a write whose SELECT runs away —
 * INSERT ... SELECT from an endless CTE, an UPDATE with a huge join in a subquery — is stopped
 * with STATEMENT_TIMEOUT, its request leaves nothing behind, and the engine goes on. So is a read
 * on the writer's connection (TEMP tables, QUIVER_READ_WORKERS=0), and a read worker stops a
 * runaway statement itself, so its thread ends. Stored SQL (views, triggers) never carries the
 * check, nor a read's scan of one table. deadline-checks.test.ts has the shapes of runaway loops.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import Database from 'better-sqlite3';
import type { CatalogLookup, TableInfo } from '../../../src/sql/catalog/table-info.ts';
import { lowerStatement } from '../../../src/sql/lower/to-sqlite.ts';
import { Engine } from '../../../src/sql/index.ts';
import { QuiverError } from '../../../src/core/index.ts';
import { DEADLINE_FUNCTION } from '../../../src/sql/runtime/limits.ts';
import { parseStatement } from '../../../src/sql/dialect/index.ts';
import { ReadPool } from '../../../src/sql/workers/read-pool.ts';
import { HTTP_STATUS } from '../../../src/api/problem.ts';
import { engineConnection } from './engine-connection.ts';

const dirs: string[] = [];
const engines: Engine[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-statement-timeout-'));
  dirs.push(dir);
  return dir;
}

function open(readWorkers = 1): Engine {
  const engine = Engine.open({ dataDir: tempDir(), readWorkers, limits: { statementTimeoutMs: 30_000 } });
  engines.push(engine);
  return engine;
}

afterEach(async () => {
  for (const e of engines.splice(0)) await e.shutdown();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function timedOut(p: Promise<unknown>): Promise<QuiverError> {
  const started = performance.now();
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(QuiverError);
  expect((e as QuiverError).code).toBe('STATEMENT_TIMEOUT');
  expect(HTTP_STATUS[(e as QuiverError).code]).toBe(408);
  expect(performance.now() - started).toBeLessThan(5_000);
  return e as QuiverError;
}

const ENDLESS_ROWS = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c';
/** Runs inside SQLite without end, and without returning a row or calling a function of Quiver's. */
const ENDLESS_COUNT = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';

describe('the statement timeout on writes', () => {
  test('stops INSERT ... SELECT from an endless CTE; nothing of the request is written', async () => {
    const engine = open();
    await engine.execute('CREATE TABLE t (x INTEGER)');
    const e = await timedOut(engine.execute(`INSERT INTO t VALUES (-1); INSERT INTO t ${ENDLESS_ROWS}`, [], { timeoutMs: 300 }));
    expect(e.detail).toMatch(/statement timeout of 300 ms and was stopped; its transaction was rolled back/);
    expect(e.statementIndex).toBe(1);
    expect((await engine.execute('SELECT count(*) FROM t')).results[0].rows).toEqual([[0]]);
    await engine.execute('INSERT INTO t VALUES (1)');
    expect((await engine.execute('SELECT count(*) FROM t')).results[0].rows).toEqual([[1]]);
  });

  test('stops an UPDATE whose subquery joins without end, inside BEGIN ... COMMIT too', async () => {
    const engine = open();
    await engine.execute(`CREATE TABLE big (v INTEGER); INSERT INTO big ${ENDLESS_ROWS} LIMIT 2000; CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)`);
    const huge = 'UPDATE t SET a = (SELECT count(*) FROM big x, big y, big z WHERE x.v + y.v + z.v > 0)';
    await timedOut(engine.execute(huge, [], { timeoutMs: 300 }));
    await timedOut(engine.execute(`BEGIN; INSERT INTO t VALUES (2); ${huge}; COMMIT`, [], { timeoutMs: 300 }));
    expect((await engine.execute('SELECT a FROM t')).results[0].rows).toEqual([[1]]);
  });

  test('lets a write that ends in time through, and keeps the check out of stored SQL', async () => {
    const engine = open();
    await engine.execute('CREATE TABLE t (x INTEGER)');
    await engine.execute(`INSERT INTO t ${ENDLESS_ROWS} LIMIT 1000`, [], { timeoutMs: 300 });
    await engine.execute('CREATE VIEW v AS SELECT x FROM t WHERE x > 500');
    await engine.execute('CREATE TABLE log (n INTEGER); CREATE TRIGGER tr AFTER DELETE ON t BEGIN INSERT INTO log SELECT count(*) FROM t; END');
    await engine.execute('DELETE FROM t WHERE x IN (SELECT x FROM v WHERE x > 990)');
    expect((await engine.execute('SELECT count(*) FROM t; SELECT count(*) FROM log')).results.map((r) => r.rows)).toEqual([[[990]], [[10]]]);
    const stored = engineConnection(engine).prepare("SELECT group_concat(sql, ' ') FROM sqlite_schema").pluck().get() as string;
    expect(stored).toContain('CREATE VIEW');
    expect(stored).not.toMatch(/deadline/i);
  });
});

describe('the statement timeout on reads', () => {
  test('stops a read on the writer connection (no read workers), which then goes on', async () => {
    const engine = open(0);
    await engine.execute('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)');
    const e = await timedOut(engine.execute(ENDLESS_COUNT, [], { timeoutMs: 300 }));
    expect(e.detail).toMatch(/statement timeout of 300 ms and was stopped; nothing was written/);
    await timedOut(engine.execute(`INSERT INTO t VALUES (2); ${ENDLESS_COUNT}`, [], { timeoutMs: 300 }));
    expect((await engine.execute('SELECT x FROM t')).results[0].rows).toEqual([[1]]);
  });

  test('stops a join of TEMP tables, which only the writer connection has', async () => {
    const engine = open();
    await engine.execute(`CREATE TEMP TABLE tt (v INTEGER); INSERT INTO tt ${ENDLESS_ROWS} LIMIT 2000`);
    await timedOut(engine.execute('SELECT count(*) FROM tt x, tt y, tt z WHERE x.v + y.v + z.v > 0', [], { timeoutMs: 300 }));
    expect((await engine.execute('SELECT count(*) FROM tt')).results[0].rows).toEqual([[2000]]);
  });

  test('a read worker stops a runaway statement itself: its thread ends, not just the request', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'quiver.db');
    const setup = new Database(file);
    setup.pragma('journal_mode = WAL');
    setup.close();
    const pool = new ReadPool(file, 1, { maxQueued: 10, maxQueuedPerClient: 10, maxPerClient: 0 });
    try {
      const statement = ENDLESS_COUNT.replace('FROM c)', `FROM c WHERE ${DEADLINE_FUNCTION}())`);
      const lease = await pool.lease();
      await expect(lease.run({ statements: [{ sql: statement, args: [] }], maxRows: 10, maxResultBytes: 1 << 20, timeoutMs: 200, since: Date.now() })).rejects.toMatchObject({
        code: 'STATEMENT_TIMEOUT',
      });
      // Terminated at the deadline, the thread would spin inside SQLite for good without the check.
      const deadline = Date.now() + 3000;
      while (pool.stats().stopping > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(pool.stats().stopping).toBe(0);
    } finally {
      await pool.close();
    }
  });

  test('reads check the deadline where work can multiply, in each of its loops; never in a scan of one table', () => {
    const table = (name: string): TableInfo => ({ name, columns: [], vectorIndexes: [], fulltextIndexes: [], withoutRowid: false });
    const catalog: CatalogLookup = { table: (name) => (['t', 'u'].includes(name.toLowerCase()) ? table(name) : undefined) };
    const checks = (sql: string) => lowerStatement(parseStatement(sql), catalog, sql).sql.split(DEADLINE_FUNCTION).length - 1;
    expect(checks('SELECT count(*) FROM t WHERE x > 1')).toBe(0);
    expect(checks('SELECT 1')).toBe(0);
    expect(checks('SELECT * FROM t, u')).toBe(2);
    expect(checks('SELECT * FROM t JOIN u ON t.a = u.a')).toBe(2);
    // A subquery without an alias cannot be named: one check in the outermost loop.
    expect(checks('SELECT * FROM (SELECT * FROM t)')).toBe(1);
    expect(checks('SELECT * FROM t WHERE a IN (SELECT a FROM u, t)')).toBe(2);
    expect(checks('SELECT * FROM some_view')).toBe(1);
    expect(checks('SELECT * FROM json_each(?)')).toBe(1);
    // A CTE named like a table is the CTE; the recursive step reads the CTE too.
    expect(checks('WITH RECURSIVE t(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM t) SELECT x FROM t')).toBe(2);
    // A write checks every SELECT with a FROM.
    expect(checks('INSERT INTO t SELECT * FROM u')).toBe(1);
    expect(checks('CREATE VIEW v AS SELECT * FROM t, u')).toBe(0);
  });
});
