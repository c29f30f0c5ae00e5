/**
 * @module replication/apply
 * Applies a changeset's rows on a replica's writer connection, inside the transaction that also
 * records the log position (position.ts), so an entry is applied exactly once. Rows are written
 * as the primary wrote them, rowids and all, with OR REPLACE so that a row the primary's
 * REPLACE removed (which fires no delete trigger, so is not captured) goes the same way here.
 * The statements among them are the writer's to run (writer.ts), in their place.
 */
import type Database from 'better-sqlite3';
import { quoteIdent } from '../dialect/index.ts';
import { ACTION, type Change, type TableShape } from './changeset.ts';
import type { LogValue } from './values.ts';

/** The three statements that write a shape's rows. */
interface ShapeStatements {
  insert: Database.Statement;
  update: Database.Statement;
  delete: Database.Statement;
}

export class RowApplier {
  /** Prepared per shape: a shape's columns never change under its id within one changeset. */
  private statements = new Map<TableShape, ShapeStatements>();

  constructor(private readonly db: Database.Database) {}

  /** Forgets prepared statements: after the schema changed, they may name what is gone. */
  reset(): void {
    this.statements = new Map();
  }

  /** Writes one captured row change. */
  apply(change: Extract<Change, { kind: 'row' }>): void {
    const { shape, action, values } = change;
    const s = this.statementsOf(shape);
    const keyLength = shape.withoutRowid ? shape.key.length : 1;
    if (action === ACTION.insert) s.insert.run(...bindable(values));
    else if (action === ACTION.delete) s.delete.run(...bindable(values));
    else if (action === ACTION.update) s.update.run(...bindable([...values.slice(keyLength), ...values.slice(0, keyLength)]));
    else throw new Error(`a log entry holds a row change of unknown action ${action}`);
  }

  private statementsOf(shape: TableShape): ShapeStatements {
    let s = this.statements.get(shape);
    if (s) return s;
    const table = `main.${quoteIdent(shape.table)}`;
    const written = shape.withoutRowid ? shape.columns : ['rowid', ...shape.columns];
    const names = written.map((c) => (c === 'rowid' ? 'rowid' : quoteIdent(c)));
    const key = shape.withoutRowid ? shape.key.map((c) => `${quoteIdent(c)} = ?`).join(' AND ') : 'rowid = ?';
    s = {
      insert: this.db.prepare(`INSERT OR REPLACE INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`),
      update: this.db.prepare(`UPDATE OR REPLACE ${table} SET ${names.map((n) => `${n} = ?`).join(', ')} WHERE ${key}`),
      delete: this.db.prepare(`DELETE FROM ${table} WHERE ${key}`),
    };
    this.statements.set(shape, s);
    return s;
  }
}

/** better-sqlite3 binds Uint8Array only as a Buffer. */
function bindable(values: LogValue[]): unknown[] {
  return values.map((v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v) : v));
}
