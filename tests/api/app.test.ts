/**
 * The app through `app.request()` (no socket), against a real Engine on a temp dir, plus
 * stand-in engines where a test needs a value or a failure no SQL produces on demand (a Buffer
 * view, Infinity, a QuiverError at a known position, a crash) or must see the exact arguments
 * the engine was called with. Every answer is checked against openapi.yaml (`checkedApp`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApp, loadConfig } from '../../src/api/index.ts';
import type { SqlEngine } from '../../src/api/index.ts';
import { Engine } from '../../src/sql/index.ts';
import { ERROR_TITLES, QuiverError } from '../../src/core/index.ts';
import type { EngineStats, ExecuteResult, Params } from '../../src/sql/index.ts';
import type { ErrorCode } from '../../src/core/index.ts';
import { checkedApp } from './contract/checked.ts';
import { HTTP_STATUS } from '../../src/api/problem.ts';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-api-app-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

const PROBLEM_KEYS = ['type', 'title', 'status', 'code', 'detail', 'line', 'column', 'statementIndex'];

/** The app, with every answer checked against openapi.yaml before the test sees it. */
function appWith(engine: SqlEngine, env: Record<string, string> = {}) {
  return checkedApp(createApp({ engine, config: loadConfig({ QUIVER_DATA_DIR: tmpRoot, ...env }) }));
}

type App = ReturnType<typeof appWith>;

function post(app: App, body: BodyInit, contentType?: string, headers: Record<string, string> = {}) {
  return app.request('/v1/sql', {
    method: 'POST',
    headers: contentType === undefined ? headers : { 'content-type': contentType, ...headers },
    body,
  });
}

function postJson(app: App, payload: unknown) {
  return post(app, JSON.stringify(payload), 'application/json');
}

/** Checks status, content-type and the problem+json shape; returns the body for more checks. */
async function expectProblem(res: Response, code: ErrorCode): Promise<Record<string, unknown>> {
  const status = HTTP_STATUS[code];
  const title = ERROR_TITLES[code];
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ type: `https://quiver.dev/errors/${code}`, title, status, code });
  expect(res.status).toBe(status);
  expect(typeof body.detail).toBe('string');
  expect((body.detail as string).length).toBeGreaterThan(0);
  for (const key of Object.keys(body)) expect(PROBLEM_KEYS).toContain(key);
  return body;
}

/** The answer with `timeMs` checked and dropped, so the rest can be compared exactly. */
async function results(res: Response): Promise<ExecuteResult['results']> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = (await res.json()) as { results: ExecuteResult['results']; timeMs: number };
  expect(Object.keys(body).sort()).toEqual(['results', 'timeMs']);
  expect(typeof body.timeMs).toBe('number');
  expect(body.timeMs).toBeGreaterThanOrEqual(0);
  return body.results;
}

/** What a stand-in engine reports to /ready and /metrics: open, started, no indexes. */
const IDLE_STATS: EngineStats = { open: true, writerReady: true, writerRequests: 0, readWorkers: null, indexes: [] };

/** A stand-in engine that answers `execute` with `answer` and records its calls. */
function fakeEngine(answer: () => ExecuteResult): SqlEngine & { calls: [string, Params | undefined][] } {
  const calls: [string, Params | undefined][] = [];
  return {
    calls,
    isOpen: true,
    stats: () => IDLE_STATS,
    async execute(sql: string, params?: Params) {
      calls.push([sql, params]);
      return answer();
    },
  };
}

function throwingEngine(error: unknown): SqlEngine {
  return {
    isOpen: true,
    stats: () => IDLE_STATS,
    async execute() {
      throw error;
    },
  };
}

let engine: Engine;
let app: App;
beforeEach(() => {
  engine = Engine.open({ dataDir: fs.mkdtempSync(path.join(tmpRoot, 'db-')) });
  app = appWith(engine);
});
afterEach(() => engine.close());

