/**
 * One process per data dir (issue 20), with real server processes: a second server on a dir in
 * use refuses to start and names the holder; a SIGKILLed holder leaves no stale lock; a backup
 * of the dir goes on while the server runs; a restore refuses a dir in use. In-process, a second
 * engine on the same dir is refused the same way, and closing the first frees the dir.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, Engine, backupDataDir, restoreDatabase } from '../../src/sql/index.ts';
import { killAllServers, runServerToExit, startServer } from './server-process.ts';
import { serverSql as sql } from './server-sql.ts';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-lock-'));
afterAll(async () => {
  await killAllServers();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

const newDir = (name: string) => fs.mkdtempSync(path.join(tmpRoot, `${name}-`));

describe('in one process', () => {
  it('refuses a second engine on the same dir, with the holder named, until the first closes', () => {
    const dir = newDir('engines');
    const first = Engine.open({ dataDir: dir });
    let refused: unknown;
    try {
      Engine.open({ dataDir: dir });
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(DataDirLockedError);
    expect((refused as Error).message).toContain(path.resolve(dir));
    expect((refused as Error).message).toContain(`pid ${process.pid}`);
    first.close();
    const again = Engine.open({ dataDir: dir });
    again.close();
  });

  it('lets a failed open go of the dir', () => {
    const dir = newDir('failed');
    fs.writeFileSync(path.join(dir, 'quiver.db'), 'not a database, but long enough to have a header of its own');
    expect(() => Engine.open({ dataDir: dir })).toThrow(/not a database|file is not a database/i);
    fs.rmSync(path.join(dir, 'quiver.db'));
    Engine.open({ dataDir: dir }).close();
  });

  it('makes the lock file readable by its owner only', () => {
    const dir = newDir('mode');
    const engine = Engine.open({ dataDir: dir });
    try {
      expect(fs.statSync(path.join(dir, 'quiver.lock')).mode & 0o777).toBe(0o600);
    } finally {
      engine.close();
    }
  });
});

describe('with server processes', () => {
  it('a second server on a dir in use exits 1 naming the dir and the holder; the first keeps serving', async () => {
    const dir = newDir('servers');
    const first = await startServer({ dataDir: dir });
    await sql(first, 'CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)');
    const second = await runServerToExit({ PORT: '0', QUIVER_DATA_DIR: dir });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`the data dir ${path.resolve(dir)} is in use by another Quiver process`);
    expect(second.stderr).toContain(`pid ${first.child.pid}`);
    expect(second.stdout).not.toContain('listening');
    expect((await sql(first, 'SELECT count(*) FROM t'))[0]).toEqual([[1]]);
    expect(await first.stop()).toEqual({ code: 0, signal: null });
  });

  it('a SIGKILLed holder leaves no stale lock: the next server starts and has every row', async () => {
    const dir = newDir('killed');
    const first = await startServer({ dataDir: dir });
    await sql(first, 'CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3)');
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const next = await startServer({ dataDir: dir });
    expect((await sql(next, 'SELECT count(*) FROM t'))[0]).toEqual([[3]]);
    await next.stop();
  });

  it('a backup of the dir is taken while the server runs, and a restore refuses a dir in use', async () => {
    const dir = newDir('backup');
    const server = await startServer({ dataDir: dir });
    await sql(server, 'CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2)');
    const out = path.join(newDir('out'), 'quiver.db');
    await backupDataDir(dir, out);
    expect(() => restoreDatabase(out, dir)).toThrow(/not empty/);
    const restored = newDir('restored');
    restoreDatabase(out, restored);
    const copy = await startServer({ dataDir: restored });
    expect((await sql(copy, 'SELECT count(*) FROM t'))[0]).toEqual([[2]]);
    await copy.stop();
    await server.stop();
  });
});
