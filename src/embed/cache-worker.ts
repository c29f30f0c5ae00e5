/**
 * @module cache-worker
 * Entry point of the thread that writes the embedding cache's file, so that its transactions,
 * and above all the WAL checkpoints' fsyncs, never stall the thread that serves requests. It
 * takes one WriteJob per message, writes it in one transaction (cache-file.ts) and
 * answers `{ seq, evicted }` or `{ seq, error }`; it holds no state but its connection. Started
 * by cache.ts, never imported by anything else; the jobs' format is cache-job.ts's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CacheFile, openCacheFile } from './cache-file.ts';
import type { FileBounds } from './cache-file.ts';
import { unpackJob } from './cache-job.ts';
import type { WriteJob } from './cache-job.ts';

export interface WriterData extends FileBounds {
  path: string;
}

export type WriteAnswer = { seq: number; evicted: string[] } | { seq: number; error: string };

const port = parentPort;
if (port === null) throw new Error('cache-worker.ts must run in a worker thread');
const data = workerData as WriterData;
const file = new CacheFile(openCacheFile(data.path), data);

port.on('message', (job: WriteJob) => {
  let answer: WriteAnswer;
  try {
    const { writes, touches } = unpackJob(job);
    answer = { seq: job.seq, evicted: file.write(writes, touches) };
  } catch (e) {
    answer = { seq: job.seq, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  port.postMessage(answer);
});
