/**
 * API keys and roles (issue 6, "Auth"): reading keys from QUIVER_API_KEYS and the keys file
 * (no message ever quotes a key), the bind rule, 401 for a missing or unknown key, each role
 * allowed or refused per statement kind through the real app on a real Engine (a refused
 * request changes nothing), /v1/chat's role reaching its SQL, `requireRole` for other routes,
 * and the real server process refusing a non-loopback HOST without keys. Every answer of the
 * app is checked against openapi.yaml (`checkedApp`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authNotice, authenticate, isLoopback, keyDigest, requireRole, roleOf } from '../../src/api/auth.ts';
import { MIN_API_KEY_LENGTH } from '../../src/api/config.ts';
import { ConfigError, createApp, loadConfig } from '../../src/api/index.ts';
import type { SqlEngine } from '../../src/api/index.ts';
import { HTTP_STATUS } from '../../src/api/problem.ts';
import { isQuiverError } from '../../src/core/index.ts';
import { ChatModels } from '../../src/chat/index.ts';
import { Engine, ROLES } from '../../src/sql/index.ts';
import type { ExecuteOptions, Params, Role } from '../../src/sql/index.ts';
import { checkedApp } from './contract/checked.ts';
import type { RequestTarget } from './contract/checked.ts';
import { killAllServers, runServerToExit, startServer } from './server-process.ts';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-api-auth-'));
afterAll(async () => {
  await killAllServers();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

/** One key per role, each distinctive enough that finding it in a message is no accident. */
const KEYS: Record<Role, string> = {
  read: 'read0000secret1111aaaa2222bbbb3333',
  write: 'write000secret1111aaaa2222bbbb3333',
  admin: 'admin000secret1111aaaa2222bbbb3333',
};
const KEYS_VAR = `dash:read:${KEYS.read},ingest:write:${KEYS.write},ops:admin:${KEYS.admin}`;

/** The ConfigError message for `env`; fails the test if loadConfig accepts it. */
function configProblems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  return expect.unreachable(`loadConfig accepted ${Object.keys(env).join(', ')}`);
}

