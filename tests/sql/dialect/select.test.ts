/**
 * The SELECT family (src/sql/dialect/parser/select.ts): clauses, joins, compounds, CTEs,
 * windows and index hints round-trip through Quiver's print; MySQL's forms read as the tree
 * SQLite's would; node ranges cover their text; malformed queries fail where they go wrong.
 */
import { describe, expect, test } from 'vitest';
import { parseStatement, type A } from '../../../src/sql/dialect/index.ts';
import { expectStatementRoundTrip, expectSyntaxError, textOf, type SyntaxErrorCase } from './parse-checks.ts';

function parseSelect(sql: string): A.SelectStatement {
  const s = parseStatement(sql);
  expect(s.kind).toBe('select');
  return s as A.SelectStatement;
}

function coreOf(s: A.SelectStatement): A.SelectCore {
  expect(s.body.kind).toBe('core');
  return s.body as A.SelectCore;
}

describe('round trip', () => {
  test.each([
    'SELECT DISTINCT a AS x, b "y", t.*, * FROM s.t AS q WHERE a GROUP BY a, b HAVING count(*) > 1 ORDER BY 1 ASC NULLS FIRST, 2 DESC LIMIT 5 OFFSET 10',
    'SELECT ALL a FROM t LIMIT 2, 3',
    'SELECT * FROM a NATURAL LEFT OUTER JOIN b CROSS JOIN c INNER JOIN d ON c.x = d.x RIGHT JOIN e USING (id) FULL OUTER JOIN f ON 1, g',
    'SELECT * FROM (a JOIN b ON a.id = b.id) LEFT JOIN (SELECT 1 AS id) AS s ON s.id = a.id',
    "SELECT j.value FROM json_each('[1,2]') AS j, generate_series(1, 3) g",
    'SELECT a FROM t INDEXED BY ia WHERE a > 1',
    'SELECT a FROM t NOT INDEXED',
    'SELECT a FROM t AS x USE INDEX FOR ORDER BY (ia, ib) JOIN u IGNORE KEY FOR JOIN (ic) ON 1',
    'SELECT a FROM t FORCE INDEX FOR GROUP BY (vi) GROUP BY a',
    'VALUES (1, 2), ROW(3, 4)',
    'SELECT 1 UNION SELECT 2 UNION ALL SELECT 3 INTERSECT VALUES (4) EXCEPT SELECT 5 ORDER BY 1 LIMIT 2 OFFSET 3',
    '(SELECT a FROM t) UNION DISTINCT (SELECT b FROM u)',
    'WITH a AS MATERIALIZED (SELECT 1), b(x, y) AS NOT MATERIALIZED (SELECT 2, 3) SELECT * FROM a, b',
    'WITH RECURSIVE n(i) AS (VALUES (1) UNION ALL SELECT i + 1 FROM n WHERE i < 9) SELECT sum(i) FROM n',
    'SELECT sum(a) OVER w, rank() OVER (w2 ORDER BY b RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE TIES) FROM t WINDOW w AS (PARTITION BY c), w2 AS (PARTITION BY d)',
    'SELECT lag(a) OVER (ORDER BY b GROUPS UNBOUNDED PRECEDING EXCLUDE NO OTHERS) FROM t',
    'SELECT a FROM t WHERE a IN (SELECT b FROM u WHERE u.c = t.c) ORDER BY (SELECT 1), a COLLATE nocase DESC',
    "SELECT id, DISTANCE(v, '[1,2]', 'COSINE') AS d FROM docs FORCE INDEX (vi) WHERE tag = ? ORDER BY d LIMIT :k",
  ])('%s', (sql) => {
    expect(expectStatementRoundTrip(sql).kind).toBe('select');
  });
});

describe('trees', () => {
  test('LIMIT offset, count is LIMIT count OFFSET offset', () => {
    const s = parseSelect('SELECT a FROM t LIMIT 2, 3');
    expect(s.limit).toMatchObject({ kind: 'literal', value: '3' });
    expect(s.offset).toMatchObject({ kind: 'literal', value: '2' });
  });

  test('a MySQL index hint is not taken for an alias', () => {
    const from = coreOf(parseSelect('SELECT a FROM t FORCE INDEX (vi)')).from as A.TableRef;
    expect(from).toMatchObject({ kind: 'table', alias: undefined, indexHint: { type: 'FORCE', names: ['vi'] } });
  });

  test('joins nest to the left; parentheses regroup them', () => {
    const flat = coreOf(parseSelect('SELECT * FROM a JOIN b ON 1 LEFT JOIN c ON 2')).from as A.JoinRef;
    expect(flat).toMatchObject({ op: 'LEFT JOIN', left: { op: 'JOIN', left: { name: { name: 'a' } } }, right: { name: { name: 'c' } } });
    const grouped = coreOf(parseSelect('SELECT * FROM a JOIN (b LEFT JOIN c ON 2) ON 1')).from as A.JoinRef;
    expect(grouped).toMatchObject({ op: 'JOIN', left: { name: { name: 'a' } }, right: { op: 'LEFT JOIN' } });
  });

  test('compounds are left-associative, and a parenthesised operand is its body', () => {
    const s = parseSelect('SELECT 1 UNION DISTINCT (SELECT 2) EXCEPT SELECT 3');
    expect(s.body).toMatchObject({ kind: 'compound', op: 'EXCEPT', left: { kind: 'compound', op: 'UNION', right: { kind: 'core' } } });
  });

  test('VALUES ROW(...) is VALUES (...)', () => {
    expect(parseSelect('VALUES ROW(1), (2)').body).toMatchObject({ kind: 'values', rows: [[{ value: '1' }], [{ value: '2' }]] });
  });
});

