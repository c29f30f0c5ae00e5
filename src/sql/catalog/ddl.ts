/**
 * @module catalog/ddl
 * Statements that change the schema and therefore the catalog too: CREATE TABLE, ALTER TABLE,
 * DROP TABLE / INDEX, CREATE VECTOR INDEX, TRUNCATE. Each runs SQLite's DDL and the catalog
 * update in the caller's transaction, so either both happen or neither does. MODIFY COLUMN,
 * which SQLite lacks, rebuilds the table and converts every row, or fails changing nothing.
 */
import type Database from 'better-sqlite3';
import { printColumnDef, printExpression, printIdent, printTableConstraint, parseStatement, quoteIdent, quoteString, type A } from '../dialect/index.ts';
import { vectorIndexFromComment, type Catalog, type ColumnRecord, type TableDetail } from './catalog.ts';
import { autoIncrementKey, lowerStatement } from '../lower/index.ts';
import { vectorDimsOf } from '../check/index.ts';
import { QuiverError, isQuiverError, type EmbeddingSource } from '../../core/index.ts';
import { dropFulltext, installFulltext, dropCaptureTriggers, installCaptureTriggers } from '../index-sync/index.ts';


function lower(s: string): string {
  return s.toLowerCase();
}

/** The catalog record of a column as declared. */
export function columnRecord(c: A.ColumnDef, catalog: Catalog, source: string): ColumnRecord {
  const generated = c.constraints.find((k) => k.kind === 'generated');
  const dflt = c.constraints.find((k) => k.kind === 'default');
  return {
    name: c.name,
    declaredType: c.type ? (c.type.args.length ? `${c.type.name}(${c.type.args.join(',')})` : c.type.name) : null,
    vectorDims: vectorDimsOf(c),
    definition: printColumnDef(c),
    generatedExpr: generated?.kind === 'generated' ? printExpression(generated.expr) : null,
    generatedStorage: generated?.kind === 'generated' ? (generated.storage ?? 'VIRTUAL') : null,
    notNull: c.constraints.some((k) => k.kind === 'notNull' || k.kind === 'primaryKey'),
    defaultExpr: dflt?.kind === 'default' ? printExpression(dflt.expr) : null,
    primaryKey: c.constraints.some((k) => k.kind === 'primaryKey'),
    autoIncrement: c.constraints.some((k) => k.kind === 'autoIncrement' || (k.kind === 'primaryKey' && k.autoIncrement)),
    comment: c.comment ?? null,
  };
}

/** The vector indexes a CREATE TABLE declares: inline ones and PolarDB column comments. */
function declaredVectorIndexes(s: A.CreateTableStatement): A.VectorIndexDef[] {
  const defs = [...s.vectorIndexes];
  for (const c of s.columns) {
    const fromComment = c.comment !== undefined ? vectorIndexFromComment(c.name, c.comment) : undefined;
    if (fromComment) defs.push(fromComment);
  }
  return defs;
}

/** The EMBEDDING(...) calls inside an expression. */
function embeddingCallsIn(e: A.Expr): A.FunctionExpr[] {
  const found: A.FunctionExpr[] = [];
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as { kind?: string; name?: string };
    if (n.kind === 'function' && n.name?.toLowerCase() === 'embedding') found.push(node as A.FunctionExpr);
    for (const value of Object.values(node)) visit(value);
  };
  visit(e);
  return found;
}

function sqliteObjectExists(db: Database.Database, type: string, name: string): boolean {
  return db.prepare('SELECT 1 FROM sqlite_schema WHERE type = ? AND lower(name) = lower(?)').get(type, name) !== undefined;
}

function tempObjectExists(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_temp_schema WHERE type IN ('table', 'view') AND lower(name) = lower(?)").get(name) !== undefined;
}

