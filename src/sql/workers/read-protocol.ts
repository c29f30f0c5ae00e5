/**
 * @module workers/read-protocol
 * The messages between the engine and its read workers (read-pool.ts, read-worker.ts), and how
 * an error crosses a thread boundary (here and to the writer's thread, ../exec/writer-thread.ts):
 * structured clone keeps only an Error's message, so the sender sends what the receiver needs
 * to rebuild the same QuiverError or SqliteError.
 */
import Database from 'better-sqlite3';
import { QuiverError, isQuiverError, type ErrorCode, type SourcePosition } from '../../core/index.ts';
import type { IndexViewData, SegmentViewData, TailViewData } from '../../index/index.ts';
import type { ReadEmbeddings, ReadMisses } from '../functions/index.ts';
import type { IndexViewRef, SearchStep } from '../plan/index.ts';
import type { SqlValue } from '../types.ts';

/**
 * Why a read runs on the writer's connection after all, not on a worker: `temp-table`, it reads
 * a TEMP table, which only the writer's connection has. (EMBEDDING() of texts the worker was not
 * sent is no reason: the worker answers with the misses, see ReadReply.)
 */
export type WriterFallback = 'temp-table';

/** One statement for a worker: SQLite SQL as emitted, its bound arguments, and its index searches. */
export interface ReadStatement {
  sql: string;
  args: unknown[];
  /** Run first, in the read's snapshot; each one's candidate row ids are bound to its `param`. */
  searches?: ReadSearch[];
}

/** A planned vector query's search (search-step.ts), over a view of its index taken with the snapshot. */
export interface ReadSearch {
  param: string;
  step: SearchStep;
  index: IndexViewRef;
}

/** A view part as posted: its memory, or null when the worker holds it already (view-memories.ts). */
type Posted<T extends { memory: WebAssembly.Memory }> = Omit<T, 'memory'> & { memory: WebAssembly.Memory | null };

/** A view as posted to a read worker. */
export interface PostedView extends Omit<IndexViewData, 'segments' | 'frozen' | 'tail'> {
  segments: Posted<SegmentViewData>[];
  frozen: Posted<TailViewData> | null;
  tail: Posted<TailViewData>;
}

export type PostedSearch = Omit<ReadSearch, 'index'> & { index: Omit<IndexViewRef, 'view'> & { view: PostedView } };

/** A statement as posted to a read worker: its views may leave memories out. */
export type PostedStatement = Omit<ReadStatement, 'searches'> & { searches?: PostedSearch[] };

/**
 * What the engine asks of a worker: `begin` opens a read transaction and reads, so the worker's
 * snapshot is fixed (it answers `ok`); `run` runs statements (in that snapshot if one is open)
 * and ends the transaction, its EMBEDDING() calls answered from `embeddings`
 * (read-embedding-calls.ts); `end` ends a snapshot that will not be used, and `forget` lets go of
 * an index (neither is answered).
 */
export type ReadMessage =
  | { kind: 'begin' }
  | { kind: 'end' }
  | { kind: 'forget'; index: string }
  | { kind: 'run'; statements: ReadStatement[]; maxRows: number; maxResultBytes: number; timeoutMs: number; since: number; embeddings?: ReadEmbeddings };

/** A message as posted, its statements' views without the memories the worker holds. */
export type ReadRequest = (
  | Exclude<ReadMessage, { kind: 'run' }>
  | (Omit<Extract<ReadMessage, { kind: 'run' }>, 'statements'> & { statements: PostedStatement[] })
) & { id: number };

export type WireError =
  | { kind: 'quiver'; code: ErrorCode; detail: string; statementIndex?: number; position?: SourcePosition; retryAfterSeconds?: number }
  | { kind: 'sqlite'; code: string; message: string }
  | { kind: 'range' | 'type'; message: string }
  /** Anything else; `code` as a Node error carries it (ENOSPC). */
  | { kind: 'other'; message: string; code?: string };

/**
 * A worker's answer: `ok` to `begin`; to `run`, its rows per statement, the error that stopped
 * it, or the texts its EMBEDDING() calls were not sent (its rows, computed with placeholders if
 * any, are dropped): the engine fetches those and runs the read again.
 */
export type ReadReply =
  | { id: number; ok: true }
  | { id: number; rows: SqlValue[][][] }
  | { id: number; misses: ReadMisses[] }
  | { id: number; error: WireError; index: number };

export function toWire(e: unknown): WireError {
  if (isQuiverError(e)) {
    return { kind: 'quiver', code: e.code, detail: e.detail, statementIndex: e.statementIndex, position: e.position, retryAfterSeconds: e.retryAfterSeconds };
  }
  if (e instanceof Database.SqliteError) return { kind: 'sqlite', code: e.code, message: e.message };
  if (e instanceof RangeError) return { kind: 'range', message: e.message };
  if (e instanceof TypeError) return { kind: 'type', message: e.message };
  const code = (e as { code?: unknown } | null)?.code;
  return { kind: 'other', message: e instanceof Error ? (e.stack ?? e.message) : String(e), code: typeof code === 'string' ? code : undefined };
}

/** The error `w` stands for; `from` names the thread an unexpected one came from. */
export function fromWire(w: WireError, from = 'read worker'): Error {
  switch (w.kind) {
    case 'quiver':
      return new QuiverError(w.code, w.detail, { statementIndex: w.statementIndex, position: w.position, retryAfterSeconds: w.retryAfterSeconds });
    case 'sqlite':
      return new Database.SqliteError(w.message, w.code);
    case 'range':
      return new RangeError(w.message);
    case 'type':
      return new TypeError(w.message);
    case 'other':
      return Object.assign(new Error(`${from}: ${w.message}`), w.code === undefined ? {} : { code: w.code });
  }
}
