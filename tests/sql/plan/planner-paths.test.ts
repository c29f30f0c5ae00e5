/**
 * Which path the planner takes for a vector query — exact, ann, prefilter, filtered-ann or
 * postfilter — as a table of cases, one row each: the statement, what runs before it in the
 * same request, and the path and the figures EXPLAIN must show. The rows pin the planner's
 * rules (src/sql/plan/planner.ts): tables under 1,000 indexed rows are scanned; with a WHERE,
 * at most 2,000 estimated survivors are filtered first (prefilter), a sampled selectivity under
 * 0.3 is checked inside the graph search (filtered-ann) and one of 0.3 or more is filtered
 * after it (postfilter); FORCE/USE INDEX skip the size and survivor rules, IGNORE INDEX scans;
 * rows the open transaction changed in the index force a scan; only a distance of the index's
 * metric with a constant query vector, ascending, under a LIMIT is planned at all; k is LIMIT
 * plus OFFSET, and ef_search is the request's setting raised to k and capped at 1,000. It goes
 * through the engine's public door only (src/sql/index.ts: `Engine.open`, `execute`, EXPLAIN)
 * with the default planner thresholds, so it holds across the internal restructuring. The
 * indexes are kept in their tails (no flush) but for `edge`, optimized into one segment, so the
 * segment and tail figures are fixed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/sql/index.ts';

type VectorPath = 'exact' | 'ann' | 'prefilter' | 'filtered-ann' | 'postfilter';

interface Case {
  /** What the row shows. */
  name: string;
  /** Statements run in the same request, before the EXPLAIN. */
  before?: string[];
  /** The statement EXPLAIN is asked about. */
  sql: string;
  params?: unknown[];
  /** Request options (`execute`'s third argument). */
  options?: { efSearch?: number };
  /** Statements run in the same request after the EXPLAIN (a ROLLBACK, so no case changes the tables). */
  after?: string[];
  /** The path, on which table and index; null when the statement is not a vector query the planner plans. */
  plan: { path: VectorPath; on: string; shows?: (string | RegExp)[] } | null;
}

/** A constant query vector; every stored vector is [1 + i % 7, i % 11, i % 13, i % 17]. */
const Q = "'[1, 2, 3, 4]'";

/** Rows `id` 1..n with `cat` = id % 10 (so `cat < c` passes c tenths of the rows) and a 4-dim vector. */
function fill(table: string, rows: number): string {
  return (
    `INSERT INTO ${table} (id, cat, v) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows}) ` +
    `SELECT i, i % 10, VEC_FROMTEXT('[' || (1 + i % 7) || ',' || (i % 11) || ',' || (i % 13) || ',' || (i % 17) || ']') FROM n`
  );
}

/** Tables of the cases: their rows, and their index's metric. */
const TABLES: [name: string, rows: number, metric: string][] = [
  ['small', 999, 'cosine'],
  ['edge', 1000, 'cosine'],
  ['big', 20_000, 'cosine'],
  ['eu', 5000, 'euclidean'],
];

