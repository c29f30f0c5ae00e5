/**
 * @module ast
 * The typed syntax tree of Quiver's dialect: SQLite's grammar plus the MySQL, AliSQL and
 * PolarDB forms users bring (VECTOR(n), inline vector indexes, COMMENTs, SHOW, DESCRIBE).
 * Every node is a tagged union member with its source range [start, end) in the request text,
 * so errors point at the user's SQL and result columns can be named by what the user wrote.
 */

export interface Span {
  start: number;
  end: number;
}

/** A possibly qualified name: `schema.name` or `name`. */
export interface QualifiedName extends Span {
  schema?: string;
  name: string;
}

// ---------------------------------------------------------------------------------------------
// Expressions

export type Expr =
  | LiteralExpr
  | ParamExpr
  | ColumnExpr
  | UnaryExpr
  | BinaryExpr
  | LikeExpr
  | BetweenExpr
  | InExpr
  | NullTestExpr
  | CaseExpr
  | CastExpr
  | FunctionExpr
  | ExistsExpr
  | SubqueryExpr
  | CollateExpr
  | RowExpr
  | RaiseExpr
  | MatchAgainstExpr;

export interface LiteralExpr extends Span {
  kind: 'literal';
  /** `keyword` covers NULL, TRUE, FALSE, CURRENT_TIME, CURRENT_DATE, CURRENT_TIMESTAMP. */
  type: 'number' | 'string' | 'blob' | 'keyword';
  /** Number text as written, decoded string, hex digits, or the upper-cased keyword. */
  value: string;
}

export interface ParamExpr extends Span {
  kind: 'param';
  /** As written: `?`, `?3`, `:name`, `@name`, `$name`. */
  text: string;
  /** For `?` and `?NNN`: the 1-based position in its statement's parameters, as SQLite numbers them. */
  index?: number;
}

export interface ColumnExpr extends Span {
  kind: 'column';
  schema?: string;
  table?: string;
  column: string;
}

export interface UnaryExpr extends Span {
  kind: 'unary';
  op: '-' | '+' | '~' | 'NOT';
  operand: Expr;
}

export type BinaryOp =
  | '||' | '->' | '->>'
  | '*' | '/' | '%'
  | '+' | '-'
  | '&' | '|' | '<<' | '>>'
  | '<' | '<=' | '>' | '>='
  | '=' | '==' | '!=' | '<>' | 'IS' | 'IS NOT'
  | 'AND' | 'OR';

export interface BinaryExpr extends Span {
  kind: 'binary';
  op: BinaryOp;
  left: Expr;
  right: Expr;
}

export interface LikeExpr extends Span {
  kind: 'like';
  op: 'LIKE' | 'GLOB' | 'REGEXP' | 'MATCH';
  not: boolean;
  left: Expr;
  right: Expr;
  escape?: Expr;
}

export interface BetweenExpr extends Span {
  kind: 'between';
  not: boolean;
  expr: Expr;
  low: Expr;
  high: Expr;
}

export interface InExpr extends Span {
  kind: 'in';
  not: boolean;
  expr: Expr;
  /** Exactly one of list, select, table is set. */
  list?: Expr[];
  select?: SelectStatement;
  table?: QualifiedName;
}

/** Postfix `ISNULL`, `NOTNULL`, `NOT NULL`. (`IS NULL` is a binary IS.) */
export interface NullTestExpr extends Span {
  kind: 'nulltest';
  not: boolean;
  expr: Expr;
}

export interface CaseExpr extends Span {
  kind: 'case';
  operand?: Expr;
  whens: { when: Expr; then: Expr }[];
  else?: Expr;
}

export interface CastExpr extends Span {
  kind: 'cast';
  expr: Expr;
  type: TypeName;
}

export interface FunctionExpr extends Span {
  kind: 'function';
  /** As written; compared case-insensitively. */
  name: string;
  distinct: boolean;
  /** `count(*)`. */
  star: boolean;
  args: Expr[];
  /** Aggregate ORDER BY, inside the parentheses (SQLite 3.44+, MySQL GROUP_CONCAT). */
  orderBy?: OrderingTerm[];
  /** MySQL `GROUP_CONCAT(x SEPARATOR ',')`. */
  separator?: Expr;
  filter?: Expr;
  over?: WindowSpec;
}

export interface WindowSpec extends Span {
  /** `OVER name`. */
  name?: string;
  base?: string;
  partitionBy: Expr[];
  orderBy: OrderingTerm[];
  /** The frame clause, kept as its words and bound expressions in order. */
  frame?: (string | Expr)[];
}

export interface ExistsExpr extends Span {
  kind: 'exists';
  not: boolean;
  select: SelectStatement;
}

