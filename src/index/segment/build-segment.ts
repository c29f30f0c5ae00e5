/**
 * @module index/segment/build-segment
 * Building a segment on the calling thread from rows given as (row id, raw vector): vectors
 * are checked and put in stored form, rows sorted by row id, the graph built, every row alive.
 * The index builds its segments through ../lifecycle/ on a worker instead; this synchronous
 * door serves the benchmark (which measures the graph itself, in-process) and tests. With a
 * `quantization`, the graph is linked on float32 and its vectors then re-encoded, as a flush does.
 */
import type { Metric } from '../../core/index.ts';
import { buildGraph } from '../hnsw/build.ts';
import { quantizeGraph } from '../hnsw/graph.ts';
import { DEFAULT_LEVEL_SEED, resolveHnswParams } from '../hnsw/params.ts';
import { VectorArena } from '../kernels.ts';
import type { Quantization } from '../quantization.ts';
import { graphDims, graphMetric, writeGraphVectors, writeStored } from '../space.ts';
import { AliveBitSet } from './alive-bitset.ts';
import { Segment } from './segment.ts';

export interface BuildSegmentInput {
  id?: number;
  dims: number;
  metric: Metric;
  /** Row ids, unique safe integers. */
  rowIds: ArrayLike<number>;
  /** Vector of rowIds[i] at i; raw (not normalised). */
  vectors: ArrayLike<ArrayLike<number>> | ((i: number) => ArrayLike<number>);
  m?: number;
  efConstruction?: number;
  seed?: number;
  /** How the segment keeps its vectors (default `none`: float32). */
  quantization?: Quantization;
}

/** Builds a segment synchronously on this thread. */
export function buildSegment(input: BuildSegmentInput): Segment {
  const { dims, metric } = input;
  const params = resolveHnswParams({ m: input.m, efConstruction: input.efConstruction });
  const n = input.rowIds.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => input.rowIds[a] - input.rowIds[b]);
  const stored = new Float32Array(dims * n);
  const rowIds = new Float64Array(n);
  const vectorOf = typeof input.vectors === 'function' ? input.vectors : (i: number) => (input.vectors as ArrayLike<ArrayLike<number>>)[i];
  for (let i = 0; i < n; i++) {
    const source = order[i];
    const rowId = input.rowIds[source];
    if (!Number.isSafeInteger(rowId) || (i > 0 && rowId === rowIds[i - 1])) {
      throw new RangeError(`row ids must be unique safe integers; got ${rowId}`);
    }
    rowIds[i] = rowId;
    writeStored(metric, dims, vectorOf(source), stored, i * dims);
  }
  const gDims = graphDims(metric, dims);
  const arena = new VectorArena(gDims * (n + 1));
  writeGraphVectors(metric, dims, n, (i) => stored.subarray(i * dims, (i + 1) * dims), arena.floats);
  let graph = buildGraph(gDims, graphMetric(metric), arena, n, params, input.seed ?? DEFAULT_LEVEL_SEED);
  const quantization = input.quantization ?? 'none';
  if (quantization !== 'none') graph = quantizeGraph(graph, quantization, dims);
  return new Segment(input.id ?? 1, graph, rowIds, AliveBitSet.allAlive(n), metric);
}

/**
 * The same segment (same links, row ids and alive bits) with its vectors re-encoded as
 * `quantization` records — what a quantized index's flush produces from the graph it linked.
 * For the benchmark, which compares storages on one graph.
 */
export function quantizeSegment(segment: Segment, quantization: Exclude<Quantization, 'none'>): Segment {
  const graph = quantizeGraph(segment.graph, quantization, segment.dims);
  return new Segment(segment.id, graph, segment.rowIds, segment.alive.clone(), segment.metric);
}
