/**
 * @module exec/engine-connection
 * The engine's own SQLite connection, for tests that must look past user SQL: user SQL cannot
 * name SQLite's or Quiver's objects (src/sql/check/user-objects.ts), and TEMP objects and the
 * functions Quiver registers live on this connection only. Read it between requests, on the
 * test's thread, as the engine itself does.
 */
import type Database from 'better-sqlite3';
import type { Engine } from '../../../src/sql/index.ts';

/**
 * `engine`'s writer connection (an engine opened without `writerThread` runs its writer on the
 * test's thread); throws when the engine is closed.
 */
export function engineConnection(engine: Engine): Database.Database {
  const writer = (engine as unknown as { writer: { db?: Database.Database | null } }).writer;
  if (!('db' in writer)) throw new Error('the engine runs its writer on a thread of its own: its connection is not on this thread');
  if (!writer.db) throw new Error('the engine is closed: it has no connection');
  return writer.db;
}
