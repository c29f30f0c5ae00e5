/**
 * No key stalls the server (issue 20, items 3 and 4), with a real server process. Hostile
 * statements of every role keep running, each stopped by its 1 s timeout and sent again at once:
 * a read key's three-way self-joins, its EMBEDDING(column) beside a heavy subquery, a vector query
 * filtered by one, and a flood of twenty joins at a time; a write key's INSERT ... SELECT of a heavy subquery; an admin key's
 * UPDATE with one. Meanwhile `/health` and another key's point read are timed back to back: both
 * stay under LATENCY_BOUND_MS at p99 (each under LATENCY_MAX_MS), since the writer runs on its
 * own thread, reads on workers, and the last free worker is kept for keys holding none. Then the
 * hostile clients stop, and a second after the last of their deadlines the server's CPU time is
 * measured over a second: it is back to idle, so the statements' threads stopped burning it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killAllServers, startServer } from '../api/server-process.ts';
import type { ServerProcess } from '../api/server-process.ts';

const KEYS = {
  reader: 'r'.repeat(40),
  writer: 'w'.repeat(40),
  ops: 'o'.repeat(40),
  probe: 'p'.repeat(40),
};
const KEYS_VAR = `reader:read:${KEYS.reader},writer:write:${KEYS.writer},ops:admin:${KEYS.ops},probe:read:${KEYS.probe}`;
/** Rows of the table the hostile joins multiply: 2000³ rows would take hours. */
const BIG_ROWS = 2000;
const HOSTILE_TIMEOUT_MS = 1000;
const LOAD_MS = 6000;
/**
 * The bound on the timed requests' p99 on this 2-core machine, with every core busy with hostile
 * statements: the issue's aim is 100 ms, which runs here measure under (README); the bound leaves
 * room for a CI machine's noise.
 */
const LATENCY_BOUND_MS = 150;
const LATENCY_MAX_MS = 500;
/** CPU the idle server may use in the second measured after the hostile statements' deadlines. */
const IDLE_CPU_MS = 150;

