/**
 * @module lower/deadline-checks
 * Where a statement calls the deadline function (runtime/limits.ts DEADLINE_FUNCTION), the only
 * way to stop SQLite here, so that a statement past its deadline stops within a few rows' work
 * however its loops nest.
 *
 * SQLite codes a WHERE term in the loop of the last FROM item the term reads; a term reading no
 * column runs once per row of the outermost loop only, and a join's inner loops then ran
 * unchecked between two calls (minutes, for a three-way self-join). So each FROM item gets a
 * check of its own, `__quiver_check_deadline() OR <a column of the item>`, which SQLite codes in
 * that item's loop whatever order the planner picks; the call returns 1, so the column is never
 * read. Every loop is then checked per row, also one whose inner loops find nothing (an index
 * lookup matching no row). The checks come first, so no condition of the user's that rejects
 * every row skips them, and `likelihood(..., 1.0)` tells the planner they reject no row, so it
 * plans as without them. A check costs a call into JavaScript per row of each loop; SQLite's
 * random() would let JavaScript run only every n-th row, but saves little of that cost per row
 * and takes a lock every connection of the process shares (figures in BENCHMARKS.md, the notes
 * after bench:sql).
 *
 * The column: a table's row id, or a WITHOUT ROWID table's first key column (every index holds
 * both, so a covering index stays covering); a subquery's or CTE's first result column; a table
 * function's row id. Where SQLite defers WHERE terms, a check goes first in a join's ON: for the
 * right side of a LEFT JOIN (its WHERE terms run after the join has matched), and, when a RIGHT
 * or FULL JOIN defers the whole WHERE, for every item a join with an ON brings in. An item that
 * cannot be named (a view or TEMP table, which the catalog does not know; a name two items share;
 * a subquery without an alias), and the right side of a NATURAL or USING outer join, leave one
 * check reading no column: once per row of the outermost loop, as before, through
 * OUTER_DEADLINE_FUNCTION, which reads the clock at every call (a row of that loop may stand
 * for long unchecked inner loops).
 */
import type { A } from '../dialect/index.ts';
import type { CatalogLookup, TableInfo } from '../catalog/index.ts';
import { DEADLINE_FUNCTION, OUTER_DEADLINE_FUNCTION } from '../runtime/index.ts';
import { lower } from './expr-facts.ts';

/** What the checks need of the statement's lowering. */
export interface CheckNames {
  readonly catalog: CatalogLookup;
  /** The CTE a FROM name reads where the core being printed is, if any. */
  cte(name: string): A.CommonTableExpr | undefined;
  /** The name SQLite gives an expression result column. */
  resultName(col: ExprColumn): string;
  ident(name: string): string;
}

/** One core's checks: terms to put first in its WHERE, and first in some of its joins' ON. */
export interface CoreChecks {
  where: string[];
  on: Map<A.JoinRef, string[]>;
}

type ExprColumn = Extract<A.ResultColumn, { kind: 'expr' }>;
type Leaf = Exclude<A.FromItem, A.JoinRef>;

const ROWID_NAMES = ['rowid', '_rowid_', 'oid'];

/** A check SQLite codes in the loop of `column`'s item; without one, in the outermost loop. */
function check(column?: string): string {
  return column === undefined ? `${OUTER_DEADLINE_FUNCTION}()` : `likelihood(${DEADLINE_FUNCTION}() OR ${column}, 1.0)`;
}

/**
 * The checks of a core reading `from`. `first`: an item read before `from` (an UPDATE's table);
 * `columns`: more columns to check in the WHERE (the full-text joins' row ids).
 */
export function placeChecks(from: A.FromItem, names: CheckNames, first?: A.TableRef, columns: string[] = []): CoreChecks {
  const checks: CoreChecks = { where: [], on: new Map() };
  const shared = sharedNames(first ? [first, ...leavesOf(from)] : leavesOf(from));
  const rightJoins = hasRightJoin(from);
  let unplaced = false;

  /** `via`: the join whose right side `leaf` opens; `outerGroup`: `leaf` is in a group an outer join brings in. */
  const place = (leaf: Leaf, via: A.JoinRef | undefined, outerGroup: boolean): void => {
    const name = exposedName(leaf);
    const column = name !== undefined && !shared.has(lower(name)) ? leafColumn(leaf, names) : undefined;
    if (name === undefined || column === undefined) {
      unplaced = true;
      return;
    }
    const term = check(`${names.ident(name)}.${names.ident(column)}`);
    const outer = via !== undefined && isOuter(via);
    if (via && takesOn(via) && (outer || outerGroup || rightJoins)) {
      checks.on.set(via, [...(checks.on.get(via) ?? []), term]);
    } else {
      checks.where.push(term);
      // Deferred past the join's match, it may not run for the rows the join rejects.
      if (outer || outerGroup) unplaced = true;
    }
  };
  const walk = (item: A.FromItem, via: A.JoinRef | undefined, outerGroup: boolean): void => {
    if (item.kind !== 'join') return place(item, via, outerGroup);
    walk(item.left, via, outerGroup);
    walk(item.right, item, outerGroup || (item.right.kind === 'join' && isOuter(item)));
  };
  if (first) place(first, undefined, false);
  walk(from, undefined, false);
  checks.where.push(...columns.map(check));
  if (unplaced) checks.where.push(check());
  return checks;
}

