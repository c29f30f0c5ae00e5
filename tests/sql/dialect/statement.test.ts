/**
 * The parser's entry (src/sql/dialect/parser/statement.ts): a request splits into statements
 * at `;`, each with its own range; the first word picks the statement kind from the
 * whitelist and any other is refused where it is written; and over every statement of the SLT
 * scripts and seeds, each node's range is its own text inside its parent's.
 */
import { describe, expect, test } from 'vitest';
import { parseScript, parseStatement } from '../../../src/sql/dialect/index.ts';
import { loadCorpus } from './fuzz-corpus.ts';
import { errorOf, expectRangesNest, expectSyntaxError, textOf, type SyntaxErrorCase } from './parse-checks.ts';

describe('scripts', () => {
  test('split at semicolons, empty statements skipped, each statement spanning its own text', () => {
    const sql = ';; SELECT 1;\n\n ; INSERT INTO t VALUES (2) ;\nSHOW TABLES;';
    const statements = parseScript(sql);
    expect(statements.map((s) => s.kind)).toEqual(['select', 'insert', 'show']);
    expect(statements.map((s) => textOf(sql, s))).toEqual(['SELECT 1', 'INSERT INTO t VALUES (2)', 'SHOW TABLES']);
  });

  test('parseStatement takes exactly one statement', () => {
    expect(parseStatement('SELECT 1;').kind).toBe('select');
    expect(errorOf(() => parseStatement('SELECT 1; SELECT 2')).message).toBe('expected one statement, got 2');
    expect(errorOf(() => parseStatement(' ; ')).message).toBe('expected one statement, got 0');
  });

  test('more tokens than the caller allows is LIMIT_EXCEEDED, not a syntax error', () => {
    expect(parseScript('SELECT 1, 2', 6)).toHaveLength(1);
    expect(errorOf(() => parseScript('SELECT 1, 2, 3', 3)).code).toBe('LIMIT_EXCEEDED');
  });
});

describe('the statement whitelist', () => {
  test.each([
    ['SELECT 1', 'select'],
    ['VALUES (1)', 'select'],
    ['(SELECT 1)', 'select'],
    ['WITH c AS (SELECT 1) SELECT * FROM c', 'select'],
    ['INSERT INTO t VALUES (1)', 'insert'],
    ['REPLACE INTO t VALUES (1)', 'insert'],
    ['UPDATE t SET a = 1', 'update'],
    ['DELETE FROM t', 'delete'],
    ['TRUNCATE t', 'truncate'],
    ['CREATE TABLE t (a INT)', 'createTable'],
    ['DROP TABLE t', 'drop'],
    ['ALTER TABLE t ADD b INT', 'alterTable'],
    ['REINDEX', 'maintenance'],
    ['ANALYZE', 'maintenance'],
    ['VACUUM', 'maintenance'],
    ['BEGIN', 'transaction'],
    ['START TRANSACTION', 'transaction'],
    ['COMMIT', 'transaction'],
    ['END', 'transaction'],
    ['ROLLBACK', 'transaction'],
    ['SAVEPOINT s', 'transaction'],
    ['RELEASE s', 'transaction'],
    ['SHOW TABLES', 'show'],
    ['DESCRIBE t', 'show'],
    ['DESC t', 'show'],
    ['EXPLAIN SELECT 1', 'explain'],
    ['PRAGMA page_size', 'pragma'],
    ['OPTIMIZE TABLE t', 'optimize'],
    ['SET x = 1', 'set'],
  ])('%s is a %s statement', (sql, kind) => {
    expect(parseStatement(sql).kind).toBe(kind);
  });

  test.each<SyntaxErrorCase>([
    ['GRANT ALL ON t TO u', "expected a statement near 'GRANT'", 1, 1],
    ['LOCK TABLES t READ', "expected a statement near 'LOCK'", 1, 1],
    ['SELECT 1;\n  CALL p()', "expected a statement near 'CALL'", 2, 3],
    ['12', "expected a statement near '12'", 1, 1],
    ['SELECT 1 SELECT 2', "expected ';' or end of input near 'SELECT'", 1, 10],
  ])('%s is not a statement', (sql, message, line, column) => {
    expectSyntaxError(() => parseScript(sql), message, line, column);
  });

  test.each([
    ["ATTACH 'x' AS y", 'ATTACH', 1],
    ['  DETACH y', 'DETACH', 3],
  ])('%s is refused: a Quiver database cannot reach other files', (sql, word, column) => {
    const e = errorOf(() => parseScript(sql));
    expect([e.code, e.position]).toEqual(['UNSUPPORTED_STATEMENT', { line: 1, column }]);
    expect(e.message).toBe(`${word} is not allowed: a Quiver database is one file and cannot reach others`);
  });
});

describe('source ranges over the SLT scripts and seeds', () => {
  test('every node spans its own text inside its parent', () => {
    let checked = 0;
    for (const sql of loadCorpus()) {
      let statements;
      try {
        statements = parseScript(sql);
      } catch {
        continue; // the scripts hold statements that must fail
      }
      expectRangesNest(sql, statements);
      checked += statements.length;
    }
    expect(checked).toBeGreaterThan(100);
  });
});
