/**
 * @module index/testing
 * The second entry of the vector index, for bench/ and tests/ only, never for src/ (whose door
 * is ./index.ts): the parts below the VectorIndex that a benchmark or a test drives on its
 * own. A synchronous segment builder and quantizer, the arrays a segment's search writes its
 * answer into, the segment file format and its errors, the merge policy, the exact search used
 * as ground truth and the exact re-ranker of quantized segments, the stored form of vectors,
 * the offset kernel and heap the benchmark's ground truth is computed with, the seeded
 * generator of level draws, and whether the WebAssembly SIMD kernels are in use.
 */
export { buildSegment, quantizeSegment } from './segment/build-segment.ts';
export type { Segment } from './segment/segment.ts';
export { partOutput, type PartOutput } from './merged-search.ts';
export { SEGMENT_FORMAT_VERSION, readSegment, segmentFromContents, writeSegment } from './segment/format.ts';
export { SegmentCorruptError } from './errors.ts';
export { DEFAULT_MERGE_POLICY, chooseMerges, type SegmentSummary } from './lifecycle/merge-policy.ts';
export { exactSearch } from './brute-force.ts';
export { ExactReranker, rerankPoolSize, type OriginalVectors } from './rerank.ts';
export { QUANTIZATIONS } from './quantization.ts';
export type { RowFilter } from './row-filter.ts';
export { toStored } from './space.ts';
export { dotAt } from './distance.ts';
export { MinHeap } from './hnsw/heap.ts';
export { mulberry32 } from './hnsw/graph.ts';
export { simdAvailable } from './kernels.ts';
