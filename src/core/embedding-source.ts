/**
 * @module core/embedding-source
 * The contract between the SQL layer and the embedding layer: what EMBEDDING() needs of the
 * configured models. src/embed implements it; src/sql calls it. It lives in core so that
 * neither of the two imports the other.
 */

/** What EMBEDDING() needs from the embedding layer (src/embed). */
export interface EmbeddingSource {
  /** The dims to produce for `model` (its own when `dims` is undefined); throws for unknown models or impossible dims. */
  resolveDims(model: string, dims: number | undefined): number;
  /** Cached vectors, synchronously; undefined where not cached. */
  cached(model: string, dims: number, texts: string[]): (Float32Array | undefined)[];
  /** Embeds `texts` (all distinct) through the provider, caching them; throws EMBEDDING_FAILED. */
  fetch(model: string, dims: number, texts: string[]): Promise<Float32Array[]>;
  /** The configured models, for SHOW EMBEDDING MODELS; never their keys. */
  listModels(): ReadonlyArray<{ name: string; provider: string; dims: number; maxBatch: number; maxConcurrency: number }>;
  /**
   * Told that the data dir's disk is full (true) or has room again (false): while full, the
   * source writes nothing there (its cache keeps vectors in memory only).
   */
  holdWrites?(hold: boolean): void;
}
