/**
 * @module lower/expr-facts
 * Small facts about expressions that the rewrites to SQLite decide by: the conjuncts of a
 * condition, and whether an expression looks across rows.
 */
import type { A } from '../dialect/index.ts';

/** Names compare case-insensitively, as SQLite's do. */
export function lower(s: string): string {
  return s.toLowerCase();
}

/** The conjuncts of a boolean expression: `a AND (b AND c)` gives a, b, c. */
export function conjunctsOf(e: A.Expr): A.Expr[] {
  return e.kind === 'binary' && e.op === 'AND' ? [...conjunctsOf(e.left), ...conjunctsOf(e.right)] : [e];
}

/** SQLite's aggregate functions (built in, or compiled in here): one value from many rows. */
const AGGREGATE_FUNCTIONS = new Set([
  'avg', 'count', 'group_concat', 'string_agg', 'sum', 'total', 'json_group_array', 'json_group_object',
  'jsonb_group_array', 'jsonb_group_object', 'median', 'percentile', 'percentile_cont', 'percentile_disc',
]);

/**
 * Whether `e` may read rows other than its own: an aggregate or window function outside any
 * subquery (a subquery's own aggregates stay in it). min/max of one argument are aggregates,
 * of more a row's own.
 */
export function looksAcrossRows(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  if (Array.isArray(e)) return e.some(looksAcrossRows);
  const node = e as { kind?: unknown };
  if (node.kind === 'select') return false;
  if (node.kind === 'function') {
    const f = e as A.FunctionExpr;
    const name = lower(f.name);
    if (f.over || f.filter || AGGREGATE_FUNCTIONS.has(name)) return true;
    if ((name === 'min' || name === 'max') && (f.star || f.args.length <= 1)) return true;
  }
  return Object.values(e).some(looksAcrossRows);
}