describe('POST /v1/sql with a JSON body', () => {
  it('runs statements and answers columns, rows, changes and lastInsertId', async () => {
    const [created] = await results(await postJson(app, { sql: 'CREATE TABLE t(a INTEGER, b TEXT)' }));
    expect(created).toMatchObject({ columns: [], rows: [], changes: 0 });

    expect(await results(await postJson(app, { sql: "INSERT INTO t VALUES (1, 'x')" }))).toEqual([
      { columns: [], rows: [], changes: 1, lastInsertId: 1 },
    ]);
    expect(await results(await postJson(app, { sql: 'SELECT a, b FROM t' }))).toEqual([
      { columns: ['a', 'b'], rows: [[1, 'x']], changes: 0, lastInsertId: null },
    ]);
  });

  it('answers one result per statement, in order', async () => {
    const res = await postJson(app, {
      sql: "CREATE TABLE t(a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'); INSERT INTO t VALUES (2, 'y'); SELECT a, b FROM t ORDER BY a",
    });
    const all = await results(res);
    expect(all).toHaveLength(4);
    expect(all.slice(1)).toEqual([
      { columns: [], rows: [], changes: 1, lastInsertId: 1 },
      { columns: [], rows: [], changes: 1, lastInsertId: 2 },
      { columns: ['a', 'b'], rows: [[1, 'x'], [2, 'y']], changes: 0, lastInsertId: null },
    ]);
  });

  it('binds positional params from an array', async () => {
    await results(await postJson(app, { sql: 'CREATE TABLE t(a INTEGER, b TEXT)' }));
    expect(await results(await postJson(app, { sql: 'INSERT INTO t VALUES (?, ?)', params: [7, 'seven'] }))).toEqual([
      { columns: [], rows: [], changes: 1, lastInsertId: 1 },
    ]);
    expect(await results(await postJson(app, { sql: 'SELECT b, a FROM t WHERE a = ?', params: [7] }))).toEqual([
      { columns: ['b', 'a'], rows: [['seven', 7]], changes: 0, lastInsertId: null },
    ]);
  });

  it('binds named params from an object', async () => {
    await results(await postJson(app, { sql: 'CREATE TABLE t(a INTEGER, b TEXT)' }));
    await results(await postJson(app, { sql: 'INSERT INTO t VALUES (:a, :b)', params: { a: 3, b: 'three' } }));
    expect(await results(await postJson(app, { sql: 'SELECT a, b FROM t WHERE b = :b', params: { b: 'three' } }))).toEqual([
      { columns: ['a', 'b'], rows: [[3, 'three']], changes: 0, lastInsertId: null },
    ]);
  });

  it('accepts a charset parameter and any letter case in the media type', async () => {
    const res = await post(app, JSON.stringify({ sql: "SELECT 'ok' AS v" }), 'Application/JSON; charset="UTF-8"');
    expect(await results(res)).toEqual([{ columns: ['v'], rows: [['ok']], changes: 0, lastInsertId: null }]);
  });

  it('passes the params to the engine unchanged, and [] when there are none', async () => {
    const fake = fakeEngine(() => ({ results: [] }));
    const fakeApp = appWith(fake);
    await results(await postJson(fakeApp, { sql: 'SELECT ?', params: [1, 'a', null, [0.5, 1.5], { k: true }] }));
    await results(await postJson(fakeApp, { sql: 'SELECT :x', params: { x: 'y' } }));
    await results(await postJson(fakeApp, { sql: 'SELECT 1' }));
    expect(fake.calls).toEqual([
      ['SELECT ?', [1, 'a', null, [0.5, 1.5], { k: true }]],
      ['SELECT :x', { x: 'y' }],
      ['SELECT 1', []],
    ]);
  });
});

