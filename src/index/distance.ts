/**
 * @module index/distance
 * The distance kernels in JavaScript that every vector path shares: the SQL functions
 * (VEC_DISTANCE_*, DISTANCE), the exact scan, the float64 distances the index reports, and the
 * fallback of its WebAssembly kernels (./kernels.ts). The names of metrics live in
 * src/core/metric.ts; this file says how each is computed. Each kernel reads two Float32Arrays
 * of equal length (the caller checks; these run in the hot loop and check nothing), allocates
 * nothing, and accumulates in float64 so that long or badly scaled float32 vectors neither
 * overflow nor lose digits. Loops are unrolled four ways with independent accumulators, which
 * lets V8 keep four additions in flight instead of waiting on one dependency chain. Every
 * distance is "smaller is closer", so one ORDER BY ... ASC and one heap serve all metrics.
 */
import type { Metric } from '../core/index.ts';

/** A kernel: two vectors of equal length in, a distance (smaller is closer) out. */
export type DistanceFunction = (a: Float32Array, b: Float32Array) => number;

/** Inner product a·b. */
export function dot(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  const tail = n - (n % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i < tail; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return s0 + s1 + s2 + s3;
}

/** Negative inner product -(a·b): a distance for DOT, so the most similar sorts first. */
export function negativeDot(a: Float32Array, b: Float32Array): number {
  return -dot(a, b);
}

/** Squared L2 distance; orders like euclideanDistance without the square root, for indexes. */
export function squaredEuclidean(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  const tail = n - (n % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i < tail; i += 4) {
    const d0 = a[i] - b[i];
    const d1 = a[i + 1] - b[i + 1];
    const d2 = a[i + 2] - b[i + 2];
    const d3 = a[i + 3] - b[i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < n; i++) {
    const d = a[i] - b[i];
    s0 += d * d;
  }
  return s0 + s1 + s2 + s3;
}

/** L2 distance ‖a − b‖, as VEC_DISTANCE_EUCLIDEAN returns it. */
export function euclideanDistance(a: Float32Array, b: Float32Array): number {
  return Math.sqrt(squaredEuclidean(a, b));
}

/**
 * Cosine distance 1 − cos(a, b), in [0, 2]. A zero vector has no direction, so its cosine
 * similarity to anything is taken as 0 and its distance as 1 (pgvector answers NaN, which
 * would poison ORDER BY and heaps; an error would abort a whole scan over one bad row).
 */
export function cosineDistance(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  const tail = n - (n % 4);
  let ab0 = 0;
  let ab1 = 0;
  let ab2 = 0;
  let ab3 = 0;
  let aa0 = 0;
  let aa1 = 0;
  let aa2 = 0;
  let aa3 = 0;
  let bb0 = 0;
  let bb1 = 0;
  let bb2 = 0;
  let bb3 = 0;
  let i = 0;
  for (; i < tail; i += 4) {
    const a0 = a[i];
    const a1 = a[i + 1];
    const a2 = a[i + 2];
    const a3 = a[i + 3];
    const b0 = b[i];
    const b1 = b[i + 1];
    const b2 = b[i + 2];
    const b3 = b[i + 3];
    ab0 += a0 * b0;
    ab1 += a1 * b1;
    ab2 += a2 * b2;
    ab3 += a3 * b3;
    aa0 += a0 * a0;
    aa1 += a1 * a1;
    aa2 += a2 * a2;
    aa3 += a3 * a3;
    bb0 += b0 * b0;
    bb1 += b1 * b1;
    bb2 += b2 * b2;
    bb3 += b3 * b3;
  }
  for (; i < n; i++) {
    const ai = a[i];
    const bi = b[i];
    ab0 += ai * bi;
    aa0 += ai * ai;
    bb0 += bi * bi;
  }
  const normProduct = Math.sqrt((aa0 + aa1 + aa2 + aa3) * (bb0 + bb1 + bb2 + bb3));
  if (normProduct === 0) return 1;
  const similarity = (ab0 + ab1 + ab2 + ab3) / normProduct;
  // Rounding can push |cos| a hair past 1; clamp so parallel vectors give 0, never -2e-16.
  if (similarity >= 1) return 0;
  if (similarity <= -1) return 2;
  return 1 - similarity;
}

/** The kernel SQL and exact search use for `metric`; every one is smaller-is-closer. */
export function distanceFunction(metric: Metric): DistanceFunction {
  switch (metric) {
    case 'cosine':
      return cosineDistance;
    case 'euclidean':
      return euclideanDistance;
    case 'dot':
      return negativeDot;
  }
}

/**
 * Inner product of `length` floats read from `a` at `aOffset` and `b` at `bOffset`. The HNSW
 * graph, the segments and the brute-forced tail keep every vector in one flat Float32Array, so
 * their hot loops address vectors by offset: a subarray view per distance would allocate.
 */
export function dotAt(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, length: number): number {
  const tail = length - (length % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  let ia = aOffset;
  let ib = bOffset;
  for (; i < tail; i += 4, ia += 4, ib += 4) {
    s0 += a[ia] * b[ib];
    s1 += a[ia + 1] * b[ib + 1];
    s2 += a[ia + 2] * b[ib + 2];
    s3 += a[ia + 3] * b[ib + 3];
  }
  for (; i < length; i++, ia++, ib++) s0 += a[ia] * b[ib];
  return s0 + s1 + s2 + s3;
}

/** Squared L2 distance of `length` floats read at offsets, as {@link dotAt} reads them. */
export function squaredEuclideanAt(
  a: Float32Array,
  aOffset: number,
  b: Float32Array,
  bOffset: number,
  length: number,
): number {
  const tail = length - (length % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  let ia = aOffset;
  let ib = bOffset;
  for (; i < tail; i += 4, ia += 4, ib += 4) {
    const d0 = a[ia] - b[ib];
    const d1 = a[ia + 1] - b[ib + 1];
    const d2 = a[ia + 2] - b[ib + 2];
    const d3 = a[ia + 3] - b[ib + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < length; i++, ia++, ib++) {
    const d = a[ia] - b[ib];
    s0 += d * d;
  }
  return s0 + s1 + s2 + s3;
}
