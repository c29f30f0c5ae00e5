/**
 * @module slt/format
 * The sqllogictest script format and its value printing, as D. Richard Hipp's harness
 * (sqllogictest.c) and its SQLite driver (slt_sqlite.c) define them: parsing a script into
 * records, printing each result value the way the driver prints it, and sorting and md5-hashing
 * the printed values. Running records against an engine is runner.ts's job.
 *
 * Quiver's one extension is `statement error CODE`: the statement must fail with a QuiverError
 * carrying that code. Vectors (Float32Array) print as VEC_TOTEXT does, `[0.1,0.2]`.
 *
 * Reals print through SQLite's own printf, as the driver's sqlite3_snprintf calls do: `%.3f` for
 * R columns and, for a REAL in a T column, `%!.15g` (what sqlite3_column_text gave when the
 * corpus was made; SQLite 3.53's own text form differs, e.g. 0.30000000000000004).
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { ERROR_TITLES, type ErrorCode } from '../../src/core/index.ts';
import { formatVectorText } from '../../src/core/vector-codec.ts';

export type ColumnType = 'I' | 'R' | 'T';
export type SortMode = 'nosort' | 'rowsort' | 'valuesort';

/** The harness's default; scripts change it with `hash-threshold N` (0 turns hashing off). */
export const DEFAULT_HASH_THRESHOLD = 8;

/**
 * How the engine under test returns INTEGER values. With 'bigint' every integer arrives as a
 * bigint, so an integral JS number must be a REAL (10.0); with 'number' safe integers arrive
 * as numbers and an integral number is taken to be an INTEGER (see formatValue).
 */
export type IntegerMode = 'number' | 'bigint';

/** A `skipif <engine>` or `onlyif <engine>` line in front of a record. */
export interface Guard {
  readonly kind: 'skipif' | 'onlyif';
  readonly engine: string;
}

interface RecordBase {
  /** 1-based line of the record's command line (after its guards). */
  readonly line: number;
  readonly guards: readonly Guard[];
}

export interface StatementRecord extends RecordBase {
  readonly kind: 'statement';
  readonly expectError: boolean;
  /** Quiver extension: the QuiverError code a failing statement must carry; null for any error. */
  readonly errorCode: ErrorCode | null;
  readonly sql: string;
}

export interface QueryRecord extends RecordBase {
  readonly kind: 'query';
  /** One of I, R, T per result column. */
  readonly types: readonly ColumnType[];
  readonly sort: SortMode;
  /** Parsed but not cross-checked: each labelled query is held to its own expected block. */
  readonly label: string | null;
  readonly sql: string;
  /** Lines after `----`; null when the record has no `----` (the query need only run). */
  readonly expected: readonly string[] | null;
}

export interface HashThresholdRecord extends RecordBase {
  readonly kind: 'hash-threshold';
  readonly threshold: number;
}

export interface HaltRecord extends RecordBase {
  readonly kind: 'halt';
}

/** A record the harness would reject (unknown command, bad type string...); it fails when run. */
export interface InvalidRecord extends RecordBase {
  readonly kind: 'invalid';
  readonly message: string;
}

export type SltRecord = StatementRecord | QueryRecord | HashThresholdRecord | HaltRecord | InvalidRecord;

interface Line {
  readonly text: string;
  readonly line: number;
}

const BLANK_LINE = /^[ \t\v\f\r]*$/;
const TOKEN_SEPARATOR = /[ \t\v\f\r]+/;
const TYPE_STRING = /^[IRT]+$/;
const SORT_MODES: ReadonlySet<string> = new Set<SortMode>(['nosort', 'rowsort', 'valuesort']);
const HASH_LINE = /^\d+ values hashing to [0-9a-f]{32}$/;

/**
 * Splits a script into records. Never throws: what the harness would reject becomes an
 * `invalid` record. As in sqllogictest.c, a line starting with `#` is invisible everywhere
 * (it neither ends a record nor joins one) and a line of only whitespace ends a record.
 */
export function parseScript(text: string): SltRecord[] {
  const records: SltRecord[] = [];
  const rawLines = text.split('\n');
  let group: Line[] = [];
  for (let i = 0; i < rawLines.length; i++) {
    let raw = rawLines[i];
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (BLANK_LINE.test(raw)) {
      if (group.length > 0) records.push(parseRecord(group));
      group = [];
    } else if (raw[0] !== '#') {
      group.push({ text: raw, line: i + 1 });
    }
  }
  if (group.length > 0) records.push(parseRecord(group));
  return records;
}

function tokenize(text: string): string[] {
  return text.trim().split(TOKEN_SEPARATOR);
}

