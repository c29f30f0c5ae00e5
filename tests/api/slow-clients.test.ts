/**
 * Slow clients cost only themselves (issue 20, item 5), with real server processes. Hundreds of
 * connections from one address (127.0.0.2) and one read key trickle request bodies one byte a
 * second, in several shapes (a Content-Length body to /v1/sql and to /v1/chat, a chunked body,
 * headers and then nothing), while an admin key on another address (127.0.0.1) runs `SELECT 1`
 * back to back and times each answer. The trickling requests hold no admission slot until their
 * body has arrived, so with more of them than QUIVER_MAX_CONCURRENT_REQUESTS the admin is still
 * answered 200, p99 under LATENCY_BOUND_MS (100 ms) and each under LATENCY_MAX_MS; each trickling request is answered 408 BODY_TIMEOUT
 * naming QUIVER_BODY_TIMEOUT_MS once the body deadline passes, and its connection is closed.
 * With QUIVER_MAX_CONNECTIONS_PER_CLIENT below the number of connections, the ones past it are
 * answered 503 OVERLOADED at once and closed, and other addresses are served as before.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, loadConfig } from '../../src/api/index.ts';
import type { SqlEngine } from '../../src/api/index.ts';
import { killAllServers, startServer } from './server-process.ts';
import type { ServerProcess } from './server-process.ts';

const READ_KEY = 'r'.repeat(40);
const ADMIN_KEY = 'a'.repeat(40);
const KEYS = `reader:read:${READ_KEY},ops:admin:${ADMIN_KEY}`;
/** The trickling clients' address; the timed client uses 127.0.0.1 (Linux routes all of 127/8 to loopback). */
const SLOW_ADDRESS = '127.0.0.2';
const CONNECTIONS = 300;
const BODY_TIMEOUT_MS = 3000;
/** Fewer slots than trickling connections: before the fix, every admin request answered 503. */
const MAX_CONCURRENT = 64;
/** The bound on the timed `SELECT 1`s' p99, on a 2-core machine (measured: p99 13-62 ms, p50 about 3.5 ms). */
const LATENCY_BOUND_MS = 100;
/** The bound on every one of them: a stall behind the tricklers would take seconds. */
const LATENCY_MAX_MS = 250;
/** How late after the body deadline a trickling request may be answered. */
const DEADLINE_SLACK_MS = 1500;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-slow-'));
const sockets = new Set<net.Socket>();
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await killAllServers();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

type Shape = 'sql' | 'chat' | 'chunked' | 'silent';
const SHAPES: readonly Shape[] = ['sql', 'chat', 'chunked', 'silent'];

interface Ending {
  shape: Shape;
  status: number;
  /** The raw answer after its status line. */
  text: string;
  /** From the end of the request's headers to the answer's first byte, in ms. */
  answeredMs: number;
  /** The server closed the connection (its FIN or a reset), not the client. */
  closedByServer: boolean;
}

interface Trickler {
  /** Resolves once the connection is open. */
  connected: Promise<void>;
  /** Resolves once the request's headers are sent. */
  sent: Promise<void>;
  ended: Promise<Ending>;
}

function requestHead(shape: Shape): string {
  const target = shape === 'chat' ? '/v1/chat' : '/v1/sql';
  const length = shape === 'chunked' ? 'Transfer-Encoding: chunked' : 'Content-Length: 100';
  return `POST ${target} HTTP/1.1\r\nHost: quiver\r\nAuthorization: Bearer ${READ_KEY}\r\nContent-Type: application/json\r\n${length}\r\n\r\n`;
}

/**
 * One connection from SLOW_ADDRESS sending, once `go` resolves, a 100-byte body one byte a
 * second (or nothing, for 'silent').
 */
