/**
 * @module index/lifecycle/build-worker
 * Entry point of the worker thread that builds segment graphs for flushes and merges, so that
 * the main thread keeps answering queries while a graph is linked (DESIGN.md, decision 4). It
 * takes one {@link BuildRequest} per message and answers `{ id, result }` or `{ id, error }`;
 * it holds no state between jobs. Started by ./builder.ts, never imported by the index itself.
 */
import { parentPort } from 'node:worker_threads';
import { runBuildJob, transferList, type BuildRequest } from './build-job.ts';

interface JobMessage {
  id: number;
  request: BuildRequest;
}

const port = parentPort;
if (port === null) throw new Error('build-worker.ts must run in a worker thread');

port.on('message', (message: JobMessage) => {
  try {
    const result = runBuildJob(message.request);
    port.postMessage({ id: message.id, result }, transferList(result));
  } catch (e) {
    port.postMessage({ id: message.id, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
});