/** The names (lower case) two or more of `leaves` go by: naming them would be ambiguous. */
function sharedNames(leaves: Leaf[]): Set<string> {
  const seen = new Set<string>();
  const shared = new Set<string>();
  for (const leaf of leaves) {
    const name = lower(exposedName(leaf) ?? '');
    if (seen.has(name)) shared.add(name);
    seen.add(name);
  }
  return shared;
}

function leavesOf(item: A.FromItem): Leaf[] {
  return item.kind === 'join' ? [...leavesOf(item.left), ...leavesOf(item.right)] : [item];
}

function hasRightJoin(item: A.FromItem): boolean {
  return item.kind === 'join' && (/\b(RIGHT|FULL)\b/.test(item.op) || hasRightJoin(item.left) || hasRightJoin(item.right));
}

function isOuter(join: A.JoinRef): boolean {
  return /\b(LEFT|RIGHT|FULL)\b/.test(join.op);
}

function takesOn(join: A.JoinRef): boolean {
  return !join.using && !/\bNATURAL\b/.test(join.op);
}

/** The name column references give `leaf`; an unaliased subquery has none. */
function exposedName(leaf: Leaf): string | undefined {
  return leaf.kind === 'subquery' ? leaf.alias : (leaf.alias ?? leaf.name.name);
}

/** A column of `leaf` that is cheap to name in its loop. */
function leafColumn(leaf: Leaf, names: CheckNames): string | undefined {
  if (leaf.kind === 'tablefn') return 'rowid';
  if (leaf.kind === 'subquery') return firstColumn(leaf.select, names, new Set());
  const cte = leaf.name.schema === undefined ? names.cte(leaf.name.name) : undefined;
  if (cte) return cteColumn(cte, names, new Set());
  const table = names.catalog.table(leaf.name.name);
  return table && keyColumn(table);
}

/** The row id, unless columns hide its names; a WITHOUT ROWID table's first key column. */
function keyColumn(table: TableInfo): string | undefined {
  if (table.withoutRowid) return table.columns.find((c) => c.primaryKey)?.name;
  return ROWID_NAMES.find((n) => !table.columns.some((c) => lower(c.name) === n)) ?? table.columns[0]?.name;
}

/** `seen`: CTEs already being named, so a CTE reading itself ends. */
function cteColumn(cte: A.CommonTableExpr, names: CheckNames, seen: Set<A.CommonTableExpr>): string | undefined {
  if (cte.columns) return cte.columns[0];
  if (seen.has(cte)) return undefined;
  seen.add(cte);
  return firstColumn(cte.select, names, seen);
}

/** The name of `s`'s first result column: a compound's is its first SELECT's; VALUES' is column1. */
function firstColumn(s: A.SelectStatement, outer: CheckNames, seen: Set<A.CommonTableExpr>): string | undefined {
  const names = withCtes(s.with, outer);
  let body = s.body;
  while (body.kind === 'compound') body = body.left;
  if (body.kind === 'values') return 'column1';
  const col = body.columns[0];
  if (col.kind === 'expr') return names.resultName(col);
  // `*` starts with the first item's columns, `t.*` with t's.
  const leaves = body.from ? leavesOf(body.from) : [];
  const leaf = col.table === undefined ? leaves[0] : leaves.find((l) => lower(exposedName(l) ?? '') === lower(col.table!));
  if (!leaf) return undefined;
  if (leaf.kind === 'tablefn') return 'key';
  if (leaf.kind === 'subquery') return firstColumn(leaf.select, names, seen);
  const cte = leaf.name.schema === undefined ? names.cte(leaf.name.name) : undefined;
  if (cte) return cteColumn(cte, names, seen);
  return names.catalog.table(leaf.name.name)?.columns[0]?.name;
}

/** `names` with the CTEs of a WITH clause in front. */
function withCtes(w: A.WithClause | undefined, names: CheckNames): CheckNames {
  if (!w) return names;
  const own = new Map(w.ctes.map((c) => [lower(c.name), c]));
  return {
    catalog: names.catalog,
    cte: (name) => own.get(lower(name)) ?? names.cte(name),
    resultName: (c) => names.resultName(c),
    ident: (n) => names.ident(n),
  };
}
