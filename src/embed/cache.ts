/**
 * @module cache
 * The embedding cache: vectors keyed by (model identity, dims, text), in two layers. A bounded
 * LRU map in memory answers hits at once and holds what was put until it is written; a SQLite
 * file of its own (cache-file.ts) keeps them across restarts. Lookups are synchronous because
 * the SQL layer calls them from inside a SQLite user function; they run on the thread that owns
 * the cache, as does everything here but the writing.
 *
 * Writes stay off the caller's path, and off its thread: putMany only records the vectors in
 * memory; a writer thread (cache-worker.ts) puts them in the file, a transaction of up to
 * FLUSH_CHUNK_ENTRIES at a time, so neither its transactions nor the WAL checkpoints' fsyncs
 * ever stall a request. They are handed over when the batcher has requests in flight
 * (flushSoon, once per fetch), after flushDelayMs at the latest, and once FLUSH_MAX_ENTRIES are
 * waiting. flush() (a clean close, stats) writes everything still waiting or not yet confirmed
 * by the writer on this thread, synchronously: writing a row twice is harmless (CacheFile.write
 * is idempotent), so nothing put before a clean close is lost. A crash loses only what was not
 * written yet, which is harmless: the cache saves provider calls, and the rows that used those
 * vectors hold them already. A failed write (a full disk, another process holding the file) is
 * reported and not retried; its vectors stay usable from memory. While writes are held (the
 * engine's disk is full, holdWrites), puts are kept the same way and never tried, so the cache
 * takes none of the room left for deletes. A ':memory:' cache, which a second connection could
 * not see, writes on this thread.
 *
 * "Recently used" in the file is a timestamp refreshed on a hit at most once per touchAfterMs,
 * and written with the next write: exact LRU would turn every read into a write. Rows evicted
 * from the file are dropped from memory too. The memory layer has its own bound
 * (memoryMaxBytes) and plain LRU order.
 */
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../util/index.ts';
import { decodeVector } from '../core/index.ts';
import { CacheFile, openCacheFile, rowKey } from './cache-file.ts';
import type { RowTouch, RowWrite } from './cache-file.ts';
import { packJob } from './cache-job.ts';
import type { WriteAnswer, WriterData } from './cache-worker.ts';

export { CACHE_FILE } from './cache-file.ts';

export const DEFAULT_CACHE_MAX_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_CACHE_MAX_ENTRIES = Number.MAX_SAFE_INTEGER;
export const DEFAULT_TOUCH_AFTER_MS = 60_000;
/** Vectors kept in memory (estimated bytes, keys included); never more than the file's own bound. */
export const DEFAULT_MEMORY_MAX_BYTES = 64 * 1024 * 1024;
/** The longest a put waits in memory before it is written, when no fetch gives an earlier chance. */
export const DEFAULT_FLUSH_DELAY_MS = 500;
export const MIN_FLUSH_DELAY_MS = 0;
export const MAX_FLUSH_DELAY_MS = 60_000;
/** Puts waiting past this many are handed to the writer at the next turn of the event loop. */
const FLUSH_MAX_ENTRIES = 4096;
/** Most puts in one write (one transaction, a few milliseconds); more go in the next one. */
const FLUSH_CHUNK_ENTRIES = 256;
/** Keys of missed texts kept for their puts; past it they are forgotten and hashed again. */
const MAX_MISSED_KEYS = 8192;
/** Keys looked up in the file per statement. */
const LOOKUP_CHUNK = 64;
/** A Map entry and its objects, roughly, beyond the vector and the key string. */
const MEMORY_ENTRY_OVERHEAD_BYTES = 160;

export interface EmbeddingCacheOptions {
  /** The SQLite file, or ':memory:' for a cache that lives as long as the process. */
  path: string;
  maxBytes?: number;
  maxEntries?: number;
  /** How stale a hit's last-used time may get before a lookup refreshes it. */
  touchAfterMs?: number;
  /** Bound of the memory layer; DEFAULT_MEMORY_MAX_BYTES, or maxBytes when smaller. */
  memoryMaxBytes?: number;
  /** The longest a put waits before it is written (DEFAULT_FLUSH_DELAY_MS). */
  flushDelayMs?: number;
  /** 'thread' (the default for a file): a writer thread; 'inline': this thread, for tests that time writes. */
  writer?: 'thread' | 'inline';
  /** Where a failed write is reported; the vectors stay usable from memory. Default: console.warn. */
  onWriteError?: (error: unknown) => void;
  /** The clock, in milliseconds; tests set it to order entries. */
  now?: () => number;
}

