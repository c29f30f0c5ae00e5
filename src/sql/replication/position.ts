/**
 * @module replication/position
 * Where this data dir stands in the log: the position of the last entry it holds (applied by a
 * replica, or written by the primary), the epoch it was written in, and which log it follows.
 * Written in the same transaction as the entry, so after any crash the database and its
 * position agree: a restarted node goes on from the next entry, and applies none twice.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';

export interface LogPosition {
  /** The log this data dir follows (the stream's identity); null until it first joins one. */
  log: string | null;
  /** The last entry it holds; 0 for none. */
  position: number;
  /** The epoch (the position of the primary's epoch marker) of that entry. */
  epoch: number;
}

/**
 * Where the database file `file` stands in the log, read without opening it as Quiver does (a
 * node checks this before it starts, to know whether it must restore a snapshot first): null
 * when there is no such file, position 0 when it never followed a log.
 */
export function readLogPosition(file: string): LogPosition | null {
  if (!fs.existsSync(file)) return null;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '__quiver_log_position'").get();
    if (!table) return { log: null, position: 0, epoch: 0 };
    return db.prepare('SELECT log, position, epoch FROM __quiver_log_position WHERE id = 1').get() as LogPosition;
  } finally {
    db.close();
  }
}

export class PositionTable {
  private readonly write: Database.Statement;

  constructor(private readonly db: Database.Database) {
    db.exec('CREATE TABLE IF NOT EXISTS __quiver_log_position (id INTEGER PRIMARY KEY CHECK (id = 1), log TEXT, position INTEGER NOT NULL, epoch INTEGER NOT NULL)');
    db.exec('INSERT OR IGNORE INTO __quiver_log_position (id, log, position, epoch) VALUES (1, NULL, 0, 0)');
    this.write = db.prepare('UPDATE __quiver_log_position SET position = ?, epoch = ?, log = coalesce(?, log) WHERE id = 1');
  }

  read(): LogPosition {
    return this.db.prepare('SELECT log, position, epoch FROM __quiver_log_position WHERE id = 1').get() as LogPosition;
  }

  /** Records `position` (in the caller's transaction). */
  set(position: number, epoch: number, log?: string): void {
    this.write.run(position, epoch, log ?? null);
  }
}
