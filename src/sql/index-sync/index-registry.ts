/**
 * @module index-sync/index-registry
 * Keeps one VectorIndex (src/index) per vector index in the catalog, in step with SQLite:
 *
 * - *capture*: the change log's triggers (change-log.ts) record every change of an indexed
 *   column in the same transaction as the change (DESIGN decision 3);
 * - *apply*: after each commit the engine calls `applyCommitted`, which replays new log entries
 *   into the indexes; replaying one twice is harmless, and rolled-back work never reaches the log;
 * - *persist*: an index is saved to `<dataDir>/indexes/<name>/` with the last sequence it had
 *   applied, and log entries every index has saved are pruned. On start an index loads its
 *   files and replays the log past that sequence; a missing or corrupt file is logged and the
 *   index is rebuilt from the table, never trusted. A save that fails (a full disk) loses
 *   nothing: the log keeps what the files lack, the failure is logged once and shown by SHOW
 *   INDEX STATUS until a later save succeeds, and saves are tried again at the next interval.
 *   While the engine holds saves (its disk is full, exec/disk-space.ts) none is tried.
 * An index is usable once loaded; until then (and for an index whose dimensions are not known
 * yet) the planner answers exactly. Runs on the thread that owns the database connection.
 */
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { MANIFEST_FILE, VectorIndex, type VectorIndexOptions, type VectorIndexStats } from '../../index/index.ts';
import type { Catalog, VectorIndexInfo } from '../catalog/index.ts';
import type { IndexViewRef } from '../plan/index.ts';
import { isDiskFullError, originalsReader, viewVector } from '../../core/index.ts';
import { quoteIdent } from '../dialect/index.ts';
import { ChangeLog } from './change-log.ts';

/** How often saved state is brought up to date when segments changed or the log grew. */
const SAVE_INTERVAL_MS = 5_000;
/** Log entries past an index's saved state that make it save even without a new segment. */
const SAVE_AFTER_CHANGES = 50_000;
const INDEX_DIR = 'indexes';

export interface IndexRegistryOptions {
  /** Rows in an index's tail before a flush builds a segment (VectorIndex default when unset). */
  flushRows?: number;
  flushAgeMs?: number;
  /** Where graphs are built; 'inline' blocks the thread (tests), 'worker' does not. */
  builder?: 'worker' | 'inline';
  /** Logs warnings (rebuilds, failed saves); default console.warn. */
  warn?: (message: string) => void;
  /**
   * Threads that may search an index at once, this one included: above 1, indexes keep their
   * arrays in shared memory so read workers can search views of them (`exportView`).
   */
  searchLanes?: number;
  /** Told the name of each index closed for good or re-created (read workers drop their views of it). */
  onClosed?: (name: string) => void;
  /** Told each failed save's error, after it is logged (a full disk puts the engine in disk-full mode). */
  onSaveFailed?: (error: unknown) => void;
}

export type IndexState = 'loading' | 'ready' | 'empty';

/** A save not tried: the engine holds saves, its disk being full (IndexRegistry.holdSaves). */
export class SavesHeldError extends Error {
  constructor(index: string) {
    super(`vector index ${index} was not saved: saves wait while the data dir's disk is full`);
    this.name = 'SavesHeldError';
  }
}

interface OpenIndex {
  info: VectorIndexInfo;
  index: VectorIndex | null;
  state: IndexState;
  /** The last log sequence the saved files reflect (0: never saved). */
  savedSeq: number;
  /** Segment ids at the last save, to tell whether a flush or merge happened since. */
  savedSegments: string;
  /** The failure of the last save, with its time; null once a save succeeds. */
  saveError: string | null;
  /** Saves failed in a row. */
  failedSaves: number;
  /** The save running or last run: an index's saves run one at a time. */
  saving: Promise<void>;
  /** Prepared read of one row's vector. */
  readRow: Database.Statement;
}

function key(name: string): string {
  return name.toLowerCase();
}

/** The read of one row's vector, by rowid: a quantized index's float32 original. */
function readRowSql(info: VectorIndexInfo): string {
  return `SELECT ${quoteIdent(info.column)} AS v FROM ${quoteIdent(info.table)} WHERE rowid = ?`;
}

export class IndexRegistry {
  private readonly indexes = new Map<string, OpenIndex>();
  /** Every log entry up to here has been applied to every open index. */
  private appliedSeq = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly warn: (message: string) => void;
  private readonly log: ChangeLog;
  private closed = false;
  /** While true no save is tried (holdSaves). */
  private savesHeld = false;

