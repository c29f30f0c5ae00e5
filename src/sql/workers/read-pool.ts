/**
 * @module workers/read-pool
 * Read workers: threads with their own read-only connections to the WAL database, so reads run
 * in parallel with each other and with the writer, and a slow one never blocks Node's event
 * loop (DESIGN decision 8). The engine parses, checks and plans a read on its own thread (the
 * catalog and the vector indexes live there), then hands the emitted SQL to a worker it leases
 * from this pool.
 *
 * Snapshots: a vector query is searched on the worker, over a view of the index (shared memory,
 * search-step.ts). The engine has the leased worker open its read transaction and takes the
 * view while it holds the writer's lock (`ReadLease.snapshot`), so the search and the SQL see
 * exactly the same commits — a row deleted after planning is still there for that read, and the
 * answer keeps its k rows. A worker is sent each part's shared memory once (view-memories.ts).
 *
 * Timeouts: better-sqlite3 exposes neither sqlite3_interrupt nor (in this build) the progress
 * handler, so a read past its deadline is answered with STATEMENT_TIMEOUT at once and its
 * worker is terminated and replaced. Termination takes effect the next time the thread runs
 * JavaScript — every row stepped, every deadline check, every vector or full-text function
 * call. The checks (limits.ts DEADLINE_FUNCTION, which also stops the statement by itself) run
 * per row of every loop of a statement whose work can multiply (../lower/deadline-checks.ts),
 * so the thread stops within a few rows of the deadline. What they do not reach — the inside
 * of a view, a scan of one table whose rows are each costly to compute — finishes on its
 * doomed thread first. Such threads are counted (`stats().stopping`) and logged.
 *
 * Workers start with the pool and are unref'd while idle, so an idle pool never keeps the
 * process alive; a worker lost to a timeout is replaced on its next use. Runs on the engine's
 * thread.
 */
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../../util/index.ts';
import { QuiverError } from '../../core/index.ts';
import { statementTimedOut } from '../runtime/index.ts';
import type { ReadEmbeddings } from '../functions/index.ts';
import { fromWire, type ReadMessage, type ReadReply, type ReadRequest, type ReadStatement, type WriterFallback } from './read-protocol.ts';
import type { SqlValue } from '../types.ts';
import { SentMemories } from './view-memories.ts';

export const DEFAULT_READ_WORKERS = 2;
export const MAX_READ_WORKERS = 64;

/** A read's statements, the result limits, the deadline, and the vectors its EMBEDDING() calls need. */
export interface ReadJob {
  statements: ReadStatement[];
  maxRows: number;
  maxResultBytes: number;
  timeoutMs: number;
  embeddings?: ReadEmbeddings;
}

/** A read's error, with the index of the statement that raised it. */
export class ReadFailure {
  constructor(
    readonly error: Error,
    readonly index: number,
  ) {}
}

interface Slot {
  worker: Worker | null;
  /** The index memories the worker holds (view-memories.ts); a new worker holds none. */
  memories: SentMemories;
  leased: boolean;
  /** The message the worker is answering. */
  waiting: { id: number; resolve: (reply: ReadReply) => void; reject: (e: unknown) => void; timer?: NodeJS.Timeout } | null;
}

/** One worker, held for one read from its snapshot to its answer; `release` is idempotent. */
export class ReadLease {
  private done = false;
  private inSnapshot = false;

  constructor(
    private readonly pool: ReadPool,
    private readonly slot: Slot,
  ) {}

  /** Opens the worker's read transaction: the read will see what is committed now. */
  async snapshot(): Promise<void> {
    if (this.inSnapshot) return;
    this.inSnapshot = true;
    const reply = await this.pool.send(this.slot, { kind: 'begin' });
    if ('error' in reply && reply.error.kind !== 'embedding') throw new ReadFailure(fromWire(reply.error), 0);
  }

  /** Runs `job` (in the snapshot, if one was taken), then releases the lease. */
  async run(job: ReadJob): Promise<SqlValue[][][] | WriterFallback> {
    try {
      const { statements, maxRows, maxResultBytes, timeoutMs, embeddings } = job;
      const reply = await this.pool.send(this.slot, { kind: 'run', statements, maxRows, maxResultBytes, timeoutMs, embeddings }, timeoutMs);
      if ('rows' in reply) return reply.rows;
      if (!('error' in reply)) throw new Error('read worker: unexpected reply');
      if (reply.error.kind === 'embedding') return 'embedding-not-at-hand';
      throw new ReadFailure(fromWire(reply.error), reply.index);
    } finally {
      this.done = true;
      this.pool.free(this.slot, false);
    }
  }

  /** Gives the worker back without running anything, ending its snapshot. */
  release(): void {
    if (this.done) return;
    this.done = true;
    this.pool.free(this.slot, this.inSnapshot);
  }
}

export class ReadPool {
  private readonly slots: Slot[];
  private readonly queue: ((lease: ReadLease) => void)[] = [];
  private nextId = 1;
  private stopping = 0;
  private closed = false;