function writeKeysFile(content: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(tmpRoot, 'keys-')), 'keys.json');
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('loadConfig: API keys', () => {
  it('has no keys by default: auth off, loopback only', () => {
    expect(loadConfig({})).toMatchObject({ apiKeys: [], allowUnauthenticated: false, host: '127.0.0.1' });
  });

  it('reads role:key and name:role:key from QUIVER_API_KEYS, keeping digests, not keys', () => {
    const config = loadConfig({ QUIVER_API_KEYS: ` read:${KEYS.read} , ops:admin:${KEYS.admin},` });
    expect(config.apiKeys).toEqual([
      { name: 'key#1', role: 'read', digest: keyDigest(KEYS.read) },
      { name: 'ops', role: 'admin', digest: keyDigest(KEYS.admin) },
    ]);
    expect(Object.isFrozen(config.apiKeys[0])).toBe(true);
    const printed = JSON.stringify(config);
    for (const key of Object.values(KEYS)) expect(printed).not.toContain(key);
  });

  it('reads a keys file and adds its keys to those of the variable', () => {
    const file = writeKeysFile({ keys: [{ name: 'ingest', role: 'write', key: KEYS.write }, { role: 'read', key: KEYS.read }] });
    const config = loadConfig({ QUIVER_API_KEYS: `ops:admin:${KEYS.admin}`, QUIVER_API_KEYS_FILE: file, HOST: '0.0.0.0' });
    expect(config.apiKeys.map((k) => [k.name, k.role])).toEqual([['ops', 'admin'], ['ingest', 'write'], ['key#3', 'read']]);
  });

  const secret = 'topsecret9999zzzz8888yyyy7777xxxx';
  const bad: [string, Record<string, string>, RegExp][] = [
    ['an unknown role', { QUIVER_API_KEYS: `superuser:${secret}` }, /QUIVER_API_KEYS entry 1: the role must be read, write, admin/],
    ['fields out of order', { QUIVER_API_KEYS: `${secret}:admin` }, /QUIVER_API_KEYS entry 1: the role must be/],
    ['name and key swapped', { QUIVER_API_KEYS: `${secret}:admin:ops` }, /QUIVER_API_KEYS entry 1: the name must be 1 to 24/],
    ['a short key', { QUIVER_API_KEYS: 'read:short5' }, /QUIVER_API_KEYS entry 1: the key has 6 characters; expected 32 to 512/],
    ['a key with a space', { QUIVER_API_KEYS: `read:${secret} ${secret}` }, /QUIVER_API_KEYS entry 1: the key may hold only letters/],
    ['too many fields', { QUIVER_API_KEYS: `a:b:read:${secret}` }, /QUIVER_API_KEYS entry 1: expected role:key or name:role:key; got 4/],
    ['the same key twice', { QUIVER_API_KEYS: `read:${secret},admin:${secret}` }, /QUIVER_API_KEYS entry 2: the same key as QUIVER_API_KEYS entry 1/],
    ['the same name twice', { QUIVER_API_KEYS: `a:read:${secret},a:admin:${KEYS.admin}` }, /QUIVER_API_KEYS entry 2: the same name as QUIVER_API_KEYS entry 1/],
  ];
  for (const [what, env, problem] of bad) {
    it(`refuses ${what}, naming the variable and never the key`, () => {
      const message = configProblems(env);
      expect(message).toMatch(problem);
      expect(message).not.toContain(secret);
      expect(message).not.toContain('short5');
    });
  }

  it('refuses a bad keys file, naming its path and never its content', () => {
    const missing = path.join(tmpRoot, 'no-such-keys.json');
    expect(configProblems({ QUIVER_API_KEYS_FILE: missing })).toContain(`QUIVER_API_KEYS_FILE=${JSON.stringify(missing)}: cannot read the file (ENOENT)`);
    const cases: [unknown, RegExp][] = [
      [`{"keys": [{"role": "read", "key": ${secret}}]}`, /the file is not valid JSON; expected \{"keys": \[/],
      [[{ role: 'read', key: secret }], /: expected \{"keys": \[/],
      [{ keys: [{ role: 'read', key: secret, [secret]: 1 }] }, /QUIVER_API_KEYS_FILE keys\[0\]: expected an object with "role", "key"/],
      [{ keys: [{ role: 'reader', key: secret }] }, /QUIVER_API_KEYS_FILE keys\[0\]: the role must be/],
      [{ keys: [{ role: 'read', key: 42 }] }, /QUIVER_API_KEYS_FILE keys\[0\]: the key must be a string/],
      [{ keys: [{ role: 'read', key: secret.slice(0, MIN_API_KEY_LENGTH - 1) }] }, /keys\[0\]: the key has 31 characters/],
    ];
    for (const [content, problem] of cases) {
      const message = configProblems({ QUIVER_API_KEYS_FILE: writeKeysFile(content) });
      expect(message).toMatch(problem);
      expect(message).not.toContain(secret.slice(0, 16));
    }
  });

  it('lists every bad key at once', () => {
    const problems = (() => {
      try {
        loadConfig({ QUIVER_API_KEYS: `nobody:${secret},read:x`, PORT: 'x' });
      } catch (e) {
        return (e as ConfigError).problems;
      }
      return [];
    })();
    expect(problems).toHaveLength(3);
  });
});

describe('loadConfig: the bind rule', () => {
  it('accepts loopback hosts without keys', () => {
    for (const host of ['127.0.0.1', '127.0.1.1', '::1', 'localhost', 'LOCALHOST']) expect(loadConfig({ HOST: host }).host).toBe(host);
  });

  it('refuses a non-loopback host without keys, saying how to fix it', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'quiver.internal']) {
      expect(configProblems({ HOST: host })).toContain(
        `HOST=${JSON.stringify(host)} is not loopback and no API keys are configured: set QUIVER_API_KEYS or QUIVER_API_KEYS_FILE, ` +
          'or set QUIVER_ALLOW_UNAUTHENTICATED=1 to serve the network with no auth',
      );
    }
  });

  it('accepts a non-loopback host with keys, or with the explicit opt-in', () => {
    expect(loadConfig({ HOST: '0.0.0.0', QUIVER_API_KEYS: KEYS_VAR }).apiKeys).toHaveLength(3);
    expect(loadConfig({ HOST: '0.0.0.0', QUIVER_ALLOW_UNAUTHENTICATED: '1' })).toMatchObject({ apiKeys: [], allowUnauthenticated: true });
    expect(loadConfig({ HOST: '0.0.0.0', QUIVER_ALLOW_UNAUTHENTICATED: 'true' }).allowUnauthenticated).toBe(true);
  });

  it('refuses an opt-in that is not 1 or 0', () => {
    expect(configProblems({ QUIVER_ALLOW_UNAUTHENTICATED: 'yes' })).toContain('QUIVER_ALLOW_UNAUTHENTICATED="yes": expected 1 or 0 (true or false)');
    expect(configProblems({ HOST: '0.0.0.0', QUIVER_ALLOW_UNAUTHENTICATED: '0' })).toContain('is not loopback');
  });

  it('tells loopback from other hosts', () => {
    for (const host of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '128.0.0.1', '127.0.0.256', '10.0.0.1', 'localhost.example.com', 'example.com']) expect(isLoopback(host), host).toBe(false);
  });

  it('has a startup line for each case, warning only when auth is off beyond loopback, never with a key', () => {
    const on = authNotice(loadConfig({ QUIVER_API_KEYS: KEYS_VAR }));
    expect(on).toEqual({
      warning: false,
      message: 'Quiver: auth on, 3 API keys (dash: read, ingest: write, ops: admin); requests under /v1/ need Authorization: Bearer <key>',
    });
    expect(authNotice(loadConfig({}))).toEqual({
      warning: false,
      message: 'Quiver: auth off (no API keys configured); bound to loopback (127.0.0.1) only, so only this machine can connect',
    });
    const open = authNotice(loadConfig({ HOST: '0.0.0.0', QUIVER_ALLOW_UNAUTHENTICATED: '1' }));
    expect(open.warning).toBe(true);
    expect(open.message).toMatch(/^quiver: WARNING: auth is OFF and HOST=0\.0\.0\.0 serves the network/);
  });
});

