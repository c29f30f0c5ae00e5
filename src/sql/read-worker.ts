/**
 * @module read-worker
 * A read worker thread (see read-pool.ts): its own read-only connection to the WAL database,
 * with Quiver's SQL functions, running the SELECTs the engine has already parsed, checked and
 * planned. All statements of one request run in one read transaction, so they see one snapshot,
 * which the engine may open ahead of planning (`begin`, see read-pool.ts).
 * Rows are counted against the request's limits as they are stepped, so an oversized result
 * stops early instead of filling memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { registerFulltextFunctions } from './fulltext.ts';
import { ResultBudget } from './limits.ts';
import { NEEDS_EMBEDDINGS, toWire, type ReadReply, type ReadRequest } from './read-protocol.ts';
import type { SqlValue } from './types.ts';
import { registerVectorFunctions } from './vector-functions.ts';

const MAX_CACHED_STATEMENTS = 500;

const db = new Database((workerData as { file: string }).file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
registerVectorFunctions(db);
registerFulltextFunctions(db);
// EMBEDDING() may hide in a view; the engine answers those requests on its own connection.
const needsEmbeddings = (): never => {
  throw new Error(NEEDS_EMBEDDINGS);
};
db.function('embedding', { deterministic: true }, (_a: unknown, _b: unknown) => needsEmbeddings());
db.function('embedding', { deterministic: true }, (_a: unknown, _b: unknown, _c: unknown) => needsEmbeddings());

const prepared = new Map<string, Database.Statement>();

function prepare(sql: string): Database.Statement {
  let stmt = prepared.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    stmt.raw(true);
    stmt.safeIntegers(true);
    if (prepared.size >= MAX_CACHED_STATEMENTS) prepared.delete(prepared.keys().next().value!);
    prepared.set(sql, stmt);
  }
  return stmt;
}

function run(id: number, request: Extract<ReadRequest, { kind: 'run' }>): ReadReply {
  const budget = new ResultBudget(request);
  const rows: SqlValue[][][] = [];
  let index = 0;
  try {
    // One snapshot for all statements: the one `begin` opened, or one opened now.
    if (!db.inTransaction && request.statements.length > 1) db.exec('BEGIN');
    for (; index < request.statements.length; index++) {
      const { sql, args } = request.statements[index];
      const out: SqlValue[][] = [];
      for (const row of prepare(sql).iterate(...args) as Iterable<SqlValue[]>) {
        out.push(row);
        budget.add(row, out.length, index);
      }
      rows.push(out);
    }
    return { id, rows };
  } catch (e) {
    return { id, error: toWire(e), index: Math.min(index, request.statements.length - 1) };
  } finally {
    if (db.inTransaction) db.exec('COMMIT');
  }
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

parentPort!.on('message', (request: ReadRequest) => {
  if (request.kind === 'end') {
    if (db.inTransaction) db.exec('ROLLBACK');
  } else {
    parentPort!.postMessage(request.kind === 'begin' ? begin(request.id) : run(request.id, request));
  }
});
