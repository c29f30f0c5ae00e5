/**
 * @module catalog/introspect
 * MySQL's introspection statements, answered from Quiver's catalog so users see the types they
 * declared (`VECTOR(2)`, `VARCHAR(10)`) rather than SQLite's: SHOW TABLES, SHOW CREATE TABLE,
 * DESCRIBE / SHOW COLUMNS and SHOW INDEX.
 */
import type Database from 'better-sqlite3';
import { printIdent, quoteString, type A } from '../dialect/index.ts';
import type { Catalog, TableDetail } from './catalog.ts';
import { isReservedName } from '../check/index.ts';
import { QuiverError } from '../../core/index.ts';
import type { StatementResult, SqlValue } from '../types.ts';

function result(columns: string[], rows: SqlValue[][]): StatementResult {
  return { columns, rows, changes: 0, lastInsertId: null };
}

/** A SQL LIKE pattern as a case-insensitive regular expression. */
function likeToRegExp(pattern: string): RegExp {
  const body = [...pattern].map((ch) => (ch === '%' ? '.*' : ch === '_' ? '.' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'is');
}


/** A vector index's options as DDL writes them; quantization only when it is not the default. */
function vectorIndexOptionsText(v: TableDetail['vectorIndexes'][number]): string {
  const quantization = v.quantization === 'none' ? '' : ` quantization=${v.quantization}`;
  return `m=${v.m} ef_construction=${v.efConstruction} distance=${v.metric}${quantization}`;
}

/** The CREATE TABLE statement that would recreate `t`, in Quiver's dialect. */
export function createTableText(t: TableDetail): string {
  const lines = t.columnRows.map((c) => `  ${c.definition}`);
  for (const c of t.constraints) lines.push(`  ${c}`);
  for (const v of t.vectorIndexes) {
    if (v.declaredAs === 'comment') continue; // the column's COMMENT declares it
    lines.push(`  VECTOR INDEX ${printIdent(v.name)}(${printIdent(v.column)}) ${vectorIndexOptionsText(v)}`);
  }
  for (const f of t.fulltextIndexes) lines.push(`  FULLTEXT INDEX ${printIdent(f.name)} (${f.columns.map(printIdent).join(', ')})`);
  let text = `CREATE TABLE ${printIdent(t.name)} (\n${lines.join(',\n')}\n)`;
  if (t.withoutRowid) text += ' WITHOUT ROWID';
  if (t.comment !== null) text += ` COMMENT=${quoteString(t.comment)}`;
  return text;
}

export class Introspector {
  constructor(
    private readonly db: Database.Database,
    private readonly catalog: Catalog,
  ) {}

  /** SHOW statements about the catalog (the engine answers those about models and index state). */
  run(s: A.ShowStatement & { what: 'TABLES' | 'CREATE TABLE' | 'COLUMNS' | 'INDEX' }): StatementResult {
    switch (s.what) {
      case 'TABLES':
        return this.showTables(s.like);
      case 'CREATE TABLE':
        return this.showCreateTable(s.table!);
      case 'COLUMNS':
        return this.describe(s.table!);
      case 'INDEX':
        return this.showIndex(s.table!);
    }
  }

  private showTables(like?: string): StatementResult {
    const rows = this.db.prepare(`SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') ORDER BY name`).all() as { name: string }[];
    const pattern = like === undefined ? undefined : likeToRegExp(like);
    const names = rows.map((r) => r.name).filter((n) => !isReservedName(n) && (!pattern || pattern.test(n)));
    return result(['Tables_in_quiver'], names.map((n) => [n]));
  }

  private requireTable(name: string): TableDetail {
    const t = this.catalog.table(name);
    if (!t) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${name}`);
    return t;
  }

  private showCreateTable(name: string): StatementResult {
    const t = this.catalog.table(name);
    if (!t) {
      const view = this.db.prepare(`SELECT name, sql FROM sqlite_schema WHERE type = 'view' AND lower(name) = lower(?)`).get(name) as
        | { name: string; sql: string }
        | undefined;
      if (view) return result(['View', 'Create View'], [[view.name, view.sql]]);
    }
    const table = this.requireTable(name);
    return result(['Table', 'Create Table'], [[table.name, createTableText(table)]]);
  }

  private describe(name: string): StatementResult {
    const t = this.requireTable(name);
    const uniques = new Set(
      (this.db.prepare(`SELECT il.name AS idx, ii.name AS col FROM pragma_index_list(?) il, pragma_index_info(il.name) ii WHERE il."unique" = 1`).all(t.name) as {
        col: string;
      }[]).map((r) => r.col?.toLowerCase()),
    );
    const rows = t.columnRows.map((c): SqlValue[] => {
      const extra: string[] = [];
      if (c.autoIncrement) extra.push('auto_increment');
      if (c.generatedStorage) extra.push(`${c.generatedStorage} GENERATED`);
      const key = c.primaryKey ? 'PRI' : uniques.has(c.name.toLowerCase()) ? 'UNI' : '';
      return [c.name, c.declaredType ?? '', c.notNull ? 'NO' : 'YES', key, c.defaultExpr, extra.join(' ')];
    });
    return result(['Field', 'Type', 'Null', 'Key', 'Default', 'Extra'], rows);
  }

  private showIndex(name: string): StatementResult {
    const t = this.requireTable(name);
    const rows: SqlValue[][] = [];
    const indexes = this.db.prepare(`SELECT name, "unique" AS u FROM pragma_index_list(?) ORDER BY seq`).all(t.name) as { name: string; u: number }[];
    for (const index of indexes) {
      const cols = this.db.prepare(`SELECT seqno, name FROM pragma_index_info(?) ORDER BY seqno`).all(index.name) as { seqno: number; name: string | null }[];
      for (const c of cols) rows.push([t.name, index.u ? 0 : 1, index.name, c.seqno + 1, c.name, 'BTREE', '']);
    }
    for (const v of t.vectorIndexes) {
      rows.push([t.name, 1, v.name, 1, v.column, 'HNSW', vectorIndexOptionsText(v)]);
    }
    for (const f of t.fulltextIndexes) f.columns.forEach((c, i) => rows.push([t.name, 1, f.name, i + 1, c, 'FULLTEXT', 'FTS5 BM25']));
    return result(['Table', 'Non_unique', 'Key_name', 'Seq_in_index', 'Column_name', 'Index_type', 'Comment'], rows);
  }
}
