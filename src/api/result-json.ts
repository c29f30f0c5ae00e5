/**
 * @module result-json
 * Writes the answer of `POST /v1/sql` as JSON text. It is written by hand rather than with a
 * `JSON.stringify` replacer because a bigint must come out as a bare, exact JSON number:
 * stringify can only emit it as a string or a rounded double, and a 64-bit row id that comes
 * back off by one is a wrong answer. Row values map as: vector (Float32Array) -> array of the
 * shortest decimals that read back as the same float32; other blobs (Uint8Array) ->
 * `{"$base64": "..."}`; non-finite floats -> null, as JSON has no Infinity or NaN.
 */
import { vectorToNumbers } from '../core/index.ts';
import type { ExecuteResult, SqlValue, StatementResult } from '../sql/index.ts';

/** One row value as JSON text. */
export function sqlValueJson(value: SqlValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
    case 'string':
      return JSON.stringify(value);
    case 'bigint':
      return value.toString();
  }
  if (value instanceof Float32Array) return JSON.stringify(vectorToNumbers(value));
  if (value instanceof Uint8Array) {
    return `{"$base64":"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"}`;
  }
  // Unreachable while the engine keeps its SqlValue contract; fail loudly rather than emit bad JSON.
  throw new TypeError(`engine returned a value of unsupported type ${Object.prototype.toString.call(value)}`);
}

function statementJson(result: StatementResult): string {
  const rows = result.rows.map((row) => `[${row.map(sqlValueJson).join(',')}]`).join(',');
  return (
    `{"columns":${JSON.stringify(result.columns)},"rows":[${rows}],` +
    `"changes":${sqlValueJson(result.changes)},"lastInsertId":${sqlValueJson(result.lastInsertId)}}`
  );
}

/** The whole `POST /v1/sql` answer: `{"results": [...], "timeMs": T}`. */
export function executeResultJson(result: ExecuteResult, timeMs: number): string {
  return `{"results":[${result.results.map(statementJson).join(',')}],"timeMs":${JSON.stringify(timeMs)}}`;
}
