/**
 * @module exec/backup
 * Online backup and restore of a Quiver database. A backup is one SQLite file made with SQLite's
 * backup API (better-sqlite3's `db.backup`) from the connection that writes: it copies a batch of
 * pages per turn of the event loop, so requests go on between batches, and SQLite keeps the copy
 * consistent — a commit on the same connection is written into the copy too, and a batch never
 * runs while that connection is inside a write transaction (it answers SQLITE_BUSY and the batch
 * is tried again). The copy is the database as of its last batch: every request committed by
 * then, whole, and nothing after. A file is published under its final name only when complete,
 * and every file written here (a backup, its temporary, a restored database) is 0600 from the
 * moment it exists (src/util/private-files.ts).
 *
 * The vector indexes are not in the file. They are derived data (segment files under
 * `<dataDir>/indexes/`, plus the change log that says what they have not saved yet), so a restore
 * empties the change log and brings no segment files: the first start finds no saved index and
 * builds each from its table, as for a new index, with no warning. Restore checks the file
 * (SQLite's integrity_check, Quiver's catalog) before putting it in place, and refuses a data dir
 * that holds anything.
 *
 * Deliberately not done: the embedding config (`embedding.json`) and the embedding cache are
 * separate files, not part of a backup; copy the config beside the restored database yourself.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { copyToPrivateFile, ensurePrivateFile, makePrivateDir } from '../../util/index.ts';
import { DATABASE_FILE, DataDirLock, isLockFile } from './data-dir.ts';
import { registerVectorFunctions } from '../functions/index.ts';

/** Tables every Quiver database has: its migrations' ledger and the table catalog. */
const QUIVER_MARKERS = ['__quiver_migrations', '__quiver_tables', '__quiver_vector_indexes', '__quiver_changes'];
/** Pages copied per turn of the event loop: 100 pages (400 KiB) keep each turn to about a millisecond. */
export const DEFAULT_PAGES_PER_STEP = 100;
/** As pagesPerStep: the whole database in one turn (better-sqlite3 caps a step at 2^31 - 1 pages). */
export const ALL_PAGES = 0x7fffffff;
/** How long to wait before starting again when the first batch met an open write transaction. */
const BUSY_RETRY_MS = 20;

export interface BackupResult {
  /** Database pages in the backup. */
  pages: number;
  /** Size of the backup file. */
  bytes: number;
}

export interface BackupOptions {
  /** Pages copied per turn of the event loop; ALL_PAGES copies everything in one turn (one read snapshot). */
  pagesPerStep?: number;
}

/** A backup file or data dir that cannot be used; the message says what is wrong and what to do. */
export class RestoreError extends Error {
  override name = 'RestoreError';
}

/**
 * Copies `db` into `destFile` (replacing it) while other work on `db` goes on; resolves once
 * the file is complete and durable.
 *
 * @example
 * ```ts
 * const { pages, bytes } = await backupDatabase(db, '/backups/quiver-2024-05-01.db');
 * ```
 */
