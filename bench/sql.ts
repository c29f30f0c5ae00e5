/**
 * @module bench/sql
 * `npm run bench:sql`: how fast Quiver's `POST /v1/sql` answers over real HTTP, beside a bare
 * baseline (`bench/baseline-server.ts`) that runs the same SQL through one prepared
 * better-sqlite3 statement on the same stack. Both servers run as child processes on loopback,
 * each on its own temp data dir holding identical data (`lib/dataset.ts`); Quiver is loaded
 * through its API, the baseline's file directly. Before measuring, a few requests per workload
 * go to both and must get identical results, so the two sides are known to do the same work.
 * Then each workload (`lib/workloads.ts`) is driven with autocannon, never both sides at once: a
 * warm-up of each, then BENCH_ROUNDS rounds (default 3) of a baseline run and a Quiver run of
 * BENCH_DURATION seconds (default 10) each, at BENCH_CONNECTIONS connections (default 10). It
 * prints requests/s, p50 and p99 latency per side and Quiver/baseline, and writes the table into BENCHMARKS.md between the
 * `<!-- bench:sql:start -->` and `<!-- bench:sql:end -->` markers, leaving other sections
 * alone. Any answer other than 200 or any connection error fails the run (exit 1) and leaves
 * BENCHMARKS.md untouched, since its figures would not be comparable.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { BASELINE_DATABASE_FILE, BASELINE_SCHEMA, QUIVER_SCHEMA, generateItems, vectorBlob } from './lib/dataset.ts';
import type { Item } from './lib/dataset.ts';
import { killAllServers, startServer } from './lib/server-process.ts';
import type { ServerProcess } from './lib/server-process.ts';
import { WORKLOADS } from './lib/workloads.ts';
import type { Workload } from './lib/workloads.ts';
import { BENCHMARKS_FILE, writeSection } from './lib/benchmarks-file.ts';
import { machineFacts, type MachineFacts } from './lib/machine.ts';

const DEFAULT_DURATION_S = 10;
const DEFAULT_CONNECTIONS = 10;
/**
 * Measured runs per side and workload, alternating baseline and Quiver. On a small shared
 * machine one run of each can differ by 2x from other work alone; each round's ratio compares
 * two runs seconds apart, and the median of the rounds is what is reported.
 */
const DEFAULT_ROUNDS = 3;
/** Long enough for V8 to optimise both servers' hot paths and for each to prepare its statements. */
const WARMUP_S = 2;
/**
 * A request this slow is counted as an error rather than waited for. Generous because a vector
 * query waits behind the other connections' scans: 10 of them at a few hundred ms each.
 */
const REQUEST_TIMEOUT_S = 30;
/** Rows per INSERT when loading Quiver: 1,500 parameters, well under SQLite's limit. */
const LOAD_BATCH_ROWS = 500;
/** Requests per workload whose results must match between the two sides before measuring. */
const AGREEMENT_REQUESTS = 3;
/** The aim for Quiver's requests/s as a fraction of the baseline's on the point query. */
const POINT_AIM = 0.7;

interface Settings {
  durationS: number;
  connections: number;
  rounds: number;
}

/** One side of one workload, over all its rounds. */
interface SideFigures {
  /** The median round's. */
  requestsPerSecond: number;
  /** Over every response of every round. */
  p50Ms: number;
  p99Ms: number;
  /** Responses whose status was not 200, warm-up included. */
  not200: number;
  /** Connection errors and timeouts, warm-up included. */
  errors: number;
}

interface WorkloadFigures {
  workload: Workload;
  baseline: SideFigures;
  quiver: SideFigures;
  /** Quiver / baseline requests/s of each round, in round order. */
  ratios: number[];
}

interface Side {
  url: string;
  route: string;
}

