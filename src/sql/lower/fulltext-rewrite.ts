/**
 * @module lower/fulltext-rewrite
 * How MySQL's `MATCH (cols) AGAINST ('words')` becomes SQLite FTS5 queries (the FTS5 tables and
 * their triggers are src/sql/index-sync/fulltext.ts):
 * - as a score anywhere: a correlated BM25 lookup, higher is better, 0 when the row does not match;
 * - as a conjunct of a WHERE: the rows are restricted to the matches, so FTS5 runs once;
 * - as a conjunct of a SELECT's WHERE: a join on row id with the BM25 score, which every other
 *   use of the same MATCH in that SELECT (the select list, ORDER BY) reads — and, where that
 *   cannot change the result, the join takes the SELECT's ORDER BY score LIMIT n on itself.
 * Runs inside one statement's lowering (to-sqlite.ts), which it reads names and scopes from.
 */
import { P_AND, type A } from '../dialect/index.ts';
import { QuiverError } from '../../core/index.ts';
import { ftsTable } from '../index-sync/index.ts';
import { conjunctsOf, lower, looksAcrossRows } from './expr-facts.ts';
import type { ScopeEntry } from './to-sqlite.ts';

/** What the rewrite needs of the statement's lowering. */
export interface LoweringScope {
  expr(e: A.Expr, minPrecedence?: number): string;
  ident(name: string): string;
  resolveColumn(col: A.ColumnExpr): ScopeEntry | undefined;
  inScope<T>(entries: ScopeEntry[], print: () => T): T;
}

/** A full-text search a SELECT joins. */
export interface FulltextJoin {
  key: string;
  alias: string;
  /** The WHERE conjunct the join stands for. */
  conjunct: A.Expr;
  sql: string;
}

/** The full-text index a MATCH (...) names, with the alias of its table in the query. */
function fulltextTarget(lo: LoweringScope, e: A.MatchAgainstExpr): { fts: string; rowId: string } {
  const entry = lo.resolveColumn(e.columns[0]);
  const wanted = e.columns.map((c) => lower(c.column)).sort().join(',');
  const index = entry?.table.fulltextIndexes.find((f) => f.columns.map(lower).sort().join(',') === wanted);
  if (!entry || !index) {
    const cols = e.columns.map((c) => c.column).join(', ');
    throw new QuiverError('UNKNOWN_INDEX', `MATCH (${cols}) needs a FULLTEXT index on exactly (${cols}); create one with CREATE FULLTEXT INDEX ft ON <table> (${cols})`);
  }
  return { fts: ftsTable(index.name), rowId: `${lo.ident(entry.alias)}.rowid` };
}

/** Two MATCH ... AGAINST with the same key are the same search. */
export function matchKey(lo: LoweringScope, e: A.MatchAgainstExpr): string {
  return `${e.columns.map((c) => lower(c.column)).sort().join(',')}|${lo.expr(e.query)}`;
}

/** MATCH ... AGAINST as a score: read from a join of an enclosing SELECT, or looked up. */
export function relevance(lo: LoweringScope, e: A.MatchAgainstExpr, joinStack: readonly FulltextJoin[][]): string {
  const key = matchKey(lo, e);
  for (let i = joinStack.length - 1; i >= 0; i--) {
    const join = joinStack[i].find((j) => j.key === key);
    if (join) return `${join.alias}.__quiver_score`;
  }
  const { fts, rowId } = fulltextTarget(lo, e);
  return `coalesce((SELECT -bm25(${fts}) FROM ${fts} WHERE ${fts} MATCH __quiver_fts_query(${lo.expr(e.query)}) AND rowid = ${rowId}), 0)`;
}

/**
 * A WHERE condition with MATCH conjuncts: each restricts the rows to its matches (one FTS5
 * query) instead of scoring every row. Conjuncts in `joined` are left out: a join restricts to
 * their matches already. Undefined when no conjunct is a MATCH.
 */
export function whereWithMatches(lo: LoweringScope, e: A.Expr, joined: ReadonlySet<A.Expr>): string | undefined {
  const conjuncts = conjunctsOf(e);
  if (!conjuncts.some((c) => c.kind === 'matchAgainst')) return undefined;
  return conjuncts
    .filter((c) => !joined.has(c))
    .map((c) => {
      if (c.kind !== 'matchAgainst') return lo.expr(c, P_AND + 1);
      const { fts, rowId } = fulltextTarget(lo, c);
      return `${rowId} IN (SELECT rowid FROM ${fts} WHERE ${fts} MATCH __quiver_fts_query(${lo.expr(c.query)}))`;
    })
    .join(' AND ');
}

