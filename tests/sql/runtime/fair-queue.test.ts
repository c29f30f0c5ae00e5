import { describe, expect, test } from 'vitest';
import { FairQueue } from '../../../src/sql/runtime/fair-queue.ts';
import { WriterLock } from '../../../src/sql/exec/writer-lock.ts';

describe('FairQueue', () => {
  test('serves clients in turn, each in the order it queued', () => {
    const queue = new FairQueue();
    const served: string[] = [];
    for (const [client, name] of [['a', 'a1'], ['a', 'a2'], ['a', 'a3'], ['b', 'b1'], ['c', 'c1'], ['b', 'b2']]) {
      queue.push(client, () => served.push(name), Infinity, () => {});
    }
    while (queue.serveNext());
    expect(served).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
    expect(queue.size).toBe(0);
  });

  test('skips a client that may not be served now, and serves it once it may', () => {
    const queue = new FairQueue();
    const served: string[] = [];
    queue.push('flood', () => served.push('flood'), Infinity, () => {});
    queue.push('other', () => served.push('other'), Infinity, () => {});
    expect(queue.serveNext((c) => c !== 'flood')).toBe(true);
    expect(queue.serveNext((c) => c !== 'flood')).toBe(false);
    expect(served).toEqual(['other']);
    expect(queue.serveNext()).toBe(true);
    expect(served).toEqual(['other', 'flood']);
  });

  test('a waiter past its wait leaves the queue and is told so', async () => {
    const queue = new FairQueue();
    let expired = false;
    queue.push('a', () => {}, 20, () => (expired = true));
    expect(queue.queued('a')).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(expired).toBe(true);
    expect(queue.size).toBe(0);
    expect(queue.serveNext()).toBe(false);
  });
});

describe('WriterLock', () => {
  const limits = { maxQueuedWrites: 100, maxQueuedPerClient: 2 };

  test('a flooding client waits behind itself: the next holder is another client', async () => {
    const lock = new WriterLock(limits);
    const release = await lock.acquire();
    const order: string[] = [];
    const wait = (client: string, name: string) =>
      lock.acquire({ client, waitMs: 10_000, timeoutMs: 10_000 }).then((r) => {
        order.push(name);
        r();
      });
    const all = [wait('flood', 'f1'), wait('flood', 'f2'), wait('other', 'o1')];
    release();
    await Promise.all(all);
    expect(order).toEqual(['f1', 'o1', 'f2']);
  });

  test("a client's waiters past QUIVER_MAX_QUEUED_PER_KEY get 429 TOO_MANY_REQUESTS; other clients still queue", async () => {
    const lock = new WriterLock(limits);
    const release = await lock.acquire();
    const by = (client: string) => ({ client, waitMs: 10_000, timeoutMs: 10_000 });
    const queued = [lock.acquire(by('flood')), lock.acquire(by('flood'))];
    await expect(lock.acquire(by('flood'))).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 1 });
    const other = lock.acquire(by('other'));
    expect(lock.waiting).toBe(3);
    release();
    await Promise.all([...queued, other].map((p) => p.then((r) => r())));
  });

  test('the wait counts against the timeout: past it the request fails with STATEMENT_TIMEOUT and never holds the lock', async () => {
    const lock = new WriterLock(limits);
    const release = await lock.acquire();
    await expect(lock.acquire({ client: 'a', waitMs: 30, timeoutMs: 500 })).rejects.toMatchObject({
      code: 'STATEMENT_TIMEOUT',
      detail: expect.stringMatching(/waited 500 ms for the writer/),
    });
    release();
    // The lock is free again, not handed to the expired waiter.
    const again = await lock.acquire({ client: 'b', waitMs: 10, timeoutMs: 10 });
    again();
  });
});
