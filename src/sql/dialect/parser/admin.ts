/**
 * @module parser/admin
 * Statements that run the database rather than read or change rows and schema: transactions
 * and savepoints, SHOW and DESCRIBE, SET, PRAGMA, EXPLAIN, OPTIMIZE TABLE, and ANALYZE /
 * REINDEX / VACUUM. Which PRAGMAs and settings are allowed is decided after parsing; VACUUM INTO
 * is refused here because it writes a file outside the database.
 */
import type * as A from '../ast.ts';
import type { Cursor } from './cursor.ts';
import { expr } from './expr.ts';
import { statement } from './statement.ts';

/** BEGIN / START TRANSACTION, COMMIT / END, ROLLBACK [TO], SAVEPOINT and RELEASE. */
export function transactionStatement(p: Cursor): A.TransactionStatement {
  const start = p.tok.start;
  const word = p.next().value;
  const done = (action: A.TransactionStatement['action'], extra: Partial<A.TransactionStatement> = {}): A.TransactionStatement => ({
    kind: 'transaction', action, ...extra, start, end: p.lastEnd,
  });
  switch (word) {
    case 'BEGIN': {
      let mode: string | undefined;
      if (p.acceptWord('DEFERRED')) mode = 'DEFERRED';
      else if (p.acceptWord('IMMEDIATE')) mode = 'IMMEDIATE';
      else if (p.acceptWord('EXCLUSIVE')) mode = 'EXCLUSIVE';
      acceptTransactionWord(p);
      return done('BEGIN', { mode });
    }
    case 'START':
      p.expectWord('TRANSACTION');
      return done('BEGIN');
    case 'COMMIT':
    case 'END':
      acceptTransactionWord(p);
      return done('COMMIT');
    case 'ROLLBACK': {
      acceptTransactionWord(p);
      if (p.acceptWord('TO')) {
        p.acceptWord('SAVEPOINT');
        return done('ROLLBACK', { savepoint: p.name('a savepoint name') });
      }
      return done('ROLLBACK');
    }
    case 'SAVEPOINT':
      return done('SAVEPOINT', { savepoint: p.name('a savepoint name') });
    default:
      p.acceptWord('SAVEPOINT');
      return done('RELEASE', { savepoint: p.name('a savepoint name') });
  }
}

/** The optional TRANSACTION (SQLite) or WORK (MySQL) after BEGIN, COMMIT or ROLLBACK. */
function acceptTransactionWord(p: Cursor): void {
  if (!p.acceptWord('TRANSACTION')) p.acceptWord('WORK');
}

/** SHOW TABLES, CREATE TABLE, COLUMNS, INDEX, INDEX STATUS, EMBEDDING MODELS, PROCESSLIST or CLUSTER STATUS. */
export function showStatement(p: Cursor): A.ShowStatement {
  const start = p.tok.start;
  p.expectWord('SHOW');
  p.acceptWord('FULL');
  if (p.acceptWord('TABLES')) {
    let like: string | undefined;
    if (p.acceptWord('LIKE')) {
      const t = p.next();
      if (t.kind !== 'string') throw p.error('expected a pattern string', t);
      like = t.value;
    }
    return { kind: 'show', what: 'TABLES', like, start, end: p.lastEnd };
  }
  if (p.acceptWord('CREATE', 'TABLE')) {
    return { kind: 'show', what: 'CREATE TABLE', table: p.name('a table name'), start, end: p.lastEnd };
  }
  if (p.acceptWord('COLUMNS') || p.acceptWord('FIELDS')) {
    return { kind: 'show', what: 'COLUMNS', table: fromTable(p), start, end: p.lastEnd };
  }
  if (p.acceptWord('EMBEDDING', 'MODELS')) return { kind: 'show', what: 'EMBEDDING MODELS', start, end: p.lastEnd };
  if (p.acceptWord('PROCESSLIST')) return { kind: 'show', what: 'PROCESSLIST', start, end: p.lastEnd };
  if (p.acceptWord('CLUSTER', 'STATUS')) return { kind: 'show', what: 'CLUSTER STATUS', start, end: p.lastEnd };
  if (p.acceptWord('INDEX', 'STATUS') || p.acceptWord('VECTOR', 'INDEX', 'STATUS')) {
    const table = p.acceptWord('FROM') || p.acceptWord('IN') ? p.name('a table name') : undefined;
    return { kind: 'show', what: 'INDEX STATUS', table, start, end: p.lastEnd };
  }
  if (p.acceptWord('INDEX') || p.acceptWord('INDEXES') || p.acceptWord('KEYS')) {
    return { kind: 'show', what: 'INDEX', table: fromTable(p), start, end: p.lastEnd };
  }
  throw p.error('expected TABLES, CREATE TABLE, COLUMNS, INDEX, INDEX STATUS, EMBEDDING MODELS, PROCESSLIST or CLUSTER STATUS');
}

