/**
 * @module exec/admin
 * The statements Quiver answers itself rather than SQLite, about its own state: SHOW INDEX
 * STATUS (each vector index's state, size, lag and failing save), SHOW PROCESSLIST (requests
 * waiting on an embedding provider) and SHOW EMBEDDING MODELS. Each reads, on the engine's
 * thread, what the executor holds; none touches the database.
 */
import type { EmbeddingSource } from '../../core/index.ts';
import { QuiverError } from '../../core/index.ts';
import type { Catalog } from '../catalog/index.ts';
import type { EmbeddingRound } from '../functions/index.ts';
import type { IndexRegistry } from '../index-sync/index.ts';
import type { SqlValue, StatementResult } from '../types.ts';
import { rowsResult } from './results.ts';
import type { ReplicatedLog } from './replicated-log.ts';

const INDEX_STATUS_COLUMNS = [
  'index', 'table', 'column', 'metric', 'state', 'rows', 'indexed_rows', 'tail_rows', 'segments', 'deleted_fraction',
  'lag_rows', 'lag_seconds', 'build', 'memory_bytes', 'quantization', 'save_error',
];

/** One vector index's state and size, as SHOW INDEX STATUS and the engine's stats report them. */
export interface IndexStatus {
  index: string;
  table: string;
  column: string;
  metric: string;
  /** `loading`, `ready`, `empty`, or `closed` when the registry holds none. */
  state: string;
  rows: number;
  indexedRows: number;
  tailRows: number;
  segments: number;
  /** Deleted rows still in segments, over all rows in segments; 0 with none. */
  deletedFraction: number;
  lagRows: number;
  lagSeconds: number;
  build: string | null;
  memoryBytes: number;
  quantization: string;
  saveError: string | null;
}

/** Each vector index of table `tableName`, or of every table: what SHOW INDEX STATUS and Engine.stats show. */
export function indexStatuses(catalog: Catalog, indexes: IndexRegistry, tableName?: string): IndexStatus[] {
  const tables = tableName === undefined ? catalog.tables() : [catalog.table(tableName)];
  if (tables.some((t) => t === undefined)) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${tableName}`);
  return tables.flatMap((t) =>
    t!.vectorIndexes.map((v): IndexStatus => {
      const st = indexes.stats(v.name);
      const deleted = st ? st.segments.reduce((sum, seg) => sum + (seg.rows - seg.aliveRows), 0) : 0;
      const inSegments = st ? st.segments.reduce((sum, seg) => sum + seg.rows, 0) : 0;
      return {
        index: v.name, table: t!.name, column: v.column, metric: v.metric, state: indexes.state(v.name) ?? 'closed',
        rows: st?.rows ?? 0, indexedRows: st?.indexedRows ?? 0, tailRows: st?.tailRows ?? 0, segments: st?.segments.length ?? 0,
        deletedFraction: inSegments ? deleted / inSegments : 0, lagRows: st?.lagRows ?? 0, lagSeconds: st?.lagSeconds ?? 0,
        build: st?.build ? `${st.build.kind} of ${st.build.rows} rows, ${st.build.seconds.toFixed(1)} s` : null,
        memoryBytes: st?.memoryBytes ?? 0,
        quantization: v.quantization,
        saveError: indexes.saveError(v.name),
      };
    }),
  );
}

/** SHOW INDEX STATUS [FROM t]: each vector index's state, size, lag, and why its last save failed. */
export function showIndexStatus(catalog: Catalog, indexes: IndexRegistry, tableName: string | undefined): StatementResult {
  const rows = indexStatuses(catalog, indexes, tableName).map((s): SqlValue[] => [
    s.index, s.table, s.column, s.metric, s.state, s.rows, s.indexedRows, s.tailRows, s.segments, s.deletedFraction,
    s.lagRows, s.lagSeconds, s.build, s.memoryBytes, s.quantization, s.saveError,
  ]);
  return rowsResult(INDEX_STATUS_COLUMNS, rows);
}

/** SHOW PROCESSLIST: the requests waiting on an embedding provider, with their progress. */
export function showProcessList(fetching: Iterable<EmbeddingRound>): StatementResult {
  const rows = [...fetching].flatMap((round): SqlValue[][] => {
    const p = round.progress;
    return p ? [[p.model, p.done, p.total, (Date.now() - p.startedAt) / 1000, `embedding ${p.done}/${p.total} texts`]] : [];
  });
  return rowsResult(['model', 'texts_done', 'texts_total', 'seconds', 'state'], rows);
}

/** SHOW CLUSTER STATUS: the cluster's nodes as GET /v1/cluster shows them (as of the last heartbeat). */
export function showClusterStatus(log: ReplicatedLog | null): StatementResult {
  if (!log) throw new QuiverError('UNSUPPORTED_STATEMENT', 'SHOW CLUSTER STATUS: this server runs as a single node (QUIVER_NATS_URL is not set)');
  return rowsResult(
    ['id', 'role', 'url', 'epoch', 'applied_position', 'lag_messages', 'lag_seconds', 'caught_up', 'updated_at'],
    log.clusterStatus().map((n) => [n.id, n.role, n.url, n.epoch, n.appliedPosition, n.lagMessages, n.lagSeconds, n.caughtUp ? 1 : 0, n.updatedAt]),
  );
}

/** SHOW EMBEDDING MODELS: the models EMBEDDING() can call. */
export function showEmbeddingModels(source: EmbeddingSource | null): StatementResult {
  const models = source?.listModels() ?? [];
  return rowsResult(
    ['model', 'provider', 'dims', 'max_batch', 'max_concurrency'],
    models.map((m) => [m.name, m.provider, m.dims, m.maxBatch, m.maxConcurrency]),
  );
}