/** A real engine with a `t(a, b)` table holding one row, and every `execute` role recorded. */
interface Fixture {
  engine: Engine;
  /** The `role` option of every execute call the app made, in order. */
  roles: (Role | undefined)[];
  app: RequestTarget;
}

let fixture: Fixture;
beforeEach(async () => {
  const dataDir = fs.mkdtempSync(path.join(tmpRoot, 'db-'));
  const engine = Engine.open({ dataDir });
  await engine.execute("CREATE TABLE t (a INT, b TEXT, FULLTEXT INDEX t_ft (b)); INSERT INTO t VALUES (1, 'the quick brown fox')");
  const roles: (Role | undefined)[] = [];
  const recording: SqlEngine = {
    get isOpen() {
      return engine.isOpen;
    },
    execute(sql: string, params?: Params, options?: ExecuteOptions) {
      roles.push(options?.role);
      return engine.execute(sql, params, options);
    },
    describeTable: (name) => engine.describeTable(name),
    stats: () => engine.stats(),
  };
  const config = loadConfig({ QUIVER_DATA_DIR: dataDir, QUIVER_API_KEYS: KEYS_VAR });
  fixture = { engine, roles, app: checkedApp(createApp({ engine: recording, config, chatModels: new ChatModels([]) })) };
});
afterEach(() => fixture.engine.close());

function sql(statement: string, key?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fixture.app.request('/v1/sql', {
    method: 'POST',
    headers: { 'content-type': 'application/sql', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...headers },
    body: statement,
  });
}

async function rowsOfT(): Promise<unknown[][]> {
  return (await fixture.engine.execute('SELECT a, b FROM t ORDER BY a')).results[0].rows;
}

async function expectProblem(res: Response, status: number, code: string): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as { code: string; detail: string };
  expect(body.code).toBe(code);
  for (const key of Object.values(KEYS)) expect(body.detail).not.toContain(key);
  return body.detail;
}

describe('401 for a missing or unknown key', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['no Authorization header', {}, /requires an API key; send Authorization: Bearer <key>/],
    ['an empty bearer token', { authorization: 'Bearer ' }, /requires an API key/],
    ['an unknown key', { authorization: `Bearer ${KEYS.admin}x` }, /the API key is not one this server knows/],
    ['a prefix of a known key', { authorization: `Bearer ${KEYS.admin.slice(0, -1)}` }, /not one this server knows/],
    ['a key without the Bearer scheme', { authorization: KEYS.admin }, /expected Authorization: Bearer <key>; the header has another scheme or none/],
    ['the Basic scheme', { authorization: `Basic ${Buffer.from(`u:${KEYS.admin}`).toString('base64')}` }, /another scheme or none/],
  ];
  for (const [what, headers, detail] of cases) {
    it(`answers ${what} with 401, WWW-Authenticate, and no key echoed`, async () => {
      const res = await sql('SELECT 1', undefined, headers);
      expect(await expectProblem(res, 401, 'UNAUTHORIZED')).toMatch(detail);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="quiver"');
      expect(fixture.roles).toEqual([]);
    });
  }

  it('takes the scheme in any letter case', async () => {
    const res = await sql('SELECT 1', undefined, { authorization: `bEaReR   ${KEYS.read}` });
    expect(res.status).toBe(200);
  });

  it('refuses before reading the body: a missing key with a bad body is still 401', async () => {
    const res = await fixture.app.request('/v1/sql', { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'x' });
    await expectProblem(res, 401, 'UNAUTHORIZED');
  });

  it('guards every path under /v1/, so a new route is closed by default', async () => {
    // Unknown paths under /v1/ answer 401 before 404 (openapi.yaml says so); unchecked, as the
    // contract checker holds unknown paths to 404.
    const app = createApp({ engine: fixture.engine, config: loadConfig({ QUIVER_API_KEYS: KEYS_VAR }), chatModels: new ChatModels([]) });
    expect((await app.request('/v1/nothing-here')).status).toBe(401);
    expect((await app.request('/v1/nothing-here', { headers: { authorization: `Bearer ${KEYS.read}` } })).status).toBe(404);
  });
});