function parseRecord(group: readonly Line[]): SltRecord {
  const guards: Guard[] = [];
  let k = 0;
  let tokens = tokenize(group[0].text);
  while (tokens[0] === 'skipif' || tokens[0] === 'onlyif') {
    guards.push({ kind: tokens[0], engine: tokens[1] ?? '' });
    k++;
    if (k === group.length) {
      return { kind: 'invalid', line: group[k - 1].line, guards, message: `'${tokens[0]}' with no record after it` };
    }
    tokens = tokenize(group[k].text);
  }
  const line = group[k].line;
  const body = group.slice(k + 1).map((l) => l.text);
  const invalid = (message: string): InvalidRecord => ({ kind: 'invalid', line, guards, message });

  switch (tokens[0]) {
    case 'statement': {
      const mode = tokens[1];
      if (mode !== 'ok' && mode !== 'error') return invalid(`statement argument should be 'ok' or 'error', got '${mode ?? ''}'`);
      const code = mode === 'error' ? tokens[2] : undefined;
      if (code !== undefined && !Object.hasOwn(ERROR_TITLES, code)) {
        return invalid(`unknown error code '${code}' in 'statement error' (codes are listed in ERROR_TITLES)`);
      }
      if (body.length === 0) return invalid('statement has no SQL');
      return {
        kind: 'statement',
        line,
        guards,
        expectError: mode === 'error',
        errorCode: (code as ErrorCode | undefined) ?? null,
        sql: body.join('\n'),
      };
    }
    case 'query': {
      const types = tokens[1] ?? '';
      if (!TYPE_STRING.test(types)) return invalid(`query type string must be one or more of I, R, T; got '${types}'`);
      const sort = tokens[2] ?? 'nosort';
      if (!SORT_MODES.has(sort)) return invalid(`unknown sort method '${sort}'`);
      const divider = body.indexOf('----');
      const sqlLines = divider < 0 ? body : body.slice(0, divider);
      if (sqlLines.length === 0) return invalid('query has no SQL');
      return {
        kind: 'query',
        line,
        guards,
        types: types.split('') as ColumnType[],
        sort: sort as SortMode,
        label: tokens[3] ?? null,
        sql: sqlLines.join('\n'),
        expected: divider < 0 ? null : body.slice(divider + 1),
      };
    }
    case 'hash-threshold': {
      const value = tokens[1] ?? '';
      if (!/^\d+$/.test(value)) return invalid(`hash-threshold needs a non-negative integer, got '${value}'`);
      return { kind: 'hash-threshold', line, guards, threshold: Number(value) };
    }
    case 'halt':
      return { kind: 'halt', line, guards };
    default:
      return invalid(`unknown record type '${tokens[0]}'`);
  }
}

/** True when an expected block is the single line `N values hashing to <md5>`. */
export function isHashLine(line: string): boolean {
  return HASH_LINE.test(line);
}

// ---- Value printing (slt_sqlite.c's sqliteQuery) --------------------------------------------

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const TWO_POW_63 = 2 ** 63;
/** Integral reals below this print the same from JS: no rounding, and %!.15g stays fixed-point. */
const EXACT_INTEGER_LIMIT = 1e15;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;
/** sqlite3Isspace: the C locale's isspace. */
const LEADING_INTEGER = /^[ \t\n\v\f\r]*([+-]?)0*(\d*)/;
const LEADING_REAL = /^[ \t\n\v\f\r]*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;

/**
 * Prints one result value as the SQLite driver does for its column type: NULL as `NULL`; `I`
 * as sqlite3_column_int64 then %lld; `R` as sqlite3_column_double then %.3f; `T` as
 * sqlite3_column_text with '' as `(empty)` and every byte outside ' '..'~' as '@'.
 *
 * In a T column an integral JS number is ambiguous. With integers 'bigint' it is a REAL and
 * prints as SQLite's text of a REAL (`10.0`); with 'number' a safe integer prints as an
 * INTEGER (`10`), so a REAL 10.0 there prints `10` where the corpus expects `10.0`. An unsafe
 * integral number is always a REAL, since the engine returns unsafe integers as bigint.
 */
export function formatValue(value: unknown, type: ColumnType, integers: IntegerMode): string {
  if (value === null) return 'NULL';
  if (type === 'I') return formatInteger(value);
  if (type === 'R') return formatReal(toDouble(value));
  return formatText(value, integers);
}

function formatInteger(value: unknown): string {
  if (typeof value === 'number') {
    const truncated = Math.trunc(value);
    // `+ 0` turns -0 (from truncating -0.5) into 0, as %lld prints it.
    if (Number.isSafeInteger(truncated)) return String(truncated + 0);
    return doubleToInt64(value).toString();
  }
  if (typeof value === 'bigint') return value.toString();
  return textToInt64(textOf(value)).toString();
}

/** SQLite's doubleToInt64: truncate toward zero, clamping to the int64 range. */
function doubleToInt64(r: number): bigint {
  if (Number.isNaN(r)) return 0n;
  if (r <= -TWO_POW_63) return INT64_MIN;
  if (r >= TWO_POW_63) return INT64_MAX;
  return BigInt(Math.trunc(r));
}

