/**
 * @module index/vector-index
 * The LSM-shaped vector index of one column (DESIGN.md, decision 4; PolarDB's flush/merge):
 *
 * - the *tail* takes every insert and is searched by brute force, so a committed row is found
 *   by the very next query;
 * - a *flush* (./lifecycle/flush.ts) freezes the tail once it passes `flushRows` rows or
 *   `flushAgeMs` of age, builds an immutable HNSW segment from it on a worker thread, and
 *   installs it;
 * - a *merge* (./lifecycle/merge.ts) rewrites the segments the merge policy picks
 *   (./lifecycle/merge-policy.ts) into one, dropping deleted rows, also on the worker;
 * - a *delete* clears the row's bit in its segment's AliveBitSet (or removes it from the tail)
 *   at once; an update is a delete plus an insert.
 *
 * Every live row is in exactly one place — a segment, the frozen tail of a running flush, or
 * the tail (./lifecycle/layout.ts). Builds run off the main thread, but everything that changes
 * what a search sees (freezing, installing a segment, retiring merged ones) happens in one
 * synchronous step on the main thread, so a search never sees a row twice or misses it,
 * whatever job is running. This file owns the index object: its options, inserts, deletes,
 * searches, views and stats, when a flush or merge starts (thresholds, a timer, OPTIMIZE), and
 * the queue that runs jobs one at a time, in order; the stages themselves are in
 * ./lifecycle/. `save`/`load` persist segments and the tail with a manifest
 * (./lifecycle/persist.ts). All methods run on the thread that owns the index.
 *
 * With `quantization` int8 or int16, segments keep codes instead of float32 vectors
 * (./quantization.ts), and each search re-ranks its best candidates exactly from the float32
 * originals its owner provides (`originals`, ./rerank.ts); the tail stays float32.
 *
 * A `shareable` index can also be searched from other threads while its owner goes on
 * changing it: {@link VectorIndex.exportView} takes a cheap snapshot (./view-data.ts) that a
 * worker searches with an IndexViewReader (./view-reader.ts) and gets what `search` returned
 * when the view was taken. For that, every array a search reads lives on shared memory, each
 * graph and tail keeps query scratch for `searchLanes` threads, and nothing a view references
 * is written again: segments are immutable but for their alive bits (which a view copies), and
 * the tail only appends (./lifecycle/tail.ts). Both kinds of index search through the same
 * code (./merged-search.ts).
 *
 * @example
 * const index = new VectorIndex({ dims: 3, metric: 'cosine' });
 * index.insert(1, [1, 0, 0]);
 * index.insert(2, [0, 1, 0]);
 * index.search([1, 0.1, 0], { k: 1 }); // [{ rowId: 1, distance: 0.00497... }]
 * await index.close();
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { QuiverError, type Metric } from '../core/index.ts';
import { HnswGraph, quantizeGraph } from './hnsw/graph.ts';
import { DEFAULT_LEVEL_SEED, resolveHnswParams } from './hnsw/params.ts';
import { InlineBuilder, WorkerBuilder, type GraphBuilder } from './lifecycle/builder.ts';
import { flush } from './lifecycle/flush.ts';
import type { Layout } from './lifecycle/layout.ts';
import { mergeAll, mergeByPolicy } from './lifecycle/merge.ts';
import { DEFAULT_MERGE_POLICY, type MergePolicy } from './lifecycle/merge-policy.ts';
import { loadIndexFiles, saveIndexFiles, type LoadProblem, type PersistState } from './lifecycle/persist.ts';
import { SegmentJobs, type FailPoints } from './lifecycle/segment-jobs.ts';
import type { Tail } from './lifecycle/tail.ts';
import { MergedSearch, type SearchOptions, type VectorHit } from './merged-search.ts';
import { QUANTIZATIONS, type Quantization } from './quantization.ts';
import { ExactReranker, type OriginalVectors } from './rerank.ts';
import type { Segment } from './segment/segment.ts';
import { writeStored } from './space.ts';
import type { IndexViewData } from './view-data.ts';

export { MAX_SEARCH_K, type SearchOptions, type VectorHit } from './merged-search.ts';

/** A flush starts once the tail holds this many rows… */
export const DEFAULT_FLUSH_ROWS = 10_000;
export const MIN_FLUSH_ROWS = 1;
/** …or once its oldest row is this old (ms), so index lag stays bounded on a quiet table. */
export const DEFAULT_FLUSH_AGE_MS = 30_000;
/** The most search lanes a shareable index keeps scratch for. */
export const MAX_SEARCH_LANES = 256;

