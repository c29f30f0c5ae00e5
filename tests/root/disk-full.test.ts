/**
 * The disk-full test (issue 20, item 6): the real server on a data dir that is a small tmpfs,
 * filled under a write load. It checks what src/sql/exec/disk-space.ts promises:
 * - writes are answered 200 or 507 STORAGE_FULL (with Retry-After), never 500;
 * - reads are answered 200 throughout;
 * - once the disk is full, a DELETE runs (in the room the reserve gave up) and the space it
 *   freed goes back to the file system;
 * - OPTIMIZE TABLE answers 507 when it cannot save what it merged, and 200 once it can;
 * - a server restarted while the disk is full starts, reads, and refuses writes;
 * - when space comes back (a filler file deleted), writes succeed again and the reserve is
 *   written again, with no restart;
 * - after a stop and a restart, the table holds exactly the acknowledged rows, the index
 *   loads its files without distrusting any, and its answers equal exact search.
 * It mounts a tmpfs, so it needs root: `npm run test:disk-full` (CI runs it as root), never
 * part of `npm test`. The phases' timings are printed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedFetch } from '../api/contract/checked.ts';
import { killAllServers, startServer, type ServerProcess } from '../api/server-process.ts';

const MIB = 1024 * 1024;
/** The tmpfs: room for the database, its WAL, the index files, the reserve and the fillers. */
const DISK_MIB = 96;
/**
 * The reserve: more than the WAL holds unsaved (about 4 MiB) plus a DELETE's pages; and twice
 * it, the room that ends disk-full mode, well above what giving it up and truncating the WAL
 * frees, so the mode lasts until the test frees space.
 */
const RESERVE_MIB = 16;
/** Room left for the write load to fill once the filler is written. */
const ROOM_MIB = 24;
/** Few dimensions, so HNSW at ef_search 1000 finds exactly the nearest rows and any difference from exact search is a lost row. */
const DIMS = 8;
const BODY_BYTES = 1500;
const WRITERS = 4;
const BATCH = 10;
const SERVER_ENV = {
  QUIVER_DISK_RESERVE_MB: String(RESERVE_MIB),
  // Small flushes, so segments are built and saved while the disk fills.
  QUIVER_INDEX_FLUSH_ROWS: '1000',
  QUIVER_INDEX_FLUSH_AGE_MS: '1000',
};
const NEEDS_ROOT =
  'tests/root/disk-full.test.ts needs root: it mounts a tmpfs as the data dir to fill it. Run `npm run test:disk-full` as root (CI does)';

let mountDir = '';
let mounted = false;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error(NEEDS_ROOT);
  mountDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-disk-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_MIB}m,mode=0700`, 'tmpfs', mountDir]);
  mounted = true;
});

afterAll(async () => {
  // The servers hold files on the tmpfs: they go first, or the unmount fails.
  await killAllServers();
  if (mounted) {
    try {
      execFileSync('umount', [mountDir]);
    } catch {
      execFileSync('umount', ['-l', mountDir]);
    }
  }
  if (mountDir) fs.rmSync(mountDir, { recursive: true, force: true });
});

function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Writes `file` until it holds `bytes` or the disk is full, whichever comes first. */
function fill(file: string, bytes: number): void {
  const chunk = Buffer.alloc(MIB, 7);
  const fd = fs.openSync(file, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      written += fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A vector that is a function of `id` alone, so the check after the restart needs no copy of it. */
function vectorOf(id: number): number[] {
  let a = (id * 2654435761) >>> 0;
  return Array.from({ length: DIMS }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  });
}

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { results?: { rows: unknown[][]; changes: number }[]; code?: string; detail?: string };
}

async function sql(server: ServerProcess, statement: string, params: unknown[] = []): Promise<Answer> {
  const res = await checkedFetch(`${server.url}/v1/sql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sql: statement, params }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Answer['body'] };
}

/** Runs `statement`, which must succeed; returns its last result's rows. */
async function query(server: ServerProcess, statement: string, params: unknown[] = []): Promise<unknown[][]> {
  const { status, body } = await sql(server, statement, params);
  expect(status, `${statement}: ${body.code} ${body.detail}\nserver log:\n${server.output().stderr.slice(-3000)}`).toBe(200);
  return body.results!.at(-1)!.rows;
}

