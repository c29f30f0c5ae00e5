/**
 * Files that hold data are readable by their owner only (issue 20): 0600, in directories 0700
 * where Quiver makes them. A real server and the real CLI scripts run under umask 0000, which
 * would let anyone read anything, so every mode seen here is the code's own doing. Checked:
 * every file under a data dir the server created, while it runs (the database with its -wal
 * and -shm, the lock, the embedding cache, a vector index's manifest and segment flushed by
 * OPTIMIZE TABLE) and after a clean stop (the index's tail file); the server's temporary file
 * behind `POST /v1/admin/backup`, seen through /proc while it streams; the backups the CLI
 * writes from the URL and from the data dir, into directories it creates; and a data dir
 * restored from a backup that anyone could read.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killAllServers, runNodeScript, startServer, type ServerProcess } from './server-process.ts';
import { serverSql as sql } from './server-sql.ts';

/** A umask that takes no bit away: what a file gets under it is what the code asked for. */
const UMASK_ALLOWING_ALL = 0o000;
/** The database holds this much padding, more than loopback sockets buffer, so a backup download not read stays open on the server. */
const PAD_BYTES = 16 << 20;
const PAD_ROW_BYTES = 1 << 20;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-file-modes-'));
afterAll(async () => {
  await killAllServers();
  fs.rmSync(root, { recursive: true, force: true });
});

/** `dir` and everything under it, as paths relative to `dir` ('.' for itself), with their permission bits. */
function modesUnder(dir: string): Map<string, { mode: number; isDir: boolean }> {
  const found = new Map<string, { mode: number; isDir: boolean }>();
  const walk = (relative: string): void => {
    const stat = fs.statSync(path.join(dir, relative));
    found.set(relative, { mode: stat.mode & 0o777, isDir: stat.isDirectory() });
    if (stat.isDirectory()) for (const name of fs.readdirSync(path.join(dir, relative))) walk(path.join(relative, name));
  };
  walk('.');
  return found;
}

/** The entries under `dir` that are not 0600 files or 0700 directories, as `path 0644`; expected empty. */
function notPrivate(entries: Map<string, { mode: number; isDir: boolean }>): string[] {
  return [...entries]
    .filter(([, e]) => e.mode !== (e.isDir ? 0o700 : 0o600))
    .map(([name, e]) => `${name}${e.isDir ? '/' : ''} ${e.mode.toString(8).padStart(4, '0')}`);
}

/** Modes of the files process `pid` has open whose path matches `pattern`; Linux /proc, so unlinked files are seen too. */
function openFileModes(pid: number, pattern: RegExp): { target: string; mode: number }[] {
  return fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      return pattern.test(target) ? [{ target, mode: fs.statSync(`/proc/${pid}/fd/${fd}`).mode & 0o777 }] : [];
    } catch {
      return []; // closed since the listing
    }
  });
}

