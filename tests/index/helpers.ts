/**
 * @module tests/index/helpers
 * Seeded data for the index tests: uniform and clustered vectors, so every failure reproduces,
 * and a recall@k measure against the exact oracle.
 */
import type { VectorHit } from '../../src/index/index.ts';
import type { Metric } from '../../src/core/index.ts';
import { exactSearch } from '../../src/index/testing.ts';
import { mulberry32 } from '../../src/index/hnsw/graph.ts';

export { mulberry32 };

export function uniformVectors(seed: number, count: number, dims: number): number[][] {
  const next = mulberry32(seed);
  return Array.from({ length: count }, () => Array.from({ length: dims }, () => next() * 2 - 1));
}

/** Gaussian-ish blobs around `clusters` random centres: harder for graphs than uniform data. */
export function clusteredVectors(seed: number, count: number, dims: number, clusters = 20, spread = 0.15): number[][] {
  const next = mulberry32(seed);
  const centres = uniformVectors(seed + 1, clusters, dims);
  const gauss = () => (next() + next() + next() - 1.5) * 2 * spread;
  return Array.from({ length: count }, () => {
    const c = centres[Math.floor(next() * clusters)];
    return c.map((x) => x + gauss());
  });
}

/** Mean fraction of the exact top-k that `search` returns, over the queries. */
export function recallAtK(
  rows: ReadonlyMap<number, number[]>,
  queries: number[][],
  metric: Metric,
  k: number,
  search: (q: number[]) => VectorHit[],
  filter?: (rowId: number) => boolean,
): number {
  let hits = 0;
  let wanted = 0;
  for (const q of queries) {
    const truth = exactSearch(rows.entries(), q, metric, k, filter);
    const got = new Set(search(q).map((h) => h.rowId));
    for (const t of truth) if (got.has(t.rowId)) hits++;
    wanted += truth.length;
  }
  return wanted === 0 ? 1 : hits / wanted;
}

export const METRICS: Metric[] = ['cosine', 'euclidean', 'dot'];
