/**
 * @module emit
 * Prints an AST as SQL, for one of two targets:
 * - `sqlite`: what SQLite executes. MySQL forms become SQLite's (VECTOR(n) -> BLOB plus a
 *   checking constraint, AUTO_INCREMENT -> AUTOINCREMENT, CONCAT -> ||), VEC_DISTANCE takes the
 *   metric of the column's vector index, values written to VECTOR columns are converted and
 *   checked, and vector ORDER BYs break ties by row id.
 * - `quiver`: Quiver's own dialect, as the user would write it (SHOW CREATE TABLE, round trips).
 * Parentheses are emitted only where precedence needs them, so the output parses back to the
 * same tree.
 */
import type * as A from '../dialect/ast.ts';
import type { CatalogView, TableInfo } from '../catalog/table-info.ts';
import { QuiverError, MAX_VECTOR_DIMS, MIN_VECTOR_DIMS } from '../../core/index.ts';
import { ftsTable } from '../index-sync/fulltext.ts';
import { DEADLINE_FUNCTION } from '../exec/limits.ts';
import { isBareTypeWord } from '../dialect/index.ts';

export type EmitTarget = 'sqlite' | 'quiver';

/** What the executor needs besides the SQL text. */
export interface EmittedStatement {
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
   * prepared once. Bind with `bindRowIds` (params.ts).
   */
  rowIdParams: Map<A.SelectCore, string>;
}

/** Tables whose names start with this belong to Quiver's catalog and are not the user's. */
export const INTERNAL_PREFIX = '__quiver_';

const SQLITE_KEYWORDS = new Set(
  ('ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN ' +
    'BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS ' +
    'CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE DEFERRED DELETE ' +
    'DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL ' +
    'FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS HAVING IF IGNORE ' +
    'IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS ISNULL JOIN KEY LAST ' +
    'LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL NULLS OF OFFSET ON OR ' +
    'ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE ' +
    'REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS ' +
    'SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION TRIGGER UNBOUNDED UNION ' +
    'UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT ' +
    // Quiver's own words, quoted so its output parses back unambiguously.
    'AUTO_INCREMENT COMMENT VECTOR SEPARATOR FORCE USE TRUE FALSE FULLTEXT AGAINST').split(' '),
);

/** Functions whose result is a vector, so results show it as an array. */
const VECTOR_FUNCTIONS = new Set(['vec_fromtext', 'to_vector', 'string_to_vector', 'vec_normalize', 'embedding']);

/** Distance functions whose metric comes from the column's vector index. */
const INDEX_METRIC_FUNCTIONS = new Set(['vec_distance', 'vector_distance']);

const DISTANCE_FUNCTIONS = new Set([
  'vec_distance', 'vector_distance', 'vec_distance_cosine', 'vec_distance_euclidean', 'vec_distance_dot', 'distance',
]);

/** Functions that reach outside the database; refused wherever they appear. */
const FORBIDDEN_FUNCTIONS = new Set(['load_extension', 'fts3_tokenizer', 'readfile', 'writefile', 'edit']);

const METRIC_FUNCTION = { cosine: 'vec_distance_cosine', euclidean: 'vec_distance_euclidean', dot: 'vec_distance_dot' } as const;

// Precedence levels, loosest first (SQLite's operator table).
const P_OR = 1;
const P_AND = 2;
const P_NOT = 3;
const P_EQUALITY = 4;
const P_COMPARE = 5;
const P_BITWISE = 6;
const P_ADD = 7;
const P_MUL = 8;
const P_CONCAT = 9;
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

/** One FROM-clause table visible to column references, for resolving vector columns. */
interface ScopeEntry {
  alias: string;
  table: TableInfo;
}

function lower(s: string): string {
  return s.toLowerCase();
}

/**
 * The statement timeout where SQLite cannot be interrupted (limits.ts DEADLINE_FUNCTION):
 * SELECTs call the function as they step. SQLite evaluates a term that reads no column once
 * per row of the outermost loop it can, so a runaway join or recursive CTE is stopped within
 * one outer row's work. A call costs about 0.25 µs a row, five times a plain scan's own cost,
 * so reads carry it only where work can multiply; writes carry it in every SELECT with a FROM.
 * Only statements a request runs get it: never stored SQL (views, triggers).
 */
const DEADLINE_CHECK = `${DEADLINE_FUNCTION}()`;

/**
 * Which SELECT cores call DEADLINE_FUNCTION: in a write (INSERT ... SELECT, subqueries, CTEs),
 * every one with a FROM; in a read, those whose FROM is more than one table of the catalog: a
 * join, a subquery, a CTE, a view or a table function. A scan of one table is bounded by its
 * size, and a per-row call would also cost SQLite its count(*) shortcut.
 */
type DeadlineChecks = 'none' | 'every' | 'unbounded';
const DEADLINE_CHECKS: Partial<Record<A.Statement['kind'], DeadlineChecks>> = { insert: 'every', update: 'every', delete: 'every', select: 'unbounded' };

/**
 * Prints `statement` for `target`. `source` is the request text, for naming result columns.
 * `restrictions` (from the planner): the SELECT cores limited to candidate row ids, which are
 * bound later as JSON (params.ts, bindRowIds).
 */
export function emitStatement(
  statement: A.Statement,
  target: EmitTarget,
  catalog: CatalogView,
  source: string,
  restrictions?: ReadonlyMap<A.SelectCore, unknown>,
): EmittedStatement {
  const deadlineChecks = target === 'sqlite' ? (DEADLINE_CHECKS[statement.kind] ?? 'none') : 'none';
  const emitter = new Emitter(target, catalog, source, restrictions, deadlineChecks);
  const sql = emitter.statement(statement);
  return {
    sql,
    after: emitter.after,
    vectorResultNames: emitter.vectorResultNames,
    rowIdParams: emitter.rowIdParams,
    positionalParams: emitter.positionalParams,
    namedParams: emitter.namedParams,
  };
}

