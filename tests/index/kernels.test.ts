/**
 * The offset kernels added to src/index/distance.ts (dotAt, squaredEuclideanAt) against the
 * whole-array kernels on subarrays, the stored form and reported distances of
 * src/index/space.ts, and the AliveBitSet's counting.
 */
import { describe, expect, it } from 'vitest';
import { dot, dotAt, squaredEuclidean, squaredEuclideanAt } from '../../src/index/distance.ts';
import { AliveBitSet } from '../../src/index/segment/alive-bitset.ts';
import { graphDims, reportedDistance, toStored, writeGraphVectors } from '../../src/index/space.ts';
import { mulberry32 } from './helpers.ts';

describe('offset kernels', () => {
  it('equal the whole-array kernels on the same floats', () => {
    const next = mulberry32(3);
    const buffer = Float32Array.from({ length: 3000 }, () => next() * 2 - 1);
    for (const n of [1, 3, 4, 7, 8, 100, 129]) {
      for (const [a, b] of [
        [0, 1000],
        [5, 2001],
        [999, 13],
      ]) {
        const va = buffer.subarray(a, a + n);
        const vb = buffer.subarray(b, b + n);
        expect(dotAt(buffer, a, buffer, b, n)).toBeCloseTo(dot(va, vb), 12);
        expect(squaredEuclideanAt(buffer, a, buffer, b, n)).toBeCloseTo(squaredEuclidean(va, vb), 12);
      }
    }
  });
});

describe('stored form', () => {
  it('normalises cosine vectors, keeps zero vectors zero, copies the others', () => {
    expect(Array.from(toStored('cosine', 2, [3, 4]))).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(toStored('cosine', 2, [0, 0]))).toEqual([0, 0]);
    expect(Array.from(toStored('dot', 2, [3, 4]))).toEqual([3, 4]);
    expect(reportedDistance('cosine', -1)).toBe(0);
    expect(reportedDistance('cosine', 0)).toBe(1);
    expect(reportedDistance('cosine', -1.0000001)).toBe(0);
    expect(reportedDistance('euclidean', 25)).toBe(5);
    expect(reportedDistance('dot', -7)).toBe(-7);
  });

  it('augments dot vectors to equal norms, so L2 order is inner-product order', () => {
    const rows = [new Float32Array([1, 0]), new Float32Array([3, 4]), new Float32Array([0, 2])];
    const out = new Float32Array(rows.length * graphDims('dot', 2));
    writeGraphVectors('dot', 2, rows.length, (i) => rows[i], out);
    for (let i = 0; i < 3; i++) {
      const v = out.subarray(i * 3, i * 3 + 3);
      expect(v[0] ** 2 + v[1] ** 2 + v[2] ** 2).toBeCloseTo(25, 5);
    }
  });
});

describe('AliveBitSet', () => {
  it('counts kills once and keeps bits past the size clear', () => {
    const alive = AliveBitSet.allAlive(70);
    expect(alive.words).toHaveLength(3);
    expect(alive.words[2]).toBe(0b111111);
    expect(alive.kill(69)).toBe(true);
    expect(alive.kill(69)).toBe(false);
    expect(alive.isAlive(69)).toBe(false);
    expect(alive.isAlive(68)).toBe(true);
    expect(alive.aliveCount).toBe(69);
    const copy = AliveBitSet.fromWords(70, alive.words.slice())!;
    expect(copy.deadCount).toBe(1);
    const bad = alive.words.slice();
    bad[2] |= 1 << 31;
    expect(AliveBitSet.fromWords(70, bad)).toBeNull();
  });
});
