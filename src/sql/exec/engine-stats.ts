/**
 * @module exec/engine-stats
 * What the engine tells about itself to probes and metrics (Engine.stats): numbers its own
 * thread holds already, read without a query, a lock or a message to another thread, so a
 * scrape or a readiness probe never waits behind user statements. From them, `notReady` says
 * what keeps the engine from serving every request at full speed.
 */
import type { IndexStatus } from './admin.ts';

export interface EngineStats {
  /** The engine's connection is open. */
  open: boolean;
  /** Engine.ready() has resolved: the writer (on its thread, in the server) takes requests. */
  writerReady: boolean;
  /**
   * Requests sent to the writer and not answered yet: running, waiting for its lock, or
   * waiting on an embedding provider. Counted on this thread, so a writer on its own thread
   * need not be asked.
   */
  writerRequests: number;
  /** The read workers; null when reads run on the writer. */
  readWorkers: { workers: number; busy: number; queued: number } | null;
  indexes: IndexStatus[];
}

/** Why `stats` is not ready, one reason a line; empty when it is. */
export function notReady(stats: EngineStats): string[] {
  if (!stats.open) return ['the database is not open'];
  const reasons: string[] = [];
  if (!stats.writerReady) reasons.push("the writer has not started yet");
  const loading = stats.indexes.filter((i) => i.state === 'loading').map((i) => i.index);
  if (loading.length > 0) reasons.push(`vector index(es) still loading: ${loading.join(', ')}`);
  return reasons;
}
