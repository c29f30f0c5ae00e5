/**
 * @module lower/to-sqlite
 * Translates a statement of Quiver's dialect into the SQL SQLite executes. It is the dialect's
 * printer (../dialect/print.ts) with these differences, each an override of a printer hook:
 * - MySQL forms become SQLite's: VECTOR(n) -> BLOB plus a checking constraint, AUTO_INCREMENT
 *   -> AUTOINCREMENT on the row-id key, CONCAT -> ||, REPLACE -> INSERT OR REPLACE, TRUNCATE ->
 *   DELETE, GROUP_CONCAT's SEPARATOR as an argument, inline KEYs as CREATE INDEX statements run
 *   after the table's, DEFAULT among INSERT's VALUES (insert-defaults.ts);
 * - with the catalog: VEC_DISTANCE takes the metric of the column's vector index, values
 *   written to VECTOR columns are converted and checked, vector ORDER BYs put rows without a
 *   vector last and break ties by row id, MATCH ... AGAINST runs on FTS5 (fulltext-rewrite.ts);
 * - for the executor: positional parameters become numbered names, the planner's candidate
 *   row ids restrict a SELECT core (bound later as JSON, runtime/params.ts `bindRowIds`), and
 *   the loops of SELECTs that could run away call the statement's deadline function
 *   (deadline-checks.ts).
 * It checks no names: the engine refuses user SQL naming what is not the user's before it gets
 * here (../check/user-objects.ts), and Quiver lowers SQL of its own too (catalog/ddl.ts).
 */
import { Printer, P_CONCAT, quoteIdent, type A, type QuoteStyle } from '../dialect/index.ts';
import type { CatalogLookup, TableInfo } from '../catalog/index.ts';
import { QuiverError } from '../../core/index.ts';
import { INTERNAL_PREFIX, vectorDimsOf } from '../check/index.ts';
import { isDistanceFunction, metricFunction } from '../functions/index.ts';
import { placeChecks, type CheckNames, type CoreChecks } from './deadline-checks.ts';
import { lower } from './expr-facts.ts';
import { fulltextJoins, relevance, whereWithMatches, type FulltextJoin, type LoweringScope } from './fulltext-rewrite.ts';
import { resolveInsertDefaults } from './insert-defaults.ts';

/** What the executor needs besides the SQL text. */
export interface LoweredStatement {
  sql: string;
  /** Statements to run right after `sql`, in order (indexes declared inside CREATE TABLE). */
  after: string[];
  /** Result column names whose values are vectors computed by an expression. */
  vectorResultNames: Set<string>;
  /** How many positional (`?`) parameters the statement consumes. */
  positionalParams: number;
  /** Named parameters the statement uses, without their prefix. */
  namedParams: Set<string>;
  /**
   * The parameter (a name, without its prefix) that carries each restricted SELECT core's
   * candidate row ids as a JSON array: the SQL stays the same from query to query, so it is
   * prepared once. Bind with `bindRowIds` (runtime/params.ts).
   */
  rowIdParams: Map<A.SelectCore, string>;
}

/** One FROM-clause table visible to column references, for resolving vector columns. */
export interface ScopeEntry {
  alias: string;
  table: TableInfo;
}

/** Functions whose result is a vector, so results show it as an array. */
const VECTOR_FUNCTIONS = new Set(['vec_fromtext', 'to_vector', 'string_to_vector', 'vec_normalize', 'embedding']);

/** Distance functions whose metric comes from the column's vector index. */
const INDEX_METRIC_FUNCTIONS = new Set(['vec_distance', 'vector_distance']);

/**
 * Which SELECT cores check the statement's deadline in each of their loops (deadline-checks.ts):
 * in a write (INSERT ... SELECT, subqueries, CTEs, UPDATE ... FROM), every one with a FROM; in a
 * read, those whose FROM is more than one table of the catalog: a join, a subquery, a CTE, a view
 * or a table function. A scan of one table is bounded by its size, and checking each of its
 * rows would cost more than the scan itself, and SQLite's count(*) shortcut (BENCHMARKS.md, the
 * notes after bench:sql), so a read's carries none. Only statements a request runs get checks:
 * never stored SQL (views, triggers).
 */