describe('POST /v1/sql with the SQL as the body', () => {
  const script = [
    'CREATE TABLE t(a INTEGER, b TEXT);',
    "INSERT INTO t VALUES (1, 'héllo ✓');",
    'SELECT a, b FROM t;',
    '',
  ].join('\n');

  for (const contentType of ['application/sql', 'text/plain', 'text/plain; charset=utf-8', 'application/sql;charset=UTF8']) {
    it(`runs a script sent as ${contentType}`, async () => {
      const all = await results(await post(app, script, contentType));
      expect(all).toHaveLength(3);
      expect(all[2]).toEqual({ columns: ['a', 'b'], rows: [[1, 'héllo ✓']], changes: 0, lastInsertId: null });
    });
  }

  it('ignores a UTF-8 byte-order mark, as editors on Windows write one', async () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("SELECT 'bom' AS v")]);
    expect(await results(await post(app, body, 'application/sql'))).toEqual([
      { columns: ['v'], rows: [['bom']], changes: 0, lastInsertId: null },
    ]);
  });

  it('binds no params', async () => {
    const fake = fakeEngine(() => ({ results: [] }));
    await results(await post(appWith(fake), 'SELECT 1', 'application/sql'));
    expect(fake.calls).toEqual([['SELECT 1', []]]);
  });
});

describe('POST /v1/sql answer encoding', () => {
  it('writes vectors as numbers, blobs as base64 and bigints exactly', async () => {
    const blob = Buffer.from([0, 1, 2, 250, 251, 252, 253]);
    const fake = fakeEngine(() => ({
      results: [
        {
          columns: ['id', 'vec', 'raw', 'view', 'f', 'inf', 's', 'n'],
          rows: [
            [
              9007199254740993n,
              new Float32Array([0.1, 0.6, -1.5]),
              new Uint8Array([1, 2, 3]),
              blob.subarray(3, 6),
              2.5,
              Infinity,
              'a"b',
              null,
            ],
          ],
          changes: 0,
          lastInsertId: null,
        },
        { columns: [], rows: [], changes: 1, lastInsertId: 9223372036854775807n },
      ],
    }));
    const res = await postJson(appWith(fake), { sql: 'SELECT 1' });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.replace(/"timeMs":[0-9.e+-]+/, '"timeMs":0')).toBe(
      '{"results":[' +
        '{"columns":["id","vec","raw","view","f","inf","s","n"],' +
        '"rows":[[9007199254740993,[0.1,0.6,-1.5],{"$base64":"AQID"},{"$base64":"+vv8"},2.5,null,"a\\"b",null]],' +
        '"changes":0,"lastInsertId":null},' +
        '{"columns":[],"rows":[],"changes":1,"lastInsertId":9223372036854775807}' +
        '],"timeMs":0}',
    );
  });
});

describe('POST /v1/sql through the SQL engine', () => {
  it('answers a SQL mistake with a 4xx carrying its position, not a 500', async () => {
    const body = await expectProblem(await postJson(app, { sql: 'SELECT 1;\n  SELEC 2' }), 'SYNTAX_ERROR');
    expect(body).toMatchObject({ status: 400, line: 2, column: 3 });
  });

  it('returns 64-bit integers exactly', async () => {
    const res = await postJson(app, { sql: 'SELECT 9223372036854775807 AS big, -9007199254740993 AS small' });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/"rows":\[\[9223372036854775807,-9007199254740993\]\]/);
  });

  it('returns a vector as an array of numbers', async () => {
    expect(await results(await postJson(app, { sql: "SELECT VEC_FROMTEXT('[0.1, 0.6, -1.5]') AS v" }))).toEqual([
      { columns: ['v'], rows: [[[0.1, 0.6, -1.5]]], changes: 0, lastInsertId: null },
    ]);
  });
});