function insertStatement(ids: number[]): [string, unknown[]] {
  return [
    `INSERT INTO docs (id, grp, body, vec) VALUES ${ids.map(() => '(?, ?, ?, ?)').join(', ')}`,
    ids.flatMap((id) => [id, id % 7, `${id}:${'x'.repeat(BODY_BYTES)}`, vectorOf(id)]),
  ];
}

/** Writers inserting batches of new rows, and a reader, each in a loop, keeping what was answered. */
class Load {
  /** Ids of rows whose INSERT was answered 200. */
  readonly acknowledged = new Set<number>();
  /** Status of every write and every read answered, by status. */
  readonly writes = new Map<number, number>();
  readonly reads = new Map<number, number>();
  /** Answers that break the contract (a write neither 200 nor a proper 507, a read not 200). */
  readonly wrong: string[] = [];
  lastWriteOkAt = 0;
  paused = false;
  private nextId = 1;
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(private readonly server: ServerProcess) {
    this.loops = [...Array.from({ length: WRITERS }, () => this.write()), this.read()];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async write(): Promise<void> {
    while (this.running) {
      if (this.paused) {
        await sleep(10);
        continue;
      }
      const ids = Array.from({ length: BATCH }, () => this.nextId++);
      const answer = await sql(this.server, ...insertStatement(ids));
      this.writes.set(answer.status, (this.writes.get(answer.status) ?? 0) + 1);
      if (answer.status === 200) {
        ids.forEach((id) => this.acknowledged.add(id));
        this.lastWriteOkAt = performance.now();
      } else if (answer.status === 507) {
        if (answer.body.code !== 'STORAGE_FULL' || answer.retryAfter === null) this.wrong.push(`write 507 ${JSON.stringify(answer)}`);
        await sleep(20);
      } else {
        this.wrong.push(`write ${answer.status} ${answer.body.code}: ${answer.body.detail}`);
      }
    }
  }

  private async read(): Promise<void> {
    for (let i = 0; this.running; i++) {
      const id = 1 + (i % Math.max(1, this.nextId - 1));
      const statement =
        i % 2 === 0 ? 'SELECT id, grp FROM docs WHERE id = ?' : 'SELECT id FROM docs ORDER BY VEC_DISTANCE(vec, ?) LIMIT 5';
      const answer = await sql(this.server, statement, [i % 2 === 0 ? id : vectorOf(id)]);
      this.reads.set(answer.status, (this.reads.get(answer.status) ?? 0) + 1);
      if (answer.status !== 200) this.wrong.push(`read ${answer.status} ${answer.body.code}: ${answer.body.detail}`);
    }
  }
}

/** Polls `condition` every 50 ms; fails after `ms`. Returns the time it took. */
async function within(ms: number, what: string, condition: () => boolean | Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await condition())) {
    expect(performance.now() - started, `${what} within ${ms} ms`).toBeLessThan(ms);
    await sleep(50);
  }
  return performance.now() - started;
}

