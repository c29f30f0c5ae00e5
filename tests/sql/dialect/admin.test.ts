/**
 * The admin family (src/sql/dialect/parser/admin.ts): transactions and savepoints, SHOW and
 * DESCRIBE, SET, PRAGMA, EXPLAIN, OPTIMIZE and ANALYZE / REINDEX / VACUUM round-trip through
 * Quiver's print; their MySQL and SQLite spellings read as one tree; node ranges cover their
 * text; malformed statements fail where they go wrong, and VACUUM INTO is refused.
 */
import { describe, expect, test } from 'vitest';
import { parseStatement, type A } from '../../../src/sql/dialect/index.ts';
import { errorOf, expectStatementRoundTrip, expectSyntaxError, shape, textOf, type SyntaxErrorCase } from './parse-checks.ts';

describe('round trip', () => {
  test.each([
    'BEGIN',
    'BEGIN IMMEDIATE TRANSACTION',
    'BEGIN EXCLUSIVE WORK',
    'START TRANSACTION',
    'COMMIT WORK',
    'END TRANSACTION',
    'ROLLBACK',
    'ROLLBACK TRANSACTION TO SAVEPOINT a',
    'ROLLBACK TO b',
    'SAVEPOINT a',
    'RELEASE SAVEPOINT a',
    'RELEASE a',
    'SHOW TABLES',
    "SHOW FULL TABLES LIKE 'doc%'",
    'SHOW CREATE TABLE t',
    'SHOW COLUMNS FROM t',
    'SHOW FIELDS IN t',
    'SHOW INDEX FROM t',
    'SHOW INDEXES IN t',
    'SHOW KEYS FROM t',
    'SHOW INDEX STATUS',
    'SHOW VECTOR INDEX STATUS FROM t',
    'SHOW EMBEDDING MODELS',
    'SHOW PROCESSLIST',
    'SHOW CLUSTER STATUS',
    'DESCRIBE t',
    'DESC t',
    'SET SESSION vidx_hnsw_ef_search = 64',
    'SET x := 1 + ?',
    'PRAGMA table_info(t)',
    'PRAGMA main.page_size',
    'PRAGMA cache_size = -2000',
    "PRAGMA index_info('two words')",
    'EXPLAIN SELECT 1',
    'EXPLAIN QUERY PLAN SELECT a FROM t WHERE a = 1',
    "EXPLAIN INSERT INTO t VALUES (1, 'x')",
    'OPTIMIZE TABLE t',
    'OPTIMIZE t',
    'ANALYZE',
    'ANALYZE main.t',
    'REINDEX t',
    'VACUUM',
  ])('%s', (sql) => {
    expect(expectStatementRoundTrip(sql).kind).toMatch(/^(transaction|show|set|pragma|explain|optimize|maintenance)$/);
  });
});

describe('trees', () => {
  test.each([
    ['START TRANSACTION', 'BEGIN'],
    ['BEGIN WORK', 'BEGIN'],
    ['END', 'COMMIT'],
    ['COMMIT TRANSACTION', 'COMMIT'],
    ['DESC t', 'SHOW COLUMNS FROM t'],
    ['SHOW FULL FIELDS IN t', 'SHOW COLUMNS FROM t'],
    ['SHOW KEYS IN t', 'SHOW INDEX FROM t'],
    ['SHOW VECTOR INDEX STATUS IN t', 'SHOW INDEX STATUS FROM t'],
    ['ROLLBACK WORK TO SAVEPOINT s', 'ROLLBACK TO s'],
    ['SET SESSION X = 1', 'SET x := 1'],
    ['OPTIMIZE t', 'OPTIMIZE TABLE t'],
  ])('%s reads as %s', (sql, same) => {
    expect(shape(parseStatement(sql))).toEqual(shape(parseStatement(same)));
  });

  test("a pragma's value is kept as written, sign included", () => {
    expect(parseStatement('PRAGMA cache_size = -2000')).toMatchObject({ name: { name: 'cache_size' }, value: '-2000' });
    expect(parseStatement('PRAGMA main.table_info(Docs)')).toMatchObject({ name: { schema: 'main', name: 'table_info' }, value: 'Docs' });
  });

  test('BEGIN keeps its mode; SET lowercases the setting name', () => {
    expect(parseStatement('BEGIN IMMEDIATE')).toMatchObject({ kind: 'transaction', action: 'BEGIN', mode: 'IMMEDIATE' });
    expect(parseStatement('SET Vidx_HNSW_ef_search = 10')).toMatchObject({ kind: 'set', name: 'vidx_hnsw_ef_search' });
  });
});

