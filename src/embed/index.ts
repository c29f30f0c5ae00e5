/**
 * @module embed
 * Quiver's embedding layer, the public door of src/embed: the models of one data dir (the
 * built-in offline model and those of the config file, see registry.ts; OpenAI-compatible ones
 * send their requests from a thread of their own, providers/provider-thread.ts), the batcher
 * that feeds them (batcher.ts) and the cache in front of them (cache.ts: memory, then a file
 * written by a thread of its own). The SQL layer passes an Embeddings to Engine.open as its
 * EmbeddingSource. Runs on the thread that owns it.
 *
 * @example
 * ```ts
 * const embeddings = Embeddings.open({ dataDir: './data' });
 * const [q] = await embeddings.embed('quiver-local-100d', 100, ['What is HashMatch?']);
 * embeddings.getCached('quiver-local-100d', 100, ['What is HashMatch?']); // [Float32Array(100)]
 * embeddings.close();
 * ```
 */
import { join } from 'node:path';
import type { EmbeddingSource } from '../core/index.ts';
import { Batcher } from './batcher.ts';
import type { BatcherOptions } from './batcher.ts';
import { CACHE_FILE, EmbeddingCache } from './cache.ts';
import type { CacheStats } from './cache.ts';
import type { ModelInfo } from './provider.ts';
import { defaultCacheDir } from './providers/local-model-file.ts';
import { findConfigPath, loadConfig, ModelRegistry } from './registry.ts';
import type { ChatModelConfig, ModelSummary } from './registry.ts';

export { EmbeddingConfigError, EMBEDDING_CONFIG_ENV, EMBEDDING_CONFIG_FILE } from './registry.ts';
export type { ChatModelConfig, ModelSummary } from './registry.ts';
export type { CacheStats } from './cache.ts';
export type { EmbeddingProvider, ModelInfo, ProviderKind } from './provider.ts';
export { LOCAL_MODEL_NAME, LOCAL_MODEL_DIMS } from './providers/local.ts';
export { causeMessage, createOpenAIClient, scrubProviderMessage } from './providers/openai.ts';

export interface EmbeddingsOptions {
  /** The data dir: holds `embedding-cache.db` and may hold `embedding.json`. Without it the cache lives in memory. */
  dataDir?: string;
  /** The config file; overrides QUIVER_EMBEDDING_CONFIG and `<dataDir>/embedding.json`. */
  configPath?: string;
  /** Where the built-in model's converted file goes; default QUIVER_CACHE_DIR, $XDG_CACHE_HOME/quiver or ~/.cache/quiver. */
  cacheDir?: string;
  /** Where keys and the variables above are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Cache bounds; override the config file's `cache` section. */
  cacheMaxBytes?: number;
  cacheMaxEntries?: number;
  /** Retry timing and cache-error reporting, for tests and embedders. */
  batcher?: BatcherOptions;
}

/**
 * The `chat` section of the same config file (found as Embeddings.open finds it), for
 * /v1/chat; empty when there is no file or no section. Throws EmbeddingConfigError on mistakes.
 */
export function readChatConfig(options: Pick<EmbeddingsOptions, 'dataDir' | 'configPath' | 'env'> = {}): ChatModelConfig[] {
  const env = options.env ?? process.env;
  return loadConfig(findConfigPath({ configPath: options.configPath, dataDir: options.dataDir, env })).chat;
}

/** The embedding models of one data dir, with batching and a persistent cache. */
export class Embeddings implements EmbeddingSource {
  private constructor(
    private readonly registry: ModelRegistry,
    private readonly cache: EmbeddingCache,
    private readonly batcher: Batcher,
    /** The config file in use, if any. */
    readonly configPath: string | undefined,
  ) {}

  /** Reads the config (throwing EmbeddingConfigError on mistakes) and opens the cache. */
  static open(options: EmbeddingsOptions = {}): Embeddings {
    const env = options.env ?? process.env;
    const configPath = findConfigPath({ configPath: options.configPath, dataDir: options.dataDir, env });
    const config = loadConfig(configPath);
    const registry = new ModelRegistry(config, { env, cacheDir: options.cacheDir ?? defaultCacheDir(env) });
    const cache = new EmbeddingCache({
      path: options.dataDir ? join(options.dataDir, CACHE_FILE) : ':memory:',
      maxBytes: options.cacheMaxBytes ?? config.cache.maxBytes,
      maxEntries: options.cacheMaxEntries ?? config.cache.maxEntries,
      onWriteError: options.batcher?.onCacheError,
    });
    return new Embeddings(registry, cache, new Batcher(cache, options.batcher), configPath);
  }

  /** Model `name` (case-insensitive); UNKNOWN_MODEL listing the configured ones. */
  model(name: string): ModelInfo {
    return this.registry.get(name).model;
  }

  /** Every model, for SHOW EMBEDDING MODELS; holds no keys. */
  listModels(): ModelSummary[] {
    return this.registry.list();
  }

  /** The dims EMBEDDING(text, model[, dims]) produces; UNKNOWN_MODEL or EMBEDDING_DIMENSIONS when it cannot. */
  resolveDims(model: string, dims: number | undefined): number {
    return this.registry.resolveDims(model, dims);
  }

  /**
   * One vector per text, in order, through cache and provider; EMBEDDING_FAILED if the provider
   * fails. The vectors may be the cache's own: do not modify them.
   */
  async embed(model: string, dims: number, texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const provider = this.registry.get(model);
    const resolved = this.registry.resolveDims(model, dims);
    return this.batcher.embedAll(provider, resolved, texts, { signal });
  }

  /**
   * Vectors available without waiting, in order (undefined where not): the persistent cache,
   * or for models that are not cached (the built-in one) the model itself once loaded.
   */
  getCached(model: string, dims: number, texts: readonly string[]): (Float32Array | undefined)[] {
    const provider = this.registry.get(model);
    const resolved = this.registry.resolveDims(model, dims);
    if (!provider.model.cache) return provider.embedSync?.([...texts], resolved) ?? texts.map(() => undefined);
    return this.cache.getMany(provider.model.identity, resolved, texts);
  }

  /** EmbeddingSource.cached: getCached. */
  cached(model: string, dims: number, texts: string[]): (Float32Array | undefined)[] {
    return this.getCached(model, dims, texts);
  }

  /**
   * EmbeddingSource.fetch: embed texts the SQL layer has just missed through `cached`, without
   * a caller signal; only the memory layer is looked at again (for what other requests fetched since).
   */
  fetch(model: string, dims: number, texts: string[]): Promise<Float32Array[]> {
    const provider = this.registry.get(model);
    const resolved = this.registry.resolveDims(model, dims);
    return this.batcher.embedAll(provider, resolved, texts, { lookup: 'memory' });
  }

  /** Loads what model `name` needs before its first request (the built-in model's vectors). */
  async warmUp(name: string): Promise<void> {
    await this.registry.get(name).warmUp?.();
  }

  /** EmbeddingSource.holdWrites: the cache writes nothing to its file while held. */
  holdWrites(hold: boolean): void {
    this.cache.holdWrites(hold);
  }

  /** Entries and bytes in the persistent cache. */
  cacheStats(): CacheStats {
    return this.cache.stats();
  }

  /** Writes the cache's waiting vectors and closes it, and stops the providers' thread: requests in flight fail. */
  close(): void {
    this.cache.close();
    this.registry.close();
  }
}