describe('POST /v1/sql parameter values: bound exactly or refused', () => {
  /** The raw answer text: JSON.parse would round the integers under test. */
  async function answerText(res: Response): Promise<string> {
    const text = await res.text();
    expect(res.status, text).toBe(200);
    return text;
  }

  it('binds integers beyond 2^53 exactly as SQLite INTEGERs, positional and named', async () => {
    await results(await postJson(app, { sql: 'CREATE TABLE t(a INTEGER)' }));
    const insert = '{"sql": "INSERT INTO t VALUES (?), (?), (?), (?)", "params": [9007199254740993, 9007199254740992, -9223372036854775808, 9223372036854775807]}';
    expect(await answerText(await post(app, insert, 'application/json'))).toMatch(/"changes":4/);
    const select = '{"sql": "SELECT a, typeof(a) FROM t WHERE a = :x", "params": {"x": 9007199254740993}}';
    expect(await answerText(await post(app, select, 'application/json'))).toMatch(/"rows":\[\[9007199254740993,"integer"\]\]/);
    const all = await answerText(await post(app, '{"sql": "SELECT a FROM t ORDER BY a"}', 'application/json'));
    expect(all).toMatch(/"rows":\[\[-9223372036854775808\],\[9007199254740992\],\[9007199254740993\],\[9223372036854775807\]\]/);
  });

  it('keeps numbers written with a fraction or an exponent as doubles', async () => {
    const text = await answerText(await post(app, '{"sql": "SELECT typeof(?), typeof(?), typeof(?)", "params": [9007199254740993.0, 1e20, 2.5]}', 'application/json'));
    expect(text).toMatch(/"rows":\[\["real","real","real"\]\]/);
  });

  it('hands the engine an integer beyond 2^53 as the bigint the body spells, in vectors too', async () => {
    const fake = fakeEngine(() => ({ results: [] }));
    await results(await post(appWith(fake), '{"sql": "SELECT ?", "params": [9007199254740993, 1.5, [12345678901234567890, 0.5]]}', 'application/json'));
    expect(fake.calls).toEqual([['SELECT ?', [9007199254740993n, 1.5, [12345678901234567890n, 0.5]]]]);
    // A vector's elements are float32s: a huge integer element is one like any other.
    const text = await answerText(await post(app, '{"sql": "SELECT length(?)", "params": [[12345678901234567890, 0.5]]}', 'application/json'));
    expect(text).toMatch(/"rows":\[\[8\]\]/);
  });

  it('400 PARAMETER_ERROR for an integer outside SQLite\'s 64-bit range, never echoing it', async () => {
    for (const [body, label] of [
      ['{"sql": "SELECT ?", "params": [9223372036854775808]}', '?1'],
      ['{"sql": "SELECT ?, ?", "params": [1, -9223372036854775809]}', '?2'],
      ['{"sql": "SELECT :big", "params": {"big": 123456789012345678901234567890}}', ':big'],
    ]) {
      const problem = await expectProblem(await post(app, body, 'application/json'), 'PARAMETER_ERROR');
      expect(problem.detail).toContain(`parameter ${label} must be an integer from -2^63 to 2^63-1`);
      expect(problem.detail).not.toMatch(/922337203685477580[89]|1234567890123/);
    }
  });

  it('binds base64 in the standard or URL-safe alphabet, padded or not', async () => {
    for (const text of ['+/8=', '+/8', '-_8=', '-_8']) {
      expect(await results(await postJson(app, { sql: 'SELECT hex(?) AS h', params: [{ $base64: text }] }))).toEqual([
        { columns: ['h'], rows: [['FBFF']], changes: 0, lastInsertId: null },
      ]);
    }
    expect(await results(await postJson(app, { sql: 'SELECT typeof(:b), length(:b)', params: { b: { $base64: '' } } }))).toEqual([
      { columns: ['typeof(:b)', 'length(:b)'], rows: [['blob', 0]], changes: 0, lastInsertId: null },
    ]);
  });

  it('400 PARAMETER_ERROR naming the parameter for base64 that does not decode losslessly', async () => {
    // Stray characters, blanks, impossible lengths, wrong padding, bits after the last byte, mixed alphabets.
    for (const text of ['!!!', 'AQ ID', 'AQ\nID', 'A', 'AQ=', 'AQ===', 'AQID=', '====', 'AR==', '+_8=']) {
      const problem = await expectProblem(await postJson(app, { sql: 'SELECT 1, :b', params: { b: { $base64: text } } }), 'PARAMETER_ERROR');
      expect(problem.detail).toMatch(/^parameter :b is \{"\$base64": \.\.\.\}, so its text must be base64/);
    }
  });
});

