/**
 * A vector index dropped and created again under the same name within one request starts over:
 * it never keeps the old table's rows or the old definition.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { Engine } from '../../../src/sql/index.ts';

let dir: string;
let engine: Engine;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-index-recreate-'));
  engine = Engine.open({ dataDir: dir });
});
afterEach(() => {
  engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function status(): Promise<{ rows: number; metric: string }> {
  const r = (await engine.execute('SHOW INDEX STATUS')).results[0];
  const row = r.rows[0];
  return { rows: row[r.columns.indexOf('rows')] as number, metric: row[r.columns.indexOf('metric')] as string };
}

const values = (n: number, offset: number) => Array.from({ length: n }, (_, i) => `('[${i + offset}, 1, 0]')`).join(', ');

test('DROP TABLE and CREATE TABLE of the same name in one request: the index holds only the new rows', async () => {
  await engine.execute(`CREATE TABLE z (v VECTOR(3), VECTOR INDEX zvi(v)); INSERT INTO z (v) VALUES ${values(30, 0)}`);
  expect((await status()).rows).toBe(30);
  await engine.execute(`BEGIN; DROP TABLE z; CREATE TABLE z (v VECTOR(3), VECTOR INDEX zvi(v)); INSERT INTO z (v) VALUES ${values(5, 100)}; COMMIT`);
  expect((await status()).rows).toBe(5);
  const nearest = await engine.execute('SELECT rowid FROM z FORCE INDEX (zvi) ORDER BY VEC_DISTANCE(v, ?) LIMIT 5', [[100, 1, 0]]);
  expect(nearest.results[0].rows.map((r) => r[0])).toEqual([1, 2, 3, 4, 5]);
});

test('DROP INDEX and CREATE VECTOR INDEX of the same name with another metric: the new metric is used', async () => {
  await engine.execute(`CREATE TABLE z (v VECTOR(3)); CREATE VECTOR INDEX zvi ON z(v) DISTANCE=COSINE; INSERT INTO z (v) VALUES ${values(10, 0)}`);
  expect((await status()).metric).toBe('cosine');
  await engine.execute('DROP INDEX zvi; CREATE VECTOR INDEX zvi ON z(v) DISTANCE=EUCLIDEAN');
  expect(await status()).toEqual({ rows: 10, metric: 'euclidean' });
  const nearest = await engine.execute('SELECT rowid FROM z FORCE INDEX (zvi) ORDER BY VEC_DISTANCE(v, ?) LIMIT 3', [[4, 1, 0]]);
  expect(nearest.results[0].rows.map((r) => r[0])).toEqual([5, 4, 6]);
});
