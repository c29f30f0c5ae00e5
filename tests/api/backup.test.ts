/**
 * Online backup and restore (issue 6, "Crash safety and backup"): a backup taken over HTTP
 * while a writer keeps committing is the database as of one moment — every write acknowledged
 * before the backup began, whole requests only, exactly the state after some request — and a
 * data dir restored from it serves the same rows, with an index (built from the table, with no
 * warning) whose answers are those of exact search. The CLI does the same from a data dir and
 * from a URL, making `--out`'s directory when it is missing; restore refuses what it must; the
 * endpoint is admin-only and leaves no file. (The files' modes: file-modes.test.ts.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, loadConfig } from '../../src/api/index.ts';
import { authenticate } from '../../src/api/auth.ts';
import { problemResponse } from '../../src/api/problem.ts';
import { adminRoutes } from '../../src/api/routes/admin.ts';
import { Engine, RestoreError, restoreDatabase } from '../../src/sql/index.ts';
import { checkedApp, checkedFetch } from './contract/checked.ts';
import { killAllServers, runNodeScript, startServer, type ServerProcess } from './server-process.ts';
import { serverSql as sql } from './server-sql.ts';

const DIMS = 16;
/** Rows before the writer starts: with their padding, a file of some 1,400 pages (5.5 MiB), copied in ~14 steps. */
const PRELOAD = 4000;
const PAD = 'x'.repeat(1000);
const INSERTS_PER_WRITE = 5;
const SQLITE_HEADER = 'SQLite format 3\0';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-backup-test-'));
afterAll(async () => {
  await killAllServers();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

/** The vector of row `id` at `version`: distinct per row and version. */
function vectorOf(id: number, version: number): number[] {
  return Array.from({ length: DIMS }, (_, i) => Math.sin(id * (i + 1) * 0.31 + version * 1.7) + (i === id % DIMS ? 1 : 0));
}

interface Row {
  grp: number;
  version: number;
}

/**
 * The workload as a pure function of its step, so the state after any number of writes is
 * known: write i inserts five new rows, moves preloaded row i to a new vector and group, and
 * deletes preloaded row PRELOAD - i.
 */
function write(i: number): { sql: string; params: unknown[]; apply(model: Map<number, Row>): void } {
  const inserted = Array.from({ length: INSERTS_PER_WRITE }, (_, j) => PRELOAD + (i - 1) * INSERTS_PER_WRITE + j + 1);
  const updated = i;
  const deleted = PRELOAD - i;
  return {
    sql:
      `INSERT INTO docs (id, grp, pad, vec) VALUES ${inserted.map(() => '(?, ?, ?, ?)').join(', ')}; ` +
      'UPDATE docs SET vec = ?, grp = ? WHERE id = ?; DELETE FROM docs WHERE id = ?',
    params: [...inserted.flatMap((id) => [id, id % 7, PAD, vectorOf(id, 0)]), vectorOf(updated, i), (updated + i) % 7, updated, deleted],
    apply(model) {
      for (const id of inserted) model.set(id, { grp: id % 7, version: 0 });
      model.set(updated, { grp: (updated + i) % 7, version: i });
      model.delete(deleted);
    },
  };
}

function stateAfter(writes: number): Map<number, Row> {
  const model = new Map<number, Row>();
  for (let id = 1; id <= PRELOAD; id++) model.set(id, { grp: id % 7, version: 0 });
  for (let i = 1; i <= writes; i++) write(i).apply(model);
  return model;
}

/** The rows of a restored database as the model writes them: id -> grp and vector. */
type Snapshot = Map<number, { grp: number; vec: number[] }>;

function expectedSnapshot(writes: number): Snapshot {
  return new Map([...stateAfter(writes)].map(([id, r]) => [id, { grp: r.grp, vec: vectorOf(id, r.version) }]));
}

/** How many writes `rows` reflect, read from the highest inserted id; then the rows must be exactly that state. */
function expectStateOfSomeWrite(rows: Snapshot, range: [number, number]): number {
  const maxId = Math.max(...rows.keys());
  const writes = maxId <= PRELOAD ? 0 : Math.ceil((maxId - PRELOAD) / INSERTS_PER_WRITE);
  expect(writes).toBeGreaterThanOrEqual(range[0]);
  expect(writes).toBeLessThanOrEqual(range[1]);
  const expected = expectedSnapshot(writes);
  expect(rows.size).toBe(expected.size);
  for (const [id, row] of expected) {
    const got = rows.get(id);
    expect(got, `row ${id}`).toBeDefined();
    expect(got!.grp, `row ${id}`).toBe(row.grp);
    expect(got!.vec.every((x, i) => Math.abs(x - row.vec[i]) <= 1e-6 * Math.max(1, Math.abs(row.vec[i]))), `row ${id}'s vector`).toBe(true);
  }
  return writes;
}

async function snapshotOver(server: ServerProcess): Promise<Snapshot> {
  const [rows] = await sql(server, 'SELECT id, grp, vec FROM docs');
  return new Map(rows.map(([id, grp, vec]) => [id as number, { grp: grp as number, vec: vec as number[] }]));
}

/** Reads a backup or restored database file directly (SQLite can read what Quiver wrote). */
function snapshotOfFile(file: string): Snapshot {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT id, grp, vec FROM docs').all() as { id: number; grp: number; vec: Buffer }[];
    return new Map(rows.map((r) => [r.id, { grp: r.grp, vec: [...new Float32Array(r.vec.buffer, r.vec.byteOffset, r.vec.byteLength / 4)] }]));
  } finally {
    db.close();
  }
}

/** A server with PRELOAD rows in `docs`, and a writer that runs `write(1)`, `write(2)`, ... until stopped. */
async function serverUnderLoad(): Promise<{ server: ServerProcess; acknowledged: () => number; stop: () => Promise<number> }> {
  const server = await startServer({ dataDir: fs.mkdtempSync(path.join(tmpRoot, 'source-')), env: { QUIVER_INDEX_FLUSH_ROWS: '1000' }, timeoutMs: 30_000 });
  await sql(server, `CREATE TABLE docs (id INT PRIMARY KEY, grp INT NOT NULL, pad TEXT, vec VECTOR(${DIMS}) NOT NULL, VECTOR INDEX vi(vec) m=8 distance=euclidean)`);
  for (let start = 1; start <= PRELOAD; start += 500) {
    const ids = Array.from({ length: 500 }, (_, i) => start + i);
    await sql(server, `INSERT INTO docs (id, grp, pad, vec) VALUES ${ids.map(() => '(?, ?, ?, ?)').join(', ')}`, ids.flatMap((id) => [id, id % 7, PAD, vectorOf(id, 0)]));
  }
  let done = 0;
  let stopping = false;
  const writer = (async () => {
    while (!stopping) {
      const w = write(done + 1);
      await sql(server, w.sql, w.params);
      done++;
    }
  })();
  return {
    server,
    acknowledged: () => done,
    stop: async () => {
      stopping = true;
      await writer;
      return done;
    },
  };
}

describe('backup under a write load, restore into a new data dir', () => {
  it('each backup (HTTP, CLI from the URL, CLI from the data dir) is one moment of the database; a server restored from one has its rows and an index that agrees with exact search', async () => {
    const load = await serverUnderLoad();
    while (load.acknowledged() < 5) await new Promise((resolve) => setTimeout(resolve, 10));

    const before = load.acknowledged();
    const started = performance.now();
    const res = await checkedFetch(`${load.server.url}/v1/admin/backup`, { method: 'POST' });
    const tookMs = performance.now() - started;
    const after = load.acknowledged();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.sqlite3');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="quiver-\d{8}T\d{6}Z\.db"$/);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBe(Number(res.headers.get('content-length')));
    expect(bytes.subarray(0, 16).toString('latin1')).toBe(SQLITE_HEADER);
    expect(after - before, 'writes acknowledged while the backup request was served').toBeGreaterThan(0);
    const file = path.join(tmpRoot, 'http.db');
    fs.writeFileSync(file, bytes);

    const fromUrl = path.join(tmpRoot, 'cli-url.db');
    const byUrl = await runNodeScript('scripts/backup.ts', ['--url', load.server.url, '--out', fromUrl]);
    const afterUrl = load.acknowledged();
    expect(byUrl, byUrl.stderr).toMatchObject({ code: 0 });
    expect(byUrl.stdout).toMatch(/^backup: [\d.]+ MiB written to .*cli-url\.db/);

    const fromDir = path.join(tmpRoot, 'cli-dir.db');
    const beforeDir = load.acknowledged();
    const byDir = await runNodeScript('scripts/backup.ts', ['--data-dir', load.server.dataDir, '--out', fromDir]);
    const afterDir = load.acknowledged();
    expect(byDir, byDir.stderr).toMatchObject({ code: 0 });
    const total = await load.stop();
    await load.server.stop();

    // Every write acknowledged before a backup began is in it; at most the one in flight when it ended besides.
    const writes = expectStateOfSomeWrite(snapshotOfFile(file), [before, after + 1]);
    expectStateOfSomeWrite(snapshotOfFile(fromUrl), [after, afterUrl + 1]);
    expectStateOfSomeWrite(snapshotOfFile(fromDir), [beforeDir, afterDir + 1]);
    console.log(
      `backup: ${(bytes.length / 2 ** 20).toFixed(1)} MiB in ${tookMs.toFixed(0)} ms over HTTP while ${after - before} writes were acknowledged; ` +
        `it holds the first ${writes} of ${total} writes`,
    );

    const restoredDir = path.join(tmpRoot, 'restored-http');
    const restore = await runNodeScript('scripts/restore.ts', ['--from', file, '--data-dir', restoredDir]);
    expect(restore, restore.stderr).toMatchObject({ code: 0 });
    expect(restore.stdout).toMatch(/1 table\(s\) restored .*integrity check ok/);
    expect(fs.readdirSync(restoredDir)).toEqual(['quiver.db', 'quiver.lock']);
    const db = new Database(path.join(restoredDir, 'quiver.db'), { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM __quiver_changes').get(), 'the restored copy carries no change log').toEqual({ n: 0 });
    db.close();

    const restored = await startServer({ dataDir: restoredDir, env: { QUIVER_INDEX_FLUSH_ROWS: '1000' }, timeoutMs: 30_000 });
    expectStateOfSomeWrite(await snapshotOver(restored), [writes, writes]);
    const [[status]] = await sql(restored, 'SHOW INDEX STATUS FROM docs');
    expect(status[4]).toBe('ready');
    expect(status[5]).toBe(stateAfter(writes).size);
    for (let q = 0; q < 5; q++) {
      const query = vectorOf(100_000 + q, q);
      for (const where of ['', 'WHERE grp = 3', 'WHERE grp <> 3']) {
        const search = (hint: string) => `SELECT id, VEC_DISTANCE(vec, ?) AS d FROM docs ${hint} ${where} ORDER BY VEC_DISTANCE(vec, ?) LIMIT 10`;
        const [, [plan], viaIndex, exact] = await sql(
          restored,
          `SET vidx_hnsw_ef_search = 1000; EXPLAIN ${search('FORCE INDEX (vi)')}; ${search('FORCE INDEX (vi)')}; ${search('IGNORE INDEX (vi)')}`,
          Array(6).fill(query),
        );
        expect(String(plan[2])).toMatch(/: (ann|filtered-ann|postfilter) /);
        expect(viaIndex, `${where}`).toEqual(exact);
      }
    }
    // A restore is a clean start: the index is built from the table, with nothing to warn about.
    expect(restored.output().stderr).toBe('');
    await restored.stop();
  }, 120_000);
});

describe('Engine.backup', () => {
  it('lets writes commit between its steps, and the file is the state after one of them', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmpRoot, 'engine-'));
    const engine = Engine.open({ dataDir });
    try {
      await engine.execute(`CREATE TABLE docs (id INT PRIMARY KEY, grp INT NOT NULL, pad TEXT, vec VECTOR(${DIMS}) NOT NULL, VECTOR INDEX vi(vec) m=8 distance=euclidean)`);
      for (let start = 1; start <= PRELOAD; start += 500) {
        const ids = Array.from({ length: 500 }, (_, i) => start + i);
        await engine.execute(`INSERT INTO docs (id, grp, pad, vec) VALUES ${ids.map(() => '(?, ?, ?, ?)').join(', ')}`, ids.flatMap((id) => [id, id % 7, PAD, vectorOf(id, 0)]));
      }
      let done = 0;
      const file = path.join(tmpRoot, 'engine.db');
      const backup = engine.backup(file);
      let finished = false;
      void backup.finally(() => (finished = true));
      while (!finished) {
        const w = write(done + 1);
        await engine.execute(w.sql, w.params);
        done++;
        // As the next request would arrive from the network: on a later turn of the event loop.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const { pages, bytes } = await backup;
      expect(bytes).toBe(pages * 4096);
      // Commits on the engine's connection are carried into the copy as they happen: the file
      // is the state after every write that finished before its last step (all but at most the
      // one in flight then), though they all committed after the backup began.
      expect(done, 'writes committed while the backup ran').toBeGreaterThanOrEqual(2);
      const writes = expectStateOfSomeWrite(snapshotOfFile(file), [done - 1, done]);
      console.log(`Engine.backup: ${pages} pages while ${done} writes committed; the file holds ${writes} of them`);
    } finally {
      engine.close();
    }
  });
});

describe('restore refuses what it cannot use, and leaves nothing behind', () => {
  const dataDir = path.join(tmpRoot, 'small');
  let backup = '';

  it('a sound backup restores into an absent or empty dir, and never over a non-empty one', async () => {
    const engine = Engine.open({ dataDir });
    await engine.execute(`CREATE TABLE t (id INT PRIMARY KEY, v VECTOR(2), VECTOR INDEX vi(v))`);
    await engine.execute('INSERT INTO t VALUES (1, ?), (2, ?)', [[1, 0], [0, 1]]);
    backup = path.join(tmpRoot, 'small.db');
    expect(await engine.backup(backup)).toMatchObject({ pages: expect.any(Number), bytes: fs.statSync(backup).size });
    engine.close();

    const empty = fs.mkdtempSync(path.join(tmpRoot, 'empty-'));
    expect(restoreDatabase(backup, empty)).toMatchObject({ tables: 1, vectorIndexes: 1 });
    expect(() => restoreDatabase(backup, empty)).toThrow(/refusing to restore into .*: it is not empty \(it holds quiver\.db/);
    expect(fs.readdirSync(empty)).toEqual(['quiver.db', 'quiver.lock']);
    // The CLI says the same and exits 1.
    const cli = await runNodeScript('scripts/restore.ts', ['--from', backup, '--data-dir', empty]);
    expect(cli).toMatchObject({ code: 1, stderr: expect.stringMatching(/^restore: refusing to restore/) });
  }, 60_000);

  it.each([
    ['a file that is not SQLite', () => fs.writeFileSync(path.join(tmpRoot, 'bad.db'), 'not a database at all, just text'), /is not a usable SQLite database/],
    [
      'an SQLite file that is not Quiver\'s',
      () => {
        const db = new Database(path.join(tmpRoot, 'bad.db'));
        db.exec('CREATE TABLE a (x)');
        db.close();
      },
      /is an SQLite database but not a Quiver one: it lacks __quiver_migrations/,
    ],
    [
      'a damaged backup',
      () => {
        const bytes = fs.readFileSync(backup);
        // Page 2 onwards is b-tree pages; overwrite the middle of the file.
        bytes.fill(0xa5, 4096 + 100, bytes.length - 4096);
        fs.writeFileSync(path.join(tmpRoot, 'bad.db'), bytes);
      },
      /failed SQLite's integrity check|is not a usable SQLite database/,
    ],
    ['a live database with its write-ahead log', () => {}, /has a write-ahead log beside it/],
  ])('%s', (name, make, message) => {
    fs.rmSync(path.join(tmpRoot, 'bad.db'), { force: true });
    make();
    const from = name.startsWith('a live') ? livingDatabase() : path.join(tmpRoot, 'bad.db');
    const target = path.join(tmpRoot, `never-${name.replace(/\W+/g, '-')}`);
    expect(() => restoreDatabase(from, target)).toThrow(RestoreError);
    expect(() => restoreDatabase(from, target)).toThrow(message);
    expect(fs.existsSync(target)).toBe(false);
  });

  /** A Quiver database with an open connection, so its -wal holds commits. */
  function livingDatabase(): string {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'live-'));
    // Opening writes the catalog, and the open connection keeps it in the log.
    livingEngines.push(Engine.open({ dataDir: dir }));
    return path.join(dir, 'quiver.db');
  }
  const livingEngines: Engine[] = [];
  afterAll(() => livingEngines.forEach((e) => e.close()));
});

