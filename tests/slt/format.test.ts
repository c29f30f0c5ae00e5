/**
 * The sqllogictest parser, value printing, sorting and hashing, and the runner's handling of
 * guards, halts, thresholds and expected error codes, against a scripted fake executor.
 */
import { describe, expect, test } from 'vitest';
import { QuiverError } from '../../src/core/index.ts';
import {
  formatReal,
  formatRealAsText,
  formatValue,
  hashValues,
  parseScript,
  sortValues,
  type QueryRecord,
  type StatementRecord,
} from './format.ts';
import { runScript, skipReasons, type SltExecutor } from './runner.ts';

describe('parseScript', () => {
  test('splits records on blank lines and keeps SQL lines and expected values', () => {
    const records = parseScript(
      [
        'statement ok',
        'CREATE TABLE t1(a INTEGER,',
        '  b TEXT)',
        '',
        'query IT rowsort label-7',
        'SELECT a, b',
        'FROM t1',
        '----',
        '1',
        'x',
        '',
        '',
        'query I nosort',
        'SELECT 1',
      ].join('\n'),
    );
    expect(records).toHaveLength(3);
    const [statement, query, noExpected] = records as [StatementRecord, QueryRecord, QueryRecord];
    expect(statement).toMatchObject({ kind: 'statement', line: 1, expectError: false, errorCode: null });
    expect(statement.sql).toBe('CREATE TABLE t1(a INTEGER,\n  b TEXT)');
    expect(query).toMatchObject({ kind: 'query', line: 5, types: ['I', 'T'], sort: 'rowsort', label: 'label-7' });
    expect(query.sql).toBe('SELECT a, b\nFROM t1');
    expect(query.expected).toEqual(['1', 'x']);
    expect(noExpected).toMatchObject({ sort: 'nosort', label: null, expected: null });
  });

  test('comment lines are invisible, CRLF and whitespace-only lines count as blank', () => {
    const records = parseScript('# header\r\nstatement ok\r\n# inside\r\nSELECT 1\r\n   \t\r\nhalt\r\n');
    expect(records).toMatchObject([{ kind: 'statement', sql: 'SELECT 1' }, { kind: 'halt', line: 6 }]);
  });

  test('an empty expected block is kept as no values, not as no block', () => {
    const [query] = parseScript('query R nosort\nSELECT sum(x) FROM t1\n----\n') as [QueryRecord];
    expect(query.expected).toEqual([]);
  });

  test('collects skipif/onlyif guards in front of any record', () => {
    const records = parseScript('skipif mysql # comment\nonlyif sqlite\nstatement ok\nSELECT 1\n\nonlyif mssql\nhalt');
    expect(records[0]).toMatchObject({
      kind: 'statement',
      line: 3,
      guards: [
        { kind: 'skipif', engine: 'mysql' },
        { kind: 'onlyif', engine: 'sqlite' },
      ],
    });
    expect(records[1]).toMatchObject({ kind: 'halt', guards: [{ kind: 'onlyif', engine: 'mssql' }] });
  });

  test('statement error takes an optional Quiver error code', () => {
    const records = parseScript('statement error\nSELEC 1\n\nstatement error SYNTAX_ERROR\nSELEC 1');
    expect(records).toMatchObject([
      { kind: 'statement', expectError: true, errorCode: null },
      { kind: 'statement', expectError: true, errorCode: 'SYNTAX_ERROR' },
    ]);
  });

  test('what the harness rejects becomes an invalid record', () => {
    const script = [
      'statement maybe\nSELECT 1',
      'statement error NO_SUCH_CODE\nSELECT 1',
      'query IX\nSELECT 1',
      'query I upsidedown\nSELECT 1',
      'hash-threshold many',
      'frobnicate',
      'skipif sqlite',
    ].join('\n\n');
    const messages = parseScript(script).map((r) => (r.kind === 'invalid' ? r.message : r.kind));
    expect(messages).toEqual([
      expect.stringContaining("'ok' or 'error'"),
      expect.stringContaining("unknown error code 'NO_SUCH_CODE'"),
      expect.stringContaining("got 'IX'"),
      expect.stringContaining("unknown sort method 'upsidedown'"),
      expect.stringContaining('hash-threshold'),
      expect.stringContaining("unknown record type 'frobnicate'"),
      expect.stringContaining('no record after it'),
    ]);
  });
});

