/**
 * @module exec/writer
 * The writer: the one connection that writes, and every request that runs on it — parse,
 * check, lower to SQLite (planning vector queries), bind, run, shape the results — under the
 * request's transaction rules (transactions.ts), one request at a time (writer-lock.ts). The
 * engine (engine.ts) sends it every request that is not a plain read; the server runs it on a
 * thread of its own (writer-thread.ts), so that no statement a client writes ever runs on the
 * event loop that answers everyone else. What lives once per process (the vector indexes, the
 * embedding providers, the data dir's disk) it reaches through its WriterHost
 * (writer-host.ts); around each commit it tells the host, which holds reads' snapshots off
 * meanwhile and brings the indexes up to date before they go on.
 */
import type Database from 'better-sqlite3';
import { QuiverError, type EmbeddingSource } from '../../core/index.ts';
import { resolveEfSearch } from '../../index/index.ts';
import { Catalog, DdlRunner, Introspector } from '../catalog/index.ts';
import { checkRole } from '../check/index.ts';
import type { A } from '../dialect/index.ts';
import { EmbeddingCalls, inEmbeddingRounds, type EmbeddingRound } from '../functions/index.ts';
import { lowerExpression, lowerStatement, type LoweredStatement } from '../lower/index.ts';
import { Planner, checkExplainable, explainResult, restrictToCandidates, type PlannerOptions, type RestrictOptions } from '../plan/index.ts';
import type { LogPosition } from '../replication/index.ts';
import { ParamCursor, StatementCache, registerDeadlineFunction, type Limits } from '../runtime/index.ts';
import type { ExecuteOptions, ExecuteResult, Params, SqlValue, StatementResult } from '../types.ts';
import { backupDatabase, type BackupResult } from './backup.ts';
import { openDatabase } from './connection.ts';
import { giveBackSpace } from './disk-space.ts';
import { HostIndexes } from './host-indexes.ts';
import { RequestContext } from './request-context.ts';
import { emptyResult, normalizeInteger, ResultShapes, rowsResult, shapeRows } from './results.ts';
import { Scripts, type CompiledScript } from './scripts.ts';
import { statementError } from './sqlite-errors.ts';
import { checkTransactionOrder, isExplicit, needsImplicitTransaction, SCHEMA_KINDS, WRITE_KINDS } from './transactions.ts';
import { ENGINE_SHOWS, type EngineShow, type WriterApi, type WriterHost } from './writer-host.ts';
import { WriterLock, waitBudget } from './writer-lock.ts';
import { WriterLog, type LogEntry, type LoggedAt } from './writer-log.ts';

/** Statement kinds that change rows, and with RETURNING also return them. */
const ROW_WRITES = new Set<A.Statement['kind']>(['insert', 'update', 'delete']);

/** What a row write's `changes` and `lastInsertId` are when it ran as a reader (RETURNING). */
const CHANGES_SQL = 'SELECT changes(), last_insert_rowid()';

/** Statement kinds that can call EMBEDDING(). */
const EMBEDDING_KINDS = new Set<A.Statement['kind']>(['select', 'insert', 'update', 'delete', 'createTable', 'alterTable']);

/** How the writer's connection is opened. */
export interface WriterOptions {
  /** The database file. */
  file: string;
  synchronous: 'FULL' | 'NORMAL';
  limits: Limits;
  planner?: PlannerOptions;
  /** Whether embedding models are configured (EMBEDDING() then reaches them through the host). */
  embeddings: boolean;
  /** Cluster mode: every commit goes to the replicated log first, and log entries can be applied (writer-log.ts). */
  replicated?: boolean;
}

/** A replica applying the log runs what the primary ran however long it takes: no statement timeout. */
const APPLY_TIMEOUT_MS = 2 ** 40;

export class Writer implements WriterApi {
  private db: Database.Database | null;
  private readonly catalog: Catalog;
  private readonly ddl: DdlRunner;
  private readonly introspector: Introspector;
  private readonly scripts: Scripts;
  private readonly prepared: StatementCache;
  private readonly lock: WriterLock;
  private readonly shapes: ResultShapes;
  private readonly embeddingCalls: EmbeddingCalls;
  private readonly planner: Planner;
  private readonly limits: Limits;
  /** The request holding the lock. */
  private request: RequestContext;
  /** Whether the open transaction changed the schema: its commit tells the host so. */
  private schemaChanged = false;
  /** The replicated log's side of the writer; null on a single node. */
  private readonly log: WriterLog | null;

