/**
 * @module exec/sqlite-errors
 * Turns SQLite's errors into QuiverErrors when they are the user's doing (unknown table,
 * constraint failed, bad SQL that SQLite rejects) and leaves them alone when they are not
 * (I/O errors, corruption), so those become a logged 500. A full disk is neither: the engine
 * asks disk-space.ts first, which answers it as STORAGE_FULL.
 */
import Database from 'better-sqlite3';
import { QuiverError, isQuiverError, type ErrorCode } from '../../core/index.ts';
import { positionOf, type A } from '../dialect/index.ts';

const BY_MESSAGE: [RegExp, ErrorCode][] = [
  [/^no such table/, 'UNKNOWN_TABLE'],
  [/^no such view/, 'UNKNOWN_TABLE'],
  [/^no such column|has no column named/, 'UNKNOWN_COLUMN'],
  [/^no such function|^wrong number of arguments to function/, 'UNKNOWN_FUNCTION'],
  [/^no such index/, 'UNKNOWN_INDEX'],
  [/^no such trigger/, 'SQL_ERROR'],
  [/already exists/, 'ALREADY_EXISTS'],
  [/syntax error|^incomplete input|^unrecognized token/, 'SYNTAX_ERROR'],
  [/transaction|^no such savepoint/, 'TRANSACTION_ERROR'],
  [/bind|parameter/i, 'PARAMETER_ERROR'],
];

/** SQLite result codes that mean the user asked for something invalid. */
const USER_CODES = new Set(['SQLITE_ERROR', 'SQLITE_MISMATCH', 'SQLITE_RANGE', 'SQLITE_TOOBIG', 'SQLITE_AUTH']);

/** `e` as a QuiverError placed at its statement (`index` in the request `sql`), or `e` itself when it is not the user's mistake. */
export function statementError(e: unknown, statement: A.Statement | undefined, index: number, sql: string): unknown {
  const translated = translateSqliteError(e);
  if (!isQuiverError(translated)) return translated;
  if (statement) {
    translated.statementIndex ??= index;
    translated.position ??= positionOf(sql, statement.start);
  }
  return translated;
}

/** The QuiverError for `e`, or `e` itself when it is not the user's mistake. */
export function translateSqliteError(e: unknown): unknown {
  if (!(e instanceof Database.SqliteError)) {
    // better-sqlite3 reports bad bindings as RangeError/TypeError before SQLite sees them.
    if (e instanceof RangeError || e instanceof TypeError) {
      if (/parameter|bind/i.test(e.message)) return new QuiverError('PARAMETER_ERROR', e.message, { cause: e });
    }
    return e;
  }
  const code = e.code;
  if (code.startsWith('SQLITE_CONSTRAINT')) return new QuiverError('CONSTRAINT_VIOLATION', e.message, { cause: e });
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return new QuiverError('DATABASE_BUSY', 'the database is busy; retry shortly', { cause: e });
  if (code === 'SQLITE_MISMATCH') return new QuiverError('TYPE_MISMATCH', e.message, { cause: e });
  if (code === 'SQLITE_TOOBIG') return new QuiverError('BAD_REQUEST', `${e.message}: a value or statement is larger than SQLite allows`, { cause: e });
  if (!USER_CODES.has(code)) return e;
  const match = BY_MESSAGE.find(([pattern]) => pattern.test(e.message));
  return new QuiverError(match ? match[1] : 'SQL_ERROR', e.message, { cause: e });
}
