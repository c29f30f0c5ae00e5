/**
 * @module cluster/log-stream
 * The replicated write-ahead log: one NATS JetStream stream per cluster, replicated by
 * JetStream's own Raft (a publish is acknowledged once a quorum has it). Quiver never commits
 * a write the stream lacks (../sql exec/writer-log.ts), and never writes consensus of its own:
 * - a primary appends with `Nats-Expected-Last-Sequence`, checked by JetStream as it stores
 *   the message, so a stale primary (paused, partitioned) is refused: it is *fenced*;
 * - a retried append carries the same `Nats-Msg-Id`, so JetStream stores it once and answers
 *   the retry with the first one's sequence;
 * - a transaction larger than a message goes as consecutive parts (fenced, so nothing comes
 *   between them), and readers apply it only once its last part is there;
 * - replicas read with an ordered consumer from their own position, not a durable consumer
 *   each (another Raft group per replica, and interest retention would delete the log).
 */
import { JetStreamApiError, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { QuiverError } from '../core/index.ts';

/** Headers of the log's messages. */
const HEADER = {
  /** `txn` (a transaction's changeset, or one part of it) or `epoch` (a new primary's marker). */
  kind: 'Quiver-Kind',
  /** The epoch (the position of its primary's marker) the message was written in. */
  epoch: 'Quiver-Epoch',
  /** `i/n`: part i of the n a transaction's changeset was split into. */
  part: 'Quiver-Part',
} as const;

/** Room left in NATS's 1 MiB message for the headers. */
const MAX_PART_BYTES = 1024 * 1024 - 16 * 1024;

/** JetStream's "wrong last sequence": another writer appended first. */
const WRONG_LAST_SEQUENCE = 10071;

/** A message of the log as a reader sees it. */
export interface LogMessage {
  seq: number;
  kind: 'txn' | 'epoch';
  epoch: number;
  /** [i, n] for a transaction's part i of n. */
  part: [number, number];
  data: Uint8Array;
  /** Messages after this one in the stream when it was delivered. */
  pending: number;
}

/** The stream cannot be made as configured: retrying will not help. */
export class LogStreamError extends Error {}

/** This node was fenced off: another primary appended since its last append. */
export class FencedError extends Error {}

export interface LogStreamOptions {
  /** The cluster's name: the stream is QUIVER_<name>_LOG on subject quiver.<name>.log. */
  cluster: string;
  /** JetStream replicas of the stream (1, 3 or 5). */
  replicas: number;
  /** How long an append retries through an election or a lost connection before it fails. */
  appendTimeoutMs: number;
}

export class LogStream {
  readonly name: string;
  private readonly subject: string;
  private readonly js: JetStreamClient;

  private constructor(
    private readonly jsm: JetStreamManager,
    nc: NatsConnection,
    private readonly options: LogStreamOptions,
    /** The stream's identity: its name and creation time, recorded in each data dir that follows it. */
    readonly identity: string,
  ) {
    this.name = streamName(options.cluster);
    this.subject = `quiver.${options.cluster}.log`;
    this.js = jetstream(nc);
  }

  /** Opens the cluster's stream, creating it on the first start of the first node. */
  static async open(nc: NatsConnection, options: LogStreamOptions): Promise<LogStream> {
    const jsm = await jetstreamManager(nc);
    const name = streamName(options.cluster);
    let info;
    try {
      info = await jsm.streams.info(name);
    } catch (e) {
      if (!(e instanceof JetStreamApiError) || e.code !== 10059) throw e;
      info = await jsm.streams.add({
        name,
        subjects: [`quiver.${options.cluster}.log`],
        num_replicas: options.replicas,
        description: `Quiver cluster ${options.cluster}: the replicated write-ahead log`,
        duplicate_window: 120_000_000_000,
      }).catch((err: unknown) => {
        if (!(err instanceof JetStreamApiError)) throw err;
        throw new LogStreamError(
          `cannot create the log stream ${name} with ${options.replicas} replicas: ${err instanceof Error ? err.message : String(err)}` +
            (options.replicas > 1 ? ` (a single nats-server holds 1: set QUIVER_LOG_REPLICAS=1)` : ''),
        );
      });
    }
    return new LogStream(jsm, nc, options, `${name}@${info.created}`);
  }

  /** The sequence of the stream's last message (0 when empty), and of its first. */
  async bounds(): Promise<{ first: number; last: number }> {
    const { state, cluster } = await this.jsm.streams.info(this.name);
    // A restarted server that does not know the stream's leader yet answers with its own, old state.
    if (cluster && !cluster.leader) throw new Error(`the log stream ${this.name} has no leader right now`);
    return { first: state.first_seq, last: state.last_seq };
  }

  /**
   * Appends a transaction's changeset (split into parts when large) right after message
   * `expectedLast`; resolves with the last part's sequence. Retries what an election or a
   * lost connection fails, with the same message ids, for appendTimeoutMs; then LOG_UNAVAILABLE.
   * FencedError when another writer appended after `expectedLast`.
   */
  async appendTransaction(changes: Uint8Array, expectedLast: number, epoch: number, id: string): Promise<number> {
    const parts: Uint8Array[] = [];
    for (let at = 0; at < changes.length; at += MAX_PART_BYTES) parts.push(changes.subarray(at, at + MAX_PART_BYTES));
    let last = expectedLast;
    for (let i = 0; i < parts.length; i++) {
      last = await this.publish(parts[i], { kind: 'txn', epoch, part: [i + 1, parts.length] }, last, `${id}.${i + 1}`);
    }
    return last;
  }

  /** Appends a new primary's epoch marker right after `expectedLast`: its sequence is the epoch. */
  appendEpoch(marker: Uint8Array, expectedLast: number, id: string): Promise<number> {
    return this.publish(marker, { kind: 'epoch', epoch: expectedLast + 1, part: [1, 1] }, expectedLast, id);
  }

  /** Deletes every message before sequence `keepFrom` (they are in a stored snapshot). */
  async purgeBefore(keepFrom: number): Promise<void> {
    await this.jsm.streams.purge(this.name, { seq: keepFrom });
  }

  /** Reads the log from sequence `from` on, as it grows, until `signal` aborts. */
  async *read(from: number, signal: AbortSignal): AsyncGenerator<LogMessage> {
    const consumer = await this.js.consumers.get(this.name, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
    const messages = await consumer.consume();
    const stop = () => void messages.stop();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const m of messages) {
        if (signal.aborted) break;
        yield toLogMessage(m);
      }
    } finally {
      signal.removeEventListener('abort', stop);
      await messages.close().catch(() => {});
    }
  }

  private async publish(data: Uint8Array, meta: { kind: string; epoch: number; part: [number, number] }, expectedLast: number, msgID: string): Promise<number> {
    const h = natsHeaders();
    h.set(HEADER.kind, meta.kind);
    h.set(HEADER.epoch, String(meta.epoch));
    h.set(HEADER.part, `${meta.part[0]}/${meta.part[1]}`);
    const deadline = Date.now() + this.options.appendTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const ack = await this.js.publish(this.subject, data, { msgID, expect: { lastSequence: expectedLast }, headers: h, timeout: 2000 });
        return ack.seq;
      } catch (e) {
        if (e instanceof JetStreamApiError && e.code === WRONG_LAST_SEQUENCE) throw new FencedError(`the log moved past ${expectedLast}: another primary appended`);
        if (e instanceof JetStreamApiError && e.status !== 503) throw e;
        if (Date.now() >= deadline) {
          throw new QuiverError('LOG_UNAVAILABLE', `the replicated log (NATS JetStream) did not take the write within ${this.options.appendTimeoutMs} ms; nothing was committed. Retry shortly`, {
            retryAfterSeconds: 2,
            cause: e,
          });
        }
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
      }
    }
  }
}

function streamName(cluster: string): string {
  return `QUIVER_${cluster.toUpperCase()}_LOG`;
}

function toLogMessage(m: JsMsg): LogMessage {
  const h = m.headers;
  const [i, n] = (h?.get(HEADER.part) || '1/1').split('/').map(Number);
  return {
    seq: m.seq,
    kind: h?.get(HEADER.kind) === 'epoch' ? 'epoch' : 'txn',
    epoch: Number(h?.get(HEADER.epoch) || 0),
    part: [i, n],
    data: m.data,
    pending: m.info.pending,
  };
}
