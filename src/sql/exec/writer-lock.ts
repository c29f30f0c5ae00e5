/**
 * @module exec/writer-lock
 * The lock on the writer's connection. The engine holds it while a request uses the connection,
 * so requests never interleave inside one another's transaction when one of them awaits (an
 * embedding provider, an index build); whoever awaits the network without an open transaction
 * releases it first, so other requests go on meanwhile. Requests wait for it client by client
 * in turn (../runtime/fair-queue.ts), each for at most what is left of its statement timeout,
 * and how many may wait is bounded, in all and per client.
 */
import { QuiverError } from '../../core/index.ts';
import { ANY_CLIENT, FairQueue, clientQueueFull, effectiveTimeoutMs, waitedTooLong, type Limits } from '../runtime/index.ts';
import type { ExecuteOptions } from '../types.ts';

/** Who waits for the lock, and for how long: a request's client and what is left of its timeout. */
export interface LockRequest {
  client: string;
  waitMs: number;
  timeoutMs: number;
}

/** How long a request may wait (for the writer's lock, a read worker): what is left of its timeout, counted from `queuedAt`. */
export function waitBudget(limits: Limits, options: ExecuteOptions, queuedAt: number): LockRequest {
  const timeoutMs = effectiveTimeoutMs(limits, options.timeoutMs);
  return { client: options.client ?? ANY_CLIENT, timeoutMs, waitMs: queuedAt + timeoutMs - Date.now() };
}

export class WriterLock {
  private held = false;
  private readonly queue = new FairQueue();

  constructor(private readonly limits: Pick<Limits, 'maxQueuedWrites' | 'maxQueuedPerClient'>) {}

  /** Requests waiting for the lock. */
  get waiting(): number {
    return this.queue.size;
  }

  /**
   * Resolves with a release function once the lock is this caller's. A request (`by`) is
   * refused when the queue, or its client's share of it, is full, and fails once it has waited
   * its whole timeout; the engine's own work (no `by`) waits as long as it takes.
   */
  acquire(by?: LockRequest): Promise<() => void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      if (by) this.admit(by.client);
      const grant = () => {
        this.held = true;
        resolve(this.releaser());
      };
      const expire = () => reject(waitedTooLong('the writer', by!.timeoutMs));
      this.queue.push(by?.client ?? '', grant, by?.waitMs ?? Infinity, expire);
    });
  }

  private admit(client: string): void {
    if (this.queue.size >= this.limits.maxQueuedWrites) {
      throw new QuiverError('OVERLOADED', `${this.queue.size} requests are already waiting for the writer (QUIVER_MAX_QUEUED_WRITES); retry shortly`, {
        retryAfterSeconds: 1,
      });
    }
    const queued = this.queue.queued(client);
    if (queued >= this.limits.maxQueuedPerClient) throw clientQueueFull(queued, 'QUIVER_MAX_QUEUED_PER_KEY');
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held = false;
      this.queue.serveNext();
    };
  }
}
