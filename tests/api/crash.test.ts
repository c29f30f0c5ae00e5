/**
 * The crash test (issue 6, "Crash safety"): the real server is killed with SIGKILL at random
 * moments of a mixed workload, restarted on the same data dir, and checked, again and again.
 *
 * The workload runs on a table whose vectors come from `EMBEDDING()` (the built-in model) in a
 * STORED generated column with an HNSW index, and a tiny flush threshold, so background
 * flushes and merges run all the time; it inserts, re-embeds, updates other columns, deletes,
 * mixes all of those in one request and in an explicit BEGIN ... COMMIT, and forces flushes and
 * merges with OPTIMIZE TABLE. A few clients write at once, each over its own rows, and keep
 * a model of what the server acknowledged. After each restart:
 * - every client's rows are exactly its model, or its model plus the one request it had in
 *   flight at the kill — applied whole (requests are atomic), never in part;
 * - every row's vector is the embedding of its text (nothing half-written);
 * - the index holds every row, and its answers (ORDER BY DISTANCE ... LIMIT k, FORCE INDEX, with
 *   and without a WHERE) are exactly those of exact search (IGNORE INDEX) over the live rows;
 * - the index loaded its saved files without distrusting any (no "rebuilding" warning): they
 *   are written atomically, manifest last, so a kill mid-save leaves the previous save whole.
 *
 * QUIVER_CRASH_KILLS sets the number of kills (default 4, about 50 s here; `npm run test:crash`
 * runs 50), QUIVER_CRASH_SEED replays a run: the seed is printed, and every random choice
 * (workload, kill times) comes from it, though the moment a kill lands still depends on timing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkedFetch } from './contract/checked.ts';
import { killAllServers, startServer, type ServerProcess } from './server-process.ts';

const KILLS = Number(process.env.QUIVER_CRASH_KILLS ?? 4);
const SEED = Number(process.env.QUIVER_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MODEL = 'quiver-local-100d';
/** Clients writing at once; client c owns the ids congruent to c modulo CLIENTS. */
const CLIENTS = 3;
const GROUPS = 5;
/** The server's index settings: a flush every 40 rows, or every second, so segments come and go. */
const SERVER_ENV = { QUIVER_INDEX_FLUSH_ROWS: '40', QUIVER_INDEX_FLUSH_AGE_MS: '1000' };
/** Most kills come soon after the start; some late, past the index's 5 s save interval. */
const SHORT_LIFE_MS: [number, number] = [150, 2500];
const LONG_LIFE_MS: [number, number] = [5000, 7500];
const LONG_LIFE_CHANCE = 0.25;
/** HNSW search breadth for the checks: the maximum, so an index answer can be held to the exact one. */
const CHECK_EF_SEARCH = 1000;
const QUERIES_PER_CHECK = 4;

const WORDS = (
  'vector index segment merge flush database query answer river mountain garden puppy ball ' +
  'join operator column table embedding search nearest neighbour crash restart durable commit ' +
  'ocean forest engine kernel planner filter tenant document question retrieval memory disk'
).split(' ');

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-crash-'));
afterAll(async () => {
  await killAllServers();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

/** mulberry32: a small seeded generator, so a failing run's choices can be replayed. */
function randomSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = randomSource(SEED);
const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));

/** A row as the client believes it: its group and its text (the vector is EMBEDDING(doc)). */
interface Row {
  grp: number;
  doc: string;
}
type Model = Map<number, Row>;

/** A sentence unique to `id` (its tag is a word the model does not know, so it gets its own vector). */
function sentence(id: number): string {
  const words = Array.from({ length: between(3, 8) }, () => pick(WORDS));
  return `${words.join(' ')} r${id}x${between(0, 999)}`;
}

interface SqlAnswer {
  status: number;
  body: { results?: { columns: string[]; rows: unknown[][] }[]; code?: string; detail?: string };
}

