/**
 * @module catalog/catalog-tables
 * Quiver's own catalog tables, as drizzle definitions. drizzle-kit turns changes here into the
 * SQL migrations in `migrations/`, which run when a database opens. These tables live in the
 * user's database file (so DDL and catalog change in one transaction) under the reserved
 * `__quiver_` prefix, which user statements cannot name (check/user-objects.ts).
 */
import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** One row per user table created through Quiver. */
export const tables = sqliteTable('__quiver_tables', {
  name: text('name').primaryKey(),
  comment: text('comment'),
  /** Table options as written, JSON: [{name, value}]. */
  options: text('options').notNull().default('[]'),
  /** Table constraints and inline indexes, in Quiver's dialect, JSON: string[]. */
  constraints: text('constraints').notNull().default('[]'),
  withoutRowid: integer('without_rowid', { mode: 'boolean' }).notNull().default(false),
});

/** One row per column, with the type as the user declared it. */
export const columns = sqliteTable(
  '__quiver_columns',
  {
    tableName: text('table_name').notNull(),
    name: text('name').notNull(),
    position: integer('position').notNull(),
    declaredType: text('declared_type'),
    /** n of VECTOR(n); NULL for other columns. */
    vectorDims: integer('vector_dims'),
    /** The column's whole definition in Quiver's dialect, for SHOW CREATE TABLE. */
    definition: text('definition').notNull(),
    /** Source of a generated column's expression, in Quiver's dialect; NULL otherwise. */
    generatedExpr: text('generated_expr'),
    generatedStorage: text('generated_storage'),
    notNull: integer('not_null', { mode: 'boolean' }).notNull().default(false),
    defaultExpr: text('default_expr'),
    primaryKey: integer('primary_key', { mode: 'boolean' }).notNull().default(false),
    autoIncrement: integer('auto_increment', { mode: 'boolean' }).notNull().default(false),
    comment: text('comment'),
  },
  (t) => [primaryKey({ columns: [t.tableName, t.name] })],
);

/** Vector index declarations (built into HNSW segments by the index layer). */
export const vectorIndexes = sqliteTable('__quiver_vector_indexes', {
  name: text('name').primaryKey(),
  tableName: text('table_name').notNull(),
  columnName: text('column_name').notNull(),
  metric: text('metric').notNull(),
  m: integer('m').notNull(),
  efConstruction: integer('ef_construction').notNull(),
  /** none | int8 | int16: how the index's segments keep vectors in memory (migration 0003). */
  quantization: text('quantization').notNull().default('none'),
  /** All options as written, JSON: [{name, value}]. */
  options: text('options').notNull().default('[]'),
  declaredAs: text('declared_as').notNull(),
});

/**
 * The change log of vector-indexed columns, written by triggers in the same transaction as the
 * change (DESIGN decision 3). After commit the index applies entries past the sequence it has
 * seen; entries an index has saved to disk are pruned. `op` is 1 for "the row's vector is now
 * what the table holds" and 0 for "the row is gone". `seq` is AUTOINCREMENT because it must
 * never go back: once pruning empties the log, a plain row id would start again at 1, below
 * the sequence the registry has applied and the indexes' files have saved, and new entries
 * would be skipped. Its counter lives in sqlite_sequence, which user SQL cannot reach
 * (check/user-objects.ts).
 */
export const changes = sqliteTable('__quiver_changes', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  indexName: text('index_name').notNull(),
  rowId: integer('row_id').notNull(),
  op: integer('op').notNull(),
});

/** Full-text indexes (MySQL's FULLTEXT): each is an FTS5 table `__quiver_fts_<name>` fed by triggers. */
export const fulltextIndexes = sqliteTable('__quiver_fulltext_indexes', {
  name: text('name').primaryKey(),
  tableName: text('table_name').notNull(),
  /** The indexed columns, JSON: string[]. */
  columns: text('columns').notNull(),
});
