/**
 * @module index
 * The public door of Quiver's vector index (src/index/): what the SQL layer and the benchmarks
 * may use. Everything else under src/index/ is private to it. The main type is
 * {@link VectorIndex}, the LSM-shaped index of one vector column: insert, delete, search (with
 * an in-graph row filter), background flush and merge on a worker thread, stats, and
 * save/load with typed reports of damaged files; with {@link IndexViewReader}, searches of its
 * views from other threads. Below it, for the benchmark and tests: a synchronous segment
 * builder, the segment file format, the merge policy and the exact search used as ground truth;
 * the quantization choices and the exact re-ranker of quantized indexes. The HNSW parameter bounds are the ones the catalog validates with.
 */
export {
  VectorIndex,
  DEFAULT_FLUSH_AGE_MS,
  DEFAULT_FLUSH_ROWS,
  MAX_SEARCH_K,
  MAX_SEARCH_LANES,
  MIN_FLUSH_ROWS,
  type LoadResult,
  type SearchOptions,
  type SegmentStats,
  type VectorHit,
  type VectorIndexOptions,
  type VectorIndexStats,
} from './vector-index.ts';
export type { FailPoint } from './lifecycle/segment-jobs.ts';
export { IndexViewReader } from './view-reader.ts';
export type { IndexViewData, SegmentViewData, TailViewData } from './view-data.ts';
export { AllowedRowBitSet, type RowFilter } from './row-filter.ts';
export {
  DEFAULT_QUANTIZATION,
  QUANTIZATIONS,
  parseQuantization,
  type Quantization,
} from './quantization.ts';
export {
  ExactReranker,
  RERANK_MAX_EXTRA,
  rerankPoolSize,
  type OriginalVectors,
} from './rerank.ts';
export { exactSearch, type ExactHit } from './brute-force.ts';
export {
  DEFAULT_EF_CONSTRUCTION,
  DEFAULT_EF_SEARCH,
  DEFAULT_M,
  MAX_EF_CONSTRUCTION,
  MAX_EF_SEARCH,
  MAX_M,
  MIN_EF_CONSTRUCTION,
  MIN_EF_SEARCH,
  MIN_M,
  resolveEfSearch,
  resolveHnswParams,
  type HnswParams,
} from './hnsw/params.ts';
export { SegmentCorruptError, isSegmentCorruptError, type SegmentCorruptReason } from './errors.ts';
export { Segment } from './segment/segment.ts';
export { AliveBitSet } from './segment/alive-bitset.ts';
export { buildSegment, quantizeSegment, type BuildSegmentInput } from './segment/build-segment.ts';
export {
  SEGMENT_FORMAT_VERSION,
  readSegment,
  segmentFromContents,
  writeSegment,
  type SegmentFileContents,
} from './segment/format.ts';
export { DEFAULT_MERGE_POLICY, chooseMerges, type MergePolicy, type SegmentSummary } from './lifecycle/merge-policy.ts';
export { MANIFEST_FILE, type LoadProblem } from './lifecycle/persist.ts';
export { reportedDistance, toStored } from './space.ts';
export { simdAvailable } from './kernels.ts';
export {
  cosineDistance,
  distanceFunction,
  dot,
  euclideanDistance,
  negativeDot,
  parseMetric,
  squaredEuclidean,
  type DistanceFunction,
  type Metric,
} from './distance.ts';
