/**
 * Disk-full mode without filling a disk (tests/root/disk-full.test.ts fills a real one): which
 * failures are a full disk, and whose; the reserve's life; the mode's rule (reads and deletes
 * run, other writes are refused before they run) and its end, with the free space told by the
 * test; an engine on a disk without room for its reserve, which starts in the mode; and
 * OPTIMIZE TABLE, which never reports a save it could not make.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { QuiverError, isQuiverError } from '../../../src/core/index.ts';
import { parseScript } from '../../../src/sql/dialect/index.ts';
import { DiskSpace, RESERVE_FILE, STORAGE_FULL_RETRY_AFTER_S } from '../../../src/sql/exec/disk-space.ts';
import { Engine } from '../../../src/sql/index.ts';

const KIB = 1024;
const GIB = 1024 ** 3;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-disk-space-'));
  dirs.push(dir);
  return dir;
}

async function until(what: string, done: () => boolean, ms = 5000): Promise<void> {
  for (const started = Date.now(); !done(); await new Promise((resolve) => setTimeout(resolve, 10))) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
  }
}

const sqliteFull = () => new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
const noSpace = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/** A DiskSpace over a temporary dir whose free space is `free.bytes`, recording what it says and does. */
function watched(reserveBytes: number, free: { bytes: number }) {
  const dir = tempDir();
  const changes: boolean[] = [];
  const logs: string[] = [];
  let reclaims = 0;
  const disk = new DiskSpace(dir, {
    reserveBytes,
    onChange: (full) => changes.push(full),
    reclaim: async () => void reclaims++,
    log: (m) => logs.push(m),
    freeBytes: () => free.bytes,
  });
  return { dir, disk, changes, logs, reclaims: () => reclaims, reserve: path.join(dir, RESERVE_FILE) };
}

function storageFull(e: unknown): QuiverError {
  expect(isQuiverError(e) && e.code, String(e)).toBe('STORAGE_FULL');
  expect((e as QuiverError).retryAfterSeconds).toBe(STORAGE_FULL_RETRY_AFTER_S);
  return e as QuiverError;
}

