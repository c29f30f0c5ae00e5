/**
 * @module index/brute-force
 * Exact top-k: every vector is scored, the k nearest are kept in a bounded heap. Two users:
 * the index itself, which scans the tail (rows committed but not yet in a graph) and falls back
 * to a scan when a selective filter leaves a graph search short of k rows; and the tests and
 * benchmark, which need ground truth. The first works on flat stored-form arrays with the hot
 * loops' keys ({@link bruteForceKeys}); the oracle ({@link exactSearch}) deliberately shares
 * nothing with the index but the public kernels of ./distance.ts, so that a bug in stored forms
 * or keys cannot hide in both sides of a recall test.
 */
import type { Metric } from '../core/index.ts';
import { distanceFunction } from './distance.ts';
import type { ArenaKernel } from './kernels.ts';
import { MinHeap } from './hnsw/heap.ts';
import type { NodeFilter } from './hnsw/search.ts';

/**
 * The k nearest of `count` stored-form vectors to a query, by the arena kernel's key. Slot i is
 * the vector at float index base + i × dims of the kernel's arena, the query is at float index
 * qOff. Slot i is skipped unless bit i of `alive` is set (when given) and `filter(i)` holds
 * (when given). Writes nearest first into `outSlots` / `outKeys`; returns min(k, accepted).
 */
export function bruteForceKeys(
  kernel: ArenaKernel,
  base: number,
  count: number,
  dims: number,
  qOff: number,
  k: number,
  alive: Uint32Array | null,
  filter: NodeFilter | null,
  outSlots: Int32Array,
  outKeys: Float64Array,
  heap: MinHeap = new MinHeap(k + 1),
): number {
  if (k <= 0) return 0;
  heap.clear();
  for (let i = 0; i < count; i++) {
    if (alive !== null && ((alive[i >>> 5] >>> (i & 31)) & 1) === 0) continue;
    if (filter !== null && !filter(i)) continue;
    const key = kernel(base + i * dims, qOff, dims);
    if (heap.size < k) heap.push(-key, i);
    else if (key < -heap.topKey()) heap.replaceTop(-key, i);
  }
  return heap.drainNegated(outSlots, outKeys);
}

/** One row of an exact answer. */
export interface ExactHit {
  rowId: number;
  distance: number;
}

/**
 * Ground truth: the k rows nearest to `query` under `metric`, with the distances SQL reports
 * (./distance.ts kernels on the raw vectors), nearest first, ties by ascending row id. Only
 * rows for which `filter` holds are considered. O(n log n); meant for tests and benchmarks.
 */
export function exactSearch(
  rows: Iterable<readonly [number, ArrayLike<number>]>,
  query: ArrayLike<number>,
  metric: Metric,
  k: number,
  filter?: (rowId: number) => boolean,
): ExactHit[] {
  const distance = distanceFunction(metric);
  const q = Float32Array.from(query);
  const hits: ExactHit[] = [];
  for (const [rowId, vector] of rows) {
    if (filter !== undefined && !filter(rowId)) continue;
    const v = vector instanceof Float32Array ? vector : Float32Array.from(vector);
    hits.push({ rowId, distance: distance(v, q) });
  }
  hits.sort((a, b) => a.distance - b.distance || a.rowId - b.rowId);
  return hits.slice(0, Math.max(0, k));
}