describe('source ranges', () => {
  test('a result column spans its expression, not its alias', () => {
    const sql = 'SELECT a + 1 AS total, t.*, b c FROM t';
    const [sum, star, b] = coreOf(parseSelect(sql)).columns;
    expect(textOf(sql, sum)).toBe('a + 1');
    expect(textOf(sql, star)).toBe('t.*');
    expect(textOf(sql, b)).toBe('b');
  });

  test('FROM items, joins, ORDER BY terms and LIMIT', () => {
    const sql = 'SELECT a FROM t AS x FORCE INDEX (vi) JOIN (SELECT 1 AS id) s ON x.id = s.id\nWHERE a > 0\nORDER BY a DESC NULLS LAST, b LIMIT 3';
    const s = parseSelect(sql);
    const core = coreOf(s);
    const join = core.from as A.JoinRef;
    expect(textOf(sql, join)).toBe('t AS x FORCE INDEX (vi) JOIN (SELECT 1 AS id) s ON x.id = s.id');
    expect(textOf(sql, join.left)).toBe('t AS x FORCE INDEX (vi)');
    expect(textOf(sql, join.right)).toBe('(SELECT 1 AS id) s');
    expect(textOf(sql, (join.right as A.SubqueryRef).select)).toBe('SELECT 1 AS id');
    expect(textOf(sql, core.where!)).toBe('a > 0');
    expect(s.orderBy.map((o) => textOf(sql, o))).toEqual(['a DESC NULLS LAST', 'b']);
    expect(textOf(sql, s.limit!)).toBe('3');
    expect(textOf(sql, core)).toBe(sql.slice(0, sql.indexOf('\nORDER')));
    expect(textOf(sql, s)).toBe(sql);
  });

  test('a WITH statement starts at WITH, each CTE at its name, a compound at its first operand', () => {
    const sql = 'WITH c(x) AS (SELECT 1), d AS (SELECT 2) SELECT x FROM c UNION SELECT * FROM d';
    const s = parseSelect(sql);
    expect(s.start).toBe(0);
    expect(textOf(sql, s.with!)).toBe('WITH c(x) AS (SELECT 1), d AS (SELECT 2)');
    expect(s.with!.ctes.map((c) => textOf(sql, c))).toEqual(['c(x) AS (SELECT 1)', 'd AS (SELECT 2)']);
    expect(textOf(sql, s.body)).toBe('SELECT x FROM c UNION SELECT * FROM d');
  });

  test('a window definition spans its parentheses', () => {
    const sql = 'SELECT sum(a) OVER (PARTITION BY b ORDER BY c) FROM t WINDOW w AS (ORDER BY d)';
    const core = coreOf(parseSelect(sql));
    const call = (core.columns[0] as { expr: A.FunctionExpr }).expr;
    expect(textOf(sql, call.over!)).toBe('(PARTITION BY b ORDER BY c)');
    expect(textOf(sql, core.windows[0].spec)).toBe('(ORDER BY d)');
  });
});

describe('syntax errors', () => {
  test.each<SyntaxErrorCase>([
    ['SELECT a FROM t LEFT u', "expected JOIN near 'LEFT'", 1, 17],
    ['SELECT * FROM t NATURAL x', "expected JOIN near 'NATURAL'", 1, 17],
    ['SELECT 1 UNION (SELECT 2 ORDER BY 1)', "ORDER BY and LIMIT inside a parenthesised compound operand are not supported near '('", 1, 16],
    ['SELECT * FROM t USE INDEX FOR x (i)', "expected JOIN, ORDER BY or GROUP BY near 'x'", 1, 31],
    ['SELECT a FROM t INDEXED BY', 'expected an index name near end of input', 1, 27],
    ['SELECT a FROM', 'expected a table name near end of input', 1, 14],
    ['SELECT a,\nFROM t', "expected an expression near 'FROM'", 2, 1],
    ['WITH c AS SELECT 1 SELECT 1', "expected '(' near 'SELECT'", 1, 11],
    ['SELECT a FROM t WINDOW w (PARTITION BY a)', "expected AS near '('", 1, 26],
    ['SELECT a FROM t JOIN u USING a', "expected '(' near 'a'", 1, 30],
    ['SELECT a FROM t GROUP a', "expected ';' or end of input near 'GROUP'", 1, 17],
    ['SELECT a FROM t ORDER BY', 'expected an expression near end of input', 1, 25],
    ['VALUES 1', "expected '(' near '1'", 1, 8],
    ['SELECT a\n  FROM t\n WHERE a > (SELECT', 'expected an expression near end of input', 3, 19],
  ])('%s', (sql, message, line, column) => {
    expectSyntaxError(() => parseStatement(sql), message, line, column);
  });
});