  private constructor(
    db: Database.Database,
    private readonly host: WriterHost,
    options: WriterOptions,
  ) {
    this.db = db;
    this.limits = options.limits;
    this.lock = new WriterLock(this.limits);
    this.request = new RequestContext(this.limits, {});
    this.prepared = new StatementCache((sql) => db.prepare(sql));
    const source: EmbeddingSource | null = options.embeddings
      ? {
          resolveDims: (model, dims) => host.resolveDims(model, dims),
          cached: (model, dims, texts) => host.cached(model, dims, texts),
          listModels: () => host.listModels(),
          fetch: () => Promise.reject(new Error('the writer fetches embeddings through its host (fetchMissesVia)')),
        }
      : null;
    this.embeddingCalls = new EmbeddingCalls(source);
    this.embeddingCalls.register(db);
    this.catalog = new Catalog(db);
    this.shapes = new ResultShapes(this.catalog);
    this.ddl = new DdlRunner(db, this.catalog, source);
    this.introspector = new Introspector(db, this.catalog);
    this.planner = new Planner(db, this.catalog, new HostIndexes(host, db), options.planner);
    this.scripts = new Scripts(this.limits, this.catalog, this.planner);
    this.log = options.replicated ? new WriterLog(db, this.embeddingCalls, host) : null;
    // The deadline of whichever request holds the connection.
    registerDeadlineFunction(db, (everyCall) => this.checkDeadline(everyCall));
  }

