/**
 * @module catalog/catalog
 * Quiver's catalog: what SQLite does not remember about the user's tables — declared types
 * (VECTOR(1024), VARCHAR(10)), vector dimensions, generated-column sources, comments and vector
 * index definitions. It lives in `__quiver_*` tables of the same database, written in the same
 * transaction as the DDL it describes, and is cached in memory until the next DDL or rollback.
 * Runs on the thread that owns the database connection.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { and, eq, sql } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { parseMetric, type Metric, QuiverError } from '../../core/index.ts';
import {
  DEFAULT_EF_CONSTRUCTION,
  DEFAULT_M,
  DEFAULT_QUANTIZATION,
  MAX_EF_CONSTRUCTION,
  MAX_M,
  MIN_EF_CONSTRUCTION,
  MIN_M,
  parseQuantization,
  type Quantization,
} from '../../index/index.ts';
import type { A } from '../dialect/index.ts';
import type { CatalogLookup, ColumnInfo, FulltextIndexInfo, TableInfo, VectorIndexInfo } from './table-info.ts';
import * as schema from './catalog-tables.ts';
import { parseColumnEmbedding, type ColumnEmbedding } from './column-embedding.ts';

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../migrations');

/** AliSQL's and MariaDB's default when `distance=` is not written. */
export const DEFAULT_METRIC: Metric = 'euclidean';

/** Everything the catalog knows about one table, beyond the CatalogLookup. */
export interface TableDetail extends TableInfo {
  comment: string | null;
  options: { name: string; value: string }[];
  /** Table constraints in Quiver's dialect. */
  constraints: string[];
  columnRows: ColumnRow[];
}

/** A column as the catalog stores it, with its EMBEDDING() call read from its expression. */
export type ColumnRow = typeof schema.columns.$inferSelect & { embedding: ColumnEmbedding | null };

/** What the DDL layer tells the catalog about one column. */
export interface ColumnRecord {
  name: string;
  declaredType: string | null;
  vectorDims: number | null;
  definition: string;
  generatedExpr: string | null;
  generatedStorage: string | null;
  notNull: boolean;
  defaultExpr: string | null;
  primaryKey: boolean;
  autoIncrement: boolean;
  comment: string | null;
}

/** Brings the catalog tables up to date. */
export function migrateCatalog(db: Database.Database): void {
  migrate(drizzle(db), { migrationsFolder: MIGRATIONS_DIR, migrationsTable: '__quiver_migrations' });
}

function key(name: string): string {
  return name.toLowerCase();
}

export class Catalog implements CatalogLookup {
  private readonly orm: BetterSQLite3Database<typeof schema>;
  private cache: Map<string, TableDetail> | null = null;
  /** Bumped on every change, so compiled statements know when to re-emit. */
  version = 0;

  constructor(db: Database.Database) {
    this.orm = drizzle(db, { schema });
  }

  /** Forgets the cached copy; the next read reloads (after DDL, or a rollback of DDL). */
  invalidate(): void {
    this.cache = null;
    this.version++;
  }

  table(name: string): TableDetail | undefined {
    return this.load().get(key(name));
  }

  tables(): TableDetail[] {
    return [...this.load().values()];
  }

  /** The vector index called `name`, on any table. */
  vectorIndex(name: string): VectorIndexInfo | undefined {
    for (const t of this.load().values()) {
      const found = t.vectorIndexes.find((i) => key(i.name) === key(name));
      if (found) return found;
    }
    return undefined;
  }

