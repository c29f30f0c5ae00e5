/** @module lower — the door of src/sql/lower/. */
export { autoIncrementKey, lowerExpression, lowerStatement } from './to-sqlite.ts';
export type { LoweredStatement } from './to-sqlite.ts';