describe('the backup CLI\'s --out', () => {
  const dataDir = path.join(tmpRoot, 'cli-out-source');
  beforeAll(async () => {
    const engine = Engine.open({ dataDir });
    await engine.execute('CREATE TABLE t (id INT PRIMARY KEY)');
    engine.close();
  });

  it('gets its missing directories made, as `--out backups/quiver.db` on a first run needs', async () => {
    const out = path.join(tmpRoot, 'first-run', 'backups', 'quiver.db');
    const run = await runNodeScript('scripts/backup.ts', ['--data-dir', dataDir, '--out', out]);
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(fs.readFileSync(out).subarray(0, 16).toString('latin1')).toBe(SQLITE_HEADER);
  });

  it('says which directory it cannot make when a file is in the way, and touches nothing', async () => {
    const blocker = path.join(tmpRoot, 'a-file');
    fs.writeFileSync(blocker, 'x');
    for (const out of [path.join(blocker, 'quiver.db'), path.join(blocker, 'deeper', 'quiver.db')]) {
      const run = await runNodeScript('scripts/backup.ts', ['--data-dir', dataDir, '--out', out]);
      expect(run).toMatchObject({
        code: 1,
        stderr: `backup: cannot create the directory ${path.dirname(out)} for --out: it or one of its parents is a file; give --out a path in a directory you can write\n`,
      });
    }
    expect(fs.readFileSync(blocker, 'utf8')).toBe('x');
  });
});

