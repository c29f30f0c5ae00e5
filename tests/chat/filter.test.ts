/**
 * Filter safety for /v1/chat's `where`: what a filter may be (a pure expression over the
 * table's own columns), what is refused with a 400 and where, and that the accepted tree —
 * not the text — is re-printed with Quiver's own parameter names.
 */
import { describe, expect, it } from 'vitest';
import { FILTER_FUNCTIONS, compileFilter } from '../../src/chat/filter.ts';
import { parseExpression } from '../../src/sql/dialect/index.ts';
import { QuiverError } from '../../src/core/index.ts';
import type { TableDescription } from '../../src/sql/index.ts';
import { HTTP_STATUS } from '../../src/api/problem.ts';

const KB: TableDescription = {
  name: 'knowledge_base',
  withoutRowid: false,
  columns: [
    { name: 'id', declaredType: 'BIGINT', vectorDims: null, generatedExpr: null, embedding: null, primaryKey: true },
    { name: 'doc_content', declaredType: 'TEXT', vectorDims: null, generatedExpr: null, embedding: null, primaryKey: false },
    { name: 'department_id', declaredType: 'INT', vectorDims: null, generatedExpr: null, embedding: null, primaryKey: false },
    { name: 'creation_date', declaredType: 'DATETIME', vectorDims: null, generatedExpr: null, embedding: null, primaryKey: false },
    { name: 'vec', declaredType: 'VECTOR(100)', vectorDims: 100, generatedExpr: "EMBEDDING(doc_content, 'quiver-local-100d')", embedding: { source: 'doc_content', model: 'quiver-local-100d' }, primaryKey: false },
  ],
  vectorIndexes: [],
  fulltextIndexes: [{ name: 'ft', columns: ['doc_content'] }],
};

function refusal(where: string, params?: unknown): QuiverError {
  try {
    compileFilter(where, params as Record<string, unknown> | undefined, KB);
  } catch (e) {
    expect(e).toBeInstanceOf(QuiverError);
    return e as QuiverError;
  }
  throw new Error(`expected ${where} to be refused`);
}

describe('accepted filters', () => {
  it('re-prints the seed 000 filter with renamed parameters and their values', () => {
    const f = compileFilter('department_id = :d AND creation_date > :since', { d: 101, since: '2023-01-01', unused: 1 }, KB);
    expect(f.sql).toBe('department_id = :chat_where_1 AND creation_date > :chat_where_2');
    expect(f.params).toEqual({ chat_where_1: 101, chat_where_2: '2023-01-01' });
  });

  it('binds ? by position and a repeated name once', () => {
    expect(compileFilter('department_id = ? OR id = ?', [7, 8], KB)).toEqual({
      sql: 'department_id = :chat_where_1 OR id = :chat_where_2',
      params: { chat_where_1: 7, chat_where_2: 8 },
    });
    expect(compileFilter('id > :n AND department_id <> :n', { n: 3 }, KB)).toEqual({
      sql: 'id > :chat_where_1 AND department_id <> :chat_where_1',
      params: { chat_where_1: 3 },
    });
  });

  it('binds an integer past 2^53 (a bigint from the body) as that exact bigint', () => {
    expect(compileFilter('id = :id', { id: 9007199254740993n }, KB).params).toEqual({ chat_where_1: 9007199254740993n });
  });

  it('takes columns qualified by the table, literals, operators, CASE, CAST, IN lists, BETWEEN, LIKE, IS NULL, row ids', () => {
    const where =
      "knowledge_base.department_id IN (101, 202) AND creation_date BETWEEN '2023-01-01' AND '2024-01-01' " +
      "AND lower(doc_content) LIKE '%join%' AND CASE WHEN id % 2 = 0 THEN 1 ELSE 0 END = 1 " +
      "AND CAST(department_id AS TEXT) <> '' AND vec IS NOT NULL AND rowid > 0 AND doc_content COLLATE NOCASE = 'x' " +
      "AND coalesce(date(creation_date), '') <> '' AND MATCH (doc_content) AGAINST ('join')";
    const f = compileFilter(where, undefined, KB);
    // The re-printed text parses back to the same tree (spans aside).
    const strip = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (k, v) => (k === 'start' || k === 'end' ? undefined : v)));
    expect(strip(parseExpression(f.sql))).toEqual(strip(parseExpression(where)));
  });

  it('allows every whitelisted function', () => {
    for (const name of FILTER_FUNCTIONS) expect(() => compileFilter(`${name}(id) IS NOT NULL`, undefined, KB)).not.toThrow();
  });
});

