/**
 * The expression family (src/sql/dialect/parser/expr.ts): every operator and operand form
 * round-trips through Quiver's print, precedence builds the trees SQLite's table says, node
 * ranges cover the text each node was read from, and a malformed expression fails at the
 * token it stopped on with what it expected there.
 */
import { describe, expect, test } from 'vitest';
import { parseExpression, type A } from '../../../src/sql/dialect/index.ts';
import { errorOf, expectExpressionRoundTrip, expectSyntaxError, sexpr, textOf, type SyntaxErrorCase } from './parse-checks.ts';

describe('round trip', () => {
  test.each([
    'a IS NOT DISTINCT FROM b OR a IS DISTINCT FROM b OR a IS NOT NULL OR a IS c',
    'a ISNULL OR b NOTNULL OR c NOT NULL',
    'a NOT BETWEEN 1 AND 2 AND b BETWEEN -1 AND +1',
    'a NOT IN (1, 2) OR a IN () OR a IN t OR a IN s.t OR a IN (SELECT b FROM u)',
    "a NOT LIKE 'x!%' ESCAPE '!' OR a GLOB 'x*' OR a REGEXP '^x' OR a NOT MATCH 'x'",
    'a & b | c << 1 >> 2 = ~d',
    "doc -> '$.a' ->> '$.b' || 'x' || a % 3",
    '-a * ~b + 1 + NOT 0 - - -c',
    "a COLLATE nocase COLLATE 'binary' = b",
    'CASE a WHEN 1 THEN 2 WHEN 3 THEN 4 ELSE 5 END + CASE WHEN b THEN 1 END',
    'CAST(a AS DECIMAL(10, 2)) + CAST(b AS INT(11) UNSIGNED) + CAST(c AS `select`)',
    'NOT EXISTS (SELECT 1 FROM t) AND EXISTS (VALUES (1))',
    '(a, b) = (1, 2) AND (SELECT max(x) FROM t) > 1',
    'count(*) FILTER (WHERE a > 1) OVER (PARTITION BY b ORDER BY c ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)',
    "GROUP_CONCAT(DISTINCT a ORDER BY b DESC NULLS LAST SEPARATOR '; ') || count(ALL a)",
    "MATCH (title, t.body) AGAINST ('vector search' IN NATURAL LANGUAGE MODE) > 0",
    "s.t.c = t.c AND `select` = 'x' AND `two words` = \"double\"",
    '? + ?3 + :name + @v + $w',
    "X'0A1B' || CURRENT_TIMESTAMP || TRUE || NULL || FALSE",
    '0x1F + 1e5 + .5 - 2.50',
    "RAISE(ABORT, 'no') IS NULL",
  ])('%s', (sql) => {
    expect(expectExpressionRoundTrip(sql).kind).toBeDefined();
  });
});

describe('precedence and associativity', () => {
  test.each([
    ['a OR b AND c', '(OR a (AND b c))'],
    ['NOT a = b', '(NOT (= a b))'],
    ['1 + NOT 0', '(+ 1 (NOT 0))'],
    ['a = b < c', '(= a (< b c))'],
    ['a < b & c', '(< a (& b c))'],
    ['a & b + c', '(& a (+ b c))'],
    ['a + b * c', '(+ a (* b c))'],
    ['a * b || c', '(* a (|| b c))'],
    ['- a || b', '(|| (- a) b)'],
    ['-a COLLATE x', '(- (COLLATE a x))'],
    ['a - b - c', '(- (- a b) c)'],
    ['a = b = c', '(= (= a b) c)'],
    ['a IS NOT b IS NULL', '(IS (IS NOT a b) NULL)'],
    ['a IS DISTINCT FROM b', '(IS NOT a b)'],
    ['a IS NOT DISTINCT FROM b', '(IS a b)'],
    ['a NOT NULL = 1', '(= (NOTNULL a) 1)'],
    ['a BETWEEN b + 1 AND c AND d', '(AND (BETWEEN a (+ b 1) c) d)'],
    ["a LIKE b || 'x' ESCAPE '!'", "(LIKE a (|| b 'x') '!')"],
    ['a IN (1, 2) = b', '(= (IN a [1 2]) b)'],
    ['(a, b) IN t', '(IN [a b] t)'],
    ['(a OR b) AND c', '(AND (OR a b) c)'],
  ])('%s is %s', (sql, tree) => {
    expect(sexpr(parseExpression(sql))).toBe(tree);
  });

  test('? takes the next number, ?NNN sets it, names take none', () => {
    const e = parseExpression('f(?, ?5, ?, :a, ?2, ?)');
    expect((e as A.FunctionExpr).args.map((p) => (p as A.ParamExpr).index)).toEqual([1, 5, 6, undefined, 2, 7]);
  });

  test('keyword constants are literals, not column names', () => {
    expect(parseExpression('current_date')).toMatchObject({ kind: 'literal', type: 'keyword', value: 'CURRENT_DATE' });
    expect(parseExpression('true')).toMatchObject({ kind: 'literal', type: 'keyword', value: 'TRUE' });
  });
});

