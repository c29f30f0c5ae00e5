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
 * view while it holds the commit gate (`ReadLease.snapshot`), so the search and the SQL see
 * exactly the same commits — a row deleted after planning is still there for that read, and the
 * answer keeps its k rows. A worker is sent each part's shared memory once (view-memories.ts).
 * A read that answers with the texts its EMBEDDING() calls missed, rather than rows, gives its
 * worker back; once they are fetched it runs as a new read, with a new lease and snapshot
 * (engine.ts readOnce).
 *
 * Timeouts: better-sqlite3 exposes neither sqlite3_interrupt nor (in this build) the progress
 * handler, so a read past its deadline is answered with STATEMENT_TIMEOUT at once, and its
 * worker stops the statement by itself at its next deadline check and is leased again. The
 * checks (limits.ts DEADLINE_FUNCTION) run per row of every loop of a statement whose work can
 * multiply (../lower/deadline-checks.ts), so the thread stops within a few rows of the
 * deadline. One that has not stopped within STOP_GRACE_MS (what the checks do not reach: the
 * inside of a view, a scan of one table whose rows are each costly to compute) is terminated
 * and replaced at once; termination takes effect the next time the thread runs JavaScript, and
 * a thread taking more than a second more is logged. Workers stopping are counted
 * (`stats().stopping`).
 *
 * Workers start with the pool and are unref'd while idle, so an idle pool never keeps the
 * process alive; one lost otherwise is replaced on its next use. Runs on the engine's thread.
 */
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../../util/index.ts';
import { QuiverError } from '../../core/index.ts';
import { ANY_CLIENT, FairQueue, clientQueueFull, statementTimedOut, waitedTooLong } from '../runtime/index.ts';
import type { ReadEmbeddings, ReadMisses } from '../functions/index.ts';
import { fromWire, type ReadMessage, type ReadReply, type ReadRequest, type ReadStatement } from './read-protocol.ts';
import type { SqlValue } from '../types.ts';
import { SentMemories } from './view-memories.ts';

/** Two for one key's reads on a two-core machine, and one kept for other keys' (ReadPool.lease). */
export const DEFAULT_READ_WORKERS = 3;
/** How long a worker past a read's deadline has to stop by itself before it is terminated. */
const STOP_GRACE_MS = 500;
export const MAX_READ_WORKERS = 64;

/** A read's statements, the result limits, the deadline, and the vectors its EMBEDDING() calls need. */
export interface ReadJob {
  statements: ReadStatement[];
  maxRows: number;
  maxResultBytes: number;
  /** The statement timeout, counted from `since` (when the read began to wait for a worker). */
  timeoutMs: number;
  since: number;
  embeddings?: ReadEmbeddings;
}

/** A read's error, with the index of the statement that raised it. */
export class ReadFailure {
  constructor(
    readonly error: Error,
    readonly index: number,
  ) {}
}

/** Who asks for a worker, and for how long they may wait: a request's client and what is left of its timeout. */
export interface LeaseRequest {
  client: string;
  waitMs: number;
  timeoutMs: number;
}

/** How many reads may wait, in all and per client, and how many workers one client may hold. */
export interface PoolLimits {
  maxQueued: number;
  maxQueuedPerClient: number;
  /** 0: no cap but the worker always left for others (ReadPool.mayLease). */
  maxPerClient: number;
}

