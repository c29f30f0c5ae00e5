/**
 * @module parser/ddl
 * Statements that change the schema: CREATE TABLE (its body is read by table-def.ts), CREATE
 * [UNIQUE] INDEX, VECTOR INDEX and FULLTEXT INDEX, CREATE VIEW and TRIGGER, DROP and ALTER
 * TABLE. CREATE VIRTUAL TABLE is refused (UNSUPPORTED_STATEMENT).
 */
import type * as A from '../ast.ts';
import type { Cursor } from './cursor.ts';
import { expr } from './expr.ts';
import { select } from './select.ts';
import { statement } from './statement.ts';
import { columnDef, indexedColumns, indexOptions, skipMysqlIndexType, tableDefinition } from './table-def.ts';

const DROPPABLE = ['TABLE', 'INDEX', 'VIEW', 'TRIGGER'];

/** `CREATE ...`: every kind of object Quiver creates. */
export function createStatement(p: Cursor): A.Statement {
  const start = p.tok.start;
  p.expectWord('CREATE');
  const temp = p.acceptWord('TEMP') || p.acceptWord('TEMPORARY');
  if (p.acceptWord('TABLE')) return createTable(p, start, temp);
  if (p.acceptWord('VIEW')) return createView(p, start, temp);
  if (p.acceptWord('TRIGGER')) return createTrigger(p, start, temp);
  if (temp) throw p.error('expected TABLE, VIEW or TRIGGER after TEMP');
  if (p.acceptWord('VECTOR')) {
    p.expectWord('INDEX');
    return createVectorIndex(p, start);
  }
  if (p.acceptWord('FULLTEXT')) {
    p.expectWord('INDEX');
    return createFulltextIndex(p, start);
  }
  const unique = p.acceptWord('UNIQUE');
  if (p.acceptWord('INDEX')) return createIndex(p, start, unique);
  if (p.isWord('VIRTUAL')) throw p.unsupported('CREATE VIRTUAL TABLE is not supported');
  throw p.error('expected TABLE, INDEX, VECTOR INDEX, FULLTEXT INDEX, VIEW or TRIGGER');
}

function ifNotExists(p: Cursor): boolean {
  return p.acceptWord('IF', 'NOT', 'EXISTS');
}

function createTable(p: Cursor, start: number, temp: boolean): A.CreateTableStatement {
  const exists = ifNotExists(p);
  const name = p.qualifiedName('a table name');
  const stmt: A.CreateTableStatement = {
    kind: 'createTable', temp, ifNotExists: exists, name, columns: [], constraints: [], indexes: [], vectorIndexes: [], fulltextIndexes: [],
    options: [], withoutRowid: false, strict: false, start, end: start,
  };
  if (p.acceptWord('AS')) stmt.asSelect = select(p);
  else tableDefinition(p, stmt);
  stmt.end = p.lastEnd;
  return stmt;
}

/** `[IF NOT EXISTS] name ON table`, as CREATE VECTOR INDEX and CREATE FULLTEXT INDEX start. */
function indexTarget(p: Cursor): { ifNotExists: boolean; name: string; table: string } {
  const exists = ifNotExists(p);
  const name = p.name('an index name');
  p.expectWord('ON');
  return { ifNotExists: exists, name, table: p.name('a table name') };
}

function createVectorIndex(p: Cursor, start: number): A.CreateVectorIndexStatement {
  const { ifNotExists: exists, name, table } = indexTarget(p);
  const colStart = p.tok.start;
  p.expectOp('(');
  const column = p.name('a column name');
  p.expectOp(')');
  const index: A.VectorIndexDef = { name, column, options: indexOptions(p), declaredAs: 'statement', start: colStart, end: p.lastEnd };
  return { kind: 'createVectorIndex', ifNotExists: exists, name, table, index, start, end: p.lastEnd };
}

function createFulltextIndex(p: Cursor, start: number): A.CreateFulltextIndexStatement {
  const { ifNotExists: exists, name, table } = indexTarget(p);
  const colStart = p.tok.start;
  const columns = p.nameList('a column name');
  return { kind: 'createFulltextIndex', ifNotExists: exists, name, table, index: { name, columns, start: colStart, end: p.lastEnd }, start, end: p.lastEnd };
}

function createIndex(p: Cursor, start: number, unique: boolean): A.CreateIndexStatement {
  const exists = ifNotExists(p);
  const name = p.qualifiedName('an index name');
  skipMysqlIndexType(p);
  p.expectWord('ON');
  const table = p.name('a table name');
  p.expectOp('(');
  const columns = indexedColumns(p);
  p.expectOp(')');
  const where = p.acceptWord('WHERE') ? expr(p) : undefined;
  return { kind: 'createIndex', unique, ifNotExists: exists, name, table, columns, where, start, end: p.lastEnd };
}

