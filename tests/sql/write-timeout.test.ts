/**
 * The statement timeout on writes (engine.ts, emit.ts DEADLINE_FUNCTION): a write whose SELECT
 * runs away — INSERT ... SELECT from an endless CTE, an UPDATE with a huge join in a subquery —
 * is stopped with STATEMENT_TIMEOUT, its request leaves nothing behind, and the engine goes on.
 * Stored SQL (views, triggers) never carries the check.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Engine, QuiverError } from '../../src/sql/index.ts';

const dirs: string[] = [];
const engines: Engine[] = [];

function open(): Engine {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-write-timeout-'));
  dirs.push(dir);
  const engine = Engine.open({ dataDir: dir, readWorkers: 1, limits: { statementTimeoutMs: 30_000 } });
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
  expect((e as QuiverError).status).toBe(408);
  expect(performance.now() - started).toBeLessThan(5_000);
  return e as QuiverError;
}

const ENDLESS_ROWS = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c';

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
    const stored = (await engine.execute("SELECT group_concat(sql, ' ') FROM sqlite_schema")).results[0].rows[0][0] as string;
    expect(stored).toContain('CREATE VIEW');
    expect(stored).not.toMatch(/deadline/i);
  });
});