/**
 * A TEMP table or view and a table of the database may not share a name: SQLite resolves an
 * unqualified name to the TEMP one first, so it would hide the table from Quiver's own SQL (a
 * vector index read the TEMP table's columns, and every later commit failed), and DROP TABLE
 * would drop the TEMP table but forget the real one's catalog entry.
 */
export function sharedNameError(name: string): QuiverError {
  return new QuiverError('ALREADY_EXISTS', `${name} already names a table or a TEMP table or view; a TEMP object and a table may not share a name`);
}

export class DdlRunner {
  /** Tables rebuilt since the last call of takeRebuiltTables: their vector indexes start over. */
  private readonly rebuilt = new Set<string>();

  constructor(
    private readonly db: Database.Database,
    private readonly catalog: Catalog,
    private readonly embeddings: EmbeddingSource | null,
  ) {}

  /** Names of the tables rebuilt since the last call (their row ids are kept, their vectors may not be). */
  takeRebuiltTables(): string[] {
    const tables = [...this.rebuilt];
    this.rebuilt.clear();
    return tables;
  }

  /** Records a vector index and the triggers that feed it its table's changes. */
  private addVectorIndex(table: string, def: A.VectorIndexDef): void {
    this.requireRowIds(table, `vector index ${def.name ?? ''}`.trimEnd());
    installCaptureTriggers(this.db, this.catalog.addVectorIndex(table, def));
  }

  /**
   * Vector and full-text indexes key their entries by `rowid`: a WITHOUT ROWID table has none
   * (opening the index then failed every later commit), and a column named rowid hides it (the
   * index then keyed rows by that column's values and lost rows that shared one). Refused here,
   * inside the DDL's transaction.
   */
  private requireRowIds(table: string, what: string): void {
    const t = this.catalog.table(table);
    if (t?.withoutRowid) {
      throw new QuiverError('UNSUPPORTED_STATEMENT', `${what} needs row ids, and table ${t.name} is WITHOUT ROWID; index a table with row ids`);
    }
    const hiding = t?.columnRows.find((c) => lower(c.name) === 'rowid');
    if (hiding) {
      throw new QuiverError('UNSUPPORTED_STATEMENT', `${what} needs row ids, and column ${t!.name}.${hiding.name} hides them; rename the column`);
    }
  }

  /**
   * Checks the EMBEDDING() calls of generated columns now, so an unknown model or impossible
   * dims fail the DDL rather than the first INSERT.
   */
  private checkEmbeddingCalls(columns: A.ColumnDef[]): void {
    for (const c of columns) {
      for (const k of c.constraints) {
        if (k.kind !== 'generated') continue;
        for (const call of embeddingCallsIn(k.expr)) {
          const [, model, dims] = call.args;
          if (model?.kind !== 'literal' || model.type !== 'string') continue;
          if (!this.embeddings) throw new QuiverError('UNKNOWN_MODEL', `column ${c.name}: no embedding model is configured, so there is no model ${model.value}`);
          const requested = dims?.kind === 'literal' && dims.type === 'number' ? Number(dims.value) : undefined;
          const produced = this.embeddings.resolveDims(model.value, requested);
          const declared = vectorDimsOf(c);
          if (declared !== null && declared !== produced) {
            throw new QuiverError('DIMENSION_MISMATCH', `column ${c.name} is VECTOR(${declared}); EMBEDDING(..., '${model.value}'${requested ? `, ${requested}` : ''}) gives ${produced} values`);
          }
        }
      }
    }
  }

