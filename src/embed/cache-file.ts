/**
 * @module cache-file
 * The embedding cache's SQLite file (`<dataDir>/embedding-cache.db`): its schema, and the one
 * way rows get in and out, shared by the thread that owns the cache (lookups, and the writes of
 * a clean close) and its writer thread (cache-worker.ts: every other write). A file of another
 * schema version is emptied rather than migrated: it is a cache.
 *
 * Rows are keyed by sha256 of (model identity, dims, text). The file is bounded in entries and
 * in bytes (vector bytes plus a fixed per-row overhead; an estimate, not the file's size); past
 * a bound the least recently used rows are deleted, in batches, down to LOW_WATER of it, so one
 * write does not pay for eviction every time. WAL with synchronous=NORMAL: a power cut may lose
 * the last writes, never corrupt the file, and writing never waits on or holds the main
 * database's write lock.
 */
import { hash } from 'node:crypto';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { encodeVector } from '../core/index.ts';
import { ensurePrivateFile, makePrivateDir } from '../util/index.ts';

export const CACHE_FILE = 'embedding-cache.db';
const SCHEMA_VERSION = 1;

/** Eviction stops at this fraction of a bound. */
const LOW_WATER = 0.9;
/** Rows deleted per statement while evicting. */
const EVICT_BATCH = 1000;
/** Key, row header and index entry, roughly: what a row costs beyond its vector and model name. */
const ROW_OVERHEAD_BYTES = 96;
/** A SQLITE_BUSY means the other thread (or another process) is writing; wait this long at most. */
const BUSY_TIMEOUT_MS = 2000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** One vector to store, with its row key and the time it was put. */
export interface RowWrite {
  key: Uint8Array;
  model: string;
  dims: number;
  vector: Float32Array;
  at: number;
}

/** A last-used time to raise (never lowered). */
export interface RowTouch {
  key: Uint8Array;
  at: number;
}

export interface FileBounds {
  maxEntries: number;
  maxBytes: number;
}

export interface FileRow {
  key: Buffer;
  vector: Buffer;
  last_used: number;
}

/** The row key of a text: sha256 over the model identity, dims and text, NUL-separated (identities hold no NUL). */
export function rowKey(model: string, dims: number, text: string): Buffer {
  return hash('sha256', `${model}\u0000${dims}\u0000${text}`, 'buffer');
}

/** Opens (creating if needed, emptying if of another version) the cache file at `path`, or ':memory:'. */
export function openCacheFile(path: string): Database.Database {
  if (path !== ':memory:') {
    makePrivateDir(dirname(path));
    // 0600 before SQLite opens it, as its -wal and -shm will be: it holds users' texts' vectors.
    ensurePrivateFile(path);
  }
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  db.exec(`
    BEGIN IMMEDIATE;
    DROP TABLE IF EXISTS entries;
    DROP TABLE IF EXISTS stats;
    CREATE TABLE entries (
      id INTEGER PRIMARY KEY,
      key BLOB NOT NULL UNIQUE,      -- sha256(model identity, dims, text)
      model TEXT NOT NULL,           -- the model identity, for people reading the file
      dims INTEGER NOT NULL,
      vector BLOB NOT NULL,          -- float32 little-endian, as in the main database
      last_used INTEGER NOT NULL     -- ms since the epoch, refreshed at most every touchAfterMs
    );
    CREATE INDEX entries_last_used ON entries (last_used, id);
    CREATE TABLE stats (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO stats VALUES ('entries', 0), ('bytes', 0);
    PRAGMA user_version = ${SCHEMA_VERSION};
    COMMIT;
  `);
}

/** Reads and writes rows of one connection to the cache file. */
export class CacheFile {
  /** By number of keys. */
  private readonly selects: Database.Statement<Buffer[], FileRow>[] = [];
  private readonly insert: Database.Statement<[Uint8Array, string, number, Uint8Array, number]>;
  private readonly touch: Database.Statement<[number, Uint8Array]>;
  private readonly readStat: Database.Statement<[string], { value: number }>;
  private readonly addStat: Database.Statement<[number, string]>;
  private readonly evictOldest: Database.Statement<[number], { key: Buffer; bytes: number }>;

