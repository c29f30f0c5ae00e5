/**
 * @module tests/index/hnsw.test
 * The HNSW graph alone (algorithms 1, 2, 4, 5 in src/index/hnsw/), through a segment built on
 * this thread: recall@10 against brute force for every metric on uniform and clustered data,
 * structural invariants of the built graph, reproducible builds, and the small parts (heap,
 * visited set, WebAssembly kernels) against plain references.
 */
import { describe, expect, it } from 'vitest';
import { dotAt, squaredEuclideanAt } from '../../src/index/distance.ts';
import { MinHeap } from '../../src/index/hnsw/heap.ts';
import { VisitedSet } from '../../src/index/hnsw/visited-set.ts';
import { VectorArena } from '../../src/index/kernels.ts';
import type { VectorHit } from '../../src/index/index.ts';
import type { Metric } from '../../src/core/index.ts';
import { buildSegment, partOutput, toStored, type Segment } from '../../src/index/testing.ts';
import { reportedDistance } from '../../src/index/space.ts';
import { METRICS, clusteredVectors, mulberry32, recallAtK, uniformVectors } from './helpers.ts';

const N = 3000;
const DIMS = 24;
const QUERIES = 100;

function searchSegment(segment: Segment, metric: Metric, q: number[], k: number, ef: number): VectorHit[] {
  const out = partOutput(k);
  const found = segment.search(toStored(metric, q.length, q), k, ef, null, out);
  return Array.from({ length: found }, (_, i) => ({ rowId: out.rowIds[i], distance: reportedDistance(metric, out.keys[i]) }));
}

describe('recall@10 against brute force', () => {
  for (const metric of METRICS) {
    for (const [shape, make] of [
      ['uniform', uniformVectors],
      ['clustered', clusteredVectors],
    ] as const) {
      it(`${metric}, ${shape}`, () => {
        const vectors = make(11, N, DIMS);
        const rowIds = vectors.map((_, i) => 1000 + i * 3);
        const rows = new Map(rowIds.map((id, i) => [id, vectors[i]]));
        const segment = buildSegment({ dims: DIMS, metric, rowIds, vectors });
        const queries = make(99, QUERIES, DIMS);
        const recall = recallAtK(rows, queries, metric, 10, (q) => searchSegment(segment, metric, q, 10, 100));
        expect(recall).toBeGreaterThanOrEqual(0.95);
      });
    }
  }
});

describe('graph structure', () => {
  const vectors = clusteredVectors(5, 2000, DIMS);
  const segment = buildSegment({ dims: DIMS, metric: 'euclidean', rowIds: vectors.map((_, i) => i), vectors, m: 8, efConstruction: 64 });
  const g = segment.graph;

  it('keeps every link in range, within capacity, without self-links or duplicates', () => {
    for (let n = 0; n < g.count; n++) {
      for (let layer = 0; layer <= g.levels[n]; layer++) {
        const links = g.linkArray(layer);
        const base = g.linkBase(n, layer);
        const size = links[base];
        expect(size).toBeLessThanOrEqual(layer === 0 ? 2 * g.m : g.m);
        const seen = new Set<number>();
        for (let i = 1; i <= size; i++) {
          const e = links[base + i];
          expect(e).not.toBe(n);
          expect(e >= 0 && e < g.count).toBe(true);
          expect(g.levels[e]).toBeGreaterThanOrEqual(layer);
          expect(seen.has(e)).toBe(false);
          seen.add(e);
        }
      }
    }
  });

  it('has its entry point on the top layer, and every node reachable on layer 0', () => {
    expect(g.levels[g.entryPoint]).toBe(g.maxLevel);
    const seen = new Uint8Array(g.count);
    const stack = [g.entryPoint];
    seen[g.entryPoint] = 1;
    while (stack.length > 0) {
      const n = stack.pop()!;
      const base = g.linkBase(n, 0);
      for (let i = 1; i <= g.links0[base]; i++) {
        const e = g.links0[base + i];
        if (!seen[e]) {
          seen[e] = 1;
          stack.push(e);
        }
      }
    }
    expect(seen.reduce((a, b) => a + b, 0)).toBeGreaterThan(g.count * 0.999);
  });

  it('is reproducible: same vectors, parameters and seed give the same links', () => {
    const again = buildSegment({ dims: DIMS, metric: 'euclidean', rowIds: vectors.map((_, i) => i), vectors, m: 8, efConstruction: 64 });
    expect(Buffer.from(again.graph.links0.buffer).equals(Buffer.from(g.links0.buffer))).toBe(true);
    expect(Buffer.from(again.graph.upperLinks.buffer).equals(Buffer.from(g.upperLinks.buffer))).toBe(true);
    const other = buildSegment({ dims: DIMS, metric: 'euclidean', rowIds: vectors.map((_, i) => i), vectors, m: 8, efConstruction: 64, seed: 7 });
    expect(Buffer.from(other.graph.levels.buffer).equals(Buffer.from(g.levels.buffer))).toBe(false);
  });

  it('orders nodes by row id whatever the input order', () => {
    const ids = [50, 10, 40, 20, 30];
    const s = buildSegment({ dims: 2, metric: 'euclidean', rowIds: ids, vectors: ids.map((i) => [i, 0]) });
    expect(Array.from(s.rowIds)).toEqual([10, 20, 30, 40, 50]);
    expect(s.nodeOf(40)).toBe(3);
    expect(s.nodeOf(41)).toBe(-1);
    expect(Array.from(s.graph.vectors.subarray(6, 8))).toEqual([40, 0]);
  });

  it('answers on tiny graphs: empty, one node, fewer nodes than k', () => {
    const empty = buildSegment({ dims: 2, metric: 'cosine', rowIds: [], vectors: [] });
    expect(searchSegment(empty, 'cosine', [1, 0], 5, 10)).toEqual([]);
    const one = buildSegment({ dims: DIMS, metric: 'cosine', rowIds: [7], vectors: [uniformVectors(1, 1, DIMS)[0]] });
    expect(searchSegment(one, 'cosine', uniformVectors(2, 1, DIMS)[0], 5, 10).map((h) => h.rowId)).toEqual([7]);
    const few = buildSegment({ dims: DIMS, metric: 'dot', rowIds: [1, 2, 3], vectors: uniformVectors(3, 3, DIMS) });
    expect(searchSegment(few, 'dot', uniformVectors(4, 1, DIMS)[0], 10, 10)).toHaveLength(3);
  });

  it('ranks dot products through the augmented L2 graph, with the true −q·x as key', () => {
    const vectors = clusteredVectors(21, 500, 8);
    const s = buildSegment({ dims: 8, metric: 'dot', rowIds: vectors.map((_, i) => i), vectors });
    expect(s.graph.dims).toBe(9);
    const q = uniformVectors(22, 1, 8)[0];
    const hits = searchSegment(s, 'dot', q, 5, 100);
    for (const h of hits) {
      const exact = -vectors[h.rowId].reduce((sum, x, j) => sum + x * q[j], 0);
      expect(Math.abs(h.distance - exact)).toBeLessThan(1e-4);
    }
  });

  it('returns distances in ascending order, matching the SQL kernels', () => {
    const q = uniformVectors(8, 1, DIMS)[0];
    const hits = searchSegment(segment, 'euclidean', q, 10, 40);
    for (let i = 1; i < hits.length; i++) expect(hits[i].distance).toBeGreaterThanOrEqual(hits[i - 1].distance);
    const v = Float32Array.from(vectors[hits[0].rowId]);
    const exact = Math.sqrt(squaredEuclideanAt(v, 0, Float32Array.from(q), 0, DIMS));
    expect(Math.abs(hits[0].distance - exact)).toBeLessThan(1e-5);
  });
});