type DeadlineChecks = 'none' | 'every' | 'unbounded';
const DEADLINE_CHECKS: Partial<Record<A.Statement['kind'], DeadlineChecks>> = { insert: 'every', update: 'every', delete: 'every', select: 'unbounded' };

/**
 * `statement` for SQLite. `source` is the request text, for naming result columns.
 * `restrictions` (from the planner): the SELECT cores limited to candidate row ids.
 */
export function lowerStatement(
  statement: A.Statement,
  catalog: CatalogLookup,
  source: string,
  restrictions?: ReadonlyMap<A.SelectCore, unknown>,
): LoweredStatement {
  const lowering = new SqliteLowering(catalog, source, restrictions, DEADLINE_CHECKS[statement.kind] ?? 'none');
  const sql = lowering.statement(statement);
  return {
    sql,
    after: lowering.after,
    vectorResultNames: lowering.vectorResultNames,
    rowIdParams: lowering.rowIdParams,
    positionalParams: lowering.positionalParams,
    namedParams: lowering.namedParams,
  };
}

/**
 * `expr` for SQLite; `scope` is the table its column references name, if any. `checked`: its
 * subqueries call DEADLINE_FUNCTION as a write's do (a planner's filter, run by a read worker
 * under the read's deadline).
 */
export function lowerExpression(expr: A.Expr, catalog: CatalogLookup, source: string, scope?: { table: string; alias: string }, checked = false): string {
  return new SqliteLowering(catalog, source, undefined, checked ? 'every' : 'none').standalone(expr, scope);
}

class SqliteLowering extends Printer implements LoweringScope, CheckNames {
  protected override readonly style: QuoteStyle = 'sqlite';
  after: string[] = [];
  vectorResultNames = new Set<string>();
  positionalParams = 0;
  namedParams = new Set<string>();
  rowIdParams = new Map<A.SelectCore, string>();
  private scopes: ScopeEntry[][] = [];
  private selectDepth = 0;
  /** Full-text joins of the SELECTs being printed, innermost last. */
  private readonly ftJoinStack: FulltextJoin[][] = [];
  private readonly ftJoinsOfCore = new Map<A.SelectCore, FulltextJoin[]>();
  /** The WITH clauses in scope, innermost last: a FROM naming one of their CTEs reads it, not a table. */
  private readonly withScopes: Map<string, A.CommonTableExpr>[] = [];
  /** Deadline checks of the cores and UPDATEs being printed, and of their joins' ON. */
  private readonly whereChecks = new Map<A.SelectCore | A.UpdateStatement, string[]>();
  private readonly onChecks = new Map<A.JoinRef, string[]>();

  constructor(
    readonly catalog: CatalogLookup,
    private readonly source: string,
    private readonly restrictions?: ReadonlyMap<A.SelectCore, unknown>,
    /** Which SELECT cores check the deadline (see DeadlineChecks). */
    private readonly deadlineChecks: DeadlineChecks = 'none',
  ) {
    super();
  }

  /** An expression on its own; `scope` is the table its column references name, if any. */
  standalone(e: A.Expr, scope?: { table: string; alias: string }): string {
    const table = scope ? this.catalog.table(scope.table) : undefined;
    return this.inScope(table ? [{ alias: scope!.alias, table }] : [], () => this.where(e));
  }

  // -------------------------------------------------------------------------------------------
  // Scopes: which tables column references may name, for vector and full-text columns

  inScope<T>(entries: ScopeEntry[], print: () => T): T {
    this.scopes.push(entries);
    try {
      return print();
    } finally {
      this.scopes.pop();
    }
  }

  protected override inScopeOf<T>(from: A.FromItem | undefined, print: () => T): T {
    return this.inScope(this.fromScope(from), print);
  }

  protected override inTableScope<T>(table: A.QualifiedName, alias: string | undefined, print: () => T): T {
    const info = this.catalog.table(table.name);
    return this.inScope(info ? [{ alias: alias ?? table.name, table: info }] : [], print);
  }