describe('open endpoints', () => {
  for (const url of ['/health', '/openapi.yaml', '/docs']) {
    it(`${url} needs no key`, async () => {
      expect((await fixture.app.request(url)).status).toBe(200);
    });
  }
});

describe('roles per statement kind', () => {
  const statements: [string, Role][] = [
    ['SELECT a FROM t', 'read'],
    ['EXPLAIN SELECT a FROM t', 'read'],
    ['SHOW TABLES', 'read'],
    ['PRAGMA table_info(t)', 'read'],
    ['SET vidx_hnsw_ef_search = 50', 'read'],
    ["INSERT INTO t VALUES (2, 'y')", 'write'],
    ["UPDATE t SET b = 'z'", 'write'],
    ['DELETE FROM t WHERE a = 1', 'write'],
    ['CREATE TABLE u (a INT)', 'admin'],
    ['CREATE INDEX t_a ON t (a)', 'admin'],
    ['ALTER TABLE t ADD COLUMN c INT', 'admin'],
    ['TRUNCATE TABLE t', 'admin'],
    ['DROP TABLE t', 'admin'],
    ['OPTIMIZE TABLE t', 'admin'],
  ];
  const rank = (r: Role) => ROLES.indexOf(r);
  for (const [statement, needed] of statements) {
    for (const role of ROLES) {
      const allowed = rank(role) >= rank(needed);
      it(`${statement}: the ${role} key is ${allowed ? 'allowed' : 'refused'}`, async () => {
        const before = await rowsOfT();
        const res = await sql(statement, KEYS[role]);
        expect(fixture.roles).toEqual([role]);
        if (allowed) {
          expect(res.status, await res.clone().text()).toBe(200);
          return;
        }
        const detail = await expectProblem(res, 403, 'FORBIDDEN');
        expect(detail).toMatch(new RegExp(`^statement 1 \\(.+\\) needs the ${needed} role; this key has the ${role} role$`));
        expect(await rowsOfT()).toEqual(before);
      });
    }
  }

  it('a refused request runs none of its statements, not even the allowed ones before it', async () => {
    const res = await sql("INSERT INTO t VALUES (2, 'y'); DROP TABLE t", KEYS.write);
    expect(await expectProblem(res, 403, 'FORBIDDEN')).toBe('statement 2 (DROP) needs the admin role; this key has the write role');
    expect(await rowsOfT()).toEqual([[1, 'the quick brown fox']]);
    expect((await fixture.engine.execute('SELECT COUNT(*) FROM t')).results[0].rows).toEqual([[1]]);
  });

  it('a read key cannot write inside a transaction either', async () => {
    const res = await sql("BEGIN; INSERT INTO t VALUES (2, 'y'); COMMIT", KEYS.read);
    expect(await expectProblem(res, 403, 'FORBIDDEN')).toMatch(/^statement 2 \(INSERT\) needs the write role/);
    expect(await rowsOfT()).toEqual([[1, 'the quick brown fox']]);
  });

  it('with no keys configured, passes no role and lets every statement run', async () => {
    const app = checkedApp(createApp({ engine: fixture.engine, config: loadConfig({}), chatModels: new ChatModels([]) }));
    const res = await app.request('/v1/sql', { method: 'POST', headers: { 'content-type': 'application/sql' }, body: 'DROP TABLE t' });
    expect(res.status).toBe(200);
  });
});