/** What one autocannon run yields. */
interface Run {
  requestsPerSecond: number;
  /** 200 answers' latencies in ms, ascending. */
  latencies: Float64Array;
  not200: number;
  errors: number;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const positive = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`${name}=${JSON.stringify(raw)}: expected a whole number of at least 1`);
    return Number(raw);
  };
  return {
    durationS: positive('BENCH_DURATION', DEFAULT_DURATION_S),
    connections: positive('BENCH_CONNECTIONS', DEFAULT_CONNECTIONS),
    rounds: positive('BENCH_ROUNDS', DEFAULT_ROUNDS),
  };
}

async function postJson(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}

/** Creates Quiver's tables and loads `items` through `/v1/sql`, a batch of rows per request. */
async function loadQuiver(server: ServerProcess, items: readonly Item[]): Promise<void> {
  for (const sql of QUIVER_SCHEMA) {
    const res = await postJson(`${server.url}/v1/sql`, JSON.stringify({ sql }));
    if (res.status !== 200) throw new Error(`Quiver refused ${sql}: ${res.status} ${res.text}`);
  }
  for (let start = 0; start < items.length; start += LOAD_BATCH_ROWS) {
    const batch = items.slice(start, start + LOAD_BATCH_ROWS);
    const sql = `INSERT INTO items (id, name, v) VALUES ${batch.map(() => '(?, ?, ?)').join(', ')}`;
    const params = batch.flatMap((item) => [item.id, item.name, item.v]);
    const res = await postJson(`${server.url}/v1/sql`, JSON.stringify({ sql, params }));
    if (res.status !== 200) throw new Error(`Quiver refused a load batch: ${res.status} ${res.text}`);
  }
}

/** Writes the baseline's database file directly, with the same rows as Quiver's. */
function loadBaseline(dataDir: string, items: readonly Item[]): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, BASELINE_DATABASE_FILE));
  try {
    db.pragma('journal_mode = WAL');
    for (const sql of BASELINE_SCHEMA) db.exec(sql);
    const insert = db.prepare('INSERT INTO items (id, name, v) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (const item of items) insert.run(item.id, item.name, vectorBlob(item.v));
    })();
  } finally {
    db.close();
  }
}

/** Sends the first bodies of each workload to both sides; their `results` must be identical. */
async function checkAgreement(baseline: ServerProcess, quiver: ServerProcess): Promise<void> {
  for (const workload of WORKLOADS) {
    for (const body of workload.bodies().slice(0, AGREEMENT_REQUESTS).map(String)) {
      const answers = await Promise.all([
        postJson(`${baseline.url}${workload.route}`, body),
        postJson(`${quiver.url}/v1/sql`, body),
      ]);
      const [base, q] = answers.map(({ status, text }, i) => {
        if (status !== 200) throw new Error(`${workload.key}: ${i === 0 ? 'baseline' : 'Quiver'} answered ${status}: ${text}`);
        return JSON.stringify((JSON.parse(text) as { results: unknown }).results);
      });
      if (base !== q) throw new Error(`${workload.key}: the two sides disagree\nbaseline: ${base}\nQuiver:   ${q}`);
    }
  }
}

/** The value at quantile `q` of ascending `sorted` (nearest rank). */
function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/**
 * One autocannon run cycling through `bodies`. Latencies are taken from the per-response event
 * rather than autocannon's histogram, which keeps whole milliseconds and would blur sub-ms answers.
 */
async function drive(side: Side, bodies: readonly Buffer[], connections: number, durationS: number): Promise<Run> {
  let next = 0;
  const latencies: number[] = [];
  const instance = autocannon({
    url: side.url,
    connections,
    duration: durationS,
    timeout: REQUEST_TIMEOUT_S,
    requests: [
      {
        method: 'POST',
        path: side.route,
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => {
          request.body = bodies[next++ % bodies.length];
          return request;
        },
      },
    ],
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode === 200) latencies.push(responseTime);
  });
  const result = await instance;
  await settle(side, bodies[0]);
  return {
    requestsPerSecond: latencies.length / result.duration,
    latencies: Float64Array.from(latencies).sort(),
    not200: not200(result),
    errors: result.errors,
  };
}

