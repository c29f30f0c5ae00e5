/**
 * Engine.stats and notReady, in process: an engine reports its writer, its read workers
 * and each vector index (the numbers SHOW INDEX STATUS shows), and is not ready while the
 * database is closed or an index is still loading — as every index is right after a restart
 * that loads it from its saved files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine, notReady } from '../../../src/sql/index.ts';

const dirs: string[] = [];
const engines: Engine[] = [];

function open(dataDir: string, readWorkers = 0): Engine {
  const engine = Engine.open({ dataDir, readWorkers });
  engines.push(engine);
  return engine;
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-engine-stats-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const e of engines.splice(0)) e.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const TABLE = 'CREATE TABLE t (id INT PRIMARY KEY, v VECTOR(2), VECTOR INDEX vi (v) distance=cosine)';

describe('Engine.stats', () => {
  it('reports the writer, the read workers and each vector index', async () => {
    const engine = open(tempDir(), 2);
    await engine.ready();
    await engine.execute(TABLE);
    await engine.execute('INSERT INTO t VALUES (1, ?), (2, ?), (3, ?)', [[1, 0], [0, 1], [1, 1]]);
    await engine.execute('DELETE FROM t WHERE id = 3');
    const stats = engine.stats();
    expect(stats).toMatchObject({ open: true, writerReady: true, writerRequests: 0, readWorkers: { workers: 2, busy: 0, queued: 0 } });
    expect(stats.indexes).toEqual([expect.objectContaining({ index: 'vi', table: 't', state: 'ready', rows: 2, tailRows: 2, segments: 0, deletedFraction: 0 })]);
  });

  it('tells each result its statements\' kinds', async () => {
    const engine = open(tempDir(), 1);
    expect((await engine.execute('CREATE TABLE k (a INT); INSERT INTO k VALUES (1)')).kinds).toEqual(['createTable', 'insert']);
    expect((await engine.execute('SELECT a FROM k; SELECT 1')).kinds).toEqual(['select', 'select']);
  });
});

describe('notReady', () => {
  it('is empty on an open engine whose indexes are loaded', async () => {
    const engine = open(tempDir());
    await engine.ready();
    await engine.execute(TABLE);
    expect(notReady(engine.stats())).toEqual([]);
  });

  it('names an index still loading from its saved files after a restart, then is empty', async () => {
    const dir = tempDir();
    const first = open(dir);
    await first.execute(TABLE);
    await first.execute('INSERT INTO t VALUES (1, ?)', [[1, 0]]);
    await first.shutdown();
    const engine = open(dir);
    expect(engine.stats().indexes[0].state).toBe('loading');
    expect(notReady(engine.stats())).toContain('vector index(es) still loading: vi');
    await expect.poll(() => notReady(engine.stats()), { timeout: 5_000 }).toEqual([]);
  });

  it('says the database is not open once it is closed', () => {
    const engine = open(tempDir());
    engine.close();
    expect(notReady(engine.stats())).toEqual(['the database is not open']);
  });

  it('names a writer that has not started', () => {
    expect(notReady({ open: true, writerReady: false, writerRequests: 0, readWorkers: null, indexes: [] })).toEqual(["the writer has not started yet"]);
  });
});
