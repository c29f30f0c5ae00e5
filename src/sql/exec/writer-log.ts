/**
 * @module exec/writer-log
 * The writer's side of the replicated log (cluster mode; a single node has none). On the
 * primary, the log comes first: before the writer commits a transaction, its changeset goes to
 * the log through the host, and only once the log has it (a quorum of JetStream) is the
 * position recorded in the transaction and the transaction committed; a write the log refused
 * is rolled back, so nothing is ever committed here that the log lacks. On a replica, each log
 * entry is applied in one transaction with its position (writer.ts `apply`), rows as the primary
 * wrote them and schema statements run again, EMBEDDING() answered from the entry alone.
 */
import type Database from 'better-sqlite3';
import type { EmbeddingCalls } from '../functions/index.ts';
import { Capture, PositionTable, RowApplier, decodeChangeset, embeddingCallKey, type LogPosition } from '../replication/index.ts';
import type { WriterHost } from './writer-host.ts';

/** One entry of the log as a replica applies it. */
export interface LogEntry {
  position: number;
  /** The epoch (position of the primary's epoch marker) the entry was written in. */
  epoch: number;
  /** A transaction's changeset; null for an entry with no rows (an epoch marker, an abandoned part). */
  changes: Uint8Array | null;
  /** The log's identity, recorded with the first entry a data dir takes from it. */
  log?: string;
}

/** Where a commit stands in the log, for the engine (CommitInfo.position). */
export interface LoggedAt {
  position: number;
  epoch: number;
}

export class WriterLog {
  private readonly capture: Capture;
  private readonly positions: PositionTable;
  private readonly rows: RowApplier;
  /** Set while a replica applies an entry: schema statements run without being recorded again. */
  private applying = false;

  constructor(
    private readonly db: Database.Database,
    private readonly embeddingCalls: EmbeddingCalls,
    private readonly host: WriterHost,
  ) {
    this.capture = new Capture(db);
    this.positions = new PositionTable(db);
    this.rows = new RowApplier(db);
    embeddingCalls.onAnswer = (model, dims, text, vector) => this.capture.embedding(model, dims, text, vector);
  }

  /** Where this data dir stands in the log. */
  position(): LogPosition {
    return this.positions.read();
  }

  /**
   * Before the open transaction commits: its changeset goes to the log, and the position the log
   * gave it is recorded in the transaction. Null when it changed nothing that replicates (it
   * then commits here alone). Throws what the log throws (no primary, the log unreachable, this
   * node fenced off): the caller rolls back.
   */
  async beforeCommit(): Promise<LoggedAt | null> {
    const changes = this.capture.take();
    if (!changes) return null;
    const at = await this.host.append(changes);
    this.positions.set(at.position, at.epoch);
    return at;
  }

  /**
   * Runs a statement that may change the schema without capturing the rows it moves itself (a
   * table rebuild), records it to run again on replicas when it changed the main schema (a TEMP
   * table's does not replicate), and captures the tables as they now are.
   */
  schemaStatement<T>(sql: string, run: () => T): T {
    const before = this.schemaVersion();
    const result = this.statement(sql, run, () => this.schemaVersion() !== before);
    this.capture.install();
    return result;
  }

  /** TRUNCATE: recorded as the statement, which a replica runs again, rather than as a delete per row. */
  truncate<T>(sql: string, run: () => T): T {
    return this.statement(sql, run, () => true);
  }

  private statement<T>(sql: string, run: () => T, changed: () => boolean): T {
    return this.applying ? run() : this.capture.recordStatement(sql, run, changed);
  }

  /** After a rollback: what was noted for the undone work goes, and the capture follows the schema back. */
  rolledBack(schemaChanged: boolean): void {
    this.capture.forget();
    if (schemaChanged) this.capture.install();
  }

  /**
   * Applies `entry` in the caller's open transaction: its rows, its statements through
   * `runStatement` (with EMBEDDING() answered from the entry), then its position.
   */
  apply(entry: LogEntry, runStatement: (sql: string) => void): void {
    if (entry.changes) {
      const changeset = decodeChangeset(entry.changes);
      this.applying = true;
      this.embeddingCalls.replay = { vectors: changeset.embeddings, key: embeddingCallKey };
      try {
        this.capture.suspended(() => {
          for (const change of changeset.changes) {
            if (change.kind === 'row') {
              this.rows.apply(change);
            } else {
              runStatement(change.sql);
              this.rows.reset();
            }
          }
        });
      } finally {
        this.applying = false;
        this.embeddingCalls.replay = null;
      }
    }
    this.positions.set(entry.position, entry.epoch, entry.log);
  }

  private schemaVersion(): number {
    return this.db.pragma('main.schema_version', { simple: true }) as number;
  }
}
