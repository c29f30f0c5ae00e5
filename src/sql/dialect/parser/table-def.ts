/**
 * @module parser/table-def
 * What a CREATE TABLE holds between its parentheses and after them: column definitions with
 * their constraints (SQLite's and MySQL's: AUTO_INCREMENT, COMMENT, CHARACTER SET, inline KEY),
 * table constraints and foreign keys, indexes declared inline (KEY, FULLTEXT, VECTOR INDEX with
 * its options), and table options. Also the pieces other statements share: indexed columns
 * (CREATE INDEX, upsert targets), vector index options and conflict actions (INSERT OR ...).
 * The type of a column is read by typeName in expr.ts, which CAST shares.
 */
import type * as A from '../ast.ts';
import { KEYWORD_LITERALS } from '../keywords.ts';
import type { Cursor } from './cursor.ts';
import { expr, functionCall, primary, typeName } from './expr.ts';

const CONFLICT_ACTIONS = new Set(['ROLLBACK', 'ABORT', 'REPLACE', 'FAIL', 'IGNORE']);

/** `(column or constraint, ...) [options]` of a CREATE TABLE, read into `stmt`. */
export function tableDefinition(p: Cursor, stmt: A.CreateTableStatement): void {
  p.expectOp('(');
  do {
    if (!tableElement(p, stmt)) stmt.columns.push(columnDef(p));
  } while (p.acceptOp(','));
  p.expectOp(')');
  tableOptions(p, stmt);
}

/** The action of `OR action` or `ON CONFLICT action`: ROLLBACK, ABORT, FAIL, IGNORE or REPLACE. */
export function conflictAction(p: Cursor): A.ConflictAction {
  const action = p.next();
  if (!CONFLICT_ACTIONS.has(action.value)) throw p.error('expected ROLLBACK, ABORT, FAIL, IGNORE or REPLACE', action);
  return action.value as A.ConflictAction;
}

function conflictClause(p: Cursor): A.ConflictAction | undefined {
  return p.acceptWord('ON', 'CONFLICT') ? conflictAction(p) : undefined;
}

/** Reads a table constraint or inline index if one starts here; false for a column. */
function tableElement(p: Cursor, stmt: A.CreateTableStatement): boolean {
  const start = p.tok.start;
  const t = p.tok;
  if (t.kind !== 'word') return false;
  const next = p.peek();
  // A column may be named like a keyword: a constraint keyword is followed by a keyword or a
  // parenthesis, a column name by its type. KEY and INDEX are also read as an index when a
  // name follows, so a column named so is quoted when its type is a bare word.
  if (p.isWord('VECTOR') && (p.isWord('INDEX', next) || p.isWord('KEY', next))) {
    p.pos += 2;
    const name = p.isOp('(') ? undefined : p.name('an index name');
    p.expectOp('(');
    const column = p.name('a column name');
    p.expectOp(')');
    stmt.vectorIndexes.push({ name, column, options: indexOptions(p), declaredAs: 'inline', start, end: p.lastEnd });
    return true;
  }
  if ((t.value === 'KEY' || t.value === 'INDEX') && (p.isOp('(', next) || p.isName(next))) {
    p.pos++;
    const indexName = p.isOp('(') ? undefined : p.name('an index name');
    skipMysqlIndexType(p);
    p.expectOp('(');
    const columns = indexedColumns(p);
    p.expectOp(')');
    stmt.indexes.push({ name: indexName, unique: false, columns, start, end: p.lastEnd });
    return true;
  }
  if (t.value === 'FULLTEXT' && (p.isWord('INDEX', next) || p.isWord('KEY', next))) {
    p.pos += 2;
    const indexName = p.isOp('(') ? undefined : p.name('an index name');
    stmt.fulltextIndexes.push({ name: indexName, columns: p.nameList('a column name'), start, end: p.lastEnd });
    return true;
  }
  if (t.value === 'SPATIAL') throw p.unsupported('SPATIAL indexes are not supported');
  let constraintName: string | undefined;
  if (p.acceptWord('CONSTRAINT')) constraintName = p.name('a constraint name');
  const c = p.tok;
  if (p.acceptWord('PRIMARY', 'KEY')) {
    skipMysqlIndexType(p);
    p.expectOp('(');
    const columns = indexedColumns(p);
    const autoIncrement = p.acceptWord('AUTOINCREMENT');
    p.expectOp(')');
    const onConflict = conflictClause(p);
    stmt.constraints.push({ kind: 'primaryKey', constraintName, columns, onConflict, autoIncrement, start, end: p.lastEnd });
    return true;
  }
  if (p.isWord('UNIQUE') && (p.isOp('(', next) || p.isWord('KEY', next) || p.isWord('INDEX', next) || p.isName(next))) {
    p.pos++;
    let indexName: string | undefined;
    if (p.acceptWord('KEY') || p.acceptWord('INDEX') || !p.isOp('(')) {
      if (!p.isOp('(')) indexName = p.name('an index name');
    }
    skipMysqlIndexType(p);
    p.expectOp('(');
    const columns = indexedColumns(p);
    p.expectOp(')');
    const onConflict = conflictClause(p);
    stmt.constraints.push({ kind: 'unique', constraintName: constraintName ?? indexName, columns, onConflict, start, end: p.lastEnd });
    return true;
  }
  if (p.acceptWord('CHECK')) {
    stmt.constraints.push({ kind: 'check', constraintName, expr: parenExpr(p), start, end: p.lastEnd });
    return true;
  }
  if (p.acceptWord('FOREIGN', 'KEY')) {
    const columns = p.nameList('a column name');
    const ref = foreignKeyRef(p);
    stmt.constraints.push({ kind: 'foreignKey', constraintName, columns, ref, start, end: p.lastEnd });
    return true;
  }
  if (constraintName !== undefined) throw p.error('expected PRIMARY KEY, UNIQUE, CHECK or FOREIGN KEY', c);
  return false;
}

