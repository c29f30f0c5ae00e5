/**
 * Cluster mode's promises, each tried on real processes (nats-server JetStream R3 and Quiver
 * servers on loopback, temp dirs):
 * - a zombie primary (SIGSTOPped past its lease, then SIGCONTed) steps down, commits nothing
 *   the others lack, forwards what it is sent, and catches up; a strong read sent to it at
 *   once sees what the new primary acknowledged; a write it was running when it stalled is
 *   fenced and lands once;
 * - read-your-writes: Quiver-Min-Position waits for the position (503 POSITION_NOT_REACHED with
 *   Retry-After when it cannot reach it in QUIVER_MIN_POSITION_WAIT_MS), even on a replica that
 *   was stopped while the write went elsewhere; Quiver-Consistency: strong reads from the
 *   primary; a bad header value is 400 naming the header;
 * - a transaction over NATS's 1 MiB message size (split into parts) reaches every node whole,
 *   and a primary SIGKILLed while such transactions run leaves each wholly present or wholly
 *   absent on every node, every one answered 200 present;
 * - bad states are clear errors, never a 500 or a hang: NATS unreachable at start, NATS lost
 *   while running (writes 503 + Retry-After in bounded time, reads go on, writes resume once
 *   NATS is back), a node id already in use, a data dir that followed another stream, config
 *   errors (the rest of them in tests/api/config.test.ts);
 * - SHOW CLUSTER STATUS lists the nodes; a single node refuses it. (GET /v1/cluster on a single
 *   node is 404: tests/api/openapi.test.ts.)
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { killAllServers, runServerToExit, startServer } from '../api/server-process.ts';
import { killAllNats, startNatsCluster, type NatsCluster } from './nats-cluster.ts';
import { clusterView, freePort, quiverNodes, sql, waitFor, type QuiverNode, type SqlAnswer } from './quiver-cluster.ts';

const STREAM = 'QUIVER_QUIVER_LOG';
const BUCKET = 'quiver_quiver';
const LEASE_MS = 2000;
const MIN_POSITION_WAIT_MS = 500;
const LOG_TIMEOUT_MS = 4000;

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await killAllServers();
  await killAllNats();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

type Answer = SqlAnswer;
const post = sql;

function show(a: Answer): string {
  return `${a.status} ${JSON.stringify(a.body).slice(0, 500)}`;
}

/** Sends a statement that must succeed (through any node: a write is forwarded). */
async function run(node: QuiverNode, text: string, params: unknown[] = []): Promise<Answer> {
  const a = await post(node, text, params);
  expect(a.status, `${text.slice(0, 80)} on ${node.id}: ${show(a)}`).toBe(200);
  return a;
}

/** The rows of `text` on `node` once it has applied `position`, waiting out 503 POSITION_NOT_REACHED (never a 200 before). */
async function rowsAt(node: QuiverNode, text: string, position: number, timeoutMs = 30_000): Promise<unknown[][]> {
  return waitFor(`${node.id} at position ${position}`, timeoutMs, async () => {
    const a = await post(node, text, [], { 'Quiver-Min-Position': String(position) });
    if (a.status === 503 && a.body.code === 'POSITION_NOT_REACHED') return undefined;
    if (a.status !== 200) throw new Error(`${text} on ${node.id}: ${show(a)}`);
    return a.body.results!.at(-1)!.rows;
  });
}