export interface VectorIndexOptions {
  dims: number;
  metric: Metric;
  /** HNSW M for new segments (DEFAULT_M). */
  m?: number;
  /** HNSW efConstruction for new segments (DEFAULT_EF_CONSTRUCTION). */
  efConstruction?: number;
  /** How segments keep their vectors in memory: float32 (`none`, the default), int8 or int16. */
  quantization?: Quantization;
  /**
   * The float32 original of a row, for the exact re-rank of a quantized index's candidates;
   * required when `quantization` is not `none` (the SQL layer reads the row from SQLite).
   */
  originals?: OriginalVectors;
  flushRows?: number;
  flushAgeMs?: number;
  mergePolicy?: Partial<MergePolicy>;
  /** Where graphs are built: a worker thread (default), inline on this thread, or a custom builder. */
  builder?: 'worker' | 'inline' | GraphBuilder;
  /** Flush and merge on their own when thresholds pass (default true); false: only flushNow/mergeNow. */
  autoMaintain?: boolean;
  /** Base seed of level generation; segment s uses seed + s, so rebuilds are reproducible. */
  seed?: number;
  /** Test hooks run at named points of a job (./lifecycle/segment-jobs.ts). */
  failPoints?: FailPoints;
  /**
   * Whether other threads may search views of the index (`exportView`): every array a search
   * reads then lives on shared memory. Default false.
   */
  shareable?: boolean;
  /**
   * Threads that may search at once, lane 0 being the owner's: each graph and tail keeps query
   * scratch for this many. Default 1 + availableParallelism() when shareable; must be 1 when not.
   */
  searchLanes?: number;
}

export interface SegmentStats {
  id: number;
  rows: number;
  aliveRows: number;
  deletedFraction: number;
  bytes: number;
}

export interface VectorIndexStats {
  dims: number;
  metric: Metric;
  m: number;
  efConstruction: number;
  quantization: Quantization;
  /** Live rows, wherever they are. */
  rows: number;
  /** Live rows in segments (in a graph). */
  indexedRows: number;
  /** Live rows not yet in a graph (tail plus the frozen tail of a running flush). */
  tailRows: number;
  segments: SegmentStats[];
  /** Index lag: rows not yet in a graph, and the age of the oldest of them in seconds. */
  lagRows: number;
  lagSeconds: number;
  build: { kind: 'flush' | 'merge'; rows: number; seconds: number } | null;
  builder: 'worker' | 'inline' | 'custom';
  lastError: string | null;
  memoryBytes: number;
}

export interface LoadResult {
  index: VectorIndex;
  /** Files that were missing, corrupt or do not match the options; empty when all loaded. */
  problems: LoadProblem[];
  /** What the caller passed to `save` as `meta` (e.g. the last applied change-log sequence). */
  meta: unknown;
}

export class VectorIndex {
  readonly dims: number;
  readonly metric: Metric;
  readonly m: number;
  readonly efConstruction: number;
  readonly quantization: Quantization;
  readonly shareable: boolean;
  readonly searchLanes: number;
  /** Names the index in its views (see IndexViewData.indexId). */
  private readonly indexId = randomUUID();
  private readonly flushRows: number;
  private readonly flushAgeMs: number;
  private readonly mergePolicy: MergePolicy;
  private readonly builderKind: 'worker' | 'inline' | 'custom';
  private readonly autoMaintain: boolean;
  /** Builds, numbers and tracks the segments of flushes and merges. */
  private readonly jobs: SegmentJobs;
  /** The segments, frozen tail and tail, and where each live row is. */
  private readonly layout: Layout;

  private chain: Promise<unknown> = Promise.resolve();
  private maintenanceQueued = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly persistState: PersistState = { dir: null, written: new Map() };

  /** The owner's search (lane 0), and the stored form of the vector being inserted. */
  private readonly searcher: MergedSearch;
  private readonly stored: Float32Array;

