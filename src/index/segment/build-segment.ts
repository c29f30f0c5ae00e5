/**
 * @module index/segment/build-segment
 * Building a segment on the calling thread from rows given as (row id, raw vector): vectors
 * are checked and put in stored form, rows sorted by row id, the graph built, every row alive.
 * The index builds its segments through ../lifecycle/ on a worker instead; this synchronous
 * door serves the benchmark (which measures the graph itself, in-process) and tests.
 */
import type { Metric } from '../distance.ts';
import { buildGraph } from '../hnsw/build.ts';
import { DEFAULT_LEVEL_SEED, resolveHnswParams } from '../hnsw/params.ts';
import { VectorArena } from '../kernels.ts';
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
  const graph = buildGraph(gDims, graphMetric(metric), arena, n, params, input.seed ?? DEFAULT_LEVEL_SEED);
  return new Segment(input.id ?? 1, graph, rowIds, AliveBitSet.allAlive(n), metric);
}
