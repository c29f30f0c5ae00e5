/**
 * @module slt/runner
 * Runs parsed sqllogictest records against anything with an `execute(sql)` method, one
 * `execute` call per record (so each record autocommits), and reports one outcome per record.
 * It follows sqllogictest.c's verify mode, with two deliberate differences: a query must return
 * exactly as many values as its expected block lists (the C loop stops at the shorter of the
 * two), and a malformed record fails and the script goes on (the C harness stops the file).
 */
import { isQuiverError } from '../../src/core/index.ts';
import {
  DEFAULT_HASH_THRESHOLD,
  formatValue,
  hashValues,
  isHashLine,
  sortValues,
  type Guard,
  type IntegerMode,
  type QueryRecord,
  type SltRecord,
  type StatementRecord,
} from './format.ts';

/** What the runner needs of an engine; `Engine` fits. */
export interface SltExecutor {
  execute(sql: string): Promise<{
    results: ReadonlyArray<{ columns: readonly string[]; rows: ReadonlyArray<ReadonlyArray<unknown>> }>;
  }>;
}

export interface RunOptions {
  /** The name `skipif`/`onlyif` lines are matched against, case-insensitively. */
  engineName?: string;
  /** How the engine returns integers; when absent the runner asks with `SELECT 1` once. */
  integers?: IntegerMode;
}

export type RecordOutcome =
  | { readonly status: 'passed'; readonly line: number }
  | { readonly status: 'failed'; readonly line: number; readonly message: string }
  | { readonly status: 'skipped'; readonly line: number; readonly reason: string };

export interface RunResult {
  /** One per statement, query or malformed record run, and per record guarded away. */
  outcomes: RecordOutcome[];
  passed: number;
  failed: number;
  skipped: number;
  /** Line of the `halt` that stopped the script; null when it ran to the end. */
  haltedAt: number | null;
}

export const DEFAULT_ENGINE_NAME = 'sqlite';
/** Expected and got lines shown in a wrong-result message. */
const SHOWN_VALUES = 12;

/** Runs `records` in order against `executor`; never throws for a failing record. */
export async function runScript(
  records: readonly SltRecord[],
  executor: SltExecutor,
  options: RunOptions = {},
): Promise<RunResult> {
  const engineName = (options.engineName ?? DEFAULT_ENGINE_NAME).toLowerCase();
  let integers = options.integers;
  let hashThreshold = DEFAULT_HASH_THRESHOLD;
  const result: RunResult = { outcomes: [], passed: 0, failed: 0, skipped: 0, haltedAt: null };
  const note = (outcome: RecordOutcome): void => {
    result.outcomes.push(outcome);
    result[outcome.status]++;
  };

  for (const rec of records) {
    const skipReason = guardedAway(rec.guards, engineName);
    if (skipReason !== null) {
      note({ status: 'skipped', line: rec.line, reason: skipReason });
      continue;
    }
    if (rec.kind === 'halt') {
      result.haltedAt = rec.line;
      break;
    }
    switch (rec.kind) {
      case 'hash-threshold':
        hashThreshold = rec.threshold;
        break;
      case 'invalid':
        note({ status: 'failed', line: rec.line, message: `malformed record: ${rec.message}` });
        break;
      case 'statement':
        note(await runStatement(rec, executor));
        break;
      case 'query':
        integers ??= await probeIntegerMode(executor);
        note(await runQuery(rec, executor, integers, hashThreshold));
        break;
    }
  }
  return result;
}

/** Why the guards skip the record (`skipif sqlite`, `onlyif mssql`), or null to run it. */
function guardedAway(guards: readonly Guard[], engineName: string): string | null {
  for (const guard of guards) {
    const matches = guard.engine.toLowerCase() === engineName;
    if (matches === (guard.kind === 'skipif')) return `${guard.kind} ${guard.engine}`;
  }
  return null;
}

async function probeIntegerMode(executor: SltExecutor): Promise<IntegerMode> {
  try {
    const { results } = await executor.execute('SELECT 1');
    return typeof results.at(-1)?.rows[0]?.[0] === 'bigint' ? 'bigint' : 'number';
  } catch {
    return 'number';
  }
}

async function runStatement(rec: StatementRecord, executor: SltExecutor): Promise<RecordOutcome> {
  const fail = (reason: string): RecordOutcome => ({ status: 'failed', line: rec.line, message: `${reason}\n${indent(rec.sql)}` });
  try {
    await executor.execute(rec.sql);
  } catch (error) {
    if (!rec.expectError) return fail(`statement failed: ${describeError(error)}`);
    if (rec.errorCode !== null && !(isQuiverError(error) && error.code === rec.errorCode)) {
      return fail(`statement should fail with ${rec.errorCode}, got ${describeError(error)}`);
    }
    return { status: 'passed', line: rec.line };
  }
  if (rec.expectError) return fail(`statement succeeded; expected ${rec.errorCode ?? 'an error'}`);
  return { status: 'passed', line: rec.line };
}

