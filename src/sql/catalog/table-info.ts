/**
 * @module catalog/table-info
 * The read-only shape of Quiver's catalog that the lowering and planner consult: per table, the
 * columns as the user declared them and the vector indexes on them. Names compare
 * case-insensitively, as SQLite's do.
 */
import type { Metric } from '../../core/index.ts';
import type { Quantization } from '../../index/index.ts';

export interface ColumnInfo {
  name: string;
  /** The type as the user wrote it (`VECTOR(1024)`, `VARCHAR(10)`); null if none. */
  declaredType: string | null;
  /** n for a VECTOR(n) column; null otherwise. */
  vectorDims: number | null;
  /** True for generated columns, which INSERT never names. */
  generated: boolean;
  /** The DEFAULT expression as declared, in Quiver's dialect; null without one. */
  defaultExpr: string | null;
  /** Part of the table's PRIMARY KEY, declared on the column or on the table. */
  primaryKey: boolean;
}

export interface VectorIndexInfo {
  name: string;
  table: string;
  column: string;
  metric: Metric;
  m: number;
  efConstruction: number;
  /** How the index's segments keep vectors in memory: float32 (`none`), int8 or int16. */
  quantization: Quantization;
  declaredAs: 'inline' | 'statement' | 'comment';
}

export interface FulltextIndexInfo {
  name: string;
  table: string;
  columns: string[];
}

export interface TableInfo {
  name: string;
  columns: ColumnInfo[];
  vectorIndexes: VectorIndexInfo[];
  fulltextIndexes: FulltextIndexInfo[];
  withoutRowid: boolean;
}

export interface CatalogLookup {
  /** The user's table called `name`, or undefined (views and unknown names). */
  table(name: string): TableInfo | undefined;
}
