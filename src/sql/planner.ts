/**
 * @module planner
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
 * The plan only narrows the rows SQLite looks at (`rowid IN (...)`); SQLite still applies w,
 * computes each distance exactly and orders, and does everything around the vector query
 * (joins, grouping, the subquery it sits in). So every path returns the same columns, and an
 * index answer differs from the exact one only in which near rows it found.
 */
import type Database from 'better-sqlite3';
import { AllowedRowBitSet, MAX_EF_SEARCH, MAX_SEARCH_K, resolveEfSearch, type Metric } from '../index/index.ts';
import { parseMetric } from '../index/distance.ts';
import type * as A from './ast.ts';
import type { Catalog } from './catalog.ts';
import type { VectorIndexInfo } from './catalog-view.ts';
import { emitExpression } from './emit.ts';
import { parseVectorText, viewVector } from './vector-codec.ts';
import type { VectorIndexes } from './vector-indexes.ts';

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
/** Row ids bound as one JSON array, so the SQL is the same for every set of them. */
const IDS_PARAM = `(SELECT value FROM json_each(:__quiver_ids))`;

/** `args` (as ParamCursor.take gave them) with `ids` bound to IDS_PARAM. */
function withIds(args: unknown[], ids: readonly number[]): unknown[] {
  return [{ ...(args[0] as Record<string, unknown> | undefined), __quiver_ids: JSON.stringify(ids) }];
}

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
  /** Candidate rows handed to SQLite (ANN paths). */
  candidates?: number;
}

export interface PlannedStatement {
  plans: VectorPlan[];
  /** Candidate row ids per planned SELECT core; empty when every query is exact. */
  restrictions: Map<A.SelectCore, number[]>;
}

interface Candidate {
  select: A.SelectStatement;
  core: A.SelectCore & { from: A.TableRef };
  alias: string;
  index: VectorIndexInfo;
  query: A.Expr;
}