export async function backupDatabase(db: Database.Database, destFile: string, options: BackupOptions = {}): Promise<BackupResult> {
  const pagesPerStep = options.pagesPerStep ?? DEFAULT_PAGES_PER_STEP;
  const dest = path.resolve(destFile);
  const partial = `${dest}.partial-${randomBytes(6).toString('hex')}`;
  try {
    for (;;) {
      // Created 0600 first: SQLite would create it 0644, and the rename keeps the mode.
      ensurePrivateFile(partial);
      const progress = await db.backup(partial, { progress: () => pagesPerStep });
      // better-sqlite3 takes a first batch of 0 pages before any progress call; if the
      // connection was inside a write transaction then, it reports 0 pages: try again.
      if (progress.totalPages > 0) {
        syncFile(partial);
        fs.renameSync(partial, dest);
        syncFile(path.dirname(dest));
        return { pages: progress.totalPages, bytes: fs.statSync(dest).size };
      }
      await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
    }
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

/** Backs up the database of a data dir from a separate read-only connection (the CLI's path without a server). */
export async function backupDataDir(dataDir: string, destFile: string): Promise<BackupResult> {
  const file = path.join(dataDir, DATABASE_FILE);
  if (!fs.existsSync(file)) throw new RestoreError(`${dataDir} holds no ${DATABASE_FILE}; is it a Quiver data dir?`);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    checkQuiverCatalog(db, file);
    // One batch: a server writing to the same file from another connection would restart a
    // backup copied in batches at each commit; one read transaction is a snapshot that WAL
    // lets writers work beside.
    return await backupDatabase(db, destFile, { pagesPerStep: ALL_PAGES });
  } finally {
    db.close();
  }
}

export interface RestoreResult {
  /** The restored database file. */
  file: string;
  bytes: number;
  /** User tables in Quiver's catalog. */
  tables: number;
  /** Vector indexes the first start will build from their tables. */
  vectorIndexes: number;
}

/**
 * Makes `dataDir` (absent or empty) a data dir holding the database in backup `fromFile`. The
 * copy is checked before it takes the database's name; on any failure nothing is left behind.
 *
 * @example
 * ```ts
 * restoreDatabase('/backups/quiver-2024-05-01.db', '/srv/quiver-restored'); // then start a server on it
 * ```
 */
export function restoreDatabase(fromFile: string, dataDir: string): RestoreResult {
  const dir = path.resolve(dataDir);
  const existed = fs.existsSync(dir);
  if (existed) {
    if (!fs.statSync(dir).isDirectory()) throw new RestoreError(`${dir} exists and is not a directory`);
    const entries = fs.readdirSync(dir).filter((name) => !isLockFile(name));
    if (entries.length > 0) {
      throw new RestoreError(
        `refusing to restore into ${dir}: it is not empty (it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}); restore into a new or empty directory`,
      );
    }
  }
  if (!fs.existsSync(fromFile) || !fs.statSync(fromFile).isFile()) throw new RestoreError(`${fromFile} is not a file`);
  const wal = `${fromFile}-wal`;
  if (fs.existsSync(wal) && fs.statSync(wal).size > 0) {
    throw new RestoreError(
      `${fromFile} has a write-ahead log beside it (${path.basename(wal)}): it is a live database, not a backup, and a copy of it alone could lack commits. Take a backup with \`npm run backup\``,
    );
  }
  makePrivateDir(dir);
  // No server may start on the dir while it is being filled.
  const lock = DataDirLock.acquire(dir);
  const target = path.join(dir, DATABASE_FILE);
  const restoring = `${target}.restoring`;
  try {
    // The copy is checked, not `fromFile`: opening a file leaves -shm beside it, and the
    // check must see the very bytes that get put in place. The copy is 0600 whatever the
    // backup's mode, and so are the -wal and -shm files SQLite makes beside it.
    copyToPrivateFile(fromFile, restoring);
    const counts = prepareRestoredCopy(restoring, fromFile);
    syncFile(restoring);
    fs.renameSync(restoring, target);
    syncFile(dir);
    return { file: target, bytes: fs.statSync(target).size, ...counts };
  } catch (e) {
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${restoring}${suffix}`, { force: true });
    lock.release();
    if (!existed) fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    lock.release();
  }
}

/** Checks the copy at `file` (of backup `source`, for messages) and readies it to be a data dir's database. */
function prepareRestoredCopy(file: string, source: string): { tables: number; vectorIndexes: number } {
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch (e) {
    throw new RestoreError(`${source} cannot be opened as an SQLite database: ${messageOf(e)}`);
  }
  try {
    // integrity_check evaluates CHECK constraints, which call Quiver's vector functions.
    registerVectorFunctions(db);
    let problems: string[];
    try {
      problems = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    } catch (e) {
      throw new RestoreError(`${source} is not a usable SQLite database: ${messageOf(e)}`);
    }
    if (problems.length !== 1 || problems[0] !== 'ok') {
      const shown = problems.slice(0, 5).join('; ');
      throw new RestoreError(`${source} failed SQLite's integrity check: ${shown}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`);
    }
    checkQuiverCatalog(db, source);
    // No saved index comes with the file, so the log of what saved index files lack means
    // nothing: emptied, the first start builds each index from its table, as for a new one.
    db.exec('DELETE FROM __quiver_changes');
    db.pragma('journal_mode = WAL');
    const count = (table: string): number => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { tables: count('__quiver_tables'), vectorIndexes: count('__quiver_vector_indexes') };
  } finally {
    db.close(); // checkpoints, and removes the -wal and -shm files
  }
}

function checkQuiverCatalog(db: Database.Database, file: string): void {
  const present = new Set(
    (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE '\\_\\_quiver\\_%' ESCAPE '\\'").pluck().all() as string[]),
  );
  const missing = QUIVER_MARKERS.filter((t) => !present.has(t));
  if (missing.length > 0) {
    throw new RestoreError(`${file} is an SQLite database but not a Quiver one: it lacks ${missing.join(', ')}`);
  }
}

/** fsync a file or directory, so a rename that publishes it survives power loss. */
function syncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