describe('POST /v1/sql writes with RETURNING and DEFAULT', () => {
  it('answers changes and lastInsertId for INSERT, UPDATE and DELETE with RETURNING', async () => {
    await results(await postJson(app, { sql: 'CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT)' }));
    expect(await results(await postJson(app, { sql: "INSERT INTO t (a) VALUES ('x'), ('y') RETURNING id" }))).toEqual([
      { columns: ['id'], rows: [[1], [2]], changes: 2, lastInsertId: 2 },
    ]);
    expect(await results(await postJson(app, { sql: "UPDATE t SET a = 'z' RETURNING id; DELETE FROM t WHERE id = 1 RETURNING a" }))).toEqual([
      { columns: ['id'], rows: [[1], [2]], changes: 2, lastInsertId: null },
      { columns: ['a'], rows: [['z']], changes: 1, lastInsertId: null },
    ]);
    expect(await results(await postJson(app, { sql: 'DELETE FROM t WHERE id = 99 RETURNING a' }))).toEqual([
      { columns: ['a'], rows: [], changes: 0, lastInsertId: null },
    ]);
  });

  it('binds ? parameters around DEFAULT values, as ORMs send them', async () => {
    await results(await postJson(app, { sql: "CREATE TABLE t(id SERIAL PRIMARY KEY, a TEXT DEFAULT 'none', b INT)" }));
    expect(await results(await postJson(app, { sql: 'INSERT INTO t (id, a, b) VALUES (DEFAULT, ?, ?), (DEFAULT, DEFAULT, ?)', params: ['x', 1, 2] }))).toEqual([
      { columns: [], rows: [], changes: 2, lastInsertId: 2 },
    ]);
    expect(await results(await postJson(app, { sql: 'SELECT id, a, b FROM t ORDER BY id' }))).toEqual([
      { columns: ['id', 'a', 'b'], rows: [[1, 'x', 1], [2, 'none', 2]], changes: 0, lastInsertId: null },
    ]);
  });
});