  constructor(options: VectorIndexOptions) {
    if (!Number.isInteger(options.dims) || options.dims < 1) {
      throw new QuiverError('PARAMETER_ERROR', `dims must be a positive integer; got ${options.dims}`);
    }
    const params = resolveHnswParams({ m: options.m, efConstruction: options.efConstruction });
    this.dims = options.dims;
    this.metric = options.metric;
    this.m = params.m;
    this.efConstruction = params.efConstruction;
    const quantization = options.quantization ?? 'none';
    if (!QUANTIZATIONS.includes(quantization)) {
      throw new QuiverError('PARAMETER_ERROR', `quantization must be one of ${QUANTIZATIONS.join(', ')}`);
    }
    if (quantization !== 'none' && options.originals === undefined) {
      throw new QuiverError('PARAMETER_ERROR', `quantization ${quantization} needs the float32 originals to re-rank from; none were given`);
    }
    this.quantization = quantization;
    this.shareable = options.shareable ?? false;
    this.searchLanes = options.searchLanes ?? (this.shareable ? 1 + os.availableParallelism() : 1);
    if (!Number.isInteger(this.searchLanes) || this.searchLanes < 1 || this.searchLanes > MAX_SEARCH_LANES) {
      throw new QuiverError('PARAMETER_ERROR', `searchLanes must be an integer from 1 to ${MAX_SEARCH_LANES}; got ${this.searchLanes}`);
    }
    if (!this.shareable && this.searchLanes !== 1) {
      throw new QuiverError('PARAMETER_ERROR', 'searchLanes above 1 needs shareable: only views are searched from other threads');
    }
    const reranker = quantization === 'none' ? null : new ExactReranker(this.metric, this.dims, options.originals!);
    this.searcher = new MergedSearch(this.metric, this.dims, quantization, reranker);
    this.flushRows = Math.max(MIN_FLUSH_ROWS, Math.floor(options.flushRows ?? DEFAULT_FLUSH_ROWS));
    this.flushAgeMs = Math.max(1, options.flushAgeMs ?? DEFAULT_FLUSH_AGE_MS);
    this.mergePolicy = { ...DEFAULT_MERGE_POLICY, ...options.mergePolicy };
    const builder = options.builder ?? 'worker';
    this.builderKind = typeof builder === 'string' ? builder : 'custom';
    this.autoMaintain = options.autoMaintain ?? true;
    this.jobs = new SegmentJobs(
      {
        dims: this.dims,
        metric: this.metric,
        m: this.m,
        efConstruction: this.efConstruction,
        quantization,
        seed: options.seed ?? DEFAULT_LEVEL_SEED,
        searchLanes: this.searchLanes,
        shareable: this.shareable,
      },
      builder === 'worker' ? new WorkerBuilder() : builder === 'inline' ? new InlineBuilder() : builder,
      options.failPoints ?? {},
      () => this.closed,
    );
    this.layout = { segments: [], frozen: null, tail: this.jobs.newTail(), location: new Map() };
    this.stored = new Float32Array(this.dims);
    if (this.autoMaintain) {
      this.timer = setInterval(() => this.checkAge(), Math.min(this.flushAgeMs, 1000));
      this.timer.unref();
    }
  }

  /** Live rows. */
  get size(): number {
    return this.layout.location.size;
  }

  has(rowId: number): boolean {
    return this.layout.location.has(rowId);
  }

  /** Every live row id, in no particular order (to reconcile with SQLite after a partial load). */
  rowIds(): IterableIterator<number> {
    return this.layout.location.keys();
  }

  /**
   * Adds or replaces the vector of `rowId`. Throws DIMENSION_MISMATCH / INVALID_VECTOR before
   * changing anything. The row is searchable on return.
   */
  insert(rowId: number, vector: ArrayLike<number>): void {
    this.checkOpen();
    if (!Number.isSafeInteger(rowId)) {
      throw new QuiverError('PARAMETER_ERROR', `a row id must be a safe integer; got ${rowId}`);
    }
    writeStored(this.metric, this.dims, vector, this.stored, 0);
    this.delete(rowId);
    this.layout.tail.insertStored(rowId, this.stored, Date.now());
    this.layout.location.set(rowId, this.layout.tail);
    if (this.autoMaintain && this.layout.tail.count >= this.flushRows) this.scheduleMaintenance();
  }

