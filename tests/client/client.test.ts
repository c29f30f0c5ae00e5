/**
 * The client generated from openapi.yaml (openapi-typescript's `schema.d.ts`, committed, and
 * openapi-fetch) against the real server on a real port: the committed types must be what the
 * generator makes from the spec today, and the typed client must be enough to create a table,
 * insert documents that embed themselves with the built-in model, run a hybrid query
 * (full-text match, vector distance and relational filters in one statement) and ask /v1/chat,
 * whole and streamed, with no chat model configured (extractive answers). Every answer is also
 * checked against openapi.yaml by the client's fetch.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEventStream } from '../api/contract/check-response.ts';
import { checkedFetch } from '../api/contract/checked.ts';
import { SPEC_PATH } from '../api/contract/spec.ts';
import { killAllServers, startServer } from '../api/server-process.ts';
import type { ServerProcess } from '../api/server-process.ts';
import type { components, paths } from './schema.d.ts';

type SqlValue = components['schemas']['SqlValue'];

const SCHEMA_PATH = new URL('./schema.d.ts', import.meta.url);
const GENERATOR = createRequire(import.meta.url).resolve('openapi-typescript/bin/cli.js');

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-client-'));
afterAll(async () => {
  await killAllServers();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

describe('tests/client/schema.d.ts', () => {
  it('is what `npm run generate:client` makes from openapi.yaml now', () => {
    const fresh = path.join(tmpRoot, 'schema.d.ts');
    execFileSync(process.execPath, [GENERATOR, SPEC_PATH, '-o', fresh], { stdio: 'pipe' });
    const committed = fs.readFileSync(SCHEMA_PATH, 'utf8');
    expect(committed === fs.readFileSync(fresh, 'utf8'), 'tests/client/schema.d.ts is stale: run `npm run generate:client`').toBe(true);
  });
});

/**
 * The JSON answer of an operation whose 200 may also be a stream: the spec lists both media
 * types, so the generated type is a union until the caller rules the stream's text out.
 */
function jsonAnswer<T>(data: T | string | undefined): T {
  if (data === undefined || typeof data === 'string') throw new Error(`expected a JSON answer; got ${typeof data}`);
  return data;
}

/** Documents of two departments, after seed 000's knowledge_base. */
const DOCUMENTS: [department: number, date: string, doc: string][] = [
  [101, '2023-03-01', 'Refunds are issued within 14 days of a return'],
  [101, '2024-01-15', 'Shipping to Europe takes five business days'],
  [101, '2023-09-10', 'A refund for a damaged parcel needs a photo of the damage'],
  [101, '2022-05-01', 'Before 2023 refunds took 30 days'],
  [102, '2023-06-01', 'Refund requests for enterprise contracts go to finance'],
  [102, '2024-02-01', 'Refunds of enterprise licences are prorated by month'],
];