describe('formatValue', () => {
  test('NULL prints as NULL in every column type', () => {
    expect(['I', 'R', 'T'].map((t) => formatValue(null, t as 'I', 'number'))).toEqual(['NULL', 'NULL', 'NULL']);
  });

  test('I truncates reals toward zero and clamps to int64, as sqlite3_column_int64', () => {
    const i = (v: unknown): string => formatValue(v, 'I', 'number');
    expect([i(7), i(7.9), i(-7.9), i(-0.5), i(10.0)]).toEqual(['7', '7', '-7', '0', '10']);
    expect([i(1e20), i(-1e20), i(2 ** 60)]).toEqual(['9223372036854775807', '-9223372036854775808', '1152921504606846976']);
    expect(i(9007199254740993n)).toBe('9007199254740993');
  });

  test('I reads text as its leading integer, or 0', () => {
    const i = (v: unknown): string => formatValue(v, 'I', 'number');
    expect([i(' 12abc'), i('-0012'), i('+5'), i('3.9'), i('1e5'), i('abc'), i('')]).toEqual(['12', '-12', '5', '3', '1', '0', '0']);
    expect(i('99999999999999999999')).toBe('9223372036854775807');
    expect(i(new Uint8Array([0x34, 0x32, 0x78]))).toBe('42');
  });

  test('R prints %.3f, rounding ties away from zero as SQLite printf does', () => {
    const r = (v: unknown): string => formatValue(v, 'R', 'number');
    expect([r(1.5), r(3), r(0.0625), r(-2.0625), r(0.0004), r(-0.0004), r(-0)]).toEqual([
      '1.500',
      '3.000',
      '0.063',
      '-2.063',
      '0.000',
      '-0.000',
      '0.000',
    ]);
    // The doubles nearest 1.0005 and 0.1235 lie below the tie, 2.0005 above it; 0.0195 lies
    // below by 3e-20, closer than SQLite's 18-19 digit expansion sees, so SQLite rounds it up.
    expect([r(2.0005), r(1.0005), r(0.1235), r(0.0195)]).toEqual(['2.001', '1.000', '0.123', '0.020']);
    expect([r(12n), r(' 3.5x'), r('1e2'), r('x')]).toEqual(['12.000', '3.500', '100.000', '0.000']);
  });

  test('R keeps at most 16 significant digits, as in the corpus', () => {
    expect(formatReal(-9223372036854775808)).toBe('-9223372036854776000.000');
    expect(formatReal(-18446744073709551616)).toBe('-18446744073709550000.000');
    expect(formatReal(123456789012345.67)).toBe('123456789012345.700');
    expect(formatReal(1e21)).toBe('1000000000000000000000.000');
    expect([formatReal(Infinity), formatReal(-Infinity)]).toEqual(['Inf', '-Inf']);
  });

  test('T shows a REAL as %!.15g', () => {
    const cases: [number, string][] = [
      [0.1, '0.1'],
      [2.5, '2.5'],
      [1 / 3, '0.333333333333333'],
      [0.1 + 0.2, '0.3'],
      [1e20, '1.0e+20'],
      [1e15, '1.0e+15'],
      [1e14 + 0.5, '100000000000001.0'],
      [1e14, '100000000000000.0'],
      [123456789012345.67, '123456789012346.0'],
      [1e-5, '1.0e-05'],
      [-1.5e-7, '-1.5e-07'],
      [0.0001, '0.0001'],
      [1e100, '1.0e+100'],
      [5e-324, '4.94065645841247e-324'],
      [-0, '0.0'],
    ];
    expect(cases.map(([x]) => formatRealAsText(x))).toEqual(cases.map(([, text]) => text));
  });

  test('T prints an integral number as REAL or INTEGER by the integer mode', () => {
    expect(formatValue(10, 'T', 'bigint')).toBe('10.0');
    expect(formatValue(10, 'T', 'number')).toBe('10');
    expect(formatValue(10n, 'T', 'bigint')).toBe('10');
    // The engine returns unsafe integers as bigint, so an unsafe integral number is a REAL.
    expect(formatValue(2 ** 60, 'T', 'number')).toBe('1.15292150460685e+18');
  });

  test('T prints (empty) for empty text and @ for every byte outside printable ASCII', () => {
    const t = (v: unknown): string => formatValue(v, 'T', 'number');
    expect([t(''), t('a\tb'), t('caf\u00e9'), t('\u20ac'), t('\u{1f600}'), t('del\x7f')]).toEqual([
      '(empty)',
      'a@b',
      'caf@@',
      '@@@',
      '@@@@',
      'del@',
    ]);
    // The driver sees a C string, which ends at the first NUL.
    expect([t('a\0b'), t('\0b')]).toEqual(['a', '(empty)']);
    expect([t(new Uint8Array([0x68, 0x69, 0xff])), t(new Uint8Array([0, 0x41]))]).toEqual(['hi@', '(empty)']);
  });

  test('T prints a vector as VEC_TOTEXT does', () => {
    expect(formatValue(new Float32Array([0.1, 0.2, -3]), 'T', 'number')).toBe('[0.1,0.2,-3]');
  });
});

