/**
 * @module workers/read-worker
 * A read worker thread (see read-pool.ts): its own read-only connection to the WAL database,
 * with Quiver's SQL functions, running the SELECTs the engine has already parsed, checked and
 * planned. All statements of one request run in one read transaction, so they see one snapshot,
 * which the engine may open ahead of planning (`begin`, see read-pool.ts).
 * Rows are counted against the request's limits as they are stepped, so an oversized result
 * stops early instead of filling memory. A vector query's index search runs here too, over a
 * view of the index the engine took with this worker's snapshot (search-step.ts), in the
 * worker's own search lane of the index's shared memory. When its view readers let go of an
 * index's parts (merged away, flushed), the worker asks for a garbage collection, without which
 * it would keep their shared memory alive for minutes (../util/shared-memory-gc.ts).
 * EMBEDDING() answers from the vectors the engine sent with the read; a text it was not sent
 * makes the read answer with its misses instead of rows (../functions/read-embedding-calls.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ReadEmbeddingCalls, registerVectorFunctions } from '../functions/index.ts';
import { registerFulltextFunctions } from '../index-sync/index.ts';
import { registerDeadlineFunction, ResultBudget, StatementDeadline, withNamed, StatementCache } from '../runtime/index.ts';
import { IndexViewReader } from '../../index/index.ts';
import { toWire, type ReadReply, type ReadRequest, type ReadStatement } from './read-protocol.ts';
import { runSearchStep, type IndexViewRef } from '../plan/index.ts';
import type { SqlValue } from '../types.ts';
import { isQuiverError, originalsReader } from '../../core/index.ts';
import { ReceivedMemories } from './view-memories.ts';
import { SharedMemoryCollector } from '../../util/index.ts';

const MAX_CACHED_STATEMENTS = 500;

const { file, lane } = workerData as { file: string; lane: number };
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
registerVectorFunctions(db);
registerFulltextFunctions(db);
const embeddings = new ReadEmbeddingCalls();
embeddings.register(db);

/**
 * The running request's statement timeout, checked as its SELECTs step (limits.ts
 * DEADLINE_FUNCTION, in every loop of those ../lower/to-sqlite.ts names). The pool answers a
 * read past it at once and terminates this thread, but termination lands only when JavaScript
 * runs here: these checks stop the statement itself. A read writes nothing, so nothing is
 * rolled back.
 */
const deadline = new StatementDeadline();
const nothingRolledBack = (): boolean => false;
registerDeadlineFunction(db, (everyCall) => deadline.check(nothingRolledBack, everyCall));

/** Statements returning a result's rows: raw rows with exact integers, as results need. */
const rowStatements = new StatementCache((sql) => db.prepare(sql).raw(true).safeIntegers(true), MAX_CACHED_STATEMENTS);
/** The index searches' own statements (the WHERE's rows, counts), returning plain objects. */
const searchStatements = new StatementCache((sql) => db.prepare(sql), MAX_CACHED_STATEMENTS);

/** A cached statement: `rows` ones return raw rows with exact integers, as results need. */
function prepare(sql: string, rows = true): Database.Statement {
  return (rows ? rowStatements : searchStatements).get(sql);
}

/**
 * One view reader per index (by name), for the index instance it was made for: a re-created
 * index of the same name has a new indexId, and may read its originals from another table.
 */
const readers = new Map<string, { indexId: string; reader: IndexViewReader }>();
const memories = new ReceivedMemories();
const collector = new SharedMemoryCollector();
const release = () => collector.request();

function readerFor(ref: IndexViewRef, name: string): IndexViewReader {
  const known = readers.get(name);
  if (known?.indexId === ref.view.indexId) return known.reader;
  const { originalsSql, dims } = ref;
  const originals = originalsSql === null ? undefined : originalsReader(() => prepare(originalsSql, false), dims);
  const reader = new IndexViewReader(lane, originals, release);
  if (known) release();
  readers.set(name, { indexId: ref.view.indexId, reader });
  return reader;
}

/** The statement's arguments with each search's candidates bound. */
function searched(statement: ReadStatement): unknown[] {
  if (!statement.searches) return statement.args;
  const values: Record<string, string> = {};
  for (const { param, step, index } of statement.searches) {
    const reader = readerFor(index, step.index);
    const { ids } = runSearchStep(step, (q, options) => reader.search(index.view, q, options), (sql) => prepare(sql, false));
    values[param] = JSON.stringify(ids);
  }
  return withNamed(statement.args, values);
}

function run(id: number, request: Extract<ReadRequest, { kind: 'run' }>): ReadReply {
  const budget = new ResultBudget(request);
  const rows: SqlValue[][][] = [];
  let index = 0;
  embeddings.start(request.embeddings);
  try {
    deadline.timed(request.timeoutMs, () => {
      // First, whatever happens next: the engine's ledger of this worker's memories counts on it.
      const statements = memories.restore(request.statements);
      // One snapshot for all statements and their searches: the one `begin` opened, or one opened now.
      if (!db.inTransaction && (statements.length > 1 || statements[0]?.searches)) db.exec('BEGIN');
      for (; index < statements.length; index++) {
        const statement = statements[index];
        embeddings.statement = index;
        const out: SqlValue[][] = [];
        for (const row of prepare(statement.sql).iterate(...searched(statement)) as Iterable<SqlValue[]>) {
          out.push(row);
          budget.add(row, out.length, index);
        }
        rows.push(out);
      }
    }, request.since);
  } catch (e) {
    const misses = embeddings.finish();
    // A failure after a miss may be a placeholder's doing (or the stop at a miss): the engine
    // fetches and runs the read again. Not a timeout, which the run would only meet again.
    if (misses.length > 0 && !(isQuiverError(e) && e.code === 'STATEMENT_TIMEOUT')) return { id, misses };
    return { id, error: toWire(e), index: Math.min(index, request.statements.length - 1) };
  } finally {
    if (db.inTransaction) db.exec('COMMIT');
  }
  const misses = embeddings.finish();
  return misses.length > 0 ? { id, misses } : { id, rows };
}

/** Opens a read transaction and reads the schema page, which fixes the snapshot (WAL). */
function begin(id: number): ReadReply {
  try {
    if (!db.inTransaction) db.exec('BEGIN');
    prepare('SELECT 1 FROM sqlite_schema LIMIT 1').all();
    return { id, ok: true };
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    return { id, error: toWire(e), index: 0 };
  }
}

/** Lets go of index `name`, dropped or re-created, and of its shared memory. */
function forget(name: string): void {
  memories.forget(name);
  if (readers.delete(name)) release();
}

parentPort!.on('message', (request: ReadRequest) => {
  if (request.kind === 'end') {
    if (db.inTransaction) db.exec('ROLLBACK');
  } else if (request.kind === 'forget') {
    forget(request.index);
  } else {
    parentPort!.postMessage(request.kind === 'begin' ? begin(request.id) : run(request.id, request));
  }
});
