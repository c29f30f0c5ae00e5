/**
 * @module filter
 * The safety of /v1/chat's `where`: a filter is parsed by Quiver's own parser as one standalone
 * expression (so a second statement is a syntax error, not a second statement), then accepted
 * only if every node is on an allow-list: the table's own columns (bare or qualified by the
 * table's name), literals, bound parameters, operators, CASE, CAST, IN lists, BETWEEN, LIKE/GLOB,
 * MATCH ... AGAINST over the table's columns, and the scalar functions of FILTER_FUNCTIONS.
 * Subqueries, EXISTS, other tables' columns, unknown functions, aggregates and windows are
 * refused with a 400 naming what is not allowed and where. The accepted tree — not the user's
 * text — is then printed back in Quiver's dialect and spliced into the retrieval SQL, with its
 * parameters renamed to `:chat_where_N` so they can never collide with Quiver's own.
 */
import { parseExpression, positionOf, printExpression, toBindable, type A, type TableDescription } from '../sql/index.ts';
import { QuiverError, isQuiverError } from '../core/index.ts';
import { kindOf } from './request.ts';

/** Scalar functions a filter may call: deterministic, reading nothing but their arguments. */
export const FILTER_FUNCTIONS: ReadonlySet<string> = new Set([
  'abs', 'coalesce', 'ifnull', 'nullif', 'iif', 'lower', 'upper', 'length', 'substr', 'substring', 'trim', 'ltrim',
  'rtrim', 'replace', 'instr', 'round', 'date', 'time', 'datetime', 'julianday', 'strftime', 'unixepoch',
  'json_extract', 'typeof', 'concat',
]);

/** Collations SQLite has built in; anything else would be an error from SQLite anyway. */
const COLLATIONS = new Set(['binary', 'nocase', 'rtrim']);
/** Names SQLite gives the row id of a rowid table. */
const ROWID_NAMES = new Set(['rowid', 'oid', '_rowid_']);
/** Prefix of the renamed filter parameters; Quiver's own parameters never start with it. */
export const FILTER_PARAM_PREFIX = 'chat_where_';

/** A filter ready to splice: Quiver-dialect SQL and the values of its renamed parameters. */
export interface CompiledFilter {
  sql: string;
  params: Record<string, unknown>;
}

/**
 * Parses, checks and re-prints `where` for `table`, binding `params` to its placeholders;
 * throws a 400 QuiverError (positions relative to `where`) when it is not a pure expression
 * over the table's columns.
 */
export function compileFilter(where: string, params: readonly unknown[] | Readonly<Record<string, unknown>> | undefined, table: TableDescription): CompiledFilter {
  let expr: A.Expr;
  try {
    expr = parseExpression(where);
  } catch (e) {
    if (isQuiverError(e)) {
      throw new QuiverError(e.code, `field "where" must be one SQL expression: ${e.detail}`, { position: e.position });
    }
    throw e;
  }
  const checker = new FilterChecker(where, table);
  checker.check(expr);
  const renamed = renameParams(expr, checker.params, params, where);
  return { sql: printExpression(renamed.expr), params: renamed.values };
}

class FilterChecker {
  readonly params: A.ParamExpr[] = [];
  private readonly columns: Set<string>;

  constructor(
    private readonly source: string,
    private readonly table: TableDescription,
  ) {
    this.columns = new Set(table.columns.map((c) => c.name.toLowerCase()));
  }

  private refuse(node: A.Span, what: string): never {
    throw new QuiverError('BAD_REQUEST', `field "where": ${what}; a filter is one expression over the columns of ${this.table.name}`, {
      position: positionOf(this.source, node.start),
    });
  }

  check(e: A.Expr): void {
    switch (e.kind) {
      case 'literal':
        return;
      case 'param':
        this.params.push(e);
        return;
      case 'column':
        return this.column(e);
      case 'unary':
        return this.check(e.operand);
      case 'binary':
        this.check(e.left);
        return this.check(e.right);
      case 'like':
        if (e.op === 'MATCH' || e.op === 'REGEXP') this.refuse(e, `the ${e.op} operator is not allowed (use LIKE or GLOB, or MATCH (col) AGAINST (...))`);
        this.check(e.left);
        this.check(e.right);
        if (e.escape) this.check(e.escape);
        return;
      case 'between':
        this.check(e.expr);
        this.check(e.low);
        return this.check(e.high);
      case 'in':
        if (e.select) this.refuse(e.select, 'a subquery (IN (SELECT ...)) is not allowed');
        if (e.table) this.refuse(e.table, `IN ${e.table.name} reads another table and is not allowed; write IN (value, ...)`);
        this.check(e.expr);
        for (const item of e.list ?? []) this.check(item);
        return;
      case 'nulltest':
        return this.check(e.expr);
      case 'case':
        if (e.operand) this.check(e.operand);
        for (const w of e.whens) {
          this.check(w.when);
          this.check(w.then);
        }
        if (e.else) this.check(e.else);
        return;
      case 'cast':
        return this.check(e.expr);
      case 'collate':
        if (!COLLATIONS.has(e.collation.toLowerCase())) this.refuse(e, `collation ${e.collation} is not allowed; use BINARY, NOCASE or RTRIM`);
        return this.check(e.expr);
      case 'row':
        for (const item of e.items) this.check(item);
        return;
      case 'function':
        return this.functionCall(e);
      case 'matchAgainst':
        for (const c of e.columns) this.column(c);
        return this.check(e.query);
      case 'exists':
        return this.refuse(e, 'EXISTS (a subquery) is not allowed');
      case 'subquery':
        return this.refuse(e, 'a subquery is not allowed');
      case 'raise':
        return this.refuse(e, 'RAISE() is not allowed');
      default:
        // A node kind added to the dialect later is refused until it is reviewed here.
        return this.refuse(e as A.Span, 'this kind of expression is not allowed');
    }
  }