  resolveColumn(col: A.ColumnExpr): ScopeEntry | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      for (const entry of this.scopes[i]) {
        if (col.table !== undefined && lower(col.table) !== lower(entry.alias)) continue;
        if (entry.table.columns.some((c) => lower(c.name) === lower(col.column))) return entry;
      }
    }
    return undefined;
  }

  private fromScope(from: A.FromItem | undefined): ScopeEntry[] {
    const entries: ScopeEntry[] = [];
    const visit = (item: A.FromItem | undefined): void => {
      if (!item) return;
      if (item.kind === 'join') {
        visit(item.left);
        visit(item.right);
      } else if (item.kind === 'table') {
        const table = this.catalog.table(item.name.name);
        if (table) entries.push({ alias: item.alias ?? item.name.name, table });
      }
    };
    visit(from);
    return entries;
  }

  // -------------------------------------------------------------------------------------------
  // Names, parameters, functions

  /**
   * Positional parameters are emitted as numbered names (`:3`), so any part of a statement can
   * be run on its own (the planner evaluates a query vector or a filter) with the statement's
   * values. Not `?3`: SQLite counts `?1` and `?2` as nameless parameters of a part holding only
   * `?3`, and better-sqlite3 then wants values for them ("Too few parameter values").
   */
  protected override param(e: A.ParamExpr): string {
    if (e.index === undefined) {
      this.namedParams.add(e.text.slice(1));
      return e.text;
    }
    this.positionalParams = Math.max(this.positionalParams, e.index);
    return `:${e.index}`;
  }

  protected override matchAgainst(e: A.MatchAgainstExpr): string {
    return relevance(this, e, this.ftJoinStack);
  }

  protected override where(e: A.Expr, joined: ReadonlySet<A.Expr> = new Set()): string {
    return whereWithMatches(this, e, joined) ?? this.expr(e);
  }

  protected override functionCall(e: A.FunctionExpr): string {
    const name = lower(e.name);
    if (name === 'concat' && !e.distinct && !e.star && !e.over && !e.orderBy) {
      // MySQL's CONCAT is NULL when any argument is; SQLite's || behaves the same.
      if (e.args.length === 0) throw new QuiverError('SQL_ERROR', 'CONCAT() needs at least one argument');
      const parts = e.args.map((a) => this.expr(a, P_CONCAT + 1));
      return `(${parts.length === 1 ? `${parts[0]} || ''` : parts.join(' || ')})`;
    }
    // VECTOR_DISTANCE(a, b, metric) is MySQL 9's spelling of DISTANCE and passes through.
    if (INDEX_METRIC_FUNCTIONS.has(name) && !(name === 'vector_distance' && e.args.length === 3)) return this.indexMetricDistance(e);
    return super.functionCall(e);
  }

  /** SQLite takes GROUP_CONCAT's separator as an argument before ORDER BY; MySQL writes it last. */
  protected override functionArgs(e: A.FunctionExpr): string {
    let args = (e.distinct ? 'DISTINCT ' : '') + e.args.map((a) => this.expr(a)).join(', ');
    if (e.separator) {
      if (e.distinct) {
        throw new QuiverError('SQL_ERROR', 'GROUP_CONCAT(DISTINCT ... SEPARATOR ...) is not supported; drop DISTINCT or the SEPARATOR');
      }
      args += `, ${this.expr(e.separator)}`;
    }
    if (e.orderBy) args += ` ORDER BY ${this.orderingTerms(e.orderBy)}`;
    return args;
  }

  /** VEC_DISTANCE(a, b): the metric of the vector index on a column argument (AliSQL, MariaDB). */
  private indexMetricDistance(e: A.FunctionExpr): string {
    if (e.args.length !== 2 || e.star || e.distinct) {
      throw new QuiverError('SQL_ERROR', `${e.name.toUpperCase()}() takes two vectors, got ${e.star ? '*' : e.args.length} arguments`);
    }
    for (const arg of e.args) {
      if (arg.kind !== 'column') continue;
      const found = this.resolveColumn(arg);
      const index = found?.table.vectorIndexes.find((i) => lower(i.column) === lower(arg.column));
      if (index) return `${metricFunction(index.metric)}(${e.args.map((a) => this.expr(a)).join(', ')})`;
    }
    throw new QuiverError(
      'NO_VECTOR_INDEX',
      `${e.name.toUpperCase()}() uses the metric of a vector index, and neither argument is a column with one; ` +
        `create a vector index on the column or write DISTANCE(a, b, 'COSINE'|'EUCLIDEAN'|'DOT')`,
    );
  }

  // -------------------------------------------------------------------------------------------
  // SELECT

  override select(s: A.SelectStatement): string {
    const scopes = this.withScopes.length;
    try {
      return this.nested(() => super.select(s));
    } finally {
      this.withScopes.length = scopes; // its own WITH goes out of scope
    }
  }

  /** Prints a SELECT or RETURNING one level down: only the outermost one's vector results are marked. */
  private nested(print: () => string): string {
    this.selectDepth++;
    try {
      return print();
    } finally {
      this.selectDepth--;
    }
  }

  /** The SELECT's full-text joins are visible to its body and ORDER BY, not to its CTEs. */
  protected override selectAfterWith(s: A.SelectStatement): string {
    const joins = s.body.kind === 'core' ? fulltextJoins(this, s, s.body, this.fromScope(s.body.from), this.restrictions?.has(s.body) ?? false) : [];
    if (joins.length) this.ftJoinsOfCore.set(s.body as A.SelectCore, joins);
    this.ftJoinStack.push(joins);
    try {
      return super.selectAfterWith(s);
    } finally {
      this.ftJoinStack.pop();
    }
  }

  /**
   * Vector ordering: a row without a vector has no distance, so it comes after every row that
   * has one; and `ORDER BY <distance> LIMIT k` must give the same k rows every time, so equal
   * distances are ordered by row id.
   */
  protected override selectOrderBy(s: A.SelectStatement): string {
    if (!s.orderBy.length) return '';
    return this.inScopeOf(s.body.kind === 'core' ? s.body.from : undefined, () => {
      const isDistance = this.distanceTermTest(s);
      const terms = s.orderBy.map((t) => (isDistance(t.expr) && !t.nulls && t.direction !== 'DESC' ? { ...t, nulls: 'LAST' as const } : t));
      let text = ` ORDER BY ${this.orderingTerms(terms)}`;
      const tieBreak = s.orderBy.some((t) => isDistance(t.expr)) ? this.rowIdTieBreak(s) : undefined;
      if (tieBreak) text += `, ${tieBreak}`;
      return text;
    });
  }

  /** The row id to break distance ties by: only for a plain select from one base table. */
  private rowIdTieBreak(s: A.SelectStatement): string | undefined {
    const core = s.body;
    if (core.kind !== 'core' || core.distinct || core.groupBy.length || core.from?.kind !== 'table') return undefined;
    const ref = core.from;
    const table = this.catalog.table(ref.name.name);
    if (!table || table.withoutRowid) return undefined;
    return `${this.ident(ref.alias ?? ref.name.name)}.rowid`;
  }

  /** Tells whether an ORDER BY term of `s` is a vector distance, directly or via an alias. */
  private distanceTermTest(s: A.SelectStatement): (e: A.Expr) => boolean {
    const aliases = new Map<string, A.Expr>();
    if (s.body.kind === 'core') for (const c of s.body.columns) if (c.kind === 'expr' && c.alias) aliases.set(lower(c.alias), c.expr);
    const isDistanceCall = (e: A.Expr | undefined): boolean => e?.kind === 'function' && isDistanceFunction(e.name);
    return (e) => isDistanceCall(e) || (e.kind === 'column' && e.table === undefined && isDistanceCall(aliases.get(lower(e.column))));
  }

  protected override withClause(w: A.WithClause): string {
    // Before the bodies: a recursive CTE reads itself.
    this.withScopes.push(new Map(w.ctes.map((c) => [lower(c.name), c])));
    return super.withClause(w);
  }

  cte(name: string): A.CommonTableExpr | undefined {
    for (let i = this.withScopes.length - 1; i >= 0; i--) {
      const found = this.withScopes[i].get(lower(name));
      if (found) return found;
    }
    return undefined;
  }

  protected override fromJoins(c: A.SelectCore): string {
    return (this.ftJoinsOfCore.get(c) ?? []).map((j) => j.sql).join('');
  }

  /** The FROM is printed before the WHERE, and its joins' ON may hold deadline checks. */
  protected override selectCore(c: A.SelectCore): string {
    if (c.from && this.checksDeadline(c)) {
      const ftRowIds = (this.ftJoinsOfCore.get(c) ?? []).map((j) => `${j.alias}.__quiver_rid`);
      this.addChecks(c, placeChecks(c.from, this, undefined, ftRowIds));
    }
    return super.selectCore(c);
  }

  private addChecks(owner: A.SelectCore | A.UpdateStatement, checks: CoreChecks): void {
    this.whereChecks.set(owner, checks.where);
    for (const [join, terms] of checks.on) this.onChecks.set(join, terms);
  }

  /** The deadline checks first (so no condition skips them), the user's WHERE, the planner's row-id restriction, ANDed. */
  protected override whereClause(c: A.SelectCore): string {
    const joined = new Set((this.ftJoinsOfCore.get(c) ?? []).map((j) => j.conjunct));
    const where = c.where ? this.where(c.where, joined) : '';
    const restriction: string[] = [];
    if (this.restrictions?.has(c) && c.from?.kind === 'table') {
      const param = `${INTERNAL_PREFIX}rowids_${this.rowIdParams.size}`;
      this.rowIdParams.set(c, param);
      restriction.push(`${this.ident(c.from.alias ?? c.from.name.name)}.rowid IN (SELECT value FROM json_each(:${param}))`);
    }
    return andedWhere(this.whereChecks.get(c) ?? [], where, restriction);
  }

  protected override joinConstraint(f: A.JoinRef): string {
    const checks = this.onChecks.get(f);
    if (!checks) return super.joinConstraint(f);
    const on = f.on ? [this.inScopeOf(f, () => `(${this.expr(f.on!)})`)] : [];
    return ` ON ${[...checks, ...on].join(' AND ')}`;
  }

  /** UPDATE ... FROM joins its table with the FROM's items: a write, so every loop is checked. */
  protected override updateFrom(s: A.UpdateStatement): string {
    if (s.from && this.deadlineChecks !== 'none') {
      this.addChecks(s, placeChecks(s.from, this, { kind: 'table', name: s.table, alias: s.alias, start: s.start, end: s.start }));
    }
    return super.updateFrom(s);
  }

  protected override updateWhereClause(s: A.UpdateStatement): string {
    const checks = this.whereChecks.get(s);
    return checks ? andedWhere(checks, s.where ? this.where(s.where) : '', []) : super.updateWhereClause(s);
  }

  private checksDeadline(c: A.SelectCore): boolean {
    if (!c.from || this.deadlineChecks === 'none') return false;
    if (this.deadlineChecks === 'every' || c.from.kind !== 'table') return true;
    const name = c.from.name.name;
    return this.cte(name) !== undefined || !this.catalog.table(name);
  }

  /**
   * A result column. An unaliased expression is aliased with the text the user wrote, since
   * SQLite would otherwise name it after Quiver's rewritten text.
   */
  protected override resultColumn(col: A.ResultColumn): string {
    if (col.kind === 'star') return super.resultColumn(col);
    const text = this.expr(col.expr);
    const name = this.resultName(col);
    if (this.selectDepth === 1 && col.expr.kind === 'function' && VECTOR_FUNCTIONS.has(lower(col.expr.name))) {
      this.vectorResultNames.add(name);
    }
    if (col.alias !== undefined) return `${text} AS ${this.ident(col.alias)}`;
    if (col.expr.kind !== 'column' && name !== text) return `${text} AS ${quoteIdent(name)}`;
    return text;
  }

  /** A result column's name: its alias, a column's own name, else the text the user wrote. */
  resultName(col: Extract<A.ResultColumn, { kind: 'expr' }>): string {
    return col.alias ?? (col.expr.kind === 'column' ? col.expr.column : this.source.slice(col.start, col.end));
  }

  /** MySQL's index hints name vector indexes, which SQLite does not know; the planner reads them. */
  protected override indexHint(h: NonNullable<A.TableRef['indexHint']>): string {
    return h.type === 'NOT INDEXED' || h.type === 'INDEXED BY' ? super.indexHint(h) : '';
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  protected override returning(cols: A.ResultColumn[] | undefined): string {
    return this.nested(() => super.returning(cols));
  }

  /** Set while a trigger's body is printed: SQLite's grammar has no DEFAULT VALUES there. */
  private inTriggerBody = false;

  protected override createTrigger(s: A.CreateTriggerStatement): string {
    this.inTriggerBody = true;
    try {
      return super.createTrigger(s);
    } finally {
      this.inTriggerBody = false;
    }
  }

  /** MySQL's DEFAULT among VALUES becomes what SQLite can run (insert-defaults.ts). */
  protected override insert(s: A.InsertStatement): string {
    return super.insert(resolveInsertDefaults(s, this.catalog.table(s.table.name), !this.inTriggerBody));
  }

  protected override insertVerb(s: A.InsertStatement): string {
    return s.verb === 'REPLACE' ? 'INSERT OR REPLACE' : super.insertVerb(s);
  }

  protected override defaultInsertColumns(table: A.QualifiedName): string[] {
    return this.catalog.table(table.name)?.columns.filter((c) => !c.generated).map((c) => c.name) ?? [];
  }

  /** Wraps a value written to a VECTOR(n) column so text converts and anything else is checked. */
  protected override writtenValue(table: A.QualifiedName, column: string | undefined, value: A.Expr): string {
    const text = this.expr(value);
    const info = column === undefined ? undefined : this.catalog.table(table.name)?.columns.find((c) => lower(c.name) === lower(column));
    if (!info || info.vectorDims === null) return text;
    return `__quiver_to_vector(${text}, ${info.vectorDims}, ${this.string(info.name)})`;
  }

  protected override truncate(s: A.TruncateStatement): string {
    return `DELETE FROM ${this.tableName(s.table)}`;
  }

  // -------------------------------------------------------------------------------------------
  // DDL

  /** The column that becomes the row id, set while a CREATE TABLE's columns are printed. */
  private rowIdKey: string | undefined;

  /** Inline KEYs become CREATE INDEX statements run after the table's; the row-id key's PK is folded into it. */
  protected override tableElements(s: A.CreateTableStatement): string[] {
    this.rowIdKey = autoIncrementKey(s);
    try {
      const elements = s.columns.map((c) => this.columnDef(c));
      for (const c of s.constraints) {
        if (this.rowIdKey && c.kind === 'primaryKey' && c.columns.length === 1) continue; // folded into the column
        elements.push(this.tableConstraint(c));
      }
      for (const i of s.indexes) {
        const name = i.name ?? `${s.name.name}_${i.columns[0].expr.kind === 'column' ? i.columns[0].expr.column : 'idx'}`;
        this.after.push(`CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${this.ident(name)} ON ${this.tableName(s.name)} (${this.indexedColumns(i.columns)})`);
      }
      return elements;
    } finally {
      this.rowIdKey = undefined;
    }
  }

  /** SQLite takes only its own table flags, comma-separated; MySQL's table options stay in the catalog. */
  protected override tableOptions(s: A.CreateTableStatement): string {
    const flags = [s.withoutRowid ? 'WITHOUT ROWID' : undefined, s.strict ? 'STRICT' : undefined].filter((f) => f !== undefined);
    return flags.length ? ` ${flags.join(', ')}` : '';
  }

  private isRowIdKey(c: A.ColumnDef): boolean {
    return this.rowIdKey !== undefined && lower(this.rowIdKey) === lower(c.name);
  }

  protected override columnType(c: A.ColumnDef): string | undefined {
    if (!c.type) return undefined;
    if (vectorDimsOf(c) !== null) return 'BLOB';
    if (this.isRowIdKey(c)) return 'INTEGER';
    if (/^(VAR)?BINARY$/.test(c.type.name)) return 'BLOB';
    return this.typeName(c.type);
  }

  protected override columnConstraint(c: A.ColumnDef, k: A.ColumnConstraint): string | undefined {
    if (k.kind === 'autoIncrement') return undefined;
    // The row id is unique already; SQLite would keep a second index of it.
    if (k.kind === 'unique' && this.isRowIdKey(c) && !k.constraintName && !k.onConflict) return undefined;
    if (k.kind !== 'primaryKey') return super.columnConstraint(c, k);
    const name = k.constraintName ? `CONSTRAINT ${this.ident(k.constraintName)} ` : '';
    const autoIncrement = k.autoIncrement || c.constraints.some((x) => x.kind === 'autoIncrement');
    return `${name}PRIMARY KEY${k.direction ? ` ${k.direction}` : ''}${k.onConflict ? ` ON CONFLICT ${k.onConflict}` : ''}${autoIncrement ? ' AUTOINCREMENT' : ''}`;
  }

  protected override generatedPrefix(): string {
    return 'GENERATED ALWAYS ';
  }

  /** The row-id key's PRIMARY KEY when the table declared it apart, and a vector column's check. */
  protected override columnTail(c: A.ColumnDef): string[] {
    const tail: string[] = [];
    if (this.isRowIdKey(c) && !c.constraints.some((k) => k.kind === 'primaryKey')) {
      tail.push(c.constraints.some((k) => k.kind === 'autoIncrement') ? 'PRIMARY KEY AUTOINCREMENT' : 'PRIMARY KEY');
    }
    const vectorDims = vectorDimsOf(c);
    if (vectorDims !== null) tail.push(`CHECK (__quiver_vector_check(${this.ident(c.name)}, ${vectorDims}, ${this.string(c.name)}))`);
    return tail;
  }

  protected override createView(s: A.CreateViewStatement): string {
    // A TEMP view would hide the table of that name from Quiver's own SQL (see catalog/ddl.ts).
    if (s.temp && this.catalog.table(s.name.name)) {
      throw new QuiverError('ALREADY_EXISTS', `${s.name.name} already names a table; a TEMP view and a table may not share a name`);
    }
    return super.createView(s);
  }

  protected override drop(s: A.DropStatement): string {
    // MySQL's DROP INDEX i ON t: SQLite's index names are global, so the table is left out.
    return super.drop({ ...s, table: undefined });
  }
}