  constructor(
    private readonly file: string,
    size: number,
    private readonly maxQueued: number,
  ) {
    this.slots = Array.from({ length: size }, () => ({ worker: null, memories: new SentMemories(), leased: false, waiting: null }));
    // Started now, so a first read never waits (holding the writer's lock) for a thread to boot.
    for (const slot of this.slots) this.spawn(slot).unref();
  }

  /** A worker for one read, once one is free; OVERLOADED when too many reads already wait. */
  lease(): Promise<ReadLease> {
    if (this.closed) return Promise.reject(new QuiverError('DATABASE_CLOSED', 'the database is closed'));
    const free = this.slots.find((s) => !s.leased);
    if (free) {
      free.leased = true;
      return Promise.resolve(new ReadLease(this, free));
    }
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new QuiverError('OVERLOADED', `${this.queue.length} reads are already waiting for a read worker (QUIVER_MAX_QUEUED_READS); retry shortly`, {
          retryAfterSeconds: 1,
        }),
      );
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  /**
   * Has every worker let go of index `name` (dropped or re-created), its view reader and shared
   * memories, which it would otherwise keep until it next searched an index of that name.
   */
  forgetIndex(name: string): void {
    for (const slot of this.slots) {
      if (!slot.worker) continue;
      slot.memories.forget(name);
      slot.worker.postMessage({ kind: 'forget', index: name, id: this.nextId++ } satisfies ReadRequest);
    }
  }

  /** Busy workers, queued reads, and timed-out workers still winding down. */
  stats(): { workers: number; busy: number; queued: number; stopping: number } {
    return { workers: this.slots.length, busy: this.slots.filter((s) => s.leased).length, queued: this.queue.length, stopping: this.stopping };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    await Promise.all(
      this.slots.map(async (slot) => {
        const worker = slot.worker;
        slot.worker = null;
        this.settle(slot, new QuiverError('DATABASE_CLOSED', 'the database is closed'));
        await worker?.terminate();
      }),
    );
  }

  /** Sends `message` to the slot's worker (starting one if needed) and waits for its reply. */
  send(slot: Slot, message: ReadMessage, timeoutMs?: number): Promise<ReadReply> {
    if (this.closed) return Promise.reject(new QuiverError('DATABASE_CLOSED', 'the database is closed'));
    const worker = slot.worker ?? this.spawn(slot);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.waiting = { id, resolve, reject };
      if (timeoutMs !== undefined) slot.waiting.timer = setTimeout(() => this.timeOut(slot, id, timeoutMs), timeoutMs);
      worker.ref();
      const request: ReadRequest =
        message.kind === 'run' ? { ...message, statements: slot.memories.strip(message.statements), id } : { ...message, id };
      worker.postMessage(request);
    });
  }

  /** Takes the slot back (ending the worker's read transaction if asked) and leases it to the next read. */
  free(slot: Slot, endSnapshot: boolean): void {
    if (endSnapshot && slot.worker) slot.worker.postMessage({ kind: 'end', id: this.nextId++ } satisfies ReadRequest);
    const next = this.queue.shift();
    if (next) next(new ReadLease(this, slot));
    else {
      slot.leased = false;
      slot.worker?.unref();
    }
  }

  private spawn(slot: Slot): Worker {
    // Lane 0 of an index's search scratch is the engine's thread; worker i searches in lane i + 1.
    const lane = this.slots.indexOf(slot) + 1;
    const worker = startTsWorker(new URL('./read-worker.ts', import.meta.url), { file: this.file, lane });
    worker.on('message', (reply: ReadReply) => {
      const waiting = slot.waiting;
      if (slot.worker !== worker || !waiting || waiting.id !== reply.id) return;
      this.settle(slot);
      waiting.resolve(reply);
    });
    const lost = (why: string) => {
      if (slot.worker !== worker) return;
      slot.worker = null;
      this.settle(slot, new Error(`read worker stopped: ${why}`));
    };
    worker.on('error', (e) => lost(e.stack ?? e.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    slot.worker = worker;
    slot.memories = new SentMemories();
    return worker;
  }

  /** Clears what the slot waits for, failing it with `error` if given. */
  private settle(slot: Slot, error?: unknown): void {
    const waiting = slot.waiting;
    slot.waiting = null;
    if (waiting?.timer) clearTimeout(waiting.timer);
    if (waiting && error !== undefined) waiting.reject(error);
  }

  private timeOut(slot: Slot, id: number, timeoutMs: number): void {
    if (slot.waiting?.id !== id) return;
    const worker = slot.worker!;
    slot.worker = null;
    this.settle(slot, statementTimedOut(timeoutMs, false));
    this.stopping++;
    const started = Date.now();
    void worker.terminate().then(() => {
      this.stopping--;
      const seconds = (Date.now() - started) / 1000;
      if (seconds > 1) console.warn(`quiver: a timed-out read took ${seconds.toFixed(1)} s more to stop inside SQLite`);
    });
  }
}
