/**
 * @module plan/planner
 * Plans vector queries (DESIGN decision 5). A SELECT of the shape
 * `SELECT ... FROM t [WHERE w] ORDER BY <distance>(t.col, q) [ASC] LIMIT k [OFFSET o]`, where
 * t.col has a vector index of the same metric and q is a constant, is answered by one of:
 *
 * - `exact`: SQLite scans the table and computes every distance (small tables, IGNORE INDEX,
 *   an index still loading, or rows this transaction changed that the index has not seen);
 * - `ann`: the index's k nearest (segments + tail) become the only candidate rows;
 * - `prefilter`: few rows pass w (estimated from a sample), so SQLite filters first and scores
 *   the survivors exactly — the exact path, chosen because it is cheapest;
 * - `filtered-ann`: many rows pass w, but not most: SQLite lists them, and the list is checked
 *   inside graph traversal, so the search returns min(k, matching) rows;
 * - `postfilter`: most rows pass w: the index fetches more candidates than k, SQLite filters
 *   them, and the candidate set grows until k rows pass or the index is exhausted (PolarDB's
 *   "fetch more candidates").
 *
 * The planner picks the path (on the engine's thread, where the catalog, the indexes' figures
 * and the writer's connection for sampling are); the index search of an index path is a
 * {@link SearchStep}, run where the SELECT runs (search-step.ts): here for the engine's own
 * statements and EXPLAIN, on a read worker for a read it answers.
 *
 * The plan only narrows the rows SQLite looks at (`rowid IN (...)`); SQLite still applies w,
 * computes each distance exactly and orders, and does everything around the vector query
 * (joins, grouping, the subquery it sits in). So every path returns the same columns, and an
 * index answer differs from the exact one only in which near rows it found.
 */
import type Database from 'better-sqlite3';
import { MAX_EF_SEARCH, MAX_SEARCH_K, resolveEfSearch, type SearchOptions, type VectorHit } from '../../index/index.ts';
import { parseMetric, type Metric, parseVectorText, viewVector } from '../../core/index.ts';
import { quoteIdent, type A } from '../dialect/index.ts';
import type { Catalog, VectorIndexInfo } from '../catalog/index.ts';
import { lowerExpression } from '../lower/index.ts';
import { distanceMetricOf } from '../functions/index.ts';
import { StatementCache } from '../runtime/index.ts';
import { IDS_PARAM, runSearchStep, withIds, type SearchPath, type SearchStep } from './search-step.ts';

/** What the planner needs of a vector index: its size and shape to choose a path, and its search. */
export interface SearchableIndex {
  readonly size: number;
  readonly dims: number;
  stats(): { segments: { length: number }; tailRows: number };
  search(query: Float32Array, options: SearchOptions): VectorHit[];
}

/**
 * The vector indexes as the planner sees them: the engine's registry (../index-sync/), or, on
 * the writer's connection, the same indexes reached through the engine (../exec/writer.ts).
 */
export interface IndexLookup {
  /** Index `name` when it can answer searches; undefined while loading or unknown. */
  ready(name: string): SearchableIndex | undefined;
  state(name: string): string | undefined;
  /** Whether the connection's open transaction changed rows of index `name` that the index has not seen. */
  hasUncommittedChanges(name: string): boolean;
}

export type VectorPath = 'exact' | 'ann' | 'prefilter' | 'filtered-ann' | 'postfilter';

/** Below this many indexed rows an exact scan is as fast as a graph search. */
export const EXACT_MAX_ROWS = 1_000;
/** At most this many estimated survivors of the WHERE, SQLite filters first and scores exactly. */
export const PREFILTER_MAX_ROWS = 2_000;
/** From this sampled selectivity up, candidates are filtered after the search. */
export const POSTFILTER_MIN_SELECTIVITY = 0.3;
/** Rows sampled to estimate a WHERE's selectivity. */
const SELECTIVITY_SAMPLE = 200;
/** Statements the planner keeps prepared. */
const MAX_PREPARED = 500;

/** The plan of one vector query, as EXPLAIN shows it. */
export interface VectorPlan {
  table: string;
  index: string;
  path: VectorPath;
  reason: string;
  k: number;
  efSearch: number;
  /** Sampled share of rows passing the WHERE; undefined without a WHERE or a sample. */
  selectivity?: number;
  segments: number;
  tailRows: number;
  /** Candidate rows handed to SQLite (index paths, once searched). */
  candidates?: number;
  /** The index search of an index path. */
  step?: SearchStep;
}

