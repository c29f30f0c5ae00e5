/**
 * Vector searches on read workers (src/sql/plan/search-step.ts, read-worker.ts): a read's index
 * search runs on the worker, over a view of the index taken with the worker's snapshot. Every
 * planner path answers there exactly as on the engine thread (float32 and int8, with segments,
 * a tail and deleted rows); the search sees the snapshot's rows even when writes commit before
 * it runs; and a re-created index of the same name is never answered from the old one's view.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/sql/index.ts';

const dirs: string[] = [];
const engines: Engine[] = [];

/** Small tables go through the index, segments build inline, and few survivors mean prefilter. */
function open(readWorkers: number): Engine {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-worker-search-'));
  dirs.push(dir);
  const engine = Engine.open({
    dataDir: dir,
    readWorkers,
    searchOnWorkers: true,
    index: { flushRows: 400, builder: 'inline' },
    planner: { exactMaxRows: 0, prefilterMaxRows: 30 },
  });
  engines.push(engine);
  return engine;
}

afterEach(async () => {
  for (const e of engines.splice(0)) await e.shutdown();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const DIMS = 8;

function vector(rand: () => number): number[] {
  return Array.from({ length: DIMS }, () => rand() * 2 - 1);
}

/** `rows` rows in `table` (tenant = id % 10, cat = id % 3), its index with `options`; segments, a tail and deletes. */
async function fill(engine: Engine, table: string, options: string, rows: number): Promise<void> {
  await engine.execute(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, tenant INT, cat INT, v VECTOR(${DIMS}), VECTOR INDEX ${table}_vi(v) ${options})`);
  const rand = random(7);
  for (let start = 1; start <= rows; start += 250) {
    const ids = Array.from({ length: Math.min(250, rows - start + 1) }, (_, i) => start + i);
    await engine.execute(`INSERT INTO ${table} VALUES ${ids.map(() => '(?, ?, ?, ?)').join(', ')}`, ids.flatMap((id) => [id, id % 10, id % 3, vector(rand)]));
  }
  await engine.execute(`DELETE FROM ${table} WHERE id % 17 = 0`);
}

const PATHS: [string, string, (rand: () => number) => unknown[]][] = [
  ['ann', '', (rand) => [vector(rand)]],
  ['filtered-ann', 'WHERE tenant = ?', (rand) => [Math.floor(rand() * 10), vector(rand)]],
  ['postfilter', 'WHERE cat <> ?', (rand) => [Math.floor(rand() * 3), vector(rand)]],
  ['prefilter', 'WHERE tenant = ? AND id < 150', (rand) => [Math.floor(rand() * 10), vector(rand)]],
];

describe('vector searches on read workers', () => {
  for (const [label, options] of [
    ['float32', 'm=8 distance=cosine'],
    ['int8', 'm=8 distance=euclidean quantization=int8'],
  ]) {
    test(`answer every planner path as the engine thread does (${label})`, async () => {
      const pooled = open(2);
      const inline = open(0);
      // 2,000 rows: segments of 400 from the flushes, a tail of the rest, every 17th row deleted.
      for (const e of [pooled, inline]) await fill(e, 't', options, 2_100);
      const rand = random(11);
      for (const [path, where, params] of PATHS) {
        const sql = `SELECT id, VEC_DISTANCE(v, ?) AS d FROM t ${where} ORDER BY VEC_DISTANCE(v, ?) LIMIT 10`;
        const explained = String((await pooled.execute(`EXPLAIN ${sql.replace('VEC_DISTANCE(v, ?) AS d', '1')}`, params(random(1)))).results[0].rows[0][2]);
        expect(explained, sql).toContain(`: ${path} (`);
        for (let i = 0; i < 10; i++) {
          const p = params(rand);
          const args = [p.at(-1), ...p];
          const a = (await pooled.execute(sql, args)).results[0].rows;
          const b = (await inline.execute(sql, args)).results[0].rows;
          expect(a, `${path} query ${i}`).toEqual(b);
          expect(a.length, `${path} query ${i}`).toBeGreaterThan(path === 'prefilter' ? 5 : 9);
        }
      }
    });
  }

  test('the search sees its snapshot, whatever commits before it runs', async () => {
    const engine = open(1);
    await fill(engine, 't', 'm=8 distance=euclidean', 1_000);
    const q = vector(random(3));
    const nearest = 'SELECT id FROM t FORCE INDEX (t_vi) WHERE tenant <> 3 ORDER BY VEC_DISTANCE(v, ?) LIMIT 10';
    const before = (await engine.execute(nearest, [q])).results[0].rows;
    // The first statement keeps the worker busy after both were planned (and the index viewed)
    // under the lock; meanwhile the nearest row goes and a nearer one comes.
    const slow = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT count(VECTOR_DIM(\'[1,2]\')) FROM c';
    const read = engine.execute(`${slow}; ${nearest}`, [q]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await engine.execute('DELETE FROM t WHERE id = ?', [before[0][0]]);
    await engine.execute('INSERT INTO t (id, tenant, cat, v) VALUES (5000, 1, 1, ?)', [q]);
    await engine.execute('OPTIMIZE TABLE t');
    expect((await read).results[1].rows).toEqual(before);
    const after = (await engine.execute(nearest, [q])).results[0].rows;
    expect(after[0]).toEqual([5000]);
    expect(after).not.toContainEqual(before[0]);
  });

  test('a re-created index of the same name is searched anew, not through the old one', async () => {
    const engine = open(1);
    const nearest = 'SELECT id FROM t FORCE INDEX (t_vi) ORDER BY VEC_DISTANCE(v, ?) LIMIT 3';
    await fill(engine, 't', 'm=8 distance=euclidean', 900);
    const q = vector(random(5));
    expect((await engine.execute(nearest, [q])).results[0].rows).toHaveLength(3);
    await engine.execute('DROP TABLE t');
    await engine.execute(`CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(${DIMS}), VECTOR INDEX t_vi(v) m=8 distance=euclidean)`);
    const rand = random(99);
    const rows = Array.from({ length: 600 }, (_, i) => [i + 10_000, vector(rand)]);
    await engine.execute(`INSERT INTO t VALUES ${rows.map(() => '(?, ?)').join(', ')}`, rows.flat());
    await engine.execute('OPTIMIZE TABLE t');
    const exact = (await engine.execute(nearest.replace('FORCE', 'IGNORE'), [q])).results[0].rows;
    expect((await engine.execute(nearest, [q])).results[0].rows).toEqual(exact);
    expect(exact.every(([id]) => (id as number) >= 10_000)).toBe(true);
  });
});