export interface SubqueryExpr extends Span {
  kind: 'subquery';
  select: SelectStatement;
}

export interface CollateExpr extends Span {
  kind: 'collate';
  expr: Expr;
  collation: string;
}

/** A parenthesised list of two or more expressions: a row value. */
export interface RowExpr extends Span {
  kind: 'row';
  items: Expr[];
}

/** MySQL full-text search: `MATCH (doc) AGAINST ('words')`, a relevance score (0 when no match). */
export interface MatchAgainstExpr extends Span {
  kind: 'matchAgainst';
  columns: ColumnExpr[];
  query: Expr;
}

export interface RaiseExpr extends Span {
  kind: 'raise';
  action: 'IGNORE' | 'ROLLBACK' | 'ABORT' | 'FAIL';
  message?: Expr;
}

export interface TypeName extends Span {
  /** Upper-cased words: `VARCHAR`, `DOUBLE PRECISION`, `INT UNSIGNED`. */
  name: string;
  /** Numeric arguments as written: VARCHAR(10) -> ['10']; DECIMAL(10,2) -> ['10','2']. */
  args: string[];
}

// ---------------------------------------------------------------------------------------------
// SELECT

export interface SelectStatement extends Span {
  kind: 'select';
  with?: WithClause;
  body: SelectBody;
  orderBy: OrderingTerm[];
  limit?: Expr;
  offset?: Expr;
}

export interface WithClause extends Span {
  recursive: boolean;
  ctes: CommonTableExpr[];
}

export interface CommonTableExpr extends Span {
  name: string;
  columns?: string[];
  materialized?: 'MATERIALIZED' | 'NOT MATERIALIZED';
  select: SelectStatement;
}

export type SelectBody = SelectCore | ValuesClause | CompoundSelect;

export interface SelectCore extends Span {
  kind: 'core';
  distinct: boolean;
  columns: ResultColumn[];
  from?: FromItem;
  where?: Expr;
  groupBy: Expr[];
  having?: Expr;
  windows: { name: string; spec: WindowSpec }[];
}

export interface ValuesClause extends Span {
  kind: 'values';
  rows: Expr[][];
}

export interface CompoundSelect extends Span {
  kind: 'compound';
  op: 'UNION' | 'UNION ALL' | 'INTERSECT' | 'EXCEPT';
  left: SelectBody;
  right: SelectBody;
}

export type ResultColumn =
  | (Span & { kind: 'star'; table?: string })
  | (Span & { kind: 'expr'; expr: Expr; alias?: string });

export type FromItem = TableRef | SubqueryRef | TableFunctionRef | JoinRef;

export interface TableRef extends Span {
  kind: 'table';
  name: QualifiedName;
  alias?: string;
  /** `INDEXED BY i` / `NOT INDEXED` (SQLite) or `FORCE|USE|IGNORE INDEX (i)` (MySQL). */
  indexHint?: { type: 'INDEXED BY' | 'NOT INDEXED' | 'FORCE' | 'USE' | 'IGNORE'; names: string[] };
}

export interface SubqueryRef extends Span {
  kind: 'subquery';
  select: SelectStatement;
  alias?: string;
}

export interface TableFunctionRef extends Span {
  kind: 'tablefn';
  name: QualifiedName;
  args: Expr[];
  alias?: string;
}

export interface JoinRef extends Span {
  kind: 'join';
  /** `,` for a comma join; otherwise the join words, e.g. `LEFT JOIN`, `NATURAL INNER JOIN`. */
  op: string;
  left: FromItem;
  right: FromItem;
  on?: Expr;
  using?: string[];
}

export interface OrderingTerm extends Span {
  expr: Expr;
  direction?: 'ASC' | 'DESC';
  nulls?: 'FIRST' | 'LAST';
}

// ---------------------------------------------------------------------------------------------
// Data changes

export type ConflictAction = 'ROLLBACK' | 'ABORT' | 'REPLACE' | 'FAIL' | 'IGNORE';

export interface InsertStatement extends Span {
  kind: 'insert';
  with?: WithClause;
  /** `REPLACE INTO` is `INSERT OR REPLACE`. */
  verb: 'INSERT' | 'REPLACE';
  orConflict?: ConflictAction;
  table: QualifiedName;
  alias?: string;
  columns?: string[];
  source: { kind: 'values'; rows: InsertValue[][] } | { kind: 'select'; select: SelectStatement } | { kind: 'defaults' };
  upsert: UpsertClause[];
  returning?: ResultColumn[];
}

/**
 * MySQL's `DEFAULT` standing for a whole value in INSERT's VALUES: the column gets its default,
 * or NULL without one (the next id for an AUTO_INCREMENT column). Not an expression: MySQL
 * allows it nowhere else in VALUES.
 */
