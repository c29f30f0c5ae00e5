/**
 * @module exec/mutex
 * A FIFO async mutex. The engine holds it while a request uses the database connection, so
 * requests never interleave inside one another's transaction when one of them awaits (an
 * embedding provider, an index build). Whoever awaits the network without an open transaction
 * releases it first, so other requests go on meanwhile.
 */
export class Mutex {
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
