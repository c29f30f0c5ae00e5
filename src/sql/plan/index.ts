/** @module plan — the door of src/sql/plan/. */
export { checkExplainable, explainResult } from './explain.ts';
export { Planner } from './planner.ts';
export type { IndexLookup, PlannerOptions, SearchableIndex } from './planner.ts';
export { runSearchStep } from './search-step.ts';
export type { IndexViewRef, SearchStep } from './search-step.ts';
export { restrictToCandidates } from './vector-query.ts';
export type { RestrictOptions } from './vector-query.ts';