  constructor(
    private readonly db: Database.Database,
    private readonly catalog: Catalog,
    private readonly dataDir: string,
    private readonly options: IndexRegistryOptions = {},
  ) {
    this.warn = options.warn ?? ((m) => console.warn(`quiver: ${m}`));
    this.log = new ChangeLog(db);
    this.appliedSeq = this.log.lastSeq();
    this.sync();
    this.timer = setInterval(() => {
      this.saveDue().catch((e: unknown) => this.warn(`saving vector indexes failed: ${e instanceof Error ? e.message : String(e)}`));
    }, SAVE_INTERVAL_MS);
    this.timer.unref();
  }

  /** The index called `name` when it can answer searches; undefined while loading or unknown. */
  ready(name: string): VectorIndex | undefined {
    const open = this.indexes.get(key(name));
    return open?.state === 'ready' ? open.index! : undefined;
  }

  /**
   * A view of ready index `name` for a read worker (read-worker.ts): what it holds now, in
   * shared memory, with how the worker reads float32 originals for a quantized index's re-rank.
   * Taken under the engine's lock together with the worker's snapshot, so both see the same commits.
   */
  exportView(name: string): IndexViewRef {
    const open = this.indexes.get(key(name));
    const index = open?.state === 'ready' ? open.index! : undefined;
    if (!index) throw new Error(`vector index ${name} is not ready`);
    return { view: index.exportView(), originalsSql: index.quantization === 'none' ? null : readRowSql(open!.info), dims: index.dims };
  }

  state(name: string): IndexState | undefined {
    return this.indexes.get(key(name))?.state;
  }

  /** Opens indexes the catalog has gained and closes those it lost (after DDL commits or rolls back). */
  sync(): void {
    const wanted = new Map<string, VectorIndexInfo>();
    for (const t of this.catalog.tables()) for (const v of t.vectorIndexes) wanted.set(key(v.name), v);
    for (const [name, open] of [...this.indexes]) {
      const info = wanted.get(name);
      if (!info || !sameDefinition(info, open.info)) {
        this.closeIndex(name, open);
        if (!info) fs.rmSync(this.dirOf(open.info.name), { recursive: true, force: true });
      }
    }
    for (const [name, info] of wanted) if (!this.indexes.has(name)) this.openIndex(info);
  }

  /** Rebuilds every index of `table` from its rows (after a table rebuild changed them wholesale). */
  rebuildTable(table: string): void {
    // Over a copy: reopening puts the index back into the map, which a live iteration would revisit forever.
    for (const [name, open] of [...this.indexes]) {
      if (key(open.info.table) !== key(table)) continue;
      this.closeIndex(name, open);
      fs.rmSync(this.dirOf(open.info.name), { recursive: true, force: true });
      this.openIndex(open.info, false);
    }
  }

  /** Applies committed log entries to the indexes. Cheap when nothing changed. */
  applyCommitted(): void {
    if (this.indexes.size === 0) return;
    for (const e of this.log.after(this.appliedSeq)) {
      const open = this.indexes.get(key(e.indexName));
      if (open) this.applyEntry(open, e.rowId, e.op);
      this.appliedSeq = e.seq;
    }
  }

  /** The last change log entry applied to the indexes. */
  get applied(): number {
    return this.appliedSeq;
  }

  /** Whether the current transaction has changed rows of `table`'s indexes not yet applied. */
  hasUncommittedChanges(indexName: string): boolean {
    return this.log.hasEntriesAfter(this.appliedSeq, indexName);
  }

  stats(name: string): VectorIndexStats | undefined {
    return this.indexes.get(key(name))?.index?.stats();
  }

  /** Why the last save of index `name` failed, with its time; null when it succeeded or none was tried. */
  saveError(name: string): string | null {
    return this.indexes.get(key(name))?.saveError ?? null;
  }

  /** Stops saving (true) until called with false: the disk has no room for index files. */
  holdSaves(hold: boolean): void {
    this.savesHeld = hold;
  }

  /**
   * OPTIMIZE TABLE: every index of `table` flushes its tail, merges its segments and is saved;
   * throws the first failure, a save's included (SavesHeldError when saves are held by then), so
   * OPTIMIZE never reports work it could not keep.
   */
  async optimize(table: string): Promise<void> {
    for (const open of [...this.indexes.values()]) {
      if (key(open.info.table) !== key(table) || !open.index) continue;
      await open.index.flushNow();
      await open.index.mergeNow({ all: true });
      await this.save(open);
    }
  }

