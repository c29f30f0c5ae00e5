/**
 * @module check/vector-columns
 * The rule for a VECTOR(n) column's declared dimensions: one integer argument within the
 * codec's bounds.
 */
import type { A } from '../dialect/index.ts';
import { QuiverError, MAX_VECTOR_DIMS, MIN_VECTOR_DIMS } from '../../core/index.ts';

/** The declared dimension count of a VECTOR(n) column; null for any other column. */
export function vectorDimsOf(c: A.ColumnDef): number | null {
  if (!c.type || c.type.name !== 'VECTOR') return null;
  if (c.type.args.length !== 1) {
    throw new QuiverError('INVALID_VECTOR', `column ${c.name}: write VECTOR(n) with the number of dimensions, e.g. VECTOR(1024)`);
  }
  const dims = Number(c.type.args[0]);
  if (!Number.isInteger(dims) || dims < MIN_VECTOR_DIMS || dims > MAX_VECTOR_DIMS) {
    throw new QuiverError('INVALID_VECTOR', `column ${c.name} is VECTOR(${c.type.args[0]}); dimensions must be ${MIN_VECTOR_DIMS} to ${MAX_VECTOR_DIMS}`);
  }
  return dims;
}
