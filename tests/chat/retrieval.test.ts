/**
 * The full-text side of /v1/chat's retrieval against the naive oracle. The statement retrieval
 * writes (`WHERE MATCH ... ORDER BY score DESC, rowid LIMIT n`) lets FTS5 keep the top n
 * (row id, BM25) pairs before the table is joined (emit.ts, fulltextTopN); the oracle scores
 * every row with the correlated BM25 of `MATCH ... AGAINST` as a value and sorts them all. On a
 * small table of short documents over a few words, where equal scores are common, both must
 * give the same rows, scores and order for every question and every n, with and without a
 * filter; the plan is pinned so the top n stays inside the FTS5 side; and the SQL shapes where
 * taking the n early would change the answer (aggregates, windows, OFFSET, other orderings)
 * still answer as the oracle does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retrievalSql, retrieve } from '../../src/chat/retrieval.ts';
import { compileFilter } from '../../src/chat/filter.ts';
import { parseChatRequest } from '../../src/chat/request.ts';
import { resolveTarget, type RetrievalTarget } from '../../src/chat/target.ts';
import { queryWords } from '../../src/chat/words.ts';
import { Engine, type SqlValue, type TableDescription } from '../../src/sql/index.ts';

const ROWS = 400;
const WORDS = ['join', 'operator', 'index', 'vector', 'table', 'hash', 'scan', 'merge', 'sort', 'page', 'cache', 'query'];
const QUESTIONS = ['join operator?', 'How does a hash join work?', 'vector index', 'cache page sort merge', 'scan', 'query table hash', 'nothing here matches'];

/** A small seeded generator (mulberry32), so the table is the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-chat-retrieval-'));
let engine: Engine;
let table: TableDescription;
let target: RetrievalTarget;
let columns: string[];

beforeAll(async () => {
  engine = Engine.open({ dataDir: root });
  await engine.execute('CREATE TABLE docs (id INT PRIMARY KEY, dept INT, doc TEXT, FULLTEXT INDEX ft (doc))');
  const next = random(5);
  const values: string[] = [];
  for (let i = 1; i <= ROWS; i++) {
    // 2-4 words of 12: many rows share a length and their matching words, so many tie.
    const n = 2 + Math.floor(next() * 3);
    const doc = Array.from({ length: n }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ');
    values.push(`(${i}, ${i % 3}, '${doc}')`);
  }
  await engine.execute(`INSERT INTO docs VALUES ${values.join(', ')}`);
  table = (await engine.describeTable('docs'))!;
  target = resolveTarget(table, { retrieval: 'text', textColumn: 'doc' });
  columns = table.columns.map((c) => c.name);
});

afterAll(() => {
  engine.close();
  fs.rmSync(root, { recursive: true, force: true });
});

async function rows(sql: string, params: Record<string, unknown>): Promise<SqlValue[][]> {
  const { results } = await engine.execute(sql, params);
  return results[results.length - 1].rows;
}

/** The oracle: every row scored by BM25 one at a time, the matches sorted best first, ties by row id. */
async function naiveTopN(words: string, n: number, dept?: number): Promise<SqlValue[][]> {
  const filter = dept === undefined ? '' : ' AND dept = :d';
  const scored = await rows(
    `SELECT rowid, doc, id, dept, MATCH (doc) AGAINST (:w) AS s FROM docs WHERE MATCH (doc) AGAINST (:w) > 0${filter}`,
    dept === undefined ? { w: words } : { w: words, d: dept },
  );
  return scored.sort((a, b) => (b[4] as number) - (a[4] as number) || (a[0] as number) - (b[0] as number)).slice(0, n);
}

