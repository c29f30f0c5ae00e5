/**
 * @module tests/sql/dialect/parse-checks
 * What the per-family parser suites share: the round trip (print a parsed tree in Quiver's
 * dialect, parse the print, get the same tree), source ranges (every node's [start, end) is
 * the text it was read from), syntax errors with their line and column, and a compact
 * S-expression view of an expression's shape for precedence tables.
 */
import { expect } from 'vitest';
import { QuiverError } from '../../../src/core/index.ts';
import { parseExpression, parseStatement, printExpression, printStatement, type A } from '../../../src/sql/dialect/index.ts';

/** A tree without source ranges, for comparing parses of different texts. */
export function shape(node: unknown): unknown {
  return JSON.parse(JSON.stringify(node, (k, v) => (k === 'start' || k === 'end' ? undefined : v)));
}

/** Parses one statement, checks its print parses back to the same tree and prints the same; returns the first tree. */
export function expectStatementRoundTrip(sql: string): A.Statement {
  const first = parseStatement(sql);
  const printed = printStatement(first);
  const second = parseStatement(printed);
  expect(shape(second), `printed: ${printed}`).toEqual(shape(first));
  expect(printStatement(second)).toBe(printed);
  expectRangesNest(sql, first);
  return first;
}

/** The same for a standalone expression. */
export function expectExpressionRoundTrip(sql: string): A.Expr {
  const first = parseExpression(sql);
  const printed = printExpression(first);
  const second = parseExpression(printed);
  expect(shape(second), `printed: ${printed}`).toEqual(shape(first));
  expect(printExpression(second)).toBe(printed);
  expectRangesNest(sql, first);
  return first;
}

/** The text a node was read from. */
export function textOf(sql: string, node: A.Span): string {
  return sql.slice(node.start, node.end);
}

/**
 * Every node of `root` spans non-empty text with no surrounding blanks, inside its parent's
 * span: what error positions and result-column names rely on.
 */
export function expectRangesNest(sql: string, root: unknown): void {
  const visit = (node: unknown, parent: A.Span | undefined): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child, parent);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    let enclosing = parent;
    const span = node as Partial<A.Span>;
    if (typeof span.start === 'number' && typeof span.end === 'number') {
      const text = sql.slice(span.start, span.end);
      expect(text.length, `empty range in ${sql}`).toBeGreaterThan(0);
      expect(text.trim(), `range with blanks: '${text}'`).toBe(text);
      if (parent) expect([span.start >= parent.start, span.end <= parent.end], `'${text}' outside '${textOf(sql, parent)}'`).toEqual([true, true]);
      enclosing = span as A.Span;
    }
    for (const child of Object.values(node)) visit(child, enclosing);
  };
  visit(root, undefined);
}

/** The QuiverError that `parse` throws; fails the test if it returns. */
export function errorOf(parse: () => unknown): QuiverError {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(QuiverError);
    return e as QuiverError;
  }
  throw new Error('expected the parse to fail');
}

/** A syntax error case: the input, then the message, line and column it must fail with. */
export type SyntaxErrorCase = [sql: string, message: string, line: number, column: number];

/** Checks a SYNTAX_ERROR's message and position; the message ends with the same line and column. */
export function expectSyntaxError(parse: () => unknown, message: string, line: number, column: number): void {
  const e = errorOf(parse);
  expect(e.code).toBe('SYNTAX_ERROR');
  expect(e.message).toBe(`${message} at line ${line}, column ${column}`);
  expect(e.position).toEqual({ line, column });
}

/** An expression's shape as an S-expression: `(op left right)`, names and literal values bare. */
export function sexpr(e: A.Expr): string {
  switch (e.kind) {
    case 'column':
      return [e.schema, e.table, e.column].filter((p) => p !== undefined).join('.');
    case 'literal':
      return e.type === 'string' ? `'${e.value}'` : e.value;
    case 'param':
      return e.text;
    case 'binary':
      return `(${e.op} ${sexpr(e.left)} ${sexpr(e.right)})`;
    case 'unary':
      return `(${e.op} ${sexpr(e.operand)})`;
    case 'collate':
      return `(COLLATE ${sexpr(e.expr)} ${e.collation})`;
    case 'nulltest':
      return `(${e.not ? 'NOTNULL' : 'ISNULL'} ${sexpr(e.expr)})`;
    case 'between':
      return `(${e.not ? 'NOT ' : ''}BETWEEN ${sexpr(e.expr)} ${sexpr(e.low)} ${sexpr(e.high)})`;
    case 'like':
      return `(${e.not ? 'NOT ' : ''}${e.op} ${sexpr(e.left)} ${sexpr(e.right)}${e.escape ? ` ${sexpr(e.escape)}` : ''})`;
    case 'in':
      return `(${e.not ? 'NOT ' : ''}IN ${sexpr(e.expr)} ${e.list ? `[${e.list.map(sexpr).join(' ')}]` : e.table ? e.table.name : 'select'})`;
    case 'function':
      return `${e.name}(${e.star ? '*' : e.args.map(sexpr).join(' ')})`;
    case 'row':
      return `[${e.items.map(sexpr).join(' ')}]`;
    default:
      return e.kind;
  }
}