async function runQuery(
  rec: QueryRecord,
  executor: SltExecutor,
  integers: IntegerMode,
  hashThreshold: number,
): Promise<RecordOutcome> {
  const fail = (reason: string): RecordOutcome => ({ status: 'failed', line: rec.line, message: `${reason}\n${indent(rec.sql)}` });
  let results;
  try {
    ({ results } = await executor.execute(rec.sql));
  } catch (error) {
    return fail(`query failed: ${describeError(error)}`);
  }
  // The C driver prepares only a query's first statement; Quiver runs them all, and the last
  // statement's result set is the query's answer.
  const last = results.at(-1);
  if (last === undefined) return fail('query returned no result set');
  const { types } = rec;
  if (last.columns.length !== types.length) {
    return fail(`query returned ${last.columns.length} columns (${last.columns.join(', ')}); type string '${types.join('')}' expects ${types.length}`);
  }

  const printed: string[] = [];
  for (const row of last.rows) {
    if (row.length !== types.length) return fail(`query returned a row of ${row.length} values under ${types.length} columns`);
    for (let c = 0; c < types.length; c++) printed.push(formatValue(row[c], types[c], integers));
  }
  const values = sortValues(printed, types.length, rec.sort);
  if (rec.expected === null) return { status: 'passed', line: rec.line };

  const hashed = hashThreshold > 0 && values.length > hashThreshold;
  const got = hashed ? [hashValues(values)] : values;
  const expected = rec.expected;
  const firstDiff = firstDifference(expected, got);
  if (firstDiff < 0) return { status: 'passed', line: rec.line };

  const lines = [`wrong result (${types.join('')} ${rec.sort})`, indent(rec.sql)];
  const expectedHash = expected.length === 1 && isHashLine(expected[0]);
  if (expectedHash) lines.push(`expected ${expected[0]}`);
  else lines.push(`expected ${plural(expected.length, 'value')}:`, ...shown(expected, firstDiff));
  if (hashed || expectedHash) {
    lines.push(`got ${hashed ? got[0] : hashValues(values)}${values.length > 0 ? ':' : ''}`, ...shown(values, 0));
  } else {
    lines.push(`got ${plural(values.length, 'value')}:`, ...shown(values, firstDiff));
    if (firstDiff < Math.min(expected.length, values.length)) {
      const row = Math.floor(firstDiff / types.length) + 1;
      const column = (firstDiff % types.length) + 1;
      lines.push(`first difference at value ${firstDiff + 1} (row ${row}, column ${column}): expected ${expected[firstDiff]}, got ${values[firstDiff]}`);
    }
  }
  return { status: 'failed', line: rec.line, message: lines.join('\n') };
}

/** Index of the first line that differs (or where one side ends), or -1 if they are equal. */
function firstDifference(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** A window of values around `from`, indented, with a note on what was left out. */
function shown(block: readonly string[], from: number): string[] {
  const start = Math.max(0, Math.min(from - 2, block.length - SHOWN_VALUES));
  const end = Math.min(block.length, start + SHOWN_VALUES);
  const out: string[] = [];
  if (start > 0) out.push(`    ... ${start} before`);
  for (let i = start; i < end; i++) out.push(`    ${block[i]}`);
  if (end < block.length) out.push(`    ... ${block.length - end} more`);
  return out;
}

function indent(sql: string): string {
  return sql
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function describeError(error: unknown): string {
  if (isQuiverError(error)) return `${error.code}: ${error.detail}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Renders the failures of a run as `file:line: message` blocks, at most `limit` of them. */
export function describeFailures(fileName: string, result: RunResult, limit = Infinity): string[] {
  const out: string[] = [];
  for (const outcome of result.outcomes) {
    if (outcome.status !== 'failed') continue;
    if (out.length >= limit) break;
    out.push(`${fileName}:${outcome.line}: ${outcome.message}`);
  }
  return out;
}

/** How many records each skip reason accounts for, most frequent first. */
export function skipReasons(result: RunResult): Map<string, number> {
  const counts = new Map<string, number>();
  for (const outcome of result.outcomes) {
    if (outcome.status === 'skipped') counts.set(outcome.reason, (counts.get(outcome.reason) ?? 0) + 1);
  }
  return new Map([...counts].sort((a, b) => b[1] - a[1]));
}