function not200(result: autocannon.Result): number {
  return Object.entries(result.statusCodeStats).reduce((sum, [code, { count }]) => (code === '200' ? sum : sum + count), 0);
}

/**
 * Waits until a server has worked off what a run left behind. autocannon closes its sockets when
 * time is up, but the server still executes the requests it had already read; a request sent
 * now is answered after them, so the next run (or the other server's run) starts on an idle one.
 */
async function settle(side: Side, body: Buffer): Promise<void> {
  const res = await postJson(`${side.url}${side.route}`, String(body));
  if (res.status !== 200) throw new Error(`${side.url}${side.route} answered ${res.status} after a run: ${res.text}`);
}

function summarize(warmup: Run, runs: readonly Run[]): SideFigures {
  const pooled = Float64Array.from(runs.flatMap((run) => [...run.latencies])).sort();
  const all = [warmup, ...runs];
  return {
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    p50Ms: quantile(pooled, 0.5),
    p99Ms: quantile(pooled, 0.99),
    not200: all.reduce((n, run) => n + run.not200, 0),
    errors: all.reduce((n, run) => n + run.errors, 0),
  };
}

/** Warms both sides up, then runs `settings.rounds` rounds of baseline then Quiver. */
async function measure(workload: Workload, baseline: Side, quiver: Side, settings: Settings): Promise<WorkloadFigures> {
  const bodies = workload.bodies();
  const baselineWarmup = await drive(baseline, bodies, settings.connections, WARMUP_S);
  const quiverWarmup = await drive(quiver, bodies, settings.connections, WARMUP_S);
  const baselineRuns: Run[] = [];
  const quiverRuns: Run[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    console.log(`${workload.key}: round ${round} of ${settings.rounds}`);
    baselineRuns.push(await drive(baseline, bodies, settings.connections, settings.durationS));
    quiverRuns.push(await drive(quiver, bodies, settings.connections, settings.durationS));
  }
  return {
    workload,
    baseline: summarize(baselineWarmup, baselineRuns),
    quiver: summarize(quiverWarmup, quiverRuns),
    ratios: quiverRuns.map((run, i) => run.requestsPerSecond / baselineRuns[i].requestsPerSecond),
  };
}

/** The median of the rounds' Quiver / baseline ratios. */
function ratio(figures: WorkloadFigures): number {
  return median(figures.ratios);
}

function tableLines(all: readonly WorkloadFigures[]): string[] {
  const ms = (x: number) => x.toFixed(2);
  // Slow workloads run at a few requests/s, where whole numbers would hide the ratio.
  const rps = (x: number) => (x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en'));
  const failures = (f: SideFigures) => f.not200 + f.errors;
  const ratios = (f: WorkloadFigures) =>
    f.ratios.length === 1
      ? `${ratio(f).toFixed(2)}x`
      : `${ratio(f).toFixed(2)}x (${Math.min(...f.ratios).toFixed(2)}–${Math.max(...f.ratios).toFixed(2)})`;
  return [
    '| workload | baseline req/s | baseline p50 ms | baseline p99 ms | Quiver req/s | Quiver p50 ms | Quiver p99 ms | Quiver / baseline (range over rounds) | non-200 + errors (baseline, Quiver) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...all.map((f) =>
      `| ${f.workload.title} | ${rps(f.baseline.requestsPerSecond)} | ${ms(f.baseline.p50Ms)} | ${ms(f.baseline.p99Ms)} | ` +
        `${rps(f.quiver.requestsPerSecond)} | ${ms(f.quiver.p50Ms)} | ${ms(f.quiver.p99Ms)} | ${ratios(f)} | ` +
        `${failures(f.baseline)}, ${failures(f.quiver)} |`,
    ),
  ];
}