async function sql(server: ServerProcess, statement: string, params: unknown[] = []): Promise<SqlAnswer> {
  const res = await checkedFetch(`${server.url}/v1/sql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sql: statement, params }),
  });
  return { status: res.status, body: (await res.json()) as SqlAnswer['body'] };
}

/** Runs `statement`, which must succeed; returns each result's rows. */
async function queryAll(server: ServerProcess, statement: string, params: unknown[] = []): Promise<unknown[][][]> {
  const { status, body } = await sql(server, statement, params);
  expect(status, `${statement}: ${body.code} ${body.detail}\nserver log:\n${server.output().stderr.slice(-3000)}`).toBe(200);
  return body.results!.map((r) => r.rows);
}

/** Runs `statement`, which must succeed; returns its last result's rows. */
async function query(server: ServerProcess, statement: string, params: unknown[] = []): Promise<unknown[][]> {
  return (await queryAll(server, statement, params)).at(-1)!;
}

/** One request of the workload: its SQL, and what it does to the writing client's model. */
interface Operation {
  name: string;
  statement: string;
  params: unknown[];
  apply(model: Model): void;
}

/** The clients' shared state: each one's model and the request it had in flight at the kill. */
class Client {
  readonly model: Model = new Map();
  /** An operation sent whose answer never came: it may or may not have landed. */
  inDoubt: Operation | null = null;
  private nextSerial = 0;
  readonly acknowledged = new Map<string, number>();

  constructor(readonly index: number) {}

  newId(): number {
    return this.index + CLIENTS * ++this.nextSerial;
  }

  /** Up to `n` distinct ids of rows this client has, at random. */
  someIds(n: number): number[] {
    const ids = [...this.model.keys()];
    const chosen = new Set<number>();
    for (let i = 0; i < n && ids.length > 0; i++) chosen.add(pick(ids));
    return [...chosen];
  }

  /** The next request of the workload, chosen at random. */
  nextOperation(): Operation {
    const r = random();
    const have = this.model.size;
    if (r < 0.35 || have < 10) return this.insert(between(1, 15));
    if (r < 0.5) return this.reembed(this.someIds(between(1, 4)));
    if (r < 0.6) return this.regroup(this.someIds(between(1, 6)));
    if (r < 0.75) return this.remove(this.someIds(between(1, 5)));
    if (r < 0.87) return this.mixed(false);
    if (r < 0.95) return this.mixed(true);
    return { name: 'optimize', statement: 'OPTIMIZE TABLE t', params: [], apply: () => {} };
  }

  private insert(n: number): Operation {
    const rows = Array.from({ length: n }, () => {
      const id = this.newId();
      return { id, grp: between(0, GROUPS - 1), doc: sentence(id) };
    });
    return {
      name: 'insert',
      statement: `INSERT INTO t (id, grp, doc) VALUES ${rows.map(() => '(?, ?, ?)').join(', ')}`,
      params: rows.flatMap((r) => [r.id, r.grp, r.doc]),
      apply: (model) => rows.forEach((r) => model.set(r.id, { grp: r.grp, doc: r.doc })),
    };
  }

  private reembed(ids: number[]): Operation {
    const docs = ids.map((id) => sentence(id));
    return {
      name: 'update text',
      statement: ids.map(() => 'UPDATE t SET doc = ? WHERE id = ?').join('; '),
      params: ids.flatMap((id, i) => [docs[i], id]),
      apply: (model) => ids.forEach((id, i) => (model.get(id)!.doc = docs[i])),
    };
  }

  private regroup(ids: number[]): Operation {
    const grp = between(0, GROUPS - 1);
    return {
      name: 'update group',
      statement: `UPDATE t SET grp = ? WHERE id IN (${ids.map(() => '?').join(', ')})`,
      params: [grp, ...ids],
      apply: (model) => ids.forEach((id) => (model.get(id)!.grp = grp)),
    };
  }

  private remove(ids: number[]): Operation {
    return {
      name: 'delete',
      statement: `DELETE FROM t WHERE id IN (${ids.map(() => '?').join(', ')})`,
      params: ids,
      apply: (model) => ids.forEach((id) => model.delete(id)),
    };
  }

  /** Insert, re-embed and delete in one request: implicit (one transaction) or BEGIN ... COMMIT. */
  private mixed(explicit: boolean): Operation {
    const [gone, changed] = this.someIds(2);
    const parts = [this.insert(between(1, 5)), ...(changed !== gone && changed !== undefined ? [this.reembed([changed])] : []), this.remove([gone])];
    const body = parts.map((p) => p.statement).join('; ');
    return {
      name: explicit ? 'transaction' : 'mixed',
      statement: explicit ? `BEGIN; ${body}; COMMIT` : body,
      params: parts.flatMap((p) => p.params),
      apply: (model) => parts.forEach((p) => p.apply(model)),
    };
  }
}

/** Runs `client`'s workload until the server dies; returns once a request of it failed to get an answer. */
async function runUntilKilled(server: ServerProcess, client: Client): Promise<void> {
  for (;;) {
    const op = client.nextOperation();
    let answer: SqlAnswer;
    try {
      answer = await sql(server, op.statement, op.params);
    } catch (e) {
      // The connection died with the server; anything else is a failure of its own.
      if (!(await hasExited(server))) throw e;
      client.inDoubt = op;
      return;
    }
    expect(answer.status, `${op.name}: ${answer.body.code} ${answer.body.detail}\nserver log:\n${server.output().stderr.slice(-3000)}`).toBe(200);
    op.apply(client.model);
    client.acknowledged.set(op.name, (client.acknowledged.get(op.name) ?? 0) + 1);
  }
}

/** Whether `server` has exited, or does within a second (its exit event may trail a reset connection). */
async function hasExited(server: ServerProcess): Promise<boolean> {
  for (let waited = 0; waited <= 1000; waited += 20) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

function canonical(rows: Iterable<[number, Row]>): string {
  return JSON.stringify([...rows].sort((a, b) => a[0] - b[0]));
}

/** Waits until the index is loaded (until then the planner answers exactly, which would prove nothing). */
async function indexReady(server: ServerProcess): Promise<unknown[]> {
  for (let tries = 0; ; tries++) {
    const [status] = await query(server, 'SHOW INDEX STATUS FROM t');
    if (status[4] === 'ready') return status;
    expect(tries, 'the index did not load within 20 s').toBeLessThan(400);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface CheckFigures {
  rows: number;
  inDoubtLanded: number;
  inDoubtLost: number;
  paths: Map<string, number>;
}

/** The checks after a restart; settles each client's in-doubt request by what the server holds. */
async function checkRecovered(server: ServerProcess, clients: Client[], figures: CheckFigures): Promise<void> {
  const status = await indexReady(server);
  const rows = (await query(server, 'SELECT id, grp, doc FROM t')) as [number, number, string][];
  for (const client of clients) {
    const held = canonical(rows.filter(([id]) => id % CLIENTS === client.index).map(([id, grp, doc]) => [id, { grp, doc }]));
    const before = canonical(client.model);
    if (held !== before && client.inDoubt) {
      const after = new Map([...client.model].map(([id, row]) => [id, { ...row }]));
      client.inDoubt.apply(after);
      expect(held, `client ${client.index}: neither without nor with its in-flight ${client.inDoubt.name} (seed ${SEED})`).toBe(canonical(after));
      client.inDoubt.apply(client.model);
      figures.inDoubtLanded++;
    } else {
      expect(held, `client ${client.index}: acknowledged writes lost or changed (seed ${SEED})`).toBe(before);
      if (client.inDoubt) figures.inDoubtLost++;
    }
    client.inDoubt = null;
  }
  figures.rows = rows.length;

  // Nothing half-written: each vector is its text's embedding.
  const [[stale]] = await query(server, `SELECT count(*) FROM t WHERE vec IS NULL OR vec IS NOT EMBEDDING(doc, '${MODEL}')`);
  expect(stale, `rows whose vector is not the embedding of their text (seed ${SEED})`).toBe(0);
  // The index holds every live row, nothing more.
  expect(status[5], `rows in the index vs the table (seed ${SEED})`).toBe(rows.length);

  const filters: [string, unknown[]][] = [
    ['', []],
    ['WHERE grp = ?', [between(0, GROUPS - 1)]],
    ['WHERE grp < ?', [between(2, GROUPS - 1)]],
    ['WHERE grp <> ?', [between(0, GROUPS - 1)]],
  ];
  for (let q = 0; q < QUERIES_PER_CHECK; q++) {
    const text = q % 2 === 0 && rows.length > 0 ? pick(rows)[2] : sentence(0);
    const k = pick([1, 5, 10, 25]);
    for (const [where, params] of filters) {
      const search = (hint: string) =>
        `SELECT id, DISTANCE(vec, EMBEDDING(?, '${MODEL}'), 'COSINE') AS d FROM t ${hint} ${where} ORDER BY DISTANCE(vec, EMBEDDING(?, '${MODEL}'), 'COSINE') LIMIT ${k}`;
      const args = [text, ...params, text];
      // One request, so the three see the same rows: the plan, the index's answer, the exact one.
      const [, [plan], viaIndex, exact] = await queryAll(
        server,
        `SET vidx_hnsw_ef_search = ${CHECK_EF_SEARCH}; EXPLAIN ${search('FORCE INDEX (vi)')}; ${search('FORCE INDEX (vi)')}; ${search('IGNORE INDEX (vi)')}`,
        [...args, ...args, ...args],
      );
      const path = /: (\S+) \(/.exec(String(plan[2]))?.[1] ?? 'none';
      figures.paths.set(path, (figures.paths.get(path) ?? 0) + 1);
      expect(viaIndex, `${path} answer for k=${k} ${where} differs from exact search (seed ${SEED})`).toEqual(exact);
    }
  }
}

describe('SIGKILL at random points of a mixed workload', () => {
  it(
    `keeps every acknowledged write, nothing half-done, and index answers equal to exact search (${KILLS} kills)`,
    async () => {
      console.log(`crash test: ${KILLS} kills, QUIVER_CRASH_SEED=${SEED}`);
      const dataDir = fs.mkdtempSync(path.join(tmpRoot, 'data-'));
      let server = await startServer({ dataDir, env: SERVER_ENV, timeoutMs: 30_000 });
      await query(
        server,
        `CREATE TABLE t (id INT PRIMARY KEY, grp INT NOT NULL, doc TEXT NOT NULL,
           vec VECTOR(100) AS (EMBEDDING(doc, '${MODEL}')) STORED, VECTOR INDEX vi(vec) m=8 distance=cosine)`,
      );
      const clients = Array.from({ length: CLIENTS }, (_, i) => new Client(i));
      const figures: CheckFigures = { rows: 0, inDoubtLanded: 0, inDoubtLost: 0, paths: new Map() };
      const rebuilds: string[] = [];
      const started = performance.now();

      for (let kill = 1; kill <= KILLS; kill++) {
        const lifeMs = random() < LONG_LIFE_CHANCE ? between(...LONG_LIFE_MS) : between(...SHORT_LIFE_MS);
        const victim = server;
        const timer = setTimeout(() => void victim.stop('SIGKILL'), lifeMs);
        await Promise.all(clients.map((c) => runUntilKilled(victim, c)));
        clearTimeout(timer);
        expect(await victim.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
        expect(victim.output().stderr, 'internal errors in the log').not.toMatch(/internal error/);

        server = await startServer({ dataDir, env: SERVER_ENV, timeoutMs: 30_000 });
        await checkRecovered(server, clients, figures);
        rebuilds.push(...server.output().stderr.split('\n').filter((line) => /rebuilding/.test(line)));
      }

      // A clean stop saves the index; the next start loads it and must agree just as well.
      expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      server = await startServer({ dataDir, env: SERVER_ENV, timeoutMs: 30_000 });
      await checkRecovered(server, clients, figures);
      expect(server.output().stderr).not.toMatch(/rebuilding/);
      await server.stop('SIGTERM');

      const acknowledged = new Map<string, number>();
      for (const c of clients) for (const [name, n] of c.acknowledged) acknowledged.set(name, (acknowledged.get(name) ?? 0) + n);
      console.log(
        `crash test: ${KILLS} kills in ${((performance.now() - started) / 1000).toFixed(1)} s; ${figures.rows} rows at the end; ` +
          `acknowledged ${JSON.stringify(Object.fromEntries(acknowledged))}; in flight at a kill: ${figures.inDoubtLanded} landed, ${figures.inDoubtLost} did not; ` +
          `checked index paths ${JSON.stringify(Object.fromEntries(figures.paths))}; index rebuilds after a kill: ${rebuilds.length}`,
      );
      // Index files are written atomically, manifest last: a kill never leaves one to distrust.
      expect(rebuilds, `index rebuilds after a kill (seed ${SEED})`).toEqual([]);
    },
    60_000 + KILLS * 20_000,
  );
});
