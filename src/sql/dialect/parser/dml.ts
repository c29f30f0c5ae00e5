/**
 * @module parser/dml
 * Statements that change rows: INSERT and REPLACE (with MySQL's INSERT IGNORE, VALUE and
 * DEFAULT as a value), upserts (ON CONFLICT ... DO NOTHING / DO UPDATE), UPDATE and DELETE with
 * SQLite's ORDER BY / LIMIT and index hints, RETURNING, and TRUNCATE. A leading WITH is read by
 * statement.ts, which then hands over here.
 */
import type * as A from '../ast.ts';
import type { Cursor } from './cursor.ts';
import { expr } from './expr.ts';
import { fromClause, indexHint, optionalAlias, orderByLimit, resultColumns, select, startsSelect } from './select.ts';
import { conflictAction, indexedColumns } from './table-def.ts';

/** `INSERT [OR action | IGNORE] INTO ...` or `REPLACE [INTO] ...`, through RETURNING. */
export function insertStatement(p: Cursor): A.InsertStatement {
  const start = p.tok.start;
  let verb: A.InsertStatement['verb'] = 'INSERT';
  let orConflict: A.ConflictAction | undefined;
  if (p.acceptWord('REPLACE')) verb = 'REPLACE';
  else {
    p.expectWord('INSERT');
    orConflict = orAction(p);
    if (!orConflict && p.acceptWord('IGNORE')) orConflict = 'IGNORE'; // MySQL INSERT IGNORE
  }
  if (!p.acceptWord('INTO') && verb === 'INSERT') throw p.error('expected INTO');
  const table = p.qualifiedName('a table name');
  const alias = p.acceptWord('AS') ? p.name('an alias') : undefined;
  let columns: string[] | undefined;
  if (p.isOp('(') && !startsSelect(p, p.peek())) columns = p.nameList('a column name');
  let source: A.InsertStatement['source'];
  if (p.acceptWord('DEFAULT', 'VALUES')) source = { kind: 'defaults' };
  else if (p.isWord('VALUES') || p.isWord('VALUE')) {
    p.pos++;
    const rows: A.InsertValue[][] = [];
    do rows.push(valuesRow(p));
    while (p.acceptOp(','));
    source = { kind: 'values', rows };
  } else source = { kind: 'select', select: select(p) };
  const upsert: A.UpsertClause[] = [];
  while (p.isWord('ON') && p.isWord('CONFLICT', p.peek())) upsert.push(upsertClause(p));
  const returning = returningClause(p);
  return { kind: 'insert', verb, orConflict, table, alias, columns, source, upsert, returning, start, end: p.lastEnd };
}

/** `(value, ...)`: a row of INSERT's VALUES, where a value may be MySQL's DEFAULT. */
function valuesRow(p: Cursor): A.InsertValue[] {
  p.expectOp('(');
  const row: A.InsertValue[] = [];
  if (p.isOp(')')) {
    p.pos++;
    return row;
  }
  do {
    const t = p.tok;
    if (p.acceptWord('DEFAULT')) row.push({ kind: 'default', start: t.start, end: t.end });
    else row.push(expr(p));
  } while (p.acceptOp(','));
  p.expectOp(')');
  return row;
}

/** `UPDATE [OR action] table [alias] [hint] SET ... [FROM] [WHERE] [ORDER BY / LIMIT] [RETURNING]`. */
export function updateStatement(p: Cursor): A.UpdateStatement {
  const start = p.tok.start;
  p.expectWord('UPDATE');
  const orConflict = orAction(p);
  const table = p.qualifiedName('a table name');
  const alias = p.isWord('SET') ? undefined : optionalAlias(p);
  const hint = indexHint(p);
  p.expectWord('SET');
  const set = setClauses(p);
  const from = p.acceptWord('FROM') ? fromClause(p) : undefined;
  const where = p.acceptWord('WHERE') ? expr(p) : undefined;
  const { orderBy, limit, offset } = orderByLimit(p);
  const returning = returningClause(p);
  return { kind: 'update', orConflict, table, alias, indexHint: hint, set, from, where, orderBy, limit, offset, returning, start, end: p.lastEnd };
}

/** `DELETE FROM table [alias] [hint] [WHERE] [ORDER BY / LIMIT] [RETURNING]`. */
export function deleteStatement(p: Cursor): A.DeleteStatement {
  const start = p.tok.start;
  p.expectWord('DELETE');
  p.expectWord('FROM');
  const table = p.qualifiedName('a table name');
  const alias = p.isWord('WHERE') ? undefined : optionalAlias(p);
  const hint = indexHint(p);
  const where = p.acceptWord('WHERE') ? expr(p) : undefined;
  const { orderBy, limit, offset } = orderByLimit(p);
  const returning = returningClause(p);
  return { kind: 'delete', table, alias, indexHint: hint, where, orderBy, limit, offset, returning, start, end: p.lastEnd };
}

/** `TRUNCATE [TABLE] name`. */
export function truncateStatement(p: Cursor): A.TruncateStatement {
  const start = p.tok.start;
  p.expectWord('TRUNCATE');
  p.acceptWord('TABLE');
  const table = p.qualifiedName('a table name');
  return { kind: 'truncate', table, start, end: p.lastEnd };
}

/** SQLite's `OR action` after INSERT or UPDATE. */
function orAction(p: Cursor): A.ConflictAction | undefined {
  return p.acceptWord('OR') ? conflictAction(p) : undefined;
}

function upsertClause(p: Cursor): A.UpsertClause {
  const start = p.tok.start;
  p.expectWord('ON', 'CONFLICT');
  let target: A.UpsertClause['target'];
  if (p.acceptOp('(')) {
    const columns = indexedColumns(p);
    p.expectOp(')');
    const where = p.acceptWord('WHERE') ? expr(p) : undefined;
    target = { columns, where };
  }
  p.expectWord('DO');
  if (p.acceptWord('NOTHING')) return { target, start, end: p.lastEnd };
  p.expectWord('UPDATE', 'SET');
  const set = setClauses(p);
  const where = p.acceptWord('WHERE') ? expr(p) : undefined;
  return { target, set, where, start, end: p.lastEnd };
}

function setClauses(p: Cursor): A.SetClause[] {
  const clauses: A.SetClause[] = [];
  do {
    const start = p.tok.start;
    let columns: string[];
    if (p.isOp('(')) columns = p.nameList('a column name');
    else {
      let name = p.name('a column name');
      // MySQL lets the column be qualified: SET t.a = 1.
      if (p.acceptOp('.')) name = p.name('a column name');
      columns = [name];
    }
    p.expectOp('=');
    clauses.push({ columns, value: expr(p), start, end: p.lastEnd });
  } while (p.acceptOp(','));
  return clauses;
}

function returningClause(p: Cursor): A.ResultColumn[] | undefined {
  return p.acceptWord('RETURNING') ? resultColumns(p) : undefined;
}
