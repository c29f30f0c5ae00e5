/** @module sql — Quiver's SQL engine: the public door of src/sql. */
export { Engine } from './exec/engine.ts';
export type { TableDescription } from './exec/engine.ts';
export { backupDataDir, restoreDatabase, RestoreError } from './exec/backup.ts';
export type { BackupResult, RestoreResult } from './exec/backup.ts';
export type { EngineOptions, ExecuteOptions, ExecuteResult, Params, SqlValue, StatementResult } from './types.ts';
export { ROLES, roleAllows } from './check/roles.ts';
export type { Role } from './check/roles.ts';
export { DEFAULT_LIMITS } from './runtime/limits.ts';
export type { Limits } from './runtime/limits.ts';
export { DEFAULT_READ_WORKERS, MAX_READ_WORKERS } from './workers/read-pool.ts';