describe('refused filters', () => {
  it('a subquery into another table', () => {
    const e = refusal('department_id IN (SELECT id FROM secrets)');
    expect(e.code).toBe('BAD_REQUEST');
    expect(HTTP_STATUS[e.code]).toBe(400);
    expect(e.detail).toMatch(/subquery/);
    expect(e.position).toEqual({ line: 1, column: 19 });
    expect(refusal('department_id = (SELECT max(id) FROM secrets)').detail).toMatch(/subquery/);
    expect(refusal('EXISTS (SELECT 1 FROM secrets)').detail).toMatch(/EXISTS/);
    expect(refusal('NOT EXISTS (SELECT 1 FROM knowledge_base)').detail).toMatch(/EXISTS/);
    expect(refusal('id IN secrets').detail).toMatch(/another table/);
  });

  it('a second statement', () => {
    for (const where of ['department_id = 101; DROP TABLE knowledge_base', 'department_id = 101; SELECT 1', '1); DELETE FROM knowledge_base; --']) {
      const e = refusal(where);
      expect(e.code).toBe('SYNTAX_ERROR');
      expect(HTTP_STATUS[e.code]).toBe(400);
      expect(e.detail).toMatch(/^field "where" must be one SQL expression/);
    }
  });

  it('a function that is not allowed', () => {
    for (const fn of ['load_extension(\'x\')', 'random()', 'readfile(\'/etc/passwd\')', 'sqlite_version()', "embedding('x', 'quiver-local-100d')", 'count(*)', 'max(id)']) {
      const e = refusal(`${fn} > 0`);
      expect(e.code).toBe('BAD_REQUEST');
      expect(e.detail).toMatch(/is not allowed/);
    }
    expect(refusal('lower(DISTINCT doc_content) = 1').detail).toMatch(/plain scalar/);
    expect(refusal('abs(id) OVER () = 1').detail).toMatch(/plain scalar/);
  });

  it("another table's columns, a schema, an unknown column", () => {
    expect(refusal('secrets.id = 1').detail).toMatch(/secrets\.id is not a column of knowledge_base/);
    expect(refusal('main.knowledge_base.id = 1').detail).toMatch(/schema/);
    const unknown = refusal('salary > 10');
    expect(unknown.code).toBe('UNKNOWN_COLUMN');
    expect(unknown.detail).toMatch(/has no column salary; its columns are id, doc_content/);
  });

  it('RAISE, REGEXP, MATCH operator and unknown collations', () => {
    expect(refusal("RAISE(ABORT, 'x')").detail).toMatch(/RAISE/);
    expect(refusal("doc_content REGEXP 'a'").detail).toMatch(/REGEXP/);
    expect(refusal("doc_content MATCH 'a'").detail).toMatch(/MATCH operator/);
    expect(refusal('doc_content COLLATE evil = 1').detail).toMatch(/collation/);
  });

  it('parameters that do not fit', () => {
    expect(refusal('department_id = :d', { x: 1 }).code).toBe('PARAMETER_ERROR');
    expect(refusal('department_id = :d', { x: 1 }).detail).toBe('missing value for parameter :d of "where"');
    expect(refusal('department_id = :d', [1]).detail).toMatch(/must be an object/);
    expect(refusal('department_id = ?', { d: 1 }).detail).toMatch(/must be an array/);
    expect(refusal('department_id = ?', [1, 2]).detail).toMatch(/uses 1 \? parameters; "params" has 2/);
    expect(refusal('department_id = ? AND id = :x', [1]).detail).toMatch(/mixes/);
    expect(refusal('department_id = 1', [1]).detail).toMatch(/no placeholders/);
    // A value is never echoed back.
    const e = refusal('department_id = :d', { d: { secret: 'hunter2' } });
    expect(e.detail).not.toMatch(/hunter2/);
    expect(e.detail).toMatch(/:d of "where" must be a string, a finite number, a boolean or null; got an object/);
    // An integer the body held past 2^53 (a bigint) must fit SQLite's INTEGER.
    expect(refusal('id = ?', [2n ** 63n]).detail).toMatch(/^parameter \?1 of "where" must be an integer from -2\^63 to 2\^63-1/);
  });
});
