/**
 * @module cluster/node
 * One Quiver node of a cluster: the replicated log as the engine sees it (ReplicatedLog), and
 * the node's role in it. Every node starts as a replica, following the log from its own
 * position and applying each transaction in one SQLite transaction with that position. When
 * no node holds the primary's lease (registry.ts), a caught-up replica takes it, catches up
 * with the log's very end, and appends an epoch marker right after it (fenced, log-stream.ts):
 * only if that succeeds does it take writes. A primary whose append is fenced, or who finds
 * the lease in another's hands, steps down and follows the log again; one whose append could
 * not reach the log steps down too, and learns from the log whether it landed. Nothing here
 * votes, elects or gossips: JetStream's Raft does that for the stream and the bucket. Following
 * the log is follower.ts's; snapshots, snapshot-keeper.ts's.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { QuiverError, isQuiverError } from '../core/index.ts';
import type { ClusterNodeStatus, Engine, ReplicatedLog } from '../sql/index.ts';
import { Follower } from './follower.ts';
import { FencedError, LogStream, LogStreamError } from './log-stream.ts';
import { connectWithin } from './nats-connection.ts';
import { Registry, type Lease, type NodeStatus } from './registry.ts';
import { SnapshotKeeper } from './snapshot-keeper.ts';
import { Snapshots } from './snapshots.ts';

export interface ClusterConfig {
  /** NATS servers, comma-separated (QUIVER_NATS_URL). */
  natsUrl: string;
  /** This node's name in the cluster (QUIVER_NODE_ID). */
  nodeId: string;
  /** The URL other nodes and clients reach this node's HTTP API at (QUIVER_ADVERTISE_URL). */
  advertiseUrl: string;
  /** The cluster's name: several clusters can share one NATS (QUIVER_CLUSTER). */
  cluster: string;
  /** JetStream replicas of the log and the bucket (QUIVER_LOG_REPLICAS). */
  replicas: number;
  /** How long a primary's lease and a node's status live unless renewed (QUIVER_LEASE_MS). */
  leaseMs: number;
  /** How long a write waits for the log through an election before 503 (QUIVER_LOG_TIMEOUT_MS). */
  appendTimeoutMs: number;
  /** How long the first connection to NATS is tried before the start fails (QUIVER_NATS_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs: number;
  /** A replica stores a snapshot after this many log entries since the last one, then purges the log up to it; 0 never (QUIVER_SNAPSHOT_EVERY). */
  snapshotEvery: number;
  dataDir: string;
}

/** A node as GET /v1/cluster and SHOW CLUSTER STATUS show it: the engine's shape, with the roles a node has. */
export type ClusterNodeView = ClusterNodeStatus & { role: NodeStatus['role'] };

/** This node's figures for /metrics. */
export interface ClusterStats {
  primary: boolean;
  epoch: number;
  appliedPosition: number;
  /** The log's last position as last learnt. */
  logPosition: number;
  lagMessages: number;
}

const HEARTBEAT_MS = 1000;
/** The file in the data dir naming its instance, so a restarted node is told from another given the same id. */
const INSTANCE_FILE = 'cluster-instance';

export class ClusterNode implements ReplicatedLog {
  private role: NodeStatus['role'] = 'starting';
  private epoch = 0;
  /** The last message this node has read or appended. */
  private seen = 0;
  /** The log's last sequence as last learnt. */
  private logLast = 0;
  private caughtUpAt = 0;
  /** Who holds the primary's lease, as last read. */
  private primary: Lease | null = null;
  /** Set while this node follows the log (a replica). */
  private follower: Follower | null = null;
  private readonly keeper: SnapshotKeeper;
  private timers: NodeJS.Timeout[] = [];
  private engine: Engine | null = null;
  private appends = 0;
  /** Set while an append waits for the log's answer. */
  private appending = false;
  private connected = true;
  private stopped = false;
  private readonly instance: string;
  private lastNodes: ClusterNodeView[] = [];

  private constructor(
    private readonly config: ClusterConfig,
    private readonly nc: NatsConnection,
    private readonly log: LogStream,
    private readonly registry: Registry,
    snapshots: Snapshots,
  ) {
    this.instance = instanceOf(config.dataDir);
    this.keeper = new SnapshotKeeper(snapshots, log, config);
    void this.watchConnection();
  }

