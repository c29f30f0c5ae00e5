/**
 * @module exec/connection
 * How Quiver opens the database file, for the engine's connection and the writer's alike: WAL,
 * its durability setting, Quiver's SQL functions, and the catalog's tables brought up to date.
 */
import Database from 'better-sqlite3';
import { ensurePrivateFile } from '../../util/index.ts';
import { migrateCatalog } from '../catalog/index.ts';
import { registerVectorFunctions } from '../functions/index.ts';
import { registerFulltextFunctions } from '../index-sync/index.ts';
import { WRITER_BUSY_TIMEOUT_MS } from './disk-space.ts';

/**
 * Opens (creating if needed) `file`. `synchronous`: SQLite's setting in WAL mode — FULL, an
 * acknowledged COMMIT survives power loss; NORMAL, it survives a crash of Quiver only.
 */
export function openDatabase(file: string, synchronous: 'FULL' | 'NORMAL'): Database.Database {
  let db: Database.Database | undefined;
  try {
    // Created 0600 before SQLite opens it: its -wal and -shm files then take the same mode.
    ensurePrivateFile(file);
    db = new Database(file);
    // Takes effect in a new database only (before its first table): deletes' free pages can
    // then be given back to the file system when the disk is full (disk-space.ts).
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma(`busy_timeout = ${WRITER_BUSY_TIMEOUT_MS}`);
    // REPLACE's implicit deletes must fire the vector indexes' capture triggers.
    db.pragma('recursive_triggers = ON');
    registerVectorFunctions(db);
    registerFulltextFunctions(db);
    migrateCatalog(db);
    return db;
  } catch (e) {
    db?.close();
    throw e;
  }
}
