/**
 * src/api/exact-json.ts: integer literals past 2^53 come back as the bigints they spell, and
 * everything else exactly as JSON.parse gives it — checked on random JSON through both of its
 * paths (the plain JSON.parse and the second reading a long digit run sends a body to).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseExactJson } from '../../src/api/exact-json.ts';

describe('integers', () => {
  it('gives an integer past 2^53 as the exact bigint, in arrays, objects and alone', () => {
    expect(parseExactJson('[9007199254740993, -9007199254740993]')).toEqual([9007199254740993n, -9007199254740993n]);
    expect(parseExactJson('{"a": {"b": [18446744073709551617]}}')).toEqual({ a: { b: [18446744073709551617n] } });
    expect(parseExactJson(' 9223372036854775807 ')).toBe(9223372036854775807n);
  });

  it('keeps safe integers, and numbers with a fraction or an exponent, as doubles', () => {
    expect(parseExactJson('[9007199254740991, 123, -0, 9007199254740993.0, 9007199254740993e0, 0.12345678901234567, 1e400]')).toEqual([
      9007199254740991, 123, -0, 9007199254740992, 9007199254740992, 0.12345678901234567, Infinity,
    ]);
    expect(Object.is((parseExactJson('[-0, 12345678901234567890]') as unknown[])[0], -0)).toBe(true);
  });

  it('reads a long digit run inside a string as text, and the strings around it exactly', () => {
    const text = '{"sql": "SELECT 12345678901234567890", "s": "a\\"b\\\\", "t": "\\\\\\"\\u00e9", "n": 12345678901234567890}';
    expect(parseExactJson(text)).toEqual({ sql: 'SELECT 12345678901234567890', s: 'a"b\\', t: '\\"é', n: 12345678901234567890n });
  });

  it('makes __proto__ an own key, as JSON.parse does, and keeps the last of duplicate keys', () => {
    const parsed = parseExactJson('{"__proto__": {"x": 1}, "k": 1, "k": 12345678901234567890}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed)).toEqual(['__proto__', 'k']);
    expect(parsed.k).toBe(12345678901234567890n);
  });

  it('reads nesting as deep as JSON.parse does without overflowing the stack', () => {
    const depth = 100_000;
    const text = `${'['.repeat(depth)}12345678901234567890${']'.repeat(depth)}`;
    let value = parseExactJson(text);
    for (let i = 0; i < depth; i++) value = (value as unknown[])[0];
    expect(value).toBe(12345678901234567890n);
  });
});

describe('everything else', () => {
  const spacing = fc.constantFrom(undefined, 1, '\t', ' \r\n');

  /**
   * What parseExactJson must give for JSON.stringify's text of `value`: the value itself, but
   * an integral double past 2^53 that JSON.stringify writes as an integer literal (below 1e21;
   * from there on it writes an exponent) is the bigint of that literal.
   */
  function exact(value: unknown): unknown {
    if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value) && Math.abs(value) < 1e21 ? BigInt(String(value)) : value;
    if (Array.isArray(value)) return value.map(exact);
    if (typeof value === 'object' && value !== null) {
      const copy: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) Object.defineProperty(copy, k, { value: exact(v), writable: true, enumerable: true, configurable: true });
      return copy;
    }
    return value;
  }

  it('equals JSON.parse, integers past 2^53 aside', () => {
    fc.assert(
      fc.property(fc.jsonValue(), spacing, (value, space) => {
        const text = JSON.stringify(value, null, space);
        expect(parseExactJson(text)).toEqual(exact(JSON.parse(text)));
      }),
    );
  });

  it('equals JSON.parse on the second reading too', () => {
    fc.assert(
      fc.property(fc.jsonValue(), spacing, (value, space) => {
        // A big integer beside the value sends the whole text to the second reading.
        const text = JSON.stringify([value], null, space).replace(/^\[/, '[12345678901234567890,');
        expect(parseExactJson(text)).toEqual([12345678901234567890n, exact((JSON.parse(text) as unknown[])[1])]);
      }),
    );
  });

  it('throws JSON.parse\'s SyntaxError for text that is not JSON', () => {
    for (const text of ['', '[1,]', '{"a" 1}', '[12345678901234567890', '"\\x"', '01']) expect(() => parseExactJson(text)).toThrow(SyntaxError);
  });
});
