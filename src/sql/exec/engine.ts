/**
 * @module exec/engine
 * The engine: opens the database, and runs a request's SQL — parse, check, lower to SQLite
 * (planning vector queries), bind, run, shape the results — under the request's transaction
 * rules (transactions.ts). Parsed scripts are cached by SQL text and lowered SQL by catalog
 * version, so a repeated statement costs one map lookup and SQLite's own prepared statement.
 * Writes run synchronously on the calling thread, one request at a time; requests made only of
 * SELECTs are planned here and run on read workers (../workers/) when the engine has them
 * (DESIGN decision 8). What it answers itself is in admin.ts, EXPLAIN in ../plan/explain.ts;
 * what it does when the data dir's disk is full, in disk-space.ts.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { QuiverError, isQuiverError, type EmbeddingSource } from '../../core/index.ts';
import { resolveEfSearch } from '../../index/index.ts';
import { ensurePrivateFile, makePrivateDir } from '../../util/index.ts';
import { Catalog, DdlRunner, Introspector, migrateCatalog } from '../catalog/index.ts';
import { checkRole, checkUserObjects } from '../check/index.ts';
import { parseScript, positionOf, type A } from '../dialect/index.ts';
import { EmbeddingCalls, registerVectorFunctions, type EmbeddingRound } from '../functions/index.ts';
import { IndexRegistry, SavesHeldError, registerFulltextFunctions, type IndexRegistryOptions } from '../index-sync/index.ts';
import { lowerExpression, lowerStatement, type LoweredStatement } from '../lower/index.ts';
import { Planner, checkExplainable, explainResult, restrictToCandidates, type PlannerOptions, type RestrictOptions } from '../plan/index.ts';
import { DEFAULT_LIMITS, ParamCursor, StatementCache, effectiveTimeoutMs, registerDeadlineFunction, tooManyStatements, type Limits } from '../runtime/index.ts';
import type { EngineOptions, ExecuteOptions, ExecuteResult, Params, SqlValue, StatementResult } from '../types.ts';
import { ReadFailure, ReadPool, type ReadSearch, type ReadStatement, type WriterFallback } from '../workers/index.ts';
import { showEmbeddingModels, showIndexStatus, showProcessList } from './admin.ts';
import { backupDatabase, type BackupResult } from './backup.ts';
import { DATABASE_FILE, DataDirLock } from './data-dir.ts';
import { DiskSpace, WRITER_BUSY_TIMEOUT_MS, giveBackSpace } from './disk-space.ts';
import { Mutex } from './mutex.ts';
import { RequestContext } from './request-context.ts';
import { emptyResult, normalizeInteger, ResultShapes, rowsResult, shapeRows, type ResultShape } from './results.ts';
import { translateSqliteError } from './sqlite-errors.ts';
import { checkTransactionOrder, isExplicit, needsImplicitTransaction, SCHEMA_KINDS } from './transactions.ts';

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

const MAX_CACHED_SCRIPTS = 1000;
/** Runs of a request that may fetch embeddings; the last one treats a miss as an error. */
const MAX_EMBEDDING_ROUNDS = 3;

