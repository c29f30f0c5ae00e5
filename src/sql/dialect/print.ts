/**
 * @module dialect/print
 * Prints an AST as Quiver's own dialect, as the user would write it (SHOW CREATE TABLE, the
 * catalog's text of generated columns and defaults, round trips). The printer is pure: it reads
 * no catalog and checks nothing. Parentheses are printed only where precedence needs them, so
 * the output parses back to the same tree.
 *
 * The translation to SQLite (src/sql/lower/) is a printer too: it extends {@link Printer} and
 * overrides the protected hooks below where SQLite's spelling or Quiver's rewrites differ, so
 * the shape of every statement is written once, here.
 */
import type * as A from './ast.ts';
import { isBareTypeWord } from './keywords.ts';
import { identifier, quoteIdent, quoteString, type QuoteStyle } from './quote.ts';

// Precedence levels, loosest first (SQLite's operator table).
export const P_OR = 1;
export const P_AND = 2;
export const P_NOT = 3;
export const P_EQUALITY = 4;
export const P_COMPARE = 5;
const P_BITWISE = 6;
export const P_ADD = 7;
const P_MUL = 8;
export const P_CONCAT = 9;
const P_UNARY = 10;
const P_COLLATE = 11;
const P_PRIMARY = 12;

const BINARY_PRECEDENCE: Record<A.BinaryOp, number> = {
  OR: P_OR, AND: P_AND,
  '=': P_EQUALITY, '==': P_EQUALITY, '!=': P_EQUALITY, '<>': P_EQUALITY, IS: P_EQUALITY, 'IS NOT': P_EQUALITY,
  '<': P_COMPARE, '<=': P_COMPARE, '>': P_COMPARE, '>=': P_COMPARE,
  '&': P_BITWISE, '|': P_BITWISE, '<<': P_BITWISE, '>>': P_BITWISE,
  '+': P_ADD, '-': P_ADD,
  '*': P_MUL, '/': P_MUL, '%': P_MUL,
  '||': P_CONCAT, '->': P_CONCAT, '->>': P_CONCAT,
};

function precedence(e: A.Expr): number {
  switch (e.kind) {
    case 'binary':
      return BINARY_PRECEDENCE[e.op];
    case 'unary':
      return e.op === 'NOT' ? P_NOT : P_UNARY;
    case 'like':
    case 'between':
    case 'in':
    case 'nulltest':
      return P_EQUALITY;
    case 'collate':
      return P_COLLATE;
    default:
      return P_PRIMARY;
  }
}

/** `statement` in Quiver's dialect. */
export function printStatement(statement: A.Statement): string {
  return new Printer().statement(statement);
}

/** `expr` in Quiver's dialect. */
export function printExpression(expr: A.Expr): string {
  return new Printer().expr(expr);
}

/** A column definition in Quiver's dialect, as SHOW CREATE TABLE prints it. */
export function printColumnDef(c: A.ColumnDef): string {
  return new Printer().columnDef(c);
}

/** A table constraint in Quiver's dialect. */
export function printTableConstraint(c: A.TableConstraint): string {
  return new Printer().tableConstraint(c);
}

/** An identifier as Quiver's dialect writes it (backticks only where needed). */
export function printIdent(name: string): string {
  return identifier(name, 'quiver');
}

/** The AST printer; see the module comment for how the SQLite translation extends it. */
export class Printer {
  protected readonly style: QuoteStyle = 'quiver';

  // -------------------------------------------------------------------------------------------
  // Names and literals

  ident(name: string): string {
    return identifier(name, this.style);
  }

  protected string(value: string): string {
    return quoteString(value);
  }

  /** The name of a table or view the statement reads or changes. */
  protected tableName(name: A.QualifiedName | string): string {
    return typeof name === 'string' ? this.ident(name) : this.qualified(name);
  }