export interface DefaultValue extends Span {
  kind: 'default';
}

/** One value of a row of INSERT's VALUES. */
export type InsertValue = Expr | DefaultValue;

export interface UpsertClause extends Span {
  target?: { columns: IndexedColumn[]; where?: Expr };
  /** Absent for DO NOTHING. */
  set?: SetClause[];
  where?: Expr;
}

export interface SetClause extends Span {
  columns: string[];
  value: Expr;
}

export interface UpdateStatement extends Span {
  kind: 'update';
  with?: WithClause;
  orConflict?: ConflictAction;
  table: QualifiedName;
  alias?: string;
  indexHint?: TableRef['indexHint'];
  set: SetClause[];
  from?: FromItem;
  where?: Expr;
  orderBy: OrderingTerm[];
  limit?: Expr;
  offset?: Expr;
  returning?: ResultColumn[];
}

export interface DeleteStatement extends Span {
  kind: 'delete';
  with?: WithClause;
  table: QualifiedName;
  alias?: string;
  indexHint?: TableRef['indexHint'];
  where?: Expr;
  orderBy: OrderingTerm[];
  limit?: Expr;
  offset?: Expr;
  returning?: ResultColumn[];
}

// ---------------------------------------------------------------------------------------------
// DDL

export interface CreateTableStatement extends Span {
  kind: 'createTable';
  temp: boolean;
  ifNotExists: boolean;
  name: QualifiedName;
  columns: ColumnDef[];
  constraints: TableConstraint[];
  /** MySQL `KEY name (cols)` / `UNIQUE KEY` inside CREATE TABLE: created as indexes after it. */
  indexes: InlineIndex[];
  vectorIndexes: VectorIndexDef[];
  /** `FULLTEXT INDEX ft (doc)` inside CREATE TABLE. */
  fulltextIndexes: FulltextIndexDef[];
  /** `COMMENT 'x'` / `COMMENT='x'` table option. */
  comment?: string;
  /** Table options as written (`ENGINE=InnoDB`, `COMMENT=...`), accepted and otherwise ignored. */
  options: { name: string; value: string }[];
  withoutRowid: boolean;
  strict: boolean;
  asSelect?: SelectStatement;
}

export interface ColumnDef extends Span {
  name: string;
  type?: TypeName;
  constraints: ColumnConstraint[];
  comment?: string;
}

export type ColumnConstraint = Span & { constraintName?: string } & (
  | { kind: 'primaryKey'; direction?: 'ASC' | 'DESC'; onConflict?: ConflictAction; autoIncrement: boolean }
  | { kind: 'notNull'; onConflict?: ConflictAction }
  | { kind: 'null' }
  | { kind: 'unique'; onConflict?: ConflictAction }
  | { kind: 'check'; expr: Expr }
  | { kind: 'default'; expr: Expr }
  | { kind: 'collate'; collation: string }
  | { kind: 'references'; ref: ForeignKeyRef }
  | { kind: 'generated'; expr: Expr; storage?: 'STORED' | 'VIRTUAL' }
  /** MySQL `AUTO_INCREMENT` written apart from PRIMARY KEY. */
  | { kind: 'autoIncrement' }
);

export interface ForeignKeyRef extends Span {
  table: string;
  columns?: string[];
  /** Clauses such as `ON DELETE CASCADE`, `DEFERRABLE INITIALLY DEFERRED`, as upper-cased words. */
  clauses: string[];
}

export type TableConstraint = Span & { constraintName?: string } & (
  | { kind: 'primaryKey'; columns: IndexedColumn[]; onConflict?: ConflictAction; autoIncrement: boolean }
  | { kind: 'unique'; columns: IndexedColumn[]; onConflict?: ConflictAction }
  | { kind: 'check'; expr: Expr }
  | { kind: 'foreignKey'; columns: string[]; ref: ForeignKeyRef }
);

export interface InlineIndex extends Span {
  name?: string;
  unique: boolean;
  columns: IndexedColumn[];
}

export interface IndexedColumn extends Span {
  expr: Expr;
  collation?: string;
  direction?: 'ASC' | 'DESC';
}

/** A vector index declaration, in any of its three forms. */
export interface VectorIndexDef extends Span {
  name?: string;
  column: string;
  /** Options as written, names lower-cased: m, distance/metric, max_degree, ef_construction, quantization. */
  options: { name: string; value: string }[];
  /** Where it was declared: inline `VECTOR INDEX`, `CREATE VECTOR INDEX`, or a PolarDB comment. */
  declaredAs: 'inline' | 'statement' | 'comment';
}

/** A full-text index over text columns (MySQL's FULLTEXT), kept in an FTS5 table. */
export interface FulltextIndexDef extends Span {
  name?: string;
  columns: string[];
}

