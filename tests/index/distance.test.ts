/**
 * @module tests/index/distance.test
 * Distance kernels against a plain float64 reference on seeded random vectors of every
 * remainder modulo the unroll width, plus the edge cases that sort order depends on
 * (zero vectors, parallel and opposite vectors, extreme magnitudes), and the parsing of metric
 * names (src/core/metric.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  cosineDistance,
  distanceFunction,
  dot,
  euclideanDistance,
  negativeDot,
  squaredEuclidean,
} from '../../src/index/distance.ts';
import { QuiverError, parseMetric } from '../../src/core/index.ts';

const LENGTHS = [1, 2, 3, 4, 5, 7, 8, 9, 16, 100, 128, 129, 960];
const PAIRS_PER_LENGTH = 20;

/** mulberry32: a tiny seeded PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomVector(next: () => number, length: number, scale = 1): Float32Array {
  const v = new Float32Array(length);
  for (let i = 0; i < length; i++) v[i] = (next() * 2 - 1) * scale;
  return v;
}

const reference = {
  dot(a: Float32Array, b: Float32Array): number {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  },
  squaredEuclidean(a: Float32Array, b: Float32Array): number {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
    return s;
  },
  cosine(a: Float32Array, b: Float32Array): number {
    const na = Math.sqrt(reference.dot(a, a));
    const nb = Math.sqrt(reference.dot(b, b));
    if (na === 0 || nb === 0) return 1;
    return 1 - reference.dot(a, b) / (na * nb);
  },
};

/** Relative to the magnitude involved: the kernels only reorder float64 additions. */
function expectClose(actual: number, expected: number, magnitude = 1): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(magnitude)));
}

describe('kernels match a float64 reference', () => {
  for (const length of LENGTHS) {
    it(`length ${length}`, () => {
      const next = rng(length * 7919);
      for (let p = 0; p < PAIRS_PER_LENGTH; p++) {
        const scale = p % 2 === 0 ? 1 : 1000;
        const a = randomVector(next, length, scale);
        const b = randomVector(next, length, scale);
        const mag = scale * scale * length;
        expectClose(dot(a, b), reference.dot(a, b), mag);
        expectClose(negativeDot(a, b), -reference.dot(a, b), mag);
        expectClose(squaredEuclidean(a, b), reference.squaredEuclidean(a, b), mag);
        expectClose(euclideanDistance(a, b), Math.sqrt(reference.squaredEuclidean(a, b)), scale * Math.sqrt(length));
        expectClose(cosineDistance(a, b), reference.cosine(a, b));
      }
    });
  }

  it('handles an empty pair (no elements) without NaN', () => {
    const e = new Float32Array(0);
    expect(dot(e, e)).toBe(0);
    expect(squaredEuclidean(e, e)).toBe(0);
    expect(cosineDistance(e, e)).toBe(1);
  });
});

describe('edge cases', () => {
  it('defines the cosine distance of a zero vector as 1', () => {
    const zero = new Float32Array(5);
    const v = Float32Array.from([1, -2, 3, 0.5, 4]);
    expect(cosineDistance(zero, v)).toBe(1);
    expect(cosineDistance(v, zero)).toBe(1);
    expect(cosineDistance(zero, zero)).toBe(1);
  });

  it('keeps cosine within [0, 2]: parallel gives exactly 0, opposite exactly 2', () => {
    const next = rng(42);
    for (const length of LENGTHS) {
      const v = randomVector(next, length);
      const scaled = v.map((x) => x * 3);
      const opposite = v.map((x) => -x);
      expect(cosineDistance(v, v)).toBeGreaterThanOrEqual(0);
      expect(cosineDistance(v, v)).toBeLessThan(1e-12);
      expect(cosineDistance(v, scaled)).toBeLessThan(1e-12);
      expect(cosineDistance(v, opposite)).toBeGreaterThan(2 - 1e-12);
      expect(cosineDistance(v, opposite)).toBeLessThanOrEqual(2);
    }
  });

  it('gives orthogonal vectors cosine distance 1 and dot product 0', () => {
    expect(cosineDistance(Float32Array.from([1, 0]), Float32Array.from([0, 1]))).toBe(1);
    expect(dot(Float32Array.from([1, 0, 0]), Float32Array.from([0, 0, 7]))).toBe(0);
  });

  it('does not overflow or underflow at float32 extremes (float64 accumulation)', () => {
    const big = new Float32Array(1024).fill(3e38);
    const tiny = new Float32Array(1024).fill(1e-40);
    expect(cosineDistance(big, big)).toBe(0);
    expect(cosineDistance(tiny, tiny)).toBe(0);
    expect(Number.isFinite(dot(big, big))).toBe(true);
    expect(euclideanDistance(big, new Float32Array(1024))).toBeCloseTo(Math.fround(3e38) * 32, -30);
  });

  it('gives 0 between identical vectors for euclidean', () => {
    const v = randomVector(rng(7), 33);
    expect(euclideanDistance(v, v)).toBe(0);
    expect(squaredEuclidean(v, v)).toBe(0);
  });

  it('computes small known values exactly', () => {
    const a = Float32Array.from([1, 2, 3]);
    const b = Float32Array.from([4, 6, 3]);
    expect(dot(a, b)).toBe(25);
    expect(negativeDot(a, b)).toBe(-25);
    expect(squaredEuclidean(a, b)).toBe(25);
    expect(euclideanDistance(a, b)).toBe(5);
  });
});

describe('parseMetric', () => {
  it.each([
    ['COSINE', 'cosine'],
    ['cosine', 'cosine'],
    [' Cosine ', 'cosine'],
    ['EUCLIDEAN', 'euclidean'],
    ['l2', 'euclidean'],
    ['L2', 'euclidean'],
    ['DOT', 'dot'],
    ['ip', 'dot'],
    ['inner_product', 'dot'],
  ] as const)('%s -> %s', (text, metric) => {
    expect(parseMetric(text)).toBe(metric);
  });

  it('rejects an unknown name with SQL_ERROR, listing valid names and not echoing the input', () => {
    let error: unknown;
    try {
      parseMetric('hamming-secret', 'DISTANCE: argument 3');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QuiverError);
    const q = error as QuiverError;
    expect(q.code).toBe('SQL_ERROR');
    expect(q.detail).toContain('DISTANCE: argument 3');
    for (const name of ['COSINE', 'EUCLIDEAN', 'L2', 'DOT', 'IP', 'INNER_PRODUCT']) expect(q.detail).toContain(name);
    expect(q.detail).not.toContain('hamming-secret');
  });

  it('rejects the empty string', () => {
    expect(() => parseMetric('')).toThrow(QuiverError);
  });
});

describe('distanceFunction', () => {
  it('maps every metric to its smaller-is-closer kernel', () => {
    expect(distanceFunction('cosine')).toBe(cosineDistance);
    expect(distanceFunction('euclidean')).toBe(euclideanDistance);
    expect(distanceFunction('dot')).toBe(negativeDot);
  });
});