export interface GetManyOptions {
  /** Look in memory only: for a second look at texts the caller has just missed in the file. */
  memoryOnly?: boolean;
}

export interface CacheStats {
  entries: number;
  /** Estimated bytes held, as the bound counts them. */
  bytes: number;
  maxEntries: number;
  maxBytes: number;
}

/** A vector in memory; `key` is its row's key in the file, `usedAt` the last use the file knows of (or will). */
interface MemoryEntry {
  vector: Float32Array;
  key: Buffer;
  usedAt: number;
  bytes: number;
}

/** A put not yet handed to a writer. */
interface Unwritten {
  model: string;
  dims: number;
  text: string;
  vector: Float32Array;
  at: number;
}

/** Vectors by (model identity, dims, text), bounded, surviving restarts. */
export class EmbeddingCache {
  private readonly file: CacheFile;
  private readonly path: string;
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private readonly touchAfterMs: number;
  private readonly memoryMaxBytes: number;
  private readonly flushDelayMs: number;
  private readonly onWriteError: (error: unknown) => void;
  private readonly now: () => number;

  /** LRU order: least recently used first. Keyed by memoryKey(). */
  private readonly memory = new Map<string, MemoryEntry>();
  private memoryBytes = 0;
  /** Puts waiting to be handed to a writer, by memoryKey(); looked up before `memory`. */
  private readonly unwritten = new Map<string, Unwritten>();
  /** Row keys of texts lately missed in the file, by memoryKey(), for their puts; at most MAX_MISSED_KEYS. */
  private readonly missedKeys = new Map<string, Buffer>();
  /** Last-used times to write: row key (hex) -> key and time. */
  private readonly touches = new Map<string, RowTouch>();
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;

  /** The writer thread; null before the first write, after close, or for good after a failure. */
  private worker: Worker | null = null;
  private useWorker: boolean;
  private seq = 0;
  /** While true nothing is written to the file (holdWrites). */
  private held = false;
  /** Rows handed to the writer and not yet confirmed: flush() writes them again, in case. */
  private readonly posted = new Map<number, { writes: RowWrite[]; touches: RowTouch[] }>();

  constructor(options: EmbeddingCacheOptions) {
    this.path = options.path;
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    this.maxEntries = options.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
    this.touchAfterMs = options.touchAfterMs ?? DEFAULT_TOUCH_AFTER_MS;
    this.memoryMaxBytes = Math.min(options.memoryMaxBytes ?? DEFAULT_MEMORY_MAX_BYTES, this.maxBytes);
    this.flushDelayMs = Math.min(MAX_FLUSH_DELAY_MS, Math.max(MIN_FLUSH_DELAY_MS, options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS));
    this.onWriteError = options.onWriteError ?? ((error) => console.warn('quiver: embedding cache write failed:', error));
    this.now = options.now ?? Date.now;
    this.useWorker = options.path !== ':memory:' && options.writer !== 'inline';
    this.file = new CacheFile(openCacheFile(options.path), { maxEntries: this.maxEntries, maxBytes: this.maxBytes });
  }

