/**
 * The DML family (src/sql/dialect/parser/dml.ts): INSERT and REPLACE in SQLite's and MySQL's
 * forms, upserts, UPDATE and DELETE with their optional clauses, RETURNING and TRUNCATE
 * round-trip through Quiver's print; MySQL's spellings read as SQLite's trees; node ranges
 * cover their text; malformed statements fail where they go wrong.
 */
import { describe, expect, test } from 'vitest';
import { parseScript, parseStatement, type A } from '../../../src/sql/dialect/index.ts';
import { expectStatementRoundTrip, expectSyntaxError, textOf, type SyntaxErrorCase } from './parse-checks.ts';

describe('round trip', () => {
  test.each([
    'INSERT OR REPLACE INTO s.t AS x (a, b) VALUES (1, 2), (3, ?)',
    'INSERT IGNORE INTO t VALUE (1)',
    'REPLACE t VALUES (1)',
    'REPLACE INTO t (a) SELECT b FROM u',
    'INSERT INTO t DEFAULT VALUES',
    'INSERT INTO t (a, b) VALUES (DEFAULT, 1), (?, DEFAULT) RETURNING a',
    'REPLACE INTO t VALUE (DEFAULT)',
    'INSERT INTO t (a) SELECT b FROM u WHERE true ON CONFLICT DO NOTHING',
    "INSERT INTO t (a, b) VALUES (1, 'x') ON CONFLICT (a) WHERE a > 0 DO NOTHING ON CONFLICT DO UPDATE SET (a, b) = (excluded.a, excluded.b), t.c = 1 WHERE t.c IS NULL RETURNING a AS x, *",
    'INSERT INTO t (a) VALUES (1) ON CONFLICT (a COLLATE nocase DESC) DO UPDATE SET b = b + 1',
    'WITH n AS (SELECT 1 AS v) INSERT INTO t SELECT v FROM n',
    'UPDATE OR IGNORE t AS x INDEXED BY ia SET a = a + 1 FROM u WHERE x.id = u.id RETURNING x.a',
    'UPDATE t SET a = 1 ORDER BY b DESC LIMIT 1, 2',
    'UPDATE t USE INDEX (ia) SET a = DEFAULT_VALUE(), b = NULL WHERE a IN (SELECT 1)',
    'WITH RECURSIVE c(i) AS (SELECT 1) UPDATE t SET a = (SELECT i FROM c)',
    'DELETE FROM t AS x WHERE x.a > 1 ORDER BY x.a LIMIT 3 OFFSET 1 RETURNING *',
    'DELETE FROM t FORCE INDEX (ia) WHERE a = 1',
    'WITH stale AS (SELECT id FROM t) DELETE FROM t WHERE id IN stale',
    'TRUNCATE t',
    'TRUNCATE TABLE s.t',
  ])('%s', (sql) => {
    expect(['insert', 'update', 'delete', 'truncate']).toContain(expectStatementRoundTrip(sql).kind);
  });
});

describe('trees', () => {
  test("MySQL's INSERT IGNORE and VALUE are SQLite's INSERT OR IGNORE ... VALUES", () => {
    expect(parseStatement('INSERT IGNORE INTO t VALUE (1)')).toMatchObject({ verb: 'INSERT', orConflict: 'IGNORE', source: { kind: 'values' } });
  });

  test('REPLACE is its own verb, not INSERT OR REPLACE', () => {
    expect(parseStatement('REPLACE t VALUES (1)')).toMatchObject({ verb: 'REPLACE', orConflict: undefined });
  });

  test("a column list is not taken for a parenthesised SELECT, and SET's qualified column keeps its name", () => {
    expect(parseStatement('INSERT INTO t (SELECT 1)')).toMatchObject({ columns: undefined, source: { kind: 'select' } });
    expect(parseStatement('UPDATE t SET t.a = 1')).toMatchObject({ set: [{ columns: ['a'] }] });
  });

  test("MySQL's DEFAULT is a whole value of VALUES, spanning its word", () => {
    const sql = 'INSERT INTO t (a, b) VALUES (DEFAULT, ?)';
    const row = ((parseStatement(sql) as A.InsertStatement).source as { rows: A.InsertValue[][] }).rows[0];
    expect(row).toMatchObject([{ kind: 'default' }, { kind: 'param', index: 1 }]);
    expect(textOf(sql, row[0])).toBe('DEFAULT');
  });

  test('LIMIT offset, count in UPDATE and DELETE', () => {
    expect(parseStatement('DELETE FROM t LIMIT 4, 5')).toMatchObject({ limit: { value: '5' }, offset: { value: '4' } });
  });

  test('positional parameters number from 1 again in each statement of a script', () => {
    const [insert, update] = parseScript('INSERT INTO t VALUES (?, ?3, ?); UPDATE t SET a = ? WHERE b = ?') as [A.InsertStatement, A.UpdateStatement];
    const rows = (insert.source as { rows: A.Expr[][] }).rows;
    expect(rows[0].map((p) => (p as A.ParamExpr).index)).toEqual([1, 3, 4]);
    expect((update.set[0].value as A.ParamExpr).index).toBe(1);
    expect(((update.where as A.BinaryExpr).right as A.ParamExpr).index).toBe(2);
  });
});

