/**
 * @module exec/writer-host
 * The contract between the engine (engine.ts) and its writer (writer.ts), which may run on a
 * thread of its own (writer-thread.ts). The writer holds the writer's connection and runs
 * every request that writes; the engine holds what reads share and what lives once per
 * process: the vector indexes, the embedding providers and their cache, the data dir's disk.
 * What the writer needs of those it asks through a WriterHost. Its synchronous calls run while a
 * statement runs (a vector query's search, EMBEDDING()'s cache); on a thread they block it, never
 * the engine's event loop, which answers them.
 */
import type { EmbeddingSource } from '../../core/index.ts';
import type { SearchOptions, VectorHit } from '../../index/index.ts';
import type { A } from '../dialect/index.ts';
import type { MissingTexts } from '../functions/index.ts';
import type { ExecuteOptions, ExecuteResult, Params, StatementResult } from '../types.ts';
import type { LogPosition } from '../replication/index.ts';
import type { BackupResult } from './backup.ts';
import type { LogEntry } from './writer-log.ts';

/** A ready vector index as the writer's planner sees it (IndexLookup), and the log it has applied. */
export interface IndexSummary {
  state: string;
  /** Present when the index can answer searches. */
  ready?: { size: number; dims: number; segments: number; tailRows: number };
  /** The change log entry the index has applied up to: later ones are the writer's own, not yet committed. */
  appliedSeq: number;
}

/** The SHOW statements the engine answers (the others read the catalog, on the writer's connection). */
export type EngineShow = 'INDEX STATUS' | 'PROCESSLIST' | 'EMBEDDING MODELS' | 'CLUSTER STATUS';
export const ENGINE_SHOWS: ReadonlySet<string> = new Set<EngineShow>(['INDEX STATUS', 'PROCESSLIST', 'EMBEDDING MODELS', 'CLUSTER STATUS']);

/** What a commit changed, for the engine to bring the indexes and its catalog up to date. */
export interface CommitInfo {
  /** The commit changed the schema. */
  schemaChanged: boolean;
  /** Tables a schema change rebuilt wholesale: their indexes are rebuilt from their rows. */
  rebuiltTables: string[];
  /** Cluster mode: the log position the commit holds (undefined when it changed nothing that replicates). */
  position?: number;
}

/** What the writer asks of the engine. */
export interface WriterHost {
  /** Index `name`'s state, and its size and shape when ready; undefined when there is none. */
  index(name: string): IndexSummary | undefined;
  /** Searches ready index `name`, as it is now (the writer's snapshot: nothing else commits). */
  search(name: string, query: Float32Array, options: SearchOptions): VectorHit[];
  /** The embedding models' resolveDims (core EmbeddingSource); throws as it does. */
  resolveDims(model: string, dims: number | undefined): number;
  /** Vectors at hand without waiting (the cache, the built-in model), undefined where not. */
  cached(model: string, dims: number, texts: string[]): (Float32Array | undefined)[];
  /** The configured models, for DDL's checks and SHOW EMBEDDING MODELS. */
  listModels(): ReturnType<EmbeddingSource['listModels']>;
  /** Refuses a request (its statements' kinds) that could add data while the data dir's disk is full. */
  admit(kinds: readonly A.Statement['kind'][]): void;
  /**
   * A failed write's error as the client should see it: STORAGE_FULL when a disk is full (the
   * engine then enters disk-full mode), or `error` itself. `what` says what it meant for the request.
   */
  diskFailed(error: unknown, what?: string): unknown;

  /** Waits until no read is taking its snapshot, and keeps new ones from starting, until commitDone. */
  commitStarting(): Promise<void>;
  /** After a commit (or a failed one: `info` null): the indexes catch up with it, and reads go on. */
  commitDone(info: CommitInfo | null): Promise<void>;
  /**
   * Cluster mode: appends a transaction's changeset to the replicated log, before it commits;
   * resolves with its position once a quorum has it. Throws a QuiverError when this node may
   * not write (NOT_PRIMARY) or the log cannot be reached (LOG_UNAVAILABLE): the writer rolls back.
   */
  append(changes: Uint8Array): Promise<{ position: number; epoch: number }>;
  /**
   * Cluster mode: a transaction appended at `position` failed to commit here (a full disk, an
   * I/O error): the node stops taking writes and applies it from the log like a replica.
   */
  lostCommit(position: number): Promise<void>;
  /** Embeds `misses` within the per-request and queue limits; the vectors in the same order. */
  fetchEmbeddings(misses: MissingTexts[]): Promise<Float32Array[][]>;
  /** OPTIMIZE TABLE `table`'s result (the indexes flush, merge and save). */
  optimize(table: string): Promise<StatementResult>;
  /** SHOW INDEX STATUS [FROM table], SHOW PROCESSLIST, SHOW EMBEDDING MODELS, SHOW CLUSTER STATUS: what only the engine knows. */
  show(what: EngineShow, table: string | undefined): StatementResult;
}

/** What the engine asks of its writer. */
export interface WriterApi {
  /**
   * Runs a request on the writer's connection (engine.ts Engine.execute says how). `admitted`:
   * the engine has already checked it against the disk's state (WriterHost.admit), so the
   * writer need not ask.
   */
  execute(sql: string, params: Params | undefined, options: ExecuteOptions, admitted: boolean): Promise<ExecuteResult>;
  /** Gives the space deletes freed back to the file system (disk-full mode). */
  reclaimSpace(): Promise<void>;
  /** An online backup of the database into `destFile`, from the connection that writes (backup.ts). */
  backup(destFile: string): Promise<BackupResult>;
  /** Cluster mode: applies one entry of the replicated log (writer-log.ts), in one transaction with its position. */
  apply(entry: LogEntry): Promise<void>;
  /** Cluster mode: where the data dir stands in the log; null on a single node. */
  logPosition(): Promise<LogPosition | null>;
  /** Resolves once the writer can take requests (its thread has opened the database); rejects if it cannot. */
  ready(): Promise<void>;
  /** Resolves once no request is running or waiting on the writer. */
  drain(): Promise<void>;
  /** Closes the writer's connection now: a request running is cut short, its transaction rolled back. */
  close(): void;
}
