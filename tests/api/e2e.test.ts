/**
 * The real server as a child process on a real port, spoken to with `fetch`: SQL round trips,
 * errors over the wire, the body limit on a socket, startup failures, and a restart that must
 * keep every committed row.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAIServer } from '../embed/fake-openai-server.ts';
// Every answer over the wire is checked against openapi.yaml before the test sees it.
import { checkedFetch as fetch } from './contract/checked.ts';
import { killAllServers, runServerToExit, startServer } from './server-process.ts';
import type { ServerProcess } from './server-process.ts';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-api-e2e-'));
afterAll(async () => {
  await killAllServers();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

function freshDir(): string {
  return fs.mkdtempSync(path.join(tmpRoot, 'data-'));
}

async function sql(server: ServerProcess, body: string, contentType = 'application/sql'): Promise<Response> {
  return fetch(`${server.url}/v1/sql`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

async function sqlJson(server: ServerProcess, statement: string, params?: unknown): Promise<Response> {
  return sql(server, JSON.stringify(params === undefined ? { sql: statement } : { sql: statement, params }), 'application/json');
}

/** The `results` of a 200 answer. */
async function resultsOf(res: Response): Promise<unknown[]> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = (await res.json()) as { results: unknown[]; timeMs: unknown };
  expect(typeof body.timeMs).toBe('number');
  return body.results;
}

describe('a running server', () => {
  let server: ServerProcess;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = freshDir();
    server = await startServer({ dataDir });
  });
  afterAll(() => server?.stop());

  it('prints where it listens and where its data lives', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(server.url).port)).toBeGreaterThan(0);
    expect(server.dataDir).toBe(dataDir);
    expect(fs.existsSync(path.join(dataDir, 'quiver.db'))).toBe(true);
  });

  it('is healthy', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('creates a table, inserts with params and selects', async () => {
    expect(await resultsOf(await sqlJson(server, 'CREATE TABLE docs(id INTEGER PRIMARY KEY, title TEXT, score REAL)'))).toHaveLength(1);
    expect(await resultsOf(await sqlJson(server, 'INSERT INTO docs(title, score) VALUES (?, ?)', ['first', 0.5]))).toEqual([
      { columns: [], rows: [], changes: 1, lastInsertId: 1 },
    ]);
    expect(
      await resultsOf(await sqlJson(server, 'INSERT INTO docs(title, score) VALUES (:title, :score)', { title: 'second', score: 2 })),
    ).toEqual([{ columns: [], rows: [], changes: 1, lastInsertId: 2 }]);
    expect(await resultsOf(await sqlJson(server, 'SELECT id, title, score FROM docs ORDER BY id'))).toEqual([
      { columns: ['id', 'title', 'score'], rows: [[1, 'first', 0.5], [2, 'second', 2]], changes: 0, lastInsertId: null },
    ]);
  });

  it('runs a schema file sent as the body, as curl --data-binary @schema.sql does', async () => {
    const schema = path.join(tmpRoot, 'schema.sql');
    fs.writeFileSync(schema, "CREATE TABLE tags(name TEXT);\nINSERT INTO tags VALUES ('a');\nINSERT INTO tags VALUES ('b');\n");
    const results = await resultsOf(await sql(server, fs.readFileSync(schema, 'utf8')));
    expect(results).toHaveLength(3);
    expect(await resultsOf(await sql(server, 'SELECT name FROM tags ORDER BY name', 'text/plain'))).toEqual([
      { columns: ['name'], rows: [['a'], ['b']], changes: 0, lastInsertId: null },
    ]);
  });

  it('answers errors as problem+json over the wire', async () => {
    const unsupported = await sql(server, 'SELECT 1', 'application/x-www-form-urlencoded');
    expect(unsupported.status).toBe(415);
    expect(unsupported.headers.get('content-type')).toBe('application/problem+json');
    expect(await unsupported.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', status: 415 });

    const wrongMethod = await fetch(`${server.url}/v1/sql`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(await wrongMethod.json()).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });

    const missing = await fetch(`${server.url}/v1/tables`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      type: 'https://quiver.dev/errors/NOT_FOUND',
      title: 'Not found',
      status: 404,
      code: 'NOT_FOUND',
      detail: 'no resource at /v1/tables; the API is described at /openapi.yaml',
    });

    const badJson = await sql(server, '{"sql": ', 'application/json');
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ code: 'INVALID_JSON' });
  });

  it('serves openapi.yaml', async () => {
    const res = await fetch(`${server.url}/openapi.yaml`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/yaml');
    expect(await res.text()).toBe(fs.readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8'));
  });
});

