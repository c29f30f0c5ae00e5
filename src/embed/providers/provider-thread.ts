/**
 * @module provider-thread
 * OpenAI-compatible models served from a thread of their own (provider-worker.ts). A 100-row
 * INSERT's two provider requests cost the engine's thread about as much CPU as the insert
 * itself (the SDK building each request, the HTTP exchange, parsing tens of kilobytes of JSON,
 * decoding base64); on the worker they overlap the engine's other work, so concurrent
 * embedding inserts run at the provider's pace rather than that thread's. What stays here is
 * cheap: batching, retries, timeouts and the cache (batcher.ts, cache.ts), which see a
 * ThreadedProvider as any other provider.
 *
 * One thread per Embeddings instance, for all its OpenAI-compatible models, started by the
 * first model's warmUp (outside any request's timeout) and never keeping the process alive.
 * If the thread dies, the attempts it held fail as retryable network errors and the next
 * attempt starts a new one.
 */
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../../util/index.ts';
import { ProviderError } from '../provider.ts';
import type { EmbeddingProvider, ModelInfo } from '../provider.ts';
import type { ThreadAnswer, ThreadData, ThreadFailure, ThreadModel, ThreadRequest } from './provider-worker.ts';
import type { OpenAIProviderOptions } from './openai.ts';

interface Pending {
  worker: Worker;
  dims: number;
  resolve(vectors: Float32Array[]): void;
  reject(error: unknown): void;
}

/** The worker and the attempts waiting on it. */
export class ProviderThread {
  private readonly models: ThreadModel[] = [];
  private worker: Worker | null = null;
  private starting: Promise<Worker> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  /**
   * A provider for `options`' model that runs on this thread; models are added before its
   * first use. Of `env`, only the key variable's value is taken, now.
   */
  add(options: OpenAIProviderOptions): EmbeddingProvider {
    const { apiKeyEnv, env } = options;
    const keyEnv: NodeJS.ProcessEnv = apiKeyEnv && env[apiKeyEnv] !== undefined ? { [apiKeyEnv]: env[apiKeyEnv] } : {};
    this.models.push({ ...options, env: keyEnv });
    return new ThreadedProvider(this, this.models.length - 1, options.model);
  }

  /** Resolves once the worker has loaded its modules, starting it if needed. */
  async ready(): Promise<Worker> {
    if (this.closed) throw new ProviderError('config', 'the embedding models were closed');
    if (this.worker) return this.worker;
    this.starting ??= this.start().finally(() => (this.starting = null));
    return this.starting;
  }

  private start(): Promise<Worker> {
    const data: ThreadData = { models: this.models };
    const worker = startTsWorker(new URL('./provider-worker.ts', import.meta.url), data);
    worker.unref();
    return new Promise<Worker>((resolve, reject) => {
      worker.on('message', (answer: ThreadAnswer) => {
        if ('id' in answer) return this.settle(answer);
        if (this.closed) {
          void worker.terminate();
          return reject(new ProviderError('config', 'the embedding models were closed'));
        }
        this.worker = worker;
        resolve(worker);
      });
      const stopped = (error: Error) => {
        if (this.worker === worker) this.worker = null;
        reject(error);
        this.failAll(worker, error);
      };
      worker.on('error', stopped);
      worker.on('exit', (code) => stopped(new Error(`the embedding provider thread exited with code ${code}`)));
    });
  }

  /** One attempt of model `model`; rejects with a ProviderError, or at once when `signal` aborts. */
  async embed(model: number, texts: string[], dims: number, signal: AbortSignal): Promise<Float32Array[]> {
    const worker = await this.ready();
    signal.throwIfAborted();
    const id = ++this.nextId;
    return new Promise<Float32Array[]>((resolve, reject) => {
      const onAbort = () => {
        this.pending.delete(id);
        worker.postMessage({ kind: 'cancel', id } satisfies ThreadRequest);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        worker,
        dims,
        resolve: (vectors) => (done(), resolve(vectors)),
        reject: (error) => (done(), reject(error)),
      });
      worker.postMessage({ kind: 'embed', id, model, texts, dims } satisfies ThreadRequest);
    });
  }

  private settle(answer: Exclude<ThreadAnswer, { ready: true }>): void {
    const pending = this.pending.get(answer.id);
    if (!pending) return; // cancelled
    this.pending.delete(answer.id);
    if (!answer.ok) {
      pending.reject(toError(answer.error));
      return;
    }
    const { dims } = pending;
    const count = answer.vectors.length / dims;
    // Each vector owns its bytes: the cache keeps them one by one.
    const vectors = new Array<Float32Array>(count);
    for (let i = 0; i < count; i++) vectors[i] = answer.vectors.slice(i * dims, (i + 1) * dims);
    pending.resolve(vectors);
  }

  /** Fails the attempts `worker` held. */
  private failAll(worker: Worker, cause: Error): void {
    for (const [id, p] of this.pending) {
      if (p.worker !== worker) continue;
      this.pending.delete(id);
      p.reject(new ProviderError('network', `the embedding provider thread stopped (${cause.message})`, { cause }));
    }
  }

  /** Stops the worker; attempts in flight fail. */
  close(): void {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    void worker?.terminate();
  }
}

function toError(failure: ThreadFailure): Error {
  if (!failure.provider) return new Error(failure.message);
  return new ProviderError(failure.failure, failure.message, { status: failure.status, retryAfterMs: failure.retryAfterMs });
}

/** One model of a ProviderThread, as the batcher sees it. */
class ThreadedProvider implements EmbeddingProvider {
  constructor(
    private readonly thread: ProviderThread,
    private readonly index: number,
    readonly model: ModelInfo,
  ) {}

  embed(texts: string[], dims: number, signal: AbortSignal): Promise<Float32Array[]> {
    return this.thread.embed(this.index, texts, dims, signal);
  }

  async warmUp(): Promise<void> {
    await this.thread.ready();
  }
}
