/**
 * @module parser/statement
 * The parser's entry: a request's statements, one statement, or a standalone expression, from
 * SQL text to the typed AST in ast.ts. It accepts SQLite's grammar (so standard SQL passes
 * through intact) and the MySQL / AliSQL / PolarDB forms Quiver users write. The statement
 * whitelist is the dispatch in statementAt: a statement kind not listed there does not parse,
 * so ATTACH, DETACH (and VACUUM INTO, refused in admin.ts) never reach SQLite. The families
 * (expr, select, dml, ddl, admin) read the rest; syntax errors carry the line and column.
 */
import type * as A from '../ast.ts';
import { QuiverError } from '../../../core/index.ts';
import { positionOf } from '../lexer.ts';
import {
  describeStatement, explainStatement, maintenanceStatement, optimizeStatement, pragmaStatement, setStatement, showStatement, transactionStatement,
} from './admin.ts';
import { Cursor } from './cursor.ts';
import { alterTableStatement, createStatement, dropStatement } from './ddl.ts';
import { deleteStatement, insertStatement, truncateStatement, updateStatement } from './dml.ts';
import { expr } from './expr.ts';
import { select, withClause } from './select.ts';

/**
 * Deepest syntax tree accepted, in nodes from the statement down. SQLite refuses expressions
 * deeper than 1000 (SQLITE_MAX_EXPR_DEPTH) anyway, so nothing that could run is lost.
 */
export const MAX_TREE_DEPTH = 1000;

/**
 * Parses a whole request: statements separated by `;`. Empty statements are skipped. More
 * than `maxTokens` tokens is a LIMIT_EXCEEDED (see tokenize).
 */
export function parseScript(sql: string, maxTokens?: number): A.Statement[] {
  return refuseStackOverflow(() => script(new Cursor(sql, maxTokens)));
}

/** Parses exactly one statement (a trailing `;` is allowed). */
export function parseStatement(sql: string): A.Statement {
  const statements = parseScript(sql);
  if (statements.length !== 1) {
    throw new QuiverError('SYNTAX_ERROR', `expected one statement, got ${statements.length}`);
  }
  return statements[0];
}

/** Parses a standalone expression, such as a /v1/chat filter. */
export function parseExpression(sql: string): A.Expr {
  return refuseStackOverflow(() => {
    const p = new Cursor(sql);
    const parsed = expr(p);
    p.expectEnd();
    checkTreeDepth(parsed, sql);
    return parsed;
  });
}

function script(p: Cursor): A.Statement[] {
  const statements: A.Statement[] = [];
  for (;;) {
    while (p.acceptOp(';'));
    if (p.atEnd()) break;
    p.positionalCount = 0;
    const parsed = statement(p);
    checkTreeDepth(parsed, p.sql);
    statements.push(parsed);
    if (!p.atEnd() && !p.isOp(';')) throw p.error("expected ';' or end of input");
  }
  return statements;
}

/** One statement; nested ones (EXPLAIN's, a trigger's body) count towards MAX_EXPR_DEPTH. */
export function statement(p: Cursor): A.Statement {
  return p.nested(() => statementAt(p));
}

/**
 * The statement whitelist: a statement's first word and the family that reads it. A word not
 * listed does not parse, so its statement never reaches SQLite.
 */
const STATEMENTS: ReadonlyMap<string, (p: Cursor) => A.Statement> = new Map([
  ['SELECT', select], ['VALUES', select], ['WITH', withStatement],
  ['INSERT', insertStatement], ['REPLACE', insertStatement], ['UPDATE', updateStatement], ['DELETE', deleteStatement], ['TRUNCATE', truncateStatement],
  ['CREATE', createStatement], ['DROP', dropStatement], ['ALTER', alterTableStatement],
  ['REINDEX', maintenanceStatement], ['ANALYZE', maintenanceStatement], ['VACUUM', maintenanceStatement],
  ['BEGIN', transactionStatement], ['START', transactionStatement], ['COMMIT', transactionStatement], ['END', transactionStatement],
  ['ROLLBACK', transactionStatement], ['SAVEPOINT', transactionStatement], ['RELEASE', transactionStatement],
  ['SHOW', showStatement], ['DESCRIBE', describeStatement], ['DESC', describeStatement], ['EXPLAIN', explainStatement],
  ['PRAGMA', pragmaStatement], ['OPTIMIZE', optimizeStatement], ['SET', setStatement],
]);

/** Statements refused by name, with why: the rest of the unlisted ones are syntax errors. */
const REFUSED = new Set(['ATTACH', 'DETACH']);

/** One statement, read by the family its first word picks (STATEMENTS). */
function statementAt(p: Cursor): A.Statement {
  const t = p.tok;
  if (t.kind === 'op' && t.value === '(') return select(p);
  if (t.kind !== 'word') throw p.error('expected a statement');
  const family = STATEMENTS.get(t.value);
  if (family) return family(p);
  if (REFUSED.has(t.value)) throw p.unsupported(`${t.value} is not allowed: a Quiver database is one file and cannot reach others`);
  throw p.error('expected a statement');
}

/** `WITH ...` then the SELECT, INSERT, UPDATE or DELETE it prefixes. */
function withStatement(p: Cursor): A.Statement {
  const start = p.tok.start;
  const prefix = withClause(p);
  let parsed: A.SelectStatement | A.InsertStatement | A.UpdateStatement | A.DeleteStatement;
  if (p.isWord('INSERT') || p.isWord('REPLACE')) parsed = insertStatement(p);
  else if (p.isWord('UPDATE')) parsed = updateStatement(p);
  else if (p.isWord('DELETE')) parsed = deleteStatement(p);
  else parsed = select(p);
  parsed.with = prefix;
  parsed.start = start;
  return parsed;
}

/**
 * The net under MAX_EXPR_DEPTH: should a nesting the counter does not see still exhaust the
 * stack, the answer is the same clear syntax error, not a RangeError that becomes a 500.
 */
function refuseStackOverflow<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      throw new QuiverError('SYNTAX_ERROR', 'the SQL is nested too deeply to parse; simplify it');
    }
    throw e;
  }
}

/**
 * Refuses a tree deeper than MAX_TREE_DEPTH nodes, walking it with an explicit stack. Chains
 * such as `a + b + c ...`, `x COLLATE c COLLATE c ...` or `SELECT ... UNION SELECT ...` build
 * deep trees without the parser recursing, and everything downstream (emit, the planner,
 * SQLite) walks trees recursively.
 */
function checkTreeDepth(root: object, sql: string): void {
  // Two parallel stacks, no tuple or array of values per node: this walks every node of
  // requests megabytes long.
  const nodes: object[] = [root];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop() as Record<string, unknown>;
    const above = depths.pop()!;
    const isArray = Array.isArray(node);
    const depth = !isArray && typeof node.kind === 'string' ? above + 1 : above;
    if (depth > MAX_TREE_DEPTH) {
      const start = node.start;
      throw new QuiverError(
        'SYNTAX_ERROR',
        `expression nested deeper than ${MAX_TREE_DEPTH} levels (each operator of a chain such as a + b + c is a level); simplify it`,
        typeof start === 'number' ? { position: positionOf(sql, start) } : {},
      );
    }
    if (isArray) {
      for (const child of node as unknown as unknown[]) {
        if (child !== null && typeof child === 'object') {
          nodes.push(child);
          depths.push(depth);
        }
      }
    } else {
      for (const key in node) {
        const child = node[key];
        if (child !== null && typeof child === 'object') {
          nodes.push(child);
          depths.push(depth);
        }
      }
    }
  }
}