  /** Removes `rowId`; true if it was there. It is never returned again. */
  delete(rowId: number): boolean {
    const where = this.layout.location.get(rowId);
    if (where === undefined) return false;
    where.delete(rowId);
    this.layout.location.delete(rowId);
    return true;
  }

  /**
   * The k nearest live rows to `query` that pass `filter`, nearest first (ties by row id),
   * over every segment, the frozen tail and the tail. With a filter, returns exactly
   * min(k, matching rows): each segment falls back to an exact scan when its graph walk comes
   * back short. For very selective filters the SQL planner should pre-filter instead (score the
   * few survivors exactly); this path stays correct there, just slower. A quantized index takes
   * rerankPoolSize(k, quantization) candidates from each segment and re-scores the best that
   * many overall from the originals, so the distances returned are exact float32 ones either way.
   */
  search(query: ArrayLike<number>, options: SearchOptions): VectorHit[] {
    const { segments, frozen, tail } = this.layout;
    return this.searcher.search(segments, frozen === null ? [tail] : [frozen, tail], query, options);
  }

  /**
   * A snapshot of what `search` sees now, for other threads to search with an IndexViewReader
   * (./view-reader.ts) after posting it to them: references to the shared memory of every
   * segment and tail, copies of their alive bits. O(segments + live rows / 32); copies no
   * vectors. Needs `shareable`.
   */
  exportView(): IndexViewData {
    this.checkOpen();
    if (!this.shareable) throw new Error('exportView needs a VectorIndex created with shareable: true');
    return {
      indexId: this.indexId,
      dims: this.dims,
      metric: this.metric,
      quantization: this.quantization,
      m: this.m,
      lanes: this.searchLanes,
      segments: this.layout.segments.map((s) => s.viewData()),
      frozen: this.layout.frozen?.viewData() ?? null,
      tail: this.layout.tail.viewData(),
    };
  }

  /** Flushes the whole tail into a segment; resolves when it is installed (OPTIMIZE TABLE). */
  flushNow(): Promise<void> {
    return this.enqueue(() => flush(this.layout, this.jobs));
  }

  /**
   * Runs the merge policy until it has nothing to do; with `all`, merges every segment into
   * one and drops every deleted row. Resolves when the merges are installed.
   */
  mergeNow(options: { all?: boolean } = {}): Promise<void> {
    return this.enqueue(() => (options.all ? mergeAll(this.layout, this.jobs) : mergeByPolicy(this.layout, this.jobs, this.mergePolicy)));
  }

  /** Figures for the API and metrics; cheap, no I/O. */
  stats(): VectorIndexStats {
    const now = Date.now();
    const { tail, frozen } = this.layout;
    const running = this.jobs.running;
    const tailRows = tail.count + (frozen?.count ?? 0);
    const oldest = Math.min(
      tail.count > 0 ? tail.oldestAt : Infinity,
      frozen !== null && frozen.count > 0 ? frozen.oldestAt : Infinity,
    );
    const segments = this.layout.segments.map((s) => ({
      id: s.id,
      rows: s.rows,
      aliveRows: s.aliveRows,
      deletedFraction: s.deletedFraction,
      bytes: s.graph.byteLength() + s.rowIds.byteLength + s.alive.words.byteLength,
    }));
    const tailBytes = (t: Tail | null) => t?.byteLength() ?? 0;
    return {
      dims: this.dims,
      metric: this.metric,
      m: this.m,
      efConstruction: this.efConstruction,
      quantization: this.quantization,
      rows: this.layout.location.size,
      indexedRows: segments.reduce((sum, s) => sum + s.aliveRows, 0),
      tailRows,
      segments,
      lagRows: tailRows,
      lagSeconds: oldest === Infinity ? 0 : Math.max(0, (now - oldest) / 1000),
      build: running === null ? null : { kind: running.kind, rows: running.rows, seconds: (now - running.startedAt) / 1000 },
      builder: this.builderKind,
      lastError: this.jobs.lastError,
      memoryBytes: segments.reduce((sum, s) => sum + s.bytes, 0) + tailBytes(tail) + tailBytes(frozen),
    };
  }

