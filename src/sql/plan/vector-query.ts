/**
 * @module plan/vector-query
 * The one way a statement with vector queries is made ready to run: plan it, search the
 * indexes of its index paths (here, or leave that to a read worker), lower it again with the
 * planner's row-id restrictions, and bind the candidate row ids. The writer's SELECTs, the read
 * path and EXPLAIN all call {@link restrictToCandidates}, so they can never disagree on a plan.
 */
import type { A } from '../dialect/index.ts';
import type { CatalogLookup } from '../catalog/index.ts';
import { bindRowIds } from '../runtime/index.ts';
import { lowerStatement, type LoweredStatement } from '../lower/index.ts';
import type { Planner, VectorPlan } from './planner.ts';
import type { SearchStep } from './search-step.ts';

/** A statement ready to run, with what the planner decided for its vector queries. */
export interface RestrictedStatement {
  lowered: LoweredStatement;
  /** The statement's values, with the candidate row ids bound when the search ran here. */
  args: unknown[];
  /** Each vector query's plan, as EXPLAIN shows it. */
  plans: VectorPlan[];
  /** With `searchHere: false`, the searches the read worker runs: the parameter of the restricted core, the step, its index. */
  deferred: { param: string; step: SearchStep; index: string }[];
}

/** How to make the statement ready. */
export interface RestrictOptions {
  /** The request's `ef_search` setting. */
  efSearch: number | undefined;
  /** Search the live indexes on this thread (true), or leave the searches to a read worker. */
  searchHere: boolean;
}

/**
 * Plans `statement` (whose plain lowering is `plain`, with `args` bound) and restricts each
 * index-path query to its candidate rows. With nothing to search, answers `plain` and `args`.
 */
export function restrictToCandidates(
  planner: Planner,
  catalog: CatalogLookup,
  statement: A.Statement,
  source: string,
  plain: LoweredStatement,
  args: unknown[],
  options: RestrictOptions,
): RestrictedStatement {
  const planned = planner.plan(statement, source, args, options.efSearch);
  if (planned.searches.size === 0) return { lowered: plain, args, plans: planned.plans, deferred: [] };
  if (!options.searchHere) {
    const lowered = lowerStatement(statement, catalog, source, planned.searches);
    const deferred = [...planned.searches].map(([core, plan]) => ({ param: lowered.rowIdParams.get(core)!, step: plan.step!, index: plan.index }));
    return { lowered, args, plans: planned.plans, deferred };
  }
  const restrictions = planner.search(planned);
  const lowered = lowerStatement(statement, catalog, source, restrictions);
  return { lowered, args: bindRowIds(args, lowered, restrictions), plans: planned.plans, deferred: [] };
}
