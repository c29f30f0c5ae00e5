/**
 * @module index/space
 * How the index stores vectors and ranks them, per metric — the one place that knows the
 * difference between the distance SQL reports and the key the hot loops compare. Vectors are
 * kept in a "stored form": cosine vectors are normalised once on the way in (a zero vector stays
 * zero), so cosine ranking becomes a plain inner product, as hnswlib and pgvector do for their
 * cosine operator classes. The loops then compare a cheaper "key" that orders exactly like the
 * reported distance: -(a·b) for cosine and dot, ‖a−b‖² for euclidean (no square root in the
 * loop). {@link reportedDistance} turns a key back into what `VEC_DISTANCE_*` would return, so a
 * row's distance is the same number whichever path (exact, ANN, tail) found it, up to float32
 * rounding of the stored vector.
 */
import { QuiverError, type Metric } from '../core/index.ts';
import { dotAt, squaredEuclideanAt } from './distance.ts';

/**
 * Whether a metric ranks by squared L2 (euclidean) rather than by negative inner product
 * (cosine on normalised vectors, and dot). Hot loops read it once into a local boolean: a plain
 * branch on a constant is cheaper than calling a kernel through a function value.
 */
export function usesSquaredL2(metric: Metric): boolean {
  return metric === 'euclidean';
}

/** Metric codes of the segment file format; never renumber. */
export const METRIC_CODES: Readonly<Record<Metric, number>> = { cosine: 0, euclidean: 1, dot: 2 };

/** The metric for a file's code, or undefined if the code is unknown. */
export function metricFromCode(code: number): Metric | undefined {
  return code === 0 ? 'cosine' : code === 1 ? 'euclidean' : code === 2 ? 'dot' : undefined;
}

/**
 * Writes `input` in stored form into `out` at `outOffset` (normalised for cosine, copied
 * otherwise). Throws DIMENSION_MISMATCH or INVALID_VECTOR (NaN, ±Infinity) so that a bad vector
 * never enters a graph, where one NaN would poison every comparison that touches it.
 */
export function writeStored(
  metric: Metric,
  dims: number,
  input: ArrayLike<number>,
  out: Float32Array,
  outOffset: number,
): void {
  if (input.length !== dims) {
    throw new QuiverError('DIMENSION_MISMATCH', `the index holds ${dims}-dimensional vectors; got ${input.length} values`);
  }
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    const v = input[i];
    if (!Number.isFinite(v)) {
      throw new QuiverError('INVALID_VECTOR', `vector element ${i} is not a finite number`);
    }
    out[outOffset + i] = v;
    const f = out[outOffset + i];
    if (!Number.isFinite(f)) {
      throw new QuiverError('INVALID_VECTOR', `vector element ${i} overflows float32`);
    }
    norm += f * f;
  }
  if (metric === 'cosine' && norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dims; i++) out[outOffset + i] *= scale;
  }
}

/**
 * The key between the `dims` stored-form floats of `vectors` at `offset` and a stored-form
 * query, in float64: what re-ranking compares, where the hot loops' float32 keys are not exact
 * enough to order near ties.
 */
export function exactKey(metric: Metric, vectors: Float32Array, offset: number, query: Float32Array, dims: number): number {
  return usesSquaredL2(metric) ? squaredEuclideanAt(vectors, offset, query, 0, dims) : -dotAt(vectors, offset, query, 0, dims);
}

/** `input` in stored form, in a fresh Float32Array. */
export function toStored(metric: Metric, dims: number, input: ArrayLike<number>): Float32Array {
  const out = new Float32Array(dims);
  writeStored(metric, dims, input, out, 0);
  return out;
}

/** The distance SQL reports for a key: 1 − cos for cosine, ‖a−b‖ for euclidean, −a·b for dot. */
export function reportedDistance(metric: Metric, key: number): number {
  switch (metric) {
    case 'cosine': {
      const d = 1 + key;
      return d < 0 ? 0 : d > 2 ? 2 : d;
    }
    case 'euclidean':
      return Math.sqrt(key);
    case 'dot':
      return key;
  }
}

/**
 * Segment graphs do not rank by inner product directly: −a·b is not a distance (a vector is
 * not its own nearest neighbour), and HNSW built on it loses much recall on clustered data.
 * Since a segment is immutable, its largest squared norm M² is known when it is built, so the
 * graph uses the reduction of Bachrach et al. (2014, "Speeding up the Xbox recommender system
 * using a euclidean transformation for inner-product spaces"): each vector x gains a
 * coordinate √(M² − ‖x‖²), the query gains 0, and ‖q' − x'‖² = ‖q‖² + M² − 2 q·x, which
 * ranks exactly as −q·x. Cosine and euclidean graphs work on the stored vectors as they are.
 */
export function graphDims(metric: Metric, dims: number): number {
  return metric === 'dot' ? dims + 1 : dims;
}

/** The metric a segment's graph ranks by (see {@link graphDims}). */
export function graphMetric(metric: Metric): Metric {
  return metric === 'dot' ? 'euclidean' : metric;
}

/**
 * Writes `count` stored-form vectors (vectorAt(i), dims long) into `out` in graph form: as they
 * are, or augmented by the MIPS coordinate for dot. `out` must hold count × graphDims floats.
 */
export function writeGraphVectors(
  metric: Metric,
  dims: number,
  count: number,
  vectorAt: (i: number) => Float32Array,
  out: Float32Array,
): void {
  if (metric !== 'dot') {
    for (let i = 0; i < count; i++) out.set(vectorAt(i).subarray(0, dims), i * dims);
    return;
  }
  const norms = new Float64Array(count);
  let max = 0;
  for (let i = 0; i < count; i++) {
    const v = vectorAt(i);
    let s = 0;
    for (let j = 0; j < dims; j++) s += v[j] * v[j];
    norms[i] = s;
    if (s > max) max = s;
  }
  const stride = dims + 1;
  for (let i = 0; i < count; i++) {
    out.set(vectorAt(i).subarray(0, dims), i * stride);
    out[i * stride + dims] = Math.sqrt(Math.max(0, max - norms[i]));
  }
}
