/**
 * @module sql
 * Quiver's SQL engine: the public door of src/sql. Beside the engine, the dialect's functions a
 * caller above SQL needs to take a user's expression apart and write SQL text safely (chat's
 * filters and retrieval queries), and the AST types they work on.
 */
export { DATABASE_FILE, DataDirLockedError, DEFAULT_DISK_RESERVE_BYTES, Engine, notReady, STORAGE_FULL_RETRY_AFTER_S } from './exec/index.ts';
export type { ClusterNodeStatus, EngineStats, IndexStatus, LogEntry, OpenOptions, ReplicatedLog, TableDescription } from './exec/index.ts';
export { readLogPosition, type LogPosition } from './replication/index.ts';
export { backupDataDir, restoreDatabase, RestoreError } from './exec/index.ts';
export type { BackupResult, RestoreResult } from './exec/index.ts';
export type { EngineOptions, ExecuteOptions, ExecuteResult, Params, SqlValue, StatementResult } from './types.ts';
export { ROLES, roleAllows } from './check/index.ts';
export type { Role } from './check/index.ts';
export { DEFAULT_LIMITS, toBindable } from './runtime/index.ts';
export type { Limits } from './runtime/index.ts';
export { DEFAULT_READ_WORKERS, MAX_READ_WORKERS } from './workers/index.ts';
export type { A } from './dialect/index.ts';
export { parseExpression } from './dialect/index.ts';
export { positionOf } from './dialect/index.ts';
export { printExpression, printIdent } from './dialect/index.ts';
export { quoteString } from './dialect/index.ts';