export interface CreateFulltextIndexStatement extends Span {
  kind: 'createFulltextIndex';
  ifNotExists: boolean;
  name: string;
  table: string;
  index: FulltextIndexDef;
}

export interface CreateIndexStatement extends Span {
  kind: 'createIndex';
  unique: boolean;
  ifNotExists: boolean;
  name: QualifiedName;
  table: string;
  columns: IndexedColumn[];
  where?: Expr;
}

export interface CreateVectorIndexStatement extends Span {
  kind: 'createVectorIndex';
  ifNotExists: boolean;
  name: string;
  table: string;
  index: VectorIndexDef;
}

export interface CreateViewStatement extends Span {
  kind: 'createView';
  temp: boolean;
  ifNotExists: boolean;
  name: QualifiedName;
  columns?: string[];
  select: SelectStatement;
}

export interface CreateTriggerStatement extends Span {
  kind: 'createTrigger';
  temp: boolean;
  ifNotExists: boolean;
  name: QualifiedName;
  timing?: 'BEFORE' | 'AFTER' | 'INSTEAD OF';
  event: 'DELETE' | 'INSERT' | 'UPDATE';
  updateOf?: string[];
  table: string;
  forEachRow: boolean;
  when?: Expr;
  body: (InsertStatement | UpdateStatement | DeleteStatement | SelectStatement)[];
}

export interface DropStatement extends Span {
  kind: 'drop';
  object: 'TABLE' | 'INDEX' | 'VIEW' | 'TRIGGER';
  ifExists: boolean;
  name: QualifiedName;
  /** MySQL `DROP INDEX i ON t`. */
  table?: string;
}

export type AlterAction =
  | { kind: 'renameTable'; to: string }
  | { kind: 'renameColumn'; from: string; to: string }
  | { kind: 'addColumn'; column: ColumnDef }
  | { kind: 'dropColumn'; name: string }
  | { kind: 'modifyColumn'; column: ColumnDef };

export interface AlterTableStatement extends Span {
  kind: 'alterTable';
  table: QualifiedName;
  action: AlterAction;
}

export interface TruncateStatement extends Span {
  kind: 'truncate';
  table: QualifiedName;
}

/** REINDEX, ANALYZE, VACUUM: maintenance with an optional target. */
export interface MaintenanceStatement extends Span {
  kind: 'maintenance';
  verb: 'REINDEX' | 'ANALYZE' | 'VACUUM';
  target?: QualifiedName;
}

// ---------------------------------------------------------------------------------------------
// Transactions, introspection, settings

export interface TransactionStatement extends Span {
  kind: 'transaction';
  action: 'BEGIN' | 'COMMIT' | 'ROLLBACK' | 'SAVEPOINT' | 'RELEASE';
  /** BEGIN DEFERRED / IMMEDIATE / EXCLUSIVE. */
  mode?: string;
  /** SAVEPOINT name, RELEASE name, ROLLBACK TO name. */
  savepoint?: string;
}

export interface ShowStatement extends Span {
  kind: 'show';
  /** INDEX STATUS: the vector indexes' build state, of one table or of all. */
  what: 'TABLES' | 'CREATE TABLE' | 'INDEX' | 'COLUMNS' | 'EMBEDDING MODELS' | 'INDEX STATUS' | 'PROCESSLIST' | 'CLUSTER STATUS';
  table?: string;
  like?: string;
}

export interface ExplainStatement extends Span {
  kind: 'explain';
  queryPlan: boolean;
  statement: Statement;
}

export interface PragmaStatement extends Span {
  kind: 'pragma';
  name: QualifiedName;
  /** `PRAGMA x = v` or `PRAGMA x(v)`. */
  value?: string;
}

/** `OPTIMIZE TABLE t`: bring t's vector indexes fully up to date (flush and merge). */
export interface OptimizeStatement extends Span {
  kind: 'optimize';
  table: QualifiedName;
}

/** `SET name = value`: a setting for the rest of the request, e.g. vidx_hnsw_ef_search. */
export interface SetStatement extends Span {
  kind: 'set';
  name: string;
  value: Expr;
}

export type Statement =
  | SelectStatement
  | InsertStatement
  | UpdateStatement
  | DeleteStatement
  | CreateTableStatement
  | CreateIndexStatement
  | CreateVectorIndexStatement
  | CreateFulltextIndexStatement
  | CreateViewStatement
  | CreateTriggerStatement
  | DropStatement
  | AlterTableStatement
  | TruncateStatement
  | MaintenanceStatement
  | TransactionStatement
  | ShowStatement
  | ExplainStatement
  | PragmaStatement
  | OptimizeStatement
  | SetStatement;