/** sqlite3Atoi64 as column_int64 uses it on text: the leading integer, clamped; 0 if none. */
function textToInt64(text: string): bigint {
  const match = LEADING_INTEGER.exec(text)!;
  const digits = match[2];
  if (digits === '') return 0n;
  const negative = match[1] === '-';
  if (digits.length > 19) return negative ? INT64_MIN : INT64_MAX;
  const value = negative ? -BigInt(digits) : BigInt(digits);
  if (value > INT64_MAX) return INT64_MAX;
  return value < INT64_MIN ? INT64_MIN : value;
}

function toDouble(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return textToDouble(textOf(value));
}

/** sqlite3AtoF as column_double uses it on text: the leading number; 0 if none. */
function textToDouble(text: string): number {
  const match = LEADING_REAL.exec(text);
  return match ? Number(match[1]) : 0;
}

/**
 * SQLite's own printf, the function the C driver formats reals with (sqlite3_snprintf). Its
 * rounding works from an 18-19 digit expansion of the double, so no JS rounding reproduces it
 * at near-ties: printf('%.3f', 0.0195) is 0.020 though the double is 0.01949999999999999997.
 * The in-memory connection is opened on first use and lives as long as the process.
 */
let printfStatement: Database.Statement<[string, number], string> | undefined;

function sqlitePrintf(format: string, x: number): string {
  printfStatement ??= new Database(':memory:').prepare<[string, number], string>('SELECT printf(?, ?)').pluck();
  return printfStatement.get(format, x)!;
}

/** printf("%.3f") as SQLite prints it: ties away from zero, at most 16 significant digits. */
export function formatReal(x: number): string {
  // -0 prints as 0.000, as in SQLite.
  return Number.isInteger(x) && Math.abs(x) < EXACT_INTEGER_LIMIT ? `${x + 0}.000` : sqlitePrintf('%.3f', x);
}

/** A REAL as SQLite's column_text showed it when the corpus was made: printf("%!.15g"). */
export function formatRealAsText(x: number): string {
  return Number.isInteger(x) && Math.abs(x) < EXACT_INTEGER_LIMIT ? `${x + 0}.0` : sqlitePrintf('%!.15g', x);
}

function formatText(value: unknown, integers: IntegerMode): string {
  if (typeof value === 'string') return printable(value);
  if (typeof value === 'number') {
    return integers === 'number' && Number.isSafeInteger(value) ? String(value) : formatRealAsText(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Float32Array) return formatVectorText(value);
  if (value instanceof Uint8Array) return printableBytes(value);
  return printable(String(value));
}

/** A value as the text column_int64/column_double would parse: blobs byte by byte. */
function textOf(value: unknown): string {
  if (value instanceof Float32Array) return formatVectorText(value);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
  return String(value);
}

/** The driver's view of text: a C string (ends at NUL), each non-printable UTF-8 byte as '@'. */
function printable(text: string): string {
  if (PRINTABLE_ASCII.test(text)) return text;
  const nul = text.indexOf('\0');
  const visible = nul < 0 ? text : text.slice(0, nul);
  if (visible === '') return '(empty)';
  let out = '';
  for (const ch of visible) {
    const cp = ch.codePointAt(0)!;
    out += cp >= 0x20 && cp <= 0x7e ? ch : '@'.repeat(cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
  }
  return out;
}

function printableBytes(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    if (byte === 0) break;
    out += byte >= 0x20 && byte <= 0x7e ? String.fromCharCode(byte) : '@';
  }
  return out === '' ? '(empty)' : out;
}

// ---- Sorting and hashing -----------------------------------------------------------------

/**
 * Orders printed values as the harness does with strcmp: `rowsort` orders rows column by
 * column, `valuesort` every value on its own. May sort `values` in place or return a new array.
 * Printed values are printable ASCII, so JS string order is strcmp's byte order.
 */
export function sortValues(values: string[], columns: number, mode: SortMode): string[] {
  if (mode === 'nosort') return values;
  if (mode === 'valuesort' || columns === 1) return values.sort();
  const rowCount = Math.floor(values.length / columns);
  const starts = new Array<number>(rowCount);
  for (let r = 0; r < rowCount; r++) starts[r] = r * columns;
  starts.sort((a, b) => {
    for (let c = 0; c < columns; c++) {
      const x = values[a + c];
      const y = values[b + c];
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  });
  const sorted = new Array<string>(values.length);
  let i = 0;
  for (const start of starts) for (let c = 0; c < columns; c++) sorted[i++] = values[start + c];
  return sorted;
}

/** The harness's hash line: md5 of every value followed by "\n". */
export function hashValues(values: readonly string[]): string {
  const text = values.length === 0 ? '' : values.join('\n') + '\n';
  return `${values.length} values hashing to ${createHash('md5').update(text).digest('hex')}`;
}
