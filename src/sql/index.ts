/** @module sql — Quiver's SQL engine: the public door of src/sql. */
export { Engine } from './engine.ts';
export type { TableDescription } from './engine.ts';
export { backupDataDir, restoreDatabase, RestoreError } from './backup.ts';
export type { BackupResult, RestoreResult } from './backup.ts';
export { QuiverError, isQuiverError, ERROR_CATALOG } from './errors.ts';
export type { ErrorCode, SourcePosition } from './errors.ts';
export type { EngineOptions, ExecuteOptions, ExecuteResult, Params, SqlValue, StatementResult } from './types.ts';
export { ROLES, roleAllows } from './roles.ts';
export type { Role } from './roles.ts';
export { DEFAULT_LIMITS } from './limits.ts';
export type { Limits } from './limits.ts';
export { DEFAULT_READ_WORKERS, MAX_READ_WORKERS } from './read-pool.ts';
