/**
 * @module cluster/registry
 * The cluster's KV bucket (NATS JetStream KV): who holds the primary's lease, and each node's
 * status. Leases and status only: KV compare-and-set (`update` at a revision) is not safe on a
 * nats-server 2.9.10 cluster, so nothing here is a mutex. The lease decides who *tries* to be
 * primary (`create`, which is safe, wins for one node); the log's fencing (log-stream.ts)
 * decides who *is*. Every key expires with the bucket's TTL unless rewritten: a dead primary's
 * lease and a dead node's status go away on their own.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

const LEASE_KEY = 'primary';
const STATUS_PREFIX = 'status.';

/** Who holds (or held) the primary's lease. */
export interface Lease {
  node: string;
  url: string;
}

/** A node's status, as it writes it every heartbeat and /v1/cluster shows it. */
export interface NodeStatus {
  id: string;
  /** The data dir's instance: tells a restarted node from another node given the same id. */
  instance: string;
  role: 'primary' | 'replica' | 'candidate' | 'starting';
  url: string;
  epoch: number;
  appliedPosition: number;
  /** The stream's last sequence as this node last saw it. */
  logPosition: number;
  /** When this node last held everything the log held (ms since the epoch); 0 never. */
  caughtUpAt: number;
  updatedAt: number;
}

export class Registry {
  private constructor(private readonly kv: KV) {}

  /** Opens the cluster's bucket, creating it with `ttlMs` as every key's lifetime. */
  static async open(nc: NatsConnection, cluster: string, replicas: number, ttlMs: number): Promise<Registry> {
    const kv = await new Kvm(nc).create(`quiver_${cluster}`, { history: 1, ttl: ttlMs, replicas });
    return new Registry(kv);
  }

  /** The lease, or null when no one holds it (expired, released). */
  async lease(): Promise<Lease | null> {
    const e = await this.kv.get(LEASE_KEY);
    if (!e || e.operation !== 'PUT' || e.value.length === 0) return null;
    return e.json<Lease>();
  }

  /** Takes the free lease; false when another node holds it. */
  async takeLease(lease: Lease): Promise<boolean> {
    try {
      await this.kv.create(LEASE_KEY, JSON.stringify(lease));
      return true;
    } catch {
      return false;
    }
  }

  /** Rewrites the lease this node holds, restarting its TTL. */
  async renewLease(lease: Lease): Promise<void> {
    await this.kv.put(LEASE_KEY, JSON.stringify(lease));
  }

  /** Gives the lease up (a clean stop of the primary), so another node need not wait out its TTL. */
  async releaseLease(): Promise<void> {
    await this.kv.delete(LEASE_KEY);
  }

  /**
   * Registers node `status.id`; refuses (returns the holder) when a live node of another data
   * dir already writes that id's status.
   */
  async register(status: NodeStatus): Promise<NodeStatus | null> {
    const key = STATUS_PREFIX + status.id;
    try {
      await this.kv.create(key, JSON.stringify(status));
      return null;
    } catch {
      const e = await this.kv.get(key);
      const holder = e && e.operation === 'PUT' && e.value.length > 0 ? e.json<NodeStatus>() : null;
      if (holder && holder.instance !== status.instance) return holder;
      await this.kv.put(key, JSON.stringify(status));
      return null;
    }
  }

  async putStatus(status: NodeStatus): Promise<void> {
    await this.kv.put(STATUS_PREFIX + status.id, JSON.stringify(status));
  }

  /** The status of every live node. */
  async statuses(): Promise<NodeStatus[]> {
    const keys: string[] = [];
    for await (const k of await this.kv.keys(`${STATUS_PREFIX}>`)) keys.push(k);
    const all = await Promise.all(keys.map((k) => this.kv.get(k)));
    return all.filter((e) => e && e.operation === 'PUT' && e.value.length > 0).map((e) => e!.json<NodeStatus>());
  }
}
