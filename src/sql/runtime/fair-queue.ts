/**
 * @module runtime/fair-queue
 * Requests waiting for something shared — the writer's connection, a read worker — served
 * client by client in turn instead of first come, first served: a client (an API key) that
 * floods the queue waits behind its own requests, not in front of everyone else's. Each waiter
 * has a deadline, since the time a request waits counts against its statement timeout: past it,
 * the waiter leaves the queue with STATEMENT_TIMEOUT, and nothing of its request has run.
 * Runs on the engine's thread.
 */
import { QuiverError } from '../../core/index.ts';

/** The client of requests that name none (the engine's own work, a server without keys). */
export const ANY_CLIENT = '';

interface Waiter {
  client: string;
  grant: () => void;
  timer: NodeJS.Timeout | null;
}

export class FairQueue {
  /**
   * Waiters by client. A Map iterates in insertion order, and a client is moved to the end
   * each time one of its waiters is served, so the first client found is the one served least
   * recently.
   */
  private readonly byClient = new Map<string, Waiter[]>();
  private count = 0;

  /** Waiters in all. */
  get size(): number {
    return this.count;
  }

  /** Waiters of `client`. */
  queued(client: string): number {
    return this.byClient.get(client)?.length ?? 0;
  }

  /**
   * Queues `client`'s waiter: `grant` is called when it is served; `expire` when `waitMs`
   * (Infinity: no limit) passes first, after it has left the queue.
   */
  push(client: string, grant: () => void, waitMs: number, expire: () => void): void {
    const waiter: Waiter = { client, grant, timer: null };
    if (Number.isFinite(waitMs)) {
      waiter.timer = setTimeout(() => {
        this.remove(waiter);
        expire();
      }, Math.max(0, waitMs));
    }
    const waiters = this.byClient.get(client);
    if (waiters) waiters.push(waiter);
    else this.byClient.set(client, [waiter]);
    this.count++;
  }

  /** Serves the next waiter of the least recently served client that `may` serve now; false if none. */
  serveNext(may: (client: string) => boolean = () => true): boolean {
    for (const [client, waiters] of this.byClient) {
      if (!may(client)) continue;
      const waiter = waiters.shift()!;
      this.byClient.delete(client);
      if (waiters.length > 0) this.byClient.set(client, waiters);
      this.count--;
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.grant();
      return true;
    }
    return false;
  }

  /** Empties the queue; each waiter's `expire` is not called (the caller says why they end). */
  clear(): void {
    for (const waiters of this.byClient.values()) for (const w of waiters) if (w.timer) clearTimeout(w.timer);
    this.byClient.clear();
    this.count = 0;
  }

  private remove(waiter: Waiter): void {
    const waiters = this.byClient.get(waiter.client);
    const at = waiters?.indexOf(waiter) ?? -1;
    if (at < 0) return;
    waiters!.splice(at, 1);
    if (waiters!.length === 0) this.byClient.delete(waiter.client);
    this.count--;
  }
}

/** A request that waited its whole statement timeout for `what` (the writer, a read worker). */
export function waitedTooLong(what: string, timeoutMs: number): QuiverError {
  return new QuiverError(
    'STATEMENT_TIMEOUT',
    `the request waited ${timeoutMs} ms for ${what}, its whole statement timeout (the wait counts against it), and did not run; nothing was written. Retry later, or with a longer timeout`,
  );
}

/** A client with as many requests waiting as it may have; `setting` names the limit to raise. */
export function clientQueueFull(queued: number, setting: string): QuiverError {
  return new QuiverError(
    'TOO_MANY_REQUESTS',
    `this API key already has ${queued} requests waiting (${setting}); wait for some to finish, then retry`,
    { retryAfterSeconds: 1 },
  );
}