  constructor(
    readonly db: Database.Database,
    private readonly bounds: FileBounds,
  ) {
    this.insert = db.prepare('INSERT OR IGNORE INTO entries (key, model, dims, vector, last_used) VALUES (?, ?, ?, ?, ?)');
    this.touch = db.prepare('UPDATE entries SET last_used = max(last_used, ?) WHERE key = ?');
    this.readStat = db.prepare('SELECT value FROM stats WHERE name = ?');
    this.addStat = db.prepare('UPDATE stats SET value = value + ? WHERE name = ?');
    this.evictOldest = db.prepare(
      `DELETE FROM entries WHERE id IN (SELECT id FROM entries ORDER BY last_used, id LIMIT ?)
       RETURNING key, length(vector) + length(model) + ${ROW_OVERHEAD_BYTES} AS bytes`,
    );
  }

  /** The rows of `keys` that exist, in no particular order; one statement for all of them. */
  select(keys: readonly Buffer[]): FileRow[] {
    let statement = this.selects[keys.length];
    if (!statement) {
      statement = this.db.prepare(`SELECT key, vector, last_used FROM entries WHERE key IN (${new Array(keys.length).fill('?').join(', ')})`);
      this.selects[keys.length] = statement;
    }
    return statement.all(...keys);
  }

  /**
   * Stores `writes` (a row already there only has its last use raised) and raises `touches`,
   * in one transaction, then evicts while over a bound. Returns the evicted rows' keys (hex).
   * Idempotent: writing the same rows twice leaves the file and its counts as writing them once.
   */
  write(writes: readonly RowWrite[], touches: readonly RowTouch[]): string[] {
    let evicted: string[] = [];
    this.db.transaction(() => {
      let entries = 0;
      let bytes = 0;
      for (const w of writes) {
        if (this.insert.run(w.key, w.model, w.dims, vectorBytes(w.vector), w.at).changes > 0) {
          entries++;
          bytes += w.dims * 4 + Buffer.byteLength(w.model) + ROW_OVERHEAD_BYTES;
        } else this.touch.run(w.at, w.key);
      }
      for (const t of touches) this.touch.run(t.at, t.key);
      this.addStat.run(entries, 'entries');
      this.addStat.run(bytes, 'bytes');
      evicted = this.evictIfOver();
    }).immediate();
    return evicted;
  }

  private evictIfOver(): string[] {
    let entries = this.readStat.get('entries')?.value ?? 0;
    let bytes = this.readStat.get('bytes')?.value ?? 0;
    const { maxEntries, maxBytes } = this.bounds;
    if (entries <= maxEntries && bytes <= maxBytes) return [];
    const evictedKeys: string[] = [];
    const entryTarget = Math.floor(maxEntries * LOW_WATER);
    const byteTarget = Math.floor(maxBytes * LOW_WATER);
    while (entries > 0 && (entries > entryTarget || bytes > byteTarget)) {
      // Rows needed to get under both targets, the byte one estimated from the average row.
      const forEntries = entries - entryTarget;
      const forBytes = Math.ceil((bytes - byteTarget) / (bytes / entries));
      const limit = Math.min(EVICT_BATCH, Math.max(1, forEntries, forBytes));
      const evicted = this.evictOldest.all(limit);
      if (evicted.length === 0) break;
      let freed = 0;
      for (const row of evicted) {
        freed += row.bytes;
        evictedKeys.push(row.key.toString('hex'));
      }
      entries -= evicted.length;
      bytes -= freed;
      this.addStat.run(-evicted.length, 'entries');
      this.addStat.run(-freed, 'bytes');
    }
    return evictedKeys;
  }

  /** Entries and estimated bytes held, as the bounds count them. */
  counts(): { entries: number; bytes: number } {
    return { entries: this.readStat.get('entries')?.value ?? 0, bytes: this.readStat.get('bytes')?.value ?? 0 };
  }
}

/** A vector's float32 little-endian bytes to bind: a view where possible (SQLite copies what it is bound). */
function vectorBytes(vector: Float32Array): Uint8Array {
  return LITTLE_ENDIAN ? new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength) : encodeVector(vector);
}
