/** @module workers — the door of src/sql/workers/. */
export { DEFAULT_READ_WORKERS, MAX_READ_WORKERS, ReadFailure, ReadPool } from './read-pool.ts';
export { fromWire, toWire } from './read-protocol.ts';
export type { ReadSearch, ReadStatement, WireError, WriterFallback } from './read-protocol.ts';
