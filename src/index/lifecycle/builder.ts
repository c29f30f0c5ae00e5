/**
 * @module index/lifecycle/builder
 * Where segment graphs get built: a {@link WorkerBuilder} runs jobs on one worker thread,
 * started on first use and stopped after a short idle time (or by `close()`), so an idle index
 * holds no thread and never keeps the process alive; an {@link InlineBuilder} runs them on the
 * calling thread after a macrotask turn, for tests and for runtimes without workers.
 */
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../../util/index.ts';
import { runBuildJob, type BuildRequest, type BuildResult } from './build-job.ts';

/** Builds graphs off the caller's stack; `close()` releases any thread. */
export interface GraphBuilder {
  build(request: BuildRequest): Promise<BuildResult>;
  close(): Promise<void>;
}

/** How long a worker with no job stays alive, in ms. */
export const DEFAULT_WORKER_IDLE_MS = 10_000;

export class InlineBuilder implements GraphBuilder {
  build(request: BuildRequest): Promise<BuildResult> {
    return new Promise((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(runBuildJob(request));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  async close(): Promise<void> {}
}

interface Pending {
  resolve: (result: BuildResult) => void;
  reject: (error: Error) => void;
}

export class WorkerBuilder implements GraphBuilder {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly idleMs: number;

  constructor(idleMs = DEFAULT_WORKER_IDLE_MS) {
    this.idleMs = idleMs;
  }

  build(request: BuildRequest): Promise<BuildResult> {
    const worker = this.start();
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    const id = this.nextId++;
    return new Promise<BuildResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, request });
    });
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = startTsWorker(new URL('./build-worker.ts', import.meta.url));
    worker.on('message', (message: { id: number; result?: BuildResult; error?: string }) => {
      const job = this.pending.get(message.id);
      if (job === undefined) return;
      this.pending.delete(message.id);
      if (message.result !== undefined) job.resolve(message.result);
      else job.reject(new Error(`graph build failed in the worker: ${message.error}`));
      this.settle();
    });
    worker.on('error', (error) => this.fail(worker, error));
    worker.on('exit', (code) => this.fail(worker, new Error(`graph build worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  /** After a job: let the process exit if nothing is pending, and stop the thread when idle. */
  private settle(): void {
    if (this.pending.size > 0 || this.worker === null) return;
    this.worker.unref();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.pending.size === 0) void this.close();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    for (const job of this.pending.values()) job.reject(error);
    this.pending.clear();
  }

  async close(): Promise<void> {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    for (const job of this.pending.values()) job.reject(new Error('graph builder closed'));
    this.pending.clear();
    await worker.terminate();
  }
}