  /**
   * The cached vector of each text (undefined for a miss), in order. Vectors are shared with
   * the cache: callers must not modify them. Hits found stale are refreshed at the next write.
   */
  getMany(model: string, dims: number, texts: readonly string[], options: GetManyOptions = {}): (Float32Array | undefined)[] {
    const now = this.now();
    const out = new Array<Float32Array | undefined>(texts.length).fill(undefined);
    const fromFile: number[] = [];
    for (let i = 0; i < texts.length; i++) {
      const mk = memoryKey(model, dims, texts[i]);
      const pending = this.unwritten.get(mk);
      if (pending) {
        out[i] = pending.vector;
        continue;
      }
      const entry = this.memory.get(mk);
      if (entry) {
        // Most recently used goes last.
        this.memory.delete(mk);
        this.memory.set(mk, entry);
        this.used(entry, now);
        out[i] = entry.vector;
      } else if (!options.memoryOnly) fromFile.push(i);
    }
    if (fromFile.length === 0 || !this.file.db.open) return out;
    // A statement per LOOKUP_CHUNK keys: most lookups of a cold insert miss, and each would
    // otherwise pay a statement's overhead for nothing.
    for (let start = 0; start < fromFile.length; start += LOOKUP_CHUNK) {
      const chunk = fromFile.slice(start, start + LOOKUP_CHUNK);
      const keys = chunk.map((i) => rowKey(model, dims, texts[i]));
      const at = new Map<string, number>();
      chunk.forEach((_, j) => at.set(keys[j].toString('hex'), j));
      for (const row of this.file.select(keys)) {
        const j = at.get(row.key.toString('hex'));
        if (j === undefined || row.vector.length !== dims * 4) continue;
        const entry: MemoryEntry = { vector: decodeVector(row.vector), key: keys[j], usedAt: row.last_used, bytes: 0 };
        this.used(entry, now);
        this.remember(memoryKey(model, dims, texts[chunk[j]]), entry);
        out[chunk[j]] = entry.vector;
      }
      // A miss is usually put soon after: its key is kept for that put, to be hashed once.
      if (this.missedKeys.size + chunk.length > MAX_MISSED_KEYS) this.missedKeys.clear();
      chunk.forEach((i, j) => {
        if (out[i] === undefined) this.missedKeys.set(memoryKey(model, dims, texts[i]), keys[j]);
      });
    }
    return out;
  }

  /** Queues a last-used refresh when the file's time for `entry` is older than touchAfterMs. */
  private used(entry: MemoryEntry, now: number): void {
    if (now - entry.usedAt < this.touchAfterMs) return;
    entry.usedAt = now;
    this.touches.set(entry.key.toString('hex'), { key: entry.key, at: now });
    this.scheduleFlush();
  }

  /** Records one vector per text (vectors[i] for texts[i]); they are written later, together. */
  putMany(model: string, dims: number, texts: readonly string[], vectors: readonly Float32Array[]): void {
    if (texts.length !== vectors.length) throw new Error(`putMany: ${texts.length} texts but ${vectors.length} vectors`);
    for (let i = 0; i < texts.length; i++) {
      if (vectors[i].length !== dims) throw new Error(`putMany: vector ${i} has ${vectors[i].length} dims, not ${dims}`);
    }
    const now = this.now();
    for (let i = 0; i < texts.length; i++) {
      this.unwritten.set(memoryKey(model, dims, texts[i]), { model, dims, text: texts[i], vector: vectors[i], at: now });
    }
    if (this.unwritten.size >= FLUSH_MAX_ENTRIES) this.flushSoon();
    else this.scheduleFlush();
  }

