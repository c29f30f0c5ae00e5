/**
 * @module read-pool
 * Read workers: threads with their own read-only connections to the WAL database, so reads run
 * in parallel with each other and with the writer, and a slow one never blocks Node's event
 * loop (DESIGN decision 8). The engine parses, checks and plans a read on its own thread (the
 * catalog and the vector indexes live there), then hands the emitted SQL to this pool.
 *
 * Timeouts: better-sqlite3 exposes neither sqlite3_interrupt nor (in this build) the progress
 * handler, so a read past its deadline is answered with STATEMENT_TIMEOUT at once and its
 * worker is terminated and replaced. Termination takes effect the next time the thread runs
 * JavaScript — every row stepped, every vector or full-text function call; a statement that
 * runs entirely inside SQLite without producing a row (an aggregate over a huge join) finishes
 * on its doomed thread first. Such threads are counted (`stats().stopping`) and logged.
 *
 * Workers start on first use and are unref'd while idle, so an idle pool never keeps the
 * process alive. Runs on the engine's thread.
 */
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../util/ts-worker.ts';
import { QuiverError } from './errors.ts';
import { fromWire, type ReadReply, type ReadRequest, type ReadStatement } from './read-protocol.ts';
import type { SqlValue } from './types.ts';

export const DEFAULT_READ_WORKERS = 2;
export const MAX_READ_WORKERS = 64;

/** A read the pool could not run, because it needs EMBEDDING(): the engine runs it itself. */
export const NEEDS_WRITER = Symbol('needs the writer connection');

/** Per read: the statements, the result limits, the deadline and the queue bound. */
export interface ReadJob {
  statements: ReadStatement[];
  maxRows: number;
  maxResultBytes: number;
  timeoutMs: number;
}

/** A read's error, with the index of the statement that raised it. */
export class ReadFailure {
  constructor(
    readonly error: Error,
    readonly index: number,
  ) {}
}

interface Pending {
  job: ReadJob;
  resolve: (rows: SqlValue[][][] | typeof NEEDS_WRITER) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker | null;
  job: (Pending & { id: number; timer: NodeJS.Timeout }) | null;
}

export class ReadPool {
  private readonly slots: Slot[];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private stopping = 0;
  private closed = false;

  constructor(
    private readonly file: string,
    size: number,
    private readonly maxQueued: number,
  ) {
    this.slots = Array.from({ length: size }, () => ({ worker: null, job: null }));
  }

  /** Runs `job` on a free worker; resolves NEEDS_WRITER when it calls EMBEDDING(). */
  run(job: ReadJob): Promise<SqlValue[][][] | typeof NEEDS_WRITER> {
    if (this.closed) return Promise.reject(new QuiverError('DATABASE_CLOSED', 'the database is closed'));
    const free = this.slots.find((s) => s.job === null);
    if (!free && this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new QuiverError('OVERLOADED', `${this.queue.length} reads are already waiting for a read worker (QUIVER_MAX_QUEUED_READS); retry shortly`, {
          retryAfterSeconds: 1,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const pending = { job, resolve, reject };
      if (free) this.start(free, pending);
      else this.queue.push(pending);
    });
  }

  /** Busy workers, queued reads, and timed-out workers still winding down. */
  stats(): { workers: number; busy: number; queued: number; stopping: number } {
    return { workers: this.slots.length, busy: this.slots.filter((s) => s.job).length, queued: this.queue.length, stopping: this.stopping };
  }

  async close(): Promise<void> {
    this.closed = true;
    const error = new QuiverError('DATABASE_CLOSED', 'the database is closed');
    for (const p of this.queue.splice(0)) p.reject(error);
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.job?.reject(error);
        if (slot.job) clearTimeout(slot.job.timer);
        slot.job = null;
        const worker = slot.worker;
        slot.worker = null;
        await worker?.terminate();
      }),
    );
  }

  private start(slot: Slot, pending: Pending): void {
    const worker = slot.worker ?? this.spawn(slot);
    const id = this.nextId++;
    const timer = setTimeout(() => this.timeOut(slot, id), pending.job.timeoutMs);
    slot.job = { ...pending, id, timer };
    worker.ref();
    const request: ReadRequest = { id, statements: pending.job.statements, maxRows: pending.job.maxRows, maxResultBytes: pending.job.maxResultBytes };
    worker.postMessage(request);
  }

  private spawn(slot: Slot): Worker {
    const worker = startTsWorker(new URL('./read-worker.ts', import.meta.url), { file: this.file });
    worker.on('message', (reply: ReadReply) => {
      const job = slot.job;
      if (slot.worker !== worker || !job || job.id !== reply.id) return;
      this.finish(slot);
      if ('rows' in reply) job.resolve(reply.rows);
      else if (reply.error.kind === 'embedding') job.resolve(NEEDS_WRITER);
      else {
        job.reject(new ReadFailure(fromWire(reply.error), reply.index));
      }
    });
    const lost = (why: string) => {
      if (slot.worker !== worker) return;
      slot.worker = null;
      const job = slot.job;
      this.finish(slot);
      job?.reject(new Error(`read worker stopped: ${why}`));
    };
    worker.on('error', (e) => lost(e.stack ?? e.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    slot.worker = worker;
    return worker;
  }

  /** Frees `slot` and gives it the next queued read, if any. */
  private finish(slot: Slot): void {
    if (slot.job) clearTimeout(slot.job.timer);
    slot.job = null;
    const next = this.queue.shift();
    if (next) this.start(slot, next);
    else slot.worker?.unref();
  }

  private timeOut(slot: Slot, id: number): void {
    const job = slot.job;
    if (!job || job.id !== id) return;
    const worker = slot.worker!;
    slot.worker = null;
    this.finish(slot);
    job.reject(
      new QuiverError('STATEMENT_TIMEOUT', `the statement ran longer than the statement timeout of ${job.job.timeoutMs} ms and was stopped; nothing was written`),
    );
    this.stopping++;
    const started = Date.now();
    void worker.terminate().then(() => {
      this.stopping--;
      const seconds = (Date.now() - started) / 1000;
      if (seconds > 1) console.warn(`quiver: a timed-out read took ${seconds.toFixed(1)} s more to stop inside SQLite`);
    });
  }
}