/**
 * Full-text searches a SELECT can join instead of scoring row by row: a MATCH ... AGAINST that
 * is a conjunct of the WHERE restricts the rows to its matches, so the FTS5 query runs once,
 * joined on row id with its BM25 score. `restricted`: the planner limits this core to candidate
 * row ids, so its result is not the FTS5 side's top n.
 */
export function fulltextJoins(lo: LoweringScope, s: A.SelectStatement, c: A.SelectCore, scope: ScopeEntry[], restricted: boolean): FulltextJoin[] {
  if (!c.where || !c.from) return [];
  return lo.inScope(scope, () => {
    const joins: (FulltextJoin & { fts: string; query: string; rowId: string })[] = [];
    for (const conjunct of conjunctsOf(c.where!)) {
      if (conjunct.kind !== 'matchAgainst') continue;
      const key = matchKey(lo, conjunct);
      if (joins.some((j) => j.key === key)) continue;
      const { fts, rowId } = fulltextTarget(lo, conjunct);
      joins.push({ key, alias: `__quiver_ft${joins.length + 1}`, conjunct, sql: '', fts, rowId, query: lo.expr(conjunct.query) });
    }
    const topN = joins.length === 1 && !restricted ? fulltextTopN(lo, s, c, joins[0].key, scope) : undefined;
    for (const j of joins) {
      // Names no user column has, so the table's own columns stay unambiguous beside the join.
      const scored = `SELECT rowid AS __quiver_rid, -bm25(${j.fts}) AS __quiver_score FROM ${j.fts} WHERE ${j.fts} MATCH __quiver_fts_query(${j.query})`;
      j.sql = ` JOIN (${scored}${topN ?? ''}) AS ${j.alias} ON ${j.alias}.__quiver_rid = ${j.rowId}`;
    }
    return joins.map(({ key, alias, conjunct, sql }) => ({ key, alias, conjunct, sql }));
  });
}

/**
 * The ORDER BY and LIMIT a full-text join can take on itself, so FTS5 keeps only the top n
 * (row id, BM25) pairs and only those n rows of the table are read, instead of every match
 * being joined to its row and sorted with it (BENCHMARKS.md, the notes after bench:chat).
 * Only where that cannot change the result: the SELECT reads one table, its WHERE is nothing
 * but this MATCH, it orders by the score and then at most the row id, has a LIMIT and no
 * OFFSET, and nothing in it looks across rows (no DISTINCT, GROUP BY, HAVING, aggregate or
 * window function). Every FTS5 row has exactly one table row (the triggers of fulltext.ts),
 * so the top n of the FTS5 side are the top n rows. Equal scores go by row id inside, in the
 * direction the SELECT gives or ascending, so the boundary of the n is the one the SELECT
 * itself would draw.
 */
function fulltextTopN(lo: LoweringScope, s: A.SelectStatement, c: A.SelectCore, key: string, scope: ScopeEntry[]): string | undefined {
  if (!s.limit || s.offset || c.distinct || c.groupBy.length || c.having || c.windows.length) return undefined;
  if (c.from?.kind !== 'table' || scope.length !== 1 || scope[0].table.withoutRowid) return undefined;
  if (!conjunctsOf(c.where!).every((x) => x.kind === 'matchAgainst' && matchKey(lo, x) === key)) return undefined;
  if (c.columns.some((col) => col.kind === 'expr' && looksAcrossRows(col.expr))) return undefined;
  const [scoreTerm, rowIdTerm, ...rest] = s.orderBy;
  if (!scoreTerm || rest.length || scoreTerm.nulls || rowIdTerm?.nulls) return undefined;
  const aliases = new Map<string, A.Expr>();
  for (const col of c.columns) if (col.kind === 'expr' && col.alias) aliases.set(lower(col.alias), col.expr);
  const isMatch = (e: A.Expr | undefined): boolean => e?.kind === 'matchAgainst' && matchKey(lo, e) === key;
  const isScore = (e: A.Expr): boolean => isMatch(e) || (e.kind === 'column' && e.table === undefined && isMatch(aliases.get(lower(e.column))));
  const entry = scope[0];
  const isRowId = (e: A.Expr): boolean =>
    e.kind === 'column' &&
    ['rowid', '_rowid_', 'oid'].includes(lower(e.column)) &&
    (e.table === undefined ? !aliases.has(lower(e.column)) : lower(e.table) === lower(entry.alias)) &&
    !entry.table.columns.some((col) => lower(col.name) === lower(e.column));
  if (!isScore(scoreTerm.expr) || (rowIdTerm && !isRowId(rowIdTerm.expr))) return undefined;
  return ` ORDER BY __quiver_score ${scoreTerm.direction ?? 'ASC'}, __quiver_rid ${rowIdTerm?.direction ?? 'ASC'} LIMIT ${lo.expr(s.limit)}`;
}