export interface PlannedStatement {
  plans: VectorPlan[];
  /** The plan of each SELECT core an index search narrows; empty when every query is exact. */
  searches: Map<A.SelectCore, VectorPlan>;
}

/** Why each index path is taken, as EXPLAIN says it. */
const SEARCH_REASONS: Record<SearchPath, string> = {
  ann: 'no filter',
  'filtered-ann': 'the filter is checked inside graph traversal',
  postfilter: 'most rows pass the filter',
};

interface Candidate {
  select: A.SelectStatement;
  core: A.SelectCore & { from: A.TableRef };
  alias: string;
  index: VectorIndexInfo;
  query: A.Expr;
}

function lower(s: string): string {
  return s.toLowerCase();
}

/** Every SELECT in a statement, including subqueries and CTEs. */
function selectsIn(node: unknown, out: A.SelectStatement[] = []): A.SelectStatement[] {
  if (!node || typeof node !== 'object') return out;
  if (Array.isArray(node)) {
    for (const n of node) selectsIn(n, out);
    return out;
  }
  // (An INSERT's `source` is also of kind 'select' but holds its SELECT in `select`.)
  if ((node as { kind?: string }).kind === 'select' && 'body' in node) out.push(node as A.SelectStatement);
  for (const value of Object.values(node)) if (value && typeof value === 'object') selectsIn(value, out);
  return out;
}

/** Whether `e` reads no column (so it is the same for every row): literals, params, functions of them. */
/** Whether `e` holds a subquery (a scalar one, IN (SELECT ...), EXISTS). */
function holdsSubquery(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  if (Array.isArray(e)) return e.some(holdsSubquery);
  const kind = (e as { kind?: string }).kind;
  if (kind === 'select' || kind === 'subquery' || kind === 'exists') return true;
  return Object.values(e).some(holdsSubquery);
}

function isConstant(e: unknown): boolean {
  if (!e || typeof e !== 'object') return true;
  if (Array.isArray(e)) return e.every(isConstant);
  const kind = (e as { kind?: string }).kind;
  if (kind === 'column' || kind === 'select' || kind === 'subquery' || kind === 'exists' || kind === 'raise') return false;
  return Object.values(e).every(isConstant);
}

export interface PlannerOptions {
  /** EXACT_MAX_ROWS unless set (tests lower it to send small tables through the index). */
  exactMaxRows?: number;
  /** PREFILTER_MAX_ROWS unless set. */
  prefilterMaxRows?: number;
}

export class Planner {
  private readonly exactMaxRows: number;
  private readonly prefilterMaxRows: number;
  /**
   * The planner's own statements, kept prepared: their SQL depends on the query's shape, not on
   * its values (row ids go in as one JSON parameter), so a repeated query prepares nothing.
   */
  private readonly statements: StatementCache;

  constructor(
    private readonly db: Database.Database,
    private readonly catalog: Catalog,
    private readonly indexes: IndexLookup,
    options: PlannerOptions = {},
  ) {
    this.exactMaxRows = options.exactMaxRows ?? EXACT_MAX_ROWS;
    this.prefilterMaxRows = options.prefilterMaxRows ?? PREFILTER_MAX_ROWS;
    this.statements = new StatementCache((sql) => db.prepare(sql), MAX_PREPARED);
  }

  /** The vector queries of `statement` that an index could answer. */
  candidates(statement: A.Statement): Candidate[] {
    const found: Candidate[] = [];
    for (const select of selectsIn(statement)) {
      const candidate = this.match(select);
      if (candidate) found.push(candidate);
    }
    return found;
  }

