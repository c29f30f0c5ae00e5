/**
 * @module replication
 * The SQL side of replication: capturing what a transaction changed as a changeset for the log
 * (capture.ts, changeset.ts, values.ts), applying a changeset's rows on a replica (apply.ts),
 * and the position in the log a data dir holds (position.ts). The log itself (NATS JetStream)
 * is src/cluster's; the writer (../exec/writer.ts) ties the two together.
 */
export { Capture } from './capture.ts';
export { decodeChangeset, embeddingCallKey, type Change, type Changeset } from './changeset.ts';
export { RowApplier } from './apply.ts';
export { PositionTable, readLogPosition, type LogPosition } from './position.ts';