const NO_CATALOG: CatalogView = { table: () => undefined };

/** A column definition in Quiver's dialect, as SHOW CREATE TABLE prints it. */
export function printColumnDef(c: A.ColumnDef): string {
  return new Emitter('quiver', NO_CATALOG, '').columnDef(c);
}

/** A table constraint in Quiver's dialect. */
export function printTableConstraint(c: A.TableConstraint): string {
  return new Emitter('quiver', NO_CATALOG, '').tableConstraint(c);
}

/** An identifier as Quiver's dialect writes it (backticks only where needed). */
export function printIdent(name: string): string {
  return new Emitter('quiver', NO_CATALOG, '').ident(name);
}

/** Prints an expression in `target` (used for catalog text such as generated-column sources). */
export function emitExpression(expr: A.Expr, target: EmitTarget, catalog: CatalogView, source: string, scope?: { table: string; alias: string }): string {
  return new Emitter(target, catalog, source).standalone(expr, scope);
}

class Emitter {
  after: string[] = [];
  vectorResultNames = new Set<string>();
  positionalParams = 0;
  namedParams = new Set<string>();
  rowIdParams = new Map<A.SelectCore, string>();
  private scopes: ScopeEntry[][] = [];
  private selectDepth = 0;
  /** Full-text joins of the SELECTs being printed, innermost last (see fulltextJoins). */
  private readonly ftJoinStack: FulltextJoin[][] = [];
  private readonly ftJoinsOfCore = new Map<A.SelectCore, FulltextJoin[]>();
  /** Every CTE name of the statement: a FROM naming one reads the CTE, not a table. */
  private readonly cteNames = new Set<string>();

  constructor(
    private readonly target: EmitTarget,
    private readonly catalog: CatalogView,
    private readonly source: string,
    private readonly restrictions?: ReadonlyMap<A.SelectCore, unknown>,
    /** Which SELECT cores get DEADLINE_CHECK (see DeadlineChecks). */
    private readonly deadlineChecks: DeadlineChecks = 'none',
  ) {}

  /** An expression on its own; `scope` is the table its column references name, if any. */
  standalone(e: A.Expr, scope?: { table: string; alias: string }): string {
    const table = scope ? this.catalog.table(scope.table) : undefined;
    this.scopes.push(table ? [{ alias: scope!.alias, table }] : []);
    try {
      return this.where(e);
    } finally {
      this.scopes.pop();
    }
  }

  private get sqlite(): boolean {
    return this.target === 'sqlite';
  }

  // -------------------------------------------------------------------------------------------
  // Names and literals

