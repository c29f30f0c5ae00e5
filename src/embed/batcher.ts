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
 *
 * A text is sent by one call at a time: a call that misses a text another call is sending
 * waits for that answer (`inFlight`) instead of sending it again, so concurrent statements
 * that share texts pay for them once. If the sender fails for good, the waiters fail with the
 * same cause; if it was only abandoned by its own caller, the waiters send the texts themselves.
 * Vectors go to the cache (memory at once, its file later) before anyone is told they are ready,
 * and once requests are on their way the cache writes what was waiting (EmbeddingCache.flushSoon),
 * during the wait for the answers rather than on a caller's path.
 */
import { QuiverError } from '../core/index.ts';
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
  /** Where cache write failures go (Embeddings.open gives the cache the same); calls still succeed with their vectors. */
  onCacheError?: (error: unknown) => void;
}

export interface EmbedAllOptions {
  signal?: AbortSignal;
  /**
   * Where to look before sending: 'all' (memory and file, the default) or 'memory', for texts
   * the caller has just missed in the file, so the second look costs no file reads.
   */
  lookup?: 'all' | 'memory';
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

/** Texts one call is sending, announced in Batcher.inFlight until they are answered or given up. */
interface Batch {
  texts: string[];
  /** The batch's answer, one vector per text; rejects if the batch does not succeed. */
  vectors: Promise<Float32Array[]>;
  /** Settles `vectors`; a second settle is a no-op, as promises make it. */
  settle: { resolve(vectors: Float32Array[]): void; reject(reason: unknown): void };
}

/** Where a text being sent will find its vector. */
interface InFlight {
  batch: Batch;
  index: number;
}

function flightKey(identity: string, dims: number, text: string): string {
  return `${identity}\u0000${dims}\u0000${text}`;
}

/** Embeds texts through providers with batching, bounded concurrency, retries, timeouts and the cache. */
export class Batcher {
  private readonly limiters = new Map<string, Limiter>();
  /** Texts being sent, by flightKey(), with the batch whose answer will hold their vector. */
  private readonly inFlight = new Map<string, InFlight>();
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
    const cache = model.cache ? this.cache : undefined;
    if (cache) {
      const hits = cache.getMany(model.identity, dims, unique, { memoryOnly: options.lookup === 'memory' });
      for (let i = 0; i < unique.length; i++) if (hits[i]) found.set(unique[i], hits[i]!);
    }
    const misses = unique.filter((text) => !found.has(text));
    if (misses.length === 0) return texts.map((text) => found.get(text)!);

    // Texts another call is sending are waited for; the rest are this call's to send. The
    // partition and the registration below happen before any await, so no two calls send a text.
    const waits: { text: string; sender: InFlight }[] = [];
    const own: string[] = [];
    for (const text of misses) {
      const sender = this.inFlight.get(flightKey(model.identity, dims, text));
      if (sender) waits.push({ text, sender });
      else own.push(text);
    }
    const batches: Batch[] = [];
    for (let i = 0; i < own.length; i += model.maxBatch) batches.push(this.register(model.identity, dims, own.slice(i, i + model.maxBatch)));

    // One failure stops the rest: queued batches never start, running ones are aborted.
    const stop = new AbortController();
    const onCallerAbort = () => stop.abort(signal!.reason);
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    const fail = (error: unknown) => {
      if (!stop.signal.aborted) stop.abort(error);
      throw error;
    };
    /** Texts whose sender was abandoned by its caller: this call sends them after all. */
    const orphans: string[] = [];
    try {
      // Loading (the built-in model's first use) is not a request: no timeout, but the caller may abort it.
      if (batches.length > 0 && provider.warmUp) await abortable(provider.warmUp(stop.signal), stop.signal);
      const limiter = this.limiterFor(model.name, model.maxConcurrency);
      const sending = batches.map((batch) =>
        limiter
          .run(async () => {
            stop.signal.throwIfAborted();
            const vectors = await this.sendWithRetries(provider, dims, batch.texts, stop.signal);
            batch.texts.forEach((text, i) => found.set(text, vectors[i]));
            if (cache) this.store(cache, model.identity, dims, batch.texts, vectors);
            batch.settle.resolve(vectors);
          })
          .catch(fail),
      );
      if (batches.length > 0) cache?.flushSoon();
      const waiting = waits.map(({ text, sender }) =>
        abortable(sender.batch.vectors, stop.signal).then(
          (vectors) => void found.set(text, vectors[sender.index]),
          (reason: unknown) => {
            if (stop.signal.aborted || reason instanceof BatchFailure) return fail(stop.signal.aborted ? stop.signal.reason : reason);
            orphans.push(text);
          },
        ),
      );
      await Promise.all([...sending, ...waiting]);
    } catch (error) {
      // The first failure is the reason `stop` was aborted with; later ones are its echoes.
      // Without one, loading the model failed before any request.
      throw this.toQuiverError(stop.signal.aborted ? stop.signal.reason : error, model.name, misses.length, texts.length);
    } finally {
      signal?.removeEventListener('abort', onCallerAbort);
      for (const batch of batches) this.unregister(model.identity, dims, batch, stop.signal.reason);
    }
    if (orphans.length > 0) {
      const vectors = await this.embedAll(provider, dims, orphans, { signal, lookup: 'memory' });
      orphans.forEach((text, i) => found.set(text, vectors[i]));
    }
    return texts.map((text) => found.get(text)!);
  }

  /** Announces that `texts` are being sent, so other calls wait for them instead. */
  private register(identity: string, dims: number, texts: string[]): Batch {
    let settle!: Batch['settle'];
    const vectors = new Promise<Float32Array[]>((resolve, reject) => (settle = { resolve, reject }));
    // Nobody may be waiting: a failure must not surface as an unhandled rejection.
    vectors.catch(() => {});
    const batch: Batch = { texts, vectors, settle };
    texts.forEach((text, index) => this.inFlight.set(flightKey(identity, dims, text), { batch, index }));
    return batch;
  }

  /** Ends a batch's announcement; waiters of a batch that did not succeed get `reason`. */
  private unregister(identity: string, dims: number, batch: Batch, reason: unknown): void {
    batch.settle.reject(reason ?? new Error('the batch was not sent'));
    for (const text of batch.texts) {
      const key = flightKey(identity, dims, text);
      if (this.inFlight.get(key)?.batch === batch) this.inFlight.delete(key);
    }
  }

  private limiterFor(model: string, limit: number): Limiter {
    let limiter = this.limiters.get(model);
    if (!limiter) {
      limiter = new Limiter(limit);
      this.limiters.set(model, limiter);
    }
    return limiter;
  }

  private store(cache: EmbeddingCache, identity: string, dims: number, texts: string[], vectors: Float32Array[]): void {
    try {
      cache.putMany(identity, dims, texts, vectors);
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