const INTEGER_TYPES = new Set(['INT', 'INTEGER', 'BIGINT', 'SMALLINT', 'TINYINT', 'MEDIUMINT', 'INT UNSIGNED', 'BIGINT UNSIGNED']);

/** ` WHERE ` and the conjuncts, the user's in parentheses; '' without any. */
function andedWhere(checks: string[], where: string, after: string[]): string {
  if (checks.length + after.length === 0) return where ? ` WHERE ${where}` : '';
  return ` WHERE ${[...checks, ...(where ? [`(${where})`] : []), ...after].join(' AND ')}`;
}

/**
 * The column that becomes SQLite's INTEGER PRIMARY KEY (the row id) because the user declared
 * it AUTO_INCREMENT or an integer primary key: MySQL's `id INT AUTO_INCREMENT PRIMARY KEY` and
 * `id INT AUTO_INCREMENT, PRIMARY KEY (id)` both mean what SQLite's rowid alias does. So does
 * an AUTO_INCREMENT UNIQUE column in a table without a primary key (`id SERIAL`): MySQL lets
 * such a key number the rows, and InnoDB makes it the table's clustered key.
 */
export function autoIncrementKey(s: A.CreateTableStatement): string | undefined {
  if (s.withoutRowid) return undefined;
  const tablePk = s.constraints.find((c) => c.kind === 'primaryKey');
  const hasPk = tablePk !== undefined || s.columns.some((c) => c.constraints.some((k) => k.kind === 'primaryKey'));
  for (const c of s.columns) {
    const auto = c.constraints.some((k) => k.kind === 'autoIncrement' || (k.kind === 'primaryKey' && k.autoIncrement));
    const columnPk = c.constraints.some((k) => k.kind === 'primaryKey');
    const inTablePk =
      tablePk?.kind === 'primaryKey' && tablePk.columns.length === 1 && tablePk.columns[0].expr.kind === 'column' &&
      lower(tablePk.columns[0].expr.column) === lower(c.name);
    const uniqueKey = !hasPk && c.constraints.some((k) => k.kind === 'unique');
    if (auto) {
      if (!columnPk && !inTablePk && !uniqueKey) {
        throw new QuiverError(
          'SQL_ERROR',
          `column ${c.name} is AUTO_INCREMENT, so it must be the table's single-column PRIMARY KEY, or UNIQUE in a table without one`,
        );
      }
      if (!c.type || !INTEGER_TYPES.has(c.type.name)) {
        throw new QuiverError('TYPE_MISMATCH', `column ${c.name} is AUTO_INCREMENT, so it must have an integer type such as INT or BIGINT`);
      }
      return c.name;
    }
    // An integer primary key is the row id, as MySQL users expect of `id BIGINT PRIMARY KEY`.
    const descending = c.constraints.some((k) => k.kind === 'primaryKey' && k.direction === 'DESC');
    if (c.type && INTEGER_TYPES.has(c.type.name) && (columnPk || inTablePk) && !descending) return c.name;
  }
  return undefined;
}
