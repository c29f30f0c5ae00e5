/**
 * Failover under load, with real processes: 3 nats-server (JetStream, R3) and 3 Quiver nodes
 * on loopback. Writers insert rows with a vector and an EMBEDDING() column through any node
 * while the primary is SIGKILLed (and, in another case, the NATS server leading the log's
 * stream): every id answered 200 is on every surviving node, the nodes agree row for row at
 * the same log position, each node's vector index answers as an exact search over its own
 * rows, and the killed node comes back and catches up. The short form runs in `npm test`;
 * QUIVER_FAILOVER_KILLS=20 `npm run test:cluster:long` kills the primary that many times.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { killAllServers } from '../api/server-process.ts';
import { killAllNats, startNatsCluster, type NatsCluster } from './nats-cluster.ts';
import { clusterView, primaryOf, quiverNodes, rows, sql, waitFor, type QuiverNode } from './quiver-cluster.ts';

const KILLS = Number(process.env.QUIVER_FAILOVER_KILLS ?? 1);
const WRITERS = 8;
const DIMS = 8;
const STREAM = 'QUIVER_QUIVER_LOG';

let dir: string;
let nats: NatsCluster | null = null;

afterEach(async () => {
  await killAllServers();
  await nats?.stop();
  nats = null;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});
afterAll(async () => {
  await killAllServers();
  await killAllNats();
});

/** A vector from an id, the same wherever it is computed. */
function vectorOf(id: number): string {
  return `[${Array.from({ length: DIMS }, (_, k) => Math.sin(id * (k + 1))).join(',')}]`;
}