describe('source ranges', () => {
  test('each node covers its own text, parentheses included', () => {
    const sql = 'a + (b * 2) COLLATE nocase >= f(x, y) OVER w';
    const e = parseExpression(sql) as A.BinaryExpr;
    const sum = e.left as A.BinaryExpr;
    const call = e.right as A.FunctionExpr;
    expect(textOf(sql, e)).toBe(sql);
    expect(textOf(sql, sum)).toBe('a + (b * 2) COLLATE nocase');
    expect(textOf(sql, sum.right)).toBe('(b * 2) COLLATE nocase');
    expect(textOf(sql, (sum.right as A.CollateExpr).expr)).toBe('(b * 2)');
    expect(textOf(sql, call)).toBe('f(x, y) OVER w');
    expect(textOf(sql, call.args[1])).toBe('y');
    expect(textOf(sql, call.over!)).toBe('w');
  });

  test('ranges across lines', () => {
    const sql = 'price * 2\n  > (SELECT max(p)\n     FROM t)\n  AND tag IN (1,\n 2)';
    const e = parseExpression(sql) as A.BinaryExpr;
    const comparison = e.left as A.BinaryExpr;
    expect(textOf(sql, comparison.right)).toBe('(SELECT max(p)\n     FROM t)');
    expect(textOf(sql, (comparison.right as A.SubqueryExpr).select)).toBe('SELECT max(p)\n     FROM t');
    expect(textOf(sql, e.right)).toBe('tag IN (1,\n 2)');
  });

  test('CASE, CAST and MATCH ... AGAINST span their keywords', () => {
    const sql = "CASE WHEN a THEN CAST(b AS INT) END + MATCH (t) AGAINST ('q')";
    const e = parseExpression(sql) as A.BinaryExpr;
    const caseExpr = e.left as A.CaseExpr;
    expect(textOf(sql, caseExpr)).toBe('CASE WHEN a THEN CAST(b AS INT) END');
    expect(textOf(sql, caseExpr.whens[0].then)).toBe('CAST(b AS INT)');
    expect(textOf(sql, (caseExpr.whens[0].then as A.CastExpr).type)).toBe('INT');
    expect(textOf(sql, e.right)).toBe("MATCH (t) AGAINST ('q')");
  });
});

describe('syntax errors', () => {
  test.each<SyntaxErrorCase>([
    ['a +', 'expected an expression near end of input', 1, 4],
    ['a BETWEEN 1 OR 2', "expected AND near 'OR'", 1, 13],
    ['CASE END', "expected an expression near 'END'", 1, 6],
    ['CAST(a AS)', "expected a type name near ')'", 1, 10],
    ['CAST(a AS INT(x))', "expected a number in the type near 'x'", 1, 15],
    ['f(1,\n  )', "expected an expression near ')'", 2, 3],
    ['a b', "expected end of input near 'b'", 1, 3],
    ['a NOT 1', "expected end of input near 'NOT'", 1, 3],
    ['(1, 2', "expected ')' near end of input", 1, 6],
    ['x COLLATE', 'expected a collation name near end of input', 1, 10],
    ['count(*) FILTER (a > 1)', "expected WHERE near 'a'", 1, 18],
    ["MATCH (a) AGAINST ('x' IN SOME MODE)", "expected NATURAL near 'SOME'", 1, 27],
    ['price * 2\n  > (SELECT max(p)\n     FROM t) AND\n  )', "expected an expression near ')'", 4, 3],
  ])('%s', (sql, message, line, column) => {
    expectSyntaxError(() => parseExpression(sql), message, line, column);
  });

  test('MATCH ... AGAINST in boolean mode is refused where BOOLEAN is written', () => {
    const e = errorOf(() => parseExpression("MATCH (a) AGAINST ('x' IN BOOLEAN MODE)"));
    expect(e.code).toBe('UNSUPPORTED_STATEMENT');
    expect(e.message).toMatch(/natural language mode is/);
    expect(e.position).toEqual({ line: 1, column: 27 });
  });
});