/** MySQL's `USING BTREE|HASH` on index definitions: accepted, meaningless here. */
export function skipMysqlIndexType(p: Cursor): void {
  if (p.acceptWord('USING')) {
    if (!p.acceptWord('BTREE') && !p.acceptWord('HASH')) throw p.error('expected BTREE or HASH');
  }
}

/** `expr [COLLATE name] [ASC|DESC], ...`, as an index or an upsert target lists them. */
export function indexedColumns(p: Cursor): A.IndexedColumn[] {
  const columns: A.IndexedColumn[] = [];
  do {
    const start = p.tok.start;
    let column = expr(p);
    let collation: string | undefined;
    if (column.kind === 'collate') {
      collation = column.collation;
      column = column.expr;
    }
    let direction: A.IndexedColumn['direction'];
    if (p.acceptWord('ASC')) direction = 'ASC';
    else if (p.acceptWord('DESC')) direction = 'DESC';
    columns.push({ expr: column, collation, direction, start, end: p.lastEnd });
  } while (p.acceptOp(','));
  return columns;
}

/** `(expr)`, as CHECK and a generated column take it. */
function parenExpr(p: Cursor): A.Expr {
  p.expectOp('(');
  const check = expr(p);
  p.expectOp(')');
  return check;
}

/** `name [type] [constraints]`, in CREATE TABLE and ALTER TABLE ADD / MODIFY. */
export function columnDef(p: Cursor): A.ColumnDef {
  const start = p.tok.start;
  const name = p.name('a column name', true);
  const type = typeName(p);
  const column: A.ColumnDef = { name, type, constraints: [], start, end: start };
  if (type?.name === 'SERIAL' && type.args.length === 0) expandSerial(column, type);
  for (;;) {
    const cStart = p.tok.start;
    let constraintName: string | undefined;
    if (p.acceptWord('CONSTRAINT')) constraintName = p.name('a constraint name');
    const base = { constraintName, start: cStart };
    if (p.acceptWord('PRIMARY', 'KEY')) {
      let direction: 'ASC' | 'DESC' | undefined;
      if (p.acceptWord('ASC')) direction = 'ASC';
      else if (p.acceptWord('DESC')) direction = 'DESC';
      const onConflict = conflictClause(p);
      const autoIncrement = p.acceptWord('AUTOINCREMENT') || p.acceptWord('AUTO_INCREMENT');
      column.constraints.push({ ...base, kind: 'primaryKey', direction, onConflict, autoIncrement, end: p.lastEnd });
    } else if (p.acceptWord('NOT', 'NULL')) {
      column.constraints.push({ ...base, kind: 'notNull', onConflict: conflictClause(p), end: p.lastEnd });
    } else if (p.acceptWord('NULL')) {
      column.constraints.push({ ...base, kind: 'null', end: p.lastEnd });
    } else if (p.acceptWord('UNIQUE')) {
      p.acceptWord('KEY');
      column.constraints.push({ ...base, kind: 'unique', onConflict: conflictClause(p), end: p.lastEnd });
    } else if (p.acceptWord('KEY')) {
      // MySQL: `id INT KEY` means PRIMARY KEY.
      column.constraints.push({ ...base, kind: 'primaryKey', autoIncrement: false, end: p.lastEnd });
    } else if (p.acceptWord('CHECK')) {
      column.constraints.push({ ...base, kind: 'check', expr: parenExpr(p), end: p.lastEnd });
    } else if (p.acceptWord('DEFAULT')) {
      column.constraints.push({ ...base, kind: 'default', expr: defaultValue(p), end: p.lastEnd });
    } else if (p.acceptWord('COLLATE')) {
      column.constraints.push({ ...base, kind: 'collate', collation: p.name('a collation name', true), end: p.lastEnd });
    } else if (p.isWord('REFERENCES')) {
      column.constraints.push({ ...base, kind: 'references', ref: foreignKeyRef(p), end: p.lastEnd });
    } else if (p.isWord('GENERATED') || p.isWord('AS')) {
      if (p.acceptWord('GENERATED')) p.expectWord('ALWAYS');
      p.expectWord('AS');
      const generated = parenExpr(p);
      let storage: 'STORED' | 'VIRTUAL' | undefined;
      if (p.acceptWord('STORED')) storage = 'STORED';
      else if (p.acceptWord('VIRTUAL')) storage = 'VIRTUAL';
      column.constraints.push({ ...base, kind: 'generated', expr: generated, storage, end: p.lastEnd });
    } else if (constraintName === undefined && (p.acceptWord('AUTO_INCREMENT') || p.acceptWord('AUTOINCREMENT'))) {
      column.constraints.push({ ...base, kind: 'autoIncrement', end: p.lastEnd });
    } else if (constraintName === undefined && p.acceptWord('COMMENT')) {
      const t = p.next();
      if (t.kind !== 'string') throw p.error('expected a string after COMMENT', t);
      column.comment = t.value;
    } else if (constraintName === undefined && (p.acceptWord('CHARACTER', 'SET') || p.acceptWord('CHARSET'))) {
      // MySQL character sets: every SQLite string is Unicode, so this is accepted and dropped.
      p.name('a character set name', true);
    } else if (constraintName !== undefined) {
      throw p.error('expected a constraint after CONSTRAINT name');
    } else break;
  }
  column.end = p.lastEnd;
  return column;
}

