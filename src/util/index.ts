/**
 * @module util
 * Helpers that any module may use: starting a TypeScript worker, asking a thread that holds
 * shared memory to collect its garbage, and creating files and directories readable by their
 * owner only.
 */
export { startTsWorker } from './ts-worker.ts';
export { SharedMemoryCollector } from './shared-memory-gc.ts';
export { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, copyToPrivateFile, ensurePrivateFile, makePrivateDir } from './private-files.ts';
