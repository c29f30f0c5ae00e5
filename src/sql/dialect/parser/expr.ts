/**
 * @module parser/expr
 * Expressions, by SQLite's precedence table, loosest first: OR, AND, NOT, equality (with IS,
 * BETWEEN, IN, LIKE and the null tests), comparison, bitwise, additive, multiplicative,
 * concatenation, unary, COLLATE. Also what expressions are made of beyond operators: function
 * calls with their aggregate ORDER BY, FILTER and OVER window, ordering terms, and type names
 * (CAST's, which column definitions share). Subqueries are read by select.ts.
 */
import type * as A from '../ast.ts';
import { COLUMN_CONSTRAINT_WORDS, KEYWORD_LITERALS, RESERVED } from '../keywords.ts';
import type { Cursor } from './cursor.ts';
import { select, startsSelect } from './select.ts';
import { quoteString } from '../quote.ts';

// Binary operators by precedence level, tighter levels last (SQLite's table).
const OR_OPS = new Set(['OR']);
const AND_OPS = new Set(['AND']);
const COMPARISON_OPS = new Set(['<', '<=', '>', '>=']);
const BITWISE_OPS = new Set(['&', '|', '<<', '>>']);
const ADDITIVE_OPS = new Set(['+', '-']);
const MULTIPLICATIVE_OPS = new Set(['*', '/', '%']);
const CONCAT_OPS = new Set(['||', '->', '->>']);

const LIKE_OPS: readonly A.LikeExpr['op'][] = ['LIKE', 'GLOB', 'REGEXP', 'MATCH'];

/** Words that open a clause of a window definition, so they are not the name of a base window. */
const WINDOW_CLAUSE_WORDS = new Set(['PARTITION', 'ORDER', 'RANGE', 'ROWS', 'GROUPS']);
const FRAME_WORDS = new Set(['RANGE', 'ROWS', 'GROUPS', 'BETWEEN', 'AND', 'UNBOUNDED', 'PRECEDING', 'FOLLOWING', 'CURRENT', 'ROW', 'EXCLUDE', 'NO', 'OTHERS', 'GROUP', 'TIES']);

/** One expression; each call is a nesting level counted towards MAX_EXPR_DEPTH. */
export function expr(p: Cursor): A.Expr {
  p.enter();
  try {
    return orExpr(p);
  } finally {
    p.leave();
  }
}

/** `expr, expr, ...` without parentheses. */
export function exprList(p: Cursor): A.Expr[] {
  const items: A.Expr[] = [];
  do items.push(expr(p));
  while (p.acceptOp(','));
  return items;
}

/** `(expr, ...)`, possibly empty. */
export function parenExprList(p: Cursor): A.Expr[] {
  p.expectOp('(');
  const items = p.isOp(')') ? [] : exprList(p);
  p.expectOp(')');
  return items;
}

function orExpr(p: Cursor): A.Expr {
  return leftAssociative(p, OR_OPS, andExpr);
}

function andExpr(p: Cursor): A.Expr {
  return leftAssociative(p, AND_OPS, notExpr);
}

function notExpr(p: Cursor): A.Expr {
  // NOT binds looser than comparisons: NOT a = b is NOT (a = b).
  const start = p.tok.start;
  if (p.isWord('NOT') && !p.isWord('EXISTS', p.peek())) {
    p.pos++;
    p.enter();
    try {
      const operand = notExpr(p);
      return { kind: 'unary', op: 'NOT', operand, start, end: p.lastEnd };
    } finally {
      p.leave();
    }
  }
  return equalityExpr(p);
}