  /** Opens (creating if needed) the database file as the writer. */
  static open(options: WriterOptions, host: WriterHost): Writer {
    const db = openDatabase(options.file, options.synchronous);
    try {
      return new Writer(db, host, options);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Called as statements step (limits.ts DEADLINE_FUNCTION, and per row a read returns): stops one past its timeout. */
  private checkDeadline(everyCall = false): void {
    this.request.deadline.check(this.inTransaction, everyCall);
  }

  /** Whether the timed-out statement's transaction is rolled back: asked only on a timeout, as asking costs as much as a check. */
  private readonly inTransaction = (): boolean => this.db?.inTransaction ?? false;

  /**
   * Runs every statement of `sql` in order under the request's transaction rules.
   *
   * EMBEDDING() never waits on the network inside SQLite (see embedding-calls.ts). When a run
   * misses embeddings, what happens to others while the provider answers depends on the
   * request's shape:
   * - no BEGIN in the request: its work is rolled back and the lock released before the texts
   *   are fetched, so other requests go on; then the request runs again.
   * - BEGIN ... COMMIT in the request: its transaction is open and must stay open, so the lock
   *   is held while the texts are fetched, and other writes wait (at most the provider's
   *   timeout times its retries).
   */
  async execute(sql: string, params: Params | undefined, options: ExecuteOptions, admitted: boolean): Promise<ExecuteResult> {
    const round = this.embeddingCalls.newRound();
    // The wait for the lock counts against the first statement's timeout; an embedding fetch does not.
    let queuedAt = Date.now();
    const run = async (): Promise<ExecuteResult | 'fetch embeddings'> => {
      const release = await this.lock.acquire(waitBudget(this.limits, options, queuedAt));
      try {
        this.embeddingCalls.current = round;
        return await this.executeLocked(sql, params, options, round, queuedAt, admitted);
      } finally {
        this.embeddingCalls.current = null;
        release();
      }
    };
    return inEmbeddingRounds(round, run, async (r) => {
      await this.fetchMisses(r);
      queuedAt = Date.now();
    });
  }

  /** Gives the space deletes freed back to the file system, under the lock (disk-full mode). */
  async reclaimSpace(): Promise<void> {
    const release = await this.lock.acquire();
    try {
      if (this.db && !this.db.inTransaction) giveBackSpace(this.db);
    } finally {
      release();
    }
  }

  /** An online backup into `destFile` (backup.ts): requests go on while it copies. */
  backup(destFile: string): Promise<BackupResult> {
    if (!this.db) return Promise.reject(new QuiverError('DATABASE_CLOSED', 'the database is closed'));
    return backupDatabase(this.db, destFile);
  }

  /** Open already: the writer on the engine's thread opens with it. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  /** Resolves once the requests before it have ended. */
  async drain(): Promise<void> {
    const release = await this.lock.acquire();
    release();
  }

  /**
   * A replica applies one entry of the log, in one transaction with its position, under the
   * lock like any request; its commit reaches the indexes as a request's does.
   */
  async apply(entry: LogEntry): Promise<void> {
    const log = this.log;
    if (!log) throw new Error('apply: this writer was not opened replicated');
    const release = await this.lock.acquire();
    try {
      const db = this.db;
      if (!db) throw new QuiverError('DATABASE_CLOSED', 'the database is closed');
      this.request = new RequestContext({ ...this.limits, statementTimeoutMs: APPLY_TIMEOUT_MS }, {});
      db.exec('BEGIN IMMEDIATE');
      try {
        log.apply(entry, (sql) => this.runLogged(sql));
        await this.commit({ position: entry.position, epoch: entry.epoch });
      } catch (e) {
        if (db.inTransaction) this.rollback();
        throw e;
      }
    } finally {
      release();
    }
  }

  /** Where this data dir stands in the replicated log; null on a single node. */
  async logPosition(): Promise<LogPosition | null> {
    return this.log?.position() ?? null;
  }

  /** Closes the connection (checkpointing the WAL); a request running is cut short. Safe to call twice. */
  close(): void {
    this.db?.close();
    this.db = null;
  }

  /** Fetches what `round` missed through the host, which bounds and reports it. */
  private fetchMisses(round: EmbeddingRound): Promise<void> {
    return round.fetchMissesVia((misses) => this.host.fetchEmbeddings(misses));
  }

  private async executeLocked(
    sql: string,
    params: Params | undefined,
    options: ExecuteOptions,
    round: EmbeddingRound | null,
    queuedAt: number,
    admitted: boolean,
  ): Promise<ExecuteResult | 'fetch embeddings'> {
    const db = this.db;
    if (!db) throw new QuiverError('DATABASE_CLOSED', 'the database is closed');
    this.request = new RequestContext(this.limits, options, queuedAt);
    const script = this.scripts.compile(sql);
    if (options.role) checkRole(script.statements, options.role);
    if (!admitted) this.host.admit(script.statements.map((s) => s.kind));
    const cursor = new ParamCursor(params);
    const { statements } = script;
    const explicit = isExplicit(statements);
    const endsTransaction = explicit ? checkTransactionOrder(statements, sql) : undefined;
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
        const s = statements[index];
        if (explicit && this.log && endsTransaction?.[index]) {
          // Replicated, the changes go to the log before the statement ending the transaction commits them.
          results.push(await this.commit(undefined, () => this.runStatement(script, index, cursor, sql)));
          continue;
        }
        if (explicit && this.log && !db.inTransaction && WRITE_KINDS.has(s.kind)) {
          // Replicated, a write outside the request's transactions is one of its own, logged first.
          db.exec('BEGIN');
          results.push(await this.runOne(script, index, cursor, sql, round));
          await this.commit();
          continue;
        }
        // Outside a transaction, or ending one, a statement may commit: reads wait meanwhile.
        const mayCommit = explicit && (!db.inTransaction || s.kind === 'transaction');
        if (mayCommit) await this.host.commitStarting();
        try {
          results.push(await this.runOne(script, index, cursor, sql, explicit ? round : null));
        } finally {
          if (mayCommit) await this.committed(!db.inTransaction);
        }
      }
      if (round?.hasMisses) {
        if (db.inTransaction) this.rollback();
        return 'fetch embeddings';
      }
      cursor.finish();
      if (wrap) await this.commit();
      if (explicit && db.inTransaction) {
        throw new QuiverError('TRANSACTION_ERROR', 'a transaction was left open; end it with COMMIT or ROLLBACK. Its changes were rolled back');
      }
      return { results, kinds: statements.map((s) => s.kind) };
    } catch (e) {
      if (db.inTransaction) this.rollback();
      // A failure in a run with placeholders may be the placeholders' doing: fetch, run again.
      if (round?.hasMisses && !explicit) return 'fetch embeddings';
      throw this.userError(e, statements[Math.min(index, statements.length - 1)], index, sql);
    }
  }