  createTable(s: A.CreateTableStatement, source: string): void {
    if (s.ifNotExists && sqliteObjectExists(this.db, 'table', s.name.name)) return;
    if (s.temp ? this.catalog.table(s.name.name) : tempObjectExists(this.db, s.name.name)) throw sharedNameError(s.name.name);
    this.checkEmbeddingCalls(s.columns);
    const emitted = lowerStatement(s, this.catalog, source);
    this.db.exec(emitted.sql);
    for (const extra of emitted.after) this.db.exec(extra);
    if (s.temp) return; // temporary tables vanish with the connection; the catalog is durable
    let columns: ColumnRecord[];
    if (s.asSelect) {
      const info = this.db.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(s.name.name) as { name: string; type: string }[];
      columns = info.map((c) => ({
        name: c.name, declaredType: c.type || null, vectorDims: null,
        definition: c.type ? `${printIdent(c.name)} ${c.type}` : printIdent(c.name),
        generatedExpr: null, generatedStorage: null, notNull: false, defaultExpr: null, primaryKey: false, autoIncrement: false, comment: null,
      }));
    } else {
      const tableKey = new Set(
        s.constraints.flatMap((k) => (k.kind === 'primaryKey' ? k.columns.map((c) => (c.expr.kind === 'column' ? lower(c.expr.column) : '')) : [])),
      );
      // The row id is the primary key, also when it is an AUTO_INCREMENT UNIQUE column (`id
      // SERIAL`): MySQL's DESCRIBE, too, shows such a key as PRI in a table without one.
      const rowIdKey = autoIncrementKey(s);
      if (rowIdKey !== undefined) tableKey.add(lower(rowIdKey));
      columns = s.columns.map((c) => {
        const record = columnRecord(c, this.catalog, source);
        return tableKey.has(lower(c.name)) ? { ...record, primaryKey: true, notNull: true } : record;
      });
    }
    this.catalog.createTable({
      name: s.name.name,
      comment: s.comment ?? null,
      options: s.options,
      constraints: s.constraints.map(printTableConstraint),
      withoutRowid: s.withoutRowid,
      columns,
    });
    for (const def of declaredVectorIndexes(s)) this.addVectorIndex(s.name.name, def);
    for (const def of s.fulltextIndexes) {
      this.requireRowIds(s.name.name, `full-text index ${def.name ?? ''}`.trimEnd());
      installFulltext(this.db, this.catalog.addFulltextIndex(s.name.name, def));
    }
  }

  createVectorIndex(s: A.CreateVectorIndexStatement): void {
    if (!this.catalog.table(s.table)) {
      throw new QuiverError('UNKNOWN_TABLE', `no such table: ${s.table}`);
    }
    if (this.catalog.vectorIndex(s.name)) {
      if (s.ifNotExists) return;
      throw new QuiverError('ALREADY_EXISTS', `vector index ${s.name} already exists`);
    }
    this.addVectorIndex(s.table, { ...s.index, name: s.name });
  }

