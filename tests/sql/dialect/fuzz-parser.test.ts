/**
 * The SQL front end on its own, fed mutated statements from the seeds and the SLT scripts
 * (tokens deleted, duplicated, swapped, replaced, junk inserted): parsing either succeeds or
 * fails with SYNTAX_ERROR / UNSUPPORTED_STATEMENT and nothing else; what parses prints, in
 * both dialects, without throwing anything but a QuiverError; and Quiver's print of it parses
 * back to the same tree. Thousands of inputs a second, so it runs many more than the HTTP
 * suite (tests/api/fuzz.test.ts); QUIVER_FUZZ_RUNS and QUIVER_FUZZ_SEED work as there.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { A } from '../../../src/sql/dialect/index.ts';
import { printStatement, MAX_EXPR_DEPTH, MAX_TREE_DEPTH, parseExpression, parseScript } from '../../../src/sql/dialect/index.ts';
import { lowerStatement } from '../../../src/sql/lower/to-sqlite.ts';
import { QuiverError } from '../../../src/core/index.ts';
import { loadCorpus, mutate, structuralMutation, tokens } from './fuzz-corpus.ts';

const RUNS = Number(process.env.QUIVER_FUZZ_RUNS) || 0;
const SEED = process.env.QUIVER_FUZZ_SEED === undefined ? undefined : Number(process.env.QUIVER_FUZZ_SEED);

function settings(runs: number): { numRuns: number; seed?: number } {
  return { numRuns: RUNS ? RUNS * 10 : runs, ...(SEED === undefined ? {} : { seed: SEED }) };
}

const NO_CATALOG = { table: () => undefined };

const CORPUS = loadCorpus();

const JUNK = [
  '(', ')', "'", '"', '`', '[', ']', ';', ',', '.', '*', '?', '?0', '?99', ':p', '@p', '$p', 'NULL', 'NOT', 'SELECT', 'FROM',
  'WHERE', 'AND', 'OR', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'IS', 'IN', 'LIKE', 'ESCAPE', 'BETWEEN', 'COLLATE', 'EXISTS',
  'UNION', 'ALL', 'VALUES', 'DEFAULT', 'AS', 'ON', 'USING', 'JOIN', 'LEFT', 'NATURAL', 'GROUP', 'BY', 'ORDER', 'HAVING',
  'LIMIT', 'OFFSET', 'OVER', 'PARTITION', 'FILTER', 'MATCH', 'AGAINST', 'CAST', 'INTEGER', 'VECTOR', 'VECTOR(2)', 'INDEX',
  'KEY', 'PRIMARY', 'UNIQUE', 'CHECK', 'REFERENCES', 'GENERATED', 'STORED', 'VIRTUAL', 'COMMENT', 'AUTO_INCREMENT',
  'EXPLAIN', 'BEGIN', 'COMMIT', 'RETURNING', 'ISNULL', 'NOTNULL', 'GLOB', 'REGEXP', 'DISTINCT', 'RAISE', 'TRUE', 'FALSE',
  '-', '+', '~', '||', '->', '->>', '<<', '&', '|', '=', '==', '!=', '<>', '<=', '>=', '%', '/', "X'0A'", '0x1F', '1e5', '.5',
  '-0', "'x'", '"y"', '`z`', '[w]', '#', '--', '/*', '\u00e9', '\ud800', '\0',
];

const CORPUS_TOKENS = [...new Set(CORPUS.flatMap(tokens))];
const mutation = structuralMutation(fc.oneof(fc.constantFrom(...JUNK), fc.constantFrom(...CORPUS_TOKENS)));


const mutated = fc.tuple(fc.constantFrom(...CORPUS), fc.array(mutation, { minLength: 1, maxLength: 5 })).map(([sql, ms]) => mutate(sql, ms));

/** A tree without source ranges, for comparing parses of different texts. */
function shape(node: unknown): unknown {
  return JSON.parse(JSON.stringify(node, (k, v) => (k === 'start' || k === 'end' ? undefined : v)));
}

/** Runs `fn`; anything thrown must be a QuiverError with one of `codes`. */
function onlyQuiverErrors<T>(fn: () => T, codes?: readonly string[]): T | undefined {
  try {
    return fn();
  } catch (e) {
    expect(e).toBeInstanceOf(QuiverError);
    if (codes) expect(codes).toContain((e as QuiverError).code);
    return undefined;
  }
}

describe('mutated statements', () => {
  test('parse, or fail with SYNTAX_ERROR / UNSUPPORTED_STATEMENT', () => {
    fc.assert(
      fc.property(mutated, (sql) => {
        onlyQuiverErrors(() => parseScript(sql), ['SYNTAX_ERROR', 'UNSUPPORTED_STATEMENT']);
      }),
      settings(3000),
    );
  });

  test('that parse print in both dialects, or fail with a QuiverError', () => {
    fc.assert(
      fc.property(mutated, (sql) => {
        const statements = onlyQuiverErrors(() => parseScript(sql)) ?? [];
        for (const s of statements) {
          onlyQuiverErrors(() => printStatement(s));
          onlyQuiverErrors(() => lowerStatement(s, NO_CATALOG, sql));
        }
      }),
      settings(3000),
    );
  });

  test("that parse round-trip through Quiver's print to the same tree", () => {
    fc.assert(
      fc.property(mutated, (sql) => {
        const statements = onlyQuiverErrors(() => parseScript(sql)) ?? [];
        for (const s of statements) {
          const printed = onlyQuiverErrors(() => printStatement(s));
          if (printed === undefined) continue;
          let again: A.Statement[];
          try {
            again = parseScript(printed);
          } catch (e) {
            throw new Error(`printed form does not parse: ${printed}\nfrom: ${sql}\n${String(e)}`);
          }
          expect(again, printed).toHaveLength(1);
          expect(shape(again[0]), `${sql}\nprinted: ${printed}`).toEqual(shape(s));
        }
      }),
      settings(3000),
    );
  });
});