  protected qualified(name: A.QualifiedName): string {
    return name.schema ? `${this.ident(name.schema)}.${this.ident(name.name)}` : this.ident(name.name);
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  expr(e: A.Expr, minPrecedence = 0): string {
    const text = this.exprText(e);
    return precedence(e) < minPrecedence ? `(${text})` : text;
  }

  protected exprText(e: A.Expr): string {
    switch (e.kind) {
      case 'literal':
        if (e.type === 'string') return this.string(e.value);
        if (e.type === 'blob') return `X'${e.value}'`;
        return e.value;
      case 'param':
        return this.param(e);
      case 'column':
        return [e.schema, e.table, e.column].filter((p) => p !== undefined).map((p) => this.ident(p!)).join('.');
      case 'unary': {
        if (e.op === 'NOT') {
          const operand = this.expr(e.operand, P_NOT);
          // `NOT (EXISTS (...) ISNULL)` must not read back as `NOT EXISTS`.
          return /^EXISTS\b/.test(operand) ? `NOT (${operand})` : `NOT ${operand}`;
        }
        const operand = this.expr(e.operand, P_UNARY);
        // `- -1` must not become `--1`, which is a comment.
        return /^[-+]/.test(operand) ? `${e.op} ${operand}` : `${e.op}${operand}`;
      }
      case 'binary': {
        const p = BINARY_PRECEDENCE[e.op];
        return `${this.expr(e.left, p)} ${e.op} ${this.expr(e.right, p + 1)}`;
      }
      case 'like': {
        let text = `${this.expr(e.left, P_EQUALITY)} ${e.not ? 'NOT ' : ''}${e.op} ${this.expr(e.right, P_COMPARE)}`;
        if (e.escape) text += ` ESCAPE ${this.expr(e.escape, P_COMPARE)}`;
        return text;
      }
      case 'between':
        return `${this.expr(e.expr, P_EQUALITY)} ${e.not ? 'NOT ' : ''}BETWEEN ${this.expr(e.low, P_COMPARE)} AND ${this.expr(e.high, P_COMPARE)}`;
      case 'in': {
        const head = `${this.expr(e.expr, P_EQUALITY)} ${e.not ? 'NOT ' : ''}IN `;
        if (e.select) return `${head}(${this.select(e.select)})`;
        if (e.table) return head + this.tableName(e.table);
        return `${head}(${e.list!.map((x) => this.expr(x)).join(', ')})`;
      }
      case 'nulltest':
        return `${this.expr(e.expr, P_EQUALITY)} ${e.not ? 'NOTNULL' : 'ISNULL'}`;
      case 'case': {
        let text = 'CASE';
        if (e.operand) text += ` ${this.expr(e.operand)}`;
        for (const w of e.whens) text += ` WHEN ${this.expr(w.when)} THEN ${this.expr(w.then)}`;
        if (e.else) text += ` ELSE ${this.expr(e.else)}`;
        return `${text} END`;
      }
      case 'cast':
        return `CAST(${this.expr(e.expr)} AS ${this.typeName(e.type)})`;
      case 'function':
        return this.functionCall(e);
      case 'exists':
        return `${e.not ? 'NOT ' : ''}EXISTS (${this.select(e.select)})`;
      case 'subquery':
        return `(${this.select(e.select)})`;
      case 'collate':
        return `${this.expr(e.expr, P_COLLATE)} COLLATE ${this.ident(e.collation)}`;
      case 'row':
        return `(${e.items.map((x) => this.expr(x)).join(', ')})`;
      case 'raise':
        return `RAISE(${e.action}${e.message ? `, ${this.expr(e.message)}` : ''})`;
      case 'matchAgainst':
        return this.matchAgainst(e);
    }
  }

  protected matchAgainst(e: A.MatchAgainstExpr): string {
    return `MATCH (${e.columns.map((c) => this.exprText(c)).join(', ')}) AGAINST (${this.expr(e.query)})`;
  }

  /** A WHERE clause's condition. */
  protected where(e: A.Expr): string {
    return this.expr(e);
  }

  protected param(e: A.ParamExpr): string {
    return e.text;
  }

  protected typeName(t: A.TypeName): string {
    // A word the parser would take for a keyword (it was quoted) is quoted again.
    const name = t.name.split(' ').map((w) => (isBareTypeWord(w) ? w : quoteIdent(w, this.style))).join(' ');
    return t.args.length ? `${name}(${t.args.join(',')})` : name;
  }

  protected functionCall(e: A.FunctionExpr): string {
    let text = `${e.name}(${e.star ? '*' : this.functionArgs(e)})`;
    if (e.filter) text += ` FILTER (WHERE ${this.expr(e.filter)})`;
    if (e.over) text += ` OVER ${this.windowSpec(e.over)}`;
    return text;
  }

  /** The arguments of a call: MySQL writes GROUP_CONCAT's SEPARATOR last. */
  protected functionArgs(e: A.FunctionExpr): string {
    let args = (e.distinct ? 'DISTINCT ' : '') + e.args.map((a) => this.expr(a)).join(', ');
    if (e.orderBy) args += ` ORDER BY ${this.orderingTerms(e.orderBy)}`;
    if (e.separator) args += ` SEPARATOR ${this.expr(e.separator)}`;
    return args;
  }

  protected windowSpec(w: A.WindowSpec): string {
    if (w.name !== undefined) return this.ident(w.name);
    const parts: string[] = [];
    if (w.base) parts.push(this.ident(w.base));
    if (w.partitionBy.length) parts.push(`PARTITION BY ${w.partitionBy.map((x) => this.expr(x)).join(', ')}`);
    if (w.orderBy.length) parts.push(`ORDER BY ${this.orderingTerms(w.orderBy)}`);
    if (w.frame) parts.push(w.frame.map((f) => (typeof f === 'string' ? f : this.expr(f, P_ADD))).join(' '));
    return `(${parts.join(' ')})`;
  }

  protected orderingTerms(terms: A.OrderingTerm[]): string {
    return terms
      .map((t) => this.expr(t.expr) + (t.direction ? ` ${t.direction}` : '') + (t.nulls ? ` NULLS ${t.nulls}` : ''))
      .join(', ');
  }

  /** Runs `print` with the tables of `from` visible to column references (a hook for lowering). */
  protected inScopeOf<T>(_from: A.FromItem | undefined, print: () => T): T {
    return print();
  }

  // -------------------------------------------------------------------------------------------
  // SELECT

  select(s: A.SelectStatement): string {
    return (s.with ? `${this.withClause(s.with)} ` : '') + this.selectAfterWith(s);
  }

  /** A SELECT's body, ORDER BY and LIMIT: what its WITH clause's names are visible to. */
  protected selectAfterWith(s: A.SelectStatement): string {
    let text = this.selectBody(s.body);
    text += this.selectOrderBy(s);
    if (s.limit) {
      text += ` LIMIT ${this.expr(s.limit)}`;
      if (s.offset) text += ` OFFSET ${this.expr(s.offset)}`;
    }
    return text;
  }

  /** A SELECT's ORDER BY clause, or ''. */
  protected selectOrderBy(s: A.SelectStatement): string {
    return s.orderBy.length ? ` ORDER BY ${this.orderingTerms(s.orderBy)}` : '';
  }

  protected withClause(w: A.WithClause): string {
    const ctes = w.ctes.map((c) => {
      let text = this.ident(c.name);
      if (c.columns) text += `(${c.columns.map((x) => this.ident(x)).join(', ')})`;
      text += ' AS ';
      if (c.materialized) text += `${c.materialized} `;
      return `${text}(${this.select(c.select)})`;
    });
    return `WITH ${w.recursive ? 'RECURSIVE ' : ''}${ctes.join(', ')}`;
  }

  protected selectBody(b: A.SelectBody): string {
    switch (b.kind) {
      case 'compound':
        return `${this.selectBody(b.left)} ${b.op} ${this.selectBody(b.right)}`;
      case 'values':
        return `VALUES ${b.rows.map((r) => `(${r.map((x) => this.expr(x)).join(', ')})`).join(', ')}`;
      case 'core':
        return this.selectCore(b);
    }
  }

  protected selectCore(c: A.SelectCore): string {
    let text = c.distinct ? 'SELECT DISTINCT ' : 'SELECT ';
    // FROM first: its subqueries are not in this select's scope, but its column refs are.
    const from = c.from ? ` FROM ${this.fromItem(c.from)}${this.fromJoins(c)}` : '';
    return this.inScopeOf(c.from, () => {
      text += c.columns.map((col) => this.resultColumn(col)).join(', ');
      text += from;
      text += this.whereClause(c);
      if (c.groupBy.length) text += ` GROUP BY ${c.groupBy.map((x) => this.expr(x)).join(', ')}`;
      if (c.having) text += ` HAVING ${this.expr(c.having)}`;
      if (c.windows.length) text += ` WINDOW ${c.windows.map((w) => `${this.ident(w.name)} AS ${this.windowSpec(w.spec)}`).join(', ')}`;
      return text;
    });
  }

  /** Joins a rewrite adds after a core's FROM items (none here). */
  protected fromJoins(_c: A.SelectCore): string {
    return '';
  }

  /** A SELECT core's ` WHERE ...`, or ''. */
  protected whereClause(c: A.SelectCore): string {
    return c.where ? ` WHERE ${this.where(c.where)}` : '';
  }

  protected resultColumn(col: A.ResultColumn): string {
    if (col.kind === 'star') return col.table ? `${this.ident(col.table)}.*` : '*';
    const text = this.expr(col.expr);
    return col.alias !== undefined ? `${text} AS ${this.ident(col.alias)}` : text;
  }

  protected fromItem(f: A.FromItem): string {
    switch (f.kind) {
      case 'table': {
        let text = this.tableName(f.name);
        if (f.alias) text += ` AS ${this.ident(f.alias)}`;
        if (f.indexHint) text += this.indexHint(f.indexHint);
        return text;
      }
      case 'subquery':
        return `(${this.select(f.select)})${f.alias ? ` AS ${this.ident(f.alias)}` : ''}`;
      case 'tablefn':
        return `${this.qualified(f.name)}(${f.args.map((a) => this.expr(a)).join(', ')})${f.alias ? ` AS ${this.ident(f.alias)}` : ''}`;
      case 'join': {
        const right = f.right.kind === 'join' ? `(${this.fromItem(f.right)})` : this.fromItem(f.right);
        const text = `${this.fromItem(f.left)}${f.op === ',' ? ',' : ` ${f.op}`} ${right}`;
        return text + this.joinConstraint(f);
      }
    }
  }

  /** A join's ` ON ...` or ` USING (...)`, or ''. */
  protected joinConstraint(f: A.JoinRef): string {
    if (f.on) return this.inScopeOf(f, () => ` ON ${this.expr(f.on!)}`);
    if (f.using) return ` USING (${f.using.map((x) => this.ident(x)).join(', ')})`;
    return '';
  }

  protected indexHint(h: NonNullable<A.TableRef['indexHint']>): string {
    if (h.type === 'NOT INDEXED') return ' NOT INDEXED';
    if (h.type === 'INDEXED BY') return ` INDEXED BY ${this.ident(h.names[0])}`;
    return ` ${h.type} INDEX (${h.names.map((n) => this.ident(n)).join(', ')})`;
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  statement(s: A.Statement): string {
    switch (s.kind) {
      case 'select':
        return this.select(s);
      case 'insert':
        return this.insert(s);
      case 'update':
        return this.update(s);
      case 'delete':
        return this.delete(s);
      case 'createTable':
        return this.createTable(s);
      case 'createIndex':
        return this.createIndex(s);
      case 'createVectorIndex':
        return this.createVectorIndex(s);
      case 'createFulltextIndex':
        return `CREATE FULLTEXT INDEX ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.ident(s.name)} ON ${this.tableName(s.table)} (${s.index.columns.map((c) => this.ident(c)).join(', ')})`;
      case 'createView':
        return this.createView(s);
      case 'createTrigger':
        return this.createTrigger(s);
      case 'drop':
        return this.drop(s);
      case 'alterTable':
        return this.alterTable(s);
      case 'truncate':
        return this.truncate(s);
      case 'maintenance':
        return s.target ? `${s.verb} ${this.qualified(s.target)}` : s.verb;
      case 'transaction':
        return this.transaction(s);
      case 'show':
        return this.show(s);
      case 'explain':
        return `EXPLAIN ${s.queryPlan ? 'QUERY PLAN ' : ''}${this.statement(s.statement)}`;
      case 'optimize':
        return `OPTIMIZE TABLE ${this.tableName(s.table)}`;
      case 'set':
        return `SET ${this.ident(s.name)} = ${this.expr(s.value)}`;
      case 'pragma':
        return `PRAGMA ${this.qualified(s.name)}${s.value !== undefined ? `(${this.pragmaValue(s.value)})` : ''}`;
    }
  }

  protected truncate(s: A.TruncateStatement): string {
    return `TRUNCATE TABLE ${this.qualified(s.table)}`;
  }

  private pragmaValue(value: string): string {
    return /^-?[A-Za-z0-9_]+$/.test(value) ? value : this.string(value);
  }

  protected returning(cols: A.ResultColumn[] | undefined): string {
    return cols ? ` RETURNING ${cols.map((c) => this.resultColumn(c)).join(', ')}` : '';
  }

  /** Runs `print` with the statement's target table visible to column references (a hook). */
  protected inTableScope<T>(_table: A.QualifiedName, _alias: string | undefined, print: () => T): T {
    return print();
  }

  /** A value written to `column` of `table` by INSERT or UPDATE. */
  protected writtenValue(_table: A.QualifiedName, _column: string | undefined, value: A.Expr): string {
    return this.expr(value);
  }

  /** INSERT's verb and conflict clause. */
  protected insertVerb(s: A.InsertStatement): string {
    return s.verb === 'REPLACE' ? 'REPLACE' : `INSERT${s.orConflict ? ` OR ${s.orConflict}` : ''}`;
  }

  /** The columns INSERT's VALUES fill, in order, when the statement does not list them. */
  protected defaultInsertColumns(_table: A.QualifiedName): string[] {
    return [];
  }

  protected insert(s: A.InsertStatement): string {
    let text = s.with ? `${this.withClause(s.with)} ` : '';
    text += this.insertVerb(s);
    text += ` INTO ${this.tableName(s.table)}`;
    if (s.alias) text += ` AS ${this.ident(s.alias)}`;
    if (s.columns) text += ` (${s.columns.map((c) => this.ident(c)).join(', ')})`;
    const targetColumns = s.columns ?? this.defaultInsertColumns(s.table);
    switch (s.source.kind) {
      case 'defaults':
        text += ' DEFAULT VALUES';
        break;
      case 'values':
        text += ` VALUES ${s.source.rows
          .map((row) => `(${row.map((v, i) => (v.kind === 'default' ? 'DEFAULT' : this.writtenValue(s.table, targetColumns[i], v))).join(', ')})`)
          .join(', ')}`;
        break;
      case 'select':
        text += ` ${this.select(s.source.select)}`;
        break;
    }
    return text + this.inTableScope(s.table, s.alias, () => s.upsert.map((u) => this.upsert(u, s.table)).join('') + this.returning(s.returning));
  }

  private upsert(u: A.UpsertClause, table: A.QualifiedName): string {
    let text = ' ON CONFLICT';
    if (u.target) {
      text += ` (${this.indexedColumns(u.target.columns)})`;
      if (u.target.where) text += ` WHERE ${this.expr(u.target.where)}`;
    }
    if (!u.set) return `${text} DO NOTHING`;
    text += ` DO UPDATE SET ${this.setClauses(u.set, table)}`;
    if (u.where) text += ` WHERE ${this.expr(u.where)}`;
    return text;
  }

  private setClauses(set: A.SetClause[], table: A.QualifiedName): string {
    return set
      .map((c) =>
        c.columns.length === 1
          ? `${this.ident(c.columns[0])} = ${this.writtenValue(table, c.columns[0], c.value)}`
          : `(${c.columns.map((x) => this.ident(x)).join(', ')}) = ${this.expr(c.value)}`,
      )
      .join(', ');
  }

  private update(s: A.UpdateStatement): string {
    let text = s.with ? `${this.withClause(s.with)} ` : '';
    text += `UPDATE${s.orConflict ? ` OR ${s.orConflict}` : ''} ${this.tableName(s.table)}`;
    if (s.alias) text += ` AS ${this.ident(s.alias)}`;
    if (s.indexHint) text += this.indexHint(s.indexHint);
    return this.inTableScope(s.table, s.alias, () => {
      text += ` SET ${this.setClauses(s.set, s.table)}`;
      text += this.updateFrom(s);
      text += this.updateWhereClause(s);
      return text + this.orderLimit(s) + this.returning(s.returning);
    });
  }

  /** An UPDATE's ` FROM ...`, or ''. */
  protected updateFrom(s: A.UpdateStatement): string {
    return s.from ? ` FROM ${this.fromItem(s.from)}` : '';
  }

  /** An UPDATE's ` WHERE ...`, or ''. */
  protected updateWhereClause(s: A.UpdateStatement): string {
    return s.where ? ` WHERE ${this.where(s.where)}` : '';
  }

  private orderLimit(s: { orderBy: A.OrderingTerm[]; limit?: A.Expr; offset?: A.Expr }): string {
    let text = '';
    if (s.orderBy.length) text += ` ORDER BY ${this.orderingTerms(s.orderBy)}`;
    if (s.limit) text += ` LIMIT ${this.expr(s.limit)}`;
    if (s.offset) text += ` OFFSET ${this.expr(s.offset)}`;
    return text;
  }

  private delete(s: A.DeleteStatement): string {
    let text = s.with ? `${this.withClause(s.with)} ` : '';
    text += `DELETE FROM ${this.tableName(s.table)}`;
    if (s.alias) text += ` AS ${this.ident(s.alias)}`;
    if (s.indexHint) text += this.indexHint(s.indexHint);
    return this.inTableScope(s.table, s.alias, () => {
      if (s.where) text += ` WHERE ${this.where(s.where)}`;
      return text + this.orderLimit(s) + this.returning(s.returning);
    });
  }

  // -------------------------------------------------------------------------------------------
  // DDL

  protected indexedColumns(cols: A.IndexedColumn[]): string {
    return cols
      .map((c) => this.expr(c.expr) + (c.collation ? ` COLLATE ${this.ident(c.collation)}` : '') + (c.direction ? ` ${c.direction}` : ''))
      .join(', ');
  }

  private createTable(s: A.CreateTableStatement): string {
    const text = `CREATE ${s.temp ? 'TEMP ' : ''}TABLE ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.tableName(s.name)}`;
    if (s.asSelect) return `${text} AS ${this.select(s.asSelect)}`;
    return `${text} (${this.tableElements(s).join(', ')})${this.tableOptions(s)}`;
  }

  /** What goes between CREATE TABLE's parentheses. */
  protected tableElements(s: A.CreateTableStatement): string[] {
    const elements = s.columns.map((c) => this.columnDef(c));
    for (const c of s.constraints) elements.push(this.tableConstraint(c));
    for (const i of s.indexes) elements.push(`${i.unique ? 'UNIQUE ' : ''}KEY ${i.name ? `${this.ident(i.name)} ` : ''}(${this.indexedColumns(i.columns)})`);
    for (const v of s.vectorIndexes) if (v.declaredAs === 'inline') elements.push(`VECTOR INDEX ${this.vectorIndexBody(v)}`);
    for (const f of s.fulltextIndexes) elements.push(`FULLTEXT INDEX ${f.name ? `${this.ident(f.name)} ` : ''}(${f.columns.map((c) => this.ident(c)).join(', ')})`);
    return elements;
  }

  /** What follows CREATE TABLE's parentheses: ` WITHOUT ROWID STRICT ENGINE=...`, or ''. */
  protected tableOptions(s: A.CreateTableStatement): string {
    const options = tableFlags(s);
    for (const o of s.options) options.push(`${o.name}=${/^[A-Za-z0-9_]+$/.test(o.value) && o.name !== 'COMMENT' ? o.value : this.string(o.value)}`);
    return options.length ? ` ${options.join(' ')}` : '';
  }

  private vectorIndexBody(v: A.VectorIndexDef): string {
    const options = v.options.map((o) => ` ${o.name}=${/^[A-Za-z0-9_.]+$/.test(o.value) ? o.value : this.string(o.value)}`).join('');
    return `${v.name ? this.ident(v.name) : ''}(${this.ident(v.column)})${options}`;
  }

  /** A column definition: name, type, then each constraint as written. */
  columnDef(c: A.ColumnDef): string {
    const parts = [this.ident(c.name)];
    const type = this.columnType(c);
    if (type) parts.push(type);
    for (const k of c.constraints) {
      const text = this.columnConstraint(c, k);
      if (text) parts.push(text);
    }
    return [...parts, ...this.columnTail(c)].join(' ');
  }

  protected columnType(c: A.ColumnDef): string | undefined {
    return c.type ? this.typeName(c.type) : undefined;
  }

  /** One constraint of column `c`, or undefined when this dialect writes nothing for it. */
  protected columnConstraint(_c: A.ColumnDef, k: A.ColumnConstraint): string | undefined {
    const name = k.constraintName ? `CONSTRAINT ${this.ident(k.constraintName)} ` : '';
    switch (k.kind) {
      case 'primaryKey':
        return `${name}PRIMARY KEY${k.direction ? ` ${k.direction}` : ''}${k.onConflict ? ` ON CONFLICT ${k.onConflict}` : ''}${k.autoIncrement ? ' AUTO_INCREMENT' : ''}`;
      case 'autoIncrement':
        return 'AUTO_INCREMENT';
      case 'notNull':
        return `${name}NOT NULL${k.onConflict ? ` ON CONFLICT ${k.onConflict}` : ''}`;
      case 'null':
        return `${name}NULL`;
      case 'unique':
        return `${name}UNIQUE${k.onConflict ? ` ON CONFLICT ${k.onConflict}` : ''}`;
      case 'check':
        return `${name}CHECK (${this.expr(k.expr)})`;
      case 'default':
        return `${name}DEFAULT ${k.expr.kind === 'literal' || (k.expr.kind === 'unary' && k.expr.operand.kind === 'literal') ? this.expr(k.expr) : `(${this.expr(k.expr)})`}`;
      case 'collate':
        return `${name}COLLATE ${this.ident(k.collation)}`;
      case 'references':
        return name + this.foreignKeyRef(k.ref);
      case 'generated':
        return `${name}${this.generatedPrefix()}AS (${this.expr(k.expr)})${k.storage ? ` ${k.storage}` : ''}`;
    }
  }

  protected generatedPrefix(): string {
    return '';
  }

  /** What follows a column's constraints: its COMMENT. */
  protected columnTail(c: A.ColumnDef): string[] {
    return c.comment !== undefined ? [`COMMENT ${this.string(c.comment)}`] : [];
  }

  private foreignKeyRef(r: A.ForeignKeyRef): string {
    let text = `REFERENCES ${this.ident(r.table)}`;
    if (r.columns) text += ` (${r.columns.map((x) => this.ident(x)).join(', ')})`;
    for (const clause of r.clauses) text += ` ${clause}`;
    return text;
  }

  tableConstraint(c: A.TableConstraint): string {
    const name = c.constraintName ? `CONSTRAINT ${this.ident(c.constraintName)} ` : '';
    switch (c.kind) {
      case 'primaryKey':
        return `${name}PRIMARY KEY (${this.indexedColumns(c.columns)}${c.autoIncrement ? ' AUTOINCREMENT' : ''})${c.onConflict ? ` ON CONFLICT ${c.onConflict}` : ''}`;
      case 'unique':
        return `${name}UNIQUE (${this.indexedColumns(c.columns)})${c.onConflict ? ` ON CONFLICT ${c.onConflict}` : ''}`;
      case 'check':
        return `${name}CHECK (${this.expr(c.expr)})`;
      case 'foreignKey':
        return `${name}FOREIGN KEY (${c.columns.map((x) => this.ident(x)).join(', ')}) ${this.foreignKeyRef(c.ref)}`;
    }
  }

  private createIndex(s: A.CreateIndexStatement): string {
    const table = this.tableName(s.table);
    // An index's expressions name the table's own columns only.
    return this.inScopeOf(undefined, () => {
      let text = `CREATE ${s.unique ? 'UNIQUE ' : ''}INDEX ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.qualified(s.name)} ON ${table} (${this.indexedColumns(s.columns)})`;
      if (s.where) text += ` WHERE ${this.expr(s.where)}`;
      return text;
    });
  }

  private createVectorIndex(s: A.CreateVectorIndexStatement): string {
    const { name: _name, ...rest } = s.index;
    return `CREATE VECTOR INDEX ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.ident(s.name)} ON ${this.tableName(s.table)}${this.vectorIndexBody(rest)}`;
  }

  protected createView(s: A.CreateViewStatement): string {
    let text = `CREATE ${s.temp ? 'TEMP ' : ''}VIEW ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.tableName(s.name)}`;
    if (s.columns) text += ` (${s.columns.map((x) => this.ident(x)).join(', ')})`;
    return `${text} AS ${this.select(s.select)}`;
  }

  protected createTrigger(s: A.CreateTriggerStatement): string {
    let text = `CREATE ${s.temp ? 'TEMP ' : ''}TRIGGER ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.qualified(s.name)}`;
    if (s.timing) text += ` ${s.timing}`;
    text += ` ${s.event}`;
    if (s.updateOf) text += ` OF ${s.updateOf.map((x) => this.ident(x)).join(', ')}`;
    text += ` ON ${this.tableName(s.table)}`;
    if (s.forEachRow) text += ' FOR EACH ROW';
    if (s.when) text += ` WHEN ${this.expr(s.when)}`;
    return `${text} BEGIN ${s.body.map((b) => `${this.statement(b)}; `).join('')}END`;
  }

  protected drop(s: A.DropStatement): string {
    const name = s.object === 'TABLE' || s.object === 'VIEW' ? this.tableName(s.name) : this.qualified(s.name);
    let text = `DROP ${s.object} ${s.ifExists ? 'IF EXISTS ' : ''}${name}`;
    if (s.table) text += ` ON ${this.ident(s.table)}`;
    return text;
  }

  private alterTable(s: A.AlterTableStatement): string {
    const head = `ALTER TABLE ${this.tableName(s.table)}`;
    const a = s.action;
    switch (a.kind) {
      case 'renameTable':
        return `${head} RENAME TO ${this.tableName(a.to)}`;
      case 'renameColumn':
        return `${head} RENAME COLUMN ${this.ident(a.from)} TO ${this.ident(a.to)}`;
      case 'addColumn':
        return `${head} ADD COLUMN ${this.columnDef(a.column)}`;
      case 'dropColumn':
        return `${head} DROP COLUMN ${this.ident(a.name)}`;
      case 'modifyColumn':
        // SQLite has no MODIFY COLUMN; the executor rebuilds the table instead.
        return `${head} MODIFY COLUMN ${this.columnDef(a.column)}`;
    }
  }

  private transaction(s: A.TransactionStatement): string {
    switch (s.action) {
      case 'BEGIN':
        return s.mode ? `BEGIN ${s.mode}` : 'BEGIN';
      case 'COMMIT':
        return 'COMMIT';
      case 'ROLLBACK':
        return s.savepoint ? `ROLLBACK TO ${this.ident(s.savepoint)}` : 'ROLLBACK';
      case 'SAVEPOINT':
        return `SAVEPOINT ${this.ident(s.savepoint!)}`;
      case 'RELEASE':
        return `RELEASE ${this.ident(s.savepoint!)}`;
    }
  }

  private show(s: A.ShowStatement): string {
    switch (s.what) {
      case 'TABLES':
        return s.like !== undefined ? `SHOW TABLES LIKE ${this.string(s.like)}` : 'SHOW TABLES';
      case 'CREATE TABLE':
        return `SHOW CREATE TABLE ${this.ident(s.table!)}`;
      case 'COLUMNS':
        return `SHOW COLUMNS FROM ${this.ident(s.table!)}`;
      case 'INDEX':
        return `SHOW INDEX FROM ${this.ident(s.table!)}`;
      case 'INDEX STATUS':
        return s.table ? `SHOW INDEX STATUS FROM ${this.ident(s.table)}` : 'SHOW INDEX STATUS';
      case 'EMBEDDING MODELS':
        return 'SHOW EMBEDDING MODELS';
      case 'PROCESSLIST':
        return 'SHOW PROCESSLIST';
      case 'CLUSTER STATUS':
        return 'SHOW CLUSTER STATUS';
    }
  }
}

/** The table flags both dialects write after CREATE TABLE's parentheses. */
export function tableFlags(s: A.CreateTableStatement): string[] {
  const flags: string[] = [];
  if (s.withoutRowid) flags.push('WITHOUT ROWID');
  if (s.strict) flags.push('STRICT');
  return flags;
}
