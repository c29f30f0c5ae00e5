/**
 * @module cluster/follower
 * A replica following the log: an ordered consumer from the data dir's position on, each whole
 * transaction applied once (parts gathered first; parts whose transaction was abandoned, when
 * its primary died between them, are dropped), epoch markers applied as positions. A consumer
 * that delivers nothing while the log holds more (seen after NATS servers died and came back)
 * is replaced by a new one from the same position; one that fails is started again.
 */
import type { Engine } from '../sql/index.ts';
import type { LogMessage, LogStream } from './log-stream.ts';

/** A consumer that got nothing this long while the log held more is replaced. */
const STALLED_MS = 5000;
/** After a failed consumer, the next one starts this much later. */
const RETRY_MS = 1000;

/** What the node learns from each message read. */
export interface FollowerEvents {
  /** Message `seq` was read (and applied, if it completed a transaction); `pending` more were in the log. */
  read(seq: number, pending: number): void;
  /** The epoch of the entry just applied. */
  applied(epoch: number): void;
}

interface Parts {
  epoch: number;
  n: number;
  chunks: Uint8Array[];
}

export class Follower {
  private running: { abort: AbortController; done: Promise<void> } | null = null;
  private lastDelivery = Date.now();

  constructor(
    private readonly log: LogStream,
    private readonly engine: Engine,
    private readonly events: FollowerEvents,
  ) {}

  /** Starts following from the engine's position, unless already following. */
  start(): void {
    if (this.running) return;
    const abort = new AbortController();
    this.lastDelivery = Date.now();
    const done = this.follow(abort.signal).catch((e: unknown) => {
      if (abort.signal.aborted) return;
      console.error(`quiver: following the log failed: ${e instanceof Error ? e.message : String(e)}; trying again`);
      setTimeout(() => {
        if (this.running?.abort !== abort) return;
        this.running = null;
        this.start();
      }, RETRY_MS).unref();
    });
    this.running = { abort, done };
  }

  /** Stops following, once the entry being applied (if any) is. */
  async stop(): Promise<void> {
    const r = this.running;
    if (!r) return;
    r.abort.abort();
    await r.done;
    if (this.running === r) this.running = null;
  }

  /** Replaces a consumer that has delivered nothing for a while though the log holds past `seen`. */
  restartIfStalled(seen: number, logLast: number): void {
    if (!this.running || seen >= logLast || Date.now() - this.lastDelivery < STALLED_MS) return;
    console.error(`quiver: the log's consumer delivered nothing for ${STALLED_MS} ms at position ${seen} of ${logLast}; starting a new one`);
    this.lastDelivery = Date.now();
    void this.stop().then(() => this.start());
  }

  private async follow(signal: AbortSignal): Promise<void> {
    let parts: Parts | null = null;
    for await (const m of this.log.read(this.engine.appliedPosition + 1, signal)) {
      if (m.seq > this.engine.appliedPosition) parts = await this.take(m, parts);
      this.lastDelivery = Date.now();
      this.events.read(m.seq, m.pending);
    }
  }

  /** Applies `m` (or gathers it with the parts before it); the parts still waiting for their last. */
  private async take(m: LogMessage, parts: Parts | null): Promise<Parts | null> {
    if (m.kind === 'epoch') {
      await this.engine.applyLogEntry({ position: m.seq, epoch: m.seq, changes: null, log: this.log.identity });
      this.events.applied(m.seq);
      return null;
    }
    const gathered = gather(parts, m);
    if (!gathered || gathered.chunks.length < gathered.n) return gathered;
    const changes = gathered.chunks.length === 1 ? gathered.chunks[0] : Buffer.concat(gathered.chunks);
    await this.engine.applyLogEntry({ position: m.seq, epoch: m.epoch, changes, log: this.log.identity });
    this.events.applied(m.epoch);
    return null;
  }
}

/** The parts gathered so far with `m`: a part that does not continue them starts again or is dropped (its transaction was abandoned). */
function gather(parts: Parts | null, m: LogMessage): Parts | null {
  const [i, n] = m.part;
  if (i === 1) return { epoch: m.epoch, n, chunks: [m.data] };
  if (parts && parts.epoch === m.epoch && parts.n === n && parts.chunks.length === i - 1) {
    parts.chunks.push(m.data);
    return parts;
  }
  return null;
}