  private load(): Map<string, TableDetail> {
    if (this.cache) return this.cache;
    const map = new Map<string, TableDetail>();
    for (const t of this.orm.select().from(schema.tables).all()) {
      map.set(key(t.name), {
        name: t.name,
        comment: t.comment,
        options: JSON.parse(t.options),
        constraints: JSON.parse(t.constraints),
        withoutRowid: t.withoutRowid,
        columns: [],
        columnRows: [],
        vectorIndexes: [],
        fulltextIndexes: [],
      });
    }
    for (const c of this.orm.select().from(schema.columns).orderBy(schema.columns.tableName, schema.columns.position).all()) {
      const t = map.get(key(c.tableName));
      if (!t) continue;
      t.columnRows.push({ ...c, embedding: c.generatedExpr === null ? null : parseColumnEmbedding(c.generatedExpr) });
      t.columns.push({ name: c.name, declaredType: c.declaredType, vectorDims: c.vectorDims, generated: c.generatedExpr !== null, defaultExpr: c.defaultExpr, primaryKey: c.primaryKey } satisfies ColumnInfo);
    }
    for (const v of this.orm.select().from(schema.vectorIndexes).all()) {
      const t = map.get(key(v.tableName));
      if (!t) continue;
      t.vectorIndexes.push({
        name: v.name,
        table: t.name,
        column: v.columnName,
        metric: v.metric as Metric,
        m: v.m,
        efConstruction: v.efConstruction,
        quantization: v.quantization as Quantization,
        declaredAs: v.declaredAs as VectorIndexInfo['declaredAs'],
      });
    }
    for (const f of this.orm.select().from(schema.fulltextIndexes).all()) {
      map.get(key(f.tableName))?.fulltextIndexes.push({ name: f.name, table: f.tableName, columns: JSON.parse(f.columns) });
    }
    this.cache = map;
    return map;
  }

  // -------------------------------------------------------------------------------------------
  // Changes, called by the DDL layer inside the statement's transaction.

  createTable(entry: {
    name: string;
    comment: string | null;
    options: { name: string; value: string }[];
    constraints: string[];
    withoutRowid: boolean;
    columns: ColumnRecord[];
  }): void {
    this.orm
      .insert(schema.tables)
      .values({
        name: entry.name,
        comment: entry.comment,
        options: JSON.stringify(entry.options),
        constraints: JSON.stringify(entry.constraints),
        withoutRowid: entry.withoutRowid,
      })
      .run();
    entry.columns.forEach((c, position) => this.insertColumn(entry.name, c, position));
    this.invalidate();
  }

  private insertColumn(table: string, c: ColumnRecord, position: number): void {
    this.orm.insert(schema.columns).values({ tableName: table, position, ...c }).run();
  }

  dropTable(name: string): void {
    const t = this.table(name);
    if (!t) return;
    this.orm.delete(schema.tables).where(eq(schema.tables.name, t.name)).run();
    this.orm.delete(schema.columns).where(eq(schema.columns.tableName, t.name)).run();
    this.orm.delete(schema.vectorIndexes).where(eq(schema.vectorIndexes.tableName, t.name)).run();
    this.orm.delete(schema.fulltextIndexes).where(eq(schema.fulltextIndexes.tableName, t.name)).run();
    this.invalidate();
  }

  renameTable(from: string, to: string): void {
    const t = this.table(from);
    if (!t) return;
    this.orm.update(schema.tables).set({ name: to }).where(eq(schema.tables.name, t.name)).run();
    this.orm.update(schema.columns).set({ tableName: to }).where(eq(schema.columns.tableName, t.name)).run();
    this.orm.update(schema.vectorIndexes).set({ tableName: to }).where(eq(schema.vectorIndexes.tableName, t.name)).run();
    this.orm.update(schema.fulltextIndexes).set({ tableName: to }).where(eq(schema.fulltextIndexes.tableName, t.name)).run();
    this.invalidate();
  }

  addColumn(table: string, c: ColumnRecord): void {
    const t = this.requireTable(table);
    this.insertColumn(t.name, c, t.columns.length);
    this.invalidate();
  }