const CASES: Case[] = [
  // Table size: under 1,000 indexed rows a scan is as fast as a search.
  { name: '999 rows: scanned', sql: `SELECT id FROM small ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'exact', on: 'small USING small_vi', shows: ['999 rows: a scan is as fast', 'segments=0, tail_rows=999'] } },
  { name: '1,000 rows: searched', sql: `SELECT id FROM edge ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'edge USING edge_vi', shows: ['segments=1, tail_rows=0, candidates=10', 'no filter'] } },
  { name: '20,000 rows, no WHERE: searched', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'big USING big_vi', shows: ['(k=10, ef_search=40, segments=0, tail_rows=20000, candidates=10)'] } },

  // Selectivity of the WHERE, sampled: few survivors -> prefilter; many but under 0.3 -> filtered-ann; 0.3 and up -> postfilter.
  { name: 'about 100 of 20,000 rows pass: filter first', sql: `SELECT id FROM big WHERE id <= 100 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'prefilter', on: 'big USING big_vi', shows: [/ — about \d+ rows pass the filter$/] } },
  { name: 'a fifth of 20,000 rows pass: checked inside the graph search', sql: `SELECT id FROM big WHERE cat < 2 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'filtered-ann', on: 'big USING big_vi', shows: ['candidates=10', 'the filter is checked inside graph traversal'] } },
  { name: 'four fifths of 20,000 rows pass: filtered after the search', sql: `SELECT id FROM big WHERE cat < 8 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'postfilter', on: 'big USING big_vi', shows: ['most rows pass the filter'] } },
  // Postfilter's first fetch is max(2k, 1.5k / selectivity) candidates: 20 when every row passes.
  { name: 'every row passes: filtered after the search', sql: `SELECT id FROM big WHERE cat >= 0 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'postfilter', on: 'big USING big_vi', shows: ['selectivity=1.000', 'candidates=20'] } },
  { name: 'a fifth of 5,000 rows (about 1,000) pass: filter first, whatever the share', sql: `SELECT id FROM eu WHERE cat < 2 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'prefilter', on: 'eu USING eu_vi' } },
  { name: 'four fifths of 1,000 rows (about 800) pass: filter first', sql: `SELECT id FROM edge WHERE cat < 8 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'prefilter', on: 'edge USING edge_vi' } },
  { name: 'four fifths of 5,000 rows (about 4,000) pass: filtered after the search', sql: `SELECT id FROM eu WHERE cat < 8 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'postfilter', on: 'eu USING eu_vi' } },
  { name: 'no row passes: filter first (about 0)', sql: `SELECT id FROM big WHERE cat = 42 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'prefilter', on: 'big USING big_vi', shows: ['selectivity=0.000', 'about 0 rows pass the filter'] } },

  // Hints.
  { name: 'FORCE INDEX on 999 rows: searched', sql: `SELECT id FROM small FORCE INDEX (small_vi) ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'small USING small_vi' } },
  { name: 'USE INDEX is FORCE INDEX', sql: `SELECT id FROM small USE INDEX (small_vi) ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'small USING small_vi' } },
  { name: 'FORCE INDEX with few survivors: searched with the filter, not filtered first', sql: `SELECT id FROM big FORCE INDEX (big_vi) WHERE id <= 100 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'filtered-ann', on: 'big USING big_vi' } },
  { name: 'FORCE INDEX with most rows passing: filtered after the search', sql: `SELECT id FROM big FORCE INDEX (big_vi) WHERE cat < 8 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'postfilter', on: 'big USING big_vi' } },
  { name: 'IGNORE INDEX: scanned', sql: `SELECT id FROM big IGNORE INDEX (big_vi) ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'exact', on: 'big USING big_vi', shows: ['— IGNORE INDEX (big_vi)'] } },
  { name: 'IGNORE INDEX wins over the filter', sql: `SELECT id FROM big IGNORE INDEX (big_vi) WHERE cat < 8 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'exact', on: 'big USING big_vi', shows: ['— IGNORE INDEX (big_vi)'] } },

  // Rows changed in the open transaction: the index has not seen them, so the table is scanned.
  { name: 'an INSERT in the open transaction: scanned', before: ['BEGIN', "INSERT INTO big VALUES (20001, 1, VEC_FROMTEXT('[1, 2, 3, 4]'))"], sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, after: ['ROLLBACK'], plan: { path: 'exact', on: 'big USING big_vi', shows: ['— this transaction changed indexed rows'] } },
  { name: 'a DELETE in the open transaction: scanned', before: ['BEGIN', 'DELETE FROM big WHERE id = 7'], sql: `SELECT id FROM big WHERE cat < 8 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, after: ['ROLLBACK'], plan: { path: 'exact', on: 'big USING big_vi', shows: ['— this transaction changed indexed rows'] } },
  { name: 'an UPDATE of another column only: searched', before: ['BEGIN', 'UPDATE big SET cat = 3 WHERE id = 7'], sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, after: ['ROLLBACK'], plan: { path: 'ann', on: 'big USING big_vi' } },
  { name: "a change to another index's table: searched", before: ['BEGIN', "INSERT INTO small VALUES (5000, 1, VEC_FROMTEXT('[1, 2, 3, 4]'))"], sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, after: ['ROLLBACK'], plan: { path: 'ann', on: 'big USING big_vi' } },
  { name: 'an open transaction that changed nothing: searched', before: ['BEGIN'], sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, after: ['ROLLBACK'], plan: { path: 'ann', on: 'big USING big_vi' } },

  // The distance function: only the index's metric is planned.
  { name: 'VEC_DISTANCE takes the index metric', sql: `SELECT id FROM eu ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'eu USING eu_vi' } },
  { name: 'VEC_DISTANCE_COSINE on a cosine index', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE_COSINE(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'big USING big_vi' } },
  { name: "DISTANCE(..., 'COSINE') on a cosine index", sql: `SELECT id FROM big ORDER BY DISTANCE(v, ${Q}, 'COSINE') LIMIT 10`, plan: { path: 'ann', on: 'big USING big_vi' } },
  { name: 'VEC_DISTANCE_EUCLIDEAN on a euclidean index', sql: `SELECT id FROM eu ORDER BY VEC_DISTANCE_EUCLIDEAN(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'eu USING eu_vi' } },
  { name: 'metric mismatch: VEC_DISTANCE_EUCLIDEAN on a cosine index is not planned', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE_EUCLIDEAN(v, ${Q}) LIMIT 10`, plan: null },
  { name: "metric mismatch: DISTANCE(..., 'EUCLIDEAN') on a cosine index", sql: `SELECT id FROM big ORDER BY DISTANCE(v, ${Q}, 'EUCLIDEAN') LIMIT 10`, plan: null },
  { name: 'metric mismatch: VEC_DISTANCE_COSINE on a euclidean index', sql: `SELECT id FROM eu ORDER BY VEC_DISTANCE_COSINE(v, ${Q}) LIMIT 10`, plan: null },
  { name: 'metric mismatch: VEC_DISTANCE_DOT on a cosine index', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE_DOT(v, ${Q}) LIMIT 10`, plan: null },

  // The statement's shape.
  { name: 'ORDER BY the alias of the distance', sql: `SELECT id, VEC_DISTANCE(v, ${Q}) AS d FROM big ORDER BY d LIMIT 10`, plan: { path: 'ann', on: 'big USING big_vi' } },
  { name: 'the vector query inside a subquery', sql: `SELECT count(*) FROM (SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 3) AS t`, plan: { path: 'ann', on: 'big USING big_vi', shows: ['k=3'] } },
  { name: 'a bound query vector', sql: 'SELECT id FROM big ORDER BY VEC_DISTANCE(v, ?) LIMIT 10', params: [[1, 2, 3, 4]], plan: { path: 'ann', on: 'big USING big_vi' } },
  { name: 'DESC (the farthest rows) is not planned', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) DESC LIMIT 10`, plan: null },
  { name: 'no LIMIT is not planned', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q})`, plan: null },
  { name: 'GROUP BY is not planned', sql: `SELECT cat, min(id) FROM big GROUP BY cat ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: null },
  { name: 'DISTINCT is not planned', sql: `SELECT DISTINCT cat FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: null },
  { name: 'a query vector read from a column is not planned', sql: 'SELECT id FROM big ORDER BY VEC_DISTANCE(v, v) LIMIT 10', plan: null },
  { name: 'a NULL query vector: scanned', sql: 'SELECT id FROM big ORDER BY VEC_DISTANCE(v, NULL) LIMIT 10', plan: { path: 'exact', on: 'big USING big_vi', shows: ['— the query vector is NULL or of other dimensions'] } },

  // LIMIT and OFFSET: k is their sum, and ef_search is raised to k.
  { name: 'k = LIMIT + OFFSET', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10 OFFSET 5`, plan: { path: 'ann', on: 'big USING big_vi', shows: ['(k=15, ef_search=40,', 'candidates=15'] } },
  { name: 'a bound LIMIT', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT ?`, params: [7], plan: { path: 'ann', on: 'big USING big_vi', shows: ['(k=7,'] } },
  { name: 'ef_search is raised to k', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 100`, plan: { path: 'ann', on: 'big USING big_vi', shows: ['(k=100, ef_search=100,'] } },
  { name: 'ef_search raised to k stops at 1,000', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 1500 OFFSET 500`, plan: { path: 'ann', on: 'big USING big_vi', shows: ['(k=2000, ef_search=1000,'] } },
  { name: 'k = 10,000 is searched', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10000`, plan: { path: 'ann', on: 'big USING big_vi', shows: ['(k=10000,'] } },
  { name: 'k over 10,000: scanned', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 9999 OFFSET 2`, plan: { path: 'exact', on: 'big USING big_vi', shows: ['— LIMIT 10001 is outside 1..10000'] } },
  { name: 'LIMIT 0: scanned', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 0`, plan: { path: 'exact', on: 'big USING big_vi', shows: ['— LIMIT 0 is outside 1..10000'] } },

  // ef_search: the request option, and SET vidx_hnsw_ef_search for the rest of the request.
  { name: 'the request option sets ef_search', options: { efSearch: 77 }, sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'big USING big_vi', shows: ['ef_search=77'] } },
  { name: 'SET vidx_hnsw_ef_search shows in EXPLAIN', before: ['SET vidx_hnsw_ef_search = 123'], sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'big USING big_vi', shows: ['(k=10, ef_search=123,'] } },
  { name: 'SET overrides the request option', options: { efSearch: 77 }, before: ['SET vidx_hnsw_ef_search = 123'], sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'big USING big_vi', shows: ['ef_search=123'] } },
  { name: 'a SET ef_search below k is raised to k', before: ['SET vidx_hnsw_ef_search = 5'], sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'ann', on: 'big USING big_vi', shows: ['(k=10, ef_search=10,'] } },
  { name: 'SET ef_search shows on the filtered paths too', before: ['SET vidx_hnsw_ef_search = 300'], sql: `SELECT id FROM big WHERE cat < 8 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: { path: 'postfilter', on: 'big USING big_vi', shows: ['ef_search=300'] } },
];

let dir: string;
let engine: Engine;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-planner-paths-'));
  // Default planner thresholds; the indexes keep every row in their tail until OPTIMIZE.
  engine = Engine.open({ dataDir: dir, index: { builder: 'inline', flushRows: 1_000_000, flushAgeMs: 3_600_000 } });
  for (const [table, rows, metric] of TABLES) {
    await engine.execute(`CREATE TABLE ${table} (id INT PRIMARY KEY, cat INT, v VECTOR(4), VECTOR INDEX ${table}_vi(v) distance=${metric})`);
    await engine.execute(fill(table, rows));
  }
  await engine.execute('OPTIMIZE TABLE edge');
});

afterAll(() => {
  engine?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The VECTOR SEARCH lines of the EXPLAIN of `c`, run in one request with its before and after statements. */
async function vectorLines(c: Case): Promise<string[]> {
  const script = [...(c.before ?? []), `EXPLAIN ${c.sql}`, ...(c.after ?? [])].join('; ');
  const { results } = await engine.execute(script, c.params, c.options ?? {});
  const explain = results[c.before?.length ?? 0];
  expect(explain.columns).toEqual(['id', 'parent', 'detail']);
  return explain.rows.map((r) => String(r[2])).filter((d) => d.startsWith('VECTOR SEARCH '));
}

describe('the planner chooses the path by statement and statistics', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const lines = await vectorLines(c);
    if (c.plan === null) {
      expect(lines).toEqual([]);
      return;
    }
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line.startsWith(`VECTOR SEARCH ${c.plan.on}: ${c.plan.path} (`)).toBe(true);
    for (const shown of c.plan.shows ?? []) {
      if (typeof shown === 'string') expect(line).toContain(shown);
      else expect(line).toMatch(shown);
    }
  });
});

describe('the figures behind the choice', () => {
  /** The sampled selectivity EXPLAIN prints for a WHERE on `big`. */
  async function selectivity(where: string): Promise<number> {
    const [line] = await vectorLines({ name: where, sql: `SELECT id FROM big ${where} ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: null });
    const m = /selectivity=(\d\.\d{3})/.exec(line);
    if (!m) throw new Error(`no selectivity in: ${line}`);
    return Number(m[1]);
  }

  it('the sampled selectivity is near the true share of rows, and prefilter says how many survive', async () => {
    // A sample of about 200 rows: its standard error is at most 0.035, so 0.1 is about three of them.
    for (const [where, share] of [
      ['WHERE id <= 2000', 0.1],
      ['WHERE id <= 4000', 0.2],
      ['WHERE id <= 10000', 0.5],
      ['WHERE id > 4000', 0.8],
      ['WHERE cat < 2', 0.2],
    ] as const) {
      expect(Math.abs((await selectivity(where)) - share)).toBeLessThan(0.1);
    }
    // The survivors prefilter reports are the selectivity times the index's rows.
    const [line] = await vectorLines({ name: '', sql: `SELECT id FROM big WHERE cat = 1 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: null });
    const s = Number(/selectivity=(\d\.\d{3})/.exec(line)![1]);
    const about = Number(/about (\d+) rows pass/.exec(line)![1]);
    expect(Math.abs(about - s * 20_000)).toBeLessThanOrEqual(10);
  });

  it('a case with a WHERE shows its selectivity; one without shows none', async () => {
    const [plain] = await vectorLines({ name: '', sql: `SELECT id FROM big ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: null });
    const [filtered] = await vectorLines({ name: '', sql: `SELECT id FROM big WHERE cat < 2 ORDER BY VEC_DISTANCE(v, ${Q}) LIMIT 10`, plan: null });
    expect(plain).not.toContain('selectivity=');
    expect(filtered).toMatch(/selectivity=0\.\d{3}/);
  });
});