  createFulltextIndex(s: A.CreateFulltextIndexStatement): void {
    if (!this.catalog.table(s.table)) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${s.table}`);
    if (this.catalog.fulltextIndex(s.name)) {
      if (s.ifNotExists) return;
      throw new QuiverError('ALREADY_EXISTS', `index ${s.name} already exists`);
    }
    this.requireRowIds(s.table, `full-text index ${s.name}`);
    installFulltext(this.db, this.catalog.addFulltextIndex(s.table, { ...s.index, name: s.name }));
  }

  drop(s: A.DropStatement, sqliteSql: string): void {
    const fulltext = s.object === 'INDEX' ? this.catalog.fulltextIndex(s.name.name) : undefined;
    if (fulltext) {
      dropFulltext(this.db, fulltext.name);
      this.catalog.dropFulltextIndex(fulltext.name);
      return;
    }
    if (s.object === 'TABLE') {
      // FTS5 tables are not dropped with the table they index.
      for (const f of this.catalog.table(s.name.name)?.fulltextIndexes ?? []) dropFulltext(this.db, f.name);
    }
    const vectorIndex = s.object === 'INDEX' ? this.catalog.vectorIndex(s.name.name) : undefined;
    if (vectorIndex) {
      dropCaptureTriggers(this.db, vectorIndex.name);
      this.catalog.dropVectorIndex(vectorIndex.name);
      return;
    }
    this.db.exec(sqliteSql);
    if (s.object === 'TABLE') {
      // A table of the same name created later in the request must not inherit the old rows' index.
      const dropped = this.catalog.table(s.name.name);
      if (dropped) this.rebuilt.add(dropped.name);
      this.catalog.dropTable(s.name.name);
    }
  }

  truncate(s: A.TruncateStatement, sqliteSql: string): void {
    this.db.exec(sqliteSql);
    // MySQL's TRUNCATE restarts AUTO_INCREMENT; so does forgetting SQLite's sequence.
    if (sqliteObjectExists(this.db, 'table', 'sqlite_sequence')) {
      this.db.prepare('DELETE FROM sqlite_sequence WHERE lower(name) = lower(?)').run(s.table.name);
    }
  }

  alterTable(s: A.AlterTableStatement, sqliteSql: string, source: string): void {
    const a = s.action;
    const table = this.catalog.table(s.table.name);
    if (a.kind === 'renameTable' && (table ? tempObjectExists(this.db, a.to) : this.catalog.table(a.to))) throw sharedNameError(a.to);
    const newName = a.kind === 'addColumn' ? a.column.name : a.kind === 'renameColumn' ? a.to : undefined;
    if (table && newName !== undefined && lower(newName) === 'rowid' && (table.vectorIndexes.length || table.fulltextIndexes.length)) {
      throw new QuiverError('UNSUPPORTED_STATEMENT', `table ${table.name} has vector or full-text indexes, which need its row ids; a column named ${newName} would hide them`);
    }
    if (a.kind === 'modifyColumn') {
      if (!table) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${s.table.name}`);
      this.modifyColumn(table, a.column, source);
      return;
    }
    if (a.kind === 'addColumn' && table && a.column.constraints.some((k) => k.kind === 'generated' && k.storage === 'STORED')) {
      this.checkEmbeddingCalls([a.column]);
      this.addStoredColumn(table, a.column, source);
      return;
    }
    if (a.kind === 'dropColumn' && table) {
      // SQLite refuses to drop a column its triggers name; the column's indexes go with it.
      for (const v of table.vectorIndexes) if (lower(v.column) === lower(a.name)) dropCaptureTriggers(this.db, v.name);
      for (const f of table.fulltextIndexes) {
        if (!f.columns.some((c) => lower(c) === lower(a.name))) continue;
        dropFulltext(this.db, f.name);
        this.catalog.dropFulltextIndex(f.name);
      }
    }
    this.db.exec(sqliteSql);
    if (!table) return;
    switch (a.kind) {
      case 'renameTable':
        this.catalog.renameTable(table.name, a.to);
        break;
      case 'renameColumn': {
        const row = table.columnRows.find((c) => lower(c.name) === lower(a.from));
        if (!row) break;
        const def = this.reparseColumn(row.definition, a.to);
        this.catalog.replaceColumn(table.name, a.from, columnRecord(def, this.catalog, ''));
        break;
      }
      case 'addColumn':
        this.checkEmbeddingCalls([a.column]);
        this.catalog.addColumn(table.name, columnRecord(a.column, this.catalog, source));
        break;
      case 'dropColumn':
        this.catalog.dropColumn(table.name, a.name);
        break;
    }
  }

  /** A stored column definition, parsed back, optionally under a new name. */
  private reparseColumn(definition: string, newName?: string): A.ColumnDef {
    const text = `CREATE TABLE t (${definition})`;
    const parsed = parseStatement(text) as A.CreateTableStatement;
    const column = parsed.columns[0];
    if (newName !== undefined) column.name = newName;
    return column;
  }

  /** MODIFY COLUMN: the table rebuilt with the column's new definition, every row converted. */
  private modifyColumn(table: TableDetail, column: A.ColumnDef, source: string): void {
    const oldRow = table.columnRows.find((c) => lower(c.name) === lower(column.name));
    if (!oldRow) {
      throw new QuiverError('UNKNOWN_COLUMN', `table ${table.name} has no column ${column.name}; use ADD COLUMN to add one`);
    }
    this.checkEmbeddingCalls([column]);
    const record = columnRecord(column, this.catalog, source);
    const copied = table.columnRows
      .filter((c) => c.generatedExpr === null && !(c === oldRow && record.generatedExpr !== null))
      .map((c) => ({
        name: c.name,
        value:
          c === oldRow && record.vectorDims !== null
            ? `__quiver_to_vector(${quoteIdent(c.name)}, ${record.vectorDims}, ${quoteString(c.name)})`
            : quoteIdent(c.name),
      }));
    const definitions = table.columnRows.map((c) => (c === oldRow ? record.definition : c.definition));
    this.rebuild(table, definitions, copied, `MODIFY COLUMN ${column.name}`);
    this.catalog.replaceColumn(table.name, oldRow.name, record);
  }

  /**
   * ADD COLUMN of a STORED generated column, which SQLite cannot add in place: the table is
   * rebuilt and every row computes the column (for EMBEDDING(), the engine fetches the
   * vectors in batches before the rows are written).
   */
  private addStoredColumn(table: TableDetail, column: A.ColumnDef, source: string): void {
    const record = columnRecord(column, this.catalog, source);
    const copied = table.columnRows.filter((c) => c.generatedExpr === null).map((c) => ({ name: c.name, value: quoteIdent(c.name) }));
    this.rebuild(table, [...table.columnRows.map((c) => c.definition), record.definition], copied, `ADD COLUMN ${column.name}`);
    this.catalog.addColumn(table.name, record);
  }

  /**
   * Rebuilds `table` with new column definitions, SQLite's documented procedure: rename the old
   * table aside, create the new one, copy every row (row ids kept), drop the old table and
   * recreate its indexes and triggers. Any row that fails aborts the statement, and the
   * transaction rolls everything back.
   */
  private rebuild(table: TableDetail, definitions: string[], copied: { name: string; value: string }[], what: string): void {
    const createText = `CREATE TABLE ${printIdent(table.name)} (${[...definitions, ...table.constraints].join(', ')})${table.withoutRowid ? ' WITHOUT ROWID' : ''}`;
    const create = lowerStatement(parseStatement(createText), this.catalog, createText);
    const dependents = this.db
      .prepare(`SELECT sql FROM sqlite_schema WHERE lower(tbl_name) = lower(?) AND type IN ('index', 'trigger') AND sql IS NOT NULL`)
      .all(table.name) as { sql: string }[];
    const aside = `__quiver_rebuild_${table.name}`;
    const rowId = table.withoutRowid ? [] : [{ name: 'rowid', value: 'rowid' }];
    const columns = [...rowId, ...copied];
    this.db.pragma('legacy_alter_table = ON');
    try {
      this.db.exec(`ALTER TABLE ${quoteIdent(table.name)} RENAME TO ${quoteIdent(aside)}`);
      this.db.exec(create.sql);
      try {
        this.db.exec(
          `INSERT INTO ${quoteIdent(table.name)} (${columns.map((c) => (c.name === 'rowid' ? 'rowid' : quoteIdent(c.name))).join(', ')}) ` +
            `SELECT ${columns.map((c) => c.value).join(', ')} FROM ${quoteIdent(aside)}`,
        );
      } catch (e) {
        const why = isQuiverError(e) ? e.detail : e instanceof Error ? e.message : String(e);
        throw new QuiverError('CONVERSION_FAILED', `ALTER TABLE ${table.name} ${what} changed nothing: a row does not convert (${why})`, { cause: e });
      }
      this.db.exec(`DROP TABLE ${quoteIdent(aside)}`);
      for (const d of dependents) this.db.exec(d.sql);
      this.rebuilt.add(table.name);
    } finally {
      this.db.pragma('legacy_alter_table = OFF');
    }
  }
}