describe('/v1/chat', () => {
  const question = { question: 'quick fox', table: 't', textColumn: 'b', retrieval: 'text', generate: false };
  function chat(key?: string): Promise<Response> {
    return fixture.app.request('/v1/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) },
      body: JSON.stringify(question),
    });
  }

  it('needs a key', async () => {
    await expectProblem(await chat(), 401, 'UNAUTHORIZED');
  });

  for (const role of ROLES) {
    it(`answers the ${role} key, running its SQL with the ${role} role`, async () => {
      const res = await chat(KEYS[role]);
      expect(res.status, await res.clone().text()).toBe(200);
      expect(((await res.json()) as { sources: unknown[] }).sources).toHaveLength(1);
      expect(fixture.roles.length).toBeGreaterThan(0);
      expect(new Set(fixture.roles)).toEqual(new Set([role]));
    });
  }
});

describe('requireRole, for routes outside /v1/sql', () => {
  function guarded(keys: string | undefined, withAuth = true): Hono {
    const app = new Hono();
    if (withAuth) app.use('*', authenticate(keys === undefined ? [] : loadConfig({ QUIVER_API_KEYS: keys }).apiKeys));
    return app
      .post('/backup', requireRole('admin'), (c) => c.json({ role: roleOf(c) ?? null }))
      .onError((e, c) => c.json({ error: e.message }, isQuiverError(e) ? (HTTP_STATUS[e.code] as 403) : 500));
  }
  const post = (app: Hono, key?: string) => app.request('/backup', { method: 'POST', headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });

  it('lets the admin key through and refuses the others with the role needed', async () => {
    const app = guarded(KEYS_VAR);
    const ok = await post(app, KEYS.admin);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ role: 'admin' });
    for (const role of ['read', 'write'] as const) {
      const res = await post(app, KEYS[role]);
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: `POST /backup needs the admin role; this key has the ${role} role` });
    }
    expect((await post(app)).status).toBe(401);
  });

  it('lets everyone through when auth is off', async () => {
    const res = await post(guarded(undefined));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ role: null });
  });

  it('fails closed when no authenticate ran before it', async () => {
    const res = await post(guarded(KEYS_VAR, false), KEYS.admin);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: string }).error).toMatch(/is not behind the authenticate middleware/);
  });
});

describe('the server process', () => {
  it('refuses to start on a non-loopback HOST without keys, and binds nothing', async () => {
    const exit = await runServerToExit({ HOST: '0.0.0.0', PORT: '0', QUIVER_DATA_DIR: fs.mkdtempSync(path.join(tmpRoot, 'srv-')) });
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain('HOST="0.0.0.0" is not loopback and no API keys are configured');
    expect(exit.stderr).toContain('QUIVER_ALLOW_UNAUTHENTICATED=1');
    expect(exit.stdout).not.toContain('listening');
  });

  it('refuses a bad key without printing it', async () => {
    const exit = await runServerToExit({ QUIVER_API_KEYS: `root:${KEYS.admin}`, PORT: '0', QUIVER_DATA_DIR: fs.mkdtempSync(path.join(tmpRoot, 'srv-')) });
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain('QUIVER_API_KEYS entry 1: the role must be read, write, admin');
    expect(exit.stdout + exit.stderr).not.toContain(KEYS.admin);
  });

  it('says auth is off on loopback by default', async () => {
    const server = await startServer({ dataDir: fs.mkdtempSync(path.join(tmpRoot, 'srv-')) });
    await waitFor(() => server.output().stdout.includes('auth off'));
    expect(server.output().stdout).toContain('Quiver: auth off (no API keys configured); bound to loopback (127.0.0.1) only');
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });

  it('with keys, names them without printing them and guards /v1/ over a real socket', async () => {
    const server = await startServer({ dataDir: fs.mkdtempSync(path.join(tmpRoot, 'srv-')), env: { QUIVER_API_KEYS: KEYS_VAR } });
    await waitFor(() => server.output().stdout.includes('auth on'));
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const post = (key?: string) =>
      fetch(`${server.url}/v1/sql`, {
        method: 'POST',
        headers: { 'content-type': 'application/sql', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) },
        body: 'CREATE TABLE x (a INT)',
      });
    expect((await post()).status).toBe(401);
    expect((await post(KEYS.write)).status).toBe(403);
    expect((await post(KEYS.admin)).status).toBe(200);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    const { stdout, stderr } = server.output();
    expect(stdout).toContain('Quiver: auth on, 3 API keys (dash: read, ingest: write, ops: admin)');
    for (const key of Object.values(KEYS)) expect(stdout + stderr).not.toContain(key);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
