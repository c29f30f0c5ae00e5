/**
 * @module check/user-objects
 * User SQL sees users' objects only (DESIGN decision 9). The rule, decided here once:
 * - SQLite's objects (`sqlite_*`: sqlite_schema, sqlite_sequence, sqlite_stat1, autoindexes, the
 *   `sqlite_dbpage` and `sqlite_stmt` tables), its pragma table functions (`pragma_*`), its
 *   eponymous virtual tables (`dbstat`, `json_each`, ...) and Quiver's own
 *   objects (`__quiver_*`: the catalog, the change log, capture triggers, FTS5 tables,
 *   helper functions) are reserved, whatever the case, quoting or schema qualifier;
 * - a statement may name no reserved object wherever a name stands for one: a table or view
 *   read or written (FROM, JOIN, `IN t`, INSERT, UPDATE, DELETE, TRUNCATE, OPTIMIZE), created,
 *   dropped, altered, renamed to or referenced by a foreign key; an index or trigger created,
 *   dropped or hinted; a CTE, a table alias, a savepoint, a named parameter, a called function;
 *   the argument of a PRAGMA; the table of SHOW, DESCRIBE, REINDEX or ANALYZE. Trigger, view
 *   and CHECK bodies and EXPLAIN's statement are statements like any other;
 * - the table-valued functions user SQL may call are the JSON ones only (TABLE_FUNCTIONS);
 * - functions that reach outside the database are refused wherever they appear.
 * A reserved name is a RESERVED_NAME error (400); a table function or outside-reaching function
 * off the lists is UNSUPPORTED_STATEMENT. The engine checks each request's statements once,
 * when it parses them, so nothing of a refused request runs; Quiver's own SQL (catalog DDL,
 * capture triggers, the lowering's rewrites) never comes through here.
 */
import { positionOf, type A } from '../dialect/index.ts';
import { QuiverError, isQuiverError } from '../../core/index.ts';
import { checkPragma } from './pragmas.ts';

/** Tables, triggers, functions and parameters whose names start with this belong to Quiver. */
export const INTERNAL_PREFIX = '__quiver_';

/** Name prefixes of objects that are SQLite's or Quiver's, never a user's. */
const RESERVED_PREFIXES = ['sqlite_', 'pragma_', INTERNAL_PREFIX];

/**
 * SQLite's eponymous virtual tables, which a bare name in FROM reaches as a table (`FROM dbstat`
 * reads every page's size): the first line is this build's (the modules of its
 * `pragma_module_list` that answer to a bare name, and the JSON functions), the second those
 * other builds of SQLite carry, so an upgrade does not open them (tests/sql/check/
 * user-objects.test.ts tries every one the live SQLite has). A user table of such a name would hide the module from Quiver's own SQL too
 * (json_each binds the planner's candidates), so users cannot create one either. Modules that
 * need CREATE VIRTUAL TABLE (fts5, rtree) are no object until created, and that does not parse.
 */
const EPONYMOUS_TABLES = new Set([
  'dbstat', 'fts3tokenize', 'fts4aux', 'json_each', 'json_tree',
  'bytecode', 'tables_used', 'generate_series', 'carray',
]);

/** The table-valued functions user SQL may call: they read their arguments, nothing of the database. */
const TABLE_FUNCTIONS = new Set(['json_each', 'json_tree']);

/** Functions that reach outside the database; refused wherever they appear. */
const FORBIDDEN_FUNCTIONS = new Set(['load_extension', 'fts3_tokenizer', 'readfile', 'writefile', 'edit']);

/** Whether `name` is reserved for SQLite's or Quiver's own objects (case-insensitive). */
export function isReservedName(name: string): boolean {
  const lowered = name.toLowerCase();
  return RESERVED_PREFIXES.some((p) => lowered.startsWith(p)) || EPONYMOUS_TABLES.has(lowered);
}

/**
 * Refuses the first statement of a request that names an object which is not a user's, or
 * calls a function user SQL may not call. `source` is the request text, for the error's position.
 */
export function checkUserObjects(statements: readonly A.Statement[], source: string): void {
  statements.forEach((s, i) => {
    try {
      new NameCheck(source).statement(s);
    } catch (e) {
      if (isQuiverError(e)) {
        e.statementIndex ??= i;
        e.position ??= positionOf(source, s.start);
      }
      throw e;
    }
  });
}

/** A walk over one statement's tree, checking every name that stands for an object. */
class NameCheck {
  constructor(private readonly source: string) {}

  private refuse(code: 'RESERVED_NAME' | 'UNSUPPORTED_STATEMENT', detail: string, at: A.Span): never {
    throw new QuiverError(code, detail, { position: positionOf(this.source, at.start) });
  }

