/**
 * Crash recovery of the vector index with the real server: SIGKILL during a bulk insert and
 * during flushes, then a restart. Every acknowledged statement is there whole, nothing
 * unacknowledged is half there, and the index answers like exact search over the live rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkedFetch as fetch } from './contract/checked.ts';
import { killAllServers, startServer, type ServerProcess } from './server-process.ts';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-recovery-'));
afterAll(async () => {
  await killAllServers();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

const DIMS = 8;
const BATCH = 50;

async function sql(server: ServerProcess, statement: string, params?: unknown[]): Promise<{ status: number; body: { results?: { rows: unknown[][] }[] } }> {
  const res = await fetch(`${server.url}/v1/sql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params ? { sql: statement, params } : { sql: statement }),
  });
  return { status: res.status, body: (await res.json()) as { results?: { rows: unknown[][] }[] } };
}

/** The vector of row `id`: distinct per row, so each row is its own nearest neighbour. */
function vectorOf(id: number): number[] {
  return Array.from({ length: DIMS }, (_, i) => Math.sin(id * (i + 1) * 0.37) + (i === id % DIMS ? 2 : 0));
}

/** Inserts batches until the server dies; returns the ids of acknowledged batches. */
async function insertUntilKilled(server: ServerProcess, killAfterMs: number, firstId: number): Promise<Set<number>> {
  const acknowledged = new Set<number>();
  let killed: Promise<unknown> = Promise.resolve();
  const killer = setTimeout(() => {
    killed = server.stop('SIGKILL');
  }, killAfterMs);
  try {
    for (let start = firstId; ; start += BATCH) {
      const ids = Array.from({ length: BATCH }, (_, i) => start + i);
      let status: number;
      try {
        ({ status } = await sql(server, `INSERT INTO items VALUES ${ids.map(() => '(?, ?)').join(', ')}`, ids.flatMap((id) => [id, vectorOf(id)])));
      } catch {
        await killed; // the connection died with the server
        return acknowledged;
      }
      expect(status).toBe(200);
      for (const id of ids) acknowledged.add(id);
    }
  } finally {
    clearTimeout(killer);
  }
}

async function checkRecovered(server: ServerProcess, acknowledged: Set<number>): Promise<void> {
  const { body } = await sql(server, 'SELECT id FROM items');
  const present = new Set(body.results![0].rows.map((r) => r[0] as number));
  for (const id of acknowledged) expect(present.has(id)).toBe(true);
  // A statement is all or nothing: rows come in whole batches.
  expect(present.size % BATCH).toBe(0);
  // The index (forced, whatever the table size) finds every row sampled as its own nearest.
  const sample = [...present].filter((_, i) => i % 37 === 0);
  for (const id of sample) {
    const { body: found } = await sql(server, 'SELECT id FROM items FORCE INDEX (vi) ORDER BY VEC_DISTANCE(v, ?) LIMIT 1', [vectorOf(id)]);
    expect(found.results![0].rows[0][0]).toBe(id);
  }
  const { body: status } = await sql(server, 'SHOW INDEX STATUS');
  expect(status.results![0].rows[0][5]).toBe(present.size);
}

describe('kill -9 and restart', () => {
  it.each([
    ['during a bulk insert', { QUIVER_INDEX_FLUSH_ROWS: '100000' }, 700],
    ['during flushes', { QUIVER_INDEX_FLUSH_ROWS: '300' }, 1500],
  ])('%s: every committed row is searchable and nothing uncommitted appears', async (_name, env, killAfterMs) => {
    const dataDir = fs.mkdtempSync(path.join(tmpRoot, 'data-'));
    let server = await startServer({ dataDir, env });
    expect((await sql(server, `CREATE TABLE items (id INT PRIMARY KEY, v VECTOR(${DIMS}), VECTOR INDEX vi(v) m=8 distance=euclidean)`)).status).toBe(200);
    const acknowledged = await insertUntilKilled(server, killAfterMs, 1);
    expect(acknowledged.size).toBeGreaterThan(0);
    server = await startServer({ dataDir, env });
    await checkRecovered(server, acknowledged);
    // A second crash after more work, then a clean stop and start: still consistent.
    const more = await insertUntilKilled(server, 400, 1_000_000);
    server = await startServer({ dataDir, env });
    await checkRecovered(server, new Set([...acknowledged, ...more]));
    await server.stop('SIGTERM');
  });
});
