/**
 * @module slt/sqlite-reference
 * SQLite itself, as an SltExecutor: the same better-sqlite3 build Quiver uses, with no Quiver
 * in between. The conformance script runs a file through it when Quiver fails a record, to
 * tell Quiver's failures from records that SQLite fails too (the aim is every record SQLite
 * passes).
 */
import Database from 'better-sqlite3';
import type { SltExecutor } from './runner.ts';

/** An in-memory SQLite database answering sqllogictest records. Close it when done. */
export function openSqliteReference(): SltExecutor & { close(): void } {
  const db = new Database(':memory:');
  return {
    async execute(sql: string) {
      // A record may hold several statements; all but a final query run through exec().
      const stmt = (() => {
        try {
          return db.prepare(sql);
        } catch (e) {
          if (e instanceof RangeError) return null; // more than one statement
          throw e;
        }
      })();
      if (!stmt) {
        db.exec(sql);
        return { results: [] };
      }
      if (!stmt.reader) {
        stmt.run();
        return { results: [{ columns: [], rows: [] }] };
      }
      stmt.raw(true);
      stmt.safeIntegers(true);
      const rows = (stmt.all() as unknown[][]).map((row) =>
        row.map((v) => (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v)),
      );
      return { results: [{ columns: stmt.columns().map((c) => c.name), rows }] };
    },
    close: () => db.close(),
  };
}
