/**
 * Properties of the SQL front end: printing a parsed statement and parsing it again gives the
 * same tree (so the emitter never changes meaning through precedence or quoting), and random
 * input either parses or fails with a syntax error — nothing else, and never a crash.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { A } from '../../../src/sql/dialect/index.ts';
import { printStatement, MAX_EXPR_DEPTH, parseScript, parseStatement } from '../../../src/sql/dialect/index.ts';
import { Engine } from '../../../src/sql/index.ts';
import { QuiverError } from '../../../src/core/index.ts';
import { HTTP_STATUS } from '../../../src/api/problem.ts';


/** A tree without source ranges, for comparing parses of different texts. */
function shape(node: unknown): unknown {
  return JSON.parse(JSON.stringify(node, (k, v) => (k === 'start' || k === 'end' ? undefined : v)));
}

function print(s: A.Statement, text: string): string {
  return printStatement(s);
}

// Generators of valid SQL text, built from the grammar.
const ident = fc.constantFrom('a', 'b', 'c', 'tbl', 'x1', '`select`', '`two words`');
const column = fc.constantFrom('a', 'b', 'c', 't.a', 't.b');
const literal = fc.oneof(
  fc.integer({ min: 0, max: 1000 }).map(String),
  fc.double({ min: 0, max: 1e6, noNaN: true }).map((d) => d.toFixed(3)),
  fc.string({ maxLength: 6 }).map((s) => `'${s.replace(/'/g, "''")}'`),
  fc.constantFrom('NULL', 'CURRENT_TIMESTAMP', "X'0A1B'", '?', ':p'),
);
const binaryOps = ['+', '-', '*', '/', '%', '||', '=', '<>', '!=', '<', '<=', '>', '>=', 'AND', 'OR', 'IS', 'IS NOT', '&', '|', '<<', '>>'];

const { expr } = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literal,
    column,
    fc.tuple(tie('expr'), fc.constantFrom(...binaryOps), tie('expr')).map(([l, op, r]) => `${l} ${op} ${r}`),
    fc.tuple(fc.constantFrom('-', '+', 'NOT ', '~'), tie('expr')).map(([op, e]) => `${op} ${e}`),
    tie('expr').map((e) => `(${e})`),
    fc.tuple(tie('expr'), fc.boolean(), tie('expr'), tie('expr')).map(([e, not, lo, hi]) => `((${e}) ${not ? 'NOT ' : ''}BETWEEN (${lo}) AND (${hi}))`),
    fc.tuple(tie('expr'), fc.boolean(), fc.array(tie('expr'), { minLength: 1, maxLength: 3 })).map(([e, not, l]) => `((${e}) ${not ? 'NOT ' : ''}IN (${l.join(', ')}))`),
    fc.tuple(tie('expr'), tie('expr')).map(([e, p]) => `((${e}) LIKE (${p}))`),
    fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([c, t, e]) => `CASE WHEN ${c} THEN ${t} ELSE ${e} END`),
    fc.tuple(fc.constantFrom('abs', 'coalesce', 'max', 'CONCAT', 'VEC_DISTANCE_COSINE'), fc.array(tie('expr'), { minLength: 1, maxLength: 3 })).map(([f, a]) => `${f}(${a.join(', ')})`),
    tie('expr').map((e) => `CAST(${e} AS INTEGER)`),
    tie('expr').map((e) => `((${e}) ISNULL)`),
    tie('expr').map((e) => `EXISTS (SELECT ${e} FROM t)`),
  ),
}));

const statement = fc.oneof(
  fc.tuple(fc.array(expr, { minLength: 1, maxLength: 3 }), fc.option(expr), fc.option(expr)).map(
    ([cols, where, order]) => `SELECT ${cols.join(', ')} FROM t${where ? ` WHERE ${where}` : ''}${order ? ` ORDER BY ${order} DESC` : ''} LIMIT 5`,
  ),
  fc.tuple(ident, fc.array(expr, { minLength: 1, maxLength: 3 })).map(([t, v]) => `INSERT INTO ${t} VALUES (${v.join(', ')})`),
  fc.tuple(ident, expr, expr).map(([t, v, w]) => `UPDATE ${t} SET a = ${v} WHERE ${w}`),
  fc.tuple(ident, expr).map(([t, w]) => `DELETE FROM ${t} WHERE ${w}`),
  fc.tuple(ident, fc.constantFrom('INT', 'VARCHAR(10)', 'VECTOR(3)', 'TEXT', 'DOUBLE')).map(
    ([t, type]) => `CREATE TABLE ${t} (id INT AUTO_INCREMENT PRIMARY KEY, a ${type} NOT NULL DEFAULT 1 COMMENT 'c', VECTOR INDEX vi(a) m=6 distance=cosine) COMMENT='x'`,
  ),
);

