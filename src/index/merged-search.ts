/**
 * @module index/merged-search
 * One k-NN search over the parts of an index — its segments and its tails (the tail, and the
 * frozen tail of a running flush) — merged into one answer and re-ranked exactly. The index
 * runs it over its live parts (./vector-index.ts); a view reader runs the very same code over
 * the parts of a view it rebuilt from shared memory (./view-reader.ts), which is what makes a
 * view's answer equal, row for row and bit for bit, to the index's answer when the view was
 * taken. A part hands back its candidates with their position (a node, or a tail slot) so the
 * re-rank reads the candidate's float32 vector where it lives, or, for a quantized segment,
 * asks the originals.
 */
import { QuiverError, type Metric } from '../core/index.ts';
import { resolveEfSearch } from './hnsw/params.ts';
import type { Quantization } from './quantization.ts';
import { rerankPoolSize, type ExactReranker } from './rerank.ts';
import { AllowedRowBitSet, type RowFilter } from './row-filter.ts';
import { reportedDistance, writeStored } from './space.ts';

/** The largest k one search may ask for. */
export const MAX_SEARCH_K = 10_000;

export interface SearchOptions {
  k: number;
  /** ef of algorithm 5 for every segment (DEFAULT_EF_SEARCH); raised to k when smaller. */
  efSearch?: number;
  /** Only rows it accepts are returned; checked inside graph traversal. */
  filter?: RowFilter | AllowedRowBitSet;
}

/** One row of an answer; `distance` is what the SQL distance function reports for the metric. */
export interface VectorHit {
  rowId: number;
  distance: number;
}

/**
 * Where a part writes its answer, nearest first: arrays its caller owns and reuses from search
 * to search, so that a search allocates nothing. Each holds at least the k asked for.
 */
export interface PartOutput {
  rowIds: Float64Array;
  keys: Float64Array;
  /** Where each row is in its part (a segment's node, a tail's slot), for exactKey. */
  positions: Int32Array;
}

/** Arrays for answers of up to `capacity` rows. */
export function partOutput(capacity: number): PartOutput {
  return { rowIds: new Float64Array(capacity), keys: new Float64Array(capacity), positions: new Int32Array(capacity) };
}

/** A segment or a tail, as one search sees it. */
export interface SearchPart {
  /** The k nearest rows passing `filter` to a stored-form query into `out`; returns how many. */
  search(query: Float32Array, k: number, ef: number, filter: RowFilter | null, out: PartOutput): number;
  /** The float64 key of the row at `position` from its float32 vector; null if it has none here. */
  exactKey(position: number, query: Float32Array): number | null;
}

interface Candidate {
  rowId: number;
  key: number;
  part: SearchPart;
  position: number;
}

/** The search of one thread (one lane): its scratch is reused from search to search. */
export class MergedSearch {
  private readonly metric: Metric;
  private readonly dims: number;
  private readonly quantization: Quantization;
  /** Exact keys from the originals; null for a float32 index, whose segments hold them. */
  private readonly reranker: ExactReranker | null;
  // The stored-form query and one part's answer.
  private readonly query: Float32Array;
  private out = partOutput(64);

  constructor(metric: Metric, dims: number, quantization: Quantization, reranker: ExactReranker | null) {
    this.metric = metric;
    this.dims = dims;
    this.quantization = quantization;
    this.reranker = reranker;
    this.query = new Float32Array(dims);
  }

  /**
   * The k nearest rows of `segments` and `tails` to `query` that pass the filter, nearest first
   * (ties by row id). A quantized index takes rerankPoolSize(k, quantization) candidates from
   * each segment and re-scores the best that many overall from the originals, so the distances
   * returned are exact float32 ones either way.
   */
  search(
    segments: readonly SearchPart[],
    tails: readonly SearchPart[],
    query: ArrayLike<number>,
    options: SearchOptions,
  ): VectorHit[] {
    const k = options.k;
    if (!Number.isInteger(k) || k < 1 || k > MAX_SEARCH_K) {
      throw new QuiverError('PARAMETER_ERROR', `k must be an integer from 1 to ${MAX_SEARCH_K}; got ${k}`);
    }
    const ef = resolveEfSearch(options.efSearch);
    const filter = options.filter instanceof AllowedRowBitSet ? options.filter.toFilter() : (options.filter ?? null);
    const q = this.query;
    writeStored(this.metric, this.dims, query, q, 0);
    const pool = this.quantization === 'none' ? k : rerankPoolSize(k, this.quantization);
    if (this.out.rowIds.length < pool) this.out = partOutput(pool);
    const out = this.out;
    const { rowIds: ids, keys, positions } = out;
    const candidates: Candidate[] = [];
    const collect = (part: SearchPart, found: number) => {
      for (let i = 0; i < found; i++) candidates.push({ rowId: ids[i], key: keys[i], part, position: positions[i] });
    };
    for (const part of segments) collect(part, part.search(q, pool, ef, filter, out));
    for (const part of tails) collect(part, part.search(q, k, ef, filter, out));
    candidates.sort((a, b) => a.key - b.key || a.rowId - b.rowId);
    // The kernels accumulate in float32 (or compare codes); re-rank what survives in float64
    // from float32 vectors, so the distances match the SQL functions and ties within float32
    // noise order correctly. A quantized segment's rows are re-scored from the originals (or
    // keep their approximate key if the originals have no usable vector).
    const top = candidates.slice(0, Math.min(candidates.length, this.reranker === null ? k + 8 : pool));
    for (const c of top) c.key = c.part.exactKey(c.position, q) ?? this.reranker?.key(c.rowId, q) ?? c.key;
    top.sort((a, b) => a.key - b.key || a.rowId - b.rowId);
    return top.slice(0, k).map((c) => ({ rowId: c.rowId, distance: reportedDistance(this.metric, c.key) }));
  }
}
