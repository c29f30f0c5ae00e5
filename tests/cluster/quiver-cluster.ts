/**
 * @module quiver-cluster
 * Real Quiver servers in cluster mode for end-to-end tests: each a child process
 * (../api/server-process.ts) with its own data dir and port, pointed at a NATS cluster
 * (nats-cluster.ts). A node can be killed (SIGKILL), paused (SIGSTOP) and started again on its
 * data dir. Helpers read the cluster's view (GET /v1/cluster) and send SQL to any node.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startServer, type ServerProcess } from '../api/server-process.ts';

export interface QuiverNode {
  id: string;
  url: string;
  dataDir: string;
  /** Starts the node (again) on its data dir and port; resolves once it has joined and listens. */
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  pause(): void;
  resume(): void;
  /** Whether its process runs (started and not killed). */
  readonly running: boolean;
  output(): string;
}

export interface NodeView {
  id: string;
  role: 'primary' | 'replica' | 'candidate' | 'starting';
  url: string;
  epoch: number;
  appliedPosition: number;
  lagMessages: number;
  caughtUp: boolean;
}

/** A free TCP port on loopback (bound and let go). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Makes `size` nodes q1..qN (not started), each with a data dir under `dir`. */
export async function quiverNodes(options: { natsUrl: string; size: number; dir: string; env?: Record<string, string>; first?: number }): Promise<QuiverNode[]> {
  const nodes: QuiverNode[] = [];
  for (let i = 0; i < options.size; i++) {
    const id = `q${(options.first ?? 1) + i}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dataDir = path.join(options.dir, id);
    fs.mkdirSync(dataDir, { recursive: true });
    let server: ServerProcess | null = null;
    let log = '';
    nodes.push({
      id,
      url,
      dataDir,
      async start() {
        server = await startServer({
          dataDir,
          timeoutMs: 60_000,
          env: {
            PORT: String(port),
            QUIVER_NATS_URL: options.natsUrl,
            QUIVER_NODE_ID: id,
            QUIVER_ADVERTISE_URL: url,
            QUIVER_READ_WORKERS: '1',
            QUIVER_LOG_LEVEL: 'warn',
            ...options.env,
          },
        });
      },
      async kill(signal = 'SIGKILL') {
        if (!server) return;
        const s = server;
        server = null;
        await s.stop(signal).catch(() => {});
        log += s.output().stdout + s.output().stderr;
      },
      pause() {
        server?.child.kill('SIGSTOP');
      },
      resume() {
        server?.child.kill('SIGCONT');
      },
      get running() {
        return server !== null;
      },
      output() {
        return log + (server ? server.output().stdout + server.output().stderr : '');
      },
    });
  }
  return nodes;
}

/** The cluster as `node` sees it. */
export async function clusterView(node: QuiverNode): Promise<NodeView[]> {
  const res = await fetch(`${node.url}/v1/cluster`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET /v1/cluster on ${node.id}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { nodes: NodeView[] }).nodes;
}

/** Polls `check` until it returns a value (not undefined), at most `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The primary, once the running nodes agree on one. */
export function primaryOf(nodes: QuiverNode[], timeoutMs = 30_000): Promise<QuiverNode> {
  return waitFor('a primary', timeoutMs, async () => {
    const from = nodes.find((n) => n.running)!;
    const view = await clusterView(from);
    const primary = view.find((v) => v.role === 'primary');
    return primary && nodes.find((n) => n.id === primary.id && n.running);
  });
}

export interface SqlAnswer {
  status: number;
  body: { results?: { columns: string[]; rows: unknown[][] }[]; code?: string; detail?: string };
  position: number | null;
  headers: Headers;
  /** How long the request took, in ms. */
  ms: number;
}

/** POST /v1/sql to `node`; network failures come back as status 0, a body that is not JSON as its text in `detail`. */
export async function sql(node: QuiverNode, text: string, params: unknown[] = [], headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<SqlAnswer> {
  const started = Date.now();
  try {
    const res = await fetch(`${node.url}/v1/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ sql: text, params }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const raw = await res.text();
    let body: SqlAnswer['body'];
    try {
      body = JSON.parse(raw) as SqlAnswer['body'];
    } catch {
      body = { detail: raw };
    }
    const position = res.headers.get('quiver-position');
    return { status: res.status, body, headers: res.headers, ms: Date.now() - started, position: position === null ? null : Number(position) };
  } catch (e) {
    return { status: 0, body: { detail: String(e) }, headers: new Headers(), ms: Date.now() - started, position: null };
  }
}

/** Rows of a statement that must succeed on `node`. */
export async function rows(node: QuiverNode, text: string, headers: Record<string, string> = {}): Promise<unknown[][]> {
  const answer = await sql(node, text, [], headers);
  if (answer.status !== 200) throw new Error(`${text} on ${node.id}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.results!.at(-1)!.rows;
}
