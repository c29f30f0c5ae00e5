/**
 * @module cluster/snapshot-keeper
 * Bootstrap and compaction with snapshots (stored by snapshots.ts):
 * - before a node opens its data dir, one the log cannot bring up to date (empty after the log
 *   was purged, or behind the log's first message) gets the latest snapshot; an old database
 *   is kept beside the data dir as `<dir>.behind-<time>`, never deleted;
 * - one replica (the node says which) stores a snapshot every `snapshotEvery` entries, an online
 *   backup of its database taken while it goes on applying the log, and purges the log before
 *   it, never past a live node's position: those go on from the log, not from a snapshot.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DATABASE_FILE, readLogPosition, restoreDatabase, type Engine } from '../sql/index.ts';
import type { LogStream } from './log-stream.ts';
import type { Snapshots } from './snapshots.ts';

/** The files of a data dir's database that a restored snapshot replaces (the vector indexes are built again from its rows). */
const DATABASE_FILES = [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, 'indexes'];
/** Where a replica writes a snapshot before storing it. */
const SNAPSHOT_FILE = 'snapshot.db.tmp';

export interface SnapshotKeeperOptions {
  dataDir: string;
  nodeId: string;
  /** Entries between snapshots; 0 never. */
  snapshotEvery: number;
}

export class SnapshotKeeper {
  /** The position the latest stored snapshot covers, as last learnt. */
  private snapshotAt = 0;
  private busy = false;

  constructor(
    private readonly store: Snapshots,
    private readonly log: LogStream,
    private readonly options: SnapshotKeeperOptions,
  ) {}

  /**
   * Before the engine opens the data dir: restores the latest snapshot into it when the log,
   * which starts at `first`, cannot bring it up to date. A data dir of another log is left for
   * the node to refuse, as it is.
   */
  async prepare(first: number): Promise<void> {
    const dir = this.options.dataDir;
    const at = readLogPosition(path.join(dir, DATABASE_FILE));
    const position = at?.position ?? 0;
    if (position >= first - 1 || (at?.log && at.log !== this.log.identity)) return;
    const file = `${dir}.snapshot-${Date.now()}`;
    try {
      const snapshot = await this.store.fetch(file);
      if (!snapshot || snapshot.position < first - 1) {
        throw new Error(`the log starts at ${first}, this data dir holds position ${position}, and no stored snapshot covers the gap; restore a backup of a node of this cluster into an empty data dir`);
      }
      // Restored beside the data dir, then moved in: its other files (the embedding config, the cache) stay.
      const restored = `${dir}.restoring-${Date.now()}`;
      restoreDatabase(file, restored);
      if (at) {
        const aside = `${dir}.behind-${Date.now()}`;
        fs.mkdirSync(aside, { mode: 0o700 });
        for (const name of DATABASE_FILES) if (fs.existsSync(path.join(dir, name))) fs.renameSync(path.join(dir, name), path.join(aside, name));
        console.log(`Quiver: the data dir was behind the log's start (position ${position}, the log starts at ${first}); its database is kept at ${aside}`);
      }
      fs.renameSync(path.join(restored, DATABASE_FILE), path.join(dir, DATABASE_FILE));
      fs.rmSync(restored, { recursive: true, force: true });
      console.log(`Quiver: restored the snapshot of position ${snapshot.position} (taken by ${snapshot.node} at ${snapshot.takenAt}); the log follows from there`);
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /**
   * On the replica that keeps the snapshots, once a heartbeat: stores a snapshot when enough
   * entries came since the last, else purges what the last one covers and no live node needs
   * (`positions`: the live nodes' applied positions; `first`: the log's first sequence).
   */
  tick(engine: Engine, positions: number[], first: number): void {
    if (this.busy || this.options.snapshotEvery === 0) return;
    this.busy = true;
    const work = engine.appliedPosition - this.snapshotAt >= this.options.snapshotEvery ? this.snapshot(engine, positions, first) : this.purge(this.snapshotAt, positions, first);
    void work
      .catch((e: unknown) => console.error(`quiver: could not store a snapshot or purge the log: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (this.busy = false));
  }

  private async snapshot(engine: Engine, positions: number[], first: number): Promise<void> {
    const latest = await this.store.latest();
    if (latest && engine.appliedPosition - latest.position < this.options.snapshotEvery) {
      this.snapshotAt = latest.position;
      return;
    }
    const file = path.join(this.options.dataDir, SNAPSHOT_FILE);
    try {
      await engine.backup(file);
      const covers = readLogPosition(file)!;
      await this.store.put(file, covers, this.options.nodeId);
      this.snapshotAt = covers.position;
      console.log(`Quiver: stored a snapshot of log position ${covers.position}`);
      await this.purge(covers.position, positions, first);
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /** Purges the log before `covers`, never past a live node's position; tried again each tick, so a node that caught up or left lets it go further. */
  private async purge(covers: number, positions: number[], first: number): Promise<void> {
    const keepFrom = Math.min(covers, ...positions) + 1;
    if (covers === 0 || keepFrom <= first) return;
    await this.log.purgeBefore(keepFrom);
    console.log(`Quiver: the log now starts at ${keepFrom} (a stored snapshot covers up to ${covers})`);
  }
}
