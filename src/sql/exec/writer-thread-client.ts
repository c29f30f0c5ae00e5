/**
 * @module exec/writer-thread-client
 * The engine's side of a writer on its own thread (writer-thread.ts; the messages are in
 * writer-protocol.ts): a WriterApi whose calls become messages to the thread, and the answers to
 * the thread's questions, which the engine's WriterHost gives. The thread is unref'd while
 * nothing waits on it, so an idle engine never keeps the process alive.
 */
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { QuiverError } from '../../core/index.ts';
import { startTsWorker } from '../../util/index.ts';
import { fromWire, toWire, type WireError } from '../workers/index.ts';
import type { LogPosition } from '../replication/index.ts';
import type { BackupResult } from './backup.ts';
import type { LogEntry } from './writer-log.ts';
import type { WriterApi, WriterHost } from './writer-host.ts';
import { receiveSearchOptions, type AsyncHostMethod, type CallResult, type FromWriter, type Outcome, type PostedSearchOptions, type SyncHostMethod, type ToWriter, type WriterMethod, type WriterThreadData } from './writer-protocol.ts';
import type { WriterOptions } from './writer.ts';
import type { ExecuteOptions, ExecuteResult, Params } from '../types.ts';

export class WriterThread implements WriterApi {
  private readonly worker: Worker;
  private readonly signal: Int32Array;
  private readonly results: MessagePort;
  private readonly started: Promise<void>;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  /** Why the thread stopped, once it has. */
  private stopped: Error | null = null;

  constructor(
    options: WriterOptions,
    private readonly host: WriterHost,
  ) {
    const flag = new SharedArrayBuffer(4);
    this.signal = new Int32Array(flag);
    const channel = new MessageChannel();
    this.results = channel.port1;
    this.results.unref();
    const data: WriterThreadData = { options, flag, results: channel.port2 };
    this.worker = startTsWorker(new URL('./writer-thread.ts', import.meta.url), data, [channel.port2]);
    this.worker.unref();
    this.started = new Promise((resolve, reject) => {
      this.worker.on('message', (message: FromWriter) => {
        if (message.kind === 'ready') resolve();
        else if (message.kind === 'failed') reject(fromWire(message.error, 'writer thread'));
        else this.receive(message);
      });
      this.worker.on('error', (e) => this.stop(e, reject));
      this.worker.on('exit', (code) => this.stop(new Error(`the writer's thread exited with code ${code}`), reject));
    });
    // Its failure reaches every request; here it must not be an unhandled rejection.
    this.started.catch(() => {});
  }

  ready(): Promise<void> {
    return this.started;
  }

  execute(sql: string, params: Params | undefined, options: ExecuteOptions, admitted: boolean): Promise<ExecuteResult> {
    return this.request('execute', [sql, params, options, admitted]) as Promise<ExecuteResult>;
  }

  reclaimSpace(): Promise<void> {
    return this.request('reclaimSpace', []) as Promise<void>;
  }

  backup(destFile: string): Promise<BackupResult> {
    return this.request('backup', [destFile]) as Promise<BackupResult>;
  }

  apply(entry: LogEntry): Promise<void> {
    return this.request('apply', [entry]) as Promise<void>;
  }

  logPosition(): Promise<LogPosition | null> {
    return this.request('logPosition', []) as Promise<LogPosition | null>;
  }

  drain(): Promise<void> {
    return this.request('drain', []) as Promise<void>;
  }

  /** Closes the writer's connection and ends its thread, without waiting. */
  close(): void {
    if (this.stopped) return;
    this.post({ kind: 'request', id: 0, method: 'close', args: [] });
    this.stopped = new QuiverError('DATABASE_CLOSED', 'the database is closed');
    for (const waiting of this.pending.values()) waiting.reject(this.stopped);
    this.pending.clear();
    // After the close message, which the thread handles first if it is idle.
    void this.worker.terminate();
  }

  private async request(method: WriterMethod, args: unknown[]): Promise<unknown> {
    await this.started;
    if (this.stopped) throw this.stopped;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.post({ kind: 'request', id, method, args });
    });
  }

  private receive(message: Exclude<FromWriter, { kind: 'ready' | 'failed' }>): void {
    switch (message.kind) {
      case 'reply': {
        const waiting = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (this.pending.size === 0) this.worker.unref();
        if (message.outcome.ok) waiting?.resolve(message.outcome.value);
        else waiting?.reject(fromWire(message.outcome.error, 'writer thread'));
        return;
      }
      case 'call':
        this.results.postMessage({ id: message.id, outcome: this.answerNow(message.method, message.args) } satisfies CallResult);
        Atomics.store(this.signal, 0, 1);
        Atomics.notify(this.signal, 0);
        return;
      case 'ask':
        void this.answerLater(message.method, message.args).then((outcome) => this.post({ kind: 'answer', id: message.id, outcome }));
        return;
    }
  }

  /** A synchronous host call's outcome; the thread waits for it. */
  private answerNow(method: SyncHostMethod, args: unknown[]): Outcome {
    try {
      if (method === 'diskFailed') {
        const error = fromWire(args[0] as WireError, 'writer thread');
        const answer = this.host.diskFailed(error, args[1] as string | undefined);
        // null: not a full disk's; the thread keeps its own error.
        return { ok: true, value: answer === error ? null : toWire(answer) };
      }
      if (method === 'search') {
        const [name, query, options] = args as [string, Float32Array, PostedSearchOptions];
        return { ok: true, value: this.host.search(name, query, receiveSearchOptions(options)) };
      }
      return { ok: true, value: (this.host[method] as (...a: unknown[]) => unknown).apply(this.host, args) };
    } catch (e) {
      return { ok: false, error: toWire(e) };
    }
  }

  private async answerLater(method: AsyncHostMethod, args: unknown[]): Promise<Outcome> {
    try {
      return { ok: true, value: await (this.host[method] as (...a: unknown[]) => Promise<unknown>).apply(this.host, args) };
    } catch (e) {
      return { ok: false, error: toWire(e) };
    }
  }

  private post(message: ToWriter): void {
    this.worker.postMessage(message);
  }

  /** The thread is gone: every request waiting on it, and every later one, fails with `e`. */
  private stop(e: Error, rejectReady: (e: unknown) => void): void {
    if (this.stopped) return;
    this.stopped = new Error(`the writer's thread stopped: ${e.message}`, { cause: e });
    rejectReady(this.stopped);
    for (const waiting of this.pending.values()) waiting.reject(this.stopped);
    this.pending.clear();
  }
}
