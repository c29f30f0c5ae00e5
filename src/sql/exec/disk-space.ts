/**
 * @module exec/disk-space
 * What Quiver does when the data dir's disk is full: answer 507 STORAGE_FULL, keep serving
 * reads, let deletes free space, and take writes again by itself once there is room.
 *
 * SQLite alone cannot get out of a full disk: in WAL mode a DELETE appends its pages to the
 * WAL, and the checkpoint that would let the WAL start over must first grow the database file
 * by the pages the WAL holds; with no byte free both fail, and every write fails until someone
 * frees space outside Quiver (measured on a tmpfs). So Quiver keeps a *reserve*, as databases
 * keep ballast: a file of `reserveBytes` random bytes (random, so a compressing file system
 * cannot shrink it) at `<dataDir>/quiver.reserve`. When a write fails for room and the data
 * dir has less than twice the reserve free, the engine enters *disk-full mode*:
 *
 * - the reserve is deleted, which gives the checkpoint and the next deletes their room;
 * - requests that can add data (INSERT, UPDATE, CREATE, ALTER, OPTIMIZE, VACUUM, ...) are
 *   refused with STORAGE_FULL before they run, so that room goes to what frees space: reads,
 *   DELETE, DROP and TRUNCATE run as usual (Elasticsearch's read-only-allow-delete block);
 * - vector index saves and embedding cache writes wait (the change log keeps what the index
 *   files lack; the cache keeps its vectors in memory);
 * - every second, under the writer's lock, the space deletes freed is given back to the file
 *   system — freed pages by `incremental_vacuum` (databases Quiver creates use SQLite's
 *   incremental auto-vacuum; one created before keeps its free pages for new rows) and the WAL
 *   by a TRUNCATE checkpoint — and once the data dir has twice the reserve free, the reserve
 *   is written again and the mode ends: writes run, saves resume.
 *
 * The reserve protects Quiver's own room only: another process filling the same volume takes
 * what the reserve gave back. Runs on the engine's thread.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { QuiverError, isDiskFullError } from '../../core/index.ts';
import type { A } from '../dialect/index.ts';

/** The reserve file in the data dir. */
export const RESERVE_FILE = 'quiver.reserve';
/** What the server keeps in reserve unless QUIVER_DISK_RESERVE_MB says otherwise. */
export const DEFAULT_DISK_RESERVE_BYTES = 64 * 1024 * 1024;
/** Sent as Retry-After with STORAGE_FULL: space comes back by someone's hand, not by waiting a moment. */
export const STORAGE_FULL_RETRY_AFTER_S = 5;
/** How often disk-full mode gives space back and looks whether there is room again. */
const CHECK_INTERVAL_MS = 1000;
/** Room that ends disk-full mode when there is no reserve (reserveBytes 0). */
const MIN_ROOM_BYTES = 1024 * 1024;
/** The reserve is written in chunks of this size, one random chunk repeated. */
const RESERVE_CHUNK_BYTES = 1024 * 1024;
/** Free pages given back per incremental_vacuum, and per check: each chunk's pages pass through the WAL. */
const VACUUM_CHUNK_BYTES = 4 * 1024 * 1024;
const VACUUM_BYTES_PER_CHECK = 64 * 1024 * 1024;
/** PRAGMA auto_vacuum's value for incremental auto-vacuum. */
const INCREMENTAL = 2;
/** The writer connection's busy timeout, restored after a checkpoint that must not wait. */
export const WRITER_BUSY_TIMEOUT_MS = 5000;

/** What a failed write means for its request, in STORAGE_FULL's detail. */
const WRITE_ROLLED_BACK = 'the statement could not be carried out, and its transaction was rolled back: nothing of it was written';

/** Statement kinds that run in disk-full mode: they read, or free space. Any other kind waits for room. */
const RUN_WHEN_FULL = new Set<A.Statement['kind']>(['select', 'show', 'explain', 'set', 'pragma', 'transaction', 'delete', 'drop', 'truncate']);

export interface DiskSpaceOptions {
  /** Bytes of the reserve file; 0 keeps none (disk-full mode still guards the last bytes). */
  reserveBytes: number;
  /** Told when disk-full mode starts (true) and ends (false). */
  onChange: (full: boolean) => void;
  /** Gives space back on the writer's connection, under its lock (giveBackSpace). */
  reclaim: () => Promise<void>;
  /** Where the mode's changes are logged; default console.warn. */
  log?: (message: string) => void;
  /** Bytes free to this process in the file system of `dir`; tests pass their own. */
  freeBytes?: (dir: string) => number;
}