  /** Connects to NATS and opens the cluster's log and bucket; a clear error when NATS cannot be reached. */
  static async connect(config: ClusterConfig): Promise<ClusterNode> {
    const deadline = Date.now() + config.connectTimeoutMs;
    const nc = await connectWithin(config, deadline);
    // JetStream may be electing leaders (a NATS server just died or restarted): its API times out meanwhile.
    for (;;) {
      try {
        const log = await LogStream.open(nc, { cluster: config.cluster, replicas: config.replicas, appendTimeoutMs: config.appendTimeoutMs });
        const registry = await Registry.open(nc, config.cluster, config.replicas, config.leaseMs);
        const snapshots = await Snapshots.open(nc, config.cluster, config.replicas);
        return new ClusterNode(config, nc, log, registry, snapshots);
      } catch (e) {
        if (Date.now() < deadline && !(e instanceof LogStreamError)) {
          await sleep(500);
          continue;
        }
        await nc.close();
        const why = e instanceof Error ? e.message : String(e);
        throw new Error(
          `NATS at ${config.natsUrl} answers, but JetStream did not open the cluster's log within ${config.connectTimeoutMs} ms (QUIVER_NATS_CONNECT_TIMEOUT_MS): ${why}. Is JetStream enabled, with a quorum of its servers up?`,
        );
      }
    }
  }

  /**
   * Before the engine opens the data dir: one the log cannot bring up to date (empty after the
   * log was purged, or behind the log's first message) gets the latest snapshot first; the old
   * data dir is kept beside it, renamed `<dir>.behind-<time>`.
   */
  async prepareDataDir(): Promise<void> {
    const { first } = await this.boundsWithin(this.config.connectTimeoutMs);
    await this.keeper.prepare(first);
  }

  /**
   * Joins the cluster with `engine`'s data dir: checks that it follows this cluster's log and
   * that no other live node has this id, then follows the log as a replica.
   */
  async start(engine: Engine): Promise<void> {
    this.engine = engine;
    const at = await engine.logPosition();
    if (at.log !== null && at.log !== this.log.identity) {
      throw new Error(
        `the data dir ${this.config.dataDir} follows the log ${at.log}, not this cluster's ${this.log.identity}: it belongs to another cluster (or its stream was deleted and made again). Give this node an empty data dir`,
      );
    }
    const { first, last } = await this.boundsWithin(this.config.connectTimeoutMs);
    if (at.position > last) {
      throw new Error(`the data dir ${this.config.dataDir} holds log position ${at.position}, past the log's end (${last}): it is not this log's. Give this node an empty data dir`);
    }
    if (at.position < first - 1) {
      throw new Error(`the log no longer holds position ${at.position + 1}, which this data dir needs next (it starts at ${first}); restore a snapshot into an empty data dir`);
    }
    this.seen = at.position;
    this.epoch = at.epoch;
    this.logLast = last;
    const holder = await this.registry.register(this.status());
    if (holder) {
      throw new Error(
        `node id ${this.config.nodeId} is in use by a running node at ${holder.url}; give each node its own QUIVER_NODE_ID (if that node is gone, its status expires within ${Math.ceil(this.config.leaseMs / 1000)} s)`,
      );
    }
    this.role = 'replica';
    this.follower = this.followerFor(engine);
    this.follower.start();
    this.every(HEARTBEAT_MS, () => this.heartbeat());
    this.every(Math.max(250, Math.floor(this.config.leaseMs / 4)), () => this.elect());
  }

  // -------------------------------------------------------------------------------------------
  // ReplicatedLog: what the engine asks

  checkWritable(): void {
    if (!this.connected) throw logUnavailable();
    if (this.role !== 'primary') throw this.notPrimary();
  }

  async append(changes: Uint8Array): Promise<{ position: number; epoch: number }> {
    if (this.role !== 'primary') throw this.notPrimary();
    const id = `${this.config.nodeId}.${this.instance}.${this.epoch}.${++this.appends}`;
    this.appending = true;
    try {
      const position = await this.log.appendTransaction(changes, this.seen, this.epoch, id);
      this.seen = position;
      this.logLast = Math.max(this.logLast, position);
      return { position, epoch: this.epoch };
    } catch (e) {
      if (e instanceof FencedError) {
        this.stepDown(e.message);
        throw new QuiverError('NOT_PRIMARY', 'another node took over as primary while this write ran; nothing was committed. Retry it', { retryAfterSeconds: 1 });
      }
      // Whether it landed is the log's to say: following it again, this node learns.
      if (isQuiverError(e) && e.code === 'LOG_UNAVAILABLE') this.stepDown('the log could not be reached');
      throw e;
    } finally {
      this.appending = false;
    }
  }

  /**
   * Whether this node is still the primary, asked of the log: nothing was appended after what
   * this node last appended or saw. A primary that was paused past its lease learns here that
   * another took over (and steps down) before it answers a strong read or takes its lease back.
   */
  async confirmPrimary(): Promise<boolean> {
    const deadline = Date.now() + this.config.appendTimeoutMs;
    while (this.role === 'primary') {
      // Its own append in flight moves the log's end before this node sees the ack: wait for it.
      if (!this.appending) {
        const { last } = await this.log.bounds();
        if (last <= this.seen) return true;
        if (!this.appending) {
          this.stepDown(`the log moved to ${last}, past this node's ${this.seen}: another node is the primary`);
          return false;
        }
      }
      if (Date.now() >= deadline) return false;
      await sleep(10);
    }
    return false;
  }