/**
 * MySQL's SERIAL is an alias, and MySQL stores what it stands for: `BIGINT UNSIGNED NOT NULL
 * AUTO_INCREMENT UNIQUE`. So it is read as that (the parts span the word SERIAL), and SHOW
 * CREATE TABLE and DESCRIBE show the expansion, as MySQL's do.
 */
function expandSerial(column: A.ColumnDef, serial: A.TypeName): void {
  const span = { start: serial.start, end: serial.end };
  column.type = { name: 'BIGINT UNSIGNED', args: [], ...span };
  column.constraints.push({ kind: 'notNull', ...span }, { kind: 'autoIncrement', ...span }, { kind: 'unique', ...span });
}

/** DEFAULT takes a literal, a signed number, a keyword constant, or a parenthesised expression. */
function defaultValue(p: Cursor): A.Expr {
  const t = p.tok;
  if (p.isOp('(')) return primary(p);
  if (t.kind === 'op' && (t.value === '-' || t.value === '+')) {
    p.pos++;
    const operand = primary(p);
    return { kind: 'unary', op: t.value as '-' | '+', operand, start: t.start, end: p.lastEnd };
  }
  if (t.kind === 'word' && p.isOp('(', p.peek())) return functionCall(p);
  if (t.kind === 'word' && !KEYWORD_LITERALS.has(t.value)) {
    // SQLite reads a bare word as a string default.
    p.pos++;
    return { kind: 'literal', type: 'string', value: t.text, start: t.start, end: t.end };
  }
  return primary(p);
}