function equalityExpr(p: Cursor): A.Expr {
  let left = comparisonExpr(p);
  for (;;) {
    const start = left.start;
    const t = p.tok;
    if (t.kind === 'op' && (t.value === '=' || t.value === '==' || t.value === '!=' || t.value === '<>')) {
      p.pos++;
      const right = comparisonExpr(p);
      left = { kind: 'binary', op: t.value as A.BinaryOp, left, right, start, end: p.lastEnd };
      continue;
    }
    if (p.acceptWord('IS')) {
      let op: A.BinaryOp = 'IS';
      if (p.acceptWord('NOT')) op = 'IS NOT';
      if (p.acceptWord('DISTINCT', 'FROM')) op = op === 'IS' ? 'IS NOT' : 'IS';
      const right = comparisonExpr(p);
      left = { kind: 'binary', op, left, right, start, end: p.lastEnd };
      continue;
    }
    if (p.acceptWord('ISNULL')) {
      left = { kind: 'nulltest', not: false, expr: left, start, end: p.lastEnd };
      continue;
    }
    if (p.acceptWord('NOTNULL') || p.acceptWord('NOT', 'NULL')) {
      left = { kind: 'nulltest', not: true, expr: left, start, end: p.lastEnd };
      continue;
    }
    const save = p.pos;
    const not = p.acceptWord('NOT');
    if (p.acceptWord('BETWEEN')) {
      const low = comparisonExpr(p);
      p.expectWord('AND');
      const high = comparisonExpr(p);
      left = { kind: 'between', not, expr: left, low, high, start, end: p.lastEnd };
      continue;
    }
    if (p.acceptWord('IN')) {
      left = inTail(p, left, not);
      continue;
    }
    const likeOp = LIKE_OPS.find((w) => p.isWord(w));
    if (likeOp) {
      p.pos++;
      const right = comparisonExpr(p);
      const escape = p.acceptWord('ESCAPE') ? comparisonExpr(p) : undefined;
      left = { kind: 'like', op: likeOp, not, left, right, escape, start, end: p.lastEnd };
      continue;
    }
    p.pos = save;
    return left;
  }
}

/** What follows `IN`: a subquery, a list, or a table name. */
function inTail(p: Cursor, left: A.Expr, not: boolean): A.InExpr {
  const start = left.start;
  if (p.acceptOp('(')) {
    if (startsSelect(p)) {
      const subquery = select(p);
      p.expectOp(')');
      return { kind: 'in', not, expr: left, select: subquery, start, end: p.lastEnd };
    }
    const list = p.isOp(')') ? [] : exprList(p);
    p.expectOp(')');
    return { kind: 'in', not, expr: left, list, start, end: p.lastEnd };
  }
  const table = p.qualifiedName('a table name or a parenthesised list');
  return { kind: 'in', not, expr: left, table, start, end: p.lastEnd };
}

function comparisonExpr(p: Cursor): A.Expr {
  return leftAssociative(p, COMPARISON_OPS, bitwiseExpr);
}

function bitwiseExpr(p: Cursor): A.Expr {
  return leftAssociative(p, BITWISE_OPS, addExpr);
}

function addExpr(p: Cursor): A.Expr {
  return leftAssociative(p, ADDITIVE_OPS, mulExpr);
}

function mulExpr(p: Cursor): A.Expr {
  return leftAssociative(p, MULTIPLICATIVE_OPS, concatExpr);
}

function concatExpr(p: Cursor): A.Expr {
  return leftAssociative(p, CONCAT_OPS, unaryExpr);
}

/** One precedence level of left-associative binary operators, symbols or words: operand (op operand)*. */
function leftAssociative(p: Cursor, ops: ReadonlySet<string>, operand: (p: Cursor) => A.Expr): A.Expr {
  let left = operand(p);
  for (;;) {
    const t = p.tok;
    if ((t.kind !== 'op' && t.kind !== 'word') || !ops.has(t.value)) return left;
    p.pos++;
    const right = operand(p);
    left = { kind: 'binary', op: t.value as A.BinaryOp, left, right, start: left.start, end: p.lastEnd };
  }
}

function unaryExpr(p: Cursor): A.Expr {
  const t = p.tok;
  if (t.kind === 'op' && (t.value === '-' || t.value === '+' || t.value === '~')) {
    p.pos++;
    p.enter();
    try {
      const operand = unaryExpr(p);
      return { kind: 'unary', op: t.value as A.UnaryExpr['op'], operand, start: t.start, end: p.lastEnd };
    } finally {
      p.leave();
    }
  }
  return postfixExpr(p);
}