describe('POST /v1/sql request errors', () => {
  it('415 without a content-type, naming the accepted types', async () => {
    const body = await expectProblem(await post(app, new TextEncoder().encode('SELECT 1')), 'UNSUPPORTED_MEDIA_TYPE');
    expect(body.detail).toMatch(/no content-type/);
    expect(body.detail).toMatch(/application\/json.*application\/sql.*text\/plain/);
  });

  it('415 for a form body, which is what curl --data-binary sends by default', async () => {
    const body = await expectProblem(await post(app, 'SELECT 1', 'application/x-www-form-urlencoded'), 'UNSUPPORTED_MEDIA_TYPE');
    expect(body.detail).toBe(
      'content-type application/x-www-form-urlencoded is not accepted; send application/json ({"sql": "...", "params": [...]}), or the SQL itself as application/sql or text/plain',
    );
  });

  it('415 for a charset other than UTF-8', async () => {
    const body = await expectProblem(await post(app, 'SELECT 1', 'text/plain; charset=iso-8859-1'), 'UNSUPPORTED_MEDIA_TYPE');
    expect(body.detail).toBe('charset iso-8859-1 is not supported; send UTF-8 text');
  });

  it('400 INVALID_JSON with the position, never quoting the body', async () => {
    const res = await post(app, '{"sql": "SELECT ?",\n "params": ["hunter2" "x"]}', 'application/json');
    const body = await expectProblem(res, 'INVALID_JSON');
    expect(body).toEqual({
      type: 'https://quiver.dev/errors/INVALID_JSON',
      title: 'Invalid JSON body',
      status: 400,
      code: 'INVALID_JSON',
      detail: 'the request body is not valid JSON (line 2, column 23)',
      line: 2,
      column: 23,
    });
  });

  it('400 INVALID_JSON for a truncated body, without echoing its params', async () => {
    const body = await expectProblem(await post(app, '{"sql": "SELECT ?", "params": ["hunter2"', 'application/json'), 'INVALID_JSON');
    expect(JSON.stringify(body)).not.toContain('hunter2');
  });

  it('400 INVALID_JSON for an empty JSON body', async () => {
    const body = await expectProblem(await post(app, '', 'application/json'), 'INVALID_JSON');
    expect(body.detail).toBe('the request body is empty; send a JSON object such as {"sql": "SELECT 1"}');
  });

  const badJson: [string, unknown, string][] = [
    ['not an object', ['SELECT 1'], 'the body must be a JSON object such as {"sql": "SELECT 1"}; got an array'],
    ['null', null, 'the body must be a JSON object such as {"sql": "SELECT 1"}; got null'],
    ['missing sql', { params: [] }, 'missing field "sql"; send {"sql": "SELECT 1"}'],
    ['sql not a string', { sql: 42 }, 'field "sql" must be a string; got a number'],
    ['sql an object', { sql: { text: 'SELECT 1' } }, 'field "sql" must be a string; got an object'],
    ['sql empty', { sql: '' }, 'field "sql" is empty; send at least one SQL statement'],
    ['sql blank', { sql: ' \n\t ' }, 'field "sql" is empty; send at least one SQL statement'],
    [
      'params a string',
      { sql: 'SELECT ?', params: 'secret-value' },
      'field "params" must be an array (for ? placeholders) or an object (for :name placeholders); got a string',
    ],
    [
      'params null',
      { sql: 'SELECT 1', params: null },
      'field "params" must be an array (for ? placeholders) or an object (for :name placeholders); got null',
    ],
    [
      'params a number',
      { sql: 'SELECT ?', params: 5 },
      'field "params" must be an array (for ? placeholders) or an object (for :name placeholders); got a number',
    ],
    ['a misspelt field', { sql: 'SELECT ?', parmas: [1] }, 'unknown field "parmas"; the body takes "sql" and, optionally, "params" and "timeoutMs"'],
    ['a timeout that is not a whole number', { sql: 'SELECT 1', timeoutMs: 1.5 }, 'field "timeoutMs" must be a whole number of milliseconds, at least 1; got a number'],
    ['a timeout of zero', { sql: 'SELECT 1', timeoutMs: 0 }, 'field "timeoutMs" must be a whole number of milliseconds, at least 1; got a number'],
  ];
  for (const [name, payload, detail] of badJson) {
    it(`400 BAD_REQUEST: ${name}`, async () => {
      const body = await expectProblem(await postJson(app, payload), 'BAD_REQUEST');
      expect(body.detail).toBe(detail);
    });
  }

  it('400 BAD_REQUEST for a blank raw SQL body', async () => {
    const body = await expectProblem(await post(app, '  \n ', 'application/sql'), 'BAD_REQUEST');
    expect(body.detail).toBe('the request body is empty; send at least one SQL statement');
  });

  it('400 BAD_REQUEST for a body that is not UTF-8, in either form', async () => {
    const latin1 = Buffer.from("SELECT 'caf\xe9'", 'latin1');
    for (const contentType of ['application/sql', 'application/json']) {
      const body = await expectProblem(await post(app, latin1, contentType), 'BAD_REQUEST');
      expect(body.detail).toBe('request body is not valid UTF-8; send the SQL as UTF-8 text');
    }
  });
});