async function waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  for (const start = Date.now(); !done(); ) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('files that hold data, under umask 0000', () => {
  // Neither directory exists: the server makes both.
  const madeByQuiver = path.join(root, 'made-by-quiver');
  const dataDir = path.join(madeByQuiver, 'data');
  let server: ServerProcess;

  it('every file the server writes under its data dir is 0600, every directory 0700', async () => {
    server = await startServer({ dataDir, umask: UMASK_ALLOWING_ALL, timeoutMs: 30_000 });
    await sql(
      server,
      `CREATE TABLE docs (id INT PRIMARY KEY, body TEXT,
         vec VECTOR(100) AS (EMBEDDING(body, 'quiver-local-100d')) STORED, VECTOR INDEX vi(vec) m=8 distance=cosine)`,
    );
    const ids = Array.from({ length: 40 }, (_, i) => i + 1);
    await sql(server, `INSERT INTO docs (id, body) VALUES ${ids.map(() => '(?, ?)').join(', ')}`, ids.flatMap((id) => [id, `passage number ${id} about topic ${id % 5}`]));
    expect(await sql(server, 'OPTIMIZE TABLE docs')).toEqual([[['docs', 'optimize', 'status', '1 vector index(es) flushed, merged and saved']]]);
    await sql(server, 'CREATE TABLE pad (id INT PRIMARY KEY, body TEXT)');
    for (let id = 1; id <= PAD_BYTES / PAD_ROW_BYTES; id++) await sql(server, 'INSERT INTO pad VALUES (?, ?)', [id, 'p'.repeat(PAD_ROW_BYTES)]);
    // A flushed segment is saved by the registry's next periodic save.
    await waitFor('the index save', () => [...modesUnder(dataDir).keys()].some((name) => /^indexes\/[^/]+\/manifest\.json$/.test(name)), 20_000);

    const running = modesUnder(dataDir);
    const names = [...running.keys()];
    expect(names).toEqual(expect.arrayContaining(['quiver.db', 'quiver.db-wal', 'quiver.db-shm', 'quiver.lock', 'embedding-cache.db', 'embedding-cache.db-wal', 'embedding-cache.db-shm']));
    expect(names.filter((name) => /^indexes\/[^/]+\/(manifest\.json|segment-\d+\.qvs)$/.test(name))).toHaveLength(2);
    expect(notPrivate(running)).toEqual([]);
    expect(fs.statSync(madeByQuiver).mode & 0o777, 'the data dir\'s parent, made with it').toBe(0o700);
  }, 120_000);

  it('the temporary file of POST /v1/admin/backup is 0600 while the server streams it', async () => {
    const res = await fetch(`${server.url}/v1/admin/backup`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(PAD_BYTES);
    // Nothing read yet: the server still holds the (unlinked) file open.
    const open = openFileModes(server.child.pid!, /quiver-backup-[0-9a-f]+\.db/);
    await res.body!.cancel();
    expect(open).toEqual([{ target: expect.stringMatching(/\(deleted\)$/), mode: 0o600 }]);
  });

  it('the backup CLI makes the missing directories of --out 0700, and the backup 0600, from the URL and from the data dir', async () => {
    const byUrl = path.join(root, 'backups-url', 'nested', 'quiver.db');
    const fromUrl = await runNodeScript('scripts/backup.ts', ['--url', server.url, '--out', byUrl], { umask: UMASK_ALLOWING_ALL });
    expect(fromUrl.code, fromUrl.stderr).toBe(0);
    const byDir = path.join(root, 'backups-dir', 'quiver.db');
    const fromDir = await runNodeScript('scripts/backup.ts', ['--data-dir', dataDir, '--out', byDir], { umask: UMASK_ALLOWING_ALL });
    expect(fromDir.code, fromDir.stderr).toBe(0);
    for (const top of ['backups-url', 'backups-dir']) {
      const made = modesUnder(path.join(root, top));
      // The file alone: no temporary file is left beside it.
      expect([...made].filter(([, e]) => !e.isDir).map(([name]) => path.basename(name))).toEqual(['quiver.db']);
      expect(notPrivate(made)).toEqual([]);
    }
  }, 60_000);

  it('a restore of a backup anyone can read makes a data dir that only its owner can', async () => {
    const backup = path.join(root, 'backups-url', 'nested', 'quiver.db');
    // As `curl -o` under the usual umask 0022 would leave it.
    fs.chmodSync(backup, 0o644);
    const restoredParent = path.join(root, 'restored');
    const restore = await runNodeScript('scripts/restore.ts', ['--from', backup, '--data-dir', path.join(restoredParent, 'data')], { umask: UMASK_ALLOWING_ALL });
    expect(restore.code, restore.stderr).toBe(0);
    const restored = modesUnder(restoredParent);
    expect([...restored.keys()]).toEqual(expect.arrayContaining(['data/quiver.db']));
    expect(notPrivate(restored)).toEqual([]);
  }, 60_000);

  it('after a clean stop, the saved index with its tail is 0600 too', async () => {
    await sql(server, 'INSERT INTO docs (id, body) VALUES (100, ?)', ['a row left in the tail']);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    const stopped = modesUnder(dataDir);
    expect([...stopped.keys()].some((name) => /^indexes\/[^/]+\/tail-\d+\.qvs$/.test(name)), [...stopped.keys()].join(', ')).toBe(true);
    expect(notPrivate(stopped)).toEqual([]);
  }, 60_000);
});