describe('parse -> print -> parse', () => {
  test('is stable for generated valid statements', () => {
    fc.assert(
      fc.property(statement, (sql) => {
        const first = parseStatement(sql);
        const printed = print(first, sql);
        const second = parseStatement(printed);
        expect(shape(second)).toEqual(shape(first));
        expect(print(second, printed)).toBe(printed);
      }),
      { numRuns: 400 },
    );
  });

  test.each([
    'SELECT a - -1, - (b + c) * 2, NOT a = b, (a OR b) AND c FROM t',
    'SELECT a FROM t WHERE a IN (SELECT b FROM u) AND NOT EXISTS (SELECT 1) ORDER BY a DESC NULLS LAST LIMIT 2, 3',
    'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) SELECT x FROM c',
    'SELECT GROUP_CONCAT(DISTINCT doc ORDER BY id SEPARATOR \'; \') FROM t GROUP BY k HAVING count(*) > 1',
    'SELECT * FROM a LEFT JOIN b ON a.id = b.id, c NATURAL JOIN d',
    'CREATE TRIGGER tr AFTER UPDATE OF a ON t FOR EACH ROW WHEN new.a > 1 BEGIN INSERT INTO log VALUES (new.a); DELETE FROM x; END',
    'SELECT row_number() OVER (PARTITION BY a ORDER BY b ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t',
    'INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET b = excluded.b WHERE b < 3 RETURNING *',
    "CREATE TABLE t1 (doc TEXT, vec VECTOR(4) AS (EMBEDDING(doc, 'm', 4)) STORED COMMENT 'imci_vector_index=HNSW(metric=cosine)') COMMENT 'COLUMNAR=1'",
    'SELECT a FROM t FORCE INDEX (vi) ORDER BY DISTANCE(v, ?, \'COSINE\') LIMIT 3',
  ])('round-trips %s', (sql) => {
    const first = parseStatement(sql);
    const printed = print(first, sql);
    expect(shape(parseStatement(printed))).toEqual(shape(first));
  });
});

describe('random input', () => {
  const words = ['SELECT', 'FROM', 'WHERE', '(', ')', ',', ';', 'a', '1', "'x'", '"y"', '`z`', '+', '*', 'AND', 'NOT', 'IN', 'CREATE', 'TABLE', 'VECTOR', '#', '--', '/*', 'BETWEEN', '?', ':n', 'CASE', 'END', '.', '=', 'ORDER', 'BY', 'LIMIT'];
  const soup = fc.oneof(
    fc.array(fc.constantFrom(...words), { maxLength: 30 }).map((ws) => ws.join(' ')),
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 60 }),
  );

  test('parses or fails with SYNTAX_ERROR / UNSUPPORTED_STATEMENT, never anything else', () => {
    fc.assert(
      fc.property(soup, (sql) => {
        try {
          parseScript(sql);
        } catch (e) {
          expect(e).toBeInstanceOf(QuiverError);
          expect(['SYNTAX_ERROR', 'UNSUPPORTED_STATEMENT']).toContain((e as QuiverError).code);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('deep nesting is refused with a clear error instead of overflowing the stack', () => {
    const deep = `SELECT ${'('.repeat(MAX_EXPR_DEPTH * 3)}1${')'.repeat(MAX_EXPR_DEPTH * 3)}`;
    expect(() => parseScript(deep)).toThrow(/nested deeper than/);
    const negations = `SELECT ${'- '.repeat(100_000)}1`;
    expect(() => parseScript(negations)).toThrow(/nested deeper than/);
  });

  describe('through the engine', () => {
    let dir: string;
    let engine: Engine;
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-soup-'));
      engine = Engine.open({ dataDir: dir });
      await engine.execute("CREATE TABLE t (a INT, b TEXT, v VECTOR(2)); INSERT INTO t VALUES (1, 'x', '[1,2]')");
    });
    afterAll(() => {
      engine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('every failure is a QuiverError (a 4xx), and the table is unchanged by rejected statements', async () => {
      await fc.assert(
        fc.asyncProperty(soup, async (sql) => {
          try {
            await engine.execute(`${sql}`);
          } catch (e) {
            expect(e).toBeInstanceOf(QuiverError);
            expect(HTTP_STATUS[(e as QuiverError).code]).toBeLessThan(500);
          }
        }),
        { numRuns: 1000 },
      );
      const { results } = await engine.execute('SELECT a, b FROM t');
      expect(results[0].rows).toEqual([[1, 'x']]);
    });
  });
});
