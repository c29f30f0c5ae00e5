/**
 * @module replication/changeset
 * A changeset: what one transaction changed, as one log entry carries it (the unit a replica
 * applies whole). It is a list of records (values.ts):
 * - a header with the format's version;
 * - the shapes of the tables its rows belong to (names, the columns a row carries, its key);
 * - the embeddings its EMBEDDING() calls answered, by their arguments as written, so a replica
 *   computes every STORED EMBEDDING() column from the log, never from a provider;
 * - its changes in the order they happened: rows (insert, update, delete, with the after-image
 *   of the columns that are not generated) and statements that change the schema, run again
 *   on the replica as written (DDL is deterministic once the embeddings are given).
 */
import { decodeRecords, type LogValue } from './values.ts';

export const FORMAT_VERSION = 1n;

/** The first value of each record: what it is. */
export const RECORD = { header: 0n, shape: 1n, embedding: 2n, row: 3n, statement: 4n } as const;

/** What a row change did; a row record is [RECORD.row, shapeId, action, ...values]. */
export const ACTION = { insert: 1n, update: 2n, delete: 3n } as const;

/**
 * A table as its rows are captured: the columns a row carries (generated ones are computed
 * again where it is applied) and how a row is found. A rowid table's rows carry their rowid
 * first (the vector indexes key on it); a WITHOUT ROWID table's are found by its primary key.
 * Rows: insert [rowid?, ...columns]; update [old key..., new rowid?, ...columns]; delete [old key...].
 */
export interface TableShape {
  id: bigint;
  table: string;
  withoutRowid: boolean;
  columns: string[];
  /** The primary key's columns of a WITHOUT ROWID table; empty for a rowid table (its key is the rowid). */
  key: string[];
}

export type Change =
  | { kind: 'row'; shape: TableShape; action: bigint; values: LogValue[] }
  | { kind: 'statement'; sql: string };

export interface Changeset {
  /** Vectors by embeddingCallKey(). */
  embeddings: Map<string, Float32Array>;
  changes: Change[];
}

/** The key of an EMBEDDING(text, model [, dims]) call by its arguments as written (model names are case-insensitive). */
export function embeddingCallKey(model: string, dims: number | undefined, text: string): string {
  return `${model.toLowerCase()}\u0000${dims ?? ''}\u0000${text}`;
}

/** The shape's record. */
export function shapeRecord(s: TableShape): LogValue[] {
  return [RECORD.shape, s.id, s.table, s.withoutRowid ? 1n : 0n, BigInt(s.columns.length), ...s.columns, ...s.key];
}

/** Reads a changeset; a malformed one is refused whole, never applied in part. */
export function decodeChangeset(bytes: Uint8Array): Changeset {
  const shapes = new Map<bigint, TableShape>();
  const embeddings = new Map<string, Float32Array>();
  const changes: Change[] = [];
  const records = decodeRecords(bytes);
  if (records[0]?.[0] !== RECORD.header || records[0][1] !== FORMAT_VERSION) {
    throw corrupt(`its format is not version ${FORMAT_VERSION} (written by a newer Quiver?)`);
  }
  for (const r of records.slice(1)) {
    switch (r[0]) {
      case RECORD.shape: {
        const n = Number(r[4]);
        shapes.set(r[1] as bigint, { id: r[1] as bigint, table: r[2] as string, withoutRowid: r[3] === 1n, columns: r.slice(5, 5 + n) as string[], key: r.slice(5 + n) as string[] });
        break;
      }
      case RECORD.embedding: {
        const blob = r[4] as Uint8Array;
        const vector = new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
        embeddings.set(embeddingCallKey(r[1] as string, r[2] === null ? undefined : Number(r[2]), r[3] as string), vector);
        break;
      }
      case RECORD.row: {
        const shape = shapes.get(r[1] as bigint);
        if (!shape) throw corrupt(`a row names table shape ${r[1]}, which it does not describe`);
        changes.push({ kind: 'row', shape, action: r[2] as bigint, values: r.slice(3) });
        break;
      }
      case RECORD.statement:
        changes.push({ kind: 'statement', sql: r[1] as string });
        break;
      default:
        throw corrupt(`it holds a record of unknown kind ${String(r[0])}`);
    }
  }
  return { embeddings, changes };
}

function corrupt(why: string): Error {
  return new Error(`a log entry cannot be read: ${why}`);
}