/** Writers inserting through random running nodes until stopped: the ids answered 200 (or 409: an earlier try of the same id landed). */
function startWriters(nodes: QuiverNode[]): { stop: () => Promise<Set<number>>; firstAckAfter: (t: number) => number | undefined } {
  const acked = new Set<number>();
  const ackTimes: number[] = [];
  let running = true;
  const writer = async (w: number) => {
    for (let i = 0; running; i++) {
      const id = w * 1_000_000 + i;
      for (let attempt = 0; attempt < 50 && running; attempt++) {
        const live = nodes.filter((n) => n.running);
        const node = live[Math.floor(Math.random() * live.length)];
        const a = await sql(node, 'INSERT INTO docs (id, writer, doc, v) VALUES (?, ?, ?, ?)', [id, w, `document ${id} from writer ${w}`, vectorOf(id)], {}, 20_000);
        if (a.status === 200 || (a.status === 409 && attempt > 0)) {
          acked.add(id);
          ackTimes.push(Date.now());
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const all = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w + 1)));
  return {
    stop: async () => {
      running = false;
      await all;
      return acked;
    },
    firstAckAfter: (t) => ackTimes.find((x) => x > t),
  };
}

/** Waits until every running node has applied the same position as the primary, and returns it. */
async function settled(nodes: QuiverNode[]): Promise<number> {
  let seen = '';
  return waitFor('every node caught up at one position', 60_000, async () => {
    const live = nodes.filter((n) => n.running);
    const views = await Promise.all(live.map((n) => clusterView(n)));
    seen = JSON.stringify(views);
    const mine = views.map((v, i) => v.find((x) => x.id === live[i].id));
    if (mine.some((m) => m === undefined)) throw new Error(`a node is missing from its own view: ${seen}`);
    const positions = new Set(mine.map((m) => m!.appliedPosition));
    return positions.size === 1 && mine.some((m) => m!.role === 'primary') && mine.every((m) => m!.caughtUp) ? mine[0]!.appliedPosition : undefined;
  });
}

/** Checks what the issue asks of the surviving nodes. */
async function checkNodes(nodes: QuiverNode[], acked: Set<number>): Promise<void> {
  const position = await settled(nodes).catch((e: unknown) => {
    throw new Error(`${String(e)}\n${nodes.map((n) => `--- ${n.id}:\n${n.output().split('\n').filter((l) => !l.startsWith('{')).slice(-30).join('\n')}`).join('\n')}`);
  });
  const live = nodes.filter((n) => n.running);
  const contents = await Promise.all(live.map((n) => rows(n, 'SELECT id, writer, doc, hex(v), hex(e) FROM docs ORDER BY id')));
  for (const [i, content] of contents.entries()) {
    const ids = content.map((r) => r[0] as number);
    expect(new Set(ids).size, `${live[i].id}: no duplicate rows`).toBe(ids.length);
    const missing = [...acked].filter((id) => !ids.includes(id));
    expect(missing, `${live[i].id}: every id answered 200 is there (position ${position})`).toEqual([]);
    expect(content, `${live[i].id} holds what ${live[0].id} holds`).toEqual(contents[0]);
    expect(content.every((r) => typeof r[4] === 'string' && (r[4] as string).length === 100 * 8)).toBe(true);
  }
  // /metrics tells the same: one primary, every node at the position.
  const metrics = await Promise.all(live.map(async (n) => (await fetch(`${n.url}/metrics`)).text()));
  expect(metrics.filter((m) => /^quiver_cluster_primary 1$/m.test(m))).toHaveLength(1);
  for (const m of metrics) expect(m).toMatch(new RegExp(`^quiver_cluster_applied_position ${position}$`, 'm'));
  const q = vectorOf(123_456_789);
  for (const n of live) {
    const viaIndex = await rows(n, `SELECT id FROM docs ORDER BY DISTANCE(v, '${q}', 'COSINE') LIMIT 10`);
    const exact = await rows(n, `SELECT id FROM docs IGNORE INDEX (docs_v) ORDER BY DISTANCE(v, '${q}', 'COSINE') LIMIT 10`);
    expect(viaIndex, `${n.id}: its index answers as an exact search over its rows`).toEqual(exact);
  }
}

async function startCluster(): Promise<QuiverNode[]> {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-failover-'));
  nats = await startNatsCluster({ size: 3, dir: path.join(dir, 'nats') });
  const nodes = await quiverNodes({ natsUrl: nats.natsUrl, size: 3, dir });
  await Promise.all(nodes.map((n) => n.start()));
  const primary = await primaryOf(nodes);
  const created = await sql(
    primary,
    `CREATE TABLE docs (id INTEGER PRIMARY KEY, writer INTEGER, doc TEXT, v VECTOR(${DIMS}), e VECTOR(100) AS (EMBEDDING(doc, 'quiver-local-100d')) STORED);
     CREATE VECTOR INDEX docs_v ON docs (v) DISTANCE = COSINE`,
  );
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  return nodes;
}

describe('failover on NATS JetStream', () => {
  test(`SIGKILL of the primary under 8 writers, ${KILLS} time(s): nothing answered 200 is lost, the nodes agree, the killed node catches up`, async () => {
    const nodes = await startCluster();
    const writers = startWriters(nodes);
    const pauses: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, 1500));
      const primary = await primaryOf(nodes);
      const killedAt = Date.now();
      await primary.kill('SIGKILL');
      await waitFor('a write after the kill', 60_000, async () => writers.firstAckAfter(killedAt + 1));
      pauses.push(writers.firstAckAfter(killedAt + 1)! - killedAt);
      console.log(`failover ${k + 1}: writes resumed ${pauses.at(-1)} ms after the primary's SIGKILL`);
      await primary.start();
    }
    await new Promise((r) => setTimeout(r, 1000));
    const acked = await writers.stop();
    expect(acked.size).toBeGreaterThan(50);
    // The aim is under 10 s (BENCHMARKS.md has the figures); here only that writes resume.
    expect(Math.max(...pauses)).toBeLessThan(60_000);
    await checkNodes(nodes, acked);
  }, 120_000 + KILLS * 60_000);

  test('SIGKILL of the NATS server leading the log stream, then of it and the primary: writes resume, nothing answered 200 is lost', async () => {
    const nodes = await startCluster();
    const writers = startWriters(nodes);
    await new Promise((r) => setTimeout(r, 1500));
    const leader = await nats!.streamLeader(STREAM);
    let killedAt = Date.now();
    await leader.kill('SIGKILL');
    await waitFor('a write after the stream leader died', 60_000, async () => writers.firstAckAfter(killedAt + 1));
    await leader.start();
    await new Promise((r) => setTimeout(r, 1000));
    const [leader2, primary] = await Promise.all([nats!.streamLeader(STREAM), primaryOf(nodes)]);
    killedAt = Date.now();
    await Promise.all([leader2.kill('SIGKILL'), primary.kill('SIGKILL')]);
    await waitFor('a write after both died', 60_000, async () => writers.firstAckAfter(killedAt + 1));
    await Promise.all([leader2.start(), primary.start()]);
    await new Promise((r) => setTimeout(r, 1000));
    const acked = await writers.stop();
    await checkNodes(nodes, acked);
  }, 240_000);
});
