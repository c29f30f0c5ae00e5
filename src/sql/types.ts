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
  /** Each statement's kind (`select`, `insert`, `createTable`, ...), in order, for metrics and logs; absent from stand-ins. */
  kinds?: string[];
}

export interface ExecuteOptions {
  /** The API key's role; statements it does not allow are refused with FORBIDDEN before any runs. Unset: no check. */
  readonly role?: 'read' | 'write' | 'admin';
  /** HNSW ef_search for this request's vector queries (SET vidx_hnsw_ef_search overrides it). */
  readonly efSearch?: number;
  /** Statement timeout of this request, in ms; it may lower the server's, never raise it. Time spent waiting for the writer or a read worker counts against it. */
  readonly timeoutMs?: number;
  /**
   * Who sends the request (an API key's name). The engine serves waiting requests client by
   * client in turn and bounds what one client may have waiting and running (Limits'
   * maxQueuedPerClient, maxReadsPerClient). Unset: the request has no such share.
   */
  readonly client?: string;
}

export interface EngineOptions {
  /** Directory holding the database file (`quiver.db`) and, later, index files. */
  dataDir: string;
}
