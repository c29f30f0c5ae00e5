/**
 * @module batcher
 * How texts reach a provider (DESIGN decision 6): de-duplicated, looked up in the cache, and
 * only the misses sent, in requests of at most maxBatch texts with at most maxConcurrency of a
 * model's requests in flight at once, across all callers. N distinct uncached texts cost
 * ceil(N / maxBatch) requests when nothing fails.
 *
 * A request that meets a 429, a 5xx (or 408/409) or a dropped connection is retried up to
 * maxRetries times, after the server's Retry-After (seconds, an HTTP date, or retry-after-ms)
 * or else an exponential backoff with jitter. Every request has a deadline (timeoutMs); a
 * request past it is aborted and not retried, since a provider that hung once for that long
 * would most likely hang again while the caller waits. Once any request fails for good, the
 * others are aborted and the whole call fails with one EMBEDDING_FAILED error naming the
 * model, the HTTP status and message, and how many texts were involved.
 *
 * Batches that succeeded before the failure stay in the cache: they are correct and paid for,
 * and a retried statement then sends only what is still missing. The statement itself writes
 * nothing, since the SQL layer only runs it once every vector is at hand.
 */
import { QuiverError } from '../sql/errors.ts';
import type { EmbeddingCache } from './cache.ts';
import { ProviderError } from './provider.ts';
import type { EmbeddingProvider } from './provider.ts';

export const DEFAULT_RETRY_BASE_MS = 500;
export const DEFAULT_RETRY_MAX_MS = 20_000;
/** A Retry-After longer than this fails the call at once instead of holding the statement. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

export interface BatcherOptions {
  /** First backoff without Retry-After; doubles per attempt up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  maxRetryAfterMs?: number;
  /** Where cache write failures go; the call still succeeds with its vectors. */
  onCacheError?: (error: unknown) => void;
}

export interface EmbedAllOptions {
  signal?: AbortSignal;
}

/** Bounds how many of one model's requests run at once; waiters start in arrival order. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so no newcomer can slip in
    // between the release and the waiter's wake-up and push the count over the limit.
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Why a batch failed for good; turned into the call's one QuiverError. */
class BatchFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly texts: number,
    readonly attempts: number,
    /** The deadline that passed, when the batch timed out. */
    readonly timeoutMs?: number,
  ) {
    super('batch failed');
  }
}

const TIMED_OUT = Symbol('timed out');

/** Embeds texts through providers with batching, bounded concurrency, retries, timeouts and the cache. */
export class Batcher {
  private readonly limiters = new Map<string, Limiter>();
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly onCacheError: (error: unknown) => void;

  constructor(
    private readonly cache: EmbeddingCache | undefined,
    options: BatcherOptions = {},
  ) {
    this.retryBaseMs = options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
    this.retryMaxMs = options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
    this.onCacheError = options.onCacheError ?? ((error) => console.warn('quiver: embedding cache write failed:', error));
  }

  /** One vector per text, in input order; `dims` was checked by ModelRegistry.resolveDims. */
  async embedAll(provider: EmbeddingProvider, dims: number, texts: readonly string[], options: EmbedAllOptions = {}): Promise<Float32Array[]> {
    const model = provider.model;
    const signal = options.signal;
    signal?.throwIfAborted();
    const unique = [...new Set(texts)];
    const found = new Map<string, Float32Array>();
    const useCache = model.cache && this.cache !== undefined;
    if (useCache) {
      const hits = this.cache!.getMany(model.identity, dims, unique);
      unique.forEach((text, i) => {
        if (hits[i]) found.set(text, hits[i]!);
      });
    }
    const misses = unique.filter((text) => !found.has(text));
    if (misses.length > 0) {
      // Loading (the built-in model's first use) is not a request: no timeout, but the caller may abort it.
      if (provider.warmUp) await (signal ? abortable(provider.warmUp(signal), signal) : provider.warmUp());
      const batches: string[][] = [];
      for (let i = 0; i < misses.length; i += model.maxBatch) batches.push(misses.slice(i, i + model.maxBatch));
      // One failed batch stops the rest: queued ones never start, running ones are aborted.
      const stop = new AbortController();
      const onCallerAbort = () => stop.abort(signal!.reason);
      signal?.addEventListener('abort', onCallerAbort, { once: true });
      const limiter = this.limiterFor(model.name, model.maxConcurrency);
      try {
        await Promise.all(
          batches.map((batch) =>
            limiter
              .run(async () => {
                stop.signal.throwIfAborted();
                const vectors = await this.sendWithRetries(provider, dims, batch, stop.signal);
                batch.forEach((text, i) => found.set(text, vectors[i]));
                if (useCache) this.store(model.identity, dims, batch, vectors);
              })
              .catch((error: unknown) => {
                if (!stop.signal.aborted) stop.abort(error);
                throw error;
              }),
          ),
        );
      } catch {
        // The first failure is the reason `stop` was aborted with; later ones are its echoes.
        throw this.toQuiverError(stop.signal.reason, model.name, misses.length, texts.length);
      } finally {
        signal?.removeEventListener('abort', onCallerAbort);
      }
    }
    return texts.map((text) => found.get(text)!);
  }