  ident(name: string): string {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !SQLITE_KEYWORDS.has(name.toUpperCase())) return name;
    return this.sqlite ? `"${name.replace(/"/g, '""')}"` : `\`${name.replace(/`/g, '``')}\``;
  }

  private string(value: string): string {
    return `'${value.replace(/'/g, "''")}'`;
  }

  /** A user's table name: refuses Quiver's own catalog tables. */
  private tableName(name: A.QualifiedName | string): string {
    const q: { schema?: string; name: string } = typeof name === 'string' ? { name } : name;
    if (lower(q.name).startsWith(INTERNAL_PREFIX)) {
      throw new QuiverError('RESERVED_NAME', `names starting with ${INTERNAL_PREFIX} belong to Quiver's catalog; choose another name than ${q.name}`);
    }
    return q.schema ? `${this.ident(q.schema)}.${this.ident(q.name)}` : this.ident(q.name);
  }

  private qualified(name: A.QualifiedName): string {
    return name.schema ? `${this.ident(name.schema)}.${this.ident(name.name)}` : this.ident(name.name);
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  expr(e: A.Expr, minPrecedence = 0): string {
    const text = this.exprText(e);
    return precedence(e) < minPrecedence ? `(${text})` : text;
  }

  private exprText(e: A.Expr): string {
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
        if (!this.sqlite) return `MATCH (${e.columns.map((c) => this.exprText(c)).join(', ')}) AGAINST (${this.expr(e.query)})`;
        return this.relevance(e);
    }
  }

  /** The full-text index a MATCH (...) names, with the alias of its table in the query. */
  private fulltextTarget(e: A.MatchAgainstExpr): { fts: string; rowId: string } {
    const entry = this.resolveColumn(e.columns[0]);
    const wanted = e.columns.map((c) => lower(c.column)).sort().join(',');
    const index = entry?.table.fulltextIndexes.find((f) => f.columns.map(lower).sort().join(',') === wanted);
    if (!entry || !index) {
      const cols = e.columns.map((c) => c.column).join(', ');
      throw new QuiverError('UNKNOWN_INDEX', `MATCH (${cols}) needs a FULLTEXT index on exactly (${cols}); create one with CREATE FULLTEXT INDEX ft ON <table> (${cols})`);
    }
    return { fts: ftsTable(index.name), rowId: `${this.ident(entry.alias)}.rowid` };
  }

  /** MATCH ... AGAINST as a score: BM25, higher is better, 0 when the row does not match. */
  private relevance(e: A.MatchAgainstExpr): string {
    const key = this.matchKey(e);
    for (let i = this.ftJoinStack.length - 1; i >= 0; i--) {
      const join = this.ftJoinStack[i].find((j) => j.key === key);
      if (join) return `${join.alias}.__quiver_score`;
    }
    const { fts, rowId } = this.fulltextTarget(e);
    return `coalesce((SELECT -bm25(${fts}) FROM ${fts} WHERE ${fts} MATCH __quiver_fts_query(${this.expr(e.query)}) AND rowid = ${rowId}), 0)`;
  }

  /**
   * A WHERE clause. A conjunct that is a bare MATCH ... AGAINST restricts the rows to the
   * matches (one full-text query) instead of scoring every row.
   */
  private where(e: A.Expr, joined: ReadonlySet<A.Expr> = new Set()): string {
    if (!this.sqlite) return this.expr(e);
    const conjuncts = conjunctsOf(e);
    if (!conjuncts.some((c) => c.kind === 'matchAgainst')) return this.expr(e);
    return conjuncts
      .filter((c) => !joined.has(c)) // the join restricts to the matches already
      .map((c) => {
        if (c.kind !== 'matchAgainst') return this.expr(c, P_AND + 1);
        const { fts, rowId } = this.fulltextTarget(c);
        return `${rowId} IN (SELECT rowid FROM ${fts} WHERE ${fts} MATCH __quiver_fts_query(${this.expr(c.query)}))`;
      })
      .join(' AND ');
  }

  /**
   * Positional parameters are emitted as numbered names (`:3`), so any part of a statement can
   * be run on its own (the planner evaluates a query vector or a filter) with the statement's
   * values. Not `?3`: SQLite counts `?1` and `?2` as nameless parameters of a part holding only
   * `?3`, and better-sqlite3 then wants values for them ("Too few parameter values").
   */
  private param(e: A.ParamExpr): string {
    if (e.index === undefined) {
      this.namedParams.add(e.text.slice(1));
      return e.text;
    }
    this.positionalParams = Math.max(this.positionalParams, e.index);
    return this.sqlite ? `:${e.index}` : e.text;
  }

  private typeName(t: A.TypeName): string {
    // A word the parser would take for a keyword (it was quoted) is quoted again.
    const quote = (w: string): string => (this.sqlite ? `"${w.replace(/"/g, '""')}"` : `\`${w.replace(/`/g, '``')}\``);
    const name = t.name.split(' ').map((w) => (isBareTypeWord(w) ? w : quote(w))).join(' ');
    return t.args.length ? `${name}(${t.args.join(',')})` : name;
  }

  private functionCall(e: A.FunctionExpr): string {
    const name = lower(e.name);
    if (FORBIDDEN_FUNCTIONS.has(name)) {
      throw new QuiverError('UNSUPPORTED_STATEMENT', `${e.name}() is not allowed: it reaches outside the database`);
    }
    if (this.sqlite) {
      if (name === 'concat' && !e.distinct && !e.star && !e.over && !e.orderBy) {
        // MySQL's CONCAT is NULL when any argument is; SQLite's || behaves the same.
        if (e.args.length === 0) throw new QuiverError('SQL_ERROR', 'CONCAT() needs at least one argument');
        const parts = e.args.map((a) => this.expr(a, P_CONCAT + 1));
        return `(${parts.length === 1 ? `${parts[0]} || ''` : parts.join(' || ')})`;
      }
      // VECTOR_DISTANCE(a, b, metric) is MySQL 9's spelling of DISTANCE and passes through.
      if (INDEX_METRIC_FUNCTIONS.has(name) && !(name === 'vector_distance' && e.args.length === 3)) return this.indexMetricDistance(e);
    }
    let args: string;
    if (e.star) args = '*';
    else {
      args = (e.distinct ? 'DISTINCT ' : '') + e.args.map((a) => this.expr(a)).join(', ');
      // SQLite takes the separator as an argument before ORDER BY; MySQL writes it last.
      if (e.separator && this.sqlite) {
        if (e.distinct) {
          throw new QuiverError('SQL_ERROR', 'GROUP_CONCAT(DISTINCT ... SEPARATOR ...) is not supported; drop DISTINCT or the SEPARATOR');
        }
        args += `, ${this.expr(e.separator)}`;
      }
      if (e.orderBy) args += ` ORDER BY ${this.orderingTerms(e.orderBy)}`;
      if (e.separator && !this.sqlite) args += ` SEPARATOR ${this.expr(e.separator)}`;
    }
    let text = `${e.name}(${args})`;
    if (e.filter) text += ` FILTER (WHERE ${this.expr(e.filter)})`;
    if (e.over) text += ` OVER ${this.windowSpec(e.over)}`;
    return text;
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
      if (index) return `${METRIC_FUNCTION[index.metric]}(${e.args.map((a) => this.expr(a)).join(', ')})`;
    }
    throw new QuiverError(
      'NO_VECTOR_INDEX',
      `${e.name.toUpperCase()}() uses the metric of a vector index, and neither argument is a column with one; ` +
        `create a vector index on the column or write DISTANCE(a, b, 'COSINE'|'EUCLIDEAN'|'DOT')`,
      { position: undefined },
    );
  }

  private resolveColumn(col: A.ColumnExpr): ScopeEntry | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      for (const entry of this.scopes[i]) {
        if (col.table !== undefined && lower(col.table) !== lower(entry.alias)) continue;
        if (entry.table.columns.some((c) => lower(c.name) === lower(col.column))) return entry;
      }
    }
    return undefined;
  }

  private windowSpec(w: A.WindowSpec): string {
    if (w.name !== undefined) return this.ident(w.name);
    const parts: string[] = [];
    if (w.base) parts.push(this.ident(w.base));
    if (w.partitionBy.length) parts.push(`PARTITION BY ${w.partitionBy.map((x) => this.expr(x)).join(', ')}`);
    if (w.orderBy.length) parts.push(`ORDER BY ${this.orderingTerms(w.orderBy)}`);
    if (w.frame) parts.push(w.frame.map((f) => (typeof f === 'string' ? f : this.expr(f, P_ADD))).join(' '));
    return `(${parts.join(' ')})`;
  }

  private orderingTerms(terms: A.OrderingTerm[]): string {
    return terms
      .map((t) => this.expr(t.expr) + (t.direction ? ` ${t.direction}` : '') + (t.nulls ? ` NULLS ${t.nulls}` : ''))
      .join(', ');
  }

  // -------------------------------------------------------------------------------------------
  // SELECT

  select(s: A.SelectStatement): string {
    this.selectDepth++;
    try {
      let text = s.with ? `${this.withClause(s.with)} ` : '';
      const bodyScope = s.body.kind === 'core' ? this.fromScope(s.body.from) : [];
      const joins = s.body.kind === 'core' ? this.fulltextJoins(s.body, bodyScope, s) : [];
      if (joins.length) this.ftJoinsOfCore.set(s.body as A.SelectCore, joins);
      this.ftJoinStack.push(joins);
      try {
        text += this.selectBody(s.body);
        text += this.orderLimitOfSelect(s, bodyScope);
      } finally {
        this.ftJoinStack.pop();
      }
      return text;
    } finally {
      this.selectDepth--;
    }
  }

  /** A SELECT's ORDER BY and LIMIT, with Quiver's vector-distance ordering rules. */
  private orderLimitOfSelect(s: A.SelectStatement, bodyScope: ScopeEntry[]): string {
    let text = '';
    if (s.orderBy.length) {
      this.scopes.push(bodyScope);
      try {
        const isDistance = this.sqlite ? this.distanceTermTest(s) : () => false;
        // A row without a vector has no distance: it comes after every row that has one.
        const terms = s.orderBy.map((t) => (isDistance(t.expr) && !t.nulls && t.direction !== 'DESC' ? { ...t, nulls: 'LAST' as const } : t));
        text += ` ORDER BY ${this.orderingTerms(terms)}`;
        const tieBreak = s.orderBy.some((t) => isDistance(t.expr)) ? this.rowIdTieBreak(s) : undefined;
        if (tieBreak) text += `, ${tieBreak}`;
      } finally {
        this.scopes.pop();
      }
    }
    if (s.limit) {
      text += ` LIMIT ${this.expr(s.limit)}`;
      if (s.offset) text += ` OFFSET ${this.expr(s.offset)}`;
    }
    return text;
  }

  /**
   * Full-text searches a SELECT can join instead of scoring row by row: a MATCH ... AGAINST that
   * is a conjunct of the WHERE restricts the rows to its matches, so the FTS5 query runs once,
   * joined on row id with its BM25 score, and every other use of the same MATCH (the score in
   * the select list, ORDER BY) reads that score.
   */
  private fulltextJoins(c: A.SelectCore, scope: ScopeEntry[], s: A.SelectStatement): FulltextJoin[] {
    if (!this.sqlite || !c.where || !c.from) return [];
    const joins: (FulltextJoin & { fts: string; query: string; rowId: string })[] = [];
    this.scopes.push(scope);
    try {
      for (const conjunct of conjunctsOf(c.where)) {
        if (conjunct.kind !== 'matchAgainst') continue;
        const key = this.matchKey(conjunct);
        if (joins.some((j) => j.key === key)) continue;
        const { fts, rowId } = this.fulltextTarget(conjunct);
        joins.push({ key, alias: `__quiver_ft${joins.length + 1}`, conjunct, sql: '', fts, rowId, query: this.expr(conjunct.query) });
      }
      const topN = joins.length === 1 ? this.fulltextTopN(s, c, joins[0].key, scope) : undefined;
      for (const j of joins) {
        // Names no user column has, so the table's own columns stay unambiguous beside the join.
        const scored = `SELECT rowid AS __quiver_rid, -bm25(${j.fts}) AS __quiver_score FROM ${j.fts} WHERE ${j.fts} MATCH __quiver_fts_query(${j.query})`;
        j.sql = ` JOIN (${scored}${topN ?? ''}) AS ${j.alias} ON ${j.alias}.__quiver_rid = ${j.rowId}`;
      }
    } finally {
      this.scopes.pop();
    }
    return joins.map(({ key, alias, conjunct, sql }) => ({ key, alias, conjunct, sql }));
  }

  /**
   * The ORDER BY and LIMIT a full-text join can take on itself, so FTS5 keeps only the top n
   * (row id, BM25) pairs and only those n rows of the table are read, instead of every match
   * being joined to its row and sorted with it (100K rows, ~2,200 matches: 8 ms -> 3 ms).
   * Only where that cannot change the result: the SELECT reads one table, its WHERE is nothing
   * but this MATCH, it orders by the score and then at most the row id, has a LIMIT and no
   * OFFSET, and nothing in it looks across rows (no DISTINCT, GROUP BY, HAVING, aggregate or
   * window function), nor does the planner restrict it to candidate rows. Every FTS5 row has
   * exactly one table row (the triggers of fulltext.ts), so the top n of the FTS5 side are the
   * top n rows. Equal scores go by row id inside, in the direction the SELECT gives or
   * ascending, so the boundary of the n is the one the SELECT itself would draw.
   */
  private fulltextTopN(s: A.SelectStatement, c: A.SelectCore, key: string, scope: ScopeEntry[]): string | undefined {
    if (!s.limit || s.offset || c.distinct || c.groupBy.length || c.having || c.windows.length) return undefined;
    if (c.from?.kind !== 'table' || scope.length !== 1 || scope[0].table.withoutRowid || this.restrictions?.has(c)) return undefined;
    if (!conjunctsOf(c.where!).every((x) => x.kind === 'matchAgainst' && this.matchKey(x) === key)) return undefined;
    if (c.columns.some((col) => col.kind === 'expr' && looksAcrossRows(col.expr))) return undefined;
    const [scoreTerm, rowIdTerm, ...rest] = s.orderBy;
    if (!scoreTerm || rest.length || scoreTerm.nulls || rowIdTerm?.nulls) return undefined;
    const aliases = new Map<string, A.Expr>();
    for (const col of c.columns) if (col.kind === 'expr' && col.alias) aliases.set(lower(col.alias), col.expr);
    const isScore = (e: A.Expr): boolean =>
      e.kind === 'matchAgainst'
        ? this.matchKey(e) === key
        : e.kind === 'column' && e.table === undefined && aliases.get(lower(e.column))?.kind === 'matchAgainst' && this.matchKey(aliases.get(lower(e.column)) as A.MatchAgainstExpr) === key;
    const entry = scope[0];
    const isRowId = (e: A.Expr): boolean =>
      e.kind === 'column' &&
      ['rowid', '_rowid_', 'oid'].includes(lower(e.column)) &&
      (e.table === undefined ? !aliases.has(lower(e.column)) : lower(e.table) === lower(entry.alias)) &&
      !entry.table.columns.some((col) => lower(col.name) === lower(e.column));
    if (!isScore(scoreTerm.expr) || (rowIdTerm && !isRowId(rowIdTerm.expr))) return undefined;
    return ` ORDER BY __quiver_score ${scoreTerm.direction ?? 'ASC'}, __quiver_rid ${rowIdTerm?.direction ?? 'ASC'} LIMIT ${this.expr(s.limit)}`;
  }

  /** Two MATCH ... AGAINST with the same key are the same search. */
  private matchKey(e: A.MatchAgainstExpr): string {
    return `${e.columns.map((c) => lower(c.column)).sort().join(',')}|${this.expr(e.query)}`;
  }

  /**
   * `ORDER BY <distance> LIMIT k` must give the same k rows every time: equal distances are
   * ordered by row id. Only for a plain select from one base table, where row ids exist.
   */
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
    const isDistanceCall = (e: A.Expr | undefined): boolean => e?.kind === 'function' && DISTANCE_FUNCTIONS.has(lower(e.name));
    return (e) => isDistanceCall(e) || (e.kind === 'column' && e.table === undefined && isDistanceCall(aliases.get(lower(e.column))));
  }

  private withClause(w: A.WithClause): string {
    // Before the bodies: a recursive CTE reads itself.
    for (const c of w.ctes) this.cteNames.add(lower(c.name));
    const ctes = w.ctes.map((c) => {
      let text = this.ident(c.name);
      if (c.columns) text += `(${c.columns.map((x) => this.ident(x)).join(', ')})`;
      text += ' AS ';
      if (c.materialized) text += `${c.materialized} `;
      return `${text}(${this.select(c.select)})`;
    });
    return `WITH ${w.recursive ? 'RECURSIVE ' : ''}${ctes.join(', ')}`;
  }

  private selectBody(b: A.SelectBody): string {
    switch (b.kind) {
      case 'compound':
        return `${this.selectBody(b.left)} ${b.op} ${this.selectBody(b.right)}`;
      case 'values':
        return `VALUES ${b.rows.map((r) => `(${r.map((x) => this.expr(x)).join(', ')})`).join(', ')}`;
      case 'core':
        return this.selectCore(b);
    }
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

  private checksDeadline(c: A.SelectCore): boolean {
    if (!c.from || this.deadlineChecks === 'none') return false;
    if (this.deadlineChecks === 'every' || c.from.kind !== 'table') return true;
    const name = c.from.name.name;
    return this.cteNames.has(lower(name)) || !this.catalog.table(name);
  }

  private selectCore(c: A.SelectCore): string {
    let text = c.distinct ? 'SELECT DISTINCT ' : 'SELECT ';
    // FROM first: its subqueries are not in this select's scope, but its column refs are.
    const joins = this.ftJoinsOfCore.get(c) ?? [];
    const from = c.from ? ` FROM ${this.fromItem(c.from)}${joins.map((j) => j.sql).join('')}` : '';
    this.scopes.push(this.fromScope(c.from));
    try {
      text += c.columns.map((col) => this.resultColumn(col)).join(', ');
      text += from;
      const where = c.where ? this.where(c.where, new Set(joins.map((j) => j.conjunct))) : '';
      const added: string[] = [];
      if (this.restrictions?.has(c) && c.from?.kind === 'table') {
        const param = `${INTERNAL_PREFIX}rowids_${this.rowIdParams.size}`;
        this.rowIdParams.set(c, param);
        added.push(`${this.ident(c.from.alias ?? c.from.name.name)}.rowid IN (SELECT value FROM json_each(:${param}))`);
      }
      if (this.checksDeadline(c)) added.push(DEADLINE_CHECK);
      if (added.length > 0) text += ` WHERE ${[...(where ? [`(${where})`] : []), ...added].join(' AND ')}`;
      else if (where) text += ` WHERE ${where}`;
      if (c.groupBy.length) text += ` GROUP BY ${c.groupBy.map((x) => this.expr(x)).join(', ')}`;
      if (c.having) text += ` HAVING ${this.expr(c.having)}`;
      if (c.windows.length) text += ` WINDOW ${c.windows.map((w) => `${this.ident(w.name)} AS ${this.windowSpec(w.spec)}`).join(', ')}`;
      return text;
    } finally {
      this.scopes.pop();
    }
  }

  /**
   * A result column. For SQLite an unaliased expression is aliased with the text the user
   * wrote, since SQLite would otherwise name it after Quiver's rewritten text.
   */
  private resultColumn(col: A.ResultColumn): string {
    if (col.kind === 'star') return col.table ? `${this.ident(col.table)}.*` : '*';
    const text = this.expr(col.expr);
    let name = col.alias;
    if (name === undefined && col.expr.kind !== 'column') name = this.source.slice(col.start, col.end);
    if (this.selectDepth === 1 && col.expr.kind === 'function' && VECTOR_FUNCTIONS.has(lower(col.expr.name)) && name !== undefined) {
      this.vectorResultNames.add(name);
    }
    if (col.alias !== undefined) return `${text} AS ${this.ident(col.alias)}`;
    if (this.sqlite && name !== undefined && name !== text) return `${text} AS ${this.quotedAlways(name)}`;
    return text;
  }

  private quotedAlways(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
  }

  private fromItem(f: A.FromItem): string {
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
        let text = `${this.fromItem(f.left)}${f.op === ',' ? ',' : ` ${f.op}`} ${right}`;
        if (f.on) {
          this.scopes.push(this.fromScope(f));
          try {
            text += ` ON ${this.expr(f.on)}`;
          } finally {
            this.scopes.pop();
          }
        }
        if (f.using) text += ` USING (${f.using.map((x) => this.ident(x)).join(', ')})`;
        return text;
      }
    }
  }

  private indexHint(h: NonNullable<A.TableRef['indexHint']>): string {
    if (h.type === 'NOT INDEXED') return ' NOT INDEXED';
    if (h.type === 'INDEXED BY') return ` INDEXED BY ${this.ident(h.names[0])}`;
    // MySQL hints name vector indexes, which SQLite does not know; the planner reads them.
    if (this.sqlite) return '';
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
        return this.sqlite ? `DELETE FROM ${this.tableName(s.table)}` : `TRUNCATE TABLE ${this.qualified(s.table)}`;
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

  private pragmaValue(value: string): string {
    return /^-?[A-Za-z0-9_]+$/.test(value) ? value : this.string(value);
  }

  private returning(cols: A.ResultColumn[] | undefined): string {
    if (!cols) return '';
    this.selectDepth++;
    try {
      return ` RETURNING ${cols.map((c) => this.resultColumn(c)).join(', ')}`;
    } finally {
      this.selectDepth--;
    }
  }

  private withScope<T>(table: A.QualifiedName, alias: string | undefined, fn: () => T): T {
    const info = this.catalog.table(table.name);
    this.scopes.push(info ? [{ alias: alias ?? table.name, table: info }] : []);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** Wraps a value written to a VECTOR(n) column so text converts and anything else is checked. */
  private vectorValue(table: TableInfo | undefined, column: string, value: A.Expr): string {
    const text = this.expr(value);
    if (!this.sqlite || !table) return text;
    const info = table.columns.find((c) => lower(c.name) === lower(column));
    if (!info || info.vectorDims === null) return text;
    return `__quiver_to_vector(${text}, ${info.vectorDims}, ${this.string(info.name)})`;
  }

  private insert(s: A.InsertStatement): string {
    let text = s.with ? `${this.withClause(s.with)} ` : '';
    if (this.sqlite) text += s.verb === 'REPLACE' ? 'INSERT OR REPLACE' : `INSERT${s.orConflict ? ` OR ${s.orConflict}` : ''}`;
    else text += s.verb === 'REPLACE' ? 'REPLACE' : `INSERT${s.orConflict ? ` OR ${s.orConflict}` : ''}`;
    text += ` INTO ${this.tableName(s.table)}`;
    if (s.alias) text += ` AS ${this.ident(s.alias)}`;
    if (s.columns) text += ` (${s.columns.map((c) => this.ident(c)).join(', ')})`;
    const table = this.catalog.table(s.table.name);
    const targetColumns = s.columns ?? table?.columns.filter((c) => !c.generated).map((c) => c.name) ?? [];
    switch (s.source.kind) {
      case 'defaults':
        text += ' DEFAULT VALUES';
        break;
      case 'values':
        text += ` VALUES ${s.source.rows
          .map((row) => `(${row.map((v, i) => (i < targetColumns.length ? this.vectorValue(table, targetColumns[i], v) : this.expr(v))).join(', ')})`)
          .join(', ')}`;
        break;
      case 'select':
        text += ` ${this.select(s.source.select)}`;
        break;
    }
    for (const u of s.upsert) text += this.withScope(s.table, s.alias, () => this.upsert(u, table));
    return text + this.withScope(s.table, s.alias, () => this.returning(s.returning));
  }

  private upsert(u: A.UpsertClause, table: TableInfo | undefined): string {
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

  private setClauses(set: A.SetClause[], table: TableInfo | undefined): string {
    return set
      .map((c) =>
        c.columns.length === 1
          ? `${this.ident(c.columns[0])} = ${this.vectorValue(table, c.columns[0], c.value)}`
          : `(${c.columns.map((x) => this.ident(x)).join(', ')}) = ${this.expr(c.value)}`,
      )
      .join(', ');
  }

  private update(s: A.UpdateStatement): string {
    let text = s.with ? `${this.withClause(s.with)} ` : '';
    text += `UPDATE${s.orConflict ? ` OR ${s.orConflict}` : ''} ${this.tableName(s.table)}`;
    if (s.alias) text += ` AS ${this.ident(s.alias)}`;
    if (s.indexHint) text += this.indexHint(s.indexHint);
    const table = this.catalog.table(s.table.name);
    return this.withScope(s.table, s.alias, () => {
      text += ` SET ${this.setClauses(s.set, table)}`;
      if (s.from) text += ` FROM ${this.fromItem(s.from)}`;
      if (s.where) text += ` WHERE ${this.where(s.where)}`;
      return text + this.orderLimit(s) + this.returning(s.returning);
    });
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
    return this.withScope(s.table, s.alias, () => {
      if (s.where) text += ` WHERE ${this.where(s.where)}`;
      return text + this.orderLimit(s) + this.returning(s.returning);
    });
  }

  // -------------------------------------------------------------------------------------------
  // DDL

  private indexedColumns(cols: A.IndexedColumn[]): string {
    return cols
      .map((c) => this.expr(c.expr) + (c.collation ? ` COLLATE ${this.ident(c.collation)}` : '') + (c.direction ? ` ${c.direction}` : ''))
      .join(', ');
  }

  private createTable(s: A.CreateTableStatement): string {
    let text = `CREATE ${s.temp ? 'TEMP ' : ''}TABLE ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.tableName(s.name)}`;
    if (s.asSelect) return `${text} AS ${this.select(s.asSelect)}`;
    const rowIdKey = this.sqlite ? autoIncrementKey(s) : undefined;
    const elements = s.columns.map((c) => this.columnDef(c, rowIdKey));
    for (const c of s.constraints) {
      if (rowIdKey && c.kind === 'primaryKey' && c.columns.length === 1) continue; // folded into the column
      elements.push(this.tableConstraint(c));
    }
    if (!this.sqlite) {
      for (const i of s.indexes) elements.push(`${i.unique ? 'UNIQUE ' : ''}KEY ${i.name ? `${this.ident(i.name)} ` : ''}(${this.indexedColumns(i.columns)})`);
      for (const v of s.vectorIndexes) if (v.declaredAs === 'inline') elements.push(`VECTOR INDEX ${this.vectorIndexBody(v)}`);
      for (const f of s.fulltextIndexes) elements.push(`FULLTEXT INDEX ${f.name ? `${this.ident(f.name)} ` : ''}(${f.columns.map((c) => this.ident(c)).join(', ')})`);
    } else {
      for (const i of s.indexes) {
        const name = i.name ?? `${s.name.name}_${i.columns[0].expr.kind === 'column' ? i.columns[0].expr.column : 'idx'}`;
        this.after.push(`CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${this.ident(name)} ON ${this.tableName(s.name)} (${this.indexedColumns(i.columns)})`);
      }
    }
    text += ` (${elements.join(', ')})`;
    const options: string[] = [];
    if (s.withoutRowid) options.push('WITHOUT ROWID');
    if (s.strict) options.push('STRICT');
    if (!this.sqlite) for (const o of s.options) options.push(`${o.name}=${/^[A-Za-z0-9_]+$/.test(o.value) && o.name !== 'COMMENT' ? o.value : this.string(o.value)}`);
    return options.length ? `${text} ${options.join(this.sqlite ? ', ' : ' ')}` : text;
  }

  private vectorIndexBody(v: A.VectorIndexDef): string {
    const options = v.options.map((o) => ` ${o.name}=${/^[A-Za-z0-9_.]+$/.test(o.value) ? o.value : this.string(o.value)}`).join('');
    return `${v.name ? this.ident(v.name) : ''}(${this.ident(v.column)})${options}`;
  }

  /** A column definition. `rowIdKey` names the column that becomes SQLite's INTEGER PRIMARY KEY. */
  columnDef(c: A.ColumnDef, rowIdKey?: string): string {
    const parts = [this.ident(c.name)];
    const isRowIdKey = rowIdKey !== undefined && lower(rowIdKey) === lower(c.name);
    const vectorDims = vectorDimsOf(c);
    const autoIncrement = c.constraints.some((k) => k.kind === 'autoIncrement');
    if (c.type) {
      if (!this.sqlite) parts.push(this.typeName(c.type));
      else if (vectorDims !== null) parts.push('BLOB');
      else if (isRowIdKey) parts.push('INTEGER');
      else if (/^(VAR)?BINARY$/.test(c.type.name)) parts.push('BLOB');
      else parts.push(this.typeName(c.type));
    }
    let primaryKeyWritten = false;
    for (const k of c.constraints) {
      const name = k.constraintName ? `CONSTRAINT ${this.ident(k.constraintName)} ` : '';
      switch (k.kind) {
        case 'primaryKey':
          parts.push(`${name}PRIMARY KEY${k.direction ? ` ${k.direction}` : ''}${k.onConflict ? ` ON CONFLICT ${k.onConflict}` : ''}`);
          if (k.autoIncrement || (this.sqlite && autoIncrement)) parts.push(this.sqlite ? 'AUTOINCREMENT' : 'AUTO_INCREMENT');
          primaryKeyWritten = true;
          break;
        case 'autoIncrement':
          if (!this.sqlite) parts.push('AUTO_INCREMENT');
          break;
        case 'notNull':
          parts.push(`${name}NOT NULL${k.onConflict ? ` ON CONFLICT ${k.onConflict}` : ''}`);
          break;
        case 'null':
          parts.push(`${name}NULL`);
          break;
        case 'unique':
          parts.push(`${name}UNIQUE${k.onConflict ? ` ON CONFLICT ${k.onConflict}` : ''}`);
          break;
        case 'check':
          parts.push(`${name}CHECK (${this.expr(k.expr)})`);
          break;
        case 'default':
          parts.push(`${name}DEFAULT ${k.expr.kind === 'literal' || (k.expr.kind === 'unary' && k.expr.operand.kind === 'literal') ? this.expr(k.expr) : `(${this.expr(k.expr)})`}`);
          break;
        case 'collate':
          parts.push(`${name}COLLATE ${this.ident(k.collation)}`);
          break;
        case 'references':
          parts.push(name + this.foreignKeyRef(k.ref));
          break;
        case 'generated':
          parts.push(`${name}${this.sqlite ? 'GENERATED ALWAYS ' : ''}AS (${this.expr(k.expr)})${k.storage ? ` ${k.storage}` : ''}`);
          break;
      }
    }
    if (isRowIdKey && !primaryKeyWritten) parts.push(autoIncrement ? 'PRIMARY KEY AUTOINCREMENT' : 'PRIMARY KEY');
    if (this.sqlite && vectorDims !== null) parts.push(`CHECK (__quiver_vector_check(${this.ident(c.name)}, ${vectorDims}, ${this.string(c.name)}))`);
    if (!this.sqlite && c.comment !== undefined) parts.push(`COMMENT ${this.string(c.comment)}`);
    return parts.join(' ');
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
    this.scopes.push([]);
    let text = `CREATE ${s.unique ? 'UNIQUE ' : ''}INDEX ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.qualified(s.name)} ON ${table} (${this.indexedColumns(s.columns)})`;
    if (s.where) text += ` WHERE ${this.expr(s.where)}`;
    this.scopes.pop();
    return text;
  }

  private createVectorIndex(s: A.CreateVectorIndexStatement): string {
    const { name: _name, ...rest } = s.index;
    return `CREATE VECTOR INDEX ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.ident(s.name)} ON ${this.tableName(s.table)}${this.vectorIndexBody(rest)}`;
  }

  private createView(s: A.CreateViewStatement): string {
    // A TEMP view would hide the table of that name from Quiver's own SQL (see ddl.ts).
    if (s.temp && this.sqlite && this.catalog.table(s.name.name)) {
      throw new QuiverError('ALREADY_EXISTS', `${s.name.name} already names a table; a TEMP view and a table may not share a name`);
    }
    let text = `CREATE ${s.temp ? 'TEMP ' : ''}VIEW ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.tableName(s.name)}`;
    if (s.columns) text += ` (${s.columns.map((x) => this.ident(x)).join(', ')})`;
    return `${text} AS ${this.select(s.select)}`;
  }

  private createTrigger(s: A.CreateTriggerStatement): string {
    let text = `CREATE ${s.temp ? 'TEMP ' : ''}TRIGGER ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${this.qualified(s.name)}`;
    if (s.timing) text += ` ${s.timing}`;
    text += ` ${s.event}`;
    if (s.updateOf) text += ` OF ${s.updateOf.map((x) => this.ident(x)).join(', ')}`;
    text += ` ON ${this.tableName(s.table)}`;
    if (s.forEachRow) text += ' FOR EACH ROW';
    if (s.when) text += ` WHEN ${this.expr(s.when)}`;
    return `${text} BEGIN ${s.body.map((b) => `${this.statement(b)}; `).join('')}END`;
  }

  private drop(s: A.DropStatement): string {
    const name = s.object === 'TABLE' || s.object === 'VIEW' ? this.tableName(s.name) : this.qualified(s.name);
    let text = `DROP ${s.object} ${s.ifExists ? 'IF EXISTS ' : ''}${name}`;
    if (s.table && !this.sqlite) text += ` ON ${this.ident(s.table)}`;
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
    }
  }
}

/** A full-text search a SELECT joins (Emitter.fulltextJoins). */
interface FulltextJoin {
  key: string;
  alias: string;
  /** The WHERE conjunct the join stands for. */
  conjunct: A.Expr;
  sql: string;
}

/** SQLite's aggregate functions (built in, or compiled in here): one value from many rows. */
const AGGREGATE_FUNCTIONS = new Set([
  'avg', 'count', 'group_concat', 'string_agg', 'sum', 'total', 'json_group_array', 'json_group_object',
  'jsonb_group_array', 'jsonb_group_object', 'median', 'percentile', 'percentile_cont', 'percentile_disc',
]);

/**
 * Whether `e` may read rows other than its own: an aggregate or window function outside any
 * subquery (a subquery's own aggregates stay in it). min/max of one argument are aggregates,
 * of more a row's own.
 */
function looksAcrossRows(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  if (Array.isArray(e)) return e.some(looksAcrossRows);
  const node = e as { kind?: unknown };
  if (node.kind === 'select') return false;
  if (node.kind === 'function') {
    const f = e as A.FunctionExpr;
    const name = lower(f.name);
    if (f.over || f.filter || AGGREGATE_FUNCTIONS.has(name)) return true;
    if ((name === 'min' || name === 'max') && (f.star || f.args.length <= 1)) return true;
  }
  return Object.values(e).some(looksAcrossRows);
}

/** The conjuncts of a boolean expression: `a AND (b AND c)` gives a, b, c. */
function conjunctsOf(e: A.Expr): A.Expr[] {
  return e.kind === 'binary' && e.op === 'AND' ? [...conjunctsOf(e.left), ...conjunctsOf(e.right)] : [e];
}

/** The declared dimension count of a VECTOR(n) column; null for any other column. */
export function vectorDimsOf(c: A.ColumnDef): number | null {
  if (!c.type || c.type.name !== 'VECTOR') return null;
  if (c.type.args.length !== 1) {
    throw new QuiverError('INVALID_VECTOR', `column ${c.name}: write VECTOR(n) with the number of dimensions, e.g. VECTOR(1024)`);
  }
  const dims = Number(c.type.args[0]);
  if (!Number.isInteger(dims) || dims < MIN_VECTOR_DIMS || dims > MAX_VECTOR_DIMS) {
    throw new QuiverError('INVALID_VECTOR', `column ${c.name} is VECTOR(${c.type.args[0]}); dimensions must be ${MIN_VECTOR_DIMS} to ${MAX_VECTOR_DIMS}`);
  }
  return dims;
}

const INTEGER_TYPES = new Set(['INT', 'INTEGER', 'BIGINT', 'SMALLINT', 'TINYINT', 'MEDIUMINT', 'INT UNSIGNED', 'BIGINT UNSIGNED']);

/**
 * The column that becomes SQLite's INTEGER PRIMARY KEY (the row id) because the user declared
 * it AUTO_INCREMENT or an integer primary key: MySQL's `id INT AUTO_INCREMENT PRIMARY KEY` and
 * `id INT AUTO_INCREMENT, PRIMARY KEY (id)` both mean what SQLite's rowid alias does.
 */
function autoIncrementKey(s: A.CreateTableStatement): string | undefined {
  if (s.withoutRowid) return undefined;
  const tablePk = s.constraints.find((c) => c.kind === 'primaryKey');
  for (const c of s.columns) {
    const auto = c.constraints.some((k) => k.kind === 'autoIncrement' || (k.kind === 'primaryKey' && k.autoIncrement));
    const columnPk = c.constraints.some((k) => k.kind === 'primaryKey');
    const inTablePk =
      tablePk?.kind === 'primaryKey' && tablePk.columns.length === 1 && tablePk.columns[0].expr.kind === 'column' &&
      lower(tablePk.columns[0].expr.column) === lower(c.name);
    if (auto) {
      if (!columnPk && !inTablePk) {
        throw new QuiverError('SQL_ERROR', `column ${c.name} is AUTO_INCREMENT, so it must be the table's single-column PRIMARY KEY`);
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