/** SQL that may call EMBEDDING(): a read's texts are then embedded before it runs (embedding-calls.ts). */
const CALLS_EMBEDDING = /\bembedding\s*\(/i;

/** Options of Engine.open beyond the data dir. */
export interface OpenOptions extends EngineOptions {
  embeddings?: EmbeddingSource;
  index?: IndexRegistryOptions;
  planner?: PlannerOptions;
  /** Read worker threads (read-pool.ts); 0, the default, runs every statement on the calling thread. */
  readWorkers?: number;
  /**
   * With read workers: search the vector indexes on the workers too, over views of them in
   * shared memory (search-step.ts), rather than on this thread while planning. Default true.
   */
  searchOnWorkers?: boolean;
  /**
   * SQLite's `synchronous` setting in WAL mode. FULL (the default): an acknowledged COMMIT
   * survives power loss. NORMAL: it survives a crash of Quiver, but the last commits may be
   * lost on power loss or an OS crash; commits are faster (no fsync per commit).
   */
  synchronous?: 'FULL' | 'NORMAL';
  limits?: Partial<Limits>;
  /**
   * Bytes kept in reserve in `<dataDir>/quiver.reserve` for deletes to run in when the disk
   * fills (disk-space.ts). Default 0: no reserve file; the server keeps 64 MiB.
   */
  diskReserveBytes?: number;
}

/** Statement kinds that change rows, and with RETURNING also return them. */
const ROW_WRITES = new Set<A.Statement['kind']>(['insert', 'update', 'delete']);

/** What a row write's `changes` and `lastInsertId` are when it ran as a reader (RETURNING). */
const CHANGES_SQL = 'SELECT changes(), last_insert_rowid()';

/** Statement kinds that can call EMBEDDING(). */
const EMBEDDING_KINDS = new Set<A.Statement['kind']>(['select', 'insert', 'update', 'delete', 'createTable', 'alterTable']);

interface CompiledScript {
  statements: A.Statement[];
  /** Per statement: whether it holds a vector query the planner may answer from an index. */
  vectorQueries?: boolean[];
  lowered: ({ version: number; statement: LoweredStatement } | undefined)[];
}

export class Engine {
  private db: Database.Database | null;
  private readonly catalog: Catalog;
  private readonly ddl: DdlRunner;
  private readonly introspector: Introspector;
  private readonly scripts = new Map<string, CompiledScript>();
  private readonly prepared: StatementCache;
  /** Held by the request using the writer's connection. */
  private readonly writerLock = new Mutex();
  /** This process's hold on the data dir. */
  private readonly dataDirLock: DataDirLock;
  private readonly shapes: ResultShapes;
  private readonly embeddingCalls: EmbeddingCalls;
  /** Requests waiting on an embedding provider, for SHOW PROCESSLIST. */
  private readonly fetching = new Set<EmbeddingRound>();

  private readonly indexes: IndexRegistry;
  private readonly planner: Planner;
  /** The catalog version the vector indexes were last synced with. */
  private schemaVersion = -1;
  private readonly limits: Limits;
  /** The request holding the lock on the writer's connection. */
  private request: RequestContext;
  /** Runs plain reads off this thread; null when the engine has no read workers. */
  private readonly pool: ReadPool | null;
  /** Requests waiting for the lock on the writer's connection (the writer queue). */
  private queuedWrites = 0;
  /** Whether reads search the vector indexes on their worker (OpenOptions.searchOnWorkers). */
  private readonly searchOnWorkers: boolean;
  /** The data dir's disk: its reserve, and disk-full mode. */
  private readonly disk: DiskSpace;

  private constructor(db: Database.Database, embeddingCalls: EmbeddingCalls, lock: DataDirLock, options: OpenOptions) {
    this.db = db;
    this.dataDirLock = lock;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.request = new RequestContext(this.limits, {});
    this.prepared = new StatementCache((sql) => db.prepare(sql));
    const workers = options.readWorkers ?? 0;
    this.pool = workers > 0 ? new ReadPool(path.join(options.dataDir, DATABASE_FILE), workers, this.limits.maxQueuedReads) : null;
    this.embeddingCalls = embeddingCalls;
    this.catalog = new Catalog(db);
    this.shapes = new ResultShapes(this.catalog);
    this.ddl = new DdlRunner(db, this.catalog, embeddingCalls.source);
    this.introspector = new Introspector(db, this.catalog);
    this.searchOnWorkers = workers > 0 && (options.searchOnWorkers ?? true);
    this.indexes = new IndexRegistry(db, this.catalog, options.dataDir, {
      ...options.index,
      searchLanes: this.searchOnWorkers ? workers + 1 : 1,
      onClosed: this.searchOnWorkers ? (name) => this.pool!.forgetIndex(name) : undefined,
      onSaveFailed: (e) => void this.disk.failed(e),
    });
    this.planner = new Planner(db, this.catalog, this.indexes, options.planner);
    // The deadline of whichever request holds the connection.
    registerDeadlineFunction(db, () => this.checkDeadline());
    this.disk = new DiskSpace(options.dataDir, {
      reserveBytes: options.diskReserveBytes ?? 0,
      onChange: (full) => {
        this.indexes.holdSaves(full);
        embeddingCalls.source?.holdWrites?.(full);
      },
      reclaim: () => this.reclaimSpace(),
    });
    this.disk.start();
  }

  /** Gives the space deletes freed back to the file system, under the writer's lock (disk-full mode). */
  private async reclaimSpace(): Promise<void> {
    const release = await this.writerLock.acquire();
    try {
      if (this.db && !this.db.inTransaction) giveBackSpace(this.db);
    } finally {
      release();
    }
  }

  /** Called as statements step (limits.ts DEADLINE_FUNCTION, and per row a read returns): stops one past its timeout. */
  private checkDeadline(): void {
    this.request.deadline.check(this.inTransaction);
  }

  /** Whether the timed-out statement's transaction is rolled back: asked only on a timeout, as asking costs as much as a check. */
  private readonly inTransaction = (): boolean => this.db?.inTransaction ?? false;

  /** Opens (creating if needed) the database under `options.dataDir`, and its vector indexes. */
  static open(options: OpenOptions): Engine {
    const embeddingCalls = new EmbeddingCalls(options.embeddings ?? null);
    makePrivateDir(options.dataDir);
    const lock = DataDirLock.acquire(options.dataDir);
    let db: Database.Database | undefined;
    try {
      const file = path.join(options.dataDir, DATABASE_FILE);
      // Created 0600 before SQLite opens it: its -wal and -shm files then take the same mode.
      ensurePrivateFile(file);
      db = new Database(file);
      // Takes effect in a new database only (before its first table): deletes' free pages can
      // then be given back to the file system when the disk is full (disk-space.ts).
      db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      db.pragma(`busy_timeout = ${WRITER_BUSY_TIMEOUT_MS}`);
      // REPLACE's implicit deletes must fire the vector indexes' capture triggers.
      db.pragma('recursive_triggers = ON');
      registerVectorFunctions(db);
      registerFulltextFunctions(db);
      embeddingCalls.register(db);
      migrateCatalog(db);
      return new Engine(db, embeddingCalls, lock, options);
    } catch (e) {
      db?.close();
      lock.release();
      throw e;
    }
  }

  get isOpen(): boolean {
    return this.db !== null && this.db.open;
  }

  /**
   * What the catalog says about table `name` (case-insensitive), for callers above SQL such as
   * /v1/chat; undefined when there is no such table. Read-only, and read under the engine's
   * lock so it never shows another request's DDL half-way.
   */
  async describeTable(name: string): Promise<TableDescription | undefined> {
    const release = await this.writerLock.acquire();
    try {
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
    } finally {
      release();
    }
  }

  /**
   * Closes the database (checkpointing the WAL) without saving the vector indexes: the next
   * start replays the change log into them. Safe to call twice.
   */
  close(): void {
    this.disk.close();
    void this.pool?.close();
    this.indexes.close();
    this.db?.close();
    this.db = null;
    this.dataDirLock.release();
  }

  /** Saves the vector indexes, then closes: what a clean server stop does. */
  async shutdown(): Promise<void> {
    const release = await this.writerLock.acquire();
    try {
      await this.pool?.close();
      if (this.db) await this.indexes.shutdown();
      this.close();
    } finally {
      release();
    }
  }

  /**
   * Copies the database into `destFile` with SQLite's online backup API while requests go on
   * (backup.ts): the file holds every request committed by the time it completes, whole. The
   * vector indexes are not copied; a restored data dir builds them from their tables.
   */
  async backup(destFile: string): Promise<BackupResult> {
    if (!this.db) throw new QuiverError('DATABASE_CLOSED', 'the database is closed');
    return backupDatabase(this.db, destFile);
  }

  /**
   * Runs every statement of `sql` in order under the request's transaction rules.
   *
   * EMBEDDING() never waits on the network inside SQLite (see embedding-calls.ts). When a run
   * misses embeddings, what happens to others while the provider answers depends on the
   * request's shape:
   * - no BEGIN in the request: its work is rolled back and the engine's lock released before
   *   the texts are fetched, so other readers and writers go on; then the request runs again.
   * - BEGIN ... COMMIT in the request: its transaction is open and must stay open, so the lock
   *   is held while the texts are fetched, and other requests wait (at most the provider's
   *   timeout times its retries).
   */
  async execute(sql: string, params?: Params, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    if (this.pool && this.compile(sql).statements.every((s) => s.kind === 'select')) {
      const read = await this.read(sql, params, options);
      if (typeof read !== 'string') return read;
    }
    if (this.queuedWrites >= this.limits.maxQueuedWrites) {
      throw new QuiverError(
        'OVERLOADED',
        `${this.queuedWrites} requests are already waiting for the writer (QUIVER_MAX_QUEUED_WRITES); retry shortly`,
        { retryAfterSeconds: 1 },
      );
    }
    const round = this.embeddingCalls.newRound();
    for (let attempt = 1; ; attempt++) {
      if (round) round.collecting = attempt < MAX_EMBEDDING_ROUNDS;
      this.queuedWrites++;
      const release = await this.writerLock.acquire().finally(() => this.queuedWrites--);
      let outcome: ExecuteResult | 'fetch embeddings';
      try {
        this.embeddingCalls.current = round;
        outcome = await this.executeLocked(sql, params, options, round);
      } finally {
        this.embeddingCalls.current = null;
        release();
      }
      if (outcome !== 'fetch embeddings') return outcome;
      await this.fetchMisses(round!);
    }
  }

  /** Fetches what `round` missed, with no lock held, within the per-request and queue limits. */
  private async fetchMisses(round: EmbeddingRound): Promise<void> {
    this.admitEmbeddingFetch(round);
    this.fetching.add(round);
    try {
      await round.fetchMisses(logProgress);
    } finally {
      this.fetching.delete(round);
    }
  }

  /**
   * A request of SELECTs only, on a read worker: parsed, checked and planned here under the lock
   * (the catalog and the vector indexes live on this thread), then run off it — index searches
   * included, over views of the indexes taken with the worker's snapshot — in parallel with
   * other reads and the writer, under the statement timeout. The texts its EMBEDDING() calls
   * write are embedded first, before the worker and the lock are taken, and travel with it.
   * Answers why instead when the request needs the writer's connection after all.
   */
  private async read(sql: string, params: Params | undefined, options: ExecuteOptions): Promise<ExecuteResult | WriterFallback> {
    const script = this.compile(sql);
    const statements: ReadStatement[] = [];
    const shapes: ResultShape[] = [];
    const round = CALLS_EMBEDDING.test(sql) ? this.embeddingCalls.newRound() : null;
    if (round?.prefetchWritten(script.statements, params, this.catalog)) await this.fetchMisses(round);
    // The worker first, then the lock: the writer never waits on a busy pool.
    const lease = await this.pool!.lease();
    try {
      const release = await this.writerLock.acquire();
      let i = 0;
      // Planning evaluates query vectors on this connection; a text not fetched above is
      // answered with a placeholder and recorded, and the writer then runs the request.
      this.embeddingCalls.current = round;
      try {
        const db = this.db;
        if (!db) throw new QuiverError('DATABASE_CLOSED', 'the database is closed');
        if (options.role) checkRole(script.statements, options.role);
        const efSearch = typeof options.efSearch === 'number' ? options.efSearch : undefined;
        const cursor = new ParamCursor(params);
        for (; i < script.statements.length; i++) {
          const s = script.statements[i];
          let lowered = this.lowered(script, i, sql);
          if (!round && CALLS_EMBEDDING.test(lowered.sql)) return 'embedding-not-at-hand';
          let args = cursor.take(lowered);
          let searches: ReadSearch[] | undefined;
          if (script.vectorQueries?.[i]) {
            // The read must see the rows the index sees now, however long it waits for a worker:
            // its snapshot and the index search (or, searching on the worker, the view) are both
            // taken here, under the lock.
            await lease.snapshot();
            const ready = restrictToCandidates(this.planner, this.catalog, s, sql, lowered, args, { efSearch, searchHere: !this.searchOnWorkers });
            ({ lowered, args } = ready);
            if (ready.deferred.length > 0) searches = ready.deferred.map((d) => ({ param: d.param, step: d.step, index: this.indexes.exportView(d.index) }));
          }
          shapes.push(this.shapes.of(this.prepared.get(lowered.sql), lowered));
          statements.push({ sql: lowered.sql, args, searches });
        }
        cursor.finish();
        if (round?.hasMisses) return 'embedding-not-at-hand';
      } catch (e) {
        // A placeholder may be what failed; the writer's run will tell.
        if (round?.hasMisses) return 'embedding-not-at-hand';
        throw this.userError(e instanceof ReadFailure ? e.error : e, script.statements[Math.min(i, script.statements.length - 1)], i, sql);
      } finally {
        this.embeddingCalls.current = null;
        release();
      }
      const { maxRows, maxResultBytes } = this.limits;
      const timeoutMs = effectiveTimeoutMs(this.limits, options.timeoutMs);
      const embeddings = round?.exportVectors();
      const rows = await lease.run({ statements, maxRows, maxResultBytes, timeoutMs, embeddings }).catch((e: unknown): WriterFallback => {
        if (!(e instanceof ReadFailure)) throw e;
        // The writer's connection prepared it, so the table is one only that connection has: TEMP.
        if (/^no such table/.test(e.error.message)) return 'temp-table';
        throw this.userError(e.error, script.statements[e.index], e.index, sql);
      });
      if (typeof rows === 'string') return rows;
      return { results: rows.map((r, j) => ({ columns: shapes[j].names, rows: shapeRows(r, shapes[j]), changes: 0, lastInsertId: null })) };
    } finally {
      lease.release();
    }
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

  private async executeLocked(
    sql: string,
    params: Params | undefined,
    options: ExecuteOptions,
    round: EmbeddingRound | null,
  ): Promise<ExecuteResult | 'fetch embeddings'> {
    const db = this.db;
    if (!db) throw new QuiverError('DATABASE_CLOSED', 'the database is closed');
    this.request = new RequestContext(this.limits, options);
    try {
      return await this.runScript(db, sql, params, round, options);
    } finally {
      // Whatever committed (all of it, some statements of an explicit request, or nothing)
      // reaches the vector indexes before the next request runs.
      if (this.db && !db.inTransaction) this.afterCommit();
    }
  }

  private async runScript(
    db: Database.Database,
    sql: string,
    params: Params | undefined,
    round: EmbeddingRound | null,
    options: ExecuteOptions,
  ): Promise<ExecuteResult | 'fetch embeddings'> {
    const script = this.compile(sql);
    if (options.role) checkRole(script.statements, options.role);
    this.disk.admit(script.statements);
    const cursor = new ParamCursor(params);
    const { statements } = script;
    const explicit = isExplicit(statements);
    if (explicit) checkTransactionOrder(statements, sql);
    // Writes always run in a transaction, so a run with embedding placeholders can be undone.
    const wrap = !explicit && needsImplicitTransaction(statements);
    // Texts written in the request are fetched before its first run (lock released, as after a
    // collecting run): when they are all its EMBEDDING() calls need, it runs once.
    if (round && round.prefetchWritten(statements, params, this.catalog)) return 'fetch embeddings';
    const results: StatementResult[] = [];
    let index = 0;
    try {
      if (wrap) db.exec('BEGIN');
      for (; index < statements.length; index++) {
        this.request.statementIndex = index;
        const kind = statements[index].kind;
        if (kind === 'optimize') results.push(await this.optimize(statements[index] as A.OptimizeStatement));
        else if (explicit && round && EMBEDDING_KINDS.has(kind)) {
          results.push(await this.runWithEmbeddings(script, index, cursor, sql, round));
        } else {
          results.push(this.runStatement(script, index, cursor, sql));
        }
        if (explicit && !db.inTransaction) this.afterCommit();
      }
      if (round?.hasMisses) {
        if (db.inTransaction) db.exec('ROLLBACK');
        this.afterRollback();
        return 'fetch embeddings';
      }
      cursor.finish();
      if (wrap) db.exec('COMMIT');
      if (explicit && db.inTransaction) {
        throw new QuiverError('TRANSACTION_ERROR', 'a transaction was left open; end it with COMMIT or ROLLBACK. Its changes were rolled back');
      }
      return { results };
    } catch (e) {
      if (db.inTransaction) {
        db.exec('ROLLBACK');
        this.afterRollback();
      }
      // A failure in a run with placeholders may be the placeholders' doing: fetch, run again.
      if (round?.hasMisses && !explicit) return 'fetch embeddings';
      throw this.userError(e, statements[Math.min(index, statements.length - 1)], index, sql);
    }
  }

  /** One statement of an explicit transaction, fetching its embeddings under a savepoint. */
  private async runWithEmbeddings(script: CompiledScript, i: number, cursor: ParamCursor, source: string, round: EmbeddingRound): Promise<StatementResult> {
    const db = this.db!;
    for (let attempt = 1; ; attempt++) {
      round.collecting = attempt < MAX_EMBEDDING_ROUNDS;
      const replay = cursor.mark();
      db.exec('SAVEPOINT __quiver_embedding');
      try {
        const result = this.runStatement(script, i, cursor, source);
        if (!round.hasMisses) {
          db.exec('RELEASE __quiver_embedding');
          return result;
        }
      } catch (e) {
        if (!round.hasMisses) {
          db.exec('ROLLBACK TO __quiver_embedding; RELEASE __quiver_embedding');
          throw e;
        }
      }
      db.exec('ROLLBACK TO __quiver_embedding; RELEASE __quiver_embedding');
      cursor.reset(replay);
      this.admitEmbeddingFetch(round);
      await round.fetchMisses();
    }
  }

  private compile(sql: string): CompiledScript {
    const cached = this.scripts.get(sql);
    if (cached) return cached;
    const statements = parseScript(sql, this.limits.maxSqlTokens);
    if (statements.length === 0) throw new QuiverError('BAD_REQUEST', 'the request holds no SQL statement');
    if (statements.length > this.limits.maxStatements) throw tooManyStatements(statements.length, this.limits);
    // Whatever the role, before anything runs or is cached: reads, writes and EXPLAIN all compile here.
    checkUserObjects(statements, sql);
    const script: CompiledScript = { statements, lowered: new Array(statements.length) };
    if (this.scripts.size >= MAX_CACHED_SCRIPTS) this.scripts.delete(this.scripts.keys().next().value!);
    this.scripts.set(sql, script);
    return script;
  }

  /** The SQLite form of statement `i`, lowered against the current catalog. */
  private lowered(script: CompiledScript, i: number, source: string): LoweredStatement {
    const cached = script.lowered[i];
    if (cached && cached.version === this.catalog.version) return cached.statement;
    const statement = lowerStatement(script.statements[i], this.catalog, source);
    script.lowered[i] = { version: this.catalog.version, statement };
    // Whether the planner has work here depends on the catalog too: worked out at the same time.
    (script.vectorQueries ??= [])[i] = this.planner.candidates(script.statements[i]).length > 0;
    return statement;
  }

  /** How statements with vector queries are made ready on the writer's connection: searched here. */
  private get restrictHere(): RestrictOptions {
    return { efSearch: this.request.efSearch, searchHere: true };
  }

  private runStatement(script: CompiledScript, i: number, cursor: ParamCursor, source: string): StatementResult {
    const s = script.statements[i];
    const db = this.db!;
    const empty = emptyResult();
    switch (s.kind) {
      case 'transaction':
        db.exec(this.lowered(script, i, source).sql);
        if (s.action === 'ROLLBACK') this.afterRollback();
        return empty;
      case 'show':
        if (s.what === 'EMBEDDING MODELS') return showEmbeddingModels(this.embeddingCalls.source);
        if (s.what === 'PROCESSLIST') return showProcessList(this.fetching);
        if (s.what === 'INDEX STATUS') return showIndexStatus(this.catalog, this.indexes, s.table);
        return this.introspector.run({ ...s, what: s.what });
      case 'set':
        return this.set(s, source);
      case 'optimize':
        throw new Error('OPTIMIZE runs in runScript');
      case 'explain': {
        checkExplainable(s.statement);
        const plain = lowerStatement(s.statement, this.catalog, source);
        return explainResult(db, restrictToCandidates(this.planner, this.catalog, s.statement, source, plain, cursor.take(plain), this.restrictHere));
      }
      case 'pragma':
        return this.run(this.lowered(script, i, source), [], s.kind);
      case 'createTable':
        this.schemaChange(() => this.ddl.createTable(s, source));
        return empty;
      case 'createVectorIndex':
        this.schemaChange(() => this.ddl.createVectorIndex(s));
        return empty;
      case 'createFulltextIndex':
        this.schemaChange(() => this.ddl.createFulltextIndex(s));
        return empty;
      case 'drop': {
        const lowered = this.lowered(script, i, source);
        this.schemaChange(() => this.ddl.drop(s, lowered.sql));
        return empty;
      }
      case 'alterTable': {
        const lowered = this.lowered(script, i, source);
        this.schemaChange(() => this.ddl.alterTable(s, lowered.sql, source));
        return empty;
      }
      case 'truncate': {
        const lowered = this.lowered(script, i, source);
        db.transaction(() => this.ddl.truncate(s, lowered.sql))();
        return empty;
      }
      case 'select': {
        const lowered = this.lowered(script, i, source);
        const args = cursor.take(lowered);
        if (!script.vectorQueries?.[i]) return this.run(lowered, args, s.kind);
        const ready = restrictToCandidates(this.planner, this.catalog, s, source, lowered, args, this.restrictHere);
        return this.run(ready.lowered, ready.args, s.kind);
      }
      default: {
        const lowered = this.lowered(script, i, source);
        const args = cursor.take(lowered);
        if (SCHEMA_KINDS.has(s.kind)) {
          this.schemaChange(() => {
            db.prepare(lowered.sql).run(...args);
            for (const extra of lowered.after) db.exec(extra);
          });
          return empty;
        }
        return this.run(lowered, args, s.kind);
      }
    }
  }

  /** Runs a schema change atomically (a savepoint inside a request's transaction). */
  private schemaChange(change: () => void): void {
    try {
      this.db!.transaction(change)();
    } finally {
      this.prepared.clear();
      this.catalog.invalidate();
    }
  }

  /** After a rollback: if the undone work changed the schema, forget what was derived from it. */
  private afterRollback(): void {
    if (this.schemaVersion === this.catalog.version) return;
    this.prepared.clear();
    this.catalog.invalidate();
  }

  /** Brings the vector indexes up to date with what is committed. */
  private afterCommit(): void {
    if (this.schemaVersion !== this.catalog.version) {
      this.indexes.sync();
      for (const table of this.ddl.takeRebuiltTables()) this.indexes.rebuildTable(table);
      this.schemaVersion = this.catalog.version;
    }
    this.indexes.applyCommitted();
  }

  private set(s: A.SetStatement, source: string): StatementResult {
    if (s.name !== 'vidx_hnsw_ef_search') {
      throw new QuiverError('UNSUPPORTED_STATEMENT', `unknown setting ${s.name}; the settable one is vidx_hnsw_ef_search`);
    }
    const value = this.db!.prepare(`SELECT ${lowerExpression(s.value, this.catalog, source)}`).pluck().get();
    this.request.efSearch = resolveEfSearch(Number(value));
    return emptyResult();
  }

  /** OPTIMIZE TABLE: the table's vector indexes flush their tails, merge their segments and are saved. */
  private async optimize(s: A.OptimizeStatement): Promise<StatementResult> {
    const table = this.catalog.table(s.table.name);
    if (!table) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${s.table.name}`);
    // What this request wrote must be in the index before it is flushed.
    if (!this.db!.inTransaction) this.afterCommit();
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

  private run(lowered: LoweredStatement, args: unknown[], kind: A.Statement['kind']): StatementResult {
    const stmt = this.prepared.get(lowered.sql);
    const request = this.request;
    return request.timed(() => {
      if (!stmt.reader) {
        const info = stmt.run(...args);
        return emptyResult(info.changes, kind === 'insert' ? normalizeInteger(info.lastInsertRowid) : null);
      }
      const shape = this.shapes.of(stmt, lowered);
      const rows: SqlValue[][] = [];
      for (const row of stmt.iterate(...args) as Iterable<SqlValue[]>) {
        rows.push(row);
        request.budget.add(row, rows.length, request.statementIndex);
        this.checkDeadline();
      }
      const result = rowsResult(shape.names, shapeRows(rows, shape));
      if (!ROW_WRITES.has(kind)) return result;
      // A write with RETURNING is a reader to better-sqlite3, which counts no changes for it;
      // SQLite's own count is set once the statement has run to its end.
      const [changes, lastInsertId] = this.prepared.get(CHANGES_SQL).raw(true).safeIntegers(true).get() as [bigint, bigint];
      return { ...result, changes: Number(changes), lastInsertId: kind === 'insert' ? normalizeInteger(lastInsertId) : null };
    });
  }

  /** `e` as a QuiverError placed at its statement, or `e` itself when it is not the user's (nor a full disk). */
  private userError(e: unknown, statement: A.Statement | undefined, index: number, sql: string): unknown {
    const translated = translateSqliteError(this.disk.failed(e));
    if (!isQuiverError(translated)) return translated;
    if (statement) {
      translated.statementIndex ??= index;
      translated.position ??= positionOf(sql, statement.start);
    }
    return translated;
  }
}

/** Large fetches (a backfill, a bulk insert) report their progress in the server log. */
function logProgress(p: { model: string; done: number; total: number; startedAt: number }): void {
  if (p.total >= 1000) console.log(`quiver: embedding with ${p.model}: ${p.done}/${p.total} texts (${((Date.now() - p.startedAt) / 1000).toFixed(1)} s)`);
}