describe('a data dir on a full disk', () => {
  it('answers 507 STORAGE_FULL, keeps reading, deletes, recovers by itself and loses nothing', async () => {
    const timings: Record<string, string> = {};
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const dataDir = path.join(mountDir, 'data');
    const servers: ServerProcess[] = [];
    const start = async () => {
      const started = await startServer({ dataDir, env: SERVER_ENV, timeoutMs: 30_000 });
      servers.push(started);
      return started;
    };
    let server = await start();
    const reserveFile = path.join(dataDir, 'quiver.reserve');
    await within(10_000, 'the reserve written at start', () => fs.existsSync(reserveFile));
    expect(fs.statSync(reserveFile).size).toBe(RESERVE_MIB * MIB);
    await query(server, `CREATE TABLE docs (id INT PRIMARY KEY, grp INT NOT NULL, body TEXT NOT NULL, vec VECTOR(${DIMS}) NOT NULL, VECTOR INDEX vi(vec) m=16 distance=euclidean)`);

    // Fill: a filler file takes all but ROOM_MIB, and the write load the rest.
    const filler = path.join(mountDir, 'filler');
    fill(filler, freeBytes(mountDir) - ROOM_MIB * MIB);
    const load = new Load(server);
    let started = performance.now();
    await within(120_000, 'writes answered 507 STORAGE_FULL', () => (load.writes.get(507) ?? 0) >= 20);
    timings.fill = seconds(performance.now() - started);
    load.paused = true;
    await sleep(300); // the writes in flight come back

    // Full: reads go on, writes (and OPTIMIZE) are refused before they run.
    started = performance.now();
    for (let i = 0; i < 40; i++) await query(server, 'SELECT count(*), max(id) FROM docs WHERE grp = ?', [i % 7]);
    timings['40 reads while full'] = seconds(performance.now() - started);
    const refused = await sql(server, ...insertStatement([10_000_000]));
    expect(refused.status).toBe(507);
    expect(refused.body.detail).toMatch(/only reads and DELETE, DROP and TRUNCATE run/);
    expect((await sql(server, 'OPTIMIZE TABLE docs')).status).toBe(507);
    expect(fs.existsSync(reserveFile), 'the reserve is given up').toBe(false);
    expect(server.output().stderr).toMatch(/the data dir's disk is full/);

    // A DELETE runs, and what it freed goes back to the file system.
    const ids = [...load.acknowledged].sort((a, b) => a - b);
    const cut = ids[Math.floor(ids.length * 0.15)];
    const room = () => freeBytes(mountDir) + (fs.existsSync(reserveFile) ? fs.statSync(reserveFile).size : 0);
    await sleep(1500); // the mode's checks have truncated the WAL: what room grows by next is the DELETE's
    const roomBefore = room();
    const deleted = await sql(server, 'DELETE FROM docs WHERE id < ?', [cut]);
    expect(deleted.status, `DELETE while full: ${deleted.body.code} ${deleted.body.detail}`).toBe(200);
    const deletedRows = deleted.body.results![0].changes;
    expect(deletedRows).toBe(ids.filter((id) => id < cut).length);
    for (const id of ids) if (id < cut) load.acknowledged.delete(id);
    const given = await within(10_000, 'the deleted rows\' space given back', () => room() - roomBefore >= (deletedRows * BODY_BYTES) / 2);
    timings[`${deletedRows} rows deleted, space given back`] = seconds(given);
    expect(await query(server, 'SELECT count(*) FROM docs WHERE id < ?', [cut])).toEqual([[0]]);

    // Space comes back: writes succeed again with no restart, and the reserve is written again.
    load.paused = false;
    await sleep(1000);
    fs.rmSync(filler);
    const freedAt = performance.now();
    timings['writes back after the filler is deleted'] = seconds(await within(15_000, 'a write answered 200', () => load.lastWriteOkAt > freedAt));
    await within(15_000, 'the reserve written again', () => fs.existsSync(reserveFile) && fs.statSync(reserveFile).size === RESERVE_MIB * MIB);
    const okBefore = load.writes.get(200) ?? 0;
    await within(15_000, 'more writes', () => (load.writes.get(200) ?? 0) >= okBefore + 20);
    await load.stop();
    expect(load.wrong, 'answers outside the contract').toEqual([]);
    expect(load.reads.get(200) ?? 0).toBeGreaterThan(0);
    timings.writes = JSON.stringify(Object.fromEntries(load.writes));
    timings.reads = JSON.stringify(Object.fromEntries(load.reads));

    // OPTIMIZE that cannot save what it merged says so, then succeeds once it can. It runs once
    // the index is quiet (flushed, merged, saved by the next interval), right after a DELETE:
    // deleted rows make it rewrite every segment into one, a file of megabytes.
    const last = Math.max(...load.acknowledged);
    const extra = Array.from({ length: 50 }, (_, i) => last + 1 + i);
    await query(server, ...insertStatement(extra));
    extra.forEach((id) => load.acknowledged.add(id));
    await within(10_000, 'the index flushed', async () => {
      const [status] = await query(server, 'SHOW INDEX STATUS FROM docs');
      return status[10] === 0 && status[12] === null;
    });
    await sleep(6000);
    const gone = [...load.acknowledged].slice(0, 5);
    await query(server, `DELETE FROM docs WHERE id IN (${gone.join(', ')})`);
    gone.forEach((id) => load.acknowledged.delete(id));
    const filler2 = path.join(mountDir, 'filler2');
    fill(filler2, freeBytes(mountDir) - 256 * 1024);
    const optimize = await sql(server, 'OPTIMIZE TABLE docs');
    expect(optimize.status, `OPTIMIZE on a full disk: ${optimize.body.detail}`).toBe(507);
    expect(optimize.body.code).toBe('STORAGE_FULL');
    if (/only reads/.test(optimize.body.detail!)) {
      // The save interval came first, failed for room and started disk-full mode: refused up front.
      expect(server.output().stderr).toMatch(/vector index vi: cannot save, the data dir's disk is full/);
    } else {
      expect(optimize.body.detail).toMatch(/^the data dir's disk is full: OPTIMIZE TABLE docs flushed and merged its vector indexes but could not save them/);
    }
    expect(await query(server, 'SELECT count(*) FROM docs')).toEqual([[load.acknowledged.size]]);

    // A restart while the disk is full: the server starts, in disk-full mode, and reads.
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    started = performance.now();
    server = await start();
    timings['restart on the full disk'] = seconds(performance.now() - started);
    expect(await query(server, 'SELECT count(*) FROM docs')).toEqual([[load.acknowledged.size]]);
    const refusedAfterRestart = await sql(server, ...insertStatement([10_000_001]));
    expect(refusedAfterRestart.status).toBe(507);
    expect(refusedAfterRestart.body.detail).toMatch(/only reads and DELETE, DROP and TRUNCATE run/);
    fs.rmSync(filler2);
    await within(15_000, 'OPTIMIZE once there is room', async () => (await sql(server, 'OPTIMIZE TABLE docs')).status === 200);
    await within(15_000, 'no save error left', async () => (await query(server, 'SHOW INDEX STATUS FROM docs'))[0][15] === null);

    // Nothing acknowledged is lost, nothing refused is there, and the index agrees with exact search.
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    server = await start();
    await within(20_000, 'the index loaded', async () => (await query(server, 'SHOW INDEX STATUS FROM docs'))[0][4] === 'ready');
    const held = (await query(server, 'SELECT id FROM docs ORDER BY id')).map(([id]) => id as number);
    expect(held).toEqual([...load.acknowledged].sort((a, b) => a - b));
    expect((await query(server, 'SHOW INDEX STATUS FROM docs'))[0][5], 'rows in the index').toBe(held.length);
    for (const id of held.filter((_, i) => i % 50 === 0)) {
      expect(await query(server, 'SELECT id FROM docs FORCE INDEX (vi) ORDER BY VEC_DISTANCE(vec, ?) LIMIT 1', [vectorOf(id)]), `row ${id} found by the index`).toEqual([[id]]);
    }
    for (let q = 0; q < 10; q++) {
      const search = (hint: string) => `SELECT id FROM docs ${hint} ORDER BY VEC_DISTANCE(vec, ?) LIMIT 10`;
      const v = vectorOf(1_000_000 + q);
      const answer = await sql(server, `SET vidx_hnsw_ef_search = 1000; ${search('FORCE INDEX (vi)')}; ${search('IGNORE INDEX (vi)')}`, [v, v]);
      expect(answer.status, `${answer.body.code}: ${answer.body.detail}`).toBe(200);
      const [, viaIndex, exact] = answer.body.results!;
      expect(viaIndex.rows, `query ${q}: the index differs from exact search`).toEqual(exact.rows);
    }
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    // Saves that failed for room left no partial file behind.
    expect(fs.readdirSync(path.join(dataDir, 'indexes', 'vi')).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    for (const s of servers) {
      expect(s.output().stderr, 'a 500 was logged').not.toMatch(/internal error/);
      expect(s.output().stderr, 'an index distrusted its saved files').not.toMatch(/rebuilding/);
    }
    timings['index saves that failed (per server)'] = servers.map((s) => s.output().stderr.match(/cannot save/g)?.length ?? 0).join(', ');
    console.log(`disk-full test (${DISK_MIB} MiB tmpfs, ${RESERVE_MIB} MiB reserve, ${held.length} rows kept): ${JSON.stringify(timings)}`);
  });
});