  private match(s: A.SelectStatement): Candidate | undefined {
    const core = s.body;
    if (core.kind !== 'core' || core.distinct || core.groupBy.length || core.having || !s.limit || s.orderBy.length === 0) return undefined;
    if (core.from?.kind !== 'table' || core.from.name.schema) return undefined;
    const first = s.orderBy[0];
    if (first.direction === 'DESC') return undefined;
    let call = first.expr;
    if (call.kind === 'column' && call.table === undefined) {
      const aliased = core.columns.find((c) => c.kind === 'expr' && c.alias !== undefined && lower(c.alias) === lower((call as A.ColumnExpr).column));
      if (aliased?.kind === 'expr') call = aliased.expr;
    }
    if (call.kind !== 'function') return undefined;
    const metricOf = distanceMetricOf(call.name);
    if (!metricOf || (metricOf === 'argument' ? call.args.length !== 3 : call.args.length !== 2)) return undefined;
    const table = this.catalog.table(core.from.name.name);
    if (!table) return undefined;
    const alias = core.from.alias ?? core.from.name.name;
    const [a, b] = call.args;
    const columnArg = [a, b].find((x) => x.kind === 'column' && (x.table === undefined || lower(x.table) === lower(alias))) as A.ColumnExpr | undefined;
    const query = columnArg === a ? b : a;
    if (!columnArg || !isConstant(query) || !isConstant(s.limit) || !isConstant(s.offset)) return undefined;
    const index = table.vectorIndexes.find((v) => lower(v.column) === lower(columnArg.column));
    if (!index) return undefined;
    if (metricOf === 'argument') {
      const metricArg = call.args[2];
      if (metricArg.kind !== 'literal' || metricArg.type !== 'string') return undefined;
      if (parseMetric(metricArg.value) !== index.metric) return undefined;
    } else if (metricOf !== 'index' && metricOf !== index.metric) return undefined;
    return { select: s, core: core as Candidate['core'], alias, index, query };
  }

  /**
   * Plans every vector query of `statement`: picks each one's path and, for the index paths,
   * the search to run (`searches`; run with {@link Planner.search} or on a read worker). `args`
   * are the statement's bound values (so the query vector, LIMIT and WHERE can be evaluated);
   * `efSearch` is the request's setting.
   */
  plan(statement: A.Statement, source: string, args: unknown[], efSearch: number | undefined): PlannedStatement {
    const planned: PlannedStatement = { plans: [], searches: new Map() };
    for (const c of this.candidates(statement)) planned.plans.push(this.planOne(c, source, args, efSearch, planned));
    return planned;
  }