/** `FROM table` or `IN table`, as SHOW COLUMNS and SHOW INDEX take it. */
function fromTable(p: Cursor): string {
  if (!p.acceptWord('FROM')) p.expectWord('IN');
  return p.name('a table name');
}

/** `DESCRIBE table` or `DESC table`: SHOW COLUMNS under MySQL's other name. */
export function describeStatement(p: Cursor): A.ShowStatement {
  const start = p.tok.start;
  p.next();
  return { kind: 'show', what: 'COLUMNS', table: p.name('a table name'), start, end: p.lastEnd };
}

/** `SET [SESSION] name = expr` (or `:=`); the name is case-insensitive. */
export function setStatement(p: Cursor): A.SetStatement {
  const start = p.tok.start;
  p.expectWord('SET');
  p.acceptWord('SESSION');
  const name = p.name('a setting name').toLowerCase();
  if (!p.acceptOp('=')) p.expectOp(':=');
  return { kind: 'set', name, value: expr(p), start, end: p.lastEnd };
}

/** `PRAGMA name`, `PRAGMA name = value` or `PRAGMA name(value)`. */
export function pragmaStatement(p: Cursor): A.PragmaStatement {
  const start = p.tok.start;
  p.expectWord('PRAGMA');
  const name = p.qualifiedName('a pragma name');
  let value: string | undefined;
  if (p.acceptOp('=')) value = pragmaValue(p);
  else if (p.acceptOp('(')) {
    value = pragmaValue(p);
    p.expectOp(')');
  }
  return { kind: 'pragma', name, value, start, end: p.lastEnd };
}

/** A pragma's value as written: a word, number or string, with an optional minus sign. */
function pragmaValue(p: Cursor): string {
  const sign = p.acceptOp('-') ? '-' : '';
  const t = p.next();
  if (t.kind === 'eof' || t.kind === 'op') throw p.error('expected a pragma value', t);
  return sign + (t.kind === 'word' ? t.text : t.value);
}

/** `EXPLAIN [QUERY PLAN] statement`, any statement but another EXPLAIN. */
export function explainStatement(p: Cursor): A.ExplainStatement {
  const start = p.tok.start;
  p.expectWord('EXPLAIN');
  const queryPlan = p.acceptWord('QUERY', 'PLAN');
  const explained = statement(p);
  if (explained.kind === 'explain') throw p.error('EXPLAIN cannot explain an EXPLAIN');
  return { kind: 'explain', queryPlan, statement: explained, start, end: p.lastEnd };
}

/** `OPTIMIZE [TABLE] name` (MySQL's statement): the engine flushes and merges the table's vector indexes. */
export function optimizeStatement(p: Cursor): A.OptimizeStatement {
  const start = p.next().start;
  p.acceptWord('TABLE');
  return { kind: 'optimize', table: p.qualifiedName('a table name'), start, end: p.lastEnd };
}

/** `ANALYZE`, `REINDEX` or `VACUUM`, with an optional target; never VACUUM INTO. */
export function maintenanceStatement(p: Cursor): A.MaintenanceStatement {
  const start = p.tok.start;
  const verb = p.next().value as A.MaintenanceStatement['verb'];
  const target = p.isName() ? p.qualifiedName('a name') : undefined;
  if (verb === 'VACUUM' && p.isWord('INTO')) throw p.unsupported('VACUUM INTO is not allowed: it writes a file outside the database');
  return { kind: 'maintenance', verb, target, start, end: p.lastEnd };
}
