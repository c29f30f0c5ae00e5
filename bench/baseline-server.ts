/**
 * @module bench/baseline-server
 * The SQL benchmark's floor: the least a server can do to answer the same requests as Quiver's
 * `POST /v1/sql` on the same stack (Hono on @hono/node-server, better-sqlite3 with Quiver's
 * pragmas and vector functions). One route per workload runs that workload's SQL through a
 * statement prepared at startup and answers in Quiver's JSON shape. It deliberately does
 * nothing else — no parsing of the SQL, no catalog, no parameter checks — so the gap to Quiver
 * is what Quiver's front end costs. The database is created and loaded by `bench/sql.ts`
 * before this starts. Env: BASELINE_DATA_DIR, HOST, PORT (0 picks a free one); it prints
 * `Baseline listening on http://HOST:PORT (data: DIR)`.
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import { registerVectorFunctions } from '../src/sql/functions/vector-functions.ts';
import { BASELINE_DATABASE_FILE, vectorBlob } from './lib/dataset.ts';
import { WORKLOADS } from './lib/workloads.ts';

const dataDir = process.env.BASELINE_DATA_DIR;
if (!dataDir) {
  console.error('baseline: set BASELINE_DATA_DIR to the directory holding baseline.db');
  process.exit(1);
}
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 0);

// fileMustExist: a wrong dir must fail here, not serve an empty database.
const db = new Database(path.join(dataDir, BASELINE_DATABASE_FILE), { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
registerVectorFunctions(db);

/** A JSON array of numbers binds as a vector BLOB, as in Quiver; nothing else is converted. */
function bindable(value: unknown): unknown {
  return Array.isArray(value) ? vectorBlob(value as number[]) : value;
}

const app = new Hono();
for (const workload of WORKLOADS) {
  const stmt = db.prepare(workload.sql);
  const columns = stmt.reader ? stmt.columns().map((c) => c.name) : [];
  if (stmt.reader) stmt.raw(true);
  app.post(workload.route, async (c) => {
    const { params } = (await c.req.json()) as { params: unknown[] };
    const started = performance.now();
    const args = params.map(bindable);
    let result: { columns: string[]; rows: unknown[][]; changes: number; lastInsertId: number | null };
    if (stmt.reader) {
      result = { columns, rows: stmt.all(...args) as unknown[][], changes: 0, lastInsertId: null };
    } else {
      const info = stmt.run(...args);
      result = { columns, rows: [], changes: info.changes, lastInsertId: Number(info.lastInsertRowid) };
    }
    const timeMs = Math.round((performance.now() - started) * 1000) / 1000;
    return c.body(JSON.stringify({ results: [result], timeMs }), 200, { 'content-type': 'application/json' });
  });
}

const server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
  console.log(`Baseline listening on http://${host}:${info.port} (data: ${dataDir})`);
});

function shutdown(): void {
  server.close(() => {
    db.close();
    process.exit(0);
  });
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
