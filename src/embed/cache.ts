/**
 * @module cache
 * The persistent embedding cache: vectors keyed by (model identity, dims, sha256 of the text),
 * in a SQLite file of their own (`<dataDir>/embedding-cache.db`, WAL) so that caching never
 * waits on, or holds, the main database's write lock. Lookups are synchronous because the SQL
 * layer calls them from inside a SQLite user function; so are writes, batched one transaction
 * per call. Runs on the thread that owns the Embeddings instance.
 *
 * The cache is bounded in entries and in bytes (vector bytes plus a fixed per-row overhead; an
 * estimate, not the file's size). Past a bound the least recently used entries are deleted, in
 * batches, down to LOW_WATER of it, so one insert does not pay for eviction every time.
 * "Recently used" is a timestamp refreshed on a hit at most once per touchAfterMs: exact LRU
 * would turn every read into a write.
 *
 * It is a cache: a file of another schema version is emptied rather than migrated.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { decodeVector, encodeVector } from '../sql/vector-codec.ts';

export const CACHE_FILE = 'embedding-cache.db';
const SCHEMA_VERSION = 1;

export const DEFAULT_CACHE_MAX_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_CACHE_MAX_ENTRIES = Number.MAX_SAFE_INTEGER;
export const DEFAULT_TOUCH_AFTER_MS = 60_000;
/** Eviction stops at this fraction of a bound. */
const LOW_WATER = 0.9;
/** Rows deleted per statement while evicting. */
const EVICT_BATCH = 1000;
/** Key, row header and index entry, roughly: what a row costs beyond its vector and model name. */
const ROW_OVERHEAD_BYTES = 96;
/** A SQLITE_BUSY on this private file means another process shares the data dir; wait this long at most. */
const BUSY_TIMEOUT_MS = 2000;

export interface EmbeddingCacheOptions {
  /** The SQLite file, or ':memory:' for a cache that lives as long as the process. */
  path: string;
  maxBytes?: number;
  maxEntries?: number;
  /** How stale a hit's last-used time may get before a lookup refreshes it. */
  touchAfterMs?: number;
  /** The clock, in milliseconds; tests set it to order entries. */
  now?: () => number;
}

export interface CacheStats {
  entries: number;
  /** Estimated bytes held, as the bound counts them. */
  bytes: number;
  maxEntries: number;
  maxBytes: number;
}

interface Row {
  id: number;
  vector: Buffer;
  last_used: number;
}

/** Vectors by (model identity, dims, text), bounded, surviving restarts. */
export class EmbeddingCache {
  private readonly db: Database.Database;
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private readonly touchAfterMs: number;
  private readonly now: () => number;
  private readonly select: Database.Statement<[Buffer], Row>;
  private readonly touch: Database.Statement<[number, number]>;
  private readonly insert: Database.Statement<[Buffer, string, number, Buffer, number]>;
  private readonly refresh: Database.Statement<[number, Buffer]>;
  private readonly readStat: Database.Statement<[string], { value: number }>;
  private readonly addStat: Database.Statement<[number, string]>;
  private readonly evictOldest: Database.Statement<[number], { bytes: number }>;