function postfixExpr(p: Cursor): A.Expr {
  let operand = primary(p);
  while (p.acceptWord('COLLATE')) {
    const collation = p.name('a collation name', true);
    operand = { kind: 'collate', expr: operand, collation, start: operand.start, end: p.lastEnd };
  }
  return operand;
}

/** An operand: a literal, parameter, column, call, parenthesised form, CASE, CAST, EXISTS... */
export function primary(p: Cursor): A.Expr {
  const t = p.tok;
  const start = t.start;
  switch (t.kind) {
    case 'number':
      p.pos++;
      return { kind: 'literal', type: 'number', value: t.value, start, end: t.end };
    case 'string':
      p.pos++;
      return { kind: 'literal', type: 'string', value: t.value, start, end: t.end };
    case 'blob':
      p.pos++;
      return { kind: 'literal', type: 'blob', value: t.value, start, end: t.end };
    case 'param': {
      p.pos++;
      // SQLite's numbering: `?` takes the next number, `?NNN` is NNN and moves the count on.
      let index: number | undefined;
      if (t.value === '?') index = ++p.positionalCount;
      else if (t.value.startsWith('?')) p.positionalCount = Math.max(p.positionalCount, (index = Number(t.value.slice(1))));
      return { kind: 'param', text: t.value, index, start, end: t.end };
    }
    case 'op':
      if (t.value === '(') return parenthesised(p);
      throw p.error('expected an expression');
    case 'ident':
      return columnOrFunction(p);
    case 'word':
      break;
    default:
      throw p.error('expected an expression');
  }
  if (KEYWORD_LITERALS.has(t.value) && !p.isOp('(', p.peek())) {
    p.pos++;
    return { kind: 'literal', type: 'keyword', value: t.value, start, end: t.end };
  }
  switch (t.value) {
    case 'CASE':
      return caseExpr(p);
    case 'CAST': {
      p.pos++;
      p.expectOp('(');
      const operand = expr(p);
      p.expectWord('AS');
      const type = typeName(p);
      if (!type) throw p.error('expected a type name');
      p.expectOp(')');
      return { kind: 'cast', expr: operand, type, start, end: p.lastEnd };
    }
    case 'NOT':
    case 'EXISTS': {
      // SQLite's grammar takes NOT as an operand too: `1 + NOT 0` is `1 + (NOT 0)`.
      if (t.value === 'NOT' && !p.isWord('EXISTS', p.peek())) return notExpr(p);
      const not = p.acceptWord('NOT');
      p.expectWord('EXISTS');
      p.expectOp('(');
      const subquery = select(p);
      p.expectOp(')');
      return { kind: 'exists', not, select: subquery, start, end: p.lastEnd };
    }
    case 'RAISE':
      if (p.isOp('(', p.peek())) return raise(p);
      break;
    case 'MATCH':
      if (p.isOp('(', p.peek())) return matchAgainst(p);
      break;
  }
  return columnOrFunction(p);
}

/** `(subquery)`, `(expr)` or a row value `(expr, expr, ...)`. */
function parenthesised(p: Cursor): A.Expr {
  const start = p.tok.start;
  p.expectOp('(');
  if (startsSelect(p)) {
    const subquery = select(p);
    p.expectOp(')');
    return { kind: 'subquery', select: subquery, start, end: p.lastEnd };
  }
  const first = expr(p);
  if (p.acceptOp(')')) {
    // Keep the user's parentheses in the span so a result column is named as written.
    return { ...first, start, end: p.lastEnd } as A.Expr;
  }
  const items = [first];
  while (p.acceptOp(',')) items.push(expr(p));
  p.expectOp(')');
  return { kind: 'row', items, start, end: p.lastEnd };
}