describe('the generated client against the real server', () => {
  let server: ServerProcess;
  let client: ReturnType<typeof createClient<paths>>;
  beforeAll(async () => {
    server = await startServer({ dataDir: fs.mkdtempSync(path.join(tmpRoot, 'data-')) });
    client = createClient<paths>({ baseUrl: server.url, fetch: checkedFetch });
  });
  afterAll(() => server?.stop());

  it('reads health and the contract', async () => {
    const health = await client.GET('/health');
    expect(health.data?.status).toBe('ok');
    const spec = await client.GET('/openapi.yaml', { parseAs: 'text' });
    expect(spec.data).toBe(fs.readFileSync(SPEC_PATH, 'utf8'));
  });

  it('creates a table whose vectors come from EMBEDDING(), with vector and full-text indexes', async () => {
    const { data, error, response } = await client.POST('/v1/sql', {
      body: {
        sql: `CREATE TABLE knowledge_base (
          id INT AUTO_INCREMENT PRIMARY KEY,
          department_id INT,
          creation_date DATETIME,
          doc_content TEXT,
          embedding_vector VECTOR(100) AS (EMBEDDING(doc_content, 'quiver-local-100d')) STORED,
          VECTOR INDEX kb_vi(embedding_vector) distance=cosine,
          FULLTEXT INDEX kb_ft(doc_content)
        )`,
      },
    });
    expect(error).toBeUndefined();
    expect(response.status).toBe(200);
    expect(data?.results).toEqual([{ columns: [], rows: [], changes: 0, lastInsertId: null }]);
  });

  it('inserts documents with bound parameters; their vectors appear by themselves', async () => {
    const { data, error } = await client.POST('/v1/sql', {
      body: {
        sql: `INSERT INTO knowledge_base (department_id, creation_date, doc_content) VALUES ${DOCUMENTS.map(() => '(?, ?, ?)').join(', ')}`,
        params: DOCUMENTS.flat(),
      },
    });
    expect(error).toBeUndefined();
    expect(data?.results[0]).toMatchObject({ changes: DOCUMENTS.length, lastInsertId: DOCUMENTS.length });

    const dims = await client.POST('/v1/sql', { body: { sql: 'SELECT COUNT(*), MIN(VECTOR_DIM(embedding_vector)) FROM knowledge_base' } });
    expect(dims.data?.results[0].rows).toEqual([[DOCUMENTS.length, 100]]);
  });

  it('runs a hybrid query: full-text match, vector distance and relational filters in one statement', async () => {
    const { data, error } = await client.POST('/v1/sql', {
      body: {
        sql: `SELECT id, department_id, doc_content,
                MATCH (doc_content) AGAINST (:question) AS text_score,
                DISTANCE(embedding_vector, EMBEDDING(:question, 'quiver-local-100d'), 'COSINE') AS distance
              FROM knowledge_base
              WHERE department_id = :department AND creation_date > :since AND MATCH (doc_content) AGAINST (:question)
              ORDER BY distance ASC
              LIMIT 5`,
        params: { question: 'refund', department: 101, since: '2023-01-01' },
      },
    });
    expect(error).toBeUndefined();
    const [result] = data!.results;
    expect(result.columns).toEqual(['id', 'department_id', 'doc_content', 'text_score', 'distance']);
    const rows = result.rows as [number, number, string, number, number][];
    // Department 101 after 2023-01-01 holding the word: documents 1 and 3 (not 4, too old; not 5 and 6, department 102).
    expect(rows.map(([id]) => id).sort()).toEqual([1, 3]);
    for (const [, department, doc, textScore] of rows) {
      expect(department).toBe(101);
      expect(doc).toMatch(/refund/i);
      expect(textScore).toBeGreaterThan(0);
    }
    const distances = rows.map((row) => row[4]);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
  });

  it('sends the SQL itself as application/sql', async () => {
    const { data, error } = await client.POST('/v1/sql', {
      body: 'SELECT COUNT(*) AS n FROM knowledge_base WHERE department_id = 102;\nSHOW INDEX STATUS FROM knowledge_base;',
      headers: { 'content-type': 'application/sql' },
      bodySerializer: (sql) => sql as string,
    });
    expect(error).toBeUndefined();
    expect(data?.results[0].rows).toEqual([[2]]);
    const status = data!.results[1];
    const row = Object.fromEntries(status.columns.map((c, i): [string, SqlValue] => [c, status.rows[0][i]]));
    expect(row).toMatchObject({ index: 'kb_vi', table: 'knowledge_base', rows: DOCUMENTS.length });
  });

  it('asks /v1/chat with a filter: sources from department 101 only, answered offline by extraction', async () => {
    const { data, error, response } = await client.POST('/v1/chat', {
      body: {
        question: 'How long does a refund take?',
        table: 'knowledge_base',
        k: 3,
        where: 'department_id = :department AND creation_date > :since',
        params: { department: 101, since: '2023-01-01' },
      },
    });
    expect(error).toBeUndefined();
    expect(response.status).toBe(200);
    const answer = jsonAnswer(data);
    expect(answer.mode).toBe('extractive');
    expect(answer.model).toBeNull();
    expect(answer.retrieval).toMatchObject({ mode: 'hybrid', table: 'knowledge_base', textColumn: 'doc_content', vectorColumn: 'embedding_vector', fulltextIndex: 'kb_ft' });
    expect(answer.sources.length).toBeGreaterThan(0);
    for (const source of answer.sources) {
      expect(source.columns.department_id).toBe(101);
      expect(String(source.columns.creation_date) > '2023-01-01').toBe(true);
    }
    const citations = [...answer.answer.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
    expect(citations.length).toBeGreaterThan(0);
    for (const n of citations) expect(answer.sources.map((s) => s.citation)).toContain(n);
    expect(answer.extracts?.length).toBeGreaterThan(0);
  });

  it('streams /v1/chat as chat.completion.chunk events, sources first', async () => {
    const { data, error, response } = await client.POST('/v1/chat', {
      body: { question: 'How long does a refund take?', table: 'knowledge_base', k: 2, stream: true },
      parseAs: 'text',
    });
    expect(error).toBeUndefined();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseEventStream(data!);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as components['schemas']['ChatCompletionChunk']);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks[0].quiver?.sources).toHaveLength(2);
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toMatch(/\[\d\]/);
    expect(chunks.at(-1)?.choices[0].finish_reason).toBe('stop');
  });

  it('types the errors as problems with a code', async () => {
    const { data, error, response } = await client.POST('/v1/sql', { body: { sql: 'SELECT doc FROM knowledge_base' } });
    expect(data).toBeUndefined();
    expect(response.status).toBe(400);
    expect(error?.code).toBe('UNKNOWN_COLUMN');
    expect(error?.type).toBe('https://quiver.dev/errors/UNKNOWN_COLUMN');
  });

  it('is typed by the spec', () => {
    // Compile-time checks: `tsc --noEmit` fails if the generated types stop rejecting these.
    const typeChecks = () => {
      // @ts-expect-error a path the spec does not have
      void client.GET('/v1/tables');
      // @ts-expect-error /v1/sql takes POST only
      void client.GET('/v1/sql');
      // @ts-expect-error the JSON body requires `sql`
      void client.POST('/v1/sql', { body: { params: [] } });
      // @ts-expect-error /v1/chat requires `table`
      void client.POST('/v1/chat', { body: { question: 'q' } });
      // @ts-expect-error `retrieval` is one of hybrid, vector, text
      void client.POST('/v1/chat', { body: { question: 'q', table: 't', retrieval: 'bm25' } });
    };
    expect(typeof typeChecks).toBe('function');
  });
});