describe('DiskSpace', () => {
  test('writes its reserve at start (random bytes, under a temporary name), replacing a stale temporary file and a reserve of another size', async () => {
    const { disk, reserve } = watched(64 * KIB, { bytes: GIB });
    fs.writeFileSync(reserve, 'too small');
    fs.writeFileSync(`${reserve}.tmp`, 'left by a crash');
    disk.start();
    await until('the reserve', () => fs.existsSync(reserve) && fs.statSync(reserve).size === 64 * KIB);
    expect(fs.existsSync(`${reserve}.tmp`)).toBe(false);
    expect(new Set(fs.readFileSync(reserve)).size, 'random bytes, which no file system compresses').toBeGreaterThan(200);
    expect(disk.full).toBe(false);
    disk.close();
  });

  test('a write failing for room with less than twice the reserve free starts the mode: the reserve goes, only reads and deletes run; with room again the reserve comes back and the mode ends', async () => {
    const free = { bytes: GIB };
    const { disk, changes, logs, reclaims, reserve } = watched(64 * KIB, free);
    disk.start();
    await until('the reserve', () => fs.existsSync(reserve) && fs.statSync(reserve).size === 64 * KIB);

    free.bytes = 0;
    const e = storageFull(disk.failed(sqliteFull()));
    expect(e.detail).toMatch(/^the data dir's disk is full: the statement could not be carried out, and its transaction was rolled back: nothing of it was written\. Free space/);
    expect(disk.full).toBe(true);
    expect(changes).toEqual([true]);
    expect(fs.existsSync(reserve), 'the reserve is given up for the deletes').toBe(false);
    expect(logs[0]).toMatch(/the data dir's disk is full: a write failed for room \(SQLITE_FULL: database or disk is full\)\. Deleted the .* reserve/);

    for (const sql of ['INSERT INTO t VALUES (1)', 'UPDATE t SET a = 1', 'CREATE TABLE u (a INT)', 'CREATE INDEX i ON t (a)', 'ALTER TABLE t ADD COLUMN b INT', 'OPTIMIZE TABLE t', 'VACUUM', 'SELECT 1; INSERT INTO t VALUES (1)']) {
      let refused: unknown;
      try {
        disk.admit(parseScript(sql).map((s) => s.kind));
      } catch (error) {
        refused = error;
      }
      expect(storageFull(refused).detail, sql).toMatch(/only reads and DELETE, DROP and TRUNCATE run .*nothing of this request was run/);
    }
    for (const sql of ['SELECT * FROM t', 'SHOW TABLES', 'EXPLAIN SELECT 1', 'PRAGMA table_info(t)', 'SET vidx_hnsw_ef_search = 50', 'DELETE FROM t WHERE a = 1', 'BEGIN; DELETE FROM t; COMMIT', 'TRUNCATE TABLE t', 'DROP TABLE t']) {
      expect(() => disk.admit(parseScript(sql).map((s) => s.kind)), sql).not.toThrow();
    }
    storageFull(disk.failed(noSpace()));
    expect(changes, 'one mode, however many failures').toEqual([true]);

    // Less than twice the reserve: space is given back every second, and the mode goes on.
    free.bytes = 100 * KIB;
    await until('two checks', () => reclaims() >= 2, 3000);
    expect(disk.full).toBe(true);
    free.bytes = GIB;
    await until('the mode to end', () => !disk.full, 3000);
    expect(fs.statSync(reserve).size).toBe(64 * KIB);
    expect(changes).toEqual([true, false]);
    expect(logs.at(-1)).toMatch(/has room again .*writes run, index saves resume/);
    expect(() => disk.admit(parseScript('INSERT INTO t VALUES (1)').map((s) => s.kind))).not.toThrow();
    disk.close();
  });

  test('tells whose disk was full, and leaves other errors alone', () => {
    const free = { bytes: GIB };
    const { disk, changes } = watched(0, free);
    // SQLite's temporary files live elsewhere: a full disk there is no reason for the mode.
    expect(storageFull(disk.failed(sqliteFull())).detail).toMatch(/^a disk SQLite writes to is full \(not the data dir's, which has 1024 MiB free/);
    const ioError = new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_SHMSIZE');
    expect(disk.failed(ioError), 'an I/O error beside free room is a fault (500)').toBe(ioError);
    for (const other of [new QuiverError('SYNTAX_ERROR', 'x'), new Error('boom'), new Database.SqliteError('no such table: t', 'SQLITE_ERROR')]) {
      expect(disk.failed(other)).toBe(other);
    }
    expect(changes).toEqual([]);
    free.bytes = 0;
    expect(storageFull(disk.failed(ioError)).detail).toMatch(/^the data dir's disk is full/);
    expect(changes).toEqual([true]);
    disk.close();
  });
});

describe('an engine on a disk without room for twice its reserve', () => {
  let dataDir: string;
  let engine: Engine;
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});

  beforeEach(async () => {
    dataDir = tempDir();
    const setup = Engine.open({ dataDir });
    await setup.execute(`CREATE TABLE t (id INT PRIMARY KEY, v VECTOR(2), VECTOR INDEX vi(v));
      CREATE TABLE u (a INT); INSERT INTO u VALUES (1), (2);
      INSERT INTO t VALUES (1, '[1,0]'), (2, '[0,1]'), (3, '[1,1]')`);
    setup.close();
    warn.mockClear();
    // A petabyte reserve: no disk here has twice that free.
    engine = Engine.open({ dataDir, diskReserveBytes: 2 ** 50 });
  });

  afterEach(() => engine.close());
  afterAll(() => warn.mockRestore());

  const rows = async (sql: string) => (await engine.execute(sql)).results.at(-1)!.rows;

  test('starts in disk-full mode, says so, and writes no reserve', () => {
    expect(warn.mock.calls.map(([m]) => String(m)).join('\n')).toMatch(/the data dir's disk is full: it has .* free, less than the .* it takes to write the reserve/);
    expect(fs.existsSync(path.join(dataDir, RESERVE_FILE))).toBe(false);
  });

  test('reads, DELETE, DROP and TRUNCATE run; other writes are answered STORAGE_FULL and run not at all', async () => {
    expect(await rows("SELECT id FROM t ORDER BY VEC_DISTANCE(v, '[1,0.1]') LIMIT 1")).toEqual([[1]]);
    expect((await rows('SHOW INDEX STATUS'))[0].at(-1)).toBeNull();
    for (const sql of ["INSERT INTO t VALUES (4, '[2,2]')", 'UPDATE t SET v = NULL', 'CREATE TABLE w (a INT)', 'OPTIMIZE TABLE t', 'DELETE FROM u; INSERT INTO u VALUES (3)']) {
      storageFull(await engine.execute(sql).catch((e: unknown) => e));
    }
    expect(await rows('SELECT count(*) FROM t WHERE v IS NOT NULL')).toEqual([[3]]);
    expect(await rows('SELECT count(*) FROM u')).toEqual([[2]]);
    expect((await engine.execute('BEGIN; DELETE FROM t WHERE id = 1; COMMIT')).results[1].changes).toBe(1);
    expect(await rows("SELECT id FROM t ORDER BY VEC_DISTANCE(v, '[1,0.1]') LIMIT 1")).toEqual([[3]]);
    await engine.execute('TRUNCATE TABLE u');
    await engine.execute('DROP TABLE u');
    expect(await rows('SHOW TABLES')).toEqual([['t']]);
  });
});

test('OPTIMIZE TABLE answers the failure of a save it could not make, and SHOW INDEX STATUS shows it until a save succeeds', async () => {
  const dataDir = tempDir();
  const warnings: string[] = [];
  const engine = Engine.open({ dataDir, index: { builder: 'inline', warn: (m) => warnings.push(m) } });
  try {
    await engine.execute("CREATE TABLE t (id INT PRIMARY KEY, v VECTOR(2), VECTOR INDEX vi(v)); INSERT INTO t VALUES (1, '[1,0]'), (2, '[0,1]')");
    // Where the index's directory should go, a file: every save fails (not for room: a 500).
    const indexes = path.join(dataDir, 'indexes');
    fs.rmSync(indexes, { recursive: true, force: true });
    fs.writeFileSync(indexes, '');
    const saveError = async () => (await engine.execute('SHOW INDEX STATUS')).results[0].rows[0].at(-1);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const failed = await engine.execute('OPTIMIZE TABLE t').catch((e: unknown) => e);
      expect(isQuiverError(failed), String(failed)).toBe(false);
      expect(String(failed)).toMatch(/EEXIST|ENOTDIR/);
    }
    expect(await saveError()).toMatch(/^\d{4}-\d\d-\d\dT.*: .*(EEXIST|ENOTDIR)/);
    expect(warnings.filter((w) => w.includes('cannot save')), 'logged once per run of failures').toHaveLength(1);
    expect(warnings[0]).toMatch(/vector index vi: cannot save, it failed .*nothing is lost: the change log keeps its changes/);

    fs.rmSync(indexes);
    const { results } = await engine.execute('OPTIMIZE TABLE t');
    expect(results[0].rows[0][3]).toBe('1 vector index(es) flushed, merged and saved');
    expect(await saveError()).toBeNull();
    expect(warnings.at(-1)).toBe('vector index vi: saved again, after 2 failed attempt(s)');
    expect(fs.readdirSync(path.join(indexes, 'vi'))).toContain('manifest.json');
  } finally {
    engine.close();
  }
});