describe('POST /v1/sql body size limit', () => {
  const LIMIT = 1024;
  let small: App;
  beforeEach(() => {
    small = appWith(engine, { QUIVER_MAX_BODY_BYTES: String(LIMIT) });
  });
  const limitDetail = `request body is larger than this server's limit of ${LIMIT} bytes; send the SQL in smaller requests`;

  it('accepts a body of exactly the limit and refuses one byte more', async () => {
    const exact = 'SELECT 1 AS n' + ' '.repeat(LIMIT - 'SELECT 1 AS n'.length);
    expect(Buffer.byteLength(exact)).toBe(LIMIT);
    expect(await results(await post(small, exact, 'application/sql'))).toEqual([
      { columns: ['n'], rows: [[1]], changes: 0, lastInsertId: null },
    ]);
    const body = await expectProblem(await post(small, exact + ' ', 'application/sql'), 'PAYLOAD_TOO_LARGE');
    expect(body.detail).toBe(limitDetail);
  });

  it('refuses from Content-Length alone, without reading the body', async () => {
    let pulls = 0;
    // A body that never ends: reading it at all would hang this test.
    const neverEnds = new ReadableStream<Uint8Array>({
      pull() {
        pulls++;
        return new Promise(() => undefined);
      },
    });
    const res = await small.request('/v1/sql', {
      method: 'POST',
      headers: { 'content-type': 'application/sql', 'content-length': String(LIMIT + 1) },
      body: neverEnds,
      duplex: 'half',
    } as RequestInit);
    const body = await expectProblem(res, 'PAYLOAD_TOO_LARGE');
    expect(body.detail).toBe(limitDetail);
    expect(pulls).toBeLessThanOrEqual(1);
  });

  it('cuts off a chunked body at the limit and cancels the rest', async () => {
    let sent = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 100;
        controller.enqueue(new TextEncoder().encode('-- padding padding padding '.padEnd(100, '-')));
      },
      cancel() {
        cancelled = true;
      },
    });
    const res = await small.request('/v1/sql', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: endless,
      duplex: 'half',
    } as RequestInit);
    const body = await expectProblem(res, 'PAYLOAD_TOO_LARGE');
    expect(body.detail).toBe(limitDetail);
    expect(cancelled).toBe(true);
    expect(sent).toBeLessThan(LIMIT + 500);
  });

  it('has a default limit of 16 MiB', async () => {
    const res = await app.request('/v1/sql', {
      method: 'POST',
      headers: { 'content-type': 'application/sql', 'content-length': String(16 * 1024 * 1024 + 1) },
      body: new ReadableStream({ pull: () => new Promise(() => undefined) }),
      duplex: 'half',
    } as RequestInit);
    const body = await expectProblem(res, 'PAYLOAD_TOO_LARGE');
    expect(body.detail).toContain('limit of 16777216 bytes');
  });
});

