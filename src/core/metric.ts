/**
 * @module core/metric
 * The names of distance metrics: the {@link Metric} the catalog stores and the index is built
 * with, and the spellings SQL accepts for each. Which kernel computes a metric is the vector
 * index's business (src/index/distance.ts); this file only names them.
 */
import { QuiverError } from './errors.ts';

/** A distance metric, as stored in the catalog and named in index options. */
export type Metric = 'cosine' | 'euclidean' | 'dot';

/** Accepted spellings, upper-cased. L2 and IP/INNER_PRODUCT are pgvector's and FAISS's names. */
const METRIC_NAMES: ReadonlyMap<string, Metric> = new Map([
  ['COSINE', 'cosine'],
  ['EUCLIDEAN', 'euclidean'],
  ['L2', 'euclidean'],
  ['DOT', 'dot'],
  ['IP', 'dot'],
  ['INNER_PRODUCT', 'dot'],
]);

/** Reads a metric name (COSINE, EUCLIDEAN or L2, DOT or IP or INNER_PRODUCT; any case). */
export function parseMetric(text: string, what = 'distance metric'): Metric {
  const metric = METRIC_NAMES.get(text.trim().toUpperCase());
  if (metric === undefined) {
    // The name may be a bound parameter, so it is not echoed back.
    throw new QuiverError(
      'SQL_ERROR',
      `${what} is not a known metric; expected one of ${[...METRIC_NAMES.keys()].join(', ')}`,
    );
  }
  return metric;
}
