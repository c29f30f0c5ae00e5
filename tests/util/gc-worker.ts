/**
 * Worker thread of tests/util/shared-memory-gc.test.ts: holds the SharedArrayBuffer it is sent,
 * drops it on `drop` (asking its SharedMemoryCollector for a collection when told to), and
 * reports when a buffer it held has been collected.
 */
import { parentPort } from 'node:worker_threads';
import { SharedMemoryCollector } from '../../src/util/shared-memory-gc.ts';

export type GcRequest = { kind: 'hold'; id: number; buffer: SharedArrayBuffer } | { kind: 'drop'; collect: boolean };
export type GcReport = { collected: number };

const port = parentPort;
if (port === null) throw new Error('gc-worker.ts must run in a worker thread');

const collector = new SharedMemoryCollector(100);
const registry = new FinalizationRegistry<number>((id) => port.postMessage({ collected: id } satisfies GcReport));
let held: SharedArrayBuffer | null = null;

port.on('message', (request: GcRequest) => {
  if (request.kind === 'hold') {
    held = request.buffer;
    registry.register(held, request.id);
    return;
  }
  held = null;
  if (request.collect) collector.request();
});
