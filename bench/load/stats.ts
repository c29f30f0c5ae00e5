/**
 * @module bench/load/stats
 * Percentiles by nearest rank over latencies in ms, and the range of a figure over repeats. A
 * percentile of fewer samples than its rank needs (p99.9 of under 1,000) is the maximum;
 * `summarize` reports the count so a reader can tell.
 */

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** The nearest-rank `p` percentile (0 < p <= 100) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9), max: sorted.at(-1) ?? NaN };
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** `lo–hi` of `values` formatted by `format`, or the one value when they agree. */
export function range(values: readonly number[], format: (x: number) => string): string {
  const lo = format(Math.min(...values));
  const hi = format(Math.max(...values));
  return lo === hi ? lo : `${lo}–${hi}`;
}