describe('source ranges', () => {
  test('upsert clauses, SET clauses and RETURNING columns', () => {
    const sql = 'INSERT INTO t (a) VALUES (1)\n  ON CONFLICT (a) DO UPDATE SET b = 2, (c, d) = (3, 4)\n  ON CONFLICT DO NOTHING\n  RETURNING a AS x';
    const s = parseStatement(sql) as A.InsertStatement;
    expect(textOf(sql, s.table)).toBe('t');
    expect(s.upsert.map((u) => textOf(sql, u))).toEqual(['ON CONFLICT (a) DO UPDATE SET b = 2, (c, d) = (3, 4)', 'ON CONFLICT DO NOTHING']);
    expect(s.upsert[0].set!.map((c) => textOf(sql, c))).toEqual(['b = 2', '(c, d) = (3, 4)']);
    expect(textOf(sql, s.upsert[0].target!.columns[0])).toBe('a');
    expect(textOf(sql, s.returning![0])).toBe('a');
    expect(textOf(sql, s)).toBe(sql);
  });

  test('a statement behind WITH starts at WITH', () => {
    const sql = 'WITH c AS (SELECT 1) DELETE FROM t WHERE a IN c';
    const s = parseStatement(sql) as A.DeleteStatement;
    expect(textOf(sql, s)).toBe(sql);
    expect(textOf(sql, s.with!)).toBe('WITH c AS (SELECT 1)');
    expect(textOf(sql, s.where!)).toBe('a IN c');
  });

  test("UPDATE's FROM, WHERE and ORDER BY", () => {
    const sql = 'UPDATE t SET a = u.a FROM u JOIN v ON u.id = v.id WHERE t.id = u.id ORDER BY t.id LIMIT 1';
    const s = parseStatement(sql) as A.UpdateStatement;
    expect(textOf(sql, s.from!)).toBe('u JOIN v ON u.id = v.id');
    expect(textOf(sql, s.where!)).toBe('t.id = u.id');
    expect(textOf(sql, s.orderBy[0])).toBe('t.id');
  });
});

describe('syntax errors', () => {
  test.each<SyntaxErrorCase>([
    ['INSERT t VALUES (1)', "expected INTO near 't'", 1, 8],
    ['INSERT OR NOPE INTO t VALUES (1)', "expected ROLLBACK, ABORT, FAIL, IGNORE or REPLACE near 'NOPE'", 1, 11],
    ['UPDATE OR x t SET a = 1', "expected ROLLBACK, ABORT, FAIL, IGNORE or REPLACE near 'x'", 1, 11],
    ['INSERT INTO t (a, 1) VALUES (1)', "expected a column name near '1'", 1, 19],
    ['INSERT INTO t\nVALUES (1,\n  2', "expected ')' near end of input", 3, 4],
    ['INSERT INTO t VALUES (1) ON CONFLICT DO', 'expected UPDATE near end of input', 1, 40],
    ['INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE b = 1', "expected SET near 'b'", 1, 52],
    ['UPDATE t a = 1', "expected SET near '='", 1, 12],
    ['UPDATE t SET a 1', "expected '=' near '1'", 1, 16],
    ['UPDATE t SET (a, b = 1', "expected ')' near '='", 1, 20],
    ['DELETE t WHERE 1', "expected FROM near 't'", 1, 8],
    ['DELETE FROM t RETURNING', 'expected an expression near end of input', 1, 24],
    ['TRUNCATE', 'expected a table name near end of input', 1, 9],
    ['INSERT INTO t VALUES (DEFAULT + 1)', "expected ')' near '+'", 1, 31],
    ['INSERT INTO t SELECT DEFAULT', "expected an expression near 'DEFAULT'", 1, 22],
  ])('%s', (sql, message, line, column) => {
    expectSyntaxError(() => parseStatement(sql), message, line, column);
  });
});