  /** Replaces a column's record in place (MODIFY COLUMN, RENAME COLUMN). */
  replaceColumn(table: string, oldName: string, c: ColumnRecord): void {
    const t = this.requireTable(table);
    this.orm
      .update(schema.columns)
      .set(c)
      .where(and(eq(schema.columns.tableName, t.name), sql`lower(${schema.columns.name}) = ${key(oldName)}`))
      .run();
    if (key(oldName) !== key(c.name)) {
      this.orm
        .update(schema.vectorIndexes)
        .set({ columnName: c.name })
        .where(and(eq(schema.vectorIndexes.tableName, t.name), sql`lower(${schema.vectorIndexes.columnName}) = ${key(oldName)}`))
        .run();
    }
    this.invalidate();
  }

  dropColumn(table: string, name: string): void {
    const t = this.requireTable(table);
    this.orm.delete(schema.columns).where(and(eq(schema.columns.tableName, t.name), sql`lower(${schema.columns.name}) = ${key(name)}`)).run();
    this.orm
      .delete(schema.vectorIndexes)
      .where(and(eq(schema.vectorIndexes.tableName, t.name), sql`lower(${schema.vectorIndexes.columnName}) = ${key(name)}`))
      .run();
    // Keep positions dense so SHOW CREATE TABLE lists columns in order.
    t.columnRows
      .filter((c) => key(c.name) !== key(name))
      .forEach((c, position) =>
        this.orm.update(schema.columns).set({ position }).where(and(eq(schema.columns.tableName, t.name), eq(schema.columns.name, c.name))).run(),
      );
    this.invalidate();
  }

  /** Records a vector index on `table`, validating its column and options. */
  addVectorIndex(table: string, def: A.VectorIndexDef): VectorIndexInfo {
    const t = this.requireTable(table);
    const column = t.columns.find((c) => key(c.name) === key(def.column));
    if (!column) {
      throw new QuiverError('UNKNOWN_COLUMN', `table ${t.name} has no column ${def.column} to index; its columns are ${t.columns.map((c) => c.name).join(', ')}`);
    }
    if (column.vectorDims === null && !/^(VAR)?BINARY|^BLOB/.test(column.declaredType ?? '')) {
      throw new QuiverError('TYPE_MISMATCH', `a vector index needs a VECTOR(n) column; ${t.name}.${column.name} is ${column.declaredType ?? 'untyped'}`);
    }
    const name = def.name ?? `${t.name}_${column.name}_vidx`;
    if (this.vectorIndex(name)) throw new QuiverError('ALREADY_EXISTS', `vector index ${name} already exists`);
    if (t.vectorIndexes.some((i) => key(i.column) === key(column.name))) {
      throw new QuiverError('ALREADY_EXISTS', `column ${t.name}.${column.name} already has a vector index`);
    }
    const options = vectorIndexOptions(def.options);
    const info: VectorIndexInfo = { name, table: t.name, column: column.name, ...options, declaredAs: def.declaredAs };
    this.orm
      .insert(schema.vectorIndexes)
      .values({
        name,
        tableName: t.name,
        columnName: column.name,
        metric: info.metric,
        m: info.m,
        efConstruction: info.efConstruction,
        quantization: info.quantization,
        options: JSON.stringify(def.options),
        declaredAs: def.declaredAs,
      })
      .run();
    this.invalidate();
    return info;
  }

  /** The full-text index called `name`, on any table. */
  fulltextIndex(name: string): FulltextIndexInfo | undefined {
    for (const t of this.load().values()) {
      const found = t.fulltextIndexes.find((i) => key(i.name) === key(name));
      if (found) return found;
    }
    return undefined;
  }

