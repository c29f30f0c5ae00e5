/**
 * The SQL of the seed articles runs as written (copied into tests/fixtures/seeds) and gives the
 * answers the articles print.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/sql/index.ts';
import { QuiverError } from '../../../src/core/index.ts';

const SEEDS = path.join(import.meta.dirname, '../../fixtures/seeds');
const seed = (name: string): string => fs.readFileSync(path.join(SEEDS, name), 'utf8');

/** Splits a seed file into its statements, keeping each one's text exactly as written. */
function statementsOf(text: string): string[] {
  return text
    .split(/;\s*(?:#.*)?\n/)
    .map((s) => s.replace(/^--.*\n/, '').trim())
    .filter((s) => s.replace(/#.*$/gm, '').trim().length > 0);
}

let dir: string;
let engine: Engine;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-seeds-'));
  engine = Engine.open({ dataDir: dir });
});

afterEach(() => {
  engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('seed 003: AliSQL vector storage format', () => {
  const expected = [
    ['Cat', 0.00000001552204198507212],
    ['Dog', 0.0029455257170004634],
    ['Frog', 0.05131670194948623],
  ] as const;

  test('the example runs statement by statement and ranks Cat, Dog, Frog with the printed distances', async () => {
    const statements = statementsOf(seed('seed-003-search.sql'));
    expect(statements).toHaveLength(3);
    for (const s of statements.slice(0, 2)) await engine.execute(s);
    const { results } = await engine.execute(statements[2]);
    expect(results[0].columns).toEqual(['animal', 'distance']);
    expect(results[0].rows.map((r) => r[0])).toEqual(expected.map((e) => e[0]));
    results[0].rows.forEach((row, i) => expect(Math.abs((row[1] as number) - expected[i][1])).toBeLessThan(1e-6));
  });

  test('the whole example also runs as one request, # comments, backticks and double quotes included', async () => {
    const { results } = await engine.execute(seed('seed-003-search.sql'));
    expect(results).toHaveLength(3);
    expect(results[1].changes).toBe(3);
    expect(results[2].rows.map((r) => r[0])).toEqual(['Cat', 'Dog', 'Frog']);
  });

  test('MODIFY COLUMN converts text vectors to VECTOR(2) and CREATE VECTOR INDEX runs as written', async () => {
    await engine.execute('CREATE TABLE `t1` (`id` INT NOT NULL AUTO_INCREMENT PRIMARY KEY, `animal` VARCHAR(10), `vec` TEXT, `v` VECTOR(2))');
    await engine.execute(`INSERT INTO t1 (animal, vec, v) VALUES ('Frog', '[0.1, 0.2]', '[0.1, 0.2]'), ('Dog', '[0.6, 0.7]', '[0.6, 0.7]')`);
    const results = [];
    for (const s of statementsOf(seed('seed-003-convert.sql'))) results.push(await engine.execute(s));
    expect(results).toHaveLength(2);
    const { results: described } = await engine.execute('DESCRIBE t1');
    expect(described[0].rows.find((r) => r[0] === 'vec')?.slice(1, 3)).toEqual(['VECTOR(2)', 'NO']);
    const { results: rows } = await engine.execute('SELECT animal, vec FROM t1 ORDER BY id');
    expect(rows[0].rows.map((r) => [r[0], Array.from(r[1] as Float32Array)])).toEqual([
      ['Frog', [Math.fround(0.1), Math.fround(0.2)]],
      ['Dog', [Math.fround(0.6), Math.fround(0.7)]],
    ]);
    const { results: index } = await engine.execute('SHOW INDEX FROM t1');
    expect(index[0].rows.some((r) => r[2] === 'vi' && r[4] === 'v' && r[5] === 'HNSW')).toBe(true);
  });

  test('MODIFY COLUMN fails cleanly, changing nothing, when a row does not convert', async () => {
    await engine.execute('CREATE TABLE t1 (id INT AUTO_INCREMENT PRIMARY KEY, vec TEXT)');
    await engine.execute(`INSERT INTO t1 (vec) VALUES ('[0.1, 0.2]'), ('[1, 2, 3]')`);
    const error = await engine.execute(seed('seed-003-convert.sql').split('\n').slice(0, 3).join('\n')).catch((e) => e);
    expect(error).toBeInstanceOf(QuiverError);
    expect(error.code).toBe('CONVERSION_FAILED');
    expect(error.detail).toMatch(/VECTOR\(2\); got 3 values/);
    const { results } = await engine.execute('SELECT vec FROM t1 ORDER BY id');
    expect(results[0].rows).toEqual([['[0.1, 0.2]'], ['[1, 2, 3]']]);
    const { results: described } = await engine.execute('DESCRIBE t1');
    expect(described[0].rows[1][1]).toBe('TEXT');
  });

  test('CREATE VECTOR INDEX as written on the search example is refused: vi exists and t1 has no column v', async () => {
    await engine.execute(seed('seed-003-search.sql'));
    const error = await engine.execute('CREATE VECTOR INDEX vi ON t1(v);').catch((e) => e);
    expect(error).toBeInstanceOf(QuiverError);
    expect(error.code).toBe('ALREADY_EXISTS');
  });
});

describe('seed 000: converged RAG engine', () => {
  const rows = [
    { id: 1, doc: 'contract renewal terms', dept: 101, date: '2023-03-01', vec: [1, 0, 0, 0] },
    { id: 2, doc: 'old contract', dept: 101, date: '2022-06-01', vec: [1, 0, 0, 0] },
    { id: 3, doc: 'holiday policy', dept: 101, date: '2024-01-15', vec: [0, 1, 0, 0] },
    { id: 4, doc: 'contract draft for client X', dept: 202, date: '2023-05-01', vec: [0.9, 0.1, 0, 0] },
    { id: 5, doc: 'pricing sheet', dept: 101, date: '2023-09-09', vec: [0.7, 0.7, 0, 0] },
  ];

  async function load(): Promise<void> {
    await engine.execute(seed('seed-000-table.sql'));
    await engine.execute('CREATE VECTOR INDEX kb_vec ON knowledge_base(embedding_vector) distance=cosine');
    for (const r of rows) {
      await engine.execute('INSERT INTO knowledge_base VALUES (?, ?, ?, ?, ?)', [r.id, r.doc, r.dept, r.date, r.vec]);
    }
  }

  test('the hybrid query runs as written with :user_query_vector bound, filtering and ranking in one statement', async () => {
    await load();
    const { results } = await engine.execute(seed('seed-000-query.sql'), { user_query_vector: [1, 0.05, 0, 0] });
    expect(results[0].columns).toEqual(['id', 'doc_content', 'similarity']);
    // Department 101 after 2023-01-01: rows 1, 5, 3, nearest first.
    expect(results[0].rows.map((r) => r[0])).toEqual([1, 5, 3]);
    const similarities = results[0].rows.map((r) => r[2] as number);
    expect(similarities).toEqual([...similarities].sort((a, b) => a - b));
    expect(similarities[0]).toBeCloseTo(1 - 1 / Math.hypot(1, 0.05), 6);
  });

  test('VECTOR_DISTANCE without a vector index says how to fix it', async () => {
    await engine.execute(seed('seed-000-table.sql'));
    const error = await engine.execute(seed('seed-000-query.sql'), { user_query_vector: [1, 0, 0, 0] }).catch((e) => e);
    expect(error).toBeInstanceOf(QuiverError);
    expect(error.code).toBe('NO_VECTOR_INDEX');
    expect(error.detail).toMatch(/DISTANCE\(a, b, 'COSINE'/);
  });

  test('a single DELETE removes the row and its embedding (right to be forgotten)', async () => {
    await load();
    await engine.execute('DELETE FROM knowledge_base WHERE id = ?', [1]);
    const { results } = await engine.execute(seed('seed-000-query.sql'), { user_query_vector: [1, 0, 0, 0] });
    expect(results[0].rows.map((r) => r[0])).toEqual([5, 3]);
    const { results: left } = await engine.execute('SELECT count(*) FROM knowledge_base WHERE id = 1');
    expect(left[0].rows).toEqual([[0]]);
  });
});

describe('the seeds with the vector index answering', () => {
  test('seed 003 and seed 000 give the same answers through the index as by exact scan', async () => {
    engine.close();
    // exactMaxRows 0: even these tiny tables go through the index, not a scan.
    engine = Engine.open({ dataDir: dir, planner: { exactMaxRows: 0 } });
    const { results } = await engine.execute(seed('seed-003-search.sql'));
    expect(results[2].rows.map((r) => r[0])).toEqual(['Cat', 'Dog', 'Frog']);
    const { results: plan } = await engine.execute('EXPLAIN SELECT `animal`, VEC_DISTANCE(`vec`, VEC_FROMTEXT("[0.1, 0.1]")) AS `distance` FROM t1 ORDER BY `distance` LIMIT 3');
    expect(String(plan[0].rows[0][2])).toMatch(/VECTOR SEARCH t1 USING vi: ann/);
    await engine.execute(seed('seed-000-table.sql'));
    await engine.execute('CREATE VECTOR INDEX kb_vec ON knowledge_base(embedding_vector) distance=cosine');
    await engine.execute('INSERT INTO knowledge_base VALUES (1, ?, 101, ?, ?), (2, ?, 101, ?, ?), (3, ?, 202, ?, ?)', [
      'a', '2023-02-01', [1, 0, 0, 0], 'b', '2022-02-01', [1, 0, 0, 0], 'c', '2023-02-01', [1, 0.1, 0, 0],
    ]);
    const { results: hybrid } = await engine.execute(seed('seed-000-query.sql'), { user_query_vector: [1, 0, 0, 0] });
    expect(hybrid[0].rows.map((r) => r[0])).toEqual([1]);
  });
});