  /**
   * Writes every segment and the tail to `dir` with a manifest naming the live files, then
   * removes files of this index that the manifest no longer names. Runs after any running job,
   * so it never captures half a flush; `meta` (JSON) is returned by `load`.
   */
  save(dir: string, meta: unknown = null): Promise<void> {
    return this.enqueue(async () => {
      const segments = this.layout.segments.map((s) => ({ segment: s, alive: s.alive.clone() }));
      const tail = this.layout.tail.snapshot(false);
      await saveIndexFiles(dir, {
        dims: this.dims,
        metric: this.metric,
        m: this.m,
        efConstruction: this.efConstruction,
        quantization: this.quantization,
        nextSegmentId: this.jobs.nextSegmentId,
        segments,
        tail: { rowIds: tail.rowIds, vectors: tail.arena.floats.subarray(0, tail.rowIds.length * this.dims) },
        meta,
      }, this.persistState);
    });
  }

  /**
   * Opens an index saved in `dir` with `options` (dims and metric must match the saved ones;
   * float32 segments are quantized on load when `options.quantization` asks for it).
   * Never throws for damaged files: missing or corrupt files are listed in `problems`, and the
   * index holds whatever could be read. The caller rebuilds from SQLite when problems is not
   * empty — fully, or by re-inserting rows that `has()` does not know.
   */
  static async load(dir: string, options: VectorIndexOptions): Promise<LoadResult> {
    const index = new VectorIndex(options);
    const loaded = await loadIndexFiles(dir, { dims: index.dims, metric: index.metric, quantization: index.quantization });
    const now = Date.now();
    for (const contents of loaded.segments) {
      let graph = new HnswGraph(contents.graph, undefined, index.searchLanes);
      if (graph.quantization !== index.quantization && index.quantization !== 'none') {
        graph = quantizeGraph(graph, index.quantization, index.dims, index.shareable);
      }
      index.installLoaded(index.jobs.segment(contents.id, graph, contents.rowIds, contents.alive));
    }
    if (loaded.tail !== null) {
      const { rowIds, vectors } = loaded.tail;
      for (let i = 0; i < rowIds.length; i++) {
        if (index.layout.location.has(rowIds[i])) continue;
        index.layout.tail.insertStored(rowIds[i], vectors.subarray(i * index.dims, (i + 1) * index.dims), now);
        index.layout.location.set(rowIds[i], index.layout.tail);
      }
    }
    index.jobs.skipIdsBelow(loaded.nextSegmentId);
    index.persistState.dir = null;
    return { index, problems: loaded.problems, meta: loaded.meta };
  }

  private installLoaded(segment: Segment): void {
    // Rows alive in two files (a crash between two saves cannot do this, a hand edit could):
    // the first segment keeps the row, later copies are masked.
    for (let n = 0; n < segment.rows; n++) {
      if (!segment.alive.isAlive(n)) continue;
      const rowId = segment.rowIds[n];
      if (this.layout.location.has(rowId)) segment.alive.kill(n);
      else this.layout.location.set(rowId, segment);
    }
    this.layout.segments.push(segment);
    this.jobs.skipIdsBelow(segment.id + 1);
  }

  /**
   * Waits for running jobs, stops the timer and the worker. The index is unusable after; views
   * taken before stay searchable.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.chain.catch(() => {});
    await this.jobs.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the vector index is closed');
  }

  /** Runs `job` after every job queued before it, whatever their outcome. */
  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    this.checkOpen();
    const run = this.chain.then(job, job);
    this.chain = run.catch(() => {});
    return run;
  }

  private checkAge(): void {
    if (this.closed || this.layout.tail.count === 0) return;
    if (Date.now() - this.layout.tail.oldestAt >= this.flushAgeMs) this.scheduleMaintenance();
  }

  private scheduleMaintenance(): void {
    if (this.maintenanceQueued || this.closed) return;
    this.maintenanceQueued = true;
    this.enqueue(async () => {
      this.maintenanceQueued = false;
      const tail = this.layout.tail;
      if (tail.count >= this.flushRows || (tail.count > 0 && Date.now() - tail.oldestAt >= this.flushAgeMs)) {
        await flush(this.layout, this.jobs);
      }
      await mergeByPolicy(this.layout, this.jobs, this.mergePolicy);
    }).catch(() => {
      // Recorded in lastError by the job; the rows stay searchable where they were.
    });
  }
}