const JOIN = 'SELECT count(*) FROM big a, big b, big c WHERE a.x + b.x + c.x > 0';
const HOSTILE: { key: keyof typeof KEYS; sql: string; clients: number }[] = [
  { key: 'reader', sql: JOIN, clients: 1 },
  { key: 'reader', sql: "SELECT EMBEDDING(doc, 'quiver-local-100d') AS e, (SELECT count(*) FROM big a, big b, big c) AS n FROM docs", clients: 1 },
  // A vector query whose filter holds a heavy subquery: the planner must not sample it on the engine's thread.
  { key: 'reader', sql: 'SELECT id FROM vt WHERE (SELECT count(*) FROM big a, big b, big c) > 0 ORDER BY VEC_DISTANCE(v, VEC_FROMTEXT(\'[1, 1]\')) LIMIT 5', clients: 1 },
  // The flood: more than the key may run at once, so most of it waits its turn (and its timeout).
  { key: 'reader', sql: JOIN, clients: 20 },
  { key: 'writer', sql: 'INSERT INTO sink (n) SELECT (SELECT count(*) FROM big a, big b, big c)', clients: 2 },
  { key: 'ops', sql: 'UPDATE docs SET n = (SELECT count(*) FROM big a, big b, big c WHERE a.x > b.x)', clients: 2 },
];

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-stall-'));
afterAll(async () => {
  await killAllServers();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

async function sql(server: ServerProcess, key: keyof typeof KEYS, statement: string, timeoutMs?: number): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${server.url}/v1/sql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS[key]}` },
    body: JSON.stringify({ sql: statement, timeoutMs }),
  });
  const body = (await res.json()) as { code?: string };
  return { status: res.status, code: body.code };
}

/** The server process's CPU time so far, in ms (utime + stime from /proc). */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

describe('hostile statements of every role', () => {
  it('never make /health or another key’s point read wait, and give their CPU back within a second of their deadlines', async () => {
    const server = await startServer({ dataDir: path.join(tmpRoot, 'data'), env: { QUIVER_API_KEYS: KEYS_VAR } });
    const setup = [
      'CREATE TABLE big (id INTEGER PRIMARY KEY, x INT)',
      `INSERT INTO big (x) WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ${BIG_ROWS}) SELECT n FROM c`,
      'CREATE TABLE docs (id INTEGER PRIMARY KEY, doc TEXT, n INT)',
      "INSERT INTO docs (doc) VALUES ('a question about vectors'), ('an answer about tables')",
      'CREATE TABLE sink (n INT)',
      'CREATE TABLE vt (id INTEGER PRIMARY KEY, v VECTOR(2), VECTOR INDEX vt_v (v))',
      `INSERT INTO vt (v) WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ${BIG_ROWS}) SELECT VEC_FROMTEXT('[' || n || ', 1]') FROM c`,
      'CREATE TABLE t1 (id INTEGER PRIMARY KEY, v TEXT)',
      "INSERT INTO t1 (v) VALUES ('one')",
    ];
    for (const statement of setup) expect((await sql(server, 'ops', statement)).status).toBe(200);

    let running = true;
    const answers = new Map<string, number[]>();
    let lastAnswerAt = 0;
    const hostile = HOSTILE.flatMap(({ key, sql: statement, clients }) =>
      Array.from({ length: clients }, async () => {
        while (running) {
          const { status } = await sql(server, key, statement, HOSTILE_TIMEOUT_MS);
          lastAnswerAt = Date.now();
          const seen = answers.get(`${key}: ${statement}`) ?? [];
          seen.push(status);
          answers.set(`${key}: ${statement}`, seen);
          // A refused request (429) is sent again after a moment, as a client obeying Retry-After would not: harder on the server.
          if (status === 429) await new Promise((r) => setTimeout(r, 10));
        }
      }),
    );

    const health: number[] = [];
    const reads: number[] = [];
    // Let the hostile statements take every core first.
    await new Promise((r) => setTimeout(r, 500));
    const until = Date.now() + LOAD_MS;
    while (Date.now() < until) {
      let started = performance.now();
      const h = await fetch(`${server.url}/health`);
      health.push(performance.now() - started);
      expect(h.status).toBe(200);
      started = performance.now();
      const read = await sql(server, 'probe', 'SELECT v FROM t1 WHERE id = 1');
      reads.push(performance.now() - started);
      expect(read.status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
    }
    running = false;
    await Promise.all(hostile);

    const report = (values: number[]) => `p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms over ${values.length}`;
    console.log(`/health: ${report(health)}; another key's point read: ${report(reads)}`);
    for (const [what, statuses] of answers) console.log(`${what.slice(0, 80)}: ${statuses.length} answers, ${statuses.filter((s) => s === 408).length} timed out`);
    expect(percentile(health, 99)).toBeLessThan(LATENCY_BOUND_MS);
    expect(percentile(reads, 99)).toBeLessThan(LATENCY_BOUND_MS);
    expect(Math.max(...health, ...reads)).toBeLessThan(LATENCY_MAX_MS);
    // Every hostile shape ran and was stopped by its deadline: answered 408, or 429 when its key's queue was full.
    for (const [what, statuses] of answers) {
      expect(statuses.some((s) => s === 408), what).toBe(true);
      expect(statuses.every((s) => s === 408 || s === 429), what).toBe(true);
    }

    // A second after the last deadline, nothing of the hostile statements still computes.
    await new Promise((r) => setTimeout(r, Math.max(0, lastAnswerAt + 1000 - Date.now())));
    const before = cpuMs(server.child.pid!);
    await new Promise((r) => setTimeout(r, 1000));
    const used = cpuMs(server.child.pid!) - before;
    console.log(`server CPU in the second after: ${used} ms`);
    expect(used).toBeLessThan(IDLE_CPU_MS);
    expect((await sql(server, 'probe', 'SELECT v FROM t1 WHERE id = 1')).status).toBe(200);
  }, 60_000);
});
