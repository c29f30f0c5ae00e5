/**
 * The limits over HTTP, each answer checked against openapi.yaml: a request's `timeoutMs` and
 * the server's statement timeout (408), result limits (400 LIMIT_EXCEEDED), and the bound on
 * requests in progress (503 OVERLOADED with Retry-After).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, loadConfig } from '../../src/api/index.ts';
import { Engine } from '../../src/sql/index.ts';
import { checkedApp } from './contract/checked.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-api-limits-'));
const env = { QUIVER_DATA_DIR: dataDir, QUIVER_MAX_CONCURRENT_REQUESTS: '2', QUIVER_MAX_ROWS: '5', QUIVER_STATEMENT_TIMEOUT_MS: '5000' };
const config = loadConfig(env);
const engine = Engine.open({ dataDir, readWorkers: 2, limits: config.limits });
const app = checkedApp(createApp({ engine, config }));
afterAll(async () => {
  await engine.shutdown();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(VECTOR_DIM('[1,2]') + x) FROM c";

function sql(body: Record<string, unknown>): Promise<Response> {
  return app.request('/v1/sql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('limits over HTTP', () => {
  it('stops a read past the request timeout with 408 STATEMENT_TIMEOUT, and serves the next', async () => {
    const res = await sql({ sql: ENDLESS, timeoutMs: 200 });
    expect(res.status).toBe(408);
    expect(await res.json()).toMatchObject({ code: 'STATEMENT_TIMEOUT', detail: expect.stringMatching(/200 ms/) });
    expect((await sql({ sql: 'SELECT 1 AS one' })).status).toBe(200);
  });

  it('refuses a result past QUIVER_MAX_ROWS with 400 LIMIT_EXCEEDED, naming the setting', async () => {
    const res = await sql({ sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 6) SELECT x FROM c' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'LIMIT_EXCEEDED', statementIndex: 0, detail: expect.stringMatching(/QUIVER_MAX_ROWS/) });
  });

  it('answers 503 OVERLOADED with Retry-After past QUIVER_MAX_CONCURRENT_REQUESTS, and serves again after', async () => {
    const busy = [sql({ sql: ENDLESS, timeoutMs: 1500 }), sql({ sql: ENDLESS, timeoutMs: 1500 })];
    await new Promise((r) => setTimeout(r, 100));
    const refused = await sql({ sql: 'SELECT 1' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ code: 'OVERLOADED', detail: expect.stringMatching(/QUIVER_MAX_CONCURRENT_REQUESTS/) });
    for (const res of await Promise.all(busy)) expect(res.status).toBe(408);
    expect((await sql({ sql: 'SELECT 1' })).status).toBe(200);
  });
});
