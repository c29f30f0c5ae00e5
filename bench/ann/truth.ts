/**
 * @module bench/ann/truth
 * Exact ground truth for the ANN benchmark: for each query, the ids of the k base vectors with
 * the largest inner product (the vectors are normalised, so this is cosine), optionally among
 * those a filter accepts. Computed in float64 with the index's JavaScript kernel (dotAt of
 * src/index/distance.ts) — independent of the SIMD kernels both sides of the comparison use —
 * with ties broken by the lower id.
 */
import { MinHeap, dotAt } from '../../src/index/testing.ts';

export function groundTruth(
  base: Float32Array,
  baseCount: number,
  queries: Float32Array,
  queryCount: number,
  dims: number,
  k: number,
  filter?: (id: number) => boolean,
): Int32Array[] {
  const heap = new MinHeap(k + 1);
  const out: Int32Array[] = [];
  for (let q = 0; q < queryCount; q++) {
    heap.clear();
    const qOff = q * dims;
    for (let i = 0; i < baseCount; i++) {
      if (filter !== undefined && !filter(i)) continue;
      const key = -dotAt(base, i * dims, queries, qOff, dims);
      // Keep the k smallest keys: a max-heap by negated key; on equal keys keep the lower id.
      if (heap.size < k) heap.push(-key, i);
      else if (key < -heap.topKey()) heap.replaceTop(-key, i);
    }
    const ids = new Int32Array(heap.size);
    for (let i = heap.size - 1; i >= 0; i--) {
      ids[i] = heap.topNode();
      heap.pop();
    }
    out.push(ids);
  }
  return out;
}

/** Fraction of the true ids found, over all queries. */
export function recall(truth: Int32Array[], found: ArrayLike<number>[]): number {
  let hits = 0;
  let wanted = 0;
  for (let q = 0; q < truth.length; q++) {
    const want = new Set(truth[q]);
    for (let i = 0; i < found[q].length; i++) if (want.has(found[q][i])) hits++;
    wanted += truth[q].length;
  }
  return wanted === 0 ? 1 : hits / wanted;
}

/** QPS at `target` recall by linear interpolation on a recall-sorted curve; null if never reached. */
export function qpsAtRecall(points: { recall: number; qps: number }[], target: number): number | null {
  const sorted = [...points].sort((a, b) => a.recall - b.recall);
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i];
    if (p.recall >= target) {
      // Already past the target at the cheapest setting: that QPS is a lower bound, report it.
      if (i === 0 || p.recall === target) return p.qps;
      const lo = sorted[i - 1];
      const t = (target - lo.recall) / (p.recall - lo.recall);
      return lo.qps + t * (p.qps - lo.qps);
    }
  }
  return null;
}
