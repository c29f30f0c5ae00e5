/**
 * @module parser/select
 * SELECT: WITH and its common table expressions, compound operators, the cores (result
 * columns, FROM with joins, table functions and index hints, WHERE, GROUP BY, HAVING, WINDOW),
 * VALUES, and ORDER BY / LIMIT, which UPDATE and DELETE share. Every SELECT, subquery and CTE
 * is a nesting level counted towards MAX_EXPR_DEPTH.
 */
import type * as A from '../ast.ts';
import type { Token } from '../lexer.ts';
import type { Cursor } from './cursor.ts';
import { expr, exprList, orderingTerms, parenExprList, windowSpec } from './expr.ts';

const JOIN_SIDES = ['LEFT', 'RIGHT', 'FULL', 'INNER', 'CROSS'];

/** Whether `t` starts a SELECT: SELECT, VALUES or WITH. */
export function startsSelect(p: Cursor, t: Token = p.tok): boolean {
  return p.isWord('SELECT', t) || p.isWord('VALUES', t) || p.isWord('WITH', t);
}

/** A whole SELECT, WITH and ORDER BY / LIMIT included. */
export function select(p: Cursor): A.SelectStatement {
  return p.nested(() => selectAt(p));
}

function selectAt(p: Cursor): A.SelectStatement {
  const start = p.tok.start;
  const withList = p.isWord('WITH') ? withClause(p) : undefined;
  let body = selectOperand(p);
  for (;;) {
    let op: A.CompoundSelect['op'] | undefined;
    if (p.acceptWord('UNION', 'ALL')) op = 'UNION ALL';
    else if (p.acceptWord('UNION')) {
      p.acceptWord('DISTINCT');
      op = 'UNION';
    } else if (p.acceptWord('INTERSECT')) op = 'INTERSECT';
    else if (p.acceptWord('EXCEPT')) op = 'EXCEPT';
    if (!op) break;
    const right = selectOperand(p);
    body = { kind: 'compound', op, left: body, right, start: body.start, end: p.lastEnd };
  }
  return { kind: 'select', with: withList, body, ...orderByLimit(p), start, end: p.lastEnd };
}

/** `WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (select), ...`. */
export function withClause(p: Cursor): A.WithClause {
  const start = p.tok.start;
  p.expectWord('WITH');
  const recursive = p.acceptWord('RECURSIVE');
  const ctes: A.CommonTableExpr[] = [];
  do {
    const cteStart = p.tok.start;
    const name = p.name('a table name');
    const columns = p.isOp('(') ? p.nameList('a column name') : undefined;
    p.expectWord('AS');
    let materialized: A.CommonTableExpr['materialized'];
    if (p.acceptWord('MATERIALIZED')) materialized = 'MATERIALIZED';
    else if (p.acceptWord('NOT', 'MATERIALIZED')) materialized = 'NOT MATERIALIZED';
    p.expectOp('(');
    const body = select(p);
    p.expectOp(')');
    ctes.push({ name, columns, materialized, select: body, start: cteStart, end: p.lastEnd });
  } while (p.acceptOp(','));
  return { recursive, ctes, start, end: p.lastEnd };
}

/** `[ORDER BY terms] [LIMIT count [OFFSET offset | , count]]`. */
export function orderByLimit(p: Cursor): { orderBy: A.OrderingTerm[]; limit?: A.Expr; offset?: A.Expr } {
  const orderBy = p.acceptWord('ORDER', 'BY') ? orderingTerms(p) : [];
  let limit: A.Expr | undefined;
  let offset: A.Expr | undefined;
  if (p.acceptWord('LIMIT')) {
    limit = expr(p);
    if (p.acceptWord('OFFSET')) offset = expr(p);
    else if (p.acceptOp(',')) {
      // LIMIT offset, count (MySQL and SQLite)
      offset = limit;
      limit = expr(p);
    }
  }
  return { orderBy, limit, offset };
}

function selectOperand(p: Cursor): A.SelectBody {
  if (p.isOp('(') && startsSelect(p, p.peek())) {
    // A parenthesised operand of a compound (MySQL allows it); SQLite has no such syntax, so
    // it is kept only when it has no clauses of its own that would need the parentheses.
    const open = p.tok;
    p.pos++;
    const inner = select(p);
    p.expectOp(')');
    if (inner.with || inner.orderBy.length || inner.limit) {
      throw p.error('ORDER BY and LIMIT inside a parenthesised compound operand are not supported', open);
    }
    return inner.body;
  }
  if (p.isWord('VALUES')) return valuesClause(p);
  return selectCore(p);
}

function valuesClause(p: Cursor): A.ValuesClause {
  const start = p.tok.start;
  p.expectWord('VALUES');
  const rows: A.Expr[][] = [];
  do {
    p.acceptWord('ROW'); // MySQL 8: VALUES ROW(1, 2)
    rows.push(parenExprList(p));
  } while (p.acceptOp(','));
  return { kind: 'values', rows, start, end: p.lastEnd };
}