/** The data dir's disk: its reserve, and whether it is in disk-full mode. */
export class DiskSpace {
  private isFull = false;
  private timer: NodeJS.Timeout | null = null;
  /** The check in progress, so ticks never overlap. */
  private checking: Promise<void> | null = null;
  private closed = false;
  private readonly reserveFile: string;
  private readonly log: (message: string) => void;
  private readonly measure: (dir: string) => number;

  constructor(
    private readonly dataDir: string,
    private readonly options: DiskSpaceOptions,
  ) {
    this.reserveFile = path.join(dataDir, RESERVE_FILE);
    this.log = options.log ?? ((m) => console.warn(`quiver: ${m}`));
    this.measure = options.freeBytes ?? statfsFree;
  }

  /**
   * Starts watching: keeps the reserve the options ask for (a stale or other-sized one is
   * replaced in the background), or starts in disk-full mode when the disk lacks room for it.
   */
  start(): void {
    fs.rmSync(`${this.reserveFile}.tmp`, { force: true });
    const size = fileSize(this.reserveFile);
    if (size === this.options.reserveBytes || (size === null && this.options.reserveBytes === 0)) return;
    if (size !== null) fs.rmSync(this.reserveFile, { force: true });
    const free = this.freeBytes();
    if (free < this.exitRoom) {
      this.enter(`it has ${mib(free)} free, less than the ${mib(this.exitRoom)} it takes to write the reserve and keep as much room`);
      return;
    }
    this.writeReserve().then(
      (written) => {
        if (!written) this.enter('the reserve could not be written');
      },
      (e: unknown) => this.log(`cannot write the reserve ${this.reserveFile}: ${describe(e)}`),
    );
  }

  /** Whether the engine is in disk-full mode. */
  get full(): boolean {
    return this.isFull;
  }

  /** Refuses a request (its statements' kinds) that could add data while the disk is full; nothing of it has run. */
  admit(kinds: readonly A.Statement['kind'][]): void {
    if (!this.isFull || kinds.every((kind) => RUN_WHEN_FULL.has(kind))) return;
    throw this.fullError(
      `until it has ${mib(this.exitRoom)} free again, only reads and DELETE, DROP and TRUNCATE run (they free space); nothing of this request was run`,
    );
  }

  /** The STORAGE_FULL error of the data dir's full disk, saying `what` it means for the request. */
  fullError(what: string, cause?: unknown): QuiverError {
    return new QuiverError(
      'STORAGE_FULL',
      `the data dir's disk is full: ${what}. Free space (DELETE rows, DROP or TRUNCATE tables, or grow the volume), then retry`,
      { retryAfterSeconds: STORAGE_FULL_RETRY_AFTER_S, cause },
    );
  }

  /**
   * After a write failed: a STORAGE_FULL error for `e` when a disk was full (entering disk-full
   * mode when it is the data dir's), saying `what` it means for the request, or `e` itself.
   * SQLite reports a full disk as SQLITE_FULL, but a WAL index that cannot grow as
   * SQLITE_IOERR_SHMSIZE, so an I/O error while the data dir is out of room counts as one too.
   */
  failed(e: unknown, what = WRITE_ROLLED_BACK): unknown {
    const code = (e as { code?: unknown } | null)?.code;
    const ioError = typeof code === 'string' && code.startsWith('SQLITE_IOERR');
    if (!isDiskFullError(e) && !ioError) return e;
    const free = this.freeBytes();
    // A full disk leaves nothing free once the failed write is undone (the WAL keeps the room
    // it took); an I/O error beside free room is a fault of the disk, not a full one.
    if (ioError && free >= MIN_ROOM_BYTES) return e;
    if (free >= this.exitRoom) {
      return new QuiverError(
        'STORAGE_FULL',
        `a disk SQLite writes to is full (not the data dir's, which has ${mib(free)} free: its temporary directory's?): ` +
          `${what}. Free space there, then retry`,
        { retryAfterSeconds: STORAGE_FULL_RETRY_AFTER_S, cause: e },
      );
    }
    this.enter(`a write failed for room (${describe(e)})`);
    return this.fullError(what, e);
  }

  /** Stops watching; the reserve file stays for the next start. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Room that ends disk-full mode: the reserve to write again, and as much again to write into. */
  private get exitRoom(): number {
    return Math.max(2 * this.options.reserveBytes, MIN_ROOM_BYTES);
  }

