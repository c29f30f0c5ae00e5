/**
 * @module exec/replicated-log
 * Cluster mode: the replicated log as the engine sees it. src/cluster implements it on NATS
 * JetStream; the engine hands appends to it from its writer (writer-log.ts) and asks it who
 * may write; a single node has none.
 */

/** The replicated log as the engine sees it (cluster mode). */
export interface ReplicatedLog {
  /** Throws a QuiverError (NOT_PRIMARY, LOG_UNAVAILABLE) when this node may not take writes now. */
  checkWritable(): void;
  /** Appends a transaction's changeset before it commits (WriterHost.append). */
  append(changes: Uint8Array): Promise<{ position: number; epoch: number }>;
  /** The transaction appended at `position` could not commit here: stop taking writes, and apply it from the log. */
  lostCommit(position: number): void;
  /** The cluster's nodes as last heard of, for SHOW CLUSTER STATUS. */
  clusterStatus(): ClusterNodeStatus[];
}

/** A node of the cluster as SHOW CLUSTER STATUS shows it (GET /v1/cluster's shape). */
export interface ClusterNodeStatus {
  id: string;
  role: string;
  url: string;
  epoch: number;
  appliedPosition: number;
  lagMessages: number;
  lagSeconds: number;
  caughtUp: boolean;
  updatedAt: string;
}