function caseExpr(p: Cursor): A.CaseExpr {
  const start = p.tok.start;
  p.expectWord('CASE');
  const operand = p.isWord('WHEN') ? undefined : expr(p);
  const whens: A.CaseExpr['whens'] = [];
  while (p.acceptWord('WHEN')) {
    const when = expr(p);
    p.expectWord('THEN');
    whens.push({ when, then: expr(p) });
  }
  if (whens.length === 0) throw p.error('expected WHEN');
  const elseExpr = p.acceptWord('ELSE') ? expr(p) : undefined;
  p.expectWord('END');
  return { kind: 'case', operand, whens, else: elseExpr, start, end: p.lastEnd };
}

/** MySQL's `MATCH (col, ...) AGAINST (expr [IN NATURAL LANGUAGE MODE])`. */
function matchAgainst(p: Cursor): A.MatchAgainstExpr {
  const start = p.tok.start;
  p.expectWord('MATCH');
  p.expectOp('(');
  const columns: A.ColumnExpr[] = [];
  do {
    const column = columnOrFunction(p);
    if (column.kind !== 'column') throw p.error('expected a column name in MATCH (...)');
    columns.push(column);
  } while (p.acceptOp(','));
  p.expectOp(')');
  p.expectWord('AGAINST');
  p.expectOp('(');
  const query = bitwiseExpr(p);
  if (p.acceptWord('IN')) {
    if (p.isWord('BOOLEAN')) throw p.unsupported('MATCH ... AGAINST (... IN BOOLEAN MODE) is not supported; natural language mode is');
    p.expectWord('NATURAL', 'LANGUAGE', 'MODE');
  }
  p.expectOp(')');
  return { kind: 'matchAgainst', columns, query, start, end: p.lastEnd };
}

/** A trigger's `RAISE(action[, message])`. */
function raise(p: Cursor): A.RaiseExpr {
  const start = p.tok.start;
  p.expectWord('RAISE');
  p.expectOp('(');
  const action = p.next().value as A.RaiseExpr['action'];
  if (!['IGNORE', 'ROLLBACK', 'ABORT', 'FAIL'].includes(action)) throw p.error('expected IGNORE, ROLLBACK, ABORT or FAIL');
  const message = action !== 'IGNORE' && p.acceptOp(',') ? expr(p) : undefined;
  p.expectOp(')');
  return { kind: 'raise', action, message, start, end: p.lastEnd };
}

function columnOrFunction(p: Cursor): A.Expr {
  const t = p.tok;
  const start = t.start;
  if (!p.isName()) throw p.error('expected an expression');
  if (t.kind === 'word' && p.isOp('(', p.peek())) return functionCall(p);
  const parts = [p.name('a column name')];
  while (p.isOp('.') && parts.length < 3) {
    p.pos++;
    parts.push(p.name('a column name'));
  }
  const column = parts[parts.length - 1];
  if (parts.length === 3) return { kind: 'column', schema: parts[0], table: parts[1], column, start, end: p.lastEnd };
  if (parts.length === 2) return { kind: 'column', table: parts[0], column, start, end: p.lastEnd };
  return { kind: 'column', column, start, end: p.lastEnd };
}

/** `name(...)` with MySQL's ORDER BY and SEPARATOR inside, then FILTER and OVER. */
export function functionCall(p: Cursor): A.FunctionExpr {
  const start = p.tok.start;
  const name = p.next().text;
  p.expectOp('(');
  const fn: A.FunctionExpr = { kind: 'function', name, distinct: false, star: false, args: [], start, end: start };
  if (p.acceptOp('*')) fn.star = true;
  else if (!p.isOp(')')) {
    if (p.acceptWord('DISTINCT')) fn.distinct = true;
    else p.acceptWord('ALL');
    fn.args = exprList(p);
    if (p.acceptWord('ORDER', 'BY')) fn.orderBy = orderingTerms(p);
    if (p.acceptWord('SEPARATOR')) fn.separator = expr(p);
  }
  p.expectOp(')');
  if (p.acceptWord('FILTER')) {
    p.expectOp('(');
    p.expectWord('WHERE');
    fn.filter = expr(p);
    p.expectOp(')');
  }
  if (p.acceptWord('OVER')) fn.over = windowSpec(p);
  fn.end = p.lastEnd;
  return fn;
}