function factsLine(facts: MachineFacts, settings: Settings): string {
  return (
    `${facts.date}; ${facts.cpu}, ${facts.cores} cores; Node ${facts.node}; SQLite ${facts.sqlite}; ` +
    `1-min load average ${facts.loadAverage.toFixed(2)} at start. Per workload and side: ${WARMUP_S} s warm-up, then ` +
    `${settings.rounds} measured runs of ${settings.durationS} s at ${settings.connections} connections, baseline and Quiver ` +
    'alternating; autocannon in the driver process on loopback. req/s is the median run; p50/p99 pool all runs.'
  );
}

function pointVerdict(all: readonly WorkloadFigures[]): string {
  const point = all.find((f) => f.workload.key === 'point');
  if (!point) return '';
  const r = ratio(point);
  return `Point query: Quiver at ${r.toFixed(2)}x baseline, ${r >= POINT_AIM ? 'meets' : 'below'} the ${POINT_AIM}x aim.`;
}

function writeBenchmarks(all: readonly WorkloadFigures[], facts: MachineFacts, settings: Settings): void {
  const section = [
    '## SQL over HTTP: Quiver vs a bare prepared statement',
    '',
    `\`npm run bench:sql\` (\`BENCH_DURATION\`, \`BENCH_CONNECTIONS\`, \`BENCH_ROUNDS\`), ${factsLine(facts, settings)}`,
    'Both sides hold the same 10,000 rows of 128-d vectors (WAL, synchronous=FULL) and serve Hono on @hono/node-server;',
    'the baseline (`bench/baseline-server.ts`) runs each workload through one prepared better-sqlite3 statement.',
    "Quiver / baseline (the median over rounds of the ratio of requests/s) is the share of that bare statement's throughput Quiver keeps, so its",
    'shortfall from 1.00x is what Quiver\'s front end costs per request: reading and checking the body, parsing and emitting',
    'the SQL, catalog lookups, parameter and vector checks, its rowid tie-break on ORDER BY distance, and its JSON writer.',
    `The aim is Quiver ≥ ${POINT_AIM}x baseline on the point query.`,
    '',
    ...tableLines(all),
    '',
    pointVerdict(all),
  ].join('\n');

  writeSection('bench:sql', section);
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const facts = machineFacts();
  console.log(factsLine(facts, settings));

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-bench-sql-'));
  const cleanUp = () => {
    killAllServers();
    fs.rmSync(root, { recursive: true, force: true });
  };
  // A child left running would hold its port and its temp dir; SIGINT/SIGTERM skip `finally`.
  process.on('exit', cleanUp);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) process.on(signal, () => process.exit(code));

  const servers: ServerProcess[] = [];
  try {
    const items = generateItems();
    console.log('loading Quiver through /v1/sql ...');
    const quiver = await startServer({ name: 'quiver', entry: 'src/api/server.ts', env: { QUIVER_DATA_DIR: path.join(root, 'quiver') } });
    servers.push(quiver);
    await loadQuiver(quiver, items);
    console.log('loading the baseline directly ...');
    const baselineDir = path.join(root, 'baseline');
    loadBaseline(baselineDir, items);
    const baseline = await startServer({ name: 'baseline', entry: 'bench/baseline-server.ts', env: { BASELINE_DATA_DIR: baselineDir } });
    servers.push(baseline);
    await checkAgreement(baseline, quiver);

    const all: WorkloadFigures[] = [];
    for (const workload of WORKLOADS) {
      all.push(await measure(workload, { url: baseline.url, route: workload.route }, { url: quiver.url, route: '/v1/sql' }, settings));
    }

    console.log(['', ...tableLines(all), '', pointVerdict(all)].join('\n'));
    const failures = all.reduce((n, f) => n + f.baseline.not200 + f.baseline.errors + f.quiver.not200 + f.quiver.errors, 0);
    if (failures > 0) {
      console.error(`${failures} requests failed (non-200 or connection errors); BENCHMARKS.md left as it was`);
      return 1;
    }
    writeBenchmarks(all, facts, settings);
    console.log(`wrote ${path.relative(process.cwd(), BENCHMARKS_FILE) || BENCHMARKS_FILE}`);
    return 0;
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