function trickle(port: number, shape: Shape, go: Promise<void> = Promise.resolve()): Trickler {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: SLOW_ADDRESS });
  sockets.add(socket);
  let headersAt = 0;
  let answeredAt = 0;
  let received = '';
  let timer: NodeJS.Timeout | undefined;
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => resolve());
  });
  const sent = new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    void Promise.all([connected, go]).then(() => {
      socket.write(requestHead(shape), () => {
        headersAt = performance.now();
        resolve();
      });
      if (shape === 'silent') return;
      timer = setInterval(() => {
        if (!socket.writable) return;
        socket.write(shape === 'chunked' ? '1\r\n \r\n' : ' ');
      }, 1000);
    });
  });
  const ended = new Promise<Ending>((resolve) => {
    let clientClosing = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (received === '') answeredAt = performance.now();
      received += chunk;
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearInterval(timer);
      sockets.delete(socket);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
      resolve({ shape, status, text: received, answeredMs: answeredAt - headersAt, closedByServer: !clientClosing });
    });
    // A connection the server leaves open is closed here, long after any deadline, and fails the test.
    setTimeout(() => {
      clientClosing = true;
      socket.destroy();
    }, BODY_TIMEOUT_MS * 4).unref();
  });
  return { connected, sent, ended };
}