  private planOne(c: Candidate, source: string, args: unknown[], efSetting: number | undefined, planned: PlannedStatement): VectorPlan {
    const ef = resolveEfSearch(efSetting);
    const index = this.indexes.ready(c.index.name);
    const stats = index?.stats();
    const limit = Number(this.evaluate(c.select.limit!, source, args)) + (c.select.offset ? Number(this.evaluate(c.select.offset, source, args)) : 0);
    const plan: VectorPlan = {
      table: c.index.table,
      index: c.index.name,
      path: 'exact',
      reason: '',
      k: limit,
      efSearch: Math.min(MAX_EF_SEARCH, Math.max(ef, limit)),
      segments: stats?.segments.length ?? 0,
      tailRows: stats?.tailRows ?? 0,
    };
    const hint = c.core.from.indexHint;
    const named = hint?.names.some((n) => lower(n) === lower(c.index.name)) ?? false;
    const forced = named && (hint!.type === 'FORCE' || hint!.type === 'USE');
    const exact = (reason: string): VectorPlan => ({ ...plan, path: 'exact', reason });
    if (named && hint!.type === 'IGNORE') return exact(`IGNORE INDEX (${c.index.name})`);
    if (!index) return exact(`index ${c.index.name} is ${this.indexes.state(c.index.name) ?? 'not open'}`);
    if (this.db.inTransaction && this.indexes.hasUncommittedChanges(c.index.name)) return exact('this transaction changed indexed rows');
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_K) return exact(`LIMIT ${limit} is outside 1..${MAX_SEARCH_K}`);
    if (!forced && index.size < this.exactMaxRows) return exact(`${index.size} rows: a scan is as fast`);
    const query = this.queryVector(c.query, source, args);
    if (!query || query.length !== index.dims) return exact('the query vector is NULL or of other dimensions');
    const step: SearchStep = { index: c.index.name, path: 'ann', query, k: limit, efSearch: plan.efSearch, rows: index.size, args };
    const search = (path: SearchPath): VectorPlan => {
      const searching = { ...plan, path, reason: SEARCH_REASONS[path], step: { ...step, path } };
      planned.searches.set(c.core, searching);
      return searching;
    };
    const where = c.core.where;
    if (!where) return search('ann');
    // Not sampled here when the filter holds a subquery, whose cost the client controls: it runs
    // where the search runs (a read worker, under the read's deadline) as filtered-ann.
    const selectivity = holdsSubquery(where) ? undefined : this.sampleSelectivity(c, where, source, args, index.size);
    plan.selectivity = selectivity;
    step.selectivity = selectivity;
    const survivors = selectivity === undefined ? undefined : selectivity * index.size;
    if (!forced && survivors !== undefined && survivors <= this.prefilterMaxRows) {
      return { ...plan, path: 'prefilter', reason: `about ${Math.round(survivors)} rows pass the filter` };
    }
    const w = this.whereSql(c, where, source);
    step.allowedSql = `SELECT ${this.rowIdSql(c)} FROM ${this.fromSql(c)} WHERE ${w}`;
    if (selectivity === undefined || selectivity < POSTFILTER_MIN_SELECTIVITY) return search('filtered-ann');
    step.passingSql = `SELECT count(*) FROM ${this.fromSql(c)} WHERE ${this.rowIdSql(c)} IN ${IDS_PARAM} AND (${w})`;
    return search('postfilter');
  }

  /**
   * Runs the searches of `planned` against the live indexes, on this thread (a read on a
   * worker runs them there instead, against a view: read-worker.ts). Fills in each plan's
   * candidates and final path; returns the candidate row ids per planned SELECT core.
   */
  search(planned: PlannedStatement): Map<A.SelectCore, number[]> {
    const restrictions = new Map<A.SelectCore, number[]>();
    for (const [core, plan] of planned.searches) {
      const index = this.indexes.ready(plan.index);
      if (!index) throw new Error(`vector index ${plan.index} was planned but is not ready`);
      const result = runSearchStep(plan.step!, (q, options) => index.search(q, options), (sql) => this.prepared(sql));
      plan.path = result.path;
      plan.reason = SEARCH_REASONS[result.path];
      plan.candidates = result.ids.length;
      restrictions.set(core, result.ids);
    }
    return restrictions;
  }

  /** The filter for the search steps' SQL, its subqueries stopped at the deadline of the connection that runs them. */
  private whereSql(c: Candidate, where: A.Expr, source: string): string {
    return lowerExpression(where, this.catalog, source, { table: c.core.from.name.name, alias: c.alias }, true);
  }

  private fromSql(c: Candidate): string {
    const name = quoteIdent(c.core.from.name.name);
    return c.core.from.alias ? `${name} AS ${quoteIdent(c.alias)}` : name;
  }

  private rowIdSql(c: Candidate): string {
    return `${quoteIdent(c.alias)}.rowid`;
  }

  /** The share of a random sample of rows that passes the WHERE; undefined if the sample is too thin. */
  private sampleSelectivity(c: Candidate, where: A.Expr, source: string, args: unknown[], rows: number): number | undefined {
    // Two scalar subqueries: each is one b-tree seek, where min() and max() in one SELECT scan the table.
    const table = this.fromSql(c);
    const range = this.prepared(`SELECT (SELECT min(rowid) FROM ${table}) AS lo, (SELECT max(rowid) FROM ${table}) AS hi`).get() as {
      lo: number | null;
      hi: number | null;
    };
    if (range.lo === null || range.hi === null) return undefined;
    // Row ids drawn from the range by a fixed-seed generator: the same sample each time, and
    // no stride that could alias with a pattern in the data. Ids of deleted rows find nothing,
    // so a sparse table asks for more of them.
    const span = range.hi - range.lo + 1;
    const wanted = Math.min(span, Math.ceil(SELECTIVITY_SAMPLE * Math.max(1, span / Math.max(rows, 1))), SELECTIVITY_SAMPLE * 20);
    const ids = new Set<number>();
    let seed = 0x9e3779b9;
    for (let i = 0; i < wanted * 2 && ids.size < wanted; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      ids.add(range.lo + Math.floor((seed / 2 ** 32) * span));
    }
    const sql =
      `SELECT count(*) AS n, coalesce(sum(CASE WHEN (${this.whereSql(c, where, source)}) THEN 1 ELSE 0 END), 0) AS m ` +
      `FROM ${this.fromSql(c)} WHERE ${this.rowIdSql(c)} IN ${IDS_PARAM}`;
    const { n, m } = this.prepared(sql).get(...withIds(args, [...ids])) as { n: number; m: number };
    return n < SELECTIVITY_SAMPLE / 4 ? undefined : m / n;
  }

  private evaluate(e: A.Expr, source: string, args: unknown[]): unknown {
    return this.prepared(`SELECT ${lowerExpression(e, this.catalog, source)}`).pluck().get(...args);
  }

  private prepared(sql: string): Database.Statement {
    return this.statements.get(sql, this.catalog.version);
  }

  private queryVector(e: A.Expr, source: string, args: unknown[]): Float32Array | undefined {
    const value = this.evaluate(e, source, args);
    if (value instanceof Uint8Array) return value.byteLength % 4 === 0 ? Float32Array.from(viewVector(value)) : undefined;
    if (typeof value === 'string') return parseVectorText(value, 'the query vector');
    return undefined;
  }
}
