/**
 * @module engine
 * The engine: opens the database, and runs a request's SQL — parse, emit for SQLite, bind, run,
 * shape the results — with the request's transaction rules:
 * - no BEGIN/COMMIT in the request: all statements run in one transaction, all or nothing;
 * - BEGIN/COMMIT/ROLLBACK in the request: they run as written; a failure rolls back the open
 *   transaction, and a transaction left open at the end is rolled back with an error.
 * Parsed scripts are cached by SQL text and emitted SQL by catalog version, so a repeated
 * statement costs one map lookup and SQLite's own prepared statement.
 * Writes run synchronously on the calling thread, one request at a time; requests made only of
 * SELECTs are planned here and run on read workers (read-pool.ts) when the engine has them
 * (DESIGN decision 8).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type * as A from '../dialect/ast.ts';
import { backupDatabase, type BackupResult } from './backup.ts';
import { Catalog, migrateCatalog } from '../catalog/catalog.ts';
import { DdlRunner } from '../catalog/ddl.ts';
import { resolveEfSearch } from '../../index/index.ts';
import { emitExpression, emitStatement, type EmittedStatement } from '../lower/emit.ts';
import { QuiverError, isQuiverError, decodeVector } from '../../core/index.ts';
import { Introspector } from '../catalog/introspect.ts';
import { positionOf } from '../dialect/lexer.ts';
import { EmbeddingCalls, type EmbeddingRound, type EmbeddingSource } from '../functions/embedding-calls.ts';
import { Mutex } from './mutex.ts';
import { bindRowIds, ParamCursor } from './params.ts';
import { checkRole } from '../check/roles.ts';
import { parseScript } from '../dialect/index.ts';
import { Planner, type PlannerOptions, type VectorPlan } from '../plan/planner.ts';
import { translateSqliteError } from './sqlite-errors.ts';
import type { EngineOptions, ExecuteOptions, ExecuteResult, Params, SqlValue, StatementResult } from '../types.ts';
import { registerFulltextFunctions } from '../index-sync/fulltext.ts';
import { registerVectorFunctions } from '../functions/vector-functions.ts';
import { VectorIndexes, type VectorIndexesOptions } from '../index-sync/index-registry.ts';
import { DEADLINE_FUNCTION, DEFAULT_LIMITS, effectiveTimeoutMs, ResultBudget, statementTimedOut, tooManyStatements, type Limits } from './limits.ts';
import { NEEDS_WRITER, ReadFailure, ReadPool } from '../workers/read-pool.ts';
import type { ReadSearch, ReadStatement } from '../workers/read-protocol.ts';

export const DATABASE_FILE = 'quiver.db';

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
    primaryKey: boolean;
  }[];
  vectorIndexes: { name: string; column: string; metric: 'cosine' | 'euclidean' | 'dot' }[];
  fulltextIndexes: { name: string; columns: string[] }[];
}
const MAX_CACHED_SCRIPTS = 1000;
const MAX_CACHED_STATEMENTS = 1000;
/** Runs of a request that may fetch embeddings; the last one treats a miss as an error. */
const MAX_EMBEDDING_ROUNDS = 3;