  /** `name`, a `what` written at `at`, must be a user's. */
  private name(name: string | undefined, what: string, at: A.Span): void {
    if (name === undefined || !isReservedName(name)) return;
    this.refuse(
      'RESERVED_NAME',
      `${what} ${name} is not a user's: names starting with sqlite_, pragma_ or ${INTERNAL_PREFIX}, and SQLite's virtual tables ` +
        `(dbstat, json_each, ...), belong to SQLite and Quiver; SHOW TABLES, DESCRIBE and SHOW INDEX show yours`,
      at,
    );
  }

  private qualified(n: A.QualifiedName | undefined, what: string): void {
    if (n) this.name(n.name, what, n);
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  statement(s: A.Statement): void {
    switch (s.kind) {
      case 'select':
        return this.select(s);
      case 'insert':
        this.with(s.with);
        this.qualified(s.table, 'table');
        this.name(s.alias, 'alias', s);
        if (s.source.kind === 'values') s.source.rows.forEach((r) => this.exprs(r.filter((v): v is A.Expr => v.kind !== 'default')));
        else if (s.source.kind === 'select') this.select(s.source.select);
        for (const u of s.upsert) {
          u.target?.columns.forEach((c) => this.expr(c.expr));
          this.expr(u.target?.where);
          u.set?.forEach((c) => this.expr(c.value));
          this.expr(u.where);
        }
        return this.resultColumns(s.returning);
      case 'update':
        this.with(s.with);
        this.qualified(s.table, 'table');
        this.name(s.alias, 'alias', s);
        this.indexHint(s.indexHint, s);
        s.set.forEach((c) => this.expr(c.value));
        this.from(s.from);
        this.expr(s.where);
        this.orderLimit(s);
        return this.resultColumns(s.returning);
      case 'delete':
        this.with(s.with);
        this.qualified(s.table, 'table');
        this.name(s.alias, 'alias', s);
        this.indexHint(s.indexHint, s);
        this.expr(s.where);
        this.orderLimit(s);
        return this.resultColumns(s.returning);
      case 'createTable':
        this.qualified(s.name, 'table');
        s.columns.forEach((c) => this.columnDef(c));
        for (const c of s.constraints) {
          if (c.kind === 'check') this.expr(c.expr);
          else if (c.kind === 'foreignKey') this.name(c.ref.table, 'table', c.ref);
          else c.columns.forEach((k) => this.expr(k.expr));
        }
        for (const i of s.indexes) {
          this.name(i.name, 'index', i);
          i.columns.forEach((c) => this.expr(c.expr));
        }
        for (const v of s.vectorIndexes) this.name(v.name, 'index', v);
        for (const f of s.fulltextIndexes) this.name(f.name, 'index', f);
        if (s.asSelect) this.select(s.asSelect);
        return;
      case 'createIndex':
        this.qualified(s.name, 'index');
        this.name(s.table, 'table', s);
        s.columns.forEach((c) => this.expr(c.expr));
        return this.expr(s.where);
      case 'createVectorIndex':
      case 'createFulltextIndex':
        this.name(s.name, 'index', s);
        return this.name(s.table, 'table', s);
      case 'createView':
        this.qualified(s.name, 'view');
        return this.select(s.select);
      case 'createTrigger':
        this.qualified(s.name, 'trigger');
        this.name(s.table, 'table', s);
        this.expr(s.when);
        return s.body.forEach((b) => this.statement(b));
      case 'drop':
        this.qualified(s.name, s.object.toLowerCase());
        return this.name(s.table, 'table', s);
      case 'alterTable':
        this.qualified(s.table, 'table');
        if (s.action.kind === 'renameTable') this.name(s.action.to, 'table', s);
        else if (s.action.kind === 'addColumn' || s.action.kind === 'modifyColumn') this.columnDef(s.action.column);
        return;
      case 'truncate':
      case 'optimize':
        return this.qualified(s.table, 'table');
      case 'maintenance':
        return this.qualified(s.target, 'object');
      case 'transaction':
        return this.name(s.savepoint, 'savepoint', s);
      case 'show':
        return this.name(s.table, 'table', s);
      case 'explain':
        return this.statement(s.statement);
      case 'pragma':
        checkPragma(s);
        // The PRAGMAs that take a value and pass checkPragma take a table or index name (or a number).
        return this.name(s.value, 'PRAGMA argument', s);
      case 'set':
        return this.expr(s.value);
      default:
        // A statement kind added to the AST must be walked here before it type-checks.
        s satisfies never;
    }
  }

  private columnDef(c: A.ColumnDef): void {
    for (const k of c.constraints) {
      if (k.kind === 'check' || k.kind === 'default' || k.kind === 'generated') this.expr(k.expr);
      else if (k.kind === 'references') this.name(k.ref.table, 'table', k.ref);
    }
  }

  private orderLimit(s: { orderBy: A.OrderingTerm[]; limit?: A.Expr; offset?: A.Expr }): void {
    this.orderingTerms(s.orderBy);
    this.expr(s.limit);
    this.expr(s.offset);
  }

  // -------------------------------------------------------------------------------------------
  // SELECT

  private select(s: A.SelectStatement): void {
    this.with(s.with);
    this.selectBody(s.body);
    this.orderLimit(s);
  }

  private with(w: A.WithClause | undefined): void {
    for (const c of w?.ctes ?? []) {
      this.name(c.name, 'CTE', c);
      this.select(c.select);
    }
  }

  private selectBody(b: A.SelectBody): void {
    switch (b.kind) {
      case 'compound':
        this.selectBody(b.left);
        return this.selectBody(b.right);
      case 'values':
        return b.rows.forEach((r) => this.exprs(r));
      case 'core':
        this.resultColumns(b.columns);
        this.from(b.from);
        this.expr(b.where);
        this.exprs(b.groupBy);
        this.expr(b.having);
        return b.windows.forEach((w) => this.windowSpec(w.spec));
    }
  }

  private resultColumns(cols: A.ResultColumn[] | undefined): void {
    for (const c of cols ?? []) if (c.kind === 'expr') this.expr(c.expr);
  }

  private from(f: A.FromItem | undefined): void {
    if (!f) return;
    switch (f.kind) {
      case 'table':
        this.qualified(f.name, 'table');
        this.name(f.alias, 'alias', f);
        return this.indexHint(f.indexHint, f);
      case 'subquery':
        this.select(f.select);
        return this.name(f.alias, 'alias', f);
      case 'tablefn':
        if (!TABLE_FUNCTIONS.has(f.name.name.toLowerCase())) {
          this.qualified(f.name, 'table function');
          const allowed = [...TABLE_FUNCTIONS].join(', ');
          this.refuse('UNSUPPORTED_STATEMENT', `${f.name.name}(...) is not a table function user SQL may call; those are ${allowed}`, f.name);
        }
        this.exprs(f.args);
        return this.name(f.alias, 'alias', f);
      case 'join':
        this.from(f.left);
        this.from(f.right);
        return this.expr(f.on);
    }
  }

  private indexHint(h: A.TableRef['indexHint'], at: A.Span): void {
    for (const n of h?.names ?? []) this.name(n, 'index', at);
  }

  private orderingTerms(terms: A.OrderingTerm[] | undefined): void {
    for (const t of terms ?? []) this.expr(t.expr);
  }

  private windowSpec(w: A.WindowSpec | undefined): void {
    if (!w) return;
    this.exprs(w.partitionBy);
    this.orderingTerms(w.orderBy);
    for (const f of w.frame ?? []) if (typeof f !== 'string') this.expr(f);
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  private exprs(es: A.Expr[] | undefined): void {
    for (const e of es ?? []) this.expr(e);
  }

  private expr(e: A.Expr | undefined): void {
    if (!e) return;
    switch (e.kind) {
      case 'literal':
      case 'column':
        return;
      case 'param':
        // The planner binds its own named parameters (`:__quiver_ids`) beside the user's.
        return this.name(e.index === undefined ? e.text.slice(1) : undefined, 'parameter', e);
      case 'unary':
        return this.expr(e.operand);
      case 'binary':
        this.expr(e.left);
        return this.expr(e.right);
      case 'like':
        this.expr(e.left);
        this.expr(e.right);
        return this.expr(e.escape);
      case 'between':
        this.expr(e.expr);
        this.expr(e.low);
        return this.expr(e.high);
      case 'in':
        this.expr(e.expr);
        this.exprs(e.list);
        if (e.select) this.select(e.select);
        return this.qualified(e.table, 'table');
      case 'nulltest':
      case 'cast':
      case 'collate':
        return this.expr(e.expr);
      case 'case':
        this.expr(e.operand);
        for (const w of e.whens) {
          this.expr(w.when);
          this.expr(w.then);
        }
        return this.expr(e.else);
      case 'function':
        this.name(e.name, 'function', e);
        if (FORBIDDEN_FUNCTIONS.has(e.name.toLowerCase())) {
          this.refuse('UNSUPPORTED_STATEMENT', `${e.name}() is not allowed: it reaches outside the database`, e);
        }
        this.exprs(e.args);
        this.orderingTerms(e.orderBy);
        this.expr(e.separator);
        this.expr(e.filter);
        return this.windowSpec(e.over);
      case 'exists':
      case 'subquery':
        return this.select(e.select);
      case 'row':
        return this.exprs(e.items);
      case 'raise':
        return this.expr(e.message);
      case 'matchAgainst':
        return this.expr(e.query);
      default:
        // An expression kind added to the AST must be walked here before it type-checks.
        e satisfies never;
    }
  }
}