  /** Saves every index that changed since its last save, then stops. */
  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.saveDue(true);
    this.closeIndexes();
  }

  /** Stops without saving (the log replays what was not saved). */
  close(): void {
    clearInterval(this.timer);
    this.closeIndexes();
  }

  private closeIndex(name: string, open: OpenIndex): void {
    void open.index?.close();
    this.indexes.delete(name);
    this.options.onClosed?.(open.info.name);
  }

  private closeIndexes(): void {
    this.closed = true;
    for (const open of this.indexes.values()) void open.index?.close();
    this.indexes.clear();
  }

  private dirOf(name: string): string {
    return path.join(this.dataDir, INDEX_DIR, name);
  }

  /** The vector dims of an index: its column's VECTOR(n), or the first stored vector's length. */
  private dimsOf(info: VectorIndexInfo): number | null {
    const declared = this.catalog.table(info.table)?.columns.find((c) => key(c.name) === key(info.column))?.vectorDims;
    if (declared) return declared;
    const row = this.db.prepare(`SELECT length(${quoteIdent(info.column)}) / 4 AS dims FROM ${quoteIdent(info.table)} WHERE ${quoteIdent(info.column)} IS NOT NULL LIMIT 1`).get() as
      | { dims: number }
      | undefined;
    return row ? row.dims : null;
  }

  /**
   * The options an index of `open` is made or loaded with. A quantized index keeps codes in
   * memory and re-ranks its final candidates from the float32 vectors in the table, read by
   * rowid here (src/index/rerank.ts); the planner answers exactly while this transaction has
   * changes the index has not seen, so those reads see what the index saw.
   */
  private indexOptions(open: OpenIndex, dims: number): VectorIndexOptions {
    const info = open.info;
    return {
      dims,
      metric: info.metric,
      m: info.m,
      efConstruction: info.efConstruction,
      quantization: info.quantization,
      originals: originalsReader(() => open.readRow, dims),
      flushRows: this.options.flushRows,
      flushAgeMs: this.options.flushAgeMs,
      builder: this.options.builder,
      shareable: (this.options.searchLanes ?? 1) > 1,
      searchLanes: this.options.searchLanes,
    };
  }

  /** Opens `info`: from its saved files when they are sound, else from the table's rows. */
  private openIndex(info: VectorIndexInfo, tryFiles = true): void {
    const readRow = this.db.prepare(readRowSql(info));
    const open: OpenIndex = {
      info, index: null, state: 'loading', savedSeq: 0, savedSegments: '', saveError: null, failedSaves: 0, saving: Promise.resolve(), readRow,
    };
    this.indexes.set(key(info.name), open);
    const dims = this.dimsOf(info);
    if (dims === null) {
      open.state = 'empty'; // a VARBINARY column with no vector yet: opened at its first one
      return;
    }
    const dir = this.dirOf(info.name);
    // No manifest: never saved whole (a crash during the first save leaves files without one,
    // which the next save removes), so nothing was lost and there is nothing to warn about.
    if (!tryFiles || !fs.existsSync(path.join(dir, MANIFEST_FILE))) {
      this.buildFromTable(open, dims);
      return;
    }
    VectorIndex.load(dir, this.indexOptions(open, dims)).then(
      ({ index, problems, meta }) => {
        const savedSeq = (meta as { appliedSeq?: unknown } | null)?.appliedSeq;
        if (this.closed || this.indexes.get(key(info.name)) !== open) return void index.close();
        if (problems.length > 0 || typeof savedSeq !== 'number') {
          this.warn(`vector index ${info.name}: ${problems.map((p) => `${p.file} is ${p.kind} (${p.detail})`).join('; ') || 'no saved sequence'}; rebuilding it from ${info.table}`);
          void index.close();
          this.buildFromTable(open, dims);
          return;
        }
        open.index = index;
        open.savedSeq = savedSeq;
        open.savedSegments = segmentIds(index);
        // Catch up with everything committed since the files were written.
        for (const e of this.log.ofIndex(info.name, savedSeq, this.appliedSeq)) this.applyEntry(open, e.rowId, e.op);
        open.state = 'ready';
      },
      (e: unknown) => {
        this.warn(`vector index ${info.name}: cannot load its files (${e instanceof Error ? e.message : String(e)}); rebuilding it from ${info.table}`);
        if (this.indexes.get(key(info.name)) === open && !this.closed) this.buildFromTable(open, dims);
      },
    );
  }

  /**
   * Fills a new index with every row of the table. The rows go to the tail, which answers
   * exactly at once; past the flush threshold the index builds HNSW segments in the background.
   */
  private buildFromTable(open: OpenIndex, dims: number): void {
    const index = new VectorIndex(this.indexOptions(open, dims));
    const rows = this.db
      .prepare(`SELECT rowid AS id, ${quoteIdent(open.info.column)} AS v FROM ${quoteIdent(open.info.table)} WHERE ${quoteIdent(open.info.column)} IS NOT NULL`)
      .raw(true)
      .iterate() as IterableIterator<[number, Uint8Array]>;
    for (const [id, v] of rows) this.insertRow(index, open.info, id, v);
    open.index = index;
    open.savedSeq = 0;
    open.state = 'ready';
  }

  private insertRow(index: VectorIndex, info: VectorIndexInfo, rowId: number, blob: Uint8Array): void {
    if (blob.byteLength !== index.dims * 4) {
      this.warn(`vector index ${info.name}: row ${rowId} holds ${blob.byteLength / 4} values, not ${index.dims}; it is left out of the index`);
      return;
    }
    index.insert(rowId, viewVector(blob));
  }

  private applyEntry(open: OpenIndex, rowId: number, op: number): void {
    if (open.state === 'empty') {
      const dims = this.dimsOf(open.info);
      if (dims === null) return;
      this.buildFromTable(open, dims);
      return;
    }
    if (!open.index) return; // loading: the catch-up after loading replays it
    if (op === 0) {
      open.index.delete(rowId);
      return;
    }
    const row = open.readRow.get(rowId) as { v: Uint8Array | null } | undefined;
    if (!row || row.v === null) open.index.delete(rowId);
    else this.insertRow(open.index, open.info, rowId, row.v);
  }

  /** Saves indexes whose segments changed or whose log grew long (or all, at shutdown), then prunes the log. */
  private async saveDue(all = false): Promise<void> {
    for (const open of [...this.indexes.values()]) {
      if (this.savesHeld) return;
      if (open.state !== 'ready' || !open.index) continue;
      const behind = this.appliedSeq - open.savedSeq;
      if (behind === 0) continue;
      if (!all && segmentIds(open.index) === open.savedSegments && behind < SAVE_AFTER_CHANGES) continue;
      await this.save(open).catch(() => {}); // logged by save; tried again at the next interval
    }
    this.pruneLog();
  }

  /**
   * Saves `open` as of the log applied when its turn comes, after any save of it already
   * running: whether saves are held is decided then, so none starts once the disk is full.
   * A failure is logged at the first of a run, kept for SHOW INDEX STATUS, and thrown.
   */
  private save(open: OpenIndex): Promise<void> {
    const run = open.saving.then(() => this.saveNow(open));
    open.saving = run.catch(() => {});
    return run;
  }

  private async saveNow(open: OpenIndex): Promise<void> {
    if (this.savesHeld) throw new SavesHeldError(open.info.name);
    const index = open.index!;
    const seq = this.appliedSeq;
    const segments = segmentIds(index);
    try {
      await index.save(this.dirOf(open.info.name), { appliedSeq: seq, table: open.info.table, column: open.info.column });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (open.failedSaves++ === 0) {
        const why = isDiskFullError(e) ? "the data dir's disk is full" : 'it failed';
        this.warn(`vector index ${open.info.name}: cannot save, ${why} (${message}); nothing is lost: the change log keeps its changes, and saving is tried again later`);
      }
      open.saveError = `${new Date().toISOString()}: ${message}`;
      this.options.onSaveFailed?.(e);
      throw e;
    }
    if (open.failedSaves > 0) this.warn(`vector index ${open.info.name}: saved again, after ${open.failedSaves} failed attempt(s)`);
    open.saveError = null;
    open.failedSaves = 0;
    open.savedSeq = seq;
    open.savedSegments = segments;
  }

  /** Drops log entries every index has saved; on a failure (the writer busy, a full disk) they stay for the next time. */
  private pruneLog(): void {
    if (this.closed || !this.db.open || this.db.inTransaction) return;
    let floor = this.appliedSeq;
    for (const open of this.indexes.values()) floor = Math.min(floor, open.savedSeq);
    try {
      this.log.pruneThrough(floor);
    } catch (e) {
      // The writer holds the database (it never waits for it here), or the disk is full: next time.
      const busy = (e as { code?: unknown }).code === 'SQLITE_BUSY';
      if (!busy && !isDiskFullError(e)) throw e;
    }
  }
}

function segmentIds(index: VectorIndex): string {
  return index
    .stats()
    .segments.map((s) => `${s.id}:${s.aliveRows}`)
    .join(',');
}

/** Whether two catalog entries describe the same index (a drop and re-create in one request may not). */
function sameDefinition(a: VectorIndexInfo, b: VectorIndexInfo): boolean {
  return (
    a.table === b.table && a.column === b.column && a.metric === b.metric && a.m === b.m && a.efConstruction === b.efConstruction && a.quantization === b.quantization
  );
}