async function timedSelects(server: ServerProcess, until: () => boolean): Promise<number[]> {
  const times: number[] = [];
  while (!until()) {
    const started = performance.now();
    const res = await fetch(`${server.url}/v1/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ sql: 'SELECT 1 AS one' }),
    });
    const body = await res.text();
    times.push(performance.now() - started);
    expect(res.status, body).toBe(200);
    await new Promise((r) => setTimeout(r, 10));
  }
  return times;
}

/** The status of a read key's `SELECT 2` sent from `localAddress`. */
function selectFrom(port: number, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ sql: 'SELECT 2 AS two' });
    const req = http.request(
      { host: '127.0.0.1', port, localAddress, method: 'POST', path: '/v1/sql', agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${READ_KEY}`, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(times: readonly number[]): string {
  const round = (n: number) => Math.round(n * 10) / 10;
  return `${times.length} SELECT 1: p50 ${round(percentile(times, 50))} ms, p99 ${round(percentile(times, 99))} ms, max ${round(Math.max(...times))} ms`;
}

async function start(env: Record<string, string>): Promise<ServerProcess> {
  return startServer({
    dataDir: fs.mkdtempSync(path.join(tmpRoot, 'data-')),
    env: { QUIVER_API_KEYS: KEYS, QUIVER_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS), QUIVER_MAX_CONCURRENT_REQUESTS: String(MAX_CONCURRENT), ...env },
  });
}

const portOf = (server: ServerProcess) => Number(new URL(server.url).port);

describe('slow clients', () => {
  it(`${CONNECTIONS} trickling bodies from one address hold no slot: another key's SELECT 1 stays fast, and each trickler gets 408 at the body deadline`, async () => {
    const server = await start({ QUIVER_MAX_CONNECTIONS_PER_CLIENT: '1000' });
    const port = portOf(server);
    // Warm the timed client's connection and the engine before the flood.
    await timedSelects(server, ((n) => () => n-- <= 0)(5));

    const tricklers = Array.from({ length: CONNECTIONS }, (_, i) => trickle(port, SHAPES[i % SHAPES.length]));
    await Promise.all(tricklers.map((t) => t.sent));
    const floodStarted = performance.now();
    // Timed while every trickler is still sending, up to shortly before the deadline.
    const times = await timedSelects(server, () => performance.now() - floodStarted > BODY_TIMEOUT_MS - 500);
    const endings = await Promise.all(tricklers.map((t) => t.ended));
    console.log(`slow bodies: ${summary(times)} beside ${CONNECTIONS} trickling connections`);

    expect(times.length).toBeGreaterThan(20);
    expect(percentile(times, 99)).toBeLessThan(LATENCY_BOUND_MS);
    expect(Math.max(...times)).toBeLessThan(LATENCY_MAX_MS);
    for (const ending of endings) {
      expect(ending.status, `${ending.shape}: ${ending.text}`).toBe(408);
      expect(ending.text).toContain('"code":"BODY_TIMEOUT"');
      expect(ending.text).toContain('QUIVER_BODY_TIMEOUT_MS');
      expect(ending.text.toLowerCase()).toContain('connection: close');
      expect(ending.closedByServer).toBe(true);
      expect(ending.answeredMs).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
      expect(ending.answeredMs).toBeLessThan(BODY_TIMEOUT_MS + DEADLINE_SLACK_MS);
    }
    const late = Math.max(...endings.map((e) => e.answeredMs));
    console.log(`slow bodies: every trickler answered 408 by ${Math.round(late)} ms after its headers (deadline ${BODY_TIMEOUT_MS} ms)`);

    // The slow address is served again once its connections are gone.
    expect(await selectFrom(port, SLOW_ADDRESS)).toBe(200);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('refuses connections past QUIVER_MAX_CONNECTIONS_PER_CLIENT from one address with 503, and serves other addresses', async () => {
    const perClient = 50;
    const server = await start({ QUIVER_MAX_CONNECTIONS_PER_CLIENT: String(perClient) });
    const port = portOf(server);
    await timedSelects(server, ((n) => () => n-- <= 0)(5));

    // All connect first, then send, so every connection is counted before any is answered.
    let go!: () => void;
    const ready = new Promise<void>((resolve) => (go = resolve));
    const tricklers = Array.from({ length: CONNECTIONS }, () => trickle(port, 'sql', ready));
    await Promise.all(tricklers.map((t) => t.connected));
    go();
    await Promise.all(tricklers.map((t) => t.sent));
    const floodStarted = performance.now();
    const times = await timedSelects(server, () => performance.now() - floodStarted > BODY_TIMEOUT_MS - 500);
    const endings = await Promise.all(tricklers.map((t) => t.ended));
    console.log(`connections per client: ${summary(times)} beside ${CONNECTIONS} connections from one address (${perClient} allowed)`);

    expect(percentile(times, 99)).toBeLessThan(LATENCY_BOUND_MS);
    expect(Math.max(...times)).toBeLessThan(LATENCY_MAX_MS);
    const refused = endings.filter((e) => e.status === 503);
    const timedOut = endings.filter((e) => e.status === 408);
    expect(refused.length + timedOut.length).toBe(CONNECTIONS);
    expect(timedOut.length).toBe(perClient);
    for (const ending of refused) {
      expect(ending.text).toContain('"code":"OVERLOADED"');
      expect(ending.text).toContain('QUIVER_MAX_CONNECTIONS_PER_CLIENT');
      expect(ending.text.toLowerCase()).toContain('retry-after: 1');
      expect(ending.closedByServer).toBe(true);
      expect(ending.answeredMs).toBeLessThan(1000);
    }
    for (const ending of timedOut) {
      expect(ending.closedByServer).toBe(true);
      expect(ending.answeredMs).toBeLessThan(BODY_TIMEOUT_MS + DEADLINE_SLACK_MS);
    }
    console.log(`connections per client: ${refused.length} refused 503 at once, ${timedOut.length} answered 408 at the body deadline`);

    // Every connection is closed now: the address has its whole share back.
    expect(await selectFrom(port, SLOW_ADDRESS)).toBe(200);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('the body deadline in the app', () => {
  const dataDir = fs.mkdtempSync(path.join(tmpRoot, 'app-'));
  let executed = 0;
  const engine: SqlEngine = {
    isOpen: true,
    execute: async () => {
      executed++;
      return { results: [{ columns: ['1'], rows: [[1]], changes: 0, lastInsertId: null }] };
    },
  } as unknown as SqlEngine;
  const app = createApp({ engine, config: loadConfig({ QUIVER_DATA_DIR: dataDir, QUIVER_BODY_TIMEOUT_MS: '300', QUIVER_MAX_CONCURRENT_REQUESTS: '1' }) });

  it('answers a streamed body that stops half-way 408 with Connection: close, and runs nothing', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"sql": "SEL'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const started = performance.now();
    const res = await app.request('/v1/sql', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(res.status).toBe(408);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toMatchObject({ code: 'BODY_TIMEOUT', detail: expect.stringMatching(/300 ms.*QUIVER_BODY_TIMEOUT_MS/) });
    expect(cancelled).toBe(true);
    expect(executed).toBe(0);
  });

  it('admits a request only once its body has arrived: a stalled body does not hold the one slot', async () => {
    const stalled = app.request('/v1/sql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream<Uint8Array>({ start() {} }),
      duplex: 'half',
    } as RequestInit);
    const res = await app.request('/v1/sql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SELECT 1' }) });
    expect(res.status).toBe(200);
    expect((await stalled).status).toBe(408);
  });
});