  /** Statement `i`: what the host answers (OPTIMIZE, its SHOWs), under a savepoint when it may fetch embeddings, or as it is. */
  private async runOne(script: CompiledScript, i: number, cursor: ParamCursor, source: string, round: EmbeddingRound | null): Promise<StatementResult> {
    const s = script.statements[i];
    if (s.kind === 'optimize') return this.optimize(s);
    if (s.kind === 'show' && ENGINE_SHOWS.has(s.what)) return this.host.show(s.what as EngineShow, s.table);
    if (round && EMBEDDING_KINDS.has(s.kind)) return this.runWithEmbeddings(script, i, cursor, source, round);
    return this.runStatement(script, i, cursor, source);
  }

  /**
   * Commits the open transaction (by COMMIT, or by `end`, the request's own statement ending it):
   * replicated, its changes go to the log first (`at` given: a replica applying an entry already
   * logged); then reads wait for the commit and the host is told. Resolves with `end`'s result.
   */
  private async commit(at?: LoggedAt, end?: () => StatementResult): Promise<StatementResult> {
    const logged = at ?? (await this.log?.beforeCommit()) ?? undefined;
    await this.host.commitStarting();
    let done = false;
    let result = emptyResult();
    try {
      if (end) result = end();
      else this.db!.exec('COMMIT');
      done = !this.db!.inTransaction;
    } finally {
      await this.committed(done, logged);
      // In the log but not here (the COMMIT failed): this node must take it from the log.
      if (!done && logged && !at) await this.host.lostCommit(logged.position);
    }
    return result;
  }

  /** A statement the log carries (a schema change, TRUNCATE), run again on a replica as the primary ran it. */
  private runLogged(sql: string): void {
    const script = this.scripts.compile(sql);
    const cursor = new ParamCursor(undefined);
    script.statements.forEach((_, i) => this.runStatement(script, i, cursor, sql));
  }

  /** Tells the host a statement that could commit has ended: whether it did, and what changed. */
  private async committed(did: boolean, logged?: LoggedAt): Promise<void> {
    if (!did) return this.host.commitDone(null);
    const info = { schemaChanged: this.schemaChanged, rebuiltTables: this.ddl.takeRebuiltTables(), position: logged?.position };
    this.schemaChanged = false;
    await this.host.commitDone(info);
  }

  /** Rolls the open transaction back, forgetting what its schema changes derived. */
  private rollback(): void {
    this.db!.exec('ROLLBACK');
    this.afterRollback();
  }

  /** After a rollback: if the undone work changed the schema, forget what was derived from it. */
  private afterRollback(): void {
    this.ddl.takeRebuiltTables();
    this.log?.rolledBack(this.schemaChanged);
    if (!this.schemaChanged) return;
    this.schemaChanged = false;
    this.prepared.clear();
    this.catalog.invalidate();
  }

  /** One statement of an explicit transaction, fetching its embeddings under a savepoint. */
  private runWithEmbeddings(script: CompiledScript, i: number, cursor: ParamCursor, source: string, round: EmbeddingRound): Promise<StatementResult> {
    const db = this.db!;
    const run = async (): Promise<StatementResult | 'fetch embeddings'> => {
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
      return 'fetch embeddings';
    };
    return inEmbeddingRounds(round, run, (r) => this.fetchMisses(r));
  }

  /** How statements with vector queries are made ready on this connection: searched here, through the host. */
  private get restrictHere(): RestrictOptions {
    return { efSearch: this.request.efSearch, searchHere: true };
  }