describe('sorting and hashing', () => {
  test('rowsort orders whole rows by string comparison, column by column', () => {
    const values = ['2', 'b', '10', 'a', '2', 'a'];
    expect(sortValues([...values], 2, 'rowsort')).toEqual(['10', 'a', '2', 'a', '2', 'b']);
  });

  test('a value that is a prefix of another sorts first, as with strcmp', () => {
    expect(sortValues(['ab', 'a', 'a', 'z'], 2, 'rowsort')).toEqual(['a', 'z', 'ab', 'a']);
  });

  test('valuesort orders every value on its own; nosort keeps the order', () => {
    const values = ['2', 'b', '10', 'a', '2', 'a'];
    expect(sortValues([...values], 2, 'valuesort')).toEqual(['10', '2', '2', 'a', 'a', 'b']);
    expect(sortValues([...values], 2, 'nosort')).toEqual(values);
  });

  test('the hash is md5 of every value followed by a newline', () => {
    // printf '1\n1\n2\n4\n3\n9\n4\n16\n' | md5sum
    expect(hashValues(['1', '1', '2', '4', '3', '9', '4', '16'])).toBe('8 values hashing to 07f1f2c6de4b7ce6ee60bd8b805a165f');
    expect(hashValues([])).toBe('0 values hashing to d41d8cd98f00b204e9800998ecf8427e');
  });
});

/** Answers each SQL text from a table: rows for a query, an Error to throw, or an empty result. */
function fakeExecutor(answers: Record<string, unknown[][] | Error>): SltExecutor & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async execute(sql: string) {
      calls.push(sql);
      const answer = answers[sql];
      if (answer instanceof Error) throw answer;
      const rows = answer ?? [];
      return { results: [{ columns: (rows[0] ?? []).map((_, i) => `c${i}`), rows }] };
    },
  };
}