/** Backup files this process holds open (Linux: /proc/self/fd links; elsewhere none are seen). */
function openBackupFiles(): string[] {
  if (!fs.existsSync('/proc/self/fd')) return [];
  return fs
    .readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => /quiver-backup-[0-9a-f]+\.db/.test(target));
}

/** Whether every backup file descriptor gets closed within a second or two. */
async function noBackupFileOpen(): Promise<boolean> {
  for (let waited = 0; openBackupFiles().length > 0 && waited < 2000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  return openBackupFiles().length === 0;
}

describe('POST /v1/admin/backup', () => {
  const KEYS = { admin: 'a'.repeat(40), read: 'r'.repeat(40) };

  it('needs an admin key when keys are configured: 401 without one, 403 for a read key, 200 for an admin key', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmpRoot, 'auth-'));
    const engine = Engine.open({ dataDir });
    try {
      const config = loadConfig({ QUIVER_DATA_DIR: dataDir, QUIVER_API_KEYS: `admin:${KEYS.admin},read:${KEYS.read}` });
      const app = checkedApp(createApp({ engine, config }));
      const post = (key?: string) => app.request('/v1/admin/backup', { method: 'POST', headers: key ? { authorization: `Bearer ${key}` } : {} });
      expect((await post()).status).toBe(401);
      const forbidden = await post(KEYS.read);
      expect(forbidden.status).toBe(403);
      expect(((await forbidden.json()) as { detail: string }).detail).toBe('POST /v1/admin/backup needs the admin role; this key has the read role');
      const ok = await post(KEYS.admin);
      expect(ok.status).toBe(200);
      expect(Buffer.from(await ok.arrayBuffer()).subarray(0, 16).toString('latin1')).toBe(SQLITE_HEADER);
      const wrongMethod = await app.request('/v1/admin/backup', { headers: { authorization: `Bearer ${KEYS.admin}` } });
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toBe('POST');
    } finally {
      engine.close();
    }
  });

  it('leaves no file behind, whether the download completes or is abandoned; 503 once the database is closed', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmpRoot, 'files-'));
    const tmpDir = fs.mkdtempSync(path.join(tmpRoot, 'tmp-'));
    const engine = Engine.open({ dataDir });
    await engine.execute('CREATE TABLE t (id INT PRIMARY KEY, body TEXT)');
    // About 1 MiB, so the stream is read in more than one chunk.
    for (let i = 0; i < 10; i++) await engine.execute(`INSERT INTO t (body) VALUES ${Array(100).fill('(?)').join(', ')}`, Array(100).fill('y'.repeat(1000)));
    const app = new Hono()
      .use(authenticate([]))
      .route('/', adminRoutes(engine, { tmpDir }))
      .onError((error) => problemResponse(error));
    const complete = await app.request('/v1/admin/backup', { method: 'POST' });
    expect(complete.status).toBe(200);
    expect(fs.readdirSync(tmpDir)).toEqual([]);
    expect((await complete.arrayBuffer()).byteLength).toBe(Number(complete.headers.get('content-length')));
    expect(await noBackupFileOpen()).toBe(true);

    const abandoned = await app.request('/v1/admin/backup', { method: 'POST' });
    const reader = abandoned.body!.getReader();
    await reader.read();
    expect(openBackupFiles(), 'the unlinked file is read through an open descriptor').toHaveLength(1);
    await reader.cancel();
    expect(fs.readdirSync(tmpDir)).toEqual([]);
    // Cancelling closes the descriptor, and with it the last trace of the file.
    expect(await noBackupFileOpen()).toBe(true);

    engine.close();
    const closed = await checkedApp(app).request('/v1/admin/backup', { method: 'POST' });
    expect(closed.status).toBe(503);
    expect(((await closed.json()) as { code: string }).code).toBe('DATABASE_CLOSED');
  });
});
