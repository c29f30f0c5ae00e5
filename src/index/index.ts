/**
 * @module index
 * The door of Quiver's vector index (src/index/): the names code elsewhere in src/ uses, and
 * nothing else; the rest of src/index/ is private to it. The main type is {@link VectorIndex},
 * the LSM-shaped index of one vector column: insert, delete, search (with an in-graph row filter
 * such as {@link AllowedRowBitSet}), background flush and merge on a worker thread, stats, and
 * save/load with typed reports of damaged files; with {@link IndexViewReader}, searches of its
 * views from other threads. Beside it: the bounds of its options that the catalog and SET check
 * (HNSW parameters, flush thresholds, quantization, k), the name of its manifest file, and the
 * distance kernels the SQL functions compute with. Metric names are src/core's. What benchmarks
 * and tests need besides is in ./testing.ts.
 */
export {
  VectorIndex,
  DEFAULT_FLUSH_AGE_MS,
  DEFAULT_FLUSH_ROWS,
  MAX_SEARCH_K,
  MIN_FLUSH_ROWS,
  type SearchOptions,
  type VectorHit,
  type VectorIndexOptions,
  type VectorIndexStats,
} from './vector-index.ts';
export { IndexViewReader } from './view-reader.ts';
export type { IndexViewData, SegmentViewData, TailViewData } from './view-data.ts';
export { AllowedRowBitSet } from './row-filter.ts';
export { DEFAULT_QUANTIZATION, parseQuantization, type Quantization } from './quantization.ts';
export {
  DEFAULT_EF_CONSTRUCTION,
  DEFAULT_M,
  MAX_EF_CONSTRUCTION,
  MAX_EF_SEARCH,
  MAX_M,
  MIN_EF_CONSTRUCTION,
  MIN_M,
  resolveEfSearch,
} from './hnsw/params.ts';
export { MANIFEST_FILE } from './lifecycle/persist.ts';
export {
  cosineDistance,
  distanceFunction,
  euclideanDistance,
  negativeDot,
  type DistanceFunction,
} from './distance.ts';
