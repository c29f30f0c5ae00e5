/**
 * @module plan/explain
 * EXPLAIN: SQLite's query plan for a statement, headed by one line per vector query saying
 * which path the planner took and the figures that chose it (DESIGN decision 5). The index
 * search runs, so the line can give the candidates it produced; the statement itself does not.
 */
import type Database from 'better-sqlite3';
import type { A } from '../dialect/index.ts';
import { QuiverError } from '../../core/index.ts';
import type { SqlValue, StatementResult } from '../types.ts';
import type { VectorPlan } from './planner.ts';
import type { RestrictedStatement } from './vector-query.ts';

/** Statement kinds EXPLAIN takes. */
const EXPLAINABLE = new Set<A.Statement['kind']>(['select', 'insert', 'update', 'delete']);

/** Refuses EXPLAIN of a statement it cannot show a plan for. */
export function checkExplainable(statement: A.Statement): void {
  if (!EXPLAINABLE.has(statement.kind)) throw new QuiverError('UNSUPPORTED_STATEMENT', 'EXPLAIN works on SELECT, INSERT, UPDATE and DELETE');
}

/** The EXPLAIN result for `ready`, a statement restricted to its candidates (vector-query.ts). */
export function explainResult(db: Database.Database, ready: RestrictedStatement): StatementResult {
  const stmt = db.prepare(`EXPLAIN QUERY PLAN ${ready.lowered.sql}`);
  stmt.raw(true);
  const rows = stmt.all(...ready.args) as [number, number, number, string][];
  const vectorRows = ready.plans.map((p): SqlValue[] => [0, 0, describePlan(p)]);
  return { columns: ['id', 'parent', 'detail'], rows: [...vectorRows, ...rows.map((r) => [r[0], r[1], r[3]])], changes: 0, lastInsertId: null };
}

/** One EXPLAIN line for a vector query: the path and why, with the figures that chose it. */
function describePlan(p: VectorPlan): string {
  const figures = [`k=${p.k}`, `ef_search=${p.efSearch}`];
  if (p.selectivity !== undefined) figures.push(`selectivity=${p.selectivity.toFixed(3)}`);
  figures.push(`segments=${p.segments}`, `tail_rows=${p.tailRows}`);
  if (p.candidates !== undefined) figures.push(`candidates=${p.candidates}`);
  return `VECTOR SEARCH ${p.table} USING ${p.index}: ${p.path} (${figures.join(', ')}) — ${p.reason}`;
}
