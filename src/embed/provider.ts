/**
 * @module provider
 * What an embedding provider is to the rest of src/embed: a model description (the limits the
 * batcher obeys) and one call that turns a batch of texts into vectors. Retrying, batching,
 * timing out and caching are the batcher's; a provider makes one attempt per call and reports
 * failure as a ProviderError, so the batcher can tell a retryable 429 from a final 400 without
 * knowing any vendor's SDK. Adding a provider is one file under providers/ plus one case in
 * registry.ts.
 */

/** The provider kinds a config file may name. */
export type ProviderKind = 'openai' | 'local';

/** A model as the batcher and SHOW EMBEDDING MODELS see it. */
export interface ModelInfo {
  /** The name SQL uses: EMBEDDING(text, 'name', dims). */
  readonly name: string;
  readonly provider: ProviderKind;
  /** The model's own (largest) dimension count; EMBEDDING() without dims gets this many. */
  readonly dims: number;
  /** True when the provider can return fewer dims than `dims` (OpenAI's `dimensions` parameter). */
  readonly canShorten: boolean;
  /** Most texts in one request. */
  readonly maxBatch: number;
  /** Most requests in flight at once, per Embeddings instance. */
  readonly maxConcurrency: number;
  /** One request's deadline; past it the request is aborted. */
  readonly timeoutMs: number;
  /** Retries of a request after a 429, a 5xx or a dropped connection. */
  readonly maxRetries: number;
  /** Whether vectors go to the persistent cache (a model that computes in microseconds skips it). */
  readonly cache: boolean;
  /**
   * What the vectors depend on besides text and dims: the cache is keyed by it, so renaming a
   * model keeps its cache and pointing a name at another endpoint or model does not reuse it.
   */
  readonly identity: string;
}

/** One way of turning texts into vectors. */
export interface EmbeddingProvider {
  readonly model: ModelInfo;
  /**
   * One attempt at embedding `texts` (at most model.maxBatch) at `dims`; resolves to one vector
   * per text in order, or rejects with a ProviderError. Must stop promptly when `signal` aborts.
   */
  embed(texts: string[], dims: number, signal: AbortSignal): Promise<Float32Array[]>;
  /** Loads whatever the first request would otherwise wait for (outside its timeout). */
  warmUp?(signal?: AbortSignal): Promise<void>;
  /**
   * Vectors computed without I/O, for models cheap enough not to cache; undefined while the
   * provider is not ready. Lets synchronous callers (SQLite functions) answer without a fetch.
   */
  embedSync?(texts: string[], dims: number): Float32Array[] | undefined;
}

/** How a provider call failed, in terms the batcher's retry policy understands. */
export type ProviderFailure =
  /** The provider answered with an HTTP error status. */
  | 'http'
  /** No answer: connection refused or reset, DNS failure. */
  | 'network'
  /** The provider answered, but not with what was asked (wrong count, wrong length, not numbers). */
  | 'response'
  /** The provider cannot be used as configured (a missing key variable). */
  | 'config';

/** A failed provider call. `message` never holds a key (providers redact what the server echoes). */
export class ProviderError extends Error {
  readonly failure: ProviderFailure;
  readonly status: number | undefined;
  /** The server's wish, from Retry-After or retry-after-ms, in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(failure: ProviderFailure, message: string, options: { status?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProviderError';
    this.failure = failure;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** 429, 408, 409, any 5xx, and dropped connections are worth another try; the rest are final. */
  get retryable(): boolean {
    if (this.failure === 'network') return true;
    if (this.failure !== 'http' || this.status === undefined) return false;
    return this.status === 429 || this.status === 408 || this.status === 409 || this.status >= 500;
  }
}

/** Parses Retry-After (delta-seconds or an HTTP date) into milliseconds from `now`; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
