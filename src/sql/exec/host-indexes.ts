/**
 * @module exec/host-indexes
 * The vector indexes as the writer's planner sees them: they live with the engine (the
 * WriterHost), and the writer reaches them through it — their size and shape to choose a path,
 * their search to find candidates. The writer is the only connection that commits, so while it
 * runs a statement the indexes hold exactly what its snapshot holds, less what its own open
 * transaction changed, which its copy of the change log tells.
 */
import type Database from 'better-sqlite3';
import type { SearchOptions, VectorHit } from '../../index/index.ts';
import { ChangeLog } from '../index-sync/index.ts';
import type { IndexLookup, SearchableIndex } from '../plan/index.ts';
import type { WriterHost } from './writer-host.ts';

export class HostIndexes implements IndexLookup {
  private readonly log: ChangeLog;

  constructor(
    private readonly host: WriterHost,
    db: Database.Database,
  ) {
    this.log = new ChangeLog(db);
  }

  ready(name: string): SearchableIndex | undefined {
    const ready = this.host.index(name)?.ready;
    if (!ready) return undefined;
    const host = this.host;
    return {
      size: ready.size,
      dims: ready.dims,
      stats: () => ({ segments: { length: ready.segments }, tailRows: ready.tailRows }),
      search: (query: Float32Array, options: SearchOptions): VectorHit[] => host.search(name, query, options),
    };
  }

  state(name: string): string | undefined {
    return this.host.index(name)?.state;
  }

  hasUncommittedChanges(name: string): boolean {
    const index = this.host.index(name);
    return index !== undefined && this.log.hasEntriesAfter(index.appliedSeq, name);
  }
}
