/**
 * @module lower/insert-defaults
 * MySQL's `DEFAULT` as a value in INSERT's VALUES (ORMs send `VALUES (DEFAULT, ?)`), which
 * SQLite has no syntax for, rewritten into an INSERT SQLite runs:
 * - a column that is DEFAULT in every row is left out of the column list, so SQLite applies
 *   its default itself: the next id of the row-id key, a generated column's value, a default
 *   such as CURRENT_TIMESTAMP, exactly as for a column the INSERT does not name;
 * - a DEFAULT in a column other rows give values to becomes the column's default expression
 *   from the catalog, evaluated in that row as SQLite evaluates a default for a row, or NULL
 *   for a column without one (NULL in the row-id key takes the next id, as MySQL's DEFAULT
 *   does for AUTO_INCREMENT; in a NOT NULL column without a default it fails, as in MySQL's
 *   strict mode);
 * - when every value of every row is DEFAULT: one row is `DEFAULT VALUES`; several rows (or
 *   an upsert, or a trigger's body, where SQLite takes no DEFAULT VALUES) keep one column,
 *   written as above.
 * The statement stays one statement, so RETURNING, `changes`, the last insert id, conflict
 * clauses and all-or-nothing are a plain INSERT's. A generated column can only be DEFAULT in
 * every row (MySQL allows no other value in it), so it is never written a default expression.
 */
import { parseExpression, type A } from '../dialect/index.ts';
import type { TableInfo } from '../catalog/index.ts';
import { QuiverError } from '../../core/index.ts';

function lower(s: string): string {
  return s.toLowerCase();
}

/**
 * `s` with no DEFAULT among its values; `s` itself when it has none. `table`: the catalog's
 * entry of its table, if any; `defaultValues`: whether it may become `DEFAULT VALUES`.
 */
export function resolveInsertDefaults(s: A.InsertStatement, table: TableInfo | undefined, defaultValues: boolean): A.InsertStatement {
  if (s.source.kind !== 'values' || !s.source.rows.some((row) => row.some(isDefault))) return s;
  const { rows } = s.source;
  const needTable = (): TableInfo => {
    if (table) return table;
    throw new QuiverError(
      'SQL_ERROR',
      `DEFAULT in this INSERT needs the columns and defaults of ${s.table.name}, which Quiver's catalog does not hold ` +
        '(a TEMP table, a view or no table); list the columns, and write DEFAULT for a column in every row or in none',
    );
  };
  const targets = s.columns ?? needTable().columns.filter((c) => !c.generated).map((c) => c.name);
  rows.forEach((row, r) => {
    if (row.length !== targets.length) {
      throw new QuiverError('SQL_ERROR', `INSERT INTO ${s.table.name} writes ${targets.length} columns; row ${r + 1} of VALUES has ${row.length} values`);
    }
  });

  const kept = targets.map((_, i) => i).filter((i) => !rows.every((row) => isDefault(row[i])));
  if (kept.length === 0) {
    if (defaultValues && rows.length === 1 && s.upsert.length === 0) return { ...s, columns: undefined, source: { kind: 'defaults' } };
    // SQLite's DEFAULT VALUES inserts one row and takes no upsert: write one column's default.
    const info = needTable();
    const writable = targets.find((name) => !info.columns.find((c) => lower(c.name) === lower(name))?.generated);
    const column = writable ?? info.columns.find((c) => !c.generated)!.name;
    const value = defaultOf(info, column, s);
    return { ...s, columns: [column], source: { kind: 'values', rows: rows.map(() => [value]) } };
  }
  // Per kept column, what its DEFAULTs become; undefined where no row has one.
  const defaults = kept.map((i) => (rows.some((row) => isDefault(row[i])) ? defaultOf(needTable(), targets[i], s) : undefined));
  return {
    ...s,
    columns: kept.map((i) => targets[i]),
    source: { kind: 'values', rows: rows.map((row) => kept.map((i, j) => (isDefault(row[i]) ? defaults[j]! : row[i]))) },
  };
}

function isDefault(v: A.InsertValue): v is A.DefaultValue {
  return v.kind === 'default';
}

/**
 * The expression a DEFAULT stands for in `column`: its declared default, or NULL without one.
 * An unknown or generated column gets NULL too: SQLite then refuses the INSERT as it would have.
 */
function defaultOf(table: TableInfo, column: string, statement: A.InsertStatement): A.Expr {
  const info = table.columns.find((c) => lower(c.name) === lower(column));
  if (!info || info.generated || info.defaultExpr === null) {
    return { kind: 'literal', type: 'keyword', value: 'NULL', start: statement.start, end: statement.end };
  }
  return parseExpression(info.defaultExpr);
}
