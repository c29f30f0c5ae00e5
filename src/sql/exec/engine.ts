/**
 * @module exec/engine
 * The engine: the door of the SQL engine. It opens the data dir and runs requests. A request
 * of SELECTs only is a read: parsed, checked and planned here (the catalog and the vector
 * indexes live on this thread), then run on a read worker (../workers/) in parallel with other
 * reads and the writer (DESIGN decision 8). Every other request goes to the writer
 * (writer.ts), which holds the one connection that writes — on a thread of its own when the
 * engine is opened with `writerThread` (the server does), so no statement a client writes runs
 * on this thread's event loop. What the writer needs of this thread (the indexes, the
 * embedding providers, the disk) it asks through the WriterHost this engine implements, and
 * around each commit the engine holds reads' snapshots off (commit-gate.ts) until the indexes
 * have applied it. What it answers itself is in admin.ts; what it does when the data dir's disk
 * is full, in disk-space.ts.
 */
import path from 'node:path';
import type Database from 'better-sqlite3';
import { QuiverError, type EmbeddingSource } from '../../core/index.ts';
import type { SearchOptions, VectorHit } from '../../index/index.ts';
import { makePrivateDir } from '../../util/index.ts';
import { Catalog } from '../catalog/index.ts';
import { checkRole } from '../check/index.ts';
import type { A } from '../dialect/index.ts';
import { EmbeddingCalls, inEmbeddingRounds, type EmbeddingRound, type MissingTexts, type ReadMisses } from '../functions/index.ts';
import { IndexRegistry, SavesHeldError, type IndexRegistryOptions } from '../index-sync/index.ts';
import { Planner, restrictToCandidates, type PlannerOptions } from '../plan/index.ts';
import { DEFAULT_LIMITS, ParamCursor, StatementCache, effectiveTimeoutMs, registerDeadlineFunction, type Limits } from '../runtime/index.ts';
import type { EngineOptions, ExecuteOptions, ExecuteResult, Params, StatementResult } from '../types.ts';
import { ReadFailure, ReadPool, type ReadSearch, type ReadStatement, type WriterFallback } from '../workers/index.ts';
import { indexStatuses, showClusterStatus, showEmbeddingModels, showIndexStatus, showProcessList } from './admin.ts';
import type { BackupResult } from './backup.ts';
import { CommitGate } from './commit-gate.ts';
import { openDatabase } from './connection.ts';
import { DATABASE_FILE, DataDirLock } from './data-dir.ts';
import { DiskSpace } from './disk-space.ts';
import type { EngineStats } from './engine-stats.ts';
import { rowsResult, ResultShapes, shapeRows, type ResultShape } from './results.ts';
import { Scripts, type CompiledScript } from './scripts.ts';
import { statementError } from './sqlite-errors.ts';
import { Writer } from './writer.ts';
import type { CommitInfo, EngineShow, IndexSummary, WriterApi, WriterHost } from './writer-host.ts';
import { WriterThread } from './writer-thread-client.ts';
import { waitBudget } from './writer-lock.ts';
import type { LogEntry } from './writer-log.ts';
import { AppliedPositions } from './applied-positions.ts';
import { WRITE_KINDS } from './transactions.ts';
import type { LogPosition } from '../replication/index.ts';
import type { ReplicatedLog } from './replicated-log.ts';

/** A table as Engine.describeTable reports it: plain data, safe to hand outside src/sql. */
export interface TableDescription {
  name: string;
  withoutRowid: boolean;
  columns: {
    name: string;
    /** As declared (`VECTOR(100)`, `TEXT`); null if untyped. */
    declaredType: string | null;
    /** n of a VECTOR(n) column; null otherwise. */
    vectorDims: number | null;
    /** A generated column's expression in Quiver's dialect (e.g. `EMBEDDING(doc, 'm', 100)`); null otherwise. */
    generatedExpr: string | null;
    /** When that expression is an EMBEDDING() call: the column its text comes from (if a column) and the model. */
    embedding: { source: string | undefined; model: string } | null;
    primaryKey: boolean;
  }[];
  vectorIndexes: { name: string; column: string; metric: 'cosine' | 'euclidean' | 'dot' }[];
  fulltextIndexes: { name: string; columns: string[] }[];
}