  constructor(options: EmbeddingCacheOptions) {
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    this.maxEntries = options.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
    this.touchAfterMs = options.touchAfterMs ?? DEFAULT_TOUCH_AFTER_MS;
    this.now = options.now ?? Date.now;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    try {
      this.db.pragma('journal_mode = WAL');
      // A cache may lose its last writes in a power cut; it must not corrupt, which WAL ensures.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.migrate();
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.select = this.db.prepare('SELECT id, vector, last_used FROM entries WHERE key = ?');
    this.touch = this.db.prepare('UPDATE entries SET last_used = ? WHERE id = ?');
    this.insert = this.db.prepare('INSERT OR IGNORE INTO entries (key, model, dims, vector, last_used) VALUES (?, ?, ?, ?, ?)');
    this.refresh = this.db.prepare('UPDATE entries SET last_used = ? WHERE key = ?');
    this.readStat = this.db.prepare('SELECT value FROM stats WHERE name = ?');
    this.addStat = this.db.prepare('UPDATE stats SET value = value + ? WHERE name = ?');
    this.evictOldest = this.db.prepare(
      `DELETE FROM entries WHERE id IN (SELECT id FROM entries ORDER BY last_used, id LIMIT ?)
       RETURNING length(vector) + length(model) + ${ROW_OVERHEAD_BYTES} AS bytes`,
    );
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version === SCHEMA_VERSION) return;
    this.db.exec(`
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

  /** The cached vector of each text (undefined for a miss), in order; refreshes the hits' last use. */
  getMany(model: string, dims: number, texts: readonly string[]): (Float32Array | undefined)[] {
    const now = this.now();
    const stale: number[] = [];
    const out = texts.map((text) => {
      const row = this.select.get(cacheKey(model, dims, text));
      if (!row || row.vector.length !== dims * 4) return undefined;
      if (now - row.last_used >= this.touchAfterMs) stale.push(row.id);
      return decodeVector(row.vector);
    });
    if (stale.length > 0) {
      try {
        this.db.transaction(() => {
          for (const id of stale) this.touch.run(now, id);
        })();
      } catch (error) {
        // A busy file only makes eviction order less exact; the lookup itself succeeded.
        if (!isBusy(error)) throw error;
      }
    }
    return out;
  }

  /** Stores one vector per text (vectors[i] for texts[i]), then evicts if over a bound. */
  putMany(model: string, dims: number, texts: readonly string[], vectors: readonly Float32Array[]): void {
    if (texts.length !== vectors.length) throw new Error(`putMany: ${texts.length} texts but ${vectors.length} vectors`);
    const now = this.now();
    this.db.transaction(() => {
      let entries = 0;
      let bytes = 0;
      for (let i = 0; i < texts.length; i++) {
        if (vectors[i].length !== dims) throw new Error(`putMany: vector ${i} has ${vectors[i].length} dims, not ${dims}`);
        const key = cacheKey(model, dims, texts[i]);
        if (this.insert.run(key, model, dims, encodeVector(vectors[i]), now).changes > 0) {
          entries++;
          bytes += dims * 4 + Buffer.byteLength(model) + ROW_OVERHEAD_BYTES;
        } else this.refresh.run(now, key);
      }
      this.addStat.run(entries, 'entries');
      this.addStat.run(bytes, 'bytes');
      this.evictIfOver();
    }).immediate();
  }

  private evictIfOver(): void {
    let entries = this.readStat.get('entries')?.value ?? 0;
    let bytes = this.readStat.get('bytes')?.value ?? 0;
    if (entries <= this.maxEntries && bytes <= this.maxBytes) return;
    const entryTarget = Math.floor(this.maxEntries * LOW_WATER);
    const byteTarget = Math.floor(this.maxBytes * LOW_WATER);
    while (entries > 0 && (entries > entryTarget || bytes > byteTarget)) {
      // Rows needed to get under both targets, the byte one estimated from the average row.
      const forEntries = entries - entryTarget;
      const forBytes = Math.ceil((bytes - byteTarget) / (bytes / entries));
      const limit = Math.min(EVICT_BATCH, Math.max(1, forEntries, forBytes));
      const evicted = this.evictOldest.all(limit);
      if (evicted.length === 0) break;
      const freed = evicted.reduce((sum, row) => sum + row.bytes, 0);
      entries -= evicted.length;
      bytes -= freed;
      this.addStat.run(-evicted.length, 'entries');
      this.addStat.run(-freed, 'bytes');
    }
  }

  /** Entries and estimated bytes held, with the bounds. */
  stats(): CacheStats {
    return {
      entries: this.readStat.get('entries')?.value ?? 0,
      bytes: this.readStat.get('bytes')?.value ?? 0,
      maxEntries: this.maxEntries,
      maxBytes: this.maxBytes,
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** sha256 over the model identity, dims and text, NUL-separated (identities hold no NUL). */
function cacheKey(model: string, dims: number, text: string): Buffer {
  return createHash('sha256').update(model).update('\0').update(String(dims)).update('\0').update(text).digest();
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}
