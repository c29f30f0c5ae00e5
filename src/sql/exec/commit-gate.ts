/**
 * @module exec/commit-gate
 * What keeps a read's snapshot and the vector indexes in step. A read takes its worker's
 * snapshot and the view of the indexes (or their search) while it holds the gate; the writer
 * holds it from just before a statement that may commit until the indexes have applied the
 * commit. So a read never sees rows the indexes have not (nor the reverse), however the writer
 * and the read interleave — the writer on a thread of its own included. Holds are short: a read's
 * planning, one commit. FIFO.
 */
export class CommitGate {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves with a release function once every earlier holder has released. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return ready;
  }
}