describe('errors from the engine', () => {
  it('maps a QuiverError to its status with line, column and statementIndex', async () => {
    const error = new QuiverError('SYNTAX_ERROR', "expected FROM, got 'FORM'", {
      position: { line: 3, column: 14 },
      statementIndex: 1,
    });
    const res = await postJson(appWith(throwingEngine(error)), { sql: 'SELECT 1; SELECT a\n\n  FORM t' });
    expect(await expectProblem(res, 'SYNTAX_ERROR')).toEqual({
      type: 'https://quiver.dev/errors/SYNTAX_ERROR',
      title: 'SQL syntax error',
      status: 400,
      code: 'SYNTAX_ERROR',
      detail: "expected FROM, got 'FORM'",
      line: 3,
      column: 14,
      statementIndex: 1,
    });
  });

  it('uses the catalog status for every kind of QuiverError', async () => {
    const conflict = new QuiverError('CONSTRAINT_VIOLATION', 'UNIQUE constraint failed on t.a', { statementIndex: 0 });
    const res = await postJson(appWith(throwingEngine(conflict)), { sql: 'INSERT INTO t VALUES (1)' });
    expect(await expectProblem(res, 'CONSTRAINT_VIOLATION')).toMatchObject({ status: 409, statementIndex: 0 });
  });

  it('answers 503 DATABASE_CLOSED when the database is closed', async () => {
    engine.close();
    const body = await expectProblem(await postJson(app, { sql: 'SELECT 1' }), 'DATABASE_CLOSED');
    expect(body.status).toBe(503);
  });

  describe('a fault that is not a QuiverError', () => {
    let logged: ReturnType<typeof vi.spyOn>;
    beforeEach(() => {
      logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    });
    afterEach(() => logged.mockRestore());

    it('is logged with its cause and answered with a generic 500 that reveals nothing', async () => {
      const cause = new Error('EIO: disk read failed');
      const fault = new Error('page 7 checksum mismatch near hunter2', { cause });
      const res = await postJson(appWith(throwingEngine(fault)), { sql: 'SELECT ?', params: ['hunter2'] });
      const body = await expectProblem(res, 'INTERNAL_ERROR');
      expect(body).toEqual({
        type: 'https://quiver.dev/errors/INTERNAL_ERROR',
        title: 'Internal error',
        status: 500,
        code: 'INTERNAL_ERROR',
        detail: 'the server failed to handle this request; the error has been logged',
      });
      expect(logged).toHaveBeenCalledTimes(1);
      expect(logged.mock.calls[0][0]).toBe('quiver: internal error on POST /v1/sql:');
      expect(logged.mock.calls[0][1]).toBe(fault);
      expect((logged.mock.calls[0][1] as Error).cause).toBe(cause);
    });

    it('covers values thrown that are not Errors at all', async () => {
      const res = await postJson(appWith(throwingEngine('a string')), { sql: 'SELECT 1' });
      await expectProblem(res, 'INTERNAL_ERROR');
      expect(logged).toHaveBeenCalledTimes(1);
    });
  });
});

describe('GET /health', () => {
  it('answers 200 {"status":"ok"} while the database is open', async () => {
    const res = await app.request('/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).toBe('{"status":"ok"}');
  });

  it('answers HEAD with the status and no body', async () => {
    const res = await app.request('/health', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('answers 503 problem+json once the database is closed', async () => {
    engine.close();
    const body = await expectProblem(await app.request('/health'), 'DATABASE_CLOSED');
    expect(body.detail).toBe('the database is not open; this server cannot run SQL');
  });
});

describe('GET /openapi.yaml', () => {
  it('serves the contract at the repository root, verbatim', async () => {
    const res = await app.request('/openapi.yaml');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/yaml');
    expect(await res.text()).toBe(fs.readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8'));
  });
});

describe('unknown routes and wrong methods', () => {
  for (const [method, url] of [
    ['GET', '/'],
    ['GET', '/v2/sql'],
    ['POST', '/v1/sql/extra'],
    ['DELETE', '/nothing'],
  ]) {
    it(`404 for ${method} ${url}`, async () => {
      const body = await expectProblem(await app.request(url, { method }), 'NOT_FOUND');
      expect(body.detail).toBe(`no resource at ${url}; the API is described at /openapi.yaml`);
    });
  }

  for (const [method, url, allow] of [
    ['GET', '/v1/sql', 'POST'],
    ['PUT', '/v1/sql', 'POST'],
    ['DELETE', '/v1/sql', 'POST'],
    ['POST', '/health', 'GET, HEAD'],
    ['PUT', '/openapi.yaml', 'GET, HEAD'],
  ]) {
    it(`405 for ${method} ${url}, allowing ${allow}`, async () => {
      const res = await app.request(url, { method });
      expect(res.headers.get('allow')).toBe(allow);
      const body = await expectProblem(res, 'METHOD_NOT_ALLOWED');
      expect(body.detail).toBe(`${method} is not allowed on ${url}; use ${allow}`);
    });
  }
});
