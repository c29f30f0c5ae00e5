/**
 * @module plan/search-step
 * The index search of one planned vector query, run where its SELECT runs: on the engine's
 * thread against the live index, or on a read worker against a view of the index taken with the
 * worker's snapshot (read-pool.ts). The planner (planner.ts) only decides the path; this module
 * walks it, so both places search the same way and the engine's thread does no graph search
 * for a read a worker answers.
 *
 * A step's SQL (the WHERE's rows, or how many candidates pass it) is emitted by the planner
 * and run on the same connection as the SELECT, so it sees the same snapshot as the search.
 */
import type Database from 'better-sqlite3';
import { AllowedRowBitSet, MAX_EF_SEARCH, MAX_SEARCH_K, type IndexViewData, type SearchOptions, type VectorHit } from '../../index/index.ts';
import { withNamed } from '../runtime/index.ts';

/** Row ids bound as one JSON array, so the SQL is the same for every set of them. */
export const IDS_PARAM = `(SELECT value FROM json_each(:__quiver_ids))`;

/** `args` (as ParamCursor.take gave them) with `ids` bound to IDS_PARAM. */
export function withIds(args: unknown[], ids: readonly number[]): unknown[] {
  return withNamed(args, { __quiver_ids: JSON.stringify(ids) });
}

export type SearchPath = 'ann' | 'filtered-ann' | 'postfilter';

/** What a planned vector query asks of the index; plain data, so it can go to a worker. */
export interface SearchStep {
  /** The vector index, by name. */
  index: string;
  path: SearchPath;
  /** The query vector, as written (the index puts it in stored form). */
  query: Float32Array;
  k: number;
  efSearch: number;
  /** Live rows in the index when planned (postfilter stops growing there). */
  rows: number;
  /** Sampled share of rows passing the WHERE (postfilter sizes its first fetch with it). */
  selectivity?: number;
  /** `SELECT rowid ... WHERE w`: the rows filtered-ann may return (also postfilter's fallback). */
  allowedSql?: string;
  /** `SELECT count(*) ... WHERE rowid IN IDS_PARAM AND w` (postfilter). */
  passingSql?: string;
  /** The statement's bound values, which the WHERE reads. */
  args: unknown[];
}

/** What a read worker needs to search an index: a view of it, and how to re-rank from SQLite. */
export interface IndexViewRef {
  view: IndexViewData;
  /** The read of a row's float32 vector by rowid (a quantized index's re-rank), else null. */
  originalsSql: string | null;
  dims: number;
}

/** The step's candidate rows and the path that produced them (postfilter may fall back). */
export interface StepResult {
  ids: number[];
  path: SearchPath;
}

export type StepSearch = (query: Float32Array, options: SearchOptions) => VectorHit[];
export type StepPrepare = (sql: string) => Database.Statement;

export function runSearchStep(step: SearchStep, search: StepSearch, prepare: StepPrepare): StepResult {
  if (step.path === 'ann') {
    return { ids: search(step.query, { k: step.k, efSearch: step.efSearch }).map((h) => h.rowId), path: 'ann' };
  }
  if (step.path === 'postfilter') {
    const ids = postfilter(step, search, prepare);
    if (ids) return { ids, path: 'postfilter' };
  }
  const allowed = AllowedRowBitSet.of(prepare(step.allowedSql!).pluck().all(...step.args) as number[]);
  const hits = search(step.query, { k: step.k, efSearch: step.efSearch, filter: allowed });
  return { ids: hits.map((h) => h.rowId), path: 'filtered-ann' };
}

/**
 * Post-filter: ask for more candidates than k (k / selectivity, with room), keep growing them
 * until k pass the filter or the index has no more; undefined if that needs more than
 * MAX_SEARCH_K (the caller falls back to the filtered search).
 */
function postfilter(step: SearchStep, search: StepSearch, prepare: StepPrepare): number[] | undefined {
  const { k, query } = step;
  let want = Math.min(MAX_SEARCH_K, Math.max(2 * k, Math.ceil((k / step.selectivity!) * 1.5)));
  for (;;) {
    // The index raises ef to k itself; ef above MAX_EF_SEARCH is refused, so it is capped.
    const hits = search(query, { k: want, efSearch: Math.min(MAX_EF_SEARCH, Math.max(step.efSearch, want)) });
    const ids = hits.map((h) => h.rowId);
    const passing = ids.length === 0 ? 0 : Number(prepare(step.passingSql!).pluck().get(...withIds(step.args, ids)));
    if (passing >= k || hits.length < want || want >= step.rows) return ids;
    if (want >= MAX_SEARCH_K) return undefined;
    want = Math.min(MAX_SEARCH_K, want * 4);
  }
}
