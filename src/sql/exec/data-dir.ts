/**
 * @module exec/data-dir
 * What a data dir holds (the database file, the lock), and one process per data dir. Two servers on one dir would each keep their own vector index
 * tails and write segment files over each other's, so a search through one misses rows written
 * through the other. The engine (and a restore) holds an exclusive lock on
 * `<dataDir>/quiver.lock` for as long as it has the dir open.
 *
 * The lock is SQLite's own file lock on that file (an exclusive transaction that stays open):
 * POSIX advisory locks, which the OS drops when the process ends however it ends, so a SIGKILL
 * leaves nothing stale behind, and which SQLite also enforces between connections of one
 * process. Beside it, `quiver.lock.owner` says who holds it, for the message a second process
 * gets; that file is only information, never the lock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { isDiskFullError } from '../../core/index.ts';
import { ensurePrivateFile } from '../../util/index.ts';

/** The SQLite database: users' tables, Quiver's catalog and the change log. */
export const DATABASE_FILE = 'quiver.db';
/** The file whose lock says which process has the dir open. */
export const LOCK_FILE = 'quiver.lock';
const OWNER_FILE = `${LOCK_FILE}.owner`;

/** Whether `name` is one of the lock's own files, which a dir that holds nothing else may have. */
export function isLockFile(name: string): boolean {
  return name === LOCK_FILE || name === OWNER_FILE;
}

/** Another process (or another engine in this one) holds the data dir. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: string | undefined,
  ) {
    super(
      `the data dir ${dataDir} is in use by another Quiver process${holder ? ` (${holder})` : ''}; ` +
        'stop it first, or give this one another data dir (QUIVER_DATA_DIR)',
    );
    this.name = 'DataDirLockedError';
  }
}

/** The exclusive hold of one data dir; release it when the dir is closed. */
export class DataDirLock {
  private constructor(
    private readonly dir: string,
    private db: Database.Database | null,
  ) {}

  /** Takes the lock of `dataDir` (which must exist), or throws DataDirLockedError at once. */
  static acquire(dataDir: string): DataDirLock {
    const dir = path.resolve(dataDir);
    const file = path.join(dir, LOCK_FILE);
    ensurePrivateFile(file);
    const db = new Database(file, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
    } catch (e) {
      db.close();
      if (isBusy(e)) throw new DataDirLockedError(dir, readOwner(dir));
      throw e;
    }
    const owner = `pid ${process.pid} on ${os.hostname()}, since ${new Date().toISOString()}`;
    try {
      fs.writeFileSync(path.join(dir, OWNER_FILE), `${owner}\n`, { mode: 0o600 });
    } catch (e) {
      // Only information: a full disk must not keep a server from starting and serving reads.
      if (!isDiskFullError(e)) {
        db.close();
        throw e;
      }
    }
    return new DataDirLock(dir, db);
  }

  /**
   * Lets the dir go; safe to call twice. The lock file stays: removing it could let two
   * processes lock two different files of the same name.
   */
  release(): void {
    if (!this.db) return;
    fs.rmSync(path.join(this.dir, OWNER_FILE), { force: true });
    this.db.close();
    this.db = null;
  }
}

function isBusy(e: unknown): boolean {
  return e instanceof Database.SqliteError && (e.code === 'SQLITE_BUSY' || e.code === 'SQLITE_LOCKED');
}

function readOwner(dir: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