/** `expr [ASC|DESC] [NULLS FIRST|LAST], ...`, as ORDER BY takes them. */
export function orderingTerms(p: Cursor): A.OrderingTerm[] {
  const terms: A.OrderingTerm[] = [];
  do {
    const start = p.tok.start;
    const term = expr(p);
    let direction: A.OrderingTerm['direction'];
    if (p.acceptWord('ASC')) direction = 'ASC';
    else if (p.acceptWord('DESC')) direction = 'DESC';
    let nulls: A.OrderingTerm['nulls'];
    if (p.acceptWord('NULLS', 'FIRST')) nulls = 'FIRST';
    else if (p.acceptWord('NULLS', 'LAST')) nulls = 'LAST';
    terms.push({ expr: term, direction, nulls, start, end: p.lastEnd });
  } while (p.acceptOp(','));
  return terms;
}

/** A window: a name, or `([base] [PARTITION BY ...] [ORDER BY ...] [frame])`. */
export function windowSpec(p: Cursor): A.WindowSpec {
  const start = p.tok.start;
  if (!p.isOp('(')) {
    const name = p.name('a window name');
    return { name, partitionBy: [], orderBy: [], start, end: p.lastEnd };
  }
  p.expectOp('(');
  let base: string | undefined;
  if (p.isName() && !WINDOW_CLAUSE_WORDS.has(p.tok.value)) base = p.name('a window name');
  const partitionBy = p.acceptWord('PARTITION', 'BY') ? exprList(p) : [];
  const orderBy = p.acceptWord('ORDER', 'BY') ? orderingTerms(p) : [];
  let frame: (string | A.Expr)[] | undefined;
  if (p.isWord('RANGE') || p.isWord('ROWS') || p.isWord('GROUPS')) {
    // Kept as its words and bound expressions in order, since Quiver only prints it back.
    frame = [];
    while (!p.isOp(')') && p.tok.kind !== 'eof') {
      if (p.tok.kind === 'word' && FRAME_WORDS.has(p.tok.value)) frame.push(p.next().value);
      else frame.push(addExpr(p));
    }
  }
  p.expectOp(')');
  return { base, partitionBy, orderBy, frame, start, end: p.lastEnd };
}

/** A type name: words, then optional numeric arguments. Undefined if none is written. */
export function typeName(p: Cursor): A.TypeName | undefined {
  const start = p.tok.start;
  const words: string[] = [];
  // A quoted word is always part of the type, never a keyword that ends it.
  while (p.tok.kind === 'ident' || (p.tok.kind === 'word' && !COLUMN_CONSTRAINT_WORDS.has(p.tok.value) && !RESERVED.has(p.tok.value))) {
    words.push(p.tok.kind === 'word' ? p.tok.value : p.tok.value.toUpperCase());
    p.pos++;
  }
  if (words.length === 0) return undefined;
  const args: string[] = [];
  if (p.acceptOp('(')) {
    do {
      const sign = p.acceptOp('-') ? '-' : p.acceptOp('+') ? '+' : '';
      const t = p.next();
      if (t.kind !== 'number' && !(t.kind === 'string' && sign === '')) throw p.error('expected a number in the type', t);
      args.push(t.kind === 'string' ? quoteString(t.value) : sign + t.value);
    } while (p.acceptOp(','));
    p.expectOp(')');
    // MySQL writes attributes after the size: INT(11) UNSIGNED ZEROFILL.
    while (p.isWord('UNSIGNED') || p.isWord('SIGNED') || p.isWord('ZEROFILL')) words.push(p.next().value);
  }
  return { name: words.join(' '), args, start, end: p.lastEnd };
}
