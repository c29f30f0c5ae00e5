/**
 * SharedMemoryCollector (src/util/shared-memory-gc.ts), in a real worker thread: a thread that
 * allocates nothing keeps a shared buffer it dropped uncollected, and collects it once asked —
 * again and again, each request after the last collection.
 */
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTsWorker } from '../../src/util/ts-worker.ts';
import type { GcReport, GcRequest } from './gc-worker.ts';

let worker: Worker;
const collected = new Set<number>();

beforeAll(() => {
  worker = startTsWorker(new URL('./gc-worker.ts', import.meta.url));
  worker.on('message', (report: GcReport) => collected.add(report.collected));
});
afterAll(async () => {
  await worker.terminate();
});

const send = (request: GcRequest) => worker.postMessage(request);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitCollected(id: number): Promise<void> {
  for (let waited = 0; !collected.has(id); waited += 20) {
    if (waited > 10_000) throw new Error(`buffer ${id} was not collected within 10 s`);
    await sleep(20);
  }
}

it('a dropped shared buffer is collected when the thread asks, and not before', async () => {
  send({ kind: 'hold', id: 1, buffer: new SharedArrayBuffer(1 << 20) });
  send({ kind: 'drop', collect: false });
  await sleep(500);
  expect(collected.has(1)).toBe(false);
  send({ kind: 'drop', collect: true });
  await waitCollected(1);
  for (const id of [2, 3]) {
    send({ kind: 'hold', id, buffer: new SharedArrayBuffer(1 << 20) });
    send({ kind: 'drop', collect: true });
    await waitCollected(id);
  }
});