interface Slot {
  worker: Worker | null;
  /** The client holding the lease (ANY_CLIENT for a read that names none); null while free. */
  client: string | null;
  /** The index memories the worker holds (view-memories.ts); a new worker holds none. */
  memories: SentMemories;
  leased: boolean;
  /** Past a read's deadline: the worker is left to stop by itself (STOP_GRACE_MS) before the slot is leased again. */
  stopping: boolean;
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
    if ('error' in reply) throw new ReadFailure(fromWire(reply.error), 0);
  }

  /** Runs `job` (in the snapshot, if one was taken), then releases the lease: its rows, or the texts its EMBEDDING() calls missed. */
  async run(job: ReadJob): Promise<{ rows: SqlValue[][][] } | { misses: ReadMisses[] }> {
    try {
      const { statements, maxRows, maxResultBytes, timeoutMs, since, embeddings } = job;
      const reply = await this.pool.send(this.slot, { kind: 'run', statements, maxRows, maxResultBytes, timeoutMs, since, embeddings }, { timeoutMs, since });
      if ('rows' in reply || 'misses' in reply) return reply;
      if (!('error' in reply)) throw new Error('read worker: unexpected reply');
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
  /** Reads waiting for a worker, served client by client in turn. */
  private readonly queue = new FairQueue();
  private readonly maxPerClient: number;
  private nextId = 1;
  private stopping = 0;
  private closed = false;

  constructor(
    private readonly file: string,
    size: number,
    private readonly limits: PoolLimits,
  ) {
    this.slots = Array.from({ length: size }, () => ({ worker: null, client: null, memories: new SentMemories(), leased: false, stopping: false, waiting: null }));
    this.maxPerClient = limits.maxPerClient > 0 ? limits.maxPerClient : size;
    // Started now, so a first read never waits (holding the writer's lock) for a thread to boot.
    for (const slot of this.slots) this.spawn(slot).unref();
  }

  /**
   * A worker for one read, once one is free that `by`'s client may have (mayLease: one is always
   * left for clients holding none).
   * Refused when too many reads, or too many of the client's, already wait; fails once it has
   * waited what is left of the read's timeout. A read that names no client (`by` undefined)
   * has no share and waits as long as it takes.
   */
  lease(by?: LeaseRequest): Promise<ReadLease> {
    if (this.closed) return Promise.reject(new QuiverError('DATABASE_CLOSED', 'the database is closed'));
    const client = by?.client ?? ANY_CLIENT;
    if (this.mayLease(client) && this.slots.some((s) => !s.leased)) return Promise.resolve(this.take(client));
    if (this.queue.size >= this.limits.maxQueued) {
      return Promise.reject(
        new QuiverError('OVERLOADED', `${this.queue.size} reads are already waiting for a read worker (QUIVER_MAX_QUEUED_READS); retry shortly`, {
          retryAfterSeconds: 1,
        }),
      );
    }
    if (client !== ANY_CLIENT && this.queue.queued(client) >= this.limits.maxQueuedPerClient) {
      return Promise.reject(clientQueueFull(this.queue.queued(client), 'QUIVER_MAX_QUEUED_PER_KEY'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push(client, () => resolve(this.take(client)), by?.waitMs ?? Infinity, () => reject(waitedTooLong('a read worker', by!.timeoutMs)));
    });
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
    return { workers: this.slots.length, busy: this.slots.filter((s) => s.leased).length, queued: this.queue.size, stopping: this.stopping };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.clear();
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
  send(slot: Slot, message: ReadMessage, deadline?: { timeoutMs: number; since: number }): Promise<ReadReply> {
    if (this.closed) return Promise.reject(new QuiverError('DATABASE_CLOSED', 'the database is closed'));
    const worker = slot.worker ?? this.spawn(slot);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.waiting = { id, resolve, reject };
      if (deadline) slot.waiting.timer = setTimeout(() => this.timeOut(slot, id, deadline.timeoutMs), deadline.since + deadline.timeoutMs - Date.now());
      worker.ref();
      const request: ReadRequest =
        message.kind === 'run' ? { ...message, statements: slot.memories.strip(message.statements), id } : { ...message, id };
      worker.postMessage(request);
    });
  }

  /** Takes the slot back (ending the worker's read transaction if asked) and leases a worker to the next read that may have one. */
  free(slot: Slot, endSnapshot: boolean): void {
    if (endSnapshot && slot.worker) slot.worker.postMessage({ kind: 'end', id: this.nextId++ } satisfies ReadRequest);
    // A worker past a deadline comes back once it has stopped (timeOut).
    if (slot.stopping) return;
    slot.leased = false;
    slot.client = null;
    if (!this.queue.serveNext((client) => this.mayLease(client))) slot.worker?.unref();
  }

  /**
   * Whether `client` may lease one more worker: the last free worker goes only to a client that
   * holds none, so another key's read always finds one however many keys flood the pool, and no
   * client holds more than its cap. A read naming no client has no such share.
   */
  private mayLease(client: string): boolean {
    if (client === ANY_CLIENT) return true;
    let held = 0;
    let free = 0;
    for (const s of this.slots) {
      if (s.client === client) held++;
      if (!s.leased) free++;
    }
    return held === 0 || (held < this.maxPerClient && free >= 2);
  }

  /** Leases a free worker to `client`. */
  private take(client: string): ReadLease {
    const slot = this.slots.find((s) => !s.leased)!;
    slot.leased = true;
    slot.client = client;
    return new ReadLease(this, slot);
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

  /**
   * A read past its deadline is answered STATEMENT_TIMEOUT at once. Its worker stops by itself
   * at its next deadline check and answers; the slot is leased again then, with the same thread.
   * One that has not answered within STOP_GRACE_MS is terminated and replaced.
   */
  private timeOut(slot: Slot, id: number, timeoutMs: number): void {
    const read = slot.waiting;
    if (read?.id !== id) return;
    slot.stopping = true;
    const back = () => this.stopped(slot);
    slot.waiting = { id, resolve: back, reject: back, timer: setTimeout(() => this.replace(slot), STOP_GRACE_MS) };
    this.stopping++;
    read.reject(statementTimedOut(timeoutMs, false));
  }

  /** The worker past a deadline has stopped (or was replaced): the slot goes back to the pool. */
  private stopped(slot: Slot): void {
    if (!slot.stopping) return;
    slot.stopping = false;
    this.stopping--;
    this.free(slot, false);
  }

  /** Terminates the slot's worker, which has not stopped within the grace, and starts another. */
  private replace(slot: Slot): void {
    const worker = slot.worker;
    slot.worker = null;
    this.settle(slot);
    if (worker) {
      this.stopping++;
      const started = Date.now();
      void worker.terminate().then(() => {
        this.stopping--;
        const seconds = (Date.now() - started) / 1000;
        if (seconds > 1) console.warn(`quiver: a timed-out read took ${seconds.toFixed(1)} s more to stop inside SQLite`);
      });
    }
    // Replaced now, so the next read does not wait for a thread to boot.
    if (!this.closed) this.spawn(slot).unref();
    this.stopped(slot);
  }
}
