/**
 * @module util/ts-worker
 * Starts a worker thread on a TypeScript module. Node 20 does not carry a parent's
 * `--import tsx` loader hooks into worker threads, so the worker starts from a two-line
 * bootstrap that registers tsx's loader before importing the module. A failure to load the
 * module is rethrown inside the worker, so it surfaces as the worker's 'error' event.
 */
import { Worker, type Transferable } from 'node:worker_threads';

/** A worker running the module at `url`, which receives `workerData` (with `transferList`'s ports moved to it). */
export function startTsWorker(url: URL, workerData?: unknown, transferList?: Transferable[]): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); })` +
    `.catch((e) => { setImmediate(() => { throw e; }); });`;
  return new Worker(bootstrap, { eval: true, workerData, transferList });
}
