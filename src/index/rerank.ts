/**
 * @module index/rerank
 * Exact re-ranking of the final candidates of a quantized index. A quantized segment keeps only
 * codes in memory — that is the point: its float32 vectors are not held twice — so the keys a
 * graph search returns are approximate. The index therefore asks for a larger pool than k,
 * merges the pools of all segments and the tail by those keys, and re-scores the best
 * {@link rerankPoolSize} candidates from the float32 originals, which come from the index's
 * owner: SQLite, the source of truth, for the SQL layer (src/sql/index-sync/index-registry.ts reads them
 * by rowid), an array for the benchmark and tests. Reading a few dozen rows per query costs far
 * less than keeping every float32 vector resident, and the tail (rows not yet in a graph) stays
 * float32 anyway, so its keys are exact already.
 */
import type { Metric } from '../core/index.ts';
import type { Quantization } from './quantization.ts';
import { exactKey, writeStored } from './space.ts';

/**
 * The float32 original of a live row (raw, as inserted: the index puts it in stored form), or
 * null / undefined if the owner has none. Called during a search, on the searching thread (the
 * index's own, or a worker's that searches a view through ./view-reader.ts).
 */
export type OriginalVectors = (rowId: number) => ArrayLike<number> | null | undefined;

/**
 * Candidates re-ranked beyond k, as a share of k with a floor, per quantization: int8 keys
 * misorder near neighbours now and then, int16 keys almost never.
 */
const RERANK_EXTRA: Readonly<Record<Exclude<Quantization, 'none'>, { share: number; min: number }>> = {
  int8: { share: 0.5, min: 5 },
  int16: { share: 0.1, min: 2 },
};
/** Never more than this many beyond k (a post-filter asking for thousands re-reads k + 100). */
export const RERANK_MAX_EXTRA = 100;

/**
 * How many candidates are re-ranked exactly for k answers: k + k/2 (at least 5) for int8,
 * k + k/10 (at least 2) for int16. On the bench's wink vectors, int8's re-ranked recall@10
 * stops growing at a pool of 15 and int16's equals float32's already at 10 (BENCHMARKS.md,
 * bench:ann); a larger pool only adds reads of originals from SQLite, one per candidate.
 */
export function rerankPoolSize(k: number, quantization: Exclude<Quantization, 'none'>): number {
  const { share, min } = RERANK_EXTRA[quantization];
  return k + Math.min(RERANK_MAX_EXTRA, Math.max(min, Math.ceil(k * share)));
}

/** Exact keys (the hot loops' −q·x or ‖q − x‖², in float64) from the originals. */
export class ExactReranker {
  private readonly metric: Metric;
  private readonly dims: number;
  private readonly originals: OriginalVectors;
  private readonly stored: Float32Array;
  /** Originals read since construction (for tests and the benchmark). */
  reads = 0;

  constructor(metric: Metric, dims: number, originals: OriginalVectors) {
    this.metric = metric;
    this.dims = dims;
    this.originals = originals;
    this.stored = new Float32Array(dims);
  }

  /**
   * The exact key between `rowId`'s original and a stored-form query, or undefined when the
   * owner has no usable vector for it (absent, other dimensions, not finite): the caller keeps
   * the approximate key then, which cannot happen while the owner and the index agree.
   */
  key(rowId: number, query: Float32Array): number | undefined {
    this.reads++;
    const original = this.originals(rowId);
    if (original === null || original === undefined || original.length !== this.dims) return undefined;
    try {
      writeStored(this.metric, this.dims, original, this.stored, 0);
    } catch {
      return undefined;
    }
    return exactKey(this.metric, this.stored, 0, query, this.dims);
  }
}
