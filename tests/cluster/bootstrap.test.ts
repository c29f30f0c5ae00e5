/**
 * Bootstrap from a snapshot, with real processes: two nodes write past QUIVER_SNAPSHOT_EVERY, a
 * replica stores a snapshot in the cluster's object store and the log is purged up to it; then a
 * new node with an empty data dir, and a node whose data dir is behind the log's first message,
 * each restore the snapshot, replay the log from there, become ready and hold every row.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, expect, test } from 'vitest';
import { killAllServers } from '../api/server-process.ts';
import { killAllNats, startNatsCluster } from './nats-cluster.ts';
import { primaryOf, quiverNodes, rows, sql, waitFor } from './quiver-cluster.ts';

afterAll(async () => {
  await killAllServers();
  await killAllNats();
});

test('a new node and a node behind the purged log restore the snapshot and catch up', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-bootstrap-'));
  const nats = await startNatsCluster({ size: 3, dir: path.join(dir, 'nats') });
  const env = { QUIVER_SNAPSHOT_EVERY: '20' };
  const [q1, q2, q3, q4] = await quiverNodes({ natsUrl: nats.natsUrl, size: 4, dir, env });
  try {
    await Promise.all([q1.start(), q2.start(), q3.start()]);
    const primary = await primaryOf([q1, q2, q3]);
    expect((await sql(primary, "CREATE TABLE t (id INTEGER PRIMARY KEY, doc TEXT, e VECTOR(100) AS (EMBEDDING(doc, 'quiver-local-100d')) STORED)")).status).toBe(200);
    // One replica stops early, so its data dir will be behind the log's first message; the other takes the snapshots.
    const behind = [q1, q2, q3].filter((n) => n !== primary)[1];
    await behind.kill('SIGTERM');
    const live = [q1, q2, q3].filter((n) => n.running);
    for (let i = 1; i <= 60; i++) expect((await sql(primary, 'INSERT INTO t (id, doc) VALUES (?, ?)', [i, `row ${i}`])).status).toBe(200);

    const nc = await connect({ servers: nats.urls });
    try {
      const jsm = await jetstreamManager(nc);
      const first = await waitFor('the log purged up to a snapshot', 60_000, async () => {
        const { state } = await jsm.streams.info('QUIVER_QUIVER_LOG');
        return state.first_seq > 2 ? state.first_seq : undefined;
      }).catch((e: unknown) => {
        throw new Error(`${String(e)}\n${live.map((n) => `--- ${n.id}:\n${n.output().split('\n').filter((l) => !l.startsWith('{')).join('\n')}`).join('\n')}`);
      });
      expect(first).toBeGreaterThan(2);
    } finally {
      await nc.close();
    }
    const expected = await rows(primary, 'SELECT id, doc, hex(e) FROM t ORDER BY id');
    expect(expected).toHaveLength(60);

    await q4.start();
    await behind.start();
    for (const n of [q4, behind]) {
      await waitFor(`${n.id} ready`, 60_000, async () => ((await fetch(`${n.url}/ready`)).ok ? true : undefined));
      expect(await rows(n, 'SELECT id, doc, hex(e) FROM t ORDER BY id'), `${n.id} holds every row`).toEqual(expected);
      expect(n.output()).toMatch(/restored the snapshot of position/);
    }
    expect(behind.output()).toMatch(/its database is kept at/);
    expect(fs.readdirSync(dir).some((name) => name.startsWith(`${behind.id}.behind-`))).toBe(true);
    // Writes after the bootstrap reach the new nodes too.
    expect((await sql(q4, "INSERT INTO t (id, doc) VALUES (61, 'after')")).status).toBe(200);
    for (const n of [...live, q4, behind]) {
      await waitFor(`row 61 on ${n.id}`, 20_000, async () => ((await rows(n, 'SELECT count(*) FROM t'))[0][0] === 61 ? true : undefined));
    }
  } finally {
    await killAllServers();
    await nats.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 240_000);