function createView(p: Cursor, start: number, temp: boolean): A.CreateViewStatement {
  const exists = ifNotExists(p);
  const name = p.qualifiedName('a view name');
  const columns = p.isOp('(') ? p.nameList('a column name') : undefined;
  p.expectWord('AS');
  const body = select(p);
  return { kind: 'createView', temp, ifNotExists: exists, name, columns, select: body, start, end: p.lastEnd };
}

function createTrigger(p: Cursor, start: number, temp: boolean): A.CreateTriggerStatement {
  const exists = ifNotExists(p);
  const name = p.qualifiedName('a trigger name');
  let timing: A.CreateTriggerStatement['timing'];
  if (p.acceptWord('BEFORE')) timing = 'BEFORE';
  else if (p.acceptWord('AFTER')) timing = 'AFTER';
  else if (p.acceptWord('INSTEAD', 'OF')) timing = 'INSTEAD OF';
  let event: A.CreateTriggerStatement['event'];
  let updateOf: string[] | undefined;
  if (p.acceptWord('DELETE')) event = 'DELETE';
  else if (p.acceptWord('INSERT')) event = 'INSERT';
  else if (p.acceptWord('UPDATE')) {
    event = 'UPDATE';
    if (p.acceptWord('OF')) {
      updateOf = [];
      do updateOf.push(p.name('a column name'));
      while (p.acceptOp(','));
    }
  } else throw p.error('expected DELETE, INSERT or UPDATE');
  p.expectWord('ON');
  const table = p.name('a table name');
  const forEachRow = p.acceptWord('FOR', 'EACH', 'ROW');
  const when = p.acceptWord('WHEN') ? expr(p) : undefined;
  p.expectWord('BEGIN');
  const body: A.CreateTriggerStatement['body'] = [];
  while (!p.isWord('END')) {
    // Any statement is read, so that one a trigger cannot hold is named as such.
    const s = statement(p);
    if (s.kind !== 'insert' && s.kind !== 'update' && s.kind !== 'delete' && s.kind !== 'select') {
      throw p.error('a trigger body holds only INSERT, UPDATE, DELETE and SELECT statements');
    }
    body.push(s);
    p.expectOp(';');
  }
  p.expectWord('END');
  if (body.length === 0) throw p.error('expected at least one statement in the trigger body');
  return { kind: 'createTrigger', temp, ifNotExists: exists, name, timing, event, updateOf, table, forEachRow, when, body, start, end: p.lastEnd };
}

/** `DROP TABLE|INDEX|VIEW|TRIGGER [IF EXISTS] name [ON table]`, one object per statement. */
export function dropStatement(p: Cursor): A.DropStatement {
  const start = p.tok.start;
  p.expectWord('DROP');
  const t = p.next();
  if (t.kind !== 'word' || !DROPPABLE.includes(t.value)) throw p.error('expected TABLE, INDEX, VIEW or TRIGGER', t);
  const ifExists = p.acceptWord('IF', 'EXISTS');
  const name = p.qualifiedName(`a ${t.value.toLowerCase()} name`);
  const table = t.value === 'INDEX' && p.acceptWord('ON') ? p.name('a table name') : undefined;
  if (t.value === 'TABLE' && p.isOp(',')) throw p.error('drop one table per statement (DROP TABLE a; DROP TABLE b)');
  return { kind: 'drop', object: t.value as A.DropStatement['object'], ifExists, name, table, start, end: p.lastEnd };
}

/** `ALTER TABLE name RENAME ... | ADD [COLUMN] ... | DROP [COLUMN] ... | MODIFY [COLUMN] ...`. */
export function alterTableStatement(p: Cursor): A.AlterTableStatement {
  const start = p.tok.start;
  p.expectWord('ALTER', 'TABLE');
  const table = p.qualifiedName('a table name');
  let action: A.AlterAction;
  if (p.acceptWord('RENAME')) {
    if (p.acceptWord('TO') || p.acceptWord('AS')) action = { kind: 'renameTable', to: p.name('a table name') };
    else {
      p.acceptWord('COLUMN');
      const from = p.name('a column name');
      p.expectWord('TO');
      action = { kind: 'renameColumn', from, to: p.name('a column name') };
    }
  } else if (p.acceptWord('ADD')) {
    p.acceptWord('COLUMN');
    action = { kind: 'addColumn', column: columnDef(p) };
  } else if (p.acceptWord('DROP')) {
    p.acceptWord('COLUMN');
    action = { kind: 'dropColumn', name: p.name('a column name') };
  } else if (p.acceptWord('MODIFY')) {
    p.acceptWord('COLUMN');
    action = { kind: 'modifyColumn', column: columnDef(p) };
  } else throw p.error('expected RENAME, ADD, DROP or MODIFY');
  return { kind: 'alterTable', table, action, start, end: p.lastEnd };
}