  /**
   * Hands what is waiting to the writer at the next turn of the event loop. The batcher calls
   * it once its requests are on their way: the handing over, the only part on this thread,
   * then fills the wait for the provider's answer.
   */
  flushSoon(): void {
    if (this.immediate || !this.hasWork()) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.writeSome(FLUSH_CHUNK_ENTRIES);
      if (this.unwritten.size > 0) this.flushSoon();
    });
    this.immediate.unref();
  }

  private scheduleFlush(): void {
    if (this.timer || !this.hasWork()) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushSoon();
    }, this.flushDelayMs);
    this.timer.unref();
  }

  private hasWork(): boolean {
    return this.unwritten.size > 0 || this.touches.size > 0;
  }

  /** Takes up to `limit` waiting puts and every waiting refresh, moving the puts into memory. */
  private take(limit: number): { writes: RowWrite[]; touches: RowTouch[] } {
    const writes: RowWrite[] = [];
    for (const [mk, w] of this.unwritten) {
      if (writes.length >= limit) break;
      this.unwritten.delete(mk);
      const key = this.missedKeys.get(mk) ?? rowKey(w.model, w.dims, w.text);
      this.missedKeys.delete(mk);
      this.remember(mk, { vector: w.vector, key, usedAt: w.at, bytes: 0 });
      writes.push({ key, model: w.model, dims: w.dims, vector: w.vector, at: w.at });
    }
    const touches = [...this.touches.values()];
    this.touches.clear();
    return { writes, touches };
  }

  /** Hands up to `limit` waiting puts (and every waiting refresh) to the writer thread, or writes them here. */
  private writeSome(limit: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.hasWork() || !this.file.db.open) return;
    const { writes, touches } = this.take(limit);
    // Held: dropped as a failed write's would be; take() has moved them to memory.
    if (this.held) return;
    const worker = this.writer();
    if (!worker) {
      this.writeHere(writes, touches);
      return;
    }
    const seq = ++this.seq;
    this.posted.set(seq, { writes, touches });
    const { job, transfer } = packJob(seq, writes, touches);
    worker.postMessage(job, transfer);
  }

  /** Writes on this thread, unless held; a failure is reported, not thrown. */
  private writeHere(writes: readonly RowWrite[], touches: readonly RowTouch[]): void {
    if (this.held || (writes.length === 0 && touches.length === 0)) return;
    try {
      this.forget(this.file.write(writes, touches));
    } catch (error) {
      this.onWriteError(error);
    }
  }

  /** The writer thread, started on first use; null when writes happen on this thread. */
  private writer(): Worker | null {
    if (!this.useWorker) return null;
    if (this.worker) return this.worker;
    const data: WriterData = { path: this.path, maxEntries: this.maxEntries, maxBytes: this.maxBytes };
    const worker = startTsWorker(new URL('./cache-worker.ts', import.meta.url), data);
    // Never what keeps a process alive: a clean close writes what is left on this thread.
    worker.unref();
    worker.on('message', (answer: WriteAnswer) => {
      this.posted.delete(answer.seq);
      if ('error' in answer) this.onWriteError(new Error(`embedding cache writer: ${answer.error}`));
      else this.forget(answer.evicted);
    });
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.useWorker = false;
      this.onWriteError(error);
      // What it had not confirmed is written here instead.
      const jobs = [...this.posted.values()];
      this.posted.clear();
      if (this.file.db.open) this.writeHere(jobs.flatMap((j) => j.writes), jobs.flatMap((j) => j.touches));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`embedding cache writer exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  /** Writes everything now, on this thread: what waits, and what the writer has not confirmed. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.file.db.open) return;
    const jobs = [...this.posted.values()];
    this.posted.clear();
    const { writes, touches } = this.take(Infinity);
    this.writeHere([...jobs.flatMap((j) => j.writes), ...writes], [...jobs.flatMap((j) => j.touches), ...touches]);
  }

  /** Adds `entry` to memory as the most recently used, evicting the least recently used past the bound. */
  private remember(mk: string, entry: MemoryEntry): void {
    const old = this.memory.get(mk);
    if (old) {
      this.memoryBytes -= old.bytes;
      this.memory.delete(mk);
    }
    entry.bytes = entry.vector.byteLength + mk.length * 2 + MEMORY_ENTRY_OVERHEAD_BYTES;
    this.memory.set(mk, entry);
    this.memoryBytes += entry.bytes;
    while (this.memoryBytes > this.memoryMaxBytes && this.memory.size > 0) {
      const [oldest, victim] = this.memory.entries().next().value!;
      this.memory.delete(oldest);
      this.memoryBytes -= victim.bytes;
    }
  }

  /** Drops from memory the entries whose rows were evicted from the file (keys in hex). */
  private forget(evicted: readonly string[]): void {
    if (evicted.length === 0) return;
    const keys = new Set(evicted);
    for (const [mk, entry] of this.memory) {
      if (keys.has(entry.key.toString('hex'))) {
        this.memory.delete(mk);
        this.memoryBytes -= entry.bytes;
      }
    }
  }

  /** Stops (true) or resumes (false) writing to the file, as while its disk is full. */
  holdWrites(hold: boolean): void {
    this.held = hold;
  }

  /** Entries and estimated bytes in the file, with the bounds; writes what is waiting first. */
  stats(): CacheStats {
    this.flush();
    return { ...this.file.counts(), maxEntries: this.maxEntries, maxBytes: this.maxBytes };
  }

  /** Writes what is waiting, stops the writer and closes the file. Safe to call twice. */
  close(): void {
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    if (!this.file.db.open) return;
    this.flush();
    const worker = this.worker;
    this.worker = null;
    this.useWorker = false;
    void worker?.terminate();
    this.file.db.close();
  }
}

/** The memory layer's key: model identity, dims and text, NUL-separated (identities hold no NUL). */
function memoryKey(model: string, dims: number, text: string): string {
  return `${model}\u0000${dims}\u0000${text}`;
}