  /** Records a full-text index on `table`, validating its columns. */
  addFulltextIndex(table: string, def: A.FulltextIndexDef): FulltextIndexInfo {
    const t = this.requireTable(table);
    const columns = def.columns.map((name) => {
      const column = t.columns.find((c) => key(c.name) === key(name));
      if (!column) throw new QuiverError('UNKNOWN_COLUMN', `table ${t.name} has no column ${name} to index; its columns are ${t.columns.map((c) => c.name).join(', ')}`);
      if (column.vectorDims !== null) throw new QuiverError('TYPE_MISMATCH', `a FULLTEXT index takes text columns; ${t.name}.${column.name} is ${column.declaredType}`);
      return column.name;
    });
    const name = def.name ?? `${t.name}_${columns.join('_')}_ft`;
    if (this.fulltextIndex(name) || this.vectorIndex(name)) throw new QuiverError('ALREADY_EXISTS', `index ${name} already exists`);
    this.orm.insert(schema.fulltextIndexes).values({ name, tableName: t.name, columns: JSON.stringify(columns) }).run();
    this.invalidate();
    return { name, table: t.name, columns };
  }

  dropFulltextIndex(name: string): void {
    this.orm.delete(schema.fulltextIndexes).where(sql`lower(${schema.fulltextIndexes.name}) = ${key(name)}`).run();
    this.invalidate();
  }

  dropVectorIndex(name: string): void {
    this.orm.delete(schema.vectorIndexes).where(sql`lower(${schema.vectorIndexes.name}) = ${key(name)}`).run();
    this.invalidate();
  }

  private requireTable(name: string): TableDetail {
    const t = this.table(name);
    if (!t) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${name}`);
    return t;
  }
}

function intOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new QuiverError('SQL_ERROR', `vector index option ${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

/**
 * Vector index options as AliSQL (m, distance) and PolarDB (max_degree, metric, ef_construction)
 * write them, plus Quiver's quantization (none, int8, int16).
 */
export function vectorIndexOptions(options: { name: string; value: string }[]): {
  metric: Metric;
  m: number;
  efConstruction: number;
  quantization: Quantization;
} {
  let metric = DEFAULT_METRIC;
  let m = DEFAULT_M;
  let efConstruction = DEFAULT_EF_CONSTRUCTION;
  let quantization = DEFAULT_QUANTIZATION;
  for (const o of options) {
    switch (o.name) {
      case 'm':
      case 'max_degree':
        m = intOption(o.name, o.value, MIN_M, MAX_M);
        break;
      case 'ef_construction':
        efConstruction = intOption(o.name, o.value, MIN_EF_CONSTRUCTION, MAX_EF_CONSTRUCTION);
        break;
      case 'distance':
      case 'metric':
        metric = parseMetric(o.value, `vector index option ${o.name}`);
        break;
      case 'quantization':
        quantization = parseQuantization(o.value, `vector index option ${o.name}`);
        break;
      default:
        throw new QuiverError('SQL_ERROR', `unknown vector index option ${o.name}; known options are m, max_degree, ef_construction, distance, metric, quantization`);
    }
  }
  return { metric, m, efConstruction, quantization };
}

/**
 * A PolarDB column comment declaring a vector index:
 * `imci_vector_index=HNSW(metric=cosine,max_degree=16,ef_construction=300)`. Undefined when the
 * comment declares none.
 */
export function vectorIndexFromComment(column: string, comment: string): A.VectorIndexDef | undefined {
  const match = /^\s*imci_vector_index\s*=\s*HNSW\s*\(([^)]*)\)\s*$/i.exec(comment);
  if (!match) {
    if (/imci_vector_index/i.test(comment)) {
      throw new QuiverError('SQL_ERROR', `column ${column}: write the vector index comment as 'imci_vector_index=HNSW(metric=cosine,max_degree=16,ef_construction=200)'`);
    }
    return undefined;
  }
  const options = match[1]
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const [name, value] = part.split('=').map((s) => s.trim());
      if (!name || value === undefined) throw new QuiverError('SQL_ERROR', `column ${column}: vector index option '${part}' must be name=value`);
      return { name: name.toLowerCase(), value };
    });
  return { column, options, declaredAs: 'comment', start: 0, end: 0 };
}