const DISTANCE_METRICS: Record<string, Metric | 'index' | 'argument'> = {
  vec_distance_cosine: 'cosine',
  vec_distance_euclidean: 'euclidean',
  vec_distance_dot: 'dot',
  vec_distance: 'index',
  vector_distance: 'index',
  distance: 'argument',
};

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
  private readonly statements = new Map<string, Database.Statement>();
  /** The catalog version `statements` were prepared against. */
  private statementsVersion = -1;

  constructor(
    private readonly db: Database.Database,
    private readonly catalog: Catalog,
    private readonly indexes: VectorIndexes,
    options: PlannerOptions = {},
  ) {
    this.exactMaxRows = options.exactMaxRows ?? EXACT_MAX_ROWS;
    this.prefilterMaxRows = options.prefilterMaxRows ?? PREFILTER_MAX_ROWS;
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
    const metricOf = DISTANCE_METRICS[lower(call.name)];
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
   * Plans every vector query of `statement`. `args` are the statement's bound values (so the
   * query vector, LIMIT and WHERE can be evaluated); `efSearch` is the request's setting.
   */
  plan(statement: A.Statement, source: string, args: unknown[], efSearch: number | undefined): PlannedStatement {
    const planned: PlannedStatement = { plans: [], restrictions: new Map() };
    for (const c of this.candidates(statement)) {
      const plan = this.planOne(c, source, args, efSearch, planned.restrictions);
      planned.plans.push(plan);
    }
    return planned;
  }

  private planOne(c: Candidate, source: string, args: unknown[], efSetting: number | undefined, restrictions: Map<A.SelectCore, number[]>): VectorPlan {
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
    const q = this.queryVector(c.query, source, args);
    if (!q || q.length !== index.dims) return exact('the query vector is NULL or of other dimensions');
    const where = c.core.where;
    if (!where) {
      const hits = index.search(q, { k: limit, efSearch: plan.efSearch });
      restrictions.set(c.core, hits.map((h) => h.rowId));
      return { ...plan, path: 'ann', reason: 'no filter', candidates: hits.length };
    }
    const selectivity = this.sampleSelectivity(c, where, source, args, index.size);
    plan.selectivity = selectivity;
    const survivors = selectivity === undefined ? undefined : selectivity * index.size;
    if (!forced && survivors !== undefined && survivors <= this.prefilterMaxRows) {
      return { ...plan, path: 'prefilter', reason: `about ${Math.round(survivors)} rows pass the filter` };
    }
    if (selectivity !== undefined && selectivity >= POSTFILTER_MIN_SELECTIVITY) {
      const post = this.postfilter(c, where, source, args, q, limit, plan.efSearch, selectivity, index);
      if (post) {
        restrictions.set(c.core, post);
        return { ...plan, path: 'postfilter', reason: 'most rows pass the filter', candidates: post.length };
      }
    }
    const allowed = this.allowedRows(c, where, source, args);
    const hits = index.search(q, { k: limit, efSearch: plan.efSearch, filter: allowed });
    restrictions.set(c.core, hits.map((h) => h.rowId));
    return { ...plan, path: 'filtered-ann', reason: 'the filter is checked inside graph traversal', candidates: hits.length };
  }

  /**
   * Post-filter: ask for more candidates than k (k / selectivity, with room), keep growing
   * them until k pass the filter or the index has no more; undefined if that needs more than
   * MAX_SEARCH_K (the caller falls back to the filtered search).
   */
  private postfilter(
    c: Candidate,
    where: A.Expr,
    source: string,
    args: unknown[],
    q: Float32Array,
    k: number,
    ef: number,
    selectivity: number,
    index: NonNullable<ReturnType<VectorIndexes['ready']>>,
  ): number[] | undefined {
    let want = Math.min(MAX_SEARCH_K, Math.max(2 * k, Math.ceil((k / selectivity) * 1.5)));
    for (;;) {
      // The index raises ef to k itself; ef above MAX_EF_SEARCH is refused, so it is capped.
      const hits = index.search(q, { k: want, efSearch: Math.min(MAX_EF_SEARCH, Math.max(ef, want)) });
      const ids = hits.map((h) => h.rowId);
      const passing = this.countPassing(c, where, source, args, ids);
      if (passing >= k || hits.length < want || want >= index.size) return ids;
      if (want >= MAX_SEARCH_K) return undefined;
      want = Math.min(MAX_SEARCH_K, want * 4);
    }
  }

  private whereSql(c: Candidate, where: A.Expr, source: string): string {
    return emitExpression(where, 'sqlite', this.catalog, source, { table: c.core.from.name.name, alias: c.alias });
  }

  private fromSql(c: Candidate): string {
    const name = `"${c.core.from.name.name.replace(/"/g, '""')}"`;
    return c.core.from.alias ? `${name} AS "${c.alias.replace(/"/g, '""')}"` : name;
  }

  private rowIdSql(c: Candidate): string {
    return `"${c.alias.replace(/"/g, '""')}".rowid`;
  }

  private countPassing(c: Candidate, where: A.Expr, source: string, args: unknown[], ids: number[]): number {
    if (ids.length === 0) return 0;
    const sql = `SELECT count(*) FROM ${this.fromSql(c)} WHERE ${this.rowIdSql(c)} IN ${IDS_PARAM} AND (${this.whereSql(c, where, source)})`;
    return Number(this.prepared(sql).pluck().get(...withIds(args, ids)));
  }

  /** The rows passing the WHERE, as a bitset for the filtered graph search. */
  private allowedRows(c: Candidate, where: A.Expr, source: string, args: unknown[]): AllowedRowBitSet {
    const sql = `SELECT ${this.rowIdSql(c)} FROM ${this.fromSql(c)} WHERE ${this.whereSql(c, where, source)}`;
    const ids = this.prepared(sql).pluck().all(...args) as number[];
    let max = 0;
    for (const id of ids) if (id > max) max = id;
    const allowed = new AllowedRowBitSet(max);
    for (const id of ids) allowed.add(id);
    return allowed;
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
    return this.prepared(`SELECT ${emitExpression(e, 'sqlite', this.catalog, source)}`).pluck().get(...args);
  }

  /**
   * The planner's own statements, kept prepared: their SQL depends on the query's shape, not on
   * its values (row ids go in as one JSON parameter), so a repeated query prepares nothing.
   */
  private prepared(sql: string): Database.Statement {
    if (this.statementsVersion !== this.catalog.version) {
      this.statements.clear();
      this.statementsVersion = this.catalog.version;
    }
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (this.statements.size >= MAX_PREPARED) this.statements.delete(this.statements.keys().next().value!);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private queryVector(e: A.Expr, source: string, args: unknown[]): Float32Array | undefined {
    const value = this.evaluate(e, source, args);
    if (value instanceof Uint8Array) return value.byteLength % 4 === 0 ? Float32Array.from(viewVector(value)) : undefined;
    if (typeof value === 'string') return parseVectorText(value, 'the query vector');
    return undefined;
  }
}
