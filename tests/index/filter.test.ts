/**
 * @module tests/index/filter.test
 * Filtered and masked search: the filter runs inside the graph walk (masked nodes route but are
 * never returned), so a search returns exactly min(k, matching) rows, only matching ones, at
 * every selectivity down to a handful of rows and none — also through the exact-scan fallback
 * that very selective filters reach. (At such selectivity the SQL planner pre-filters instead;
 * the index must still be correct.) Deleted rows are never returned, while still routing.
 */
import { describe, expect, it } from 'vitest';
import { AllowedRowBitSet, VectorIndex } from '../../src/index/index.ts';
import { type Metric } from '../../src/core/index.ts';
import { buildSegment, exactSearch, partOutput, toStored, type RowFilter } from '../../src/index/testing.ts';
import { METRICS, clusteredVectors, mulberry32, recallAtK } from './helpers.ts';

const N = 4000;
const DIMS = 16;
const K = 10;

/** Row r's attribute, uniform in 0..999, so "attr < t" keeps t/10 percent. */
function attributes(seed: number): Int32Array {
  const next = mulberry32(seed);
  return Int32Array.from({ length: N }, () => Math.floor(next() * 1000));
}

describe.each(METRICS)('filtered segment search, %s', (metric: Metric) => {
  const vectors = clusteredVectors(31, N, DIMS);
  const rows = new Map(vectors.map((v, i) => [i, v]));
  const segment = buildSegment({ dims: DIMS, metric, rowIds: vectors.map((_, i) => i), vectors });
  const attr = attributes(32);
  const queries = clusteredVectors(33, 30, DIMS);
  const out = partOutput(K);
  const search = (q: number[], filter: RowFilter | null, ef = 64) => {
    const found = segment.search(toStored(metric, DIMS, q), K, ef, filter, out);
    return Array.from(out.rowIds.subarray(0, found));
  };

  // Per mille kept: 50%, 10%, 1%, 0.5%, 0.1% (4 rows), one row, none.
  for (const keep of [500, 100, 10, 5, 1]) {
    it(`keeps ${keep / 10}% of rows: exactly min(k, matching), only matching, recall >= 0.9`, () => {
      const filter: RowFilter = (r) => attr[r] < keep;
      const matching = attr.filter((a) => a < keep).length;
      for (const q of queries) {
        const got = search(q, filter);
        expect(got).toHaveLength(Math.min(K, matching));
        for (const r of got) expect(filter(r)).toBe(true);
        expect(new Set(got).size).toBe(got.length);
      }
      const recall = recallAtK(rows, queries, metric, K, (q) => search(q, filter, 100).map((rowId) => ({ rowId, distance: 0 })), filter);
      expect(recall).toBeGreaterThanOrEqual(0.9);
    });
  }

  it('a filter matching one row returns it; one matching none returns nothing', () => {
    expect(search(queries[0], (r) => r === 1234)).toEqual([1234]);
    expect(search(queries[0], () => false)).toEqual([]);
  });

  it('an AllowedRowBitSet filters like the predicate it stands for', () => {
    const allowed = AllowedRowBitSet.of(Array.from({ length: N }, (_, i) => i).filter((r) => attr[r] < 20));
    for (const q of queries.slice(0, 5)) {
      expect(search(q, allowed.toFilter())).toEqual(search(q, (r) => attr[r] < 20));
    }
    expect(allowed.has(N + 10_000)).toBe(false);
  });
});

describe('deletes', () => {
  it('a deleted row is never returned by a segment, even as the nearest, and still routes', () => {
    const vectors = clusteredVectors(41, N, DIMS);
    const segment = buildSegment({ dims: DIMS, metric: 'euclidean', rowIds: vectors.map((_, i) => i), vectors });
    const next = mulberry32(42);
    const dead = new Set<number>();
    while (dead.size < N / 2) {
      const r = Math.floor(next() * N);
      if (segment.delete(r)) dead.add(r);
    }
    expect(segment.delete([...dead][0])).toBe(false);
    const live = new Map(vectors.map((v, i) => [i, v] as const).filter(([i]) => !dead.has(i)));
    const out = partOutput(K);
    const queries = [...dead].slice(0, 40).map((r) => vectors[r]);
    const recall = recallAtK(live, queries, 'euclidean', K, (q) => {
      const found = segment.search(toStored('euclidean', DIMS, q), K, 64, null, out);
      const got = Array.from(out.rowIds.subarray(0, found));
      expect(got).toHaveLength(K);
      for (const r of got) expect(dead.has(r)).toBe(false);
      return got.map((rowId) => ({ rowId, distance: 0 }));
    });
    expect(recall).toBeGreaterThanOrEqual(0.9);
  });
});

describe('filtered VectorIndex search over segments and the tail', () => {
  it('merges segments and tail into exactly min(k, matching) matching rows', async () => {
    const index = new VectorIndex({ dims: DIMS, metric: 'cosine', builder: 'inline', autoMaintain: false });
    const vectors = clusteredVectors(51, 3000, DIMS);
    const rows = new Map<number, number[]>();
    for (let i = 0; i < 3000; i++) {
      index.insert(i, vectors[i]);
      rows.set(i, vectors[i]);
      if (i === 999 || i === 1999) await index.flushNow();
    }
    expect(index.stats().segments).toHaveLength(2);
    expect(index.stats().tailRows).toBe(1000);
    for (const [keep, allowed] of [
      [3000, null],
      [30, (r: number) => r % 100 === 7],
      [3, (r: number) => r === 5 || r === 1500 || r === 2999],
      [0, () => false],
    ] as const) {
      for (const q of clusteredVectors(52, 10, DIMS)) {
        const got = index.search(q, { k: K, efSearch: 64, filter: allowed ?? undefined });
        expect(got).toHaveLength(Math.min(K, keep));
        if (allowed !== null) for (const h of got) expect(allowed(h.rowId)).toBe(true);
        if (keep <= K) {
          const truth = exactSearch(rows.entries(), q, 'cosine', K, allowed ?? undefined);
          expect(got.map((h) => h.rowId)).toEqual(truth.map((h) => h.rowId));
        }
      }
    }
    await index.close();
  });
});