describe('the body limit on a real socket', () => {
  const LIMIT = 1024;
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ dataDir: freshDir(), env: { QUIVER_MAX_BODY_BYTES: String(LIMIT) } });
  });
  afterAll(() => server?.stop());
  const tooLarge = {
    type: 'https://quiver.dev/errors/PAYLOAD_TOO_LARGE',
    title: 'Request body too large',
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    detail: `request body is larger than this server's limit of ${LIMIT} bytes; send the SQL in smaller requests`,
  };

  it('refuses a body with a Content-Length over the limit', async () => {
    const res = await sql(server, `SELECT 1 AS n ${' '.repeat(4 * LIMIT)}`);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual(tooLarge);
  });

  it('refuses a chunked body that grows past the limit', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(256));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 8 * LIMIT) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${server.url}/v1/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/sql' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual(tooLarge);
  });

  it('still serves requests under the limit', async () => {
    expect(await resultsOf(await sql(server, 'SELECT 1 AS n'))).toEqual([
      { columns: ['n'], rows: [[1]], changes: 0, lastInsertId: null },
    ]);
  });
});

describe('restart', () => {
  it('keeps every committed row across SIGTERM and a new start on the same data dir', async () => {
    const dataDir = freshDir();
    const first = await startServer({ dataDir });
    await resultsOf(await sqlJson(first, 'CREATE TABLE t(a INTEGER, b TEXT)'));
    for (let i = 1; i <= 20; i++) {
      await resultsOf(await sqlJson(first, 'INSERT INTO t VALUES (?, ?)', [i, `row ${i}`]));
    }
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(first.output().stdout).toContain('SIGTERM received, shutting down');

    const second = await startServer({ dataDir });
    const [selected] = (await resultsOf(await sqlJson(second, 'SELECT a, b FROM t ORDER BY a'))) as { rows: unknown[][] }[];
    expect(selected.rows).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, `row ${i + 1}`]));
    expect(await second.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(second.output().stderr).toBe('');
  });

  it('stops listening once stopped', async () => {
    const server = await startServer({ dataDir: freshDir() });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });
});

describe('startup failures', () => {
  it('exits 1 naming a bad variable', async () => {
    const exit = await runServerToExit({ PORT: 'eighty', QUIVER_DATA_DIR: freshDir() });
    expect(exit.code).toBe(1);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toBe('quiver: invalid configuration:\n  PORT="eighty": expected a whole number from 0 to 65535\n');
  });

  it('exits 1 when the port is taken', async () => {
    const holder = await startServer({ dataDir: freshDir() });
    const port = new URL(holder.url).port;
    const exit = await runServerToExit({ HOST: '127.0.0.1', PORT: port, QUIVER_DATA_DIR: freshDir() });
    expect(exit.code).toBe(1);
    expect(exit.stderr).toBe(`quiver: cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`);
    await holder.stop();
  });
});

describe('EMBEDDING() through the running server', () => {
  it('runs seed 001 as written with text-embedding-v4 served by a local OpenAI-compatible server', async () => {
    const provider = await FakeOpenAIServer.start({ dims: 1024, apiKey: 'test-key' });
    try {
      const dataDir = freshDir();
      const configPath = path.join(dataDir, 'models.json');
      fs.writeFileSync(
        configPath,
        JSON.stringify({ models: { 'text-embedding-v4': { provider: 'openai', baseURL: provider.baseURL, apiKeyEnv: 'FAKE_EMBEDDING_KEY', dims: 1024, canShorten: true, maxBatch: 10 } } }),
      );
      const server = await startServer({ dataDir, env: { QUIVER_EMBEDDING_CONFIG: configPath, FAKE_EMBEDDING_KEY: 'test-key' } });
      const seed = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/seeds/seed-001.sql'), 'utf8');
      const results = (await resultsOf(await sql(server, seed))) as { rows: unknown[][] }[];
      expect(results).toHaveLength(3);
      expect(String(results[2].rows[0][0])).toMatch(/^Please refer to the following: .+What is HashMatch\?$/);
      expect(provider.inputs).toBe(4);
      const models = (await resultsOf(await sqlJson(server, 'SHOW EMBEDDING MODELS'))) as { rows: unknown[][] }[];
      expect(JSON.stringify(models)).not.toContain('test-key');
      await server.stop('SIGTERM');
    } finally {
      await provider.close();
    }
  });
});