/** The node's own entry in its GET /v1/cluster (what it knows now, not its last heartbeat). */
async function selfView(node: QuiverNode, timeoutMs = 3000) {
  const res = await fetch(`${node.url}/v1/cluster`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET /v1/cluster on ${node.id}: ${res.status} ${await res.text()}`);
  const { nodes } = (await res.json()) as { nodes: Awaited<ReturnType<typeof clusterView>> };
  const me = nodes.find((n) => n.id === node.id);
  if (!me) throw new Error(`${node.id} is missing from its own GET /v1/cluster: ${JSON.stringify(nodes)}`);
  return me;
}

/** The plain (non-JSON) lines each node printed: what a failure message needs. */
function logs(nodes: QuiverNode[]): string {
  return nodes.map((n) => `--- ${n.id}:\n${n.output().split('\n').filter((l) => l && !l.startsWith('{')).slice(-25).join('\n')}`).join('\n');
}

interface Settled {
  primary: QuiverNode;
  replicas: QuiverNode[];
  position: number;
}

/**
 * Waits until the running nodes agree, twice in a row half a second apart: exactly one says it
 * is the primary, the others that they are replicas, all at the same applied position.
 */
async function settledCluster(nodes: QuiverNode[], timeoutMs = 60_000): Promise<Settled> {
  let seen = '';
  let candidate: string | undefined;
  try {
    return await waitFor('one primary, every node at one position', timeoutMs, async () => {
      const live = nodes.filter((n) => n.running);
      const selves = await Promise.all(live.map((n) => selfView(n)));
      seen = JSON.stringify(selves.map((s) => [s.id, s.role, s.epoch, s.appliedPosition]));
      const primaries = live.filter((_, i) => selves[i].role === 'primary');
      const ok = primaries.length === 1 && selves.every((s) => s.role === 'primary' || s.role === 'replica') && new Set(selves.map((s) => s.appliedPosition)).size === 1;
      const key = ok ? `${primaries[0].id}@${selves[0].appliedPosition}` : undefined;
      if (!ok || key !== candidate) {
        candidate = key;
        if (ok) await sleep(500);
        return undefined;
      }
      return { primary: primaries[0], replicas: live.filter((n) => n !== primaries[0]), position: selves[0].appliedPosition };
    });
  } catch (e) {
    throw new Error(`${String(e)}\nlast seen (id, role, epoch, applied): ${seen}\n${logs(nodes)}`);
  }
}

/** Starts any node that is not running (a test that failed half-way may have left one down or paused). */
async function allRunning(nodes: QuiverNode[]): Promise<void> {
  for (const n of nodes) n.resume();
  await Promise.all(nodes.filter((n) => !n.running).map((n) => n.start()));
}

/** Every running node holds the same rows for `text` (ordered), at the settled position. */
async function sameEverywhere(nodes: QuiverNode[], text: string): Promise<unknown[][]> {
  const { position } = await settledCluster(nodes);
  const live = nodes.filter((n) => n.running);
  const contents = await Promise.all(live.map((n) => rowsAt(n, text, position)));
  for (const [i, c] of contents.entries()) expect(c, `${live[i].id} holds what ${live[0].id} holds (${text})`).toEqual(contents[0]);
  return contents[0];
}

/** `count` rows of about `bytes` characters each, as (batch, i, body) parameters. */
function batchParams(batch: number, count: number, bytes: number): unknown[] {
  return Array.from({ length: count }, (_, i) => [batch, i, `${batch}:${i}:${randomBytes(bytes / 2).toString('hex')}`.slice(0, bytes)]).flat();
}

function insertBatchSql(table: string, count: number): string {
  return `INSERT INTO ${table} (batch, i, body) VALUES ${Array.from({ length: count }, () => '(?, ?, ?)').join(', ')}`;
}

// ---------------------------------------------------------------------------------------------

describe('a running cluster: 3 nats-server, 3 Quiver nodes, lease 2 s, log timeout 4 s', () => {
  let nats: NatsCluster;
  let nodes: QuiverNode[];

  beforeAll(async () => {
    const dir = tempDir('quiver-behaviour-');
    nats = await startNatsCluster({ size: 3, dir: path.join(dir, 'nats') });
    nodes = await quiverNodes({
      natsUrl: nats.natsUrl,
      size: 3,
      dir,
      env: { QUIVER_LEASE_MS: String(LEASE_MS), QUIVER_MIN_POSITION_WAIT_MS: String(MIN_POSITION_WAIT_MS), QUIVER_LOG_TIMEOUT_MS: String(LOG_TIMEOUT_MS) },
    });
    await Promise.all(nodes.map((n) => n.start()));
    await settledCluster(nodes);
  }, 120_000);

  // The next describe block has the machine to itself.
  afterAll(async () => {
    await Promise.all((nodes ?? []).map((n) => n.kill('SIGKILL')));
    await nats?.stop();
  });

  test('SHOW CLUSTER STATUS on a replica lists every node with its role and applied position', async () => {
    await allRunning(nodes);
    const { primary, replicas, position } = await settledCluster(nodes);
    const replica = replicas[0];
    // As of the last heartbeat (about a second old): wait until it has seen the settled state.
    const answer = await waitFor('SHOW CLUSTER STATUS with every node caught up', 15_000, async () => {
      const a = await post(replica, 'SHOW CLUSTER STATUS');
      if (a.status !== 200) throw new Error(show(a));
      const r = a.body.results![0].rows;
      return r.length === 3 && r.every((row) => row[4] === position && row[7] === 1) ? a : undefined;
    });
    const { columns, rows } = answer.body.results![0];
    expect(columns).toEqual(['id', 'role', 'url', 'epoch', 'applied_position', 'lag_messages', 'lag_seconds', 'caught_up', 'updated_at']);
    expect(rows.map((r) => r[0])).toEqual(['q1', 'q2', 'q3']);
    for (const r of rows) {
      const node = nodes.find((n) => n.id === r[0])!;
      expect(r[1]).toBe(node === primary ? 'primary' : 'replica');
      expect(r[2]).toBe(node.url);
      expect(r[3]).toBeTypeOf('number');
      expect(r[4]).toBe(position);
      expect(r[5]).toBe(0);
      expect(r[7]).toBe(1);
      expect(Number.isNaN(Date.parse(r[8] as string))).toBe(false);
    }
    // GET /v1/cluster on the same replica gives the same nodes and roles.
    const view = await clusterView(replica);
    expect(view.map((v) => [v.id, v.role])).toEqual(rows.map((r) => [r[0], r[1]]));
  }, 60_000);

  test('read-your-writes: Quiver-Min-Position, Quiver-Consistency: strong, bad header values', async () => {
    await allRunning(nodes);
    const { primary, replicas } = await settledCluster(nodes);
    await run(primary, 'CREATE TABLE ryw (id INTEGER PRIMARY KEY, v TEXT)');

    // (a) A write through a replica (forwarded) answers its position; every replica sent it as
    // Quiver-Min-Position answers with the row.
    const w = await run(replicas[0], "INSERT INTO ryw (id, v) VALUES (1, 'one')");
    expect(w.position, 'a write answers Quiver-Position').toBeGreaterThan(0);
    for (const r of replicas) {
      const a = await post(r, 'SELECT v FROM ryw WHERE id = 1', [], { 'Quiver-Min-Position': String(w.position) });
      expect(a.status, `${r.id}: ${show(a)}`).toBe(200);
      expect(a.body.results![0].rows).toEqual([['one']]);
      expect(a.position!).toBeGreaterThanOrEqual(w.position!);
    }

    // (b) A position far ahead: waits about QUIVER_MIN_POSITION_WAIT_MS, then 503 with Retry-After.
    const ahead = await post(replicas[1], 'SELECT v FROM ryw', [], { 'Quiver-Min-Position': String(w.position! + 1000) });
    expect(ahead.status, show(ahead)).toBe(503);
    expect(ahead.body.code).toBe('POSITION_NOT_REACHED');
    expect(ahead.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(ahead.ms).toBeGreaterThanOrEqual(MIN_POSITION_WAIT_MS - 50);
    expect(ahead.ms).toBeLessThan(MIN_POSITION_WAIT_MS + 2500);

    // (c) Quiver-Consistency: strong on a replica is answered by the primary: it sees the write
    // the primary acknowledged just before.
    for (let k = 2; k < 7; k++) {
      const wk = await run(primary, 'INSERT INTO ryw (id, v) VALUES (?, ?)', [k, `v${k}`]);
      const r = replicas[k % 2];
      const a = await post(r, 'SELECT v FROM ryw WHERE id = ?', [k], { 'Quiver-Consistency': 'strong' });
      expect(a.status, `${r.id}: ${show(a)}`).toBe(200);
      expect(a.body.results![0].rows, `strong read on ${r.id} right after the write at ${wk.position}`).toEqual([[`v${k}`]]);
      expect(a.position!).toBeGreaterThanOrEqual(wk.position!);
    }

    // (d) Bad header values: 400 BAD_REQUEST naming the header, on a replica and on the primary.
    for (const node of [replicas[0], primary]) {
      for (const [name, value] of [['Quiver-Min-Position', 'abc'], ['Quiver-Min-Position', '-1'], ['Quiver-Min-Position', '1.5'], ['Quiver-Consistency', 'maybe']]) {
        const a = await post(node, 'SELECT 1', [], { [name]: value });
        expect(a.status, `${name}: ${value} on ${node.id}: ${show(a)}`).toBe(400);
        expect(a.body.code).toBe('BAD_REQUEST');
        expect(a.body.detail).toContain(name);
      }
    }

    // (e) A replica held behind: stopped while the write goes to the primary, resumed, and read
    // at once with the write's position: it answers with the row (or 503, never without it).
    let waited = 0;
    for (let k = 10; k < 15; k++) {
      const r = replicas[k % 2];
      r.pause();
      let wk: Answer;
      try {
        wk = await run(primary, 'INSERT INTO ryw (id, v) VALUES (?, ?)', [k, `v${k}`]);
      } finally {
        r.resume();
      }
      for (;;) {
        const a = await post(r, 'SELECT v FROM ryw WHERE id = ?', [k], { 'Quiver-Min-Position': String(wk.position) });
        if (a.status === 503 && a.body.code === 'POSITION_NOT_REACHED') {
          waited++;
          expect(waited, 'the resumed replica reaches the position within a few tries').toBeLessThan(20);
          continue;
        }
        expect(a.status, `${r.id}: ${show(a)}`).toBe(200);
        expect(a.body.results![0].rows, `${r.id}, resumed, read at position ${wk.position}`).toEqual([[`v${k}`]]);
        break;
      }
    }
    console.log(`read-your-writes: ${waited} POSITION_NOT_REACHED answers while resumed replicas caught up`);
  }, 60_000);

  test('a 3 MiB transaction through a replica (over the 1 MiB message size): every node holds all of it', async () => {
    await allRunning(nodes);
    const { replicas } = await settledCluster(nodes);
    await run(replicas[0], 'CREATE TABLE big (batch INTEGER, i INTEGER, body TEXT, PRIMARY KEY (batch, i))');
    const params = batchParams(0, 30, 100_000);
    const expected = createHash('sha256');
    for (let i = 0; i < 30; i++) expected.update(params[3 * i + 2] as string);
    const w = await post(replicas[0], insertBatchSql('big', 30), params, {}, 60_000);
    expect(w.status, show(w)).toBe(200);
    console.log(`3 MB INSERT through a replica: ${w.ms} ms, position ${w.position}`);
    for (const n of nodes) {
      const [[count, bytes]] = await rowsAt(n, 'SELECT count(*), sum(length(body)) FROM big', w.position!);
      expect([n.id, count, bytes]).toEqual([n.id, 30, 3_000_000]);
      const bodies = await rowsAt(n, 'SELECT body FROM big ORDER BY i', w.position!);
      const hash = createHash('sha256');
      for (const [b] of bodies) hash.update(b as string);
      expect(hash.digest('hex'), `${n.id} holds the very bytes written`).toBe(expected.copy().digest('hex'));
    }
  }, 90_000);

  test('zombie primary: SIGSTOPped past its lease, then SIGCONTed, it steps down, commits nothing the others lack, and catches up', async () => {
    await allRunning(nodes);
    const { primary: old } = await settledCluster(nodes);
    await run(old, 'CREATE TABLE zombie (id INTEGER PRIMARY KEY, v TEXT)');
    await run(old, "INSERT INTO zombie (id, v) VALUES (1, 'before')");
    const others = nodes.filter((n) => n !== old);
    old.pause();
    const pausedAt = Date.now();
    // Sent the moment the primary stops, to a replica that still knows it as the primary: it is
    // forwarded there, and must be answered once the new primary is in place (or 503), waiting
    // at most about QUIVER_LOG_TIMEOUT_MS through the election, as the README promises.
    const early = post(others[0], "INSERT INTO zombie (id, v) VALUES (5, 'sent as the primary stopped')", [], {}, 60_000);
    let earlyAnswer: Answer | undefined;
    void early.then((a) => (earlyAnswer = a));
    const bound = LEASE_MS + LOG_TIMEOUT_MS + 3000;
    let answeredWhileStopped = false;
    try {
      const next = await waitFor('another node the primary', 30_000, async () => {
        for (const n of others) if ((await selfView(n)).role === 'primary') return n;
        return undefined;
      });
      console.log(`zombie: ${next.id} took over ${Date.now() - pausedAt} ms after ${old.id} was stopped`);
      const w2 = await post(next, "INSERT INTO zombie (id, v) VALUES (2, 'new primary')");
      expect(w2.status, show(w2)).toBe(200);
      // The other replica, once it has read the new lease (it reads it every QUIVER_LEASE_MS / 4).
      await sleep(LEASE_MS / 2);
      const replica = others.find((n) => n !== next)!;
      const w3 = await post(replica, "INSERT INTO zombie (id, v) VALUES (3, 'through a replica')", [], {}, 20_000);
      expect(w3.status, `${show(w3)}\n${logs(nodes)}`).toBe(200);
      // The old primary stays stopped until the early write is answered, or past the bound.
      await Promise.race([early, sleep(pausedAt + bound - Date.now())]);
    } finally {
      answeredWhileStopped = earlyAnswer !== undefined;
      old.resume();
    }
    // At once after SIGCONT: a strong read sent to the old primary must see what the new one acknowledged...
    const strong = await post(old, 'SELECT id FROM zombie WHERE id < 5 ORDER BY id', [], { 'Quiver-Consistency': 'strong' });
    // ...and a write sent to it is forwarded to the new primary (or fenced, then forwarded) and lands once.
    const direct = await post(old, "INSERT INTO zombie (id, v) VALUES (4, 'sent to the old primary')");
    const e = await early;
    console.log(`zombie: the write through ${others[0].id} sent as ${old.id} stopped answered ${e.status} ${e.body.code ?? ''} after ${e.ms} ms${answeredWhileStopped ? '' : `, once ${old.id} ran again`}`);
    expect.soft(answeredWhileStopped, `a write through ${others[0].id} sent as the primary stopped is answered within ${bound} ms, while the old primary is still stopped (it took ${e.ms} ms: ${show(e)})`).toBe(true);
    expect.soft([200, 503], show(e)).toContain(e.status);
    if (e.status === 503) expect.soft(e.body.code).toBe('NOT_PRIMARY');
    expect.soft(strong.status, show(strong)).toBe(200);
    expect.soft(strong.body.results?.[0].rows, `a strong read sent to ${old.id} right after SIGCONT sees ids 2 and 3, acknowledged by the new primary`).toEqual([[1], [2], [3]]);
    expect(direct.status, show(direct)).toBe(200);
    await waitFor(`${old.id} a replica`, 15_000, async () => ((await selfView(old)).role === 'replica' ? true : undefined));
    const content = await sameEverywhere(nodes, 'SELECT id, v FROM zombie ORDER BY id');
    const five = e.status === 200 ? [[5, 'sent as the primary stopped']] : content.filter((r) => r[0] === 5);
    expect(content).toEqual([[1, 'before'], [2, 'new primary'], [3, 'through a replica'], [4, 'sent to the old primary'], ...five]);
    const { primary } = await settledCluster(nodes);
    expect(primary).not.toBe(old);
    const me = await selfView(old);
    expect(me.role).toBe('replica');
    expect(me.caughtUp).toBe(true);
  }, 90_000);

  test('a zombie primary that finds the lease free on SIGCONT does not serve strong reads from its stale data', async () => {
    await allRunning(nodes);
    const { primary: old } = await settledCluster(nodes);
    await run(old, 'CREATE TABLE lapsed (id INTEGER PRIMARY KEY, v TEXT)');
    await run(old, "INSERT INTO lapsed (id, v) VALUES (1, 'before')");
    const others = nodes.filter((n) => n !== old);
    old.pause();
    let third: QuiverNode | undefined;
    try {
      const next = await waitFor('another node the primary', 30_000, async () => {
        for (const n of others) if ((await selfView(n)).role === 'primary') return n;
        return undefined;
      });
      const w = await post(next, "INSERT INTO lapsed (id, v) VALUES (2, 'acknowledged by the new primary')");
      expect(w.status, show(w)).toBe(200);
      // The third node stopped too, and the new primary stopped cleanly (it gives the lease up):
      // when the old primary runs again, the lease is free and it is the only node running.
      third = others.find((n) => n !== next)!;
      await rowsAt(third, 'SELECT 1', w.position!);
      third.pause();
      await next.kill('SIGTERM');
    } finally {
      old.resume();
    }
    // Whatever it does with the free lease, a strong read must not miss the acknowledged write.
    const reads: Answer[] = [];
    try {
      for (let k = 0; k < 5; k++) {
        reads.push(await post(old, 'SELECT id FROM lapsed ORDER BY id', [], { 'Quiver-Consistency': 'strong' }, 20_000));
        await sleep(LEASE_MS / 2);
      }
    } finally {
      third?.resume();
      await allRunning(nodes);
    }
    // And through the others, all running again: a strong read is the primary's.
    for (const n of nodes) reads.push(await post(n, 'SELECT id FROM lapsed ORDER BY id', [], { 'Quiver-Consistency': 'strong' }, 20_000));
    const stale = reads.filter((a) => a.status === 200 && JSON.stringify(a.body.results![0].rows) !== JSON.stringify([[1], [2]]));
    expect.soft(stale.map(show), `strong reads that miss the write the new primary acknowledged\n${logs(nodes)}`).toEqual([]);
    for (const a of reads) expect.soft([200, 503], show(a)).toContain(a.status);
    // A write: a primary with stale data is fenced by the log, catches up and takes it.
    const w3 = await post(old, "INSERT INTO lapsed (id, v) VALUES (3, 'after')");
    expect(w3.status, show(w3)).toBe(200);
    const content = await sameEverywhere(nodes, 'SELECT id, v FROM lapsed ORDER BY id');
    expect(content).toEqual([[1, 'before'], [2, 'acknowledged by the new primary'], [3, 'after']]);
  }, 90_000);

  test('zombie primary with a write in flight: SIGSTOPped while the write runs, it is fenced on SIGCONT and the write lands once', async () => {
    await allRunning(nodes);
    const { primary: old } = await settledCluster(nodes);
    await run(old, 'CREATE TABLE inflight (id INTEGER PRIMARY KEY, v TEXT)');
    // About a second of work before the commit: the stop comes while it runs (or, on a fast
    // machine, after its append; either way it must land exactly once).
    const slow = "INSERT INTO inflight (id, v) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000) SELECT 1, 'counted ' || count(*) FROM c";
    const stepDowns = () => old.output().match(/steps down as primary: .*/g) ?? [];
    const before = stepDowns().length;
    const pending = post(old, slow, [], {}, 60_000);
    await sleep(300);
    old.pause();
    const pausedAt = Date.now();
    const others = nodes.filter((n) => n !== old);
    try {
      const next = await waitFor('another node the primary', 30_000, async () => {
        for (const n of others) if ((await selfView(n)).role === 'primary') return n;
        return undefined;
      });
      await run(next, "INSERT INTO inflight (id, v) VALUES (2, 'new primary')");
    } finally {
      old.resume();
    }
    const stoppedMs = Date.now() - pausedAt;
    const a = await pending;
    expect(a.status, show(a)).toBe(200);
    await waitFor(`${old.id} a replica`, 15_000, async () => ((await selfView(old)).role === 'replica' ? true : undefined));
    console.log(
      `in-flight write: answered ${a.status} in ${a.ms} ms (its primary was stopped ${stoppedMs} ms of it); ${old.id} then ${stepDowns().slice(before).join('; ') || 'did not step down by itself'}`,
    );
    const content = await sameEverywhere(nodes, 'SELECT id, v FROM inflight ORDER BY id');
    expect(content).toEqual([[1, 'counted 1500000'], [2, 'new primary']]);
  }, 120_000);

  test('the primary SIGKILLed while 2 MiB transactions run: on every node each is wholly there or wholly absent, every one answered 200 there', async () => {
    await allRunning(nodes);
    const { primary: old, replicas } = await settledCluster(nodes);
    const ROWS = 24;
    const BYTES = 100_000;
    await run(old, 'CREATE TABLE big2 (batch INTEGER, i INTEGER, body TEXT, PRIMARY KEY (batch, i))');
    let nextBatch = 1;
    let running = true;
    const answers: { batch: number; node: string; status: number; code?: string; at: number }[] = [];
    const writer = async (pick: () => QuiverNode) => {
      while (running) {
        const node = pick();
        const batch = nextBatch++;
        const a = await post(node, insertBatchSql('big2', ROWS), batchParams(batch, ROWS, BYTES), {}, 60_000);
        answers.push({ batch, node: node.id, status: a.status, code: a.body.code, at: Date.now() });
        if (a.status !== 200) await sleep(100);
      }
    };
    const live = () => nodes.filter((n) => n.running);
    // One writer straight at the primary (then at any node once it is dead), one through a replica.
    const writers = Promise.all([writer(() => (old.running ? old : live()[Math.floor(Math.random() * live().length)])), writer(() => replicas[0])]);
    let killedAt = 0;
    try {
      await waitFor('3 batches acknowledged before the kill', 30_000, async () => (answers.filter((a) => a.status === 200).length >= 3 ? true : undefined));
      killedAt = Date.now();
      await old.kill('SIGKILL');
      await waitFor('2 batches acknowledged after the kill', 60_000, async () => (answers.filter((a) => a.status === 200 && a.at > killedAt).length >= 2 ? true : undefined));
    } finally {
      running = false;
      await writers;
    }
    await old.start();
    const acked = answers.filter((a) => a.status === 200).map((a) => a.batch);
    const firstAfter = Math.min(...answers.filter((a) => a.status === 200 && a.at > killedAt).map((a) => a.at));
    console.log(
      `large batches: ${answers.length} sent, ${acked.length} answered 200; writes resumed ${firstAfter - killedAt} ms after the kill; others: ${JSON.stringify(answers.filter((a) => a.status !== 200).map((a) => [a.batch, a.node, a.status, a.code]))}`,
    );
    const perBatch = await sameEverywhere(nodes, 'SELECT batch, count(*), sum(length(body)) FROM big2 GROUP BY batch ORDER BY batch');
    for (const [batch, count, bytes] of perBatch) expect([batch, count, bytes], `batch ${batch} is whole`).toEqual([batch, ROWS, ROWS * BYTES]);
    const present = new Set(perBatch.map((r) => r[0] as number));
    expect(acked.filter((b) => !present.has(b)), 'every batch answered 200 is there').toEqual([]);
    console.log(`large batches present: ${present.size} (of ${answers.length} sent)`);
  }, 150_000);
});

// ---------------------------------------------------------------------------------------------

describe('bad states with NATS: 3 nats-server, 2 Quiver nodes', () => {
  let nats: NatsCluster;
  let nodes: QuiverNode[];
  let dir: string;

  beforeAll(async () => {
    dir = tempDir('quiver-bad-states-');
    nats = await startNatsCluster({ size: 3, dir: path.join(dir, 'nats') });
    nodes = await quiverNodes({ natsUrl: nats.natsUrl, size: 2, dir, env: { QUIVER_LOG_TIMEOUT_MS: '2000', QUIVER_LEASE_MS: String(LEASE_MS) } });
    await Promise.all(nodes.map((n) => n.start()));
    await settledCluster(nodes);
  }, 120_000);

  // The next describe block has the machine to itself.
  afterAll(async () => {
    await Promise.all((nodes ?? []).map((n) => n.kill('SIGKILL')));
    await nats?.stop();
  });

  /** The environment `node` runs with, for starting it (or an impostor) with runServerToExit. */
  function envOf(node: QuiverNode, overrides: Record<string, string> = {}): Record<string, string> {
    return {
      HOST: '127.0.0.1',
      PORT: new URL(node.url).port,
      QUIVER_DATA_DIR: node.dataDir,
      QUIVER_NATS_URL: nats.natsUrl,
      QUIVER_NODE_ID: node.id,
      QUIVER_ADVERTISE_URL: node.url,
      QUIVER_DISK_RESERVE_MB: '1',
      QUIVER_NATS_CONNECT_TIMEOUT_MS: '15000',
      ...overrides,
    };
  }

  test('a second node with the same QUIVER_NODE_ID (another data dir) exits 1 saying the id is in use', async () => {
    await allRunning(nodes);
    await settledCluster(nodes);
    const impostorDir = path.join(dir, 'impostor');
    const port = await freePort();
    const started = Date.now();
    const exit = await runServerToExit(envOf(nodes[0], { PORT: String(port), QUIVER_DATA_DIR: impostorDir, QUIVER_ADVERTISE_URL: `http://127.0.0.1:${port}` }), 40_000);
    expect({ code: exit.code, signal: exit.signal }, exit.stderr).toEqual({ code: 1, signal: null });
    expect(exit.stderr).toMatch(/node id q1 is in use by a running node at http:\/\/127\.0\.0\.1:\d+/);
    expect(exit.stderr).toContain('QUIVER_NODE_ID');
    expect(exit.stdout).not.toContain('Quiver listening');
    console.log(`same node id: exited in ${Date.now() - started} ms`);
    // The running q1 keeps its place: the cluster still shows it at its own URL.
    const view = await clusterView(nodes[1]);
    expect(view.find((v) => v.id === 'q1')?.url).toBe(nodes[0].url);
  }, 60_000);

  test('NATS lost while running: writes 503 with Retry-After in bounded time, reads go on; writes resume once NATS is back', async () => {
    await allRunning(nodes);
    const { primary, replicas } = await settledCluster(nodes);
    await run(primary, 'CREATE TABLE lost (id INTEGER PRIMARY KEY, v TEXT)');
    const w = await run(replicas[0], "INSERT INTO lost (id, v) VALUES (1, 'a'), (2, 'b')");
    for (const n of nodes) expect(await rowsAt(n, 'SELECT count(*) FROM lost', w.position!)).toEqual([[2]]);

    await Promise.all(nats.servers.map((s) => s.kill('SIGKILL')));
    const lostAt = Date.now();
    const timings: string[] = [];
    let restartAt = 0;
    try {
      // Right away, and again once the lease would have expired.
      for (const round of [0, 1]) {
        if (round === 1) await sleep(LEASE_MS + 1000);
        for (const n of nodes) {
          const a = await post(n, 'INSERT INTO lost (id, v) VALUES (?, ?)', [100 + round * 10 + nodes.indexOf(n), 'x'], {}, 30_000);
          expect(a.status, `write on ${n.id} (round ${round}): ${show(a)}`).toBe(503);
          expect(['LOG_UNAVAILABLE', 'NOT_PRIMARY']).toContain(a.body.code);
          expect(a.headers.get('retry-after'), `Retry-After on ${n.id}`).toMatch(/^\d+$/);
          // QUIVER_LOG_TIMEOUT_MS is 2000: the answer comes within a few seconds, never hangs.
          expect(a.ms, `write on ${n.id} (round ${round}) answered in ${a.ms} ms`).toBeLessThan(6000);
          const r = await post(n, 'SELECT id, v FROM lost ORDER BY id');
          expect(r.status, `read on ${n.id}: ${show(r)}`).toBe(200);
          expect(r.body.results![0].rows).toEqual([[1, 'a'], [2, 'b']]);
          expect(r.ms).toBeLessThan(3000);
          if (round === 1) {
            timings.push(`${n.id} round ${round}: write ${a.status} ${a.body.code} ${a.ms} ms, read ${r.ms} ms`);
            continue;
          }
          // What the cluster looks like cannot be read from NATS: a clear 503, in bounded time.
          const started = Date.now();
          const c = await fetch(`${n.url}/v1/cluster`, { signal: AbortSignal.timeout(20_000) }).catch((e: unknown) => e as Error);
          const ms = Date.now() - started;
          expect(c instanceof Response ? c.status : String(c), `GET /v1/cluster on ${n.id} without NATS`).toBe(503);
          expect(ms, `GET /v1/cluster on ${n.id} answered in ${ms} ms`).toBeLessThan(8000);
          timings.push(`${n.id} round ${round}: write ${a.status} ${a.body.code} ${a.ms} ms, read ${r.ms} ms, GET /v1/cluster ${ms} ms`);
        }
      }
    } finally {
      restartAt = Date.now();
      await Promise.all(nats.servers.map((s) => (s.isRunning ? undefined : s.start())));
    }
    const backAt = Date.now();
    console.log(`NATS was down ${backAt - lostAt} ms (restarting it took ${backAt - restartAt} ms): ${timings.join('; ')}`);
    const resumed = await Promise.all(
      nodes.map((n, i) =>
        waitFor(`a write through ${n.id} after NATS came back`, 60_000, async () => {
          const a = await post(n, 'INSERT INTO lost (id, v) VALUES (?, ?)', [1000 + i, `after ${n.id}`]);
          return a.status === 200 ? Date.now() - backAt : undefined;
        }).catch((e: unknown) => {
          throw new Error(`${String(e)}\n${logs(nodes)}`);
        }),
      ),
    );
    console.log(`writes resumed ${resumed.join(' and ')} ms after NATS was back`);
    const content = await sameEverywhere(nodes, 'SELECT id, v FROM lost ORDER BY id');
    expect(content).toEqual([[1, 'a'], [2, 'b'], [1000, 'after q1'], [1001, 'after q2']]);
  }, 150_000);

  test("a data dir that followed another stream (the log deleted and made again) exits 1 saying it belongs to another cluster's log", async () => {
    await Promise.all(nats.servers.map((s) => (s.isRunning ? undefined : s.start())));
    await allRunning(nodes);
    await settledCluster(nodes);
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
    const nc = await connect({ servers: nats.urls });
    try {
      const jsm = await jetstreamManager(nc);
      expect(await jsm.streams.delete(STREAM)).toBe(true);
      const kv = await new Kvm(nc).open(BUCKET);
      expect(await kv.destroy()).toBe(true);
    } finally {
      await nc.close();
    }
    const exits = await Promise.all(nodes.map((n) => runServerToExit(envOf(n), 40_000)));
    for (const [i, exit] of exits.entries()) {
      expect({ code: exit.code, signal: exit.signal }, exit.stderr).toEqual({ code: 1, signal: null });
      expect(exit.stderr).toContain(`the data dir ${nodes[i].dataDir} follows the log ${STREAM}@`);
      expect(exit.stderr).toContain('belongs to another cluster');
      expect(exit.stdout).not.toContain('Quiver listening');
    }
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------

describe.concurrent('bad states without a cluster', () => {
  test('NATS unreachable at start: exits 1 naming QUIVER_NATS_URL within QUIVER_NATS_CONNECT_TIMEOUT_MS', async () => {
    const port = await freePort();
    const started = Date.now();
    const exit = await runServerToExit(
      {
        HOST: '127.0.0.1',
        PORT: '0',
        QUIVER_DATA_DIR: path.join(tempDir('quiver-no-nats-'), 'data'),
        QUIVER_NATS_URL: `nats://127.0.0.1:${port}`,
        QUIVER_NODE_ID: 'q1',
        QUIVER_ADVERTISE_URL: 'http://127.0.0.1:1',
        QUIVER_NATS_CONNECT_TIMEOUT_MS: '1500',
        QUIVER_DISK_RESERVE_MB: '1',
      },
      30_000,
    );
    const ms = Date.now() - started;
    expect({ code: exit.code, signal: exit.signal }, exit.stderr).toEqual({ code: 1, signal: null });
    expect(exit.stderr).toContain(`cannot reach NATS at nats://127.0.0.1:${port} (QUIVER_NATS_URL)`);
    expect(exit.stderr).toContain('QUIVER_NATS_CONNECT_TIMEOUT_MS');
    expect(exit.stdout).not.toContain('Quiver listening');
    // 1.5 s of trying, plus the process's own start.
    expect(ms).toBeLessThan(20_000);
  }, 40_000);

  test('QUIVER_NATS_URL without QUIVER_NODE_ID and QUIVER_ADVERTISE_URL: exits 1 naming them', async () => {
    const exit = await runServerToExit(
      { HOST: '127.0.0.1', PORT: '0', QUIVER_DATA_DIR: path.join(tempDir('quiver-no-id-'), 'data'), QUIVER_NATS_URL: 'nats://127.0.0.1:4222', QUIVER_NODE_ID: '', QUIVER_ADVERTISE_URL: '' },
      30_000,
    );
    expect({ code: exit.code, signal: exit.signal }, exit.stderr).toEqual({ code: 1, signal: null });
    expect(exit.stderr).toContain('invalid configuration');
    expect(exit.stderr).toContain('QUIVER_NODE_ID=""');
    expect(exit.stderr).toContain('QUIVER_ADVERTISE_URL=""');
    expect(exit.stdout).not.toContain('Quiver listening');
  }, 40_000);

  test('a single node refuses SHOW CLUSTER STATUS (400 UNSUPPORTED_STATEMENT) and answers without Quiver-Position', async () => {
    const server = await startServer({ dataDir: path.join(tempDir('quiver-single-'), 'data'), timeoutMs: 40_000 });
    try {
      const res = await fetch(`${server.url}/v1/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SHOW CLUSTER STATUS' }) });
      const body = (await res.json()) as { code: string; detail: string };
      expect(res.status).toBe(400);
      expect(body.code).toBe('UNSUPPORTED_STATEMENT');
      expect(body.detail).toContain('single node');
      expect(res.headers.get('quiver-position')).toBeNull();
    } finally {
      await server.stop();
    }
  }, 40_000);
});