  private column(c: A.ColumnExpr): void {
    const name = c.column.toLowerCase();
    if (c.schema !== undefined) this.refuse(c, `${c.schema}.${c.table}.${c.column} names a schema; name columns of ${this.table.name} only`);
    if (c.table !== undefined && c.table.toLowerCase() !== this.table.name.toLowerCase()) {
      this.refuse(c, `${c.table}.${c.column} is not a column of ${this.table.name}; other tables cannot be read`);
    }
    if (this.columns.has(name)) return;
    if (ROWID_NAMES.has(name) && !this.table.withoutRowid) return;
    throw new QuiverError(
      'UNKNOWN_COLUMN',
      `field "where": ${this.table.name} has no column ${c.column}; its columns are ${this.table.columns.map((x) => x.name).join(', ')}`,
      { position: positionOf(this.source, c.start) },
    );
  }

  private functionCall(f: A.FunctionExpr): void {
    const name = f.name.toLowerCase();
    if (!FILTER_FUNCTIONS.has(name)) {
      this.refuse(f, `function ${f.name}() is not allowed; a filter may call ${[...FILTER_FUNCTIONS].join(', ')}`);
    }
    if (f.star || f.distinct || f.filter || f.over || f.orderBy || f.separator) {
      this.refuse(f, `${f.name}() may be called only as a plain scalar function here`);
    }
    for (const a of f.args) this.check(a);
  }
}

/**
 * A copy of `expr` whose parameters are `:chat_where_1`, `:chat_where_2`, ... with their values
 * taken from `params` (by position for `?`, by name for `:name`, `@name`, `$name`).
 */
function renameParams(
  expr: A.Expr,
  found: readonly A.ParamExpr[],
  params: readonly unknown[] | Readonly<Record<string, unknown>> | undefined,
  source: string,
): { expr: A.Expr; values: Record<string, unknown> } {
  const values: Record<string, unknown> = {};
  if (found.length === 0) {
    if (params !== undefined && (Array.isArray(params) ? params.length > 0 : Object.keys(params).length > 0)) {
      throw new QuiverError('PARAMETER_ERROR', 'field "params" is given but "where" has no placeholders (? or :name)');
    }
    return { expr, values };
  }
  const positional = found.filter((p) => p.index !== undefined);
  if (positional.length > 0 && positional.length < found.length) {
    throw new QuiverError('PARAMETER_ERROR', 'field "where" mixes ? and :name placeholders; use one kind');
  }
  const byText = new Map<string, string>();
  const renamed = new Map<A.ParamExpr, string>();
  if (positional.length > 0) {
    if (!Array.isArray(params)) throw new QuiverError('PARAMETER_ERROR', 'field "where" uses ? placeholders, so "params" must be an array');
    const count = Math.max(...positional.map((p) => p.index!));
    if (params.length !== count) {
      throw new QuiverError('PARAMETER_ERROR', `field "where" uses ${count} ? parameters; "params" has ${params.length}`);
    }
    for (const p of positional) {
      const name = `${FILTER_PARAM_PREFIX}${p.index}`;
      values[name] = checkValue(params[p.index! - 1], `?${p.index}`);
      renamed.set(p, name);
    }
  } else {
    if (params === undefined || Array.isArray(params) || typeof params !== 'object') {
      throw new QuiverError('PARAMETER_ERROR', `field "where" uses named placeholders (:name), so "params" must be an object; got ${kindOf(params)}`);
    }
    const named = params as Readonly<Record<string, unknown>>;
    for (const p of found) {
      const key = p.text.slice(1);
      let name = byText.get(key);
      if (name === undefined) {
        if (!Object.hasOwn(named, key)) {
          throw new QuiverError('PARAMETER_ERROR', `missing value for parameter ${p.text} of "where"`, { position: positionOf(source, p.start) });
        }
        name = `${FILTER_PARAM_PREFIX}${byText.size + 1}`;
        byText.set(key, name);
        values[name] = checkValue(named[key], p.text);
      }
      renamed.set(p, name);
    }
  }
  return { expr: mapParams(expr, renamed), values };
}

/** Filter values are scalars: strings, finite numbers (a bigint is an integer past 2^53, which must fit SQLite's INTEGER), booleans and null. */
function checkValue(value: unknown, label: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return toBindable(value, `${label} of "where"`);
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new QuiverError('PARAMETER_ERROR', `parameter ${label} of "where" must be a string, a finite number, a boolean or null; got ${kindOf(value)}`);
}

/** A structural copy of `node` with each parameter in `renamed` given its new name. */
function mapParams<T>(node: T, renamed: ReadonlyMap<A.ParamExpr, string>): T {
  if (Array.isArray(node)) return node.map((n) => mapParams(n, renamed)) as T;
  if (node === null || typeof node !== 'object') return node;
  const name = renamed.get(node as unknown as A.ParamExpr);
  if (name !== undefined) {
    const p = node as unknown as A.ParamExpr;
    return { kind: 'param', text: `:${name}`, start: p.start, end: p.end } satisfies A.ParamExpr as T;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = mapParams(value, renamed);
  return out as T;
}