describe('source ranges', () => {
  test("EXPLAIN's statement, SET's value, PRAGMA's name and OPTIMIZE's table", () => {
    const explain = 'EXPLAIN QUERY PLAN\n  SELECT a FROM t';
    const e = parseStatement(explain) as A.ExplainStatement;
    expect(textOf(explain, e)).toBe(explain);
    expect(textOf(explain, e.statement)).toBe('SELECT a FROM t');
    const set = 'SET ef := 40 + 2';
    expect(textOf(set, (parseStatement(set) as A.SetStatement).value)).toBe('40 + 2');
    const pragma = 'PRAGMA main.page_size';
    expect(textOf(pragma, (parseStatement(pragma) as A.PragmaStatement).name)).toBe('main.page_size');
    const optimize = 'OPTIMIZE TABLE s.docs';
    expect(textOf(optimize, (parseStatement(optimize) as A.OptimizeStatement).table)).toBe('s.docs');
  });

  test('a maintenance target and a transaction span their words', () => {
    const analyze = 'ANALYZE main.t';
    const a = parseStatement(analyze) as A.MaintenanceStatement;
    expect(textOf(analyze, a.target!)).toBe('main.t');
    const rollback = 'ROLLBACK TO SAVEPOINT a';
    expect(textOf(rollback, parseStatement(rollback))).toBe(rollback);
  });
});

describe('syntax errors', () => {
  test.each<SyntaxErrorCase>([
    ['SHOW nonsense', "expected TABLES, CREATE TABLE, COLUMNS, INDEX, INDEX STATUS, EMBEDDING MODELS, PROCESSLIST or CLUSTER STATUS near 'nonsense'", 1, 6],
    ['SHOW COLUMNS t', "expected IN near 't'", 1, 14],
    ['SHOW TABLES LIKE x', "expected a pattern string near 'x'", 1, 18],
    ['SHOW CREATE TABLE', 'expected a table name near end of input', 1, 18],
    ['SHOW INDEX STATUS FROM', 'expected a table name near end of input', 1, 23],
    ['DESCRIBE', 'expected a table name near end of input', 1, 9],
    ['SET = 1', "expected a setting name near '='", 1, 5],
    ['SET x 1', "expected ':=' near '1'", 1, 7],
    ['PRAGMA x = ;', "expected a pragma value near ';'", 1, 12],
    ['PRAGMA table_info(t', "expected ')' near end of input", 1, 20],
    ['EXPLAIN', 'expected a statement near end of input', 1, 8],
    ['START', 'expected TRANSACTION near end of input', 1, 6],
    ['BEGIN FOO', "expected ';' or end of input near 'FOO'", 1, 7],
    ['ROLLBACK TO', 'expected a savepoint name near end of input', 1, 12],
    ['RELEASE', 'expected a savepoint name near end of input', 1, 8],
    ['OPTIMIZE', 'expected a table name near end of input', 1, 9],
  ])('%s', (sql, message, line, column) => {
    expectSyntaxError(() => parseStatement(sql), message, line, column);
  });

  test('EXPLAIN does not explain an EXPLAIN', () => {
    const e = errorOf(() => parseStatement('EXPLAIN EXPLAIN SELECT 1'));
    expect(e.code).toBe('SYNTAX_ERROR');
    expect(e.message).toMatch(/^EXPLAIN cannot explain an EXPLAIN /);
  });

  test('VACUUM INTO is refused at INTO: it would write a file outside the database', () => {
    const e = errorOf(() => parseStatement("VACUUM\n  INTO '/tmp/copy.db'"));
    expect([e.code, e.position]).toEqual(['UNSUPPORTED_STATEMENT', { line: 2, column: 3 }]);
    expect(e.message).toBe('VACUUM INTO is not allowed: it writes a file outside the database');
  });
});