describe('full-text retrieval takes the top n inside FTS5', () => {
  it('gives the naive full scoring\'s rows, scores and order for every question and n, ties included', async () => {
    const statement = retrievalSql(target, undefined, columns).text!;
    let tiesAtTheCut = 0;
    for (const question of QUESTIONS) {
      const words = queryWords(question).join(' ');
      const all = await naiveTopN(words, ROWS);
      for (const n of [1, 3, 5, 10, 25, 60, ROWS]) {
        const got = await rows(statement, { chat_words: words, chat_n: n });
        expect(got, `${question}, n = ${n}`).toEqual(all.slice(0, n));
        if (n < all.length && all[n - 1][4] === all[n][4]) tiesAtTheCut++;
      }
    }
    // The corpus is meant to put equal scores at the cut; without them this proves less.
    expect(tiesAtTheCut).toBeGreaterThan(5);
  });

  it('gives the same sources through retrieve(), with and without a filter', async () => {
    for (const question of QUESTIONS) {
      const words = queryWords(question).join(' ');
      for (const where of [undefined, 'dept = :d']) {
        const request = parseChatRequest({ question, table: 'docs', k: 5, retrieval: 'text', where, params: where ? { d: 1 } : undefined });
        const filter = where ? compileFilter(where, { d: 1 }, table) : undefined;
        const got = await retrieve(engine, target, request, filter, columns);
        const want = await naiveTopN(words, request.candidates, where ? 1 : undefined);
        expect(got.textHits, `${question}, ${where}`).toBe(want.length);
        expect(got.sources.map((s) => [s.rowId, s.textScore])).toEqual(want.slice(0, 5).map((r) => [r[0], r[4]]));
      }
    }
  });

  it('plans the n inside the FTS5 side, and after the filter when there is one', async () => {
    const detail = async (sql: string, params: Record<string, unknown>) => (await rows(`EXPLAIN ${sql}`, params)).map((r) => String(r[r.length - 1]));
    const plain = await detail(retrievalSql(target, undefined, columns).text!, { chat_words: 'join', chat_n: 5 });
    expect(plain).toEqual([
      'CO-ROUTINE __quiver_ft1',
      'SCAN __quiver_fts_ft VIRTUAL TABLE INDEX 0:M1',
      'USE TEMP B-TREE FOR ORDER BY',
      'SCAN __quiver_ft1',
      'SEARCH docs USING INTEGER PRIMARY KEY (rowid=?)',
      'USE TEMP B-TREE FOR LAST TERM OF ORDER BY',
    ]);
    const filter = compileFilter('dept = :d', { d: 1 }, table);
    const filtered = await detail(retrievalSql(target, filter, columns).text!, { chat_words: 'join', chat_n: 5, ...filter.params });
    expect(filtered).not.toContain('CO-ROUTINE __quiver_ft1');
  });

  it('answers as the oracle where taking the n early would change the answer', async () => {
    const w = 'join operator hash';
    // Each query beside the same query whose MATCH is a value (`> 0`), which is never joined.
    const shapes = [
      'SELECT count(*) FROM docs WHERE {m} ORDER BY MATCH (doc) AGAINST (:w) DESC LIMIT 3',
      'SELECT id, row_number() OVER (ORDER BY id DESC) FROM docs WHERE {m} ORDER BY MATCH (doc) AGAINST (:w) DESC, rowid LIMIT 3',
      'SELECT id FROM docs WHERE {m} ORDER BY MATCH (doc) AGAINST (:w) DESC, rowid LIMIT 4 OFFSET 3',
      'SELECT id FROM docs WHERE {m} ORDER BY MATCH (doc) AGAINST (:w), rowid DESC LIMIT 4',
      'SELECT id, MATCH (doc) AGAINST (:w) AS s FROM docs WHERE {m} ORDER BY s DESC, id DESC LIMIT 4',
      'SELECT DISTINCT dept FROM docs WHERE {m} ORDER BY dept LIMIT 2',
      'SELECT dept, max(id) FROM docs WHERE {m} GROUP BY dept ORDER BY dept LIMIT 2',
      'SELECT id FROM docs WHERE {m} AND id > 100 ORDER BY MATCH (doc) AGAINST (:w) DESC, rowid LIMIT 4',
      'SELECT id, MATCH (doc) AGAINST (:w) AS s FROM docs WHERE {m} ORDER BY s DESC, rowid DESC LIMIT 4',
    ];
    for (const shape of shapes) {
      const got = await rows(shape.replace('{m}', 'MATCH (doc) AGAINST (:w)'), { w });
      const want = await rows(shape.replace('{m}', 'MATCH (doc) AGAINST (:w) > 0'), { w });
      expect(got, shape).toEqual(want);
    }
  });

  it('leaves the table\'s own columns unambiguous beside the join, even ones named rid and score', async () => {
    await engine.execute("CREATE TABLE named (rid INT, score TEXT, FULLTEXT INDEX named_ft (score)); INSERT INTO named VALUES (9, 'join operator'), (8, 'join'), (7, 'operator join join'), (6, 'puppy')");
    const shape = 'SELECT rowid, rid, score, MATCH (score) AGAINST (:w) AS s FROM named WHERE {m} ORDER BY s DESC, rowid LIMIT 2';
    const got = await rows(shape.replace('{m}', 'MATCH (score) AGAINST (:w)'), { w: 'join' });
    expect(got).toEqual(await rows(shape.replace('{m}', 'MATCH (score) AGAINST (:w) > 0'), { w: 'join' }));
    expect(got.map((r) => r[1])).toEqual([8, 7]);
  });
});