describe('runScript', () => {
  test('takes onlyif sqlite and skipif <other>, skips skipif sqlite and onlyif <other>', async () => {
    const script = parseScript(
      [
        'onlyif sqlite\nstatement ok\nA',
        'skipif mysql\nstatement ok\nB',
        'skipif SQLite\nstatement ok\nC',
        'onlyif mssql\nstatement ok\nD',
        'skipif mysql\nonlyif oracle\nhalt',
        'statement ok\nE',
      ].join('\n\n'),
    );
    const executor = fakeExecutor({});
    const result = await runScript(script, executor, { integers: 'number' });
    expect(executor.calls).toEqual(['A', 'B', 'E']);
    expect(result).toMatchObject({ passed: 3, failed: 0, skipped: 3, haltedAt: null });
    expect([...skipReasons(result)]).toEqual([
      ['skipif SQLite', 1],
      ['onlyif mssql', 1],
      ['onlyif oracle', 1],
    ]);
  });

  test('halt stops the script unless guarded away', async () => {
    const executor = fakeExecutor({});
    const result = await runScript(parseScript('statement ok\nA\n\nhalt\n\nstatement ok\nB'), executor);
    expect(executor.calls).toEqual(['A']);
    expect(result.haltedAt).toBe(4);
  });

  test('statement error CODE needs a QuiverError with that code', async () => {
    const executor = fakeExecutor({
      syntax: new QuiverError('SYNTAX_ERROR', 'bad'),
      plain: new Error('no such table'),
    });
    const script = parseScript(
      [
        'statement error SYNTAX_ERROR\nsyntax',
        'statement error UNKNOWN_TABLE\nsyntax',
        'statement error UNKNOWN_TABLE\nplain',
        'statement error\nplain',
        'statement error\nfine',
        'statement ok\nplain',
      ].join('\n\n'),
    );
    const result = await runScript(script, executor, { integers: 'number' });
    expect(result.outcomes.map((o) => o.status)).toEqual(['passed', 'failed', 'failed', 'passed', 'failed', 'failed']);
    const messages = result.outcomes.flatMap((o) => (o.status === 'failed' ? [o.message] : []));
    expect(messages[0]).toContain('should fail with UNKNOWN_TABLE, got SYNTAX_ERROR: bad');
    expect(messages[1]).toContain('got Error: no such table');
    expect(messages[2]).toContain('statement succeeded; expected an error');
    expect(messages[3]).toContain('statement failed: Error: no such table');
  });

  test('hashes results above the threshold and lists them at or below it', async () => {
    const rows = [[1], [2], [3]];
    const executor = fakeExecutor({ q: rows });
    const listed = 'query I nosort\nq\n----\n1\n2\n3';
    const hashed = `query I nosort\nq\n----\n${hashValues(['1', '2', '3'])}`;
    const script = parseScript([listed, 'hash-threshold 2', hashed, 'hash-threshold 0', listed].join('\n\n'));
    const result = await runScript(script, executor, { integers: 'number' });
    expect(result).toMatchObject({ passed: 3, failed: 0 });
  });

  test('a wrong result names the SQL, both sides and the first difference', async () => {
    const executor = fakeExecutor({ 'SELECT a, b FROM t': [[1, 'x'], [2, 'y']] });
    const script = parseScript('query IT rowsort\nSELECT a, b FROM t\n----\n1\nx\n2\nz');
    const [outcome] = (await runScript(script, executor, { integers: 'number' })).outcomes;
    expect(outcome.status).toBe('failed');
    const message = outcome.status === 'failed' ? outcome.message : '';
    expect(message).toContain('SELECT a, b FROM t');
    expect(message).toContain('first difference at value 4 (row 2, column 2): expected z, got y');
  });

  test('a column count that does not match the type string fails', async () => {
    const executor = fakeExecutor({ q: [[1, 2]] });
    const result = await runScript(parseScript('query I nosort\nq\n----\n1'), executor, { integers: 'number' });
    expect(result.outcomes[0]).toMatchObject({ status: 'failed', message: expect.stringContaining('2 columns') });
  });

  test('asks the engine once how it returns integers', async () => {
    const executor = fakeExecutor({ 'SELECT 1': [[1n]], q: [[10]] });
    const script = parseScript('query T nosort\nq\n----\n10.0\n\nquery T nosort\nq\n----\n10.0');
    const result = await runScript(script, executor);
    expect(result.passed).toBe(2);
    expect(executor.calls).toEqual(['SELECT 1', 'q', 'q']);
  });
});
