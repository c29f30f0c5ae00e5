/**
 * @module functions/distance-names
 * The SQL names of the distance functions and the metric each one means: the one table the
 * translation to SQLite, the planner and the registered functions read.
 */
import type { Metric } from '../../core/index.ts';

/**
 * Each distance function's metric: fixed by its name, taken from the column's vector index
 * (AliSQL's and MariaDB's VEC_DISTANCE), or named by its third argument (PolarDB's DISTANCE).
 */
const DISTANCE_FUNCTION_METRICS: Readonly<Record<string, Metric | 'index' | 'argument'>> = {
  vec_distance_cosine: 'cosine',
  vec_distance_euclidean: 'euclidean',
  vec_distance_dot: 'dot',
  vec_distance: 'index',
  vector_distance: 'index',
  distance: 'argument',
};

/** Whether `name` (any case) is a distance function. */
export function isDistanceFunction(name: string): boolean {
  return distanceMetricOf(name) !== undefined;
}

/** The function computing `metric` itself: `vec_distance_cosine` for cosine. */
export function metricFunction(metric: Metric): string {
  return `vec_distance_${metric}`;
}

/** The metric rule of distance function `name` (any case), or undefined for another function. */
export function distanceMetricOf(name: string): Metric | 'index' | 'argument' | undefined {
  const key = name.toLowerCase();
  return Object.hasOwn(DISTANCE_FUNCTION_METRICS, key) ? DISTANCE_FUNCTION_METRICS[key] : undefined;
}
