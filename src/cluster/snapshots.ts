/**
 * @module cluster/snapshots
 * Snapshots for bootstrap, in the cluster's JetStream object store: a SQLite backup of a
 * replica's database with the log position it covers. A new node, or one whose data dir is
 * behind the log's first message, restores the latest and replays the log from there. The log
 * is purged only up to a snapshot that is stored (and never past what a live node still needs),
 * so a bootstrap always finds the log continuing where the snapshot stops.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { LogPosition } from '../sql/index.ts';

const LATEST = 'latest';

/** What a stored snapshot covers. */
export interface SnapshotInfo extends LogPosition {
  bytes: number;
  takenAt: string;
  /** The node that took it. */
  node: string;
}

export class Snapshots {
  private constructor(private readonly store: ObjectStore) {}

  static async open(nc: NatsConnection, cluster: string, replicas: number): Promise<Snapshots> {
    const store = await new Objm(nc).create(`quiver_${cluster}_snapshots`, { replicas, description: `Quiver cluster ${cluster}: snapshots for bootstrap` });
    return new Snapshots(store);
  }

  /** The latest snapshot's description, or null when none was taken yet. */
  async latest(): Promise<SnapshotInfo | null> {
    const info = await this.store.info(LATEST);
    if (!info || info.deleted || !info.description) return null;
    return JSON.parse(info.description) as SnapshotInfo;
  }

  /** Stores `file` (a backup covering `covers`) as the latest snapshot. */
  async put(file: string, covers: LogPosition, node: string): Promise<SnapshotInfo> {
    const info: SnapshotInfo = { ...covers, bytes: fs.statSync(file).size, takenAt: new Date().toISOString(), node };
    const data = Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>;
    await this.store.put({ name: LATEST, description: JSON.stringify(info) }, data);
    return info;
  }

  /** Writes the latest snapshot into `file`; its description, or null when there is none. */
  async fetch(file: string): Promise<SnapshotInfo | null> {
    const result = await this.store.get(LATEST);
    if (!result || !result.info.description) return null;
    await pipeline(Readable.fromWeb(result.data as import('node:stream/web').ReadableStream<Uint8Array>), fs.createWriteStream(file, { mode: 0o600 }));
    const error = await result.error;
    if (error) throw error;
    return JSON.parse(result.info.description) as SnapshotInfo;
  }
}
