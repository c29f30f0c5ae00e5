/**
 * @module replication/capture
 * Captures what the writer's transaction changes, for the log (changeset.ts), inside the
 * transaction itself: TEMP triggers on every user table (they live on the writer's connection
 * only, never in the database file, so replicas and backups hold no trace of them) write one
 * record per row change into a TEMP table. Being part of the transaction, a ROLLBACK or
 * ROLLBACK TO undoes the records with the rows, so the log can only ever carry committed work.
 * Statements that change the schema are recorded as statements at their place among the rows,
 * and rows they move themselves (a table rebuild, TRUNCATE) are not captured: the replica runs
 * the statement and gets the same rows. Triggers fire for every row a statement changes, user
 * triggers' changes included, in the order they happen.
 */
import type Database from 'better-sqlite3';
import { quoteIdent } from '../dialect/index.ts';
import { ACTION, FORMAT_VERSION, RECORD, embeddingCallKey, shapeRecord, type TableShape } from './changeset.ts';
import { RecordWriter, encodeRecord, type LogValue } from './values.ts';

const CAPTURE_TABLE = 'temp.__quiver_capture';
const TRIGGER_PREFIX = '__quiver_capture_';

/** The user tables of the main schema: Quiver's own (`__quiver_*`) and SQLite's are not replicated as rows. */
const USER_TABLES_SQL =
  "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_\\_quiver\\_%' ESCAPE '\\'";