  private enter(why: string): void {
    if (this.isFull || this.closed) return;
    this.isFull = true;
    const hadReserve = fileSize(this.reserveFile) !== null;
    fs.rmSync(this.reserveFile, { force: true });
    this.log(
      `the data dir's disk is full: ${why}. ${hadReserve ? `Deleted the ${mib(this.options.reserveBytes)} reserve; until` : 'Until'} ` +
        `${mib(this.exitRoom)} are free, writes other than DELETE, DROP and TRUNCATE are answered 507 STORAGE_FULL, and ` +
        'vector index saves and embedding cache writes wait',
    );
    this.options.onChange(true);
    this.timer = setInterval(() => void this.check(), CHECK_INTERVAL_MS);
    this.timer.unref();
    void this.check();
  }

  /** Gives space back, and ends disk-full mode once there is room for the reserve and beyond. */
  private check(): Promise<void> {
    this.checking ??= (async () => {
      try {
        await this.options.reclaim();
        const free = this.freeBytes();
        if (!this.isFull || this.closed || free < this.exitRoom) return;
        if (!(await this.writeReserve())) return;
        this.isFull = false;
        if (this.timer) clearInterval(this.timer);
        this.timer = null;
        this.log(`the data dir's disk has room again (${mib(free)} free, reserve written): writes run, index saves resume`);
        this.options.onChange(false);
      } catch (e) {
        this.log(`disk-full mode: ${describe(e)}; trying again in ${CHECK_INTERVAL_MS / 1000} s`);
      } finally {
        this.checking = null;
      }
    })();
    return this.checking;
  }

  /** Writes the reserve under a temporary name, then renames it; false (and nothing left) when the disk lacks room. */
  private async writeReserve(): Promise<boolean> {
    const bytes = this.options.reserveBytes;
    if (bytes === 0) return true;
    const temp = `${this.reserveFile}.tmp`;
    const chunk = randomBytes(Math.min(bytes, RESERVE_CHUNK_BYTES));
    let handle: fsp.FileHandle | undefined;
    try {
      handle = await fsp.open(temp, 'w', 0o600);
      for (let written = 0; written < bytes; ) {
        const { bytesWritten } = await handle.write(chunk, 0, Math.min(chunk.length, bytes - written));
        written += bytesWritten;
      }
      // Some file systems allocate blocks only when the data goes to disk.
      await handle.sync();
      await handle.close();
      handle = undefined;
      await fsp.rename(temp, this.reserveFile);
      return true;
    } catch (e) {
      await handle?.close().catch(() => {});
      await fsp.rm(temp, { force: true });
      if (isDiskFullError(e)) return false;
      throw e;
    }
  }

  /** Bytes free in the data dir's file system; Infinity when that cannot be read (nothing is then taken for full). */
  private freeBytes(): number {
    try {
      return this.measure(this.dataDir);
    } catch {
      return Infinity;
    }
  }
}

/**
 * Gives the file system the space `db` holds but does not use: free pages (a database with
 * incremental auto-vacuum, a bounded amount per call, each chunk checkpointed so the WAL does
 * not grow), then the WAL, truncated by a checkpoint that does not wait for readers. Call on
 * the writer's connection, outside a transaction; stops quietly where the disk or a reader
 * stops it, to go on at the next call.
 */
export function giveBackSpace(db: Database.Database): void {
  db.pragma('busy_timeout = 0');
  try {
    if (db.pragma('auto_vacuum', { simple: true }) === INCREMENTAL) {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      const chunk = Math.max(1, Math.floor(VACUUM_CHUNK_BYTES / pageSize));
      for (let done = 0; done < VACUUM_BYTES_PER_CHECK; done += chunk * pageSize) {
        if ((db.pragma('freelist_count', { simple: true }) as number) === 0) break;
        db.pragma(`incremental_vacuum(${chunk})`);
        if (!checkpointed(db)) return;
      }
    }
    checkpointed(db);
  } catch (e) {
    if (!isDiskFullError(e)) throw e;
  } finally {
    db.pragma(`busy_timeout = ${WRITER_BUSY_TIMEOUT_MS}`);
  }
}

/** A TRUNCATE checkpoint: whether it completed (no reader held it back). */
function checkpointed(db: Database.Database): boolean {
  const [row] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
  return row.busy === 0;
}

function statfsFree(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

function fileSize(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch {
    return null;
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes >= 10 * 1024 * 1024 ? 0 : 1)} MiB`;
}

function describe(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