/** SQL that may call EMBEDDING(): a read's texts are then embedded before it runs (embedding-calls.ts). */
const CALLS_EMBEDDING = /\bembedding\s*\(/i;

/** Options of Engine.open beyond the data dir. */
export interface OpenOptions extends EngineOptions {
  embeddings?: EmbeddingSource;
  index?: VectorIndexesOptions;
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
}

/** Statement kinds that write: they always run inside a transaction. */
const WRITE_KINDS = new Set<A.Statement['kind']>([
  'insert', 'update', 'delete', 'createTable', 'createIndex', 'createVectorIndex', 'createFulltextIndex', 'createView',
  'createTrigger', 'drop', 'alterTable', 'truncate',
]);

/** Statement kinds that can call EMBEDDING(). */
const EMBEDDING_KINDS = new Set<A.Statement['kind']>(['select', 'insert', 'update', 'delete', 'createTable', 'alterTable']);

/** Statement kinds that change the schema: they invalidate cached emissions and statements. */
const SCHEMA_KINDS = new Set<A.Statement['kind']>([
  'createTable', 'createIndex', 'createVectorIndex', 'createFulltextIndex', 'createView', 'createTrigger', 'drop', 'alterTable',
]);

/** PRAGMAs a user may read. Everything else (writing settings, files, safety) is refused. */
const READABLE_PRAGMAS = new Set([
  'table_info', 'table_xinfo', 'table_list', 'index_list', 'index_info', 'index_xinfo', 'foreign_key_list',
  'foreign_key_check', 'integrity_check', 'quick_check', 'compile_options', 'collation_list', 'function_list',
  'pragma_list', 'page_count', 'page_size', 'freelist_count', 'encoding', 'user_version', 'schema_version',
  'data_version', 'journal_mode', 'synchronous', 'foreign_keys', 'application_id',
]);

/** PRAGMAs that take an argument naming a table or index (reads, not settings). */
const PRAGMAS_WITH_ARGUMENT = new Set([
  'table_info', 'table_xinfo', 'index_list', 'index_info', 'index_xinfo', 'foreign_key_list', 'foreign_key_check',
  'integrity_check', 'quick_check', 'table_list',
]);

interface ResultShape {
  version: number;
  names: string[];
  isVector: boolean[];
}

interface CompiledScript {
  statements: A.Statement[];
  /** Per statement: whether it holds a vector query the planner may answer from an index. */
  vectorQueries?: boolean[];
  emitted: ({ version: number; statement: EmittedStatement } | undefined)[];
}

export class Engine {
  private db: Database.Database | null;
  private readonly catalog: Catalog;
  private readonly ddl: DdlRunner;
  private readonly introspector: Introspector;
  private readonly scripts = new Map<string, CompiledScript>();
  private readonly prepared = new Map<string, Database.Statement>();
  private readonly lock = new Mutex();
  private readonly shapes = new WeakMap<Database.Statement, ResultShape>();
  private readonly embeddingCalls: EmbeddingCalls;
  /** Requests waiting on an embedding provider, for SHOW PROCESSLIST. */
  private readonly fetching = new Set<EmbeddingRound>();

  private readonly indexes: VectorIndexes;
  private readonly planner: Planner;
  /** The catalog version the vector indexes were last synced with. */
  private schemaVersion = -1;
  /** Settings of the request holding the lock (SET vidx_hnsw_ef_search, request options). */
  private settings: { efSearch?: number } = {};
  private readonly limits: Limits;
  /** What the request holding the lock has returned so far, against the result limits. */
  private budget: ResultBudget;
  /** Runs plain reads off this thread; null when the engine has no read workers. */
  private readonly pool: ReadPool | null;
  /** Requests waiting for the lock on the writer's connection (the writer queue). */
  private queuedWrites = 0;
  /** The statement of the request holding the lock that is running, for limit errors. */
  private statementIndex = 0;
  /** Whether reads search the vector indexes on their worker (OpenOptions.searchOnWorkers). */
  private readonly searchOnWorkers: boolean;
  /** The statement timeout of the request holding the lock, and when its running statement must stop. */
  private timeoutMs = 0;
  private deadline = Infinity;

  private constructor(db: Database.Database, embeddingCalls: EmbeddingCalls, options: OpenOptions) {
    this.db = db;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.budget = new ResultBudget(this.limits);
    const workers = options.readWorkers ?? 0;
    this.pool = workers > 0 ? new ReadPool(path.join(options.dataDir, DATABASE_FILE), workers, this.limits.maxQueuedReads) : null;
    this.embeddingCalls = embeddingCalls;
    this.catalog = new Catalog(db);
    this.ddl = new DdlRunner(db, this.catalog, embeddingCalls.source);
    this.introspector = new Introspector(db, this.catalog);
    this.searchOnWorkers = workers > 0 && (options.searchOnWorkers ?? true);
    this.indexes = new VectorIndexes(db, this.catalog, options.dataDir, {
      ...options.index,
      searchLanes: this.searchOnWorkers ? workers + 1 : 1,
      onClosed: this.searchOnWorkers ? (name) => this.pool!.forgetIndex(name) : undefined,
    });
    this.planner = new Planner(db, this.catalog, this.indexes, options.planner);
    db.function(DEADLINE_FUNCTION, { deterministic: false }, () => this.checkDeadline());
  }

  /** Called as statements step (limits.ts DEADLINE_FUNCTION, and per row a read returns): stops one past its timeout. */
  private checkDeadline(): 1 {
    if (Date.now() > this.deadline) throw statementTimedOut(this.timeoutMs, this.db?.inTransaction ?? false);
    return 1;
  }

  /** Opens (creating if needed) the database under `options.dataDir`, and its vector indexes. */
  static open(options: OpenOptions): Engine {
    const embeddingCalls = new EmbeddingCalls(options.embeddings ?? null);
    fs.mkdirSync(options.dataDir, { recursive: true });
    const db = new Database(path.join(options.dataDir, DATABASE_FILE));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      db.pragma('busy_timeout = 5000');
      // REPLACE's implicit deletes must fire the vector indexes' capture triggers.
      db.pragma('recursive_triggers = ON');
      registerVectorFunctions(db);
      registerFulltextFunctions(db);
      embeddingCalls.register(db);
      migrateCatalog(db);
    } catch (e) {
      db.close();
      throw e;
    }
    return new Engine(db, embeddingCalls, options);
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
    const release = await this.lock.acquire();
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
    void this.pool?.close();
    this.indexes.close();
    this.db?.close();
    this.db = null;
  }

  /** Saves the vector indexes, then closes: what a clean server stop does. */
  async shutdown(): Promise<void> {
    const release = await this.lock.acquire();
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
      if (read) return read;
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
      const release = await this.lock.acquire().finally(() => this.queuedWrites--);
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
   * Undefined when the request needs the writer's connection after all: EMBEDDING() of a text
   * only its rows hold (or inside a view), or a TEMP table.
   */
  private async read(sql: string, params: Params | undefined, options: ExecuteOptions): Promise<ExecuteResult | undefined> {
    const script = this.compile(sql);
    const statements: ReadStatement[] = [];
    const shapes: ResultShape[] = [];
    const round = CALLS_EMBEDDING.test(sql) ? this.embeddingCalls.newRound() : null;
    if (round?.prefetchWritten(script.statements, params, this.catalog)) await this.fetchMisses(round);
    // The worker first, then the lock: the writer never waits on a busy pool.
    const lease = await this.pool!.lease();
    try {
      const release = await this.lock.acquire();
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
          let emitted = this.emitted(script, i, sql);
          if (!round && CALLS_EMBEDDING.test(emitted.sql)) return undefined;
          let args = cursor.take(emitted);
          let searches: ReadSearch[] | undefined;
          if (script.vectorQueries?.[i]) {
            // The read must see the rows the index sees now, however long it waits for a worker:
            // its snapshot and the index search (or, searching on the worker, the view) are both
            // taken here, under the lock.
            await lease.snapshot();
            const planned = this.planner.plan(s, sql, args, efSearch);
            if (planned.searches.size > 0 && this.searchOnWorkers) {
              emitted = emitStatement(s, 'sqlite', this.catalog, sql, planned.searches);
              searches = [...planned.searches].map(([core, plan]) => ({
                param: emitted.rowIdParams.get(core)!,
                step: plan.step!,
                index: this.indexes.exportView(plan.index),
              }));
            } else if (planned.searches.size > 0) {
              const restrictions = this.planner.search(planned);
              emitted = emitStatement(s, 'sqlite', this.catalog, sql, restrictions);
              args = bindRowIds(args, emitted, restrictions);
            }
          }
          shapes.push(this.resultShape(this.prepare(emitted.sql), emitted));
          statements.push({ sql: emitted.sql, args, searches });
        }
        cursor.finish();
        if (round?.hasMisses) return undefined;
      } catch (e) {
        // A placeholder may be what failed; the writer's run will tell.
        if (round?.hasMisses) return undefined;
        throw this.userError(e instanceof ReadFailure ? e.error : e, script.statements[Math.min(i, script.statements.length - 1)], i, sql);
      } finally {
        this.embeddingCalls.current = null;
        release();
      }
      const { maxRows, maxResultBytes } = this.limits;
      const timeoutMs = effectiveTimeoutMs(this.limits, options.timeoutMs);
      const embeddings = round?.exportVectors();
      const rows = await lease.run({ statements, maxRows, maxResultBytes, timeoutMs, embeddings }).catch((e: unknown): typeof NEEDS_WRITER => {
        if (!(e instanceof ReadFailure)) throw e;
        // The writer's connection prepared it, so the table is one only that connection has: TEMP.
        if (/^no such table/.test(e.error.message)) return NEEDS_WRITER;
        throw this.userError(e.error, script.statements[e.index], e.index, sql);
      });
      if (rows === NEEDS_WRITER) return undefined;
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
    this.settings = { efSearch: typeof options.efSearch === 'number' ? options.efSearch : undefined };
    this.timeoutMs = effectiveTimeoutMs(this.limits, options.timeoutMs);
    this.budget = new ResultBudget(this.limits);
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
    const cursor = new ParamCursor(params);
    const { statements } = script;
    const explicit = statements.some((s) => s.kind === 'transaction');
    if (explicit) checkTransactionOrder(statements, sql);
    // Writes always run in a transaction, so a run with embedding placeholders can be undone.
    const wrap = !explicit && (statements.length > 1 || WRITE_KINDS.has(statements[0].kind));
    // Texts written in the request are fetched before its first run (lock released, as after a
    // collecting run): when they are all its EMBEDDING() calls need, it runs once.
    if (round && round.prefetchWritten(statements, params, this.catalog)) return 'fetch embeddings';
    const results: StatementResult[] = [];
    let index = 0;
    try {
      if (wrap) db.exec('BEGIN');
      for (; index < statements.length; index++) {
        this.statementIndex = index;
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
    const script: CompiledScript = { statements, emitted: new Array(statements.length) };
    if (this.scripts.size >= MAX_CACHED_SCRIPTS) this.scripts.delete(this.scripts.keys().next().value!);
    this.scripts.set(sql, script);
    return script;
  }

  /** The SQLite form of statement `i`, emitted against the current catalog. */
  private emitted(script: CompiledScript, i: number, source: string): EmittedStatement {
    const cached = script.emitted[i];
    if (cached && cached.version === this.catalog.version) return cached.statement;
    const statement = emitStatement(script.statements[i], 'sqlite', this.catalog, source);
    script.emitted[i] = { version: this.catalog.version, statement };
    // Whether the planner has work here depends on the catalog too: worked out at the same time.
    (script.vectorQueries ??= [])[i] = this.planner.candidates(script.statements[i]).length > 0;
    return statement;
  }

  private prepare(sql: string): Database.Statement {
    let stmt = this.prepared.get(sql);
    if (!stmt) {
      stmt = this.db!.prepare(sql);
      if (this.prepared.size >= MAX_CACHED_STATEMENTS) this.prepared.delete(this.prepared.keys().next().value!);
      this.prepared.set(sql, stmt);
    }
    return stmt;
  }

  private runStatement(script: CompiledScript, i: number, cursor: ParamCursor, source: string): StatementResult {
    const s = script.statements[i];
    const db = this.db!;
    const empty: StatementResult = { columns: [], rows: [], changes: 0, lastInsertId: null };
    switch (s.kind) {
      case 'transaction':
        db.exec(this.emitted(script, i, source).sql);
        if (s.action === 'ROLLBACK') this.afterRollback();
        return empty;
      case 'show':
        if (s.what === 'EMBEDDING MODELS') return this.showEmbeddingModels();
        if (s.what === 'PROCESSLIST') return this.showProcessList();
        if (s.what === 'INDEX STATUS') return this.showIndexStatus(s.table);
        return this.introspector.run({ ...s, what: s.what });
      case 'set':
        return this.set(s, source);
      case 'optimize':
        throw new Error('OPTIMIZE runs in runScript');
      case 'explain':
        return this.explain(s, cursor, source);
      case 'pragma':
        return this.pragma(s, this.emitted(script, i, source));
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
        const emitted = this.emitted(script, i, source);
        this.schemaChange(() => this.ddl.drop(s, emitted.sql));
        return empty;
      }
      case 'alterTable': {
        const emitted = this.emitted(script, i, source);
        this.schemaChange(() => this.ddl.alterTable(s, emitted.sql, source));
        return empty;
      }
      case 'truncate': {
        const emitted = this.emitted(script, i, source);
        db.transaction(() => this.ddl.truncate(s, emitted.sql))();
        return empty;
      }
      case 'select': {
        const emitted = this.emitted(script, i, source);
        const args = cursor.take(emitted);
        if (!script.vectorQueries?.[i]) return this.run(emitted, args, false);
        const planned = this.planner.plan(s, source, args, this.settings.efSearch);
        if (planned.searches.size === 0) return this.run(emitted, args, false);
        const restrictions = this.planner.search(planned);
        const restricted = emitStatement(s, 'sqlite', this.catalog, source, restrictions);
        return this.run(restricted, bindRowIds(args, restricted, restrictions), false);
      }
      default: {
        const emitted = this.emitted(script, i, source);
        const args = cursor.take(emitted);
        if (SCHEMA_KINDS.has(s.kind)) {
          this.schemaChange(() => {
            db.prepare(emitted.sql).run(...args);
            for (const extra of emitted.after) db.exec(extra);
          });
          return empty;
        }
        return this.run(emitted, args, s.kind === 'insert');
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
    const value = this.db!.prepare(`SELECT ${emitExpression(s.value, 'sqlite', this.catalog, source)}`).pluck().get();
    this.settings.efSearch = resolveEfSearch(Number(value));
    return { columns: [], rows: [], changes: 0, lastInsertId: null };
  }

  /** OPTIMIZE TABLE: the table's vector indexes flush their tails and merge their segments. */
  private async optimize(s: A.OptimizeStatement): Promise<StatementResult> {
    const table = this.catalog.table(s.table.name);
    if (!table) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${s.table.name}`);
    // What this request wrote must be in the index before it is flushed.
    if (!this.db!.inTransaction) this.afterCommit();
    await this.indexes.optimize(table.name);
    const message = table.vectorIndexes.length ? `${table.vectorIndexes.length} vector index(es) flushed and merged` : 'no vector index to optimize';
    return { columns: ['Table', 'Op', 'Msg_type', 'Msg_text'], rows: [[table.name, 'optimize', 'status', message]], changes: 0, lastInsertId: null };
  }

  /** SHOW INDEX STATUS [FROM t]: each vector index's state, size and lag. */
  private showIndexStatus(tableName: string | undefined): StatementResult {
    const tables = tableName === undefined ? this.catalog.tables() : [this.catalog.table(tableName)];
    if (tables.some((t) => t === undefined)) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${tableName}`);
    const rows: SqlValue[][] = [];
    for (const t of tables) {
      for (const v of t!.vectorIndexes) {
        const st = this.indexes.stats(v.name);
        const deleted = st ? st.segments.reduce((sum, seg) => sum + (seg.rows - seg.aliveRows), 0) : 0;
        const inSegments = st ? st.segments.reduce((sum, seg) => sum + seg.rows, 0) : 0;
        rows.push([
          v.name, t!.name, v.column, v.metric, this.indexes.state(v.name) ?? 'closed',
          st?.rows ?? 0, st?.indexedRows ?? 0, st?.tailRows ?? 0, st?.segments.length ?? 0,
          inSegments ? deleted / inSegments : 0, st?.lagRows ?? 0, st?.lagSeconds ?? 0,
          st?.build ? `${st.build.kind} of ${st.build.rows} rows, ${st.build.seconds.toFixed(1)} s` : null,
          st?.memoryBytes ?? 0,
          v.quantization,
        ]);
      }
    }
    return {
      columns: ['index', 'table', 'column', 'metric', 'state', 'rows', 'indexed_rows', 'tail_rows', 'segments', 'deleted_fraction', 'lag_rows', 'lag_seconds', 'build', 'memory_bytes', 'quantization'],
      rows,
      changes: 0,
      lastInsertId: null,
    };
  }

  private run(emitted: EmittedStatement, args: unknown[], isInsert: boolean): StatementResult {
    const stmt = this.prepare(emitted.sql);
    this.deadline = Date.now() + this.timeoutMs;
    try {
      if (!stmt.reader) {
        const info = stmt.run(...args);
        return {
          columns: [],
          rows: [],
          changes: info.changes,
          lastInsertId: isInsert ? normalizeInteger(info.lastInsertRowid) : null,
        };
      }
      const shape = this.resultShape(stmt, emitted);
      const rows: SqlValue[][] = [];
      for (const row of stmt.iterate(...args) as Iterable<SqlValue[]>) {
        rows.push(row);
        this.budget.add(row, rows.length, this.statementIndex);
        this.checkDeadline();
      }
      return { columns: shape.names, rows: shapeRows(rows, shape), changes: 0, lastInsertId: null };
    } finally {
      this.deadline = Infinity;
    }
  }

  /** A reader's column names and which of them hold vectors, worked out once per catalog version. */
  private resultShape(stmt: Database.Statement, emitted: EmittedStatement): ResultShape {
    const known = this.shapes.get(stmt);
    if (known && known.version === this.catalog.version) return known;
    stmt.raw(true);
    stmt.safeIntegers(true);
    const columns = stmt.columns();
    const shape: ResultShape = {
      version: this.catalog.version,
      names: columns.map((c) => c.name),
      isVector: columns.map((c) => {
        if (emitted.vectorResultNames.has(c.name)) return true;
        if (!c.table || !c.column) return false;
        const table = this.catalog.table(c.table);
        return table?.columns.some((col) => col.vectorDims !== null && col.name.toLowerCase() === c.column!.toLowerCase()) ?? false;
      }),
    };
    this.shapes.set(stmt, shape);
    return shape;
  }

  /** SHOW PROCESSLIST: the requests waiting on an embedding provider, with their progress. */
  private showProcessList(): StatementResult {
    const rows = [...this.fetching].flatMap((round): SqlValue[][] => {
      const p = round.progress;
      return p ? [[p.model, p.done, p.total, (Date.now() - p.startedAt) / 1000, `embedding ${p.done}/${p.total} texts`]] : [];
    });
    return { columns: ['model', 'texts_done', 'texts_total', 'seconds', 'state'], rows, changes: 0, lastInsertId: null };
  }

  private showEmbeddingModels(): StatementResult {
    const models = this.embeddingCalls.source?.listModels() ?? [];
    return {
      columns: ['model', 'provider', 'dims', 'max_batch', 'max_concurrency'],
      rows: models.map((m) => [m.name, m.provider, m.dims, m.maxBatch, m.maxConcurrency]),
      changes: 0,
      lastInsertId: null,
    };
  }

  /** EXPLAIN: SQLite's query plan for the statement. */
  private explain(s: A.ExplainStatement, cursor: ParamCursor, source: string): StatementResult {
    const inner = s.statement;
    if (inner.kind !== 'select' && inner.kind !== 'insert' && inner.kind !== 'update' && inner.kind !== 'delete') {
      throw new QuiverError('UNSUPPORTED_STATEMENT', 'EXPLAIN works on SELECT, INSERT, UPDATE and DELETE');
    }
    const plain = emitStatement(inner, 'sqlite', this.catalog, source);
    const args = cursor.take(plain);
    const planned = this.planner.plan(inner, source, args, this.settings.efSearch);
    const restrictions = this.planner.search(planned);
    const emitted = restrictions.size ? emitStatement(inner, 'sqlite', this.catalog, source, restrictions) : plain;
    const stmt = this.db!.prepare(`EXPLAIN QUERY PLAN ${emitted.sql}`);
    stmt.raw(true);
    const rows = stmt.all(...bindRowIds(args, emitted, restrictions)) as [number, number, number, string][];
    const vectorRows = planned.plans.map((p): SqlValue[] => [0, 0, describePlan(p)]);
    return { columns: ['id', 'parent', 'detail'], rows: [...vectorRows, ...rows.map((r) => [r[0], r[1], r[3]])], changes: 0, lastInsertId: null };
  }

  private pragma(s: A.PragmaStatement, emitted: EmittedStatement): StatementResult {
    const name = s.name.name.toLowerCase();
    const allowed = READABLE_PRAGMAS.has(name) && (s.value === undefined || PRAGMAS_WITH_ARGUMENT.has(name));
    if (!allowed) {
      throw new QuiverError(
        'UNSUPPORTED_STATEMENT',
        `PRAGMA ${s.name.name}${s.value !== undefined ? ' with a value' : ''} is not allowed: Quiver owns the database's settings and files. Readable PRAGMAs: ${[...READABLE_PRAGMAS].join(', ')}`,
      );
    }
    return this.run(emitted, [], false);
  }

  /** `e` as a QuiverError placed at its statement, or `e` itself when it is not the user's. */
  private userError(e: unknown, statement: A.Statement | undefined, index: number, sql: string): unknown {
    const translated = translateSqliteError(e);
    if (!isQuiverError(translated)) return translated;
    if (statement) {
      translated.statementIndex ??= index;
      translated.position ??= positionOf(sql, statement.start);
    }
    return translated;
  }
}

/**
 * Refuses, before anything runs, a request whose transaction statements cannot all succeed in
 * their order (a COMMIT with no BEGIN before it, a BEGIN inside an open transaction, ...): run
 * as written, the statements before the bad one would autocommit and stay, though the request
 * fails. A request always starts outside a transaction, so the order alone decides.
 */
function checkTransactionOrder(statements: readonly A.Statement[], sql: string): void {
  let open = false;
  /** Savepoints open, outermost first; `openedBy` is the one that began the transaction, if any. */
  const savepoints: string[] = [];
  let openedBy: string | undefined;
  statements.forEach((s, i) => {
    if (s.kind !== 'transaction') return;
    const refuse = (why: string) => {
      throw new QuiverError('TRANSACTION_ERROR', `statement ${i + 1}: ${why}; nothing was run`, { statementIndex: i, position: positionOf(sql, s.start) });
    };
    const name = s.savepoint?.toLowerCase();
    switch (s.action) {
      case 'BEGIN':
        if (open) refuse('BEGIN inside a transaction that is already open');
        open = true;
        break;
      case 'COMMIT':
        if (!open) refuse('COMMIT with no open transaction (no BEGIN before it)');
        open = false;
        break;
      case 'ROLLBACK':
        if (!open) refuse(`ROLLBACK${name ? ' TO' : ''} with no open transaction`);
        if (name === undefined) open = false;
        else if (!savepoints.includes(name)) refuse(`ROLLBACK TO ${s.savepoint}: no such savepoint is open`);
        else savepoints.length = savepoints.lastIndexOf(name) + 1;
        break;
      case 'SAVEPOINT':
        if (!open) {
          open = true;
          openedBy = name;
        }
        savepoints.push(name!);
        break;
      case 'RELEASE':
        if (!open || !savepoints.includes(name!)) refuse(`RELEASE ${s.savepoint}: no such savepoint is open`);
        savepoints.length = savepoints.lastIndexOf(name!);
        if (savepoints.length === 0 && openedBy === name) open = false;
        break;
    }
    if (!open) {
      savepoints.length = 0;
      openedBy = undefined;
    }
  });
}

/** One EXPLAIN line for a vector query: the path and why, with the figures that chose it. */
function describePlan(p: VectorPlan): string {
  const figures = [`k=${p.k}`, `ef_search=${p.efSearch}`];
  if (p.selectivity !== undefined) figures.push(`selectivity=${p.selectivity.toFixed(3)}`);
  figures.push(`segments=${p.segments}`, `tail_rows=${p.tailRows}`);
  if (p.candidates !== undefined) figures.push(`candidates=${p.candidates}`);
  return `VECTOR SEARCH ${p.table} USING ${p.index}: ${p.path} (${figures.join(', ')}) — ${p.reason}`;
}

/** Large fetches (a backfill, a bulk insert) report their progress in the server log. */
function logProgress(p: { model: string; done: number; total: number; startedAt: number }): void {
  if (p.total >= 1000) console.log(`quiver: embedding with ${p.model}: ${p.done}/${p.total} texts (${((Date.now() - p.startedAt) / 1000).toFixed(1)} s)`);
}

/** Rows as the API gives them: safe integers as numbers, vector blobs as Float32Array. In place. */
function shapeRows(rows: SqlValue[][], { isVector }: ResultShape): SqlValue[][] {
  for (const row of rows) {
    for (let j = 0; j < row.length; j++) {
      const v = row[j];
      if (typeof v === 'bigint') row[j] = normalizeInteger(v);
      else if (isVector[j] && v instanceof Uint8Array && v.byteLength % 4 === 0) row[j] = decodeVector(v);
    }
  }
  return rows;
}

function normalizeInteger(v: number | bigint): number | bigint {
  return typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