export class Capture {
  /** Each user table's shape as its triggers capture it, by table name. */
  private readonly shapes = new Map<string, TableShape>();
  private nextShapeId = 1n;
  /** Shapes rows were captured with since the last take(): their records go with the changeset. */
  private readonly usedShapes = new Set<TableShape>();
  /** EMBEDDING() answers since the last take(), by embeddingCallKey(). */
  private readonly embeddings = new Map<string, { model: string; dims: number | undefined; text: string; vector: Float32Array }>();
  /** While set, triggers capture nothing: a statement recorded whole is running, or a replica applies. */
  private suspendedNow = false;
  private readonly byId = new Map<bigint, TableShape>();

  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TEMP TABLE IF NOT EXISTS __quiver_capture (record BLOB NOT NULL)`);
    db.function('__quiver_capturing', { deterministic: false }, () => (this.suspendedNow ? 0 : 1));
    db.function('__quiver_capture_row', { varargs: true, safeIntegers: true, deterministic: false }, (...args: unknown[]) => this.rowRecord(args as LogValue[]));
    this.install();
  }

  /**
   * (Re)creates the capture triggers of every user table whose shape changed or whose triggers
   * are gone, and forgets dropped tables. Called after every schema change and rollback of one.
   */
  install(): void {
    const existing = new Set((this.db.prepare("SELECT name FROM sqlite_temp_master WHERE type = 'trigger'").pluck().all() as string[]));
    const seen = new Set<string>();
    for (const { name, wr } of this.db.prepare(USER_TABLES_SQL).all() as { name: string; wr: number }[]) {
      seen.add(name);
      const shape = this.shapeOf(name, wr === 1);
      const old = this.shapes.get(name);
      if (old && sameShape(old, shape) && triggerNames(old).every((t) => existing.has(t))) continue;
      if (old) this.dropTriggers(old);
      this.shapes.set(name, shape);
      this.byId.set(shape.id, shape);
      this.createTriggers(shape);
    }
    for (const [name, shape] of this.shapes) {
      if (seen.has(name)) continue;
      this.dropTriggers(shape);
      this.shapes.delete(name);
    }
  }

  /**
   * Runs `statement` (a schema change) without capturing the rows it moves itself, and records
   * it to run again where the changeset is applied when `changed()` says, after it, that it
   * changed what replicates.
   */
  recordStatement<T>(sql: string, statement: () => T, changed: () => boolean): T {
    const result = this.suspended(statement);
    if (changed()) this.db.prepare(`INSERT INTO ${CAPTURE_TABLE} (record) VALUES (?)`).run(encodeRecord([RECORD.statement, sql]));
    return result;
  }

  /** Runs `work` with nothing captured (a replica applying the log). */
  suspended<T>(work: () => T): T {
    const was = this.suspendedNow;
    this.suspendedNow = true;
    try {
      return work();
    } finally {
      this.suspendedNow = was;
    }
  }

  /** Notes a vector EMBEDDING() answered, so the changeset carries it to replicas. */
  embedding(model: string, dims: number | undefined, text: string, vector: Float32Array): void {
    this.embeddings.set(embeddingCallKey(model, dims, text), { model, dims, text, vector });
  }

  /**
   * The open transaction's changeset, or null when it changed nothing that replicates; the
   * records are deleted in the same transaction, so a commit leaves none behind, and a
   * rollback brings them back with everything else (and the next take sees them again).
   */
  take(): Uint8Array | null {
    const records = this.db.prepare(`SELECT record FROM ${CAPTURE_TABLE} ORDER BY rowid`).pluck().all() as Uint8Array[];
    if (records.length === 0) {
      this.forget();
      return null;
    }
    this.db.exec(`DELETE FROM ${CAPTURE_TABLE}`);
    const w = new RecordWriter();
    w.record([RECORD.header, FORMAT_VERSION]);
    for (const shape of this.usedShapes) w.record(shapeRecord(shape));
    for (const e of this.embeddings.values()) {
      w.record([RECORD.embedding, e.model, e.dims === undefined ? null : BigInt(e.dims), e.text, new Uint8Array(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength)]);
    }
    for (const r of records) w.raw(r);
    this.forget();
    return w.finish();
  }

  /** After a rollback: what was noted for the undone work goes (the records went with it). */
  forget(): void {
    this.usedShapes.clear();
    this.embeddings.clear();
  }

  /** The record a trigger stores for one row: [RECORD.row, shapeId, action, ...values]. */
  private rowRecord(args: LogValue[]): Uint8Array {
    const shape = this.byId.get(args[0] as bigint);
    if (shape) this.usedShapes.add(shape);
    return encodeRecord([RECORD.row, ...args]);
  }

  private shapeOf(table: string, withoutRowid: boolean): TableShape {
    const info = this.db.prepare('SELECT name, hidden, pk FROM pragma_table_xinfo(?)').all(table) as { name: string; hidden: number; pk: number }[];
    // hidden 2 and 3: generated columns, computed again where the row is applied.
    const columns = info.filter((c) => c.hidden === 0).map((c) => c.name);
    const key = withoutRowid ? info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name) : [];
    const old = this.shapes.get(table);
    const shape = { id: 0n, table, withoutRowid, columns, key };
    return old && sameShape(old, shape) ? old : { ...shape, id: this.nextShapeId++ };
  }

  private createTriggers(s: TableShape): void {
    const [ins, upd, del] = triggerNames(s).map((t) => quoteIdent(t));
    const table = `main.${quoteIdent(s.table)}`;
    const cols = (row: 'NEW' | 'OLD') => s.columns.map((c) => `${row}.${quoteIdent(c)}`);
    const key = (row: 'NEW' | 'OLD') => (s.withoutRowid ? s.key.map((c) => `${row}.${quoteIdent(c)}`) : [`${row}.rowid`]);
    const record = (action: bigint, values: string[]) =>
      `BEGIN INSERT INTO ${CAPTURE_TABLE} (record) VALUES (__quiver_capture_row(${[String(s.id), String(action), ...values].join(', ')})); END`;
    const rowid = s.withoutRowid ? [] : ['NEW.rowid'];
    const when = 'WHEN __quiver_capturing()';
    this.db.exec(`CREATE TEMP TRIGGER ${ins} AFTER INSERT ON ${table} ${when} ${record(ACTION.insert, [...rowid, ...cols('NEW')])}`);
    this.db.exec(`CREATE TEMP TRIGGER ${upd} AFTER UPDATE ON ${table} ${when} ${record(ACTION.update, [...key('OLD'), ...rowid, ...cols('NEW')])}`);
    this.db.exec(`CREATE TEMP TRIGGER ${del} AFTER DELETE ON ${table} ${when} ${record(ACTION.delete, key('OLD'))}`);
  }

  private dropTriggers(s: TableShape): void {
    for (const t of triggerNames(s)) this.db.exec(`DROP TRIGGER IF EXISTS temp.${quoteIdent(t)}`);
  }
}

function triggerNames(s: TableShape): string[] {
  return ['i', 'u', 'd'].map((suffix) => `${TRIGGER_PREFIX}${s.id}_${suffix}`);
}

function sameShape(a: Omit<TableShape, 'id'>, b: Omit<TableShape, 'id'>): boolean {
  return a.table === b.table && a.withoutRowid === b.withoutRowid && a.columns.join('\u0000') === b.columns.join('\u0000') && a.key.join('\u0000') === b.key.join('\u0000');
}

