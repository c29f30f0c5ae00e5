/**
 * @module util
 * Helpers for running work on worker threads that any module may use: starting a TypeScript
 * worker, and asking a thread that holds shared memory to collect its garbage.
 */
export { startTsWorker } from './ts-worker.ts';
export { SharedMemoryCollector } from './shared-memory-gc.ts';
