/** @module sql — Quiver's SQL engine: the public door of src/sql. */
export { Engine } from './engine.ts';
export type { TableDescription } from './engine.ts';
export { QuiverError, isQuiverError, ERROR_CATALOG } from './errors.ts';
export type { ErrorCode, SourcePosition } from './errors.ts';
export type { EngineOptions, ExecuteOptions, ExecuteResult, Params, SqlValue, StatementResult } from './types.ts';
export { ROLES, roleAllows } from './roles.ts';
export type { Role } from './roles.ts';