function foreignKeyRef(p: Cursor): A.ForeignKeyRef {
  const start = p.tok.start;
  p.expectWord('REFERENCES');
  const table = p.name('a table name');
  const columns = p.isOp('(') ? p.nameList('a column name') : undefined;
  const clauses: string[] = [];
  for (;;) {
    if (p.acceptWord('ON')) {
      const event = p.next();
      if (event.value !== 'DELETE' && event.value !== 'UPDATE') throw p.error('expected DELETE or UPDATE', event);
      let action: string;
      if (p.acceptWord('SET', 'NULL')) action = 'SET NULL';
      else if (p.acceptWord('SET', 'DEFAULT')) action = 'SET DEFAULT';
      else if (p.acceptWord('CASCADE')) action = 'CASCADE';
      else if (p.acceptWord('RESTRICT')) action = 'RESTRICT';
      else if (p.acceptWord('NO', 'ACTION')) action = 'NO ACTION';
      else throw p.error('expected SET NULL, SET DEFAULT, CASCADE, RESTRICT or NO ACTION');
      clauses.push(`ON ${event.value} ${action}`);
    } else if (p.acceptWord('MATCH')) {
      clauses.push(`MATCH ${p.name('a match type')}`);
    } else if (p.isWord('DEFERRABLE') || (p.isWord('NOT') && p.isWord('DEFERRABLE', p.peek()))) {
      let clause = p.acceptWord('NOT') ? 'NOT DEFERRABLE' : 'DEFERRABLE';
      p.expectWord('DEFERRABLE');
      if (p.acceptWord('INITIALLY')) {
        if (p.acceptWord('DEFERRED')) clause += ' INITIALLY DEFERRED';
        else if (p.acceptWord('IMMEDIATE')) clause += ' INITIALLY IMMEDIATE';
        else throw p.error('expected DEFERRED or IMMEDIATE');
      }
      clauses.push(clause);
    } else break;
  }
  return { table, columns, clauses, start, end: p.lastEnd };
}

/** Table options after the closing parenthesis: SQLite's and MySQL's. */
function tableOptions(p: Cursor, stmt: A.CreateTableStatement): void {
  for (;;) {
    p.acceptOp(',');
    if (p.acceptWord('WITHOUT')) {
      if (!p.acceptWord('ROWID')) throw p.error('expected ROWID');
      stmt.withoutRowid = true;
      continue;
    }
    if (p.acceptWord('STRICT')) {
      stmt.strict = true;
      continue;
    }
    if (p.tok.kind !== 'word') return;
    const words: string[] = [p.next().value];
    // Options such as DEFAULT CHARSET=x, CHARACTER SET x, DEFAULT COLLATE x.
    while (p.tok.kind === 'word' && ['CHARSET', 'CHARACTER', 'SET', 'COLLATE'].includes(p.tok.value)) words.push(p.next().value);
    p.acceptOp('=');
    const t = p.next();
    if (t.kind !== 'string' && t.kind !== 'word' && t.kind !== 'number' && t.kind !== 'ident') throw p.error('expected a table option value', t);
    const name = words.join(' ');
    const value = t.kind === 'word' ? t.text : t.value;
    if (name === 'COMMENT') stmt.comment = value;
    stmt.options.push({ name, value });
  }
}

/**
 * `m=6 distance=cosine`, as AliSQL writes them after a vector index, and pgvector's
 * `WITH (m = 16, quantization = 'int8')`; either form, or both, in any order.
 */
export function indexOptions(p: Cursor): { name: string; value: string }[] {
  const options: { name: string; value: string }[] = [];
  const option = () => {
    const name = p.next().value.toLowerCase();
    p.pos++;
    const t = p.next();
    if (t.kind !== 'word' && t.kind !== 'number' && t.kind !== 'string') throw p.error('expected an option value', t);
    options.push({ name, value: t.kind === 'word' ? t.text : t.value });
  };
  for (;;) {
    if (p.tok.kind === 'word' && p.isOp('=', p.peek())) {
      option();
    } else if (p.isWord('WITH') && p.isOp('(', p.peek())) {
      p.pos += 2;
      for (;;) {
        if (p.tok.kind !== 'word' || !p.isOp('=', p.peek())) throw p.error('expected an index option: name = value');
        option();
        if (!p.isOp(',')) break;
        p.pos++;
      }
      p.expectOp(')');
    } else {
      return options;
    }
  }
}