function selectCore(p: Cursor): A.SelectCore {
  const start = p.tok.start;
  p.expectWord('SELECT');
  let distinct = false;
  if (p.acceptWord('DISTINCT')) distinct = true;
  else p.acceptWord('ALL');
  const columns = resultColumns(p);
  const from = p.acceptWord('FROM') ? fromClause(p) : undefined;
  const where = p.acceptWord('WHERE') ? expr(p) : undefined;
  const groupBy = p.acceptWord('GROUP', 'BY') ? exprList(p) : [];
  const having = p.acceptWord('HAVING') ? expr(p) : undefined;
  const windows: A.SelectCore['windows'] = [];
  if (p.acceptWord('WINDOW')) {
    do {
      const name = p.name('a window name');
      p.expectWord('AS');
      windows.push({ name, spec: windowSpec(p) });
    } while (p.acceptOp(','));
  }
  return { kind: 'core', distinct, columns, from, where, groupBy, having, windows, start, end: p.lastEnd };
}

/** `*`, `table.*` or `expr [[AS] alias]`, comma-separated: a SELECT's or RETURNING's columns. */
export function resultColumns(p: Cursor): A.ResultColumn[] {
  const columns: A.ResultColumn[] = [];
  do columns.push(resultColumn(p));
  while (p.acceptOp(','));
  return columns;
}

function resultColumn(p: Cursor): A.ResultColumn {
  const start = p.tok.start;
  if (p.acceptOp('*')) return { kind: 'star', start, end: p.lastEnd };
  if (p.isName() && p.isOp('.', p.peek()) && p.isOp('*', p.peek(2))) {
    const table = p.name('a table name');
    p.pos += 2;
    return { kind: 'star', table, start, end: p.lastEnd };
  }
  const value = expr(p);
  const end = p.lastEnd;
  const alias = optionalAlias(p);
  return { kind: 'expr', expr: value, alias, start, end };
}

/** An optional alias: `AS name` or a bare name. */
export function optionalAlias(p: Cursor): string | undefined {
  if (p.acceptWord('AS')) return p.name('an alias', true);
  if (p.isName() || p.tok.kind === 'string') {
    // MySQL index hints look like aliases: FROM t FORCE INDEX (vi).
    if (['FORCE', 'USE', 'IGNORE'].includes(p.tok.value) && (p.isWord('INDEX', p.peek()) || p.isWord('KEY', p.peek()))) {
      return undefined;
    }
    return p.name('an alias', true);
  }
  return undefined;
}

/** A FROM clause: items joined by commas or JOINs, left to right. */
export function fromClause(p: Cursor): A.FromItem {
  let left = fromItem(p);
  for (;;) {
    const start = left.start;
    let op: string | undefined;
    if (p.acceptOp(',')) op = ',';
    else {
      const words: string[] = [];
      const save = p.pos;
      if (p.acceptWord('NATURAL')) words.push('NATURAL');
      const side = JOIN_SIDES.find((w) => p.acceptWord(w));
      if (side) words.push(side);
      if ((side === 'LEFT' || side === 'RIGHT' || side === 'FULL') && p.acceptWord('OUTER')) words.push('OUTER');
      if (p.acceptWord('JOIN')) op = [...words, 'JOIN'].join(' ');
      else if (words.length) {
        p.pos = save;
        throw p.error('expected JOIN');
      }
    }
    if (!op) return left;
    const right = fromItem(p);
    let on: A.Expr | undefined;
    let using: string[] | undefined;
    if (op !== ',') {
      if (p.acceptWord('ON')) on = expr(p);
      else if (p.acceptWord('USING')) using = p.nameList('a column name');
    }
    left = { kind: 'join', op, left, right, on, using, start, end: p.lastEnd };
  }
}

function fromItem(p: Cursor): A.FromItem {
  const start = p.tok.start;
  if (p.acceptOp('(')) {
    if (startsSelect(p)) {
      const subquery = select(p);
      p.expectOp(')');
      const alias = optionalAlias(p);
      return { kind: 'subquery', select: subquery, alias, start, end: p.lastEnd };
    }
    const inner = p.nested(() => fromClause(p));
    p.expectOp(')');
    return inner;
  }
  const name = p.qualifiedName('a table name');
  if (p.isOp('(')) {
    const args = parenExprList(p);
    const alias = optionalAlias(p);
    return { kind: 'tablefn', name, args, alias, start, end: p.lastEnd };
  }
  const alias = optionalAlias(p);
  const hint = indexHint(p);
  return { kind: 'table', name, alias, indexHint: hint, start, end: p.lastEnd };
}

/** SQLite's INDEXED BY / NOT INDEXED, or MySQL's FORCE / USE / IGNORE INDEX [FOR ...] (names). */
export function indexHint(p: Cursor): A.TableRef['indexHint'] {
  if (p.acceptWord('INDEXED', 'BY')) return { type: 'INDEXED BY', names: [p.name('an index name')] };
  if (p.acceptWord('NOT', 'INDEXED')) return { type: 'NOT INDEXED', names: [] };
  for (const type of ['FORCE', 'USE', 'IGNORE'] as const) {
    if (p.isWord(type) && (p.isWord('INDEX', p.peek()) || p.isWord('KEY', p.peek()))) {
      p.pos += 2;
      if (p.acceptWord('FOR')) {
        if (!p.acceptWord('JOIN')) {
          if (p.acceptWord('ORDER') || p.acceptWord('GROUP')) p.expectWord('BY');
          else throw p.error('expected JOIN, ORDER BY or GROUP BY');
        }
      }
      return { type, names: p.nameList('an index name') };
    }
  }
  return undefined;
}
