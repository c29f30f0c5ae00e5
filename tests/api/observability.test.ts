/**
 * Observability with a real server (issue 16): /metrics parses as Prometheus text (read with a
 * parser library) and its counters and gauges move as requests run; /metrics needs a key of any
 * role when keys are configured; /ready answers 200 on a healthy server; and the request log is
 * JSON lines with a request id (echoed in Quiver-Request-Id), route, status, duration, statement
 * kinds and error codes, in which neither a key, nor a bound parameter, nor a row value ever
 * appears, and the SQL text only at debug level.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, loadConfig } from '../../src/api/index.ts';
import type { EngineStats, IndexStatus } from '../../src/sql/index.ts';
import { checkedApp, checkedFetch as fetch } from './contract/checked.ts';
import { killAllServers, startServer, type ServerProcess } from './server-process.ts';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-observability-'));
afterAll(async () => {
  await killAllServers();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

const READ_KEY = 'r'.repeat(20) + 'readkey-0123456789abcdef';
const ADMIN_KEY = 'a'.repeat(20) + 'adminkey-0123456789abcdef';
/** What a client might bind and store: neither may reach the log. */
const SECRET_PARAM = 'sk-live-PARAM-6f1d9a0c2b7e4f38';
const ROW_VALUE = 'row-value-SSN-078-05-1120';

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({
    dataDir: fs.mkdtempSync(path.join(tmpRoot, 'data-')),
    env: { QUIVER_API_KEYS: `dash:read:${READ_KEY},ops:admin:${ADMIN_KEY}`, QUIVER_READ_WORKERS: '2' },
  });
}, 30_000);