describe('regressions the fuzzer found', () => {
  // A quoted keyword in a type name was printed bare (`tenant SELECT INT`), which neither
  // Quiver nor SQLite parses; a quoted word ending the type like an unquoted keyword did not
  // round-trip either.
  test.each([
    'CREATE TABLE `order` ( tenant `select` INT , `from` TEXT ) # a table named like a keyword',
    'CREATE TABLE x (a `not` NULL, b `key` INT, c `CHARSET` TEXT)',
    'SELECT CAST(a AS `select`) FROM t',
  ])('%s round-trips in both dialects', (sql) => {
    const [s] = parseScript(sql);
    const printed = printStatement(s);
    expect(shape(parseScript(printed)[0])).toEqual(shape(s));
    expect(lowerStatement(s, NO_CATALOG, sql).sql).not.toMatch(/ SELECT INT| NOT NULL/);
  });
});

describe('nesting limits', () => {
  // Each of these overflowed the stack (a RangeError, so a 500) before the parser counted it.
  test.each([
    ['parentheses', (n: number) => `SELECT ${'('.repeat(n)}1${')'.repeat(n)}`],
    ['subqueries in FROM', (n: number) => `SELECT * FROM ${'(SELECT * FROM '.repeat(n)}t${')'.repeat(n)}`],
    ['parenthesised joins', (n: number) => `SELECT * FROM ${'('.repeat(n)}t${')'.repeat(n)}`],
    ['CTEs', (n: number) => `${'WITH c AS ('.repeat(n)}SELECT 1${') SELECT * FROM c'.repeat(n)}`],
    ['compound operands', (n: number) => `SELECT 1${' UNION (SELECT 1'.repeat(n)}${')'.repeat(n)}`],
    ['EXPLAINs', (n: number) => `${'EXPLAIN '.repeat(n)}SELECT 1`],
    ['triggers', (n: number) => `${'CREATE TRIGGER tr AFTER INSERT ON t BEGIN '.repeat(n)}SELECT 1;${' END;'.repeat(n)}`],
    ['window ORDER BYs', (n: number) => `SELECT ${'sum(1) OVER (ORDER BY '.repeat(n)}1${')'.repeat(n)}`],
  ])('%s nested past MAX_EXPR_DEPTH are a SYNTAX_ERROR', (_, sql) => {
    for (const n of [MAX_EXPR_DEPTH + 1, 400, 5000]) {
      expect(() => parseScript(sql(n))).toThrow(QuiverError);
    }
  });

  // Chains build deep trees without the parser recursing; the emitter then overflowed.
  test.each([
    ['+', (n: number) => `SELECT 1${' + 1'.repeat(n)}`],
    ['AND', (n: number) => `SELECT 1${' AND 1'.repeat(n)}`],
    ['COLLATE', (n: number) => `SELECT 'a'${' COLLATE nocase'.repeat(n)}`],
    ['ISNULL', (n: number) => `SELECT 1${' ISNULL'.repeat(n)}`],
    ['UNION', (n: number) => `SELECT 1${' UNION SELECT 1'.repeat(n)}`],
    ['JOIN', (n: number) => `SELECT 1 FROM t${' JOIN t'.repeat(n)}`],
  ])('a %s chain past MAX_TREE_DEPTH is a SYNTAX_ERROR; under it, it prints', (_, sql) => {
    expect(() => parseScript(sql(MAX_TREE_DEPTH))).toThrow(/nested deeper than 1000 levels/);
    expect(() => parseScript(sql(50_000))).toThrow(/nested deeper than 1000 levels/);
    const [s] = parseScript(sql(MAX_TREE_DEPTH - 10));
    expect(lowerStatement(s, NO_CATALOG, '').sql.length).toBeGreaterThan(0);
  });

  test('a filter expression is held to the same limits', () => {
    expect(() => parseExpression(`1${' + 1'.repeat(5000)}`)).toThrow(/nested deeper than 1000 levels/);
    expect(() => parseExpression(`${'('.repeat(5000)}1${')'.repeat(5000)}`)).toThrow(/nested deeper than/);
  });

  test('a multi-megabyte string literal lexes in one piece', () => {
    const big = `it''s ${'x'.repeat(8 * 1024 * 1024)}`;
    const started = performance.now();
    const [s] = parseScript(`SELECT '${big}'`);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(((s as A.SelectStatement).body as A.SelectCore).columns[0]).toMatchObject({ expr: { kind: 'literal', value: big.replace("''", "'") } });
  });
});
