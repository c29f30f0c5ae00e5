/**
 * The answer serializer: every SqlValue kind, and properties that tie its output to what
 * JSON.parse (and a float32 reader) gets back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { executeResultJson, sqlValueJson } from '../../src/api/result-json.ts';
import type { SqlValue } from '../../src/sql/index.ts';

describe('sqlValueJson', () => {
  const cases: [string, SqlValue, string][] = [
    ['null', null, 'null'],
    ['an integer', 42, '42'],
    ['a float', -2.5, '-2.5'],
    ['negative zero', -0, '0'],
    ['Infinity, which JSON cannot hold', Infinity, 'null'],
    ['NaN', NaN, 'null'],
    ['a string with quotes, newlines and U+2028', 'a"b\\c\nd\u2028é', '"a\\"b\\\\c\\nd\u2028é"'],
    ['a bigint beyond 2^53', 9007199254740993n, '9007199254740993'],
    ['the largest int64', 9223372036854775807n, '9223372036854775807'],
    ['the smallest int64', -9223372036854775808n, '-9223372036854775808'],
    ['a vector, as shortest float32 decimals', new Float32Array([0.1, 0.6, -1.5, 1e-7, 3.4028234663852886e38]), '[0.1,0.6,-1.5,1e-7,3.4028235e+38]'],
    ['an empty blob', new Uint8Array(0), '{"$base64":""}'],
    ['a blob', new Uint8Array([0xde, 0xad, 0xbe, 0xef]), '{"$base64":"3q2+7w=="}'],
    ['a Buffer view into a larger buffer', Buffer.from('xxhelloxx').subarray(2, 7), '{"$base64":"aGVsbG8="}'],
  ];
  for (const [name, value, json] of cases) {
    it(`writes ${name}`, () => expect(sqlValueJson(value)).toBe(json));
  }

  it('refuses a value outside the SqlValue contract instead of writing bad JSON', () => {
    expect(() => sqlValueJson(true as unknown as SqlValue)).toThrow(TypeError);
  });
});

describe('executeResultJson', () => {
  it('writes the whole answer shape', () => {
    const json = executeResultJson(
      {
        results: [
          { columns: ['a', 'v'], rows: [[1, new Float32Array([0.5])], [2n ** 62n, null]], changes: 0, lastInsertId: null },
          { columns: [], rows: [], changes: 3, lastInsertId: 2n ** 63n - 1n },
        ],
      },
      1.25,
    );
    expect(json).toBe(
      '{"results":[{"columns":["a","v"],"rows":[[1,[0.5]],[4611686018427387904,null]],"changes":0,"lastInsertId":null},' +
        '{"columns":[],"rows":[],"changes":3,"lastInsertId":9223372036854775807}],"timeMs":1.25}',
    );
  });

  it('writes no results as an empty list', () => {
    expect(executeResultJson({ results: [] }, 0)).toBe('{"results":[],"timeMs":0}');
  });

  it('round-trips numbers, strings and nulls through JSON.parse', () => {
    const scalar = fc.oneof(
      fc.constant(null),
      fc.string({ unit: 'binary' }),
      fc.integer(),
      // -0 is written as 0, which JSON.parse reads as +0.
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0),
    );
    fc.assert(
      fc.property(fc.array(fc.string()), fc.array(fc.array(scalar)), fc.nat(), (columns, rows, changes) => {
        const statement = { columns, rows, changes, lastInsertId: null };
        expect(JSON.parse(executeResultJson({ results: [statement] }, 0))).toEqual({ results: [statement], timeMs: 0 });
      }),
    );
  });

  it('writes every int64 bigint exactly, as a bare number', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (id) => {
        const json = executeResultJson({ results: [{ columns: ['id'], rows: [[id]], changes: 1, lastInsertId: id }] }, 0);
        expect(json).toBe(`{"results":[{"columns":["id"],"rows":[[${id}]],"changes":1,"lastInsertId":${id}}],"timeMs":0}`);
      }),
    );
  });

  it('writes vectors that read back as the same float32 values', () => {
    fc.assert(
      fc.property(fc.float32Array({ minLength: 1, noNaN: true, noDefaultInfinity: true }), (vector) => {
        const parsed = JSON.parse(sqlValueJson(vector)) as number[];
        // +0 folds -0 into 0 on both sides: JSON has no negative zero.
        expect(Array.from(Float32Array.from(parsed), (x) => x + 0)).toEqual(Array.from(vector, (x) => x + 0));
      }),
    );
  });
});