function sql(body: unknown, key = ADMIN_KEY, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/v1/sql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

type Families = ReturnType<typeof parsePrometheus>;

async function scrape(key = READ_KEY): Promise<Families> {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

/** The value of `name`'s sample whose labels include `labels`; 0 when there is none yet. */
function valueOf(families: Families, name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(sample?.value ?? 0);
}

/** The JSON request lines the server has logged so far. */
function requestLines(): Record<string, unknown>[] {
  return server
    .output()
    .stdout.split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === 'request');
}

describe('GET /metrics', () => {
  it('needs a key when keys are configured, and takes one of any role', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    await scrape(READ_KEY);
    await scrape(ADMIN_KEY);
  });

  it('counts requests by route and status, statements by kind and errors by code', async () => {
    const before = await scrape();
    expect((await sql({ sql: 'CREATE TABLE m (id INT PRIMARY KEY, v VECTOR(2), VECTOR INDEX mv (v))' })).status).toBe(200);
    expect((await sql({ sql: 'INSERT INTO m VALUES (1, ?), (2, ?); SELECT id FROM m', params: [[1, 0], [0, 1]] })).status).toBe(200);
    expect((await sql({ sql: 'SELECT missing FROM m' })).status).toBe(400);
    const after = await scrape();
    const sqlOk = { method: 'POST', route: '/v1/sql', status: '200' };
    expect(valueOf(after, 'quiver_http_requests_total', sqlOk) - valueOf(before, 'quiver_http_requests_total', sqlOk)).toBe(2);
    // The parser folds a labelled histogram's series into one (it keeps labels only for counters,
    // gauges and untyped), so the latency histogram is checked for its type and buckets only.
    const latency = after.find((f) => f.name === 'quiver_http_request_duration_seconds')!;
    expect(latency.type).toBe('HISTOGRAM');
    expect(Object.keys(latency.metrics[0].buckets!)).toContain('+Inf');
    for (const kind of ['createTable', 'insert', 'select']) {
      expect(valueOf(after, 'quiver_sql_statements_total', { kind }) - valueOf(before, 'quiver_sql_statements_total', { kind }), kind).toBe(1);
    }
    expect(valueOf(after, 'quiver_sql_errors_total', { code: 'UNKNOWN_COLUMN' }) - valueOf(before, 'quiver_sql_errors_total', { code: 'UNKNOWN_COLUMN' })).toBe(1);
    // The route's pattern, never the raw path: an unknown path is counted under the pattern that answered it.
    await fetch(`${server.url}/v1/no-such-thing-${Date.now()}`, { headers: { authorization: `Bearer ${READ_KEY}` } });
    const routes = (await scrape()).find((f) => f.name === 'quiver_http_requests_total')!.metrics.map((m) => m.labels!.route);
    expect(routes.some((r) => r.includes('no-such-thing'))).toBe(false);
  });

  it("shows an index's rows after inserts, the read workers and process memory", async () => {
    await sql({ sql: 'CREATE TABLE g (id INT PRIMARY KEY, v VECTOR(2), VECTOR INDEX gv (v))' });
    await sql({ sql: 'INSERT INTO g VALUES (1, ?), (2, ?), (3, ?)', params: [[1, 0], [0, 1], [1, 1]] });
    const families = await scrape();
    const index = { index: 'gv', table: 'g' };
    expect(valueOf(families, 'quiver_vector_index_rows', index)).toBe(3);
    expect(valueOf(families, 'quiver_vector_index_tail_rows', index)).toBe(3);
    expect(valueOf(families, 'quiver_vector_index_loading', index)).toBe(0);
    expect(valueOf(families, 'quiver_read_workers')).toBe(2);
    expect(valueOf(families, 'quiver_writer_requests')).toBe(0);
    expect(valueOf(families, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});

describe('GET /ready', () => {
  it('is 200 on a healthy server, with no key', async () => {
    const res = await fetch(`${server.url}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });

  it('is 503 NOT_READY naming an index still loading', async () => {
    const loading = { index: 'docs_vec', table: 'docs', state: 'loading' } as IndexStatus;
    const stats: EngineStats = { open: true, writerReady: true, writerRequests: 0, readWorkers: null, indexes: [loading] };
    const engine = { isOpen: true, stats: () => stats, execute: () => Promise.reject(new Error('not called')) };
    const app = checkedApp(createApp({ engine, config: loadConfig({ QUIVER_DATA_DIR: tmpRoot }) }));
    const res = await app.request('/ready');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: 'NOT_READY', detail: 'not ready: vector index(es) still loading: docs_vec' });
  });
});

describe('the request log', () => {
  it('is JSON lines with the request id, route, status, duration, kinds and error code, and nothing secret', async () => {
    await sql({ sql: 'CREATE TABLE secrets (id INT PRIMARY KEY, note TEXT)' });
    const inserted = await sql({ sql: 'INSERT INTO secrets VALUES (1, ?)', params: [ROW_VALUE] }, ADMIN_KEY, { 'x-request-id': 'client-req-42' });
    expect(inserted.headers.get('quiver-request-id')).toBe('client-req-42');
    const read = await sql({ sql: 'SELECT note FROM secrets WHERE note <> ?', params: [SECRET_PARAM] }, READ_KEY);
    expect(((await read.json()) as { results: { rows: unknown[][] }[] }).results[0].rows).toEqual([[ROW_VALUE]]);
    const generated = read.headers.get('quiver-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const refused = await sql({ sql: 'DROP TABLE secrets', params: [] }, READ_KEY, { 'x-request-id': 'bad id "quoted" {}' });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('quiver-request-id')).not.toContain('bad id');

    await expect.poll(() => requestLines().some((l) => l.requestId === refused.headers.get('quiver-request-id'))).toBe(true);
    const lines = requestLines();
    expect(lines.find((l) => l.requestId === 'client-req-42')).toMatchObject({ method: 'POST', route: '/v1/sql', status: 200, key: 'ops', kinds: ['insert'] });
    const readLine = lines.find((l) => l.requestId === generated)!;
    expect(readLine).toMatchObject({ route: '/v1/sql', status: 200, key: 'dash', kinds: ['select'] });
    expect(typeof readLine.durationMs).toBe('number');
    expect(readLine).not.toHaveProperty('sql');
    expect(lines.find((l) => l.requestId === refused.headers.get('quiver-request-id'))).toMatchObject({ status: 403, errorCode: 'FORBIDDEN' });

    const { stdout, stderr } = server.output();
    for (const secret of [READ_KEY, ADMIN_KEY, SECRET_PARAM, ROW_VALUE]) {
      expect(stdout, secret).not.toContain(secret);
      expect(stderr, secret).not.toContain(secret);
    }
  });

  it('holds the SQL text at debug level', async () => {
    const debug = await startServer({ dataDir: fs.mkdtempSync(path.join(tmpRoot, 'debug-')), env: { QUIVER_LOG_LEVEL: 'debug' } });
    const res = await fetch(`${debug.url}/v1/sql`, { method: 'POST', headers: { 'content-type': 'application/sql' }, body: 'SELECT 41 + 1 AS answer' });
    expect(res.status).toBe(200);
    await expect.poll(() => debug.output().stdout).toContain('"sql":"SELECT 41 + 1 AS answer"');
    expect(await debug.stop()).toEqual({ code: 0, signal: null });
  }, 30_000);
});