  private runStatement(script: CompiledScript, i: number, cursor: ParamCursor, source: string): StatementResult {
    const s = script.statements[i];
    const db = this.db!;
    const empty = emptyResult();
    switch (s.kind) {
      case 'transaction':
        db.exec(this.scripts.lowered(script, i, source).sql);
        if (s.action === 'ROLLBACK' && s.savepoint === undefined) this.afterRollback();
        return empty;
      case 'show': {
        const what = s.what;
        if (ENGINE_SHOWS.has(what)) throw new Error(`SHOW ${what} is the engine's (runOne)`);
        return this.introspector.run({ ...s, what: what as Exclude<typeof what, EngineShow> });
      }
      case 'set':
        return this.set(s, source);
      case 'optimize':
        throw new Error('OPTIMIZE runs in runOne');
      case 'explain': {
        checkExplainable(s.statement);
        const plain = lowerStatement(s.statement, this.catalog, source);
        return explainResult(db, restrictToCandidates(this.planner, this.catalog, s.statement, source, plain, cursor.take(plain), this.restrictHere));
      }
      case 'pragma':
        return this.run(this.scripts.lowered(script, i, source), [], s.kind);
      case 'createTable':
        this.schemaChange(() => this.ddl.createTable(s, source), statementText(s, source));
        return empty;
      case 'createVectorIndex':
        this.schemaChange(() => this.ddl.createVectorIndex(s), statementText(s, source));
        return empty;
      case 'createFulltextIndex':
        this.schemaChange(() => this.ddl.createFulltextIndex(s), statementText(s, source));
        return empty;
      case 'drop': {
        const lowered = this.scripts.lowered(script, i, source);
        this.schemaChange(() => this.ddl.drop(s, lowered.sql), statementText(s, source));
        return empty;
      }
      case 'alterTable': {
        const lowered = this.scripts.lowered(script, i, source);
        this.schemaChange(() => this.ddl.alterTable(s, lowered.sql, source), statementText(s, source));
        return empty;
      }
      case 'truncate': {
        const lowered = this.scripts.lowered(script, i, source);
        const truncate = db.transaction(() => this.ddl.truncate(s, lowered.sql));
        if (this.log) this.log.truncate(statementText(s, source), truncate);
        else truncate();
        return empty;
      }
      case 'select': {
        const lowered = this.scripts.lowered(script, i, source);
        const args = cursor.take(lowered);
        if (!script.vectorQueries?.[i]) return this.run(lowered, args, s.kind);
        const ready = restrictToCandidates(this.planner, this.catalog, s, source, lowered, args, this.restrictHere);
        return this.run(ready.lowered, ready.args, s.kind);
      }
      default: {
        const lowered = this.scripts.lowered(script, i, source);
        const args = cursor.take(lowered);
        if (s.kind === 'createTrigger' && !s.temp && this.log) {
          // A replica applies the rows a trigger wrote; the trigger would fire there again and write them twice.
          throw new QuiverError('UNSUPPORTED_STATEMENT', 'CREATE TRIGGER is not supported in cluster mode yet: replicas apply the rows a trigger writes, and it would fire there again. A TEMP trigger (on this connection only) is allowed');
        }
        if (SCHEMA_KINDS.has(s.kind)) {
          this.schemaChange(() => {
            db.prepare(lowered.sql).run(...args);
            for (const extra of lowered.after) db.exec(extra);
          }, statementText(s, source));
          return empty;
        }
        return this.run(lowered, args, s.kind);
      }
    }
  }

  /** Runs a schema change atomically (a savepoint inside a request's transaction); replicated, recorded for the log. */
  private schemaChange(change: () => void, statement: string): void {
    try {
      const run = this.db!.transaction(change);
      if (this.log) this.log.schemaStatement(statement, run);
      else run();
      this.schemaChanged = true;
    } finally {
      this.prepared.clear();
      this.catalog.invalidate();
    }
  }

  private set(s: A.SetStatement, source: string): StatementResult {
    if (s.name !== 'vidx_hnsw_ef_search') {
      throw new QuiverError('UNSUPPORTED_STATEMENT', `unknown setting ${s.name}; the settable one is vidx_hnsw_ef_search`);
    }
    const value = this.db!.prepare(`SELECT ${lowerExpression(s.value, this.catalog, source)}`).pluck().get();
    this.request.efSearch = resolveEfSearch(Number(value));
    return emptyResult();
  }

  /** OPTIMIZE TABLE, which the host runs: what this request wrote must be committed first. */
  private optimize(s: A.OptimizeStatement): Promise<StatementResult> {
    if (!this.catalog.table(s.table.name)) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${s.table.name}`);
    return this.host.optimize(s.table.name);
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
    return statementError(this.host.diskFailed(e), statement, index, sql);
  }
}

/** Statement `s` as the request wrote it: what the log carries for a replica to run again. */
function statementText(s: A.Statement, source: string): string {
  return source.slice(s.start, s.end);
}
