/**
 * @module index/lifecycle/build-worker
 * Entry point of the worker thread that builds segment graphs for flushes and merges, so that
 * the main thread keeps answering queries while a graph is linked (DESIGN.md, decision 4). It
 * takes one {@link BuildRequest} per message and answers `{ id, result }` or `{ id, error }`;
 * it holds no state between jobs. Started by ./builder.ts, never imported by the index itself.
 * After each job it asks for a garbage collection (at most once a second): the job's shared
 * memories (the snapshot's arena, a quantized segment's records) stay alive, for every thread,
 * until this thread collects its wrappers for them, and a thread whose heap hardly grows runs
 * no full collection for minutes. Under the soak the worker held every arena it had ever been
 * sent (one more per flush or merge; BENCHMARKS.md, soak), since a busy index never leaves it
 * idle long enough to be stopped (./builder.ts).
 */
import { parentPort } from 'node:worker_threads';
import { runBuildJob, transferList, type BuildRequest } from './build-job.ts';
import { SharedMemoryCollector } from '../../util/index.ts';

interface JobMessage {
  id: number;
  request: BuildRequest;
}

const port = parentPort;
if (port === null) throw new Error('build-worker.ts must run in a worker thread');
const collector = new SharedMemoryCollector();

port.on('message', (message: JobMessage) => {
  try {
    const result = runBuildJob(message.request);
    port.postMessage({ id: message.id, result }, transferList(result));
  } catch (e) {
    port.postMessage({ id: message.id, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  } finally {
    // The request's memories (and the records, once posted) are this thread's garbage now.
    collector.request();
  }
});