/** SQL that may call EMBEDDING(): a read's texts are then embedded before it runs (embedding-calls.ts). */
const CALLS_EMBEDDING = /\bembedding\s*\(/i;

/**
 * Requests longer than this are not parsed here to see whether they are reads: the writer
 * parses them (on its thread), and runs them whatever they are, so no request holds this
 * thread for long in the parser.
 */
const MAX_READ_CHARS = 256 * 1024;

/** Options of Engine.open beyond the data dir. */
export interface OpenOptions extends EngineOptions {
  embeddings?: EmbeddingSource;
  index?: IndexRegistryOptions;
  planner?: PlannerOptions;
  /** Read worker threads (read-pool.ts); 0, the default, runs every statement on the writer. */
  readWorkers?: number;
  /**
   * With read workers: search the vector indexes on the workers too, over views of them in
   * shared memory (search-step.ts), rather than on this thread while planning. Default true.
   */
  searchOnWorkers?: boolean;
  /**
   * Run the writer on a thread of its own (writer-thread.ts), so that no statement a client
   * writes runs on this thread: what the server does. Default false: on this thread.
   */
  writerThread?: boolean;
  /**
   * SQLite's `synchronous` setting in WAL mode. FULL (the default): an acknowledged COMMIT
   * survives power loss. NORMAL: it survives a crash of Quiver, but the last commits may be
   * lost on power loss or an OS crash; commits are faster (no fsync per commit).
   */
  synchronous?: 'FULL' | 'NORMAL';
  limits?: Partial<Limits>;
  /**
   * Cluster mode: the replicated log every write goes through before it commits (src/cluster
   * supplies it). Absent, the default: a single node.
   */
  log?: ReplicatedLog;
  /**
   * Bytes kept in reserve in `<dataDir>/quiver.reserve` for deletes to run in when the disk
   * fills (disk-space.ts). Default 0: no reserve file; the server keeps 64 MiB.
   */
  diskReserveBytes?: number;
}

export class Engine implements WriterHost {
  /** The engine's own connection: the catalog, planning, the change log the indexes apply. It writes nothing but the log's pruning. */
  private db: Database.Database | null;
  private readonly catalog: Catalog;
  private readonly scripts: Scripts;
  private readonly prepared: StatementCache;
  /** This process's hold on the data dir. */
  private readonly dataDirLock: DataDirLock;
  private readonly shapes: ResultShapes;
  private readonly embeddingCalls: EmbeddingCalls;
  /** Requests waiting on an embedding provider, for SHOW PROCESSLIST. */
  private readonly fetching = new Set<EmbeddingRound>();
  private readonly indexes: IndexRegistry;
  private readonly planner: Planner;
  private readonly limits: Limits;
  /** Runs plain reads off this thread; null when the engine has no read workers. */
  private readonly pool: ReadPool | null;
  /** Whether reads search the vector indexes on their worker (OpenOptions.searchOnWorkers). */
  private readonly searchOnWorkers: boolean;
  /** The data dir's disk: its reserve, and disk-full mode. */
  private readonly disk: DiskSpace;
  /** Held by a read taking its snapshot, and by the writer around a commit. */
  private readonly gate = new CommitGate();
  /** The writer holding the gate for a commit, until commitDone. */
  private commitRelease: (() => void) | null = null;
  private readonly writer: WriterApi;
  /** Whether `writer.ready()` has resolved, for stats(). */
  private writerReady = false;
  /** Requests sent to the writer and not answered yet, for stats(). */
  private writerRequests = 0;
  private closed = false;
  /** Cluster mode: the log; null on a single node. */
  private readonly log: ReplicatedLog | null;
  /** Cluster mode: the last log position committed here, and the reads waiting for one. */
  private readonly positions = new AppliedPositions();

  private constructor(db: Database.Database, lock: DataDirLock, options: OpenOptions) {
    this.db = db;
    this.dataDirLock = lock;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.prepared = new StatementCache((sql) => db.prepare(sql));
    const workers = options.readWorkers ?? 0;
    const file = path.join(options.dataDir, DATABASE_FILE);
    const { maxQueuedReads: maxQueued, maxQueuedPerClient, maxReadsPerClient: maxPerClient } = this.limits;
    this.pool = workers > 0 ? new ReadPool(file, workers, { maxQueued, maxQueuedPerClient, maxPerClient }) : null;
    this.embeddingCalls = new EmbeddingCalls(options.embeddings ?? null);
    this.embeddingCalls.register(db);
    // Reads are prepared here (for their result shapes) and run on workers, which check their deadlines.
    registerDeadlineFunction(db, () => {});
    this.catalog = new Catalog(db);
    this.shapes = new ResultShapes(this.catalog);
    this.searchOnWorkers = workers > 0 && (options.searchOnWorkers ?? true);
    this.indexes = new IndexRegistry(db, this.catalog, options.dataDir, {
      ...options.index,
      searchLanes: this.searchOnWorkers ? workers + 1 : 1,
      onClosed: this.searchOnWorkers ? (name) => this.pool!.forgetIndex(name) : undefined,
      onSaveFailed: (e) => void this.disk.failed(e),
    });
    this.planner = new Planner(db, this.catalog, this.indexes, options.planner);
    this.scripts = new Scripts(this.limits, this.catalog, this.planner);
    this.disk = new DiskSpace(options.dataDir, {
      reserveBytes: options.diskReserveBytes ?? 0,
      onChange: (full) => {
        this.indexes.holdSaves(full);
        options.embeddings?.holdWrites?.(full);
      },
      reclaim: () => this.writer.reclaimSpace(),
    });
    this.log = options.log ?? null;
    const writerOptions = {
      file,
      synchronous: options.synchronous ?? 'FULL',
      limits: this.limits,
      planner: options.planner,
      embeddings: options.embeddings !== undefined,
      replicated: this.log !== null,
    };
    this.writer = options.writerThread ? new WriterThread(writerOptions, this) : Writer.open(writerOptions, this);
    // A writer that fails to start says so to ready()'s callers and to every request.
    this.writer.ready().then(() => (this.writerReady = true), () => {});
    this.disk.start();
  }

  /** Opens (creating if needed) the database under `options.dataDir`, its writer and its vector indexes. */
  static open(options: OpenOptions): Engine {
    makePrivateDir(options.dataDir);
    const lock = DataDirLock.acquire(options.dataDir);
    let db: Database.Database | undefined;
    try {
      db = openDatabase(path.join(options.dataDir, DATABASE_FILE), options.synchronous ?? 'FULL');
      return new Engine(db, lock, options);
    } catch (e) {
      db?.close();
      lock.release();
      throw e;
    }
  }

  /** Resolves once the engine takes requests without waiting for its writer's thread to start; rejects if it cannot. */
  async ready(): Promise<void> {
    await this.writer.ready();
    const at = await this.writer.logPosition();
    if (at) this.positions.advance(at.position);
  }

  /** Cluster mode: where this data dir stands in the log (its identity, position and epoch). */
  async logPosition(): Promise<LogPosition> {
    const at = await this.writer.logPosition();
    if (!at) throw new Error('logPosition: the engine was opened without a log');
    return at;
  }

  /** Cluster mode: the last log position committed here. */
  get appliedPosition(): number {
    return this.positions.current;
  }

  /** Cluster mode: resolves true once position `at` is committed here, false if `timeoutMs` passes first. */
  waitForPosition(at: number, timeoutMs: number): Promise<boolean> {
    return this.positions.waitFor(at, timeoutMs);
  }

  /** Cluster mode, on a replica: applies one entry of the log, in one transaction with its position. */
  async applyLogEntry(entry: LogEntry): Promise<void> {
    if (!this.db) throw new QuiverError('DATABASE_CLOSED', 'the database is closed');
    await this.writer.apply(entry);
    // An entry without rows commits no changeset, so the writer's commit carries no position.
    this.positions.advance(entry.position);
  }

  get isOpen(): boolean {
    return this.db !== null && this.db.open;
  }

  /** The engine's numbers for probes and metrics, read on this thread without a query (engine-stats.ts). */
  stats(): EngineStats {
    const pool = this.pool?.stats();
    return {
      open: this.isOpen,
      writerReady: this.writerReady,
      writerRequests: this.writerRequests,
      readWorkers: pool ? { workers: pool.workers, busy: pool.busy, queued: pool.queued } : null,
      indexes: this.db ? indexStatuses(this.catalog, this.indexes) : [],
    };
  }

  /**
   * What the catalog says about table `name` (case-insensitive), for callers above SQL such as
   * /v1/chat; undefined when there is no such table. The engine's catalog holds what is
   * committed, so it never shows another request's DDL half-way.
   */
  async describeTable(name: string): Promise<TableDescription | undefined> {
    if (!this.db) throw new QuiverError('DATABASE_CLOSED', 'the database is closed');
    const t = this.catalog.table(name);
    if (!t) return undefined;
    return {
      name: t.name,
      withoutRowid: t.withoutRowid,
      columns: t.columnRows.map((c) => ({
        name: c.name,
        declaredType: c.declaredType,
        vectorDims: c.vectorDims,
        generatedExpr: c.generatedExpr,
        embedding: c.embedding && { source: c.embedding.source, model: c.embedding.model },
        primaryKey: c.primaryKey,
      })),
      vectorIndexes: t.vectorIndexes.map((v) => ({ name: v.name, column: v.column, metric: v.metric })),
      fulltextIndexes: t.fulltextIndexes.map((f) => ({ name: f.name, columns: [...f.columns] })),
    };
  }

  /**
   * Closes the database (checkpointing the WAL) without saving the vector indexes: the next
   * start replays the change log into them. A request still running is cut short (a write's
   * transaction is rolled back). Safe to call twice.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.disk.close();
    void this.pool?.close();
    this.indexes.close();
    this.writer.close();
    this.db?.close();
    this.db = null;
    this.dataDirLock.release();
  }

  /** Waits for the requests running on the writer, saves the vector indexes, then closes: what a clean server stop does. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    await this.writer.drain();
    await this.pool?.close();
    if (this.db) await this.indexes.shutdown();
    this.close();
  }

  /**
   * Copies the database into `destFile` with SQLite's online backup API while requests go on
   * (backup.ts): the file holds every request committed by the time it completes, whole. The
   * vector indexes are not copied; a restored data dir builds them from their tables.
   */
  backup(destFile: string): Promise<BackupResult> {
    if (!this.db) return Promise.reject(new QuiverError('DATABASE_CLOSED', 'the database is closed'));
    return this.writer.backup(destFile);
  }

  /**
   * Runs every statement of `sql` in order under the request's transaction rules: a read on a
   * read worker, anything else on the writer (writer.ts says how EMBEDDING() fetches there).
   */
  async execute(sql: string, params?: Params, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    if (!this.db) throw new QuiverError('DATABASE_CLOSED', 'the database is closed');
    // Parsed here when short: to see whether it is a read, and, if not, to admit it on the disk's state.
    const statements = sql.length <= MAX_READ_CHARS ? this.scripts.compile(sql).statements : undefined;
    if (this.pool && statements?.every((s) => s.kind === 'select')) {
      const read = await this.read(sql, params, options);
      if (typeof read !== 'string') return read;
    }
    if (statements) this.disk.admit(statements.map((s) => s.kind));
    if (this.log && (!statements || statements.some((s) => WRITE_KINDS.has(s.kind)))) this.log.checkWritable();
    this.writerRequests++;
    try {
      return await this.writer.execute(sql, params, options, statements !== undefined);
    } finally {
      this.writerRequests--;
    }
  }

  /** Fetches what `round` missed, with no lock held, within the per-request and queue limits. */
  private async fetchMisses(round: EmbeddingRound): Promise<void> {
    // A read worker's misses may all have been in the cache (takeMissed): nothing to admit.
    if (!round.hasMisses) return;
    this.admitEmbeddingFetch(round);
    this.fetching.add(round);
    try {
      await round.fetchMisses(logProgress);
    } finally {
      this.fetching.delete(round);
    }
  }

  /**
   * A request of SELECTs only, on a read worker: parsed, checked and planned here under the
   * commit gate (the catalog and the vector indexes live on this thread), then run off it —
   * index searches included, over views of the indexes taken with the worker's snapshot — in
   * parallel with other reads and the writer, under the statement timeout. The texts its
   * EMBEDDING() calls write are embedded first, before the worker and the gate are taken, and
   * travel with it. Texts only its rows hold (EMBEDDING(doc, 'm'), a call inside a view) are
   * found by a collecting run on the worker, which answers with them instead of rows
   * (../functions/read-embedding-calls.ts); they are fetched as a write's are, with neither the
   * gate nor the worker held, and the read runs again with them. Answers why instead when the
   * request needs the writer's connection after all (WriterFallback).
   */
  private async read(sql: string, params: Params | undefined, options: ExecuteOptions): Promise<ExecuteResult | WriterFallback> {
    const round = this.embeddingCalls.newRound();
    if (CALLS_EMBEDDING.test(sql) && round?.prefetchWritten(this.scripts.compile(sql).statements, params, this.catalog)) await this.fetchMisses(round);
    return inEmbeddingRounds(round, () => this.readOnce(sql, params, options, round), (r) => this.fetchMisses(r));
  }

  /**
   * One run of a read: planned here under the gate, run on a worker. A run after a fetch is a
   * new read — a new worker, a new snapshot and view, planned again under the gate — so it may
   * see later commits than the run before; that is correct, since nothing of that run was
   * returned: the answer comes from one snapshot, searches and SQL alike. Its waits for a
   * worker and the gate count against its timeout (a fetch before it does not).
   */
  private async readOnce(
    sql: string,
    params: Params | undefined,
    options: ExecuteOptions,
    round: EmbeddingRound | null,
  ): Promise<ExecuteResult | WriterFallback | 'fetch embeddings'> {
    const script = this.scripts.compile(sql);
    const statements: ReadStatement[] = [];
    const shapes: ResultShape[] = [];
    const queuedAt = Date.now();
    // The worker first, then the gate: a commit never waits on a busy pool.
    const lease = await this.pool!.lease(waitBudget(this.limits, options, queuedAt));
    try {
      const release = await this.gate.acquire();
      let i = 0;
      // Planning evaluates query vectors on this connection; a text not at hand is answered
      // with a placeholder and recorded, and fetched before the read runs again.
      this.embeddingCalls.current = round;
      try {
        if (!this.db) throw new QuiverError('DATABASE_CLOSED', 'the database is closed');
        if (options.role) checkRole(script.statements, options.role);
        const efSearch = typeof options.efSearch === 'number' ? options.efSearch : undefined;
        const cursor = new ParamCursor(params);
        for (; i < script.statements.length; i++) {
          const s = script.statements[i];
          let lowered = this.scripts.lowered(script, i, sql);
          let args = cursor.take(lowered);
          let searches: ReadSearch[] | undefined;
          if (script.vectorQueries?.[i]) {
            // The read must see the rows the index sees now, however long it waits for a worker:
            // its snapshot and the index search (or, searching on the worker, the view) are both
            // taken here, under the gate.
            await lease.snapshot();
            const ready = restrictToCandidates(this.planner, this.catalog, s, sql, lowered, args, { efSearch, searchHere: !this.searchOnWorkers });
            ({ lowered, args } = ready);
            if (ready.deferred.length > 0) searches = ready.deferred.map((d) => ({ param: d.param, step: d.step, index: this.indexes.exportView(d.index) }));
          }
          shapes.push(this.shapes.of(this.prepared.get(lowered.sql), lowered));
          statements.push({ sql: lowered.sql, args, searches });
        }
        cursor.finish();
        if (round?.hasMisses) return 'fetch embeddings';
      } catch (e) {
        // A placeholder may be what failed; the next run will tell.
        if (round?.hasMisses) return 'fetch embeddings';
        // Only the writer's connection has TEMP tables; for a table that does not exist at all, its run says so.
        if (isNoSuchTable(e)) return 'temp-table';
        throw statementError(e instanceof ReadFailure ? e.error : e, script.statements[Math.min(i, script.statements.length - 1)], i, sql);
      } finally {
        this.embeddingCalls.current = null;
        release();
      }
      const { maxRows, maxResultBytes } = this.limits;
      const timeoutMs = effectiveTimeoutMs(this.limits, options.timeoutMs);
      const embeddings = round?.forReadWorker();
      const reply = await lease.run({ statements, maxRows, maxResultBytes, timeoutMs, since: queuedAt, embeddings }).catch((e: unknown): WriterFallback => {
        if (!(e instanceof ReadFailure)) throw e;
        if (isNoSuchTable(e.error)) return 'temp-table';
        throw statementError(e.error, script.statements[e.index], e.index, sql);
      });
      if (typeof reply === 'string') return reply;
      if ('misses' in reply) {
        await this.takeMissed(reply.misses, round, script, sql);
        return 'fetch embeddings';
      }
      return {
        results: reply.rows.map((r, j) => ({ columns: shapes[j].names, rows: shapeRows(r, shapes[j]), changes: 0, lastInsertId: null })),
        kinds: script.statements.map((s) => s.kind),
      };
    } finally {
      lease.release();
    }
  }

  /**
   * The texts a worker's run missed, taken into `round` to be fetched: their dims resolved and
   * the cache looked up here, where the models and the cache are. A bad model or dims, or a miss
   * in the last run, is reported at the statement that missed, as EMBEDDING() reports it.
   */
  private async takeMissed(misses: ReadMisses[], round: EmbeddingRound | null, script: CompiledScript, sql: string): Promise<void> {
    const wanted = misses.map((m) => {
      try {
        return this.embeddingCalls.resolveMissed(m, round?.collecting ?? false);
      } catch (e) {
        throw statementError(e, script.statements[m.statement], m.statement, sql);
      }
    });
    // resolveMissed throws when there is no embedding model, and so no round.
    await round!.takeMissed(wanted);
  }

  /** Refuses a fetch past the per-request text limit, or when the providers' queue is full. */
  private admitEmbeddingFetch(round: EmbeddingRound): void {
    const texts = round.missCount;
    if (texts > this.limits.maxEmbeddingTexts) {
      throw new QuiverError(
        'LIMIT_EXCEEDED',
        `the request needs ${texts} texts embedded; at most ${this.limits.maxEmbeddingTexts} are allowed per request (QUIVER_MAX_EMBEDDING_TEXTS): split it. Nothing was written`,
      );
    }
    let queued = 0;
    for (const r of this.fetching) queued += r.progress ? r.progress.total - r.progress.done : 0;
    if (queued > 0 && queued + texts > this.limits.maxQueuedEmbeddings) {
      throw new QuiverError(
        'OVERLOADED',
        `${queued} texts are already waiting on embedding providers (QUIVER_MAX_QUEUED_EMBEDDINGS); retry shortly. Nothing was written`,
        { retryAfterSeconds: 1 },
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // WriterHost: what the writer asks of this thread

  index(name: string): IndexSummary | undefined {
    const state = this.indexes.state(name);
    if (state === undefined) return undefined;
    const index = this.indexes.ready(name);
    const stats = index?.stats();
    const ready = index && stats ? { size: index.size, dims: index.dims, segments: stats.segments.length, tailRows: stats.tailRows } : undefined;
    return { state, ready, appliedSeq: this.indexes.applied };
  }

  search(name: string, query: Float32Array, options: SearchOptions): VectorHit[] {
    const index = this.indexes.ready(name);
    if (!index) throw new Error(`vector index ${name} was planned but is not ready`);
    return index.search(query, options);
  }

  resolveDims(model: string, dims: number | undefined): number {
    return this.source.resolveDims(model, dims);
  }

  cached(model: string, dims: number, texts: string[]): (Float32Array | undefined)[] {
    return this.source.cached(model, dims, texts);
  }

  listModels(): ReturnType<EmbeddingSource['listModels']> {
    return this.embeddingCalls.source?.listModels() ?? [];
  }

  admit(kinds: readonly A.Statement['kind'][]): void {
    this.disk.admit(kinds);
  }

  diskFailed(error: unknown, what?: string): unknown {
    return this.disk.failed(error, what);
  }

  async commitStarting(): Promise<void> {
    this.commitRelease = await this.gate.acquire();
  }

  async commitDone(info: CommitInfo | null): Promise<void> {
    try {
      if (info && this.db) this.afterCommit(info);
      if (info?.position !== undefined) this.positions.advance(info.position);
    } finally {
      const release = this.commitRelease;
      this.commitRelease = null;
      release?.();
    }
  }

  async fetchEmbeddings(misses: MissingTexts[]): Promise<Float32Array[][]> {
    const round = this.embeddingCalls.newRound();
    if (!round) throw new QuiverError('UNKNOWN_MODEL', 'EMBEDDING(): no embedding model is configured');
    round.expect(misses);
    await this.fetchMisses(round);
    return round.vectorsOf(misses);
  }

  append(changes: Uint8Array): Promise<{ position: number; epoch: number }> {
    if (!this.log) return Promise.reject(new Error('append: the engine was opened without a log'));
    return this.log.append(changes);
  }

  async lostCommit(position: number): Promise<void> {
    this.log?.lostCommit(position);
  }

  /** OPTIMIZE TABLE: the table's vector indexes flush their tails, merge their segments and are saved. */
  async optimize(tableName: string): Promise<StatementResult> {
    const table = this.catalog.table(tableName);
    if (!table) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${tableName}`);
    try {
      await this.indexes.optimize(table.name);
    } catch (e) {
      const what =
        `OPTIMIZE TABLE ${table.name} flushed and merged its vector indexes but could not save them. Nothing is lost: ` +
        'they answer from memory, and the change log keeps what their files lack';
      // Held: the disk filled while it merged, and its save was not tried.
      throw e instanceof SavesHeldError ? this.disk.fullError(what, e) : this.disk.failed(e, what);
    }
    const message = table.vectorIndexes.length ? `${table.vectorIndexes.length} vector index(es) flushed, merged and saved` : 'no vector index to optimize';
    return rowsResult(['Table', 'Op', 'Msg_type', 'Msg_text'], [[table.name, 'optimize', 'status', message]]);
  }

  show(what: EngineShow, table: string | undefined): StatementResult {
    if (what === 'EMBEDDING MODELS') return showEmbeddingModels(this.embeddingCalls.source);
    if (what === 'PROCESSLIST') return showProcessList(this.fetching);
    if (what === 'CLUSTER STATUS') return showClusterStatus(this.log);
    return showIndexStatus(this.catalog, this.indexes, table);
  }

  /** The embedding models: the writer calls for them only when they are configured (WriterOptions.embeddings). */
  private get source(): EmbeddingSource {
    const source = this.embeddingCalls.source;
    if (!source) throw new QuiverError('UNKNOWN_MODEL', 'EMBEDDING(): no embedding model is configured');
    return source;
  }

  /** Brings the catalog and the vector indexes up to date with a commit of the writer's. */
  private afterCommit(info: CommitInfo): void {
    if (info.schemaChanged) {
      this.prepared.clear();
      this.catalog.invalidate();
      this.indexes.sync();
      for (const table of info.rebuiltTables) this.indexes.rebuildTable(table);
    }
    this.indexes.applyCommitted();
  }

}

function isNoSuchTable(e: unknown): boolean {
  return e instanceof Error && /^no such table/.test(e.message);
}

/** Large fetches (a backfill, a bulk insert) report their progress in the server log. */
function logProgress(p: { model: string; done: number; total: number; startedAt: number }): void {
  if (p.total >= 1000) console.log(`quiver: embedding with ${p.model}: ${p.done}/${p.total} texts (${((Date.now() - p.startedAt) / 1000).toFixed(1)} s)`);
}