  lostCommit(position: number): void {
    this.stepDown(`the transaction at log position ${position} could not commit here; this node takes it from the log`);
  }

  // -------------------------------------------------------------------------------------------
  // What the API asks

  /** The primary's URL, for forwarding writes; null when this node is primary or none is known. */
  primaryUrl(): string | null {
    if (this.role === 'primary' || !this.primary || this.primary.node === this.config.nodeId) return null;
    return this.primary.url;
  }

  /** The primary's URL as this node knows it (its own when it is the primary); null when none is known. */
  currentPrimaryUrl(): string | null {
    return this.role === 'primary' ? this.config.advertiseUrl : this.primaryUrl();
  }

  /**
   * The URL writes go to, once a primary is known (this node's own when it is the primary),
   * waiting at most `timeoutMs` through an election; null if none is known by then.
   */
  async awaitPrimary(timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const url = this.currentPrimaryUrl();
      if (url || Date.now() >= deadline || this.stopped) return url;
      await sleep(100);
    }
  }

  get isPrimary(): boolean {
    return this.role === 'primary';
  }

  /** Why this node cannot serve yet (GET /ready), or null when it can: it holds everything the log held when last asked. */
  notReady(): string | null {
    if (this.role === 'starting' || this.role === 'candidate') return `the node is ${this.role === 'starting' ? 'starting' : 'becoming the primary'}`;
    if (this.role === 'replica' && this.seen < this.logLast) return `the node is catching up with the log: position ${this.seen} of ${this.logLast}`;
    return null;
  }

  /** This node's place in the cluster, for /metrics (read at scrape time, no query). */
  stats(): ClusterStats {
    const applied = this.engine?.appliedPosition ?? 0;
    return { primary: this.role === 'primary', epoch: this.epoch, appliedPosition: applied, logPosition: this.logLast, lagMessages: this.role === 'primary' ? 0 : Math.max(0, this.logLast - applied) };
  }

  /** The nodes as the last heartbeat read them (SHOW CLUSTER STATUS, which cannot wait on NATS). */
  clusterStatus(): ClusterNodeView[] {
    return this.lastNodes;
  }

  /** Every live node's status, with lags against the log's end. */
  async nodes(): Promise<ClusterNodeView[]> {
    // This node's own status is what it knows now, not what it last wrote.
    const statuses = [...(await this.registry.statuses()).filter((s) => s.id !== this.config.nodeId), this.status()];
    const last = Math.max(this.logLast, ...statuses.map((s) => s.logPosition));
    const now = Date.now();
    return statuses
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((s) => {
        const lagMessages = s.role === 'primary' ? 0 : Math.max(0, last - s.appliedPosition);
        const caughtUp = lagMessages === 0;
        return {
          id: s.id,
          role: s.role,
          url: s.url,
          epoch: s.epoch,
          appliedPosition: s.appliedPosition,
          lagMessages,
          lagSeconds: caughtUp || s.caughtUpAt === 0 ? 0 : Math.round((now - s.caughtUpAt) / 100) / 10,
          caughtUp,
          updatedAt: new Date(s.updatedAt).toISOString(),
        };
      });
  }

  /** Leaves the cluster: gives the lease up when primary (no one need wait out its TTL), stops following. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    const wasPrimary = this.role === 'primary';
    this.role = 'starting';
    await this.follower?.stop();
    if (wasPrimary) await this.registry.releaseLease().catch(() => {});
    await this.nc.drain().catch(() => {});
  }

  // -------------------------------------------------------------------------------------------
  // Following the log

  /** The follower of this node's engine: it tells the node how far it has read and applied. */
  private followerFor(engine: Engine): Follower {
    return new Follower(this.log, engine, {
      read: (seq, pending) => {
        this.seen = seq;
        this.logLast = Math.max(this.logLast, seq + pending);
        if (pending === 0) this.caughtUpAt = Date.now();
      },
      applied: (epoch) => (this.epoch = epoch),
    });
  }

  // -------------------------------------------------------------------------------------------
  // The lease and the primary's role

  /** Replica: takes a free lease when caught up. Primary: keeps its lease, or steps down when it is another's. */
  private async elect(): Promise<void> {
    const lease = await this.registry.lease();
    this.primary = lease;
    const me = { node: this.config.nodeId, url: this.config.advertiseUrl };
    if (this.role === 'primary') {
      if (lease && lease.node !== me.node) return this.stepDown(`node ${lease.node} holds the primary's lease`);
      // A lease that ran out (this node was paused) is taken back only if no one appended since.
      if (!lease && !(await this.confirmPrimary())) return;
      await this.registry.renewLease(me);
    } else if (this.role === 'replica' && this.seen >= this.logLast) {
      // A lease in this node's own name is one it held before it restarted or stepped down.
      if (lease?.node === me.node || (!lease && (await this.registry.takeLease(me)))) await this.becomePrimary(me);
    }
  }

  /**
   * Holding the lease: catches up with the log's end, then appends an epoch marker right after
   * it. Serving writes only once that append succeeds is what makes the lease safe to hold
   * twice: a node that did not see the log's end cannot append after it.
   */
  private async becomePrimary(me: Lease): Promise<void> {
    this.role = 'candidate';
    try {
      for (let attempt = 0; attempt < 40 && !this.stopped; attempt++) {
        const { last } = await this.log.bounds();
        if (this.seen < last) {
          await sleep(50);
          continue;
        }
        await this.follower!.stop();
        try {
          const marker = new TextEncoder().encode(JSON.stringify(me));
          const epoch = await this.log.appendEpoch(marker, this.seen, `${me.node}.${this.instance}.epoch.${this.seen}.${Date.now()}`);
          await this.engine!.applyLogEntry({ position: epoch, epoch, changes: null, log: this.log.identity });
          this.epoch = epoch;
          this.seen = epoch;
          this.logLast = epoch;
          this.primary = me;
          this.role = 'primary';
          console.log(`Quiver: node ${me.node} is the primary (epoch ${epoch})`);
          return;
        } catch (e) {
          if (!(e instanceof FencedError)) throw e;
          this.follower!.start();
        }
      }
      throw new Error('the log kept moving: another node appended while this one caught up');
    } catch (e) {
      console.error(`quiver: could not become the primary: ${e instanceof Error ? e.message : String(e)}`);
      this.role = 'replica';
      this.follower!.start();
      await this.registry.releaseLease().catch(() => {});
    }
  }

  /** The log's bounds, waiting up to `ms` through a stream election (a server just restarted may not know the leader yet). */
  private async boundsWithin(ms: number): Promise<{ first: number; last: number }> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        return await this.log.bounds();
      } catch (e) {
        if (Date.now() >= deadline) throw e;
        await sleep(250);
      }
    }
  }

  private stepDown(why: string): void {
    if (this.role !== 'primary') return;
    console.error(`quiver: node ${this.config.nodeId} steps down as primary: ${why}`);
    this.role = 'replica';
    this.follower!.start();
  }

  private notPrimary(): QuiverError {
    const url = this.primaryUrl();
    return new QuiverError(
      'NOT_PRIMARY',
      url ? `this node is a replica; writes go to the primary at ${url}` : 'no node is the primary right now (one is being chosen); retry shortly',
      { retryAfterSeconds: 1 },
    );
  }

  // -------------------------------------------------------------------------------------------
  // Status

  private status(): NodeStatus {
    return {
      id: this.config.nodeId,
      instance: this.instance,
      role: this.role,
      url: this.config.advertiseUrl,
      epoch: this.epoch,
      appliedPosition: this.engine?.appliedPosition ?? 0,
      logPosition: this.logLast,
      caughtUpAt: this.caughtUpAt,
      updatedAt: Date.now(),
    };
  }

  private async heartbeat(): Promise<void> {
    const { first, last } = await this.log.bounds();
    this.logLast = Math.max(this.logLast, last);
    if (this.role === 'replica') this.follower!.restartIfStalled(this.seen, this.logLast);
    if (this.role === 'primary' || this.seen >= this.logLast) this.caughtUpAt = Date.now();
    await this.registry.putStatus(this.status());
    this.lastNodes = await this.nodes();
    if (this.keepsSnapshots()) this.keeper.tick(this.engine!, this.lastNodes.map((n) => n.appliedPosition), first);
  }

  /** Whether this node keeps the snapshots (and purges the log): the first caught-up replica by id. */
  private keepsSnapshots(): boolean {
    if (this.role !== 'replica') return false;
    const keeper = this.lastNodes.filter((n) => n.role === 'replica' && n.caughtUp).map((n) => n.id).sort()[0];
    return keeper === this.config.nodeId;
  }

  /** Runs `task` every `ms`, one run at a time; a failure (NATS away) is tried again next time. */
  private every(ms: number, task: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.stopped) return;
      running = true;
      task().catch(() => {}).finally(() => (running = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async watchConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.connected = false;
      else if (s.type === 'reconnect') this.connected = true;
    }
  }
}

function logUnavailable(): QuiverError {
  return new QuiverError('LOG_UNAVAILABLE', 'this node has lost NATS JetStream, the log every write goes through first; reads go on. Retry the write shortly', { retryAfterSeconds: 2 });
}

function instanceOf(dataDir: string): string {
  const file = path.join(dataDir, INSTANCE_FILE);
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const id = randomUUID();
    fs.writeFileSync(file, id, { mode: 0o600 });
    return id;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