  private limiterFor(model: string, limit: number): Limiter {
    let limiter = this.limiters.get(model);
    if (!limiter) {
      limiter = new Limiter(limit);
      this.limiters.set(model, limiter);
    }
    return limiter;
  }

  private store(identity: string, dims: number, texts: string[], vectors: Float32Array[]): void {
    try {
      this.cache!.putMany(identity, dims, texts, vectors);
    } catch (error) {
      this.onCacheError(error);
    }
  }

  /** One batch, retried as the policy allows; throws a BatchFailure or the stop signal's reason. */
  private async sendWithRetries(provider: EmbeddingProvider, dims: number, texts: string[], stop: AbortSignal): Promise<Float32Array[]> {
    const { maxRetries, timeoutMs } = provider.model;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(provider, dims, texts, stop, timeoutMs);
      if (outcome.ok) return outcome.vectors;
      const error = outcome.error;
      if (stop.aborted) throw stop.reason;
      if (error === TIMED_OUT) throw new BatchFailure(error, texts.length, attempt, timeoutMs);
      if (!(error instanceof ProviderError) || !error.retryable || attempt > maxRetries) {
        throw new BatchFailure(error, texts.length, attempt);
      }
      const delay = this.delayBefore(attempt, error);
      if (delay === undefined) throw new BatchFailure(error, texts.length, attempt);
      await sleep(delay, stop);
    }
  }

  private async attempt(
    provider: EmbeddingProvider,
    dims: number,
    texts: string[],
    stop: AbortSignal,
    timeoutMs: number,
  ): Promise<{ ok: true; vectors: Float32Array[] } | { ok: false; error: unknown }> {
    const request = new AbortController();
    const onStop = () => request.abort(stop.reason);
    stop.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => request.abort(TIMED_OUT), timeoutMs);
    try {
      // Raced against the signal so that a provider ignoring it still cannot hold the caller.
      const vectors = await abortable(provider.embed(texts, dims, request.signal), request.signal);
      checkVectors(vectors, texts.length, dims);
      return { ok: true, vectors };
    } catch (error) {
      return { ok: false, error: request.signal.aborted && request.signal.reason === TIMED_OUT ? TIMED_OUT : error };
    } finally {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
  }

  /** Milliseconds to wait before attempt `attempt + 1`; undefined when the server asks for too long. */
  private delayBefore(attempt: number, error: ProviderError): number | undefined {
    if (error.retryAfterMs !== undefined) {
      if (error.retryAfterMs > this.maxRetryAfterMs) return undefined;
      // Up to 10% more than asked, so that many callers told the same second do not return together.
      return error.retryAfterMs * (1 + 0.1 * Math.random());
    }
    // "Equal jitter": half the exponential delay for sure, the other half at random.
    const ceiling = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempt - 1));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  private toQuiverError(reason: unknown, model: string, newTexts: number, totalTexts: number): unknown {
    if (!(reason instanceof BatchFailure)) return reason; // the caller's own abort reason
    const scope = `a batch of ${reason.texts} of the ${newTexts} texts not yet cached (${totalTexts} requested)`;
    const attempts = reason.attempts === 1 ? '1 attempt' : `${reason.attempts} attempts`;
    const error = reason.error;
    if (reason.timeoutMs !== undefined) {
      return new QuiverError('EMBEDDING_FAILED', `embedding model ${model} timed out: no answer within ${reason.timeoutMs} ms for ${scope}`);
    }
    if (error instanceof QuiverError) return error;
    if (error instanceof ProviderError) {
      if (error.failure === 'config') {
        return new QuiverError('EMBEDDING_FAILED', `embedding model ${model} cannot run: ${error.message}; ${newTexts} texts were to be embedded`, { cause: error });
      }
      const what =
        error.failure === 'http'
          ? `the provider answered HTTP ${error.status}: ${error.message}`
          : error.failure === 'network'
            ? `the provider could not be reached (${error.message})`
            : `the provider ${error.message}`;
      const tooLong =
        error.retryAfterMs !== undefined && error.retryAfterMs > this.maxRetryAfterMs
          ? `; it asked to retry after ${Math.ceil(error.retryAfterMs / 1000)} s, longer than Quiver waits (${this.maxRetryAfterMs / 1000} s)`
          : '';
      return new QuiverError('EMBEDDING_FAILED', `embedding model ${model} failed after ${attempts}: ${what}${tooLong}; ${scope}`, { cause: error });
    }
    // Not a ProviderError: a provider bug. Keep its text out of the user's error, keep it as cause.
    return new QuiverError('EMBEDDING_FAILED', `embedding model ${model} failed after ${attempts} with an unexpected error; ${scope}`, {
      cause: error,
    });
  }
}

/** Rejects as soon as `signal` aborts, whether or not `promise` ever settles. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A provider's answer must be one vector of `dims` finite numbers per text. */
function checkVectors(vectors: Float32Array[], count: number, dims: number): void {
  if (!Array.isArray(vectors) || vectors.length !== count) {
    throw new ProviderError('response', `returned ${Array.isArray(vectors) ? vectors.length : 'no'} vectors for ${count} texts`);
  }
  for (const vector of vectors) {
    if (!(vector instanceof Float32Array) || vector.length !== dims) {
      throw new ProviderError('response', `returned a ${vector?.length ?? 0}-dimensional vector where ${dims} dimensions were asked for`);
    }
  }
}
