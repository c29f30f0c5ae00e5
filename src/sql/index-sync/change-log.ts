/**
 * @module index-sync/change-log
 * The change log that keeps vector indexes in step with their tables (DESIGN decision 3):
 * capture triggers, written by the DDL layer for each vector index, record every insert, update
 * and delete of an indexed column in `__quiver_changes`, in the same transaction as the change.
 * An entry says "make the index hold what the table now holds for this row" (op 1: the row has
 * a vector; op 0: it has none), so replaying one twice is harmless, and rolled-back work never
 * reaches the log. The registry (index-registry.ts) reads the log after each commit and prunes
 * what every index has saved.
 */
import type Database from 'better-sqlite3';
import { quoteIdent, quoteString } from '../dialect/index.ts';
import type { VectorIndexInfo } from '../catalog/index.ts';

/** One log entry: `op` 1 puts the row's current vector in the index, 0 takes the row out. */
export interface ChangeEntry {
  seq: number;
  indexName: string;
  rowId: number;
  op: number;
}

/** The names of the three capture triggers of an index. */
function triggerNames(indexName: string): string[] {
  return ['ai', 'au', 'ad'].map((suffix) => `__quiver_vidx_${indexName}_${suffix}`);
}

/** Creates the capture triggers of `info` (inside the DDL's transaction). */
export function installCaptureTriggers(db: Database.Database, info: VectorIndexInfo): void {
  const [ai, au, ad] = triggerNames(info.name).map((n) => quoteIdent(n));
  const table = quoteIdent(info.table);
  const col = quoteIdent(info.column);
  const name = quoteString(info.name);
  const log = (row: string, op: number): string => `INSERT INTO __quiver_changes (index_name, row_id, op) VALUES (${name}, ${row}, ${op});`;
  db.exec(`CREATE TRIGGER ${ai} AFTER INSERT ON ${table} WHEN NEW.${col} IS NOT NULL BEGIN ${log('NEW.rowid', 1)} END`);
  db.exec(
    `CREATE TRIGGER ${au} AFTER UPDATE ON ${table} WHEN OLD.${col} IS NOT NEW.${col} OR OLD.rowid IS NOT NEW.rowid ` +
      `BEGIN ${log('OLD.rowid', 0)} ${log('NEW.rowid', 1)} END`,
  );
  db.exec(`CREATE TRIGGER ${ad} AFTER DELETE ON ${table} BEGIN ${log('OLD.rowid', 0)} END`);
}

/** Drops the capture triggers of index `name`, if they exist. */
export function dropCaptureTriggers(db: Database.Database, name: string): void {
  for (const trigger of triggerNames(name)) db.exec(`DROP TRIGGER IF EXISTS ${quoteIdent(trigger)}`);
}

/** Reads and prunes `__quiver_changes`. */
export class ChangeLog {
  private readonly entriesAfter: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.entriesAfter = db.prepare('SELECT seq, index_name AS indexName, row_id AS rowId, op FROM __quiver_changes WHERE seq > ? ORDER BY seq');
  }

  /** Every entry after `seq`, in order. */
  after(seq: number): ChangeEntry[] {
    return this.entriesAfter.all(seq) as ChangeEntry[];
  }

  /** The entries of index `indexName` in (`from`, `to`], in order. */
  ofIndex(indexName: string, from: number, to: number): Pick<ChangeEntry, 'rowId' | 'op'>[] {
    return this.db
      .prepare('SELECT row_id AS rowId, op FROM __quiver_changes WHERE seq > ? AND index_name = ? AND seq <= ? ORDER BY seq')
      .all(from, indexName, to) as Pick<ChangeEntry, 'rowId' | 'op'>[];
  }

  /** Whether index `indexName` has entries after `seq`. */
  hasEntriesAfter(seq: number, indexName: string): boolean {
    return this.db.prepare('SELECT 1 FROM __quiver_changes WHERE seq > ? AND index_name = ? LIMIT 1').get(seq, indexName) !== undefined;
  }

  /** The last sequence number written (0 for an empty log). */
  lastSeq(): number {
    return (this.db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM __quiver_changes').get() as { seq: number }).seq;
  }

  /**
   * Deletes every entry up to `seq`, without waiting for the database: SQLITE_BUSY when another
   * connection (the writer's) is writing. The busy timeout is restored after.
   */
  pruneThrough(seq: number): void {
    const timeout = this.db.pragma('busy_timeout', { simple: true }) as number;
    this.db.pragma('busy_timeout = 0');
    try {
      this.db.prepare('DELETE FROM __quiver_changes WHERE seq <= ?').run(seq);
    } finally {
      this.db.pragma(`busy_timeout = ${timeout}`);
    }
  }
}