describe('parts', () => {
  it('MinHeap pops in key order, and replaceTop keeps order', () => {
    const next = mulberry32(1);
    const heap = new MinHeap(2);
    const keys: number[] = [];
    for (let i = 0; i < 500; i++) {
      const k = next();
      keys.push(k);
      heap.push(k, i);
    }
    heap.replaceTop(0.5, -1);
    keys.sort((a, b) => a - b);
    keys[0] = 0.5;
    keys.sort((a, b) => a - b);
    const out: number[] = [];
    while (heap.size > 0) {
      out.push(heap.topKey());
      heap.pop();
    }
    expect(out).toEqual(keys);
  });

  it('MinHeap.drainNegated empties a heap of negated keys nearest first', () => {
    const next = mulberry32(2);
    const heap = new MinHeap(2);
    const keys = Array.from({ length: 300 }, () => next());
    keys.forEach((k, i) => heap.push(-k, i));
    const nodes = new Int32Array(keys.length);
    const out = new Float64Array(keys.length);
    expect(heap.drainNegated(nodes, out)).toBe(keys.length);
    expect(heap.size).toBe(0);
    expect(Array.from(out)).toEqual([...keys].sort((a, b) => a - b));
    expect(Array.from(nodes, (n) => keys[n])).toEqual(Array.from(out));
  });

  it('VisitedSet starts each search empty, across a generation wrap', () => {
    const v = new VisitedSet(4);
    for (let i = 0; i < 70_000; i++) {
      const g = v.next(4);
      expect(v.marks[i % 4]).not.toBe(g);
      v.marks[i % 4] = g;
    }
  });

  it('WebAssembly kernels match the float64 kernels at every length and offset', () => {
    const arena = new VectorArena(4096);
    const next = mulberry32(9);
    for (let i = 0; i < 4096; i++) arena.floats[i] = next() * 2 - 1;
    for (const n of [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 128, 129, 384, 960]) {
      for (const [a, b] of [
        [0, 1024],
        [3, 2047],
        [17, 3000],
      ]) {
        const ip = -dotAt(arena.floats, a, arena.floats, b, n);
        const l2 = squaredEuclideanAt(arena.floats, a, arena.floats, b, n);
        expect(Math.abs(arena.negDot(a, b, n) - ip)).toBeLessThan(1e-5 * (1 + n));
        expect(Math.abs(arena.l2(a, b, n) - l2)).toBeLessThan(1e-5 * (1 + n));
      }
    }
  });

  it('batched kernels score a list of ids like the single kernels', () => {
    const dims = 37;
    const arena = new VectorArena(dims * 50 + 200);
    const next = mulberry32(10);
    for (let i = 0; i < dims * 50; i++) arena.floats[i] = next() * 2 - 1;
    const q = dims * 49;
    const idsAt = dims * 50;
    const outAt = idsAt + 40;
    const ids = [3, 0, 48, 17, 17, 25];
    ids.forEach((id, i) => (arena.ints[idsAt + i] = id));
    for (const [batch, single] of [
      [arena.negDotBatch, arena.negDot],
      [arena.l2Batch, arena.l2],
    ] as const) {
      batch(idsAt, ids.length, q, dims, outAt);
      ids.forEach((id, i) => expect(arena.floats[outAt + i]).toBe(Math.fround(single(id * dims, q, dims))));
    }
  });

  it('a shared arena grows and keeps its contents', () => {
    const arena = new VectorArena(10, true);
    arena.floats[5] = 42;
    arena.ensure(1_000_000);
    expect(arena.floats.length).toBeGreaterThanOrEqual(1_000_000);
    expect(arena.floats[5]).toBe(42);
    expect(arena.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});
