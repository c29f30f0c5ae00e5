/**
 * @module types
 * The engine's public shapes: what goes into `Engine.execute` and what comes out. The API layer
 * and the tools (conformance runner, benchmarks) depend on these and nothing deeper.
 */

/**
 * A value in a result row. Integers outside JavaScript's safe range arrive as bigint; vectors
 * (from VECTOR columns and vector functions) as Float32Array; other blobs as Uint8Array.
 */
export type SqlValue = null | number | bigint | string | Float32Array | Uint8Array;

/** Bound parameters: an array for positional `?`, an object for named `:name`. */
export type Params = readonly unknown[] | Readonly<Record<string, unknown>>;

export interface StatementResult {
  columns: string[];
  rows: SqlValue[][];
  /** Rows changed by INSERT/UPDATE/DELETE; 0 for everything else. */
  changes: number;
  /** Row id of the last inserted row for INSERT/REPLACE; null for everything else. */
  lastInsertId: number | bigint | null;
}

export interface ExecuteResult {
  results: StatementResult[];
}

export interface ExecuteOptions {
  /** Reserved for per-request settings (ef_search, timeouts) added by later work. */
  readonly [key: string]: unknown;
}

export interface EngineOptions {
  /** Directory holding the database file (`quiver.db`) and, later, index files. */
  dataDir: string;
}
