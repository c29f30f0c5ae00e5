/**
 * @module tests/index/view-protocol
 * What tests/index/view.test.ts and its worker (./view-worker.ts) exchange: a view, queries and
 * a filter described in plain data, built into a RowFilter or AllowedRowBitSet on each side,
 * as the SQL layer's read workers build theirs.
 */
import { AllowedRowBitSet, type IndexViewData, type VectorHit } from '../../src/index/index.ts';
import type { RowFilter } from '../../src/index/testing.ts';

/** Row ids not divisible by `mod`, or exactly `rowIds`. */
export type FilterSpec = { kind: 'mod'; mod: number } | { kind: 'bitset'; rowIds: number[] };

export interface ViewRequest {
  id: number;
  view: IndexViewData;
  queries: number[][];
  k: number;
  efSearch: number;
  filter: FilterSpec | null;
  /** The float32 originals at export time, for a quantized view's re-rank. */
  originals: Map<number, number[]>;
}

export type ViewResponse = { id: number; answers: VectorHit[][] } | { id: number; error: string };

export function filterFrom(spec: FilterSpec | null): RowFilter | AllowedRowBitSet | undefined {
  if (spec === null) return undefined;
  if (spec.kind === 'bitset') return AllowedRowBitSet.of(spec.rowIds);
  const mod = spec.mod;
  return (rowId) => rowId % mod !== 0;
}
