/**
 * @module engine
 * TEMPORARY pass-through engine: the public shape of Quiver's engine, running SQL straight on
 * SQLite while the front end (lexer, parser, emitter, catalog) is being written. Replaced in
 * place by the real executor; callers depend only on this class's methods.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { QuiverError } from './errors.ts';
import type { EngineOptions, ExecuteOptions, ExecuteResult, Params, SqlValue } from './types.ts';

export class Engine {
  private db: Database.Database | null;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /** Opens (creating if needed) the database under `options.dataDir`. */
  static open(options: EngineOptions): Engine {
    fs.mkdirSync(options.dataDir, { recursive: true });
    const db = new Database(path.join(options.dataDir, 'quiver.db'));
    db.pragma('journal_mode = WAL');
    return new Engine(db);
  }

  get isOpen(): boolean {
    return this.db !== null && this.db.open;
  }

  /** Runs every statement of `sql` in order, in one transaction. */
  async execute(sql: string, params: Params = [], _options: ExecuteOptions = {}): Promise<ExecuteResult> {
    const db = this.db;
    if (!db) throw new QuiverError('DATABASE_CLOSED', 'the database is closed');
    const texts = sql.split(';').map((s) => s.trim()).filter((s) => s.length > 0);
    const run = db.transaction(() =>
      texts.map((text) => {
        const stmt = db.prepare(text);
        if (stmt.reader) {
          stmt.raw(true);
          const rows = stmt.all(...(Array.isArray(params) ? params : [params])) as SqlValue[][];
          return { columns: stmt.columns().map((c) => c.name), rows, changes: 0, lastInsertId: null };
        }
        const info = stmt.run(...(Array.isArray(params) ? params : [params]));
        return { columns: [], rows: [], changes: info.changes, lastInsertId: info.lastInsertRowid };
      }),
    );
    return { results: run() };
  }

  /** Closes the database; safe to call twice. */
  close(): void {
    this.db?.close();
    this.db = null;
  }
}
