/**
 * @module runtime/statement-cache
 * Prepared statements kept by their SQL text, so a repeated statement costs one map lookup and
 * SQLite's own prepared statement. Bounded (the oldest goes first), and emptied when the
 * schema changes, since a statement prepared against the old schema may no longer be valid.
 * Every connection that runs repeated SQL (the writer's, the planner's, each read worker's)
 * keeps one.
 */
import type Database from 'better-sqlite3';

/** How many statements a cache keeps. */
export const MAX_CACHED_STATEMENTS = 1000;

export class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();
  private version: number | undefined;

  /**
   * @param prepare - prepares a statement the cache does not hold (on the cache's connection)
   * @param max - how many statements to keep
   */
  constructor(
    private readonly prepare: (sql: string) => Database.Statement,
    private readonly max = MAX_CACHED_STATEMENTS,
  ) {}

  /** The prepared statement for `sql`; `schemaVersion`, when given, empties a cache of another version first. */
  get(sql: string, schemaVersion?: number): Database.Statement {
    if (schemaVersion !== undefined && schemaVersion !== this.version) {
      this.statements.clear();
      this.version = schemaVersion;
    }
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.prepare(sql);
      if (this.statements.size >= this.max) this.statements.delete(this.statements.keys().next().value!);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  clear(): void {
    this.statements.clear();
  }
}
