/**
 * @module bench/load
 * `npm run bench:load`: Quiver under a mixed workload over HTTP on loopback, at increasing
 * concurrency, and the isolation of reads from a slow analytic query (issue 6, "Load" and
 * "Concurrency and limits").
 *
 * A real server (child process, ./lib/server-process.ts; WAL, synchronous=FULL, 2 read workers)
 * holds ./load/workload.ts's `docs` table, whose vectors it computes itself through
 * `EMBEDDING(doc, 'load-embed', d)` from ./load/provider.ts: an OpenAI-compatible HTTP server in
 * this process answering after BENCH_LOAD_PROVIDER_MS (default 5). That provider rather than
 * the built-in model because inserts then take the path a networked provider takes: the texts
 * go out over HTTP with the writer free for others, and the statement writes once they are
 * back — the waits that the writer queue and back-pressure exist for. The built-in model
 * answers synchronously inside the statement and never exercises that. Its vectors have
 * cluster structure (./load/vectors.ts), so the HNSW graph is searched as over real embeddings.
 *
 * Setup: BENCH_LOAD_ROWS (default 30,000) seeded rows in 500-row INSERTs, then OPTIMIZE TABLE
 * (one segment, empty tail), EXPLAIN of each query filter, and a 10 s warm-up. Then one step
 * per concurrency in BENCH_LOAD_CLIENTS (default 1,4,16,64), each BENCH_LOAD_STEP_SECONDS
 * (default 20) of closed-loop clients (./load/driver.ts) running 80% filtered vector queries,
 * 15% one-row inserts, 5% one-row deletes, on the table as the previous step left it. Per
 * step: throughput, p50/p99/p999 per operation, index lag and server RSS sampled each second,
 * and errors, which must be zero (any is printed, and the run fails after writing its figures).
 *
 * Then the isolation measurement (./load/isolation.ts): point queries at 100/s, alone and while
 * an analytic query (calibrated to ~5 s alone) runs, BENCH_LOAD_REPEATS (default 3) times; the
 * server is then restarted on the same data dir with QUIVER_READ_WORKERS=0, where every read
 * runs on the one thread, and measured the same way.
 *
 * BENCH_LOAD_QUICK=1 makes a short run (5,000 rows, 5 s steps, 1 repeat) that only prints; a
 * full run also writes between `<!-- bench:load:start -->` and `<!-- bench:load:end -->` of
 * BENCHMARKS.md. The server is killed and the temp dir removed on any exit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCHMARKS_FILE, writeSection } from './lib/benchmarks-file.ts';
import { JsonClient } from './lib/json-client.ts';
import { Random } from './lib/random.ts';
import { killAllServers, startServer, type ServerProcess } from './lib/server-process.ts';
import { Errors, indexStatus, readCpu, readRss, runMixed, startSampler, type CpuSeconds, type RunResult, type Sample } from './load/driver.ts';
import { analyticSql, pointQueries, POINT_RATE, runAnalytic } from './load/isolation.ts';
import { LoadProvider } from './load/provider.ts';
import { median, range, summarize, type Summary } from './load/stats.ts';
import { textVector } from './load/vectors.ts';
import {
  Bodies,
  DEFAULT_MIX,
  LiveIds,
  MODEL,
  OP_KINDS,
  QUERY_SHAPES,
  CATEGORIES,
  SEED_BATCH_ROWS,
  TABLE,
  TENANTS,
  querySql,
  schemaStatements,
  seedBody,
  type OpKind,
} from './load/workload.ts';
import { envInt } from './lib/env.ts';

const SECTION = 'bench:load';
const READ_WORKERS = 2;
const WARMUP_SECONDS = 10;
/** EXPLAINs per query filter, to show which paths the planner takes. */
const EXPLAINED_QUERIES = 20;
const WARMUP_CLIENTS = 4;
/** What the analytic query should take alone, in ms (the issue's "5-second analytic query"). */
const ANALYTIC_TARGET_MS = 5_000;
const CALIBRATION_TRIES = 3;
/** Point queries alone, per repeat. */
const ALONE_MS = 5_000;
/** Point queries start this long after the analytic query is sent, so it is running by then. */
const ANALYTIC_HEAD_START_MS = 200;

const QUICK = process.env.BENCH_LOAD_QUICK === '1';
const ROWS = envInt('BENCH_LOAD_ROWS', QUICK ? 5_000 : 30_000, 1_000);
const DIMS = envInt('BENCH_LOAD_DIMS', 128, 2);
const STEP_SECONDS = envInt('BENCH_LOAD_STEP_SECONDS', QUICK ? 5 : 20, 1);
const PROVIDER_MS = envInt('BENCH_LOAD_PROVIDER_MS', 5, 0);
const REPEATS = envInt('BENCH_LOAD_REPEATS', QUICK ? 1 : 3, 1);
const CLIENTS = (process.env.BENCH_LOAD_CLIENTS || '1,4,16,64').split(',').map((c) => {
  const n = Number(c);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_LOAD_CLIENTS=${JSON.stringify(process.env.BENCH_LOAD_CLIENTS)}: expected whole numbers, comma-separated`);
  return n;
});

interface Step {
  clients: number;
  run: RunResult;
  samples: Sample[];
  rssBefore: number | null;
  /** The server's CPU time used during the step, or null off Linux. */
  cpu: CpuSeconds | null;
}

interface IsolationRound {
  aloneMs: Summary;
  duringMs: Summary;
  analyticMs: number;
  /** Point queries that failed, by reason, alone and during. */
  failures: Map<string, number>;
}

interface Isolation {
  workers: number;
  /** The analytic query's passes on this server, and what they took alone when calibrated. */
  passes: number;
  calibratedMs: number;
  rounds: IsolationRound[];
}

interface Setup {
  seedSeconds: number;
  optimizeSeconds: number;
  status: Record<string, unknown>;
  paths: Map<string, string>;
}

const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–');
const ms = (x: number) => (Number.isFinite(x) ? (x >= 100 ? fmt(x, 0) : x >= 10 ? fmt(x, 1) : fmt(x, 2)) : '–');
const failureText = (failures: Map<string, number>) => (failures.size === 0 ? '0' : [...failures].map(([why, n]) => `${n} ${why}`).join(', '));
const mib = (bytes: number | null) => (bytes === null ? '–' : fmt(bytes / 2 ** 20, 0));

async function sql(client: JsonClient, statement: string, params?: unknown[]): Promise<{ results: { columns: string[]; rows: unknown[][] }[]; timeMs: number }> {
  const answer = await client.send('/v1/sql', JSON.stringify(params === undefined ? { sql: statement } : { sql: statement, params }));
  if (answer.status !== 200) throw new Error(`${statement.slice(0, 80)}: ${answer.status} ${answer.text.slice(0, 400)}`);
  return JSON.parse(answer.text);
}

async function seed(client: JsonClient, live: LiveIds): Promise<number> {
  for (const s of schemaStatements(DIMS)) await sql(client, s);
  const random = new Random(11);
  const t0 = performance.now();
  for (let first = 0; first < ROWS; first += SEED_BATCH_ROWS) {
    const rows = Math.min(SEED_BATCH_ROWS, ROWS - first);
    const answer = await client.send('/v1/sql', seedBody(random, first, rows));
    if (answer.status !== 200) throw new Error(`seeding INSERT answered ${answer.status}: ${answer.text.slice(0, 400)}`);
    const { lastInsertId } = (JSON.parse(answer.text) as { results: { lastInsertId: number }[] }).results[0];
    for (let id = lastInsertId - rows + 1; id <= lastInsertId; id++) live.add(id);
    if ((first + rows) % 10_000 === 0) console.log(`  ${fmt(first + rows)} rows`);
  }
  return (performance.now() - t0) / 1000;
}

/**
 * The planner's paths for each query filter, from EXPLAIN of EXPLAINED_QUERIES queries: it
 * samples the filter's selectivity per query, so near a threshold one filter takes two paths.
 */
async function planPaths(client: JsonClient): Promise<Map<string, string>> {
  const random = new Random(5);
  const paths = new Map<string, string>();
  for (const shape of QUERY_SHAPES) {
    const counts = new Map<string, number>();
    const selectivities: number[] = [];
    for (let i = 0; i < EXPLAINED_QUERIES; i++) {
      const { results } = await sql(client, `EXPLAIN ${querySql(shape)}`, [...shape.params(random), textVector(`t${i} explain`, DIMS)]);
      const line = String(results[0].rows.map((r) => r.at(-1)).find((d) => /VECTOR SEARCH/.test(String(d))) ?? 'no VECTOR SEARCH line');
      const match = /USING \w+: ([\w-]+)(?: \(.*?selectivity=([\d.]+))?/.exec(line);
      const path = match?.[1] ?? line;
      counts.set(path, (counts.get(path) ?? 0) + 1);
      if (match?.[2]) selectivities.push(Number(match[2]));
    }
    const sampled = selectivities.length > 0 ? `, sampled selectivity ${range(selectivities, (x) => x.toFixed(3))}` : '';
    paths.set(shape.key, `${[...counts].map(([p, n]) => `${p} ${n}/${EXPLAINED_QUERIES}`).join(', ')}${sampled}`);
  }
  return paths;
}

/**
 * The analytic query's passes over the table that take about ANALYTIC_TARGET_MS alone: scaled
 * from a short run, then corrected by running it, up to CALIBRATION_TRIES times, because the
 * CPU this process gets on a shared machine changes from second to second.
 */
async function calibrate(client: JsonClient): Promise<{ passes: number; aloneMs: number }> {
  const vector = textVector('t3 analytic', DIMS);
  await runAnalytic(client, 1, vector);
  let passes = 2;
  let aloneMs = await runAnalytic(client, passes, vector);
  for (let i = 0; i < CALIBRATION_TRIES && Math.abs(aloneMs - ANALYTIC_TARGET_MS) > 0.2 * ANALYTIC_TARGET_MS; i++) {
    passes = Math.max(1, Math.round((passes * ANALYTIC_TARGET_MS) / aloneMs));
    aloneMs = await runAnalytic(client, passes, vector);
  }
  return { passes, aloneMs };
}

/** The measurement on one server: calibrate the analytic query there, then REPEATS rounds. */
async function isolation(server: ServerProcess, workers: number, live: LiveIds): Promise<Isolation> {
  const client = new JsonClient(server.url, 64);
  const analyticClient = new JsonClient(server.url, 1);
  const bodies = new Bodies(21 + workers, DIMS, `iso${workers}`);
  const vector = textVector('t3 analytic', DIMS);
  const rounds: IsolationRound[] = [];
  const { passes, aloneMs: calibratedMs } = await calibrate(analyticClient);
  console.log(`  workers ${workers}: ${passes} passes took ${fmt(calibratedMs)} ms alone`);
  try {
    await pointQueries(client, bodies, live, 1_000); // warm the path and the connections
    for (let r = 0; r < REPEATS; r++) {
      const alone = await pointQueries(client, bodies, live, ALONE_MS);
      const analytic = runAnalytic(analyticClient, passes, vector);
      await new Promise((resolve) => setTimeout(resolve, ANALYTIC_HEAD_START_MS));
      const during = await pointQueries(client, bodies, live, analytic);
      const analyticMs = await analytic;
      const failures = new Map(alone.failures);
      for (const [why, n] of during.failures) failures.set(why, (failures.get(why) ?? 0) + n);
      const round = { aloneMs: summarize(alone.latencies), duringMs: summarize(during.latencies), analyticMs, failures };
      rounds.push(round);
      console.log(
        `  workers ${workers}, round ${r + 1}: alone p50 ${ms(round.aloneMs.p50)} p99 ${ms(round.aloneMs.p99)}; during (${ms(analyticMs)} ms analytic, ${round.duringMs.count} points) ` +
          `p50 ${ms(round.duringMs.p50)} p99 ${ms(round.duringMs.p99)}; failed ${failureText(failures)}`,
      );
    }
  } finally {
    client.close();
    analyticClient.close();
  }
  return { workers, passes, calibratedMs, rounds };
}

async function step(server: ServerProcess, clients: number, live: LiveIds, seedValue: number): Promise<Step> {
  const client = new JsonClient(server.url, clients);
  const samplerClient = new JsonClient(server.url, 1);
  const errors = new Errors();
  const rssBefore = readRss(server.pid);
  const cpuBefore = readCpu(server.pid);
  const sampler = startSampler(samplerClient, server.pid, errors);
  try {
    const bodies = new Bodies(seedValue, DIMS, `c${clients}`);
    const run = await runMixed({ client, clients, durationMs: STEP_SECONDS * 1000, mix: DEFAULT_MIX, bodies, live }, errors);
    const cpuAfter = readCpu(server.pid);
    const cpu = cpuBefore && cpuAfter ? { process: cpuAfter.process - cpuBefore.process, main: cpuAfter.main - cpuBefore.main } : null;
    return { clients, run, samples: await sampler.stop(), rssBefore, cpu };
  } finally {
    await sampler.stop();
    client.close();
    samplerClient.close();
  }
}

function machineLine(): string {
  return (
    `${new Date().toISOString().slice(0, 10)}; ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.cpus().length} cores, ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}; Node ${process.version}`
  );
}

function report(setup: Setup, steps: Step[], isolations: Isolation[], machine: string, loadStart: number, loadEnd: number, providerRequests: number): string {
  const operations = (s: Step) => OP_KINDS.reduce((n, k) => n + s.run.latencies[k].length, 0);
  const opsPerSecond = (s: Step, kind?: OpKind) =>
    (kind ? s.run.latencies[kind].length : OP_KINDS.reduce((n, k) => n + s.run.latencies[k].length, 0)) / (s.run.wallMs / 1000);
  const lines: string[] = [
    '## Load: a mixed workload over HTTP, and reads beside a slow query',
    '',
    `\`npm run bench:load\` (\`BENCH_LOAD_ROWS\`, \`BENCH_LOAD_DIMS\`, \`BENCH_LOAD_CLIENTS\`, \`BENCH_LOAD_STEP_SECONDS\`, \`BENCH_LOAD_PROVIDER_MS\`, \`BENCH_LOAD_REPEATS\`, \`BENCH_LOAD_QUICK\`), ${machine}; ` +
      `1-min load average ${loadStart.toFixed(2)} at start and ${loadEnd.toFixed(2)} at the end` +
      (loadStart > 1 ? ". **Other processes were busy on the machine's 2 cores, so every figure here is noisy**" : '') +
      '; the driver, the provider and the server share those cores. Repeated figures are given as ranges.',
    '',
    `A real Quiver server (child process, loopback, WAL, synchronous=FULL, QUIVER_READ_WORKERS=${READ_WORKERS}, other settings default) holds ` +
      `\`${TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, tenant INT, category INT, doc TEXT, vec VECTOR(${DIMS}) AS (EMBEDDING(doc, '${MODEL}', ${DIMS})) STORED, VECTOR INDEX vi(vec) distance=cosine)\` ` +
      `plus an index on (tenant, category). The embedding provider is a local OpenAI-compatible HTTP server in the driver's process answering every batch ${PROVIDER_MS} ms after it arrives ` +
      `(bench/load/provider.ts, registered in the embedding config file; maxBatch 64, maxConcurrency 4), rather than the built-in model, so that inserts take the networked path (the text goes out over HTTP with the writer free for others; the row is written when it is back), which the built-in model, answering inside the statement, never takes. ` +
      `Its vectors are clustered (256 topics, bench/load/vectors.ts), so the graph is searched as over real embeddings. ` +
      `${fmt(ROWS)} seeded rows (${TENANTS} tenants, ${CATEGORIES} categories, uniform) went in through 500-row INSERTs in ${setup.seedSeconds.toFixed(1)} s; OPTIMIZE TABLE then built one segment in ${setup.optimizeSeconds.toFixed(1)} s. ` +
      `A ${WARMUP_SECONDS} s warm-up at ${WARMUP_CLIENTS} clients preceded the steps, and each step ran on the table as the previous one left it.`,
    '',
    `Each step runs N closed-loop clients (each sends its next request when the last is answered, keep-alive) for ${STEP_SECONDS} s: ` +
      `80% \`SELECT id, doc FROM ${TABLE} WHERE <filter> ORDER BY DISTANCE(vec, ?, 'COSINE') LIMIT 10\` with a bound query vector, ` +
      `15% one-row \`INSERT\` of a new text (the database embeds it), 5% \`DELETE\` of one live row by id. Filters, by share of the queries, and the planner's paths on the seeded table (EXPLAIN of ${EXPLAINED_QUERIES} queries each; it samples each query's selectivity): ` +
      QUERY_SHAPES.map((s) => `\`${s.where}\` ${Math.round(s.share * 100)}%, ${setup.paths.get(s.key)}`).join('; ') +
      '. Every answer is checked (10 rows per query, an id per insert, one row changed per delete); errors must be zero. ' +
      'Latencies are client round trips in ms; p99.9 of fewer than 1,000 operations is their maximum. A closed loop understates latency during a stall (it sends less), which the throughput then shows.',
    '',
    '| clients | ops/s | queries/s | query p50 | p99 | p99.9 | inserts/s | insert p50 | p99 | p99.9 | deletes/s | delete p50 | p99 | p99.9 |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of steps) {
    const cells = [String(s.clients), fmt(opsPerSecond(s))];
    for (const kind of OP_KINDS) {
      const sum = summarize(s.run.latencies[kind]);
      cells.push(fmt(opsPerSecond(s, kind)), ms(sum.p50), ms(sum.p99), ms(sum.p999));
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    'Query p50 / p99 by filter (ms):',
    '',
    `| clients | ${QUERY_SHAPES.map((s) => `\`${s.where}\``).join(' | ')} |`,
    `|---:|${QUERY_SHAPES.map(() => '---:').join('|')}|`,
  );
  for (const s of steps) {
    lines.push(`| ${s.clients} | ${QUERY_SHAPES.map((shape) => {
      const sum = summarize(s.run.shapeLatencies.get(shape.key) ?? []);
      return `${ms(sum.p50)} / ${ms(sum.p99)}`;
    }).join(' | ')} |`);
  }
  lines.push(
    '',
    '*Index lag* is `SHOW INDEX STATUS`\'s lag_rows (rows in the tail, not yet in a graph; the tail is searched by brute force, so they are found all the same) and lag_seconds (age of the oldest), sampled each second: mean / max over the step. ' +
      '*RSS* is the server process\'s VmRSS (all threads: engine, read workers, index builds) from /proc, before the step → at its end (max during it). ' +
      '*Server CPU* is the CPU time the server process used over the step\'s wall time, in cores (of 2, shared with everything else on the machine), and *engine thread* the same for its main thread alone, which parses, plans (including selectivity samples; the index searches of reads run on the read workers), writes, and does all HTTP and JSON work; ' +
      '*CPU ms per op* divides each by the operations done, a cost that depends far less on how much CPU the machine left the server than throughput does. ' +
      '*503 retried*: OVERLOADED answers the client waited out (`Retry-After`) and sent again.',
    '',
    '| clients | lag rows, mean / max | lag s, mean / max | segments at end | rows at end | RSS MiB | server CPU, cores | engine thread, % of a core | CPU ms per op, server / engine thread | errors | 503 retried |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of steps) {
    const lagRows = s.samples.map((x) => x.lagRows);
    const lagSeconds = s.samples.map((x) => x.lagSeconds);
    const rss = s.samples.map((x) => x.rssBytes ?? 0);
    const last = s.samples.at(-1);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    lines.push(
      `| ${s.clients} | ${fmt(mean(lagRows))} / ${fmt(Math.max(...lagRows))} | ${fmt(mean(lagSeconds), 1)} / ${fmt(Math.max(...lagSeconds), 1)} | ${last?.segments ?? '–'} | ${fmt(last?.indexRows ?? NaN)} | ` +
        `${mib(s.rssBefore)} → ${mib(last?.rssBytes ?? null)} (${mib(Math.max(...rss))}) | ` +
        `${s.cpu ? fmt(s.cpu.process / (s.run.wallMs / 1000), 2) : '–'} | ${s.cpu ? fmt((100 * s.cpu.main) / (s.run.wallMs / 1000)) : '–'}% | ` +
        `${s.cpu ? `${ms((1000 * s.cpu.process) / operations(s))} / ${ms((1000 * s.cpu.main) / operations(s))}` : '–'} | ${s.run.errors.count} | ${s.run.overloaded} |`,
    );
  }
  const withCpu = steps.filter((s) => s.cpu !== null);
  if (withCpu.length > 0) {
    const cores = withCpu.map((s) => s.cpu!.process / (s.run.wallMs / 1000));
    const engineMs = withCpu.map((s) => (1000 * s.cpu!.main) / operations(s));
    const rates = steps.map((s) => opsPerSecond(s));
    lines.push(
      '',
      `From 1 to ${steps.at(-1)!.clients} clients throughput stays within ${range(rates, (x) => fmt(x))} ops/s while latency grows with the clients queued: ` +
        `the server got ${range(cores, (x) => fmt(x, 2))} cores of the shared machine, and spent ${range(engineMs, ms)} ms of its engine thread's CPU per operation. ` +
        `That thread is serial, so with a core to itself this mix would top out near ${range(engineMs.map((x) => 1000 / x), (x) => fmt(Math.round(x / 10) * 10))} ops/s (an estimate from these figures, not a measurement).`,
    );
  }
  const errors = steps.flatMap((s) => s.run.errors.kept.map((e) => `${s.clients} clients: ${e.op} ${e.status} ${e.code}: ${e.detail}`));
  const shortAnswers = steps.some((s) => s.run.errors.kept.some((e) => e.code === 'SHORT_ANSWER'));
  lines.push('', errors.length === 0 ? `Errors: none in ${fmt(steps.reduce((n, s) => n + OP_KINDS.reduce((m, k) => m + s.run.latencies[k].length, 0), 0))} operations; the provider answered ${fmt(providerRequests)} requests, none failed.` : `Errors:\n\n${errors.map((e) => `- ${e}`).join('\n')}`);
  if (shortAnswers) {
    lines.push(
      '',
      'A *SHORT_ANSWER* is a query that returned fewer than 10 rows although thousands match its filter. The cause, reproduced on its own: a read is planned on the engine thread, ' +
        'which fixes the index\'s candidate rows, and then waits for a free read worker; a DELETE of one of those candidates that commits in between leaves the worker one row short. ' +
        'It shows when reads queue for the workers, so at high concurrency.',
    );
  }

  const [withWorkers, without] = isolations;
  const rangeOf = (iso: Isolation, pick: (r: IsolationRound) => number) => range(iso.rounds.map(pick), ms);
  lines.push(
    '',
    '### A point query beside a ~5-second analytic query',
    '',
    `Point queries (\`SELECT id, tenant, category, doc FROM ${TABLE} WHERE id = ?\`, random live ids) are sent open loop at ${POINT_RATE}/s, and each one's latency runs from its scheduled send, so a stall counts in full for every query it holds. ` +
      `They run for ${ALONE_MS / 1000} s alone, then while one analytic query runs: \`${analyticSql()}\`, its passes calibrated on each server to take about ${ANALYTIC_TARGET_MS / 1000} s alone (${isolations.map((iso) => `${iso.passes} passes took ${fmt(iso.calibratedMs)} ms with QUIVER_READ_WORKERS=${iso.workers}`).join(', ')}; how long it then took beside the point queries is in the table, as the CPU the machine leaves changes by the second) — a read, so with read workers it runs on one of them. ` +
      `${REPEATS} round${REPEATS === 1 ? '' : 's'} each; ranges are over the rounds (ms). The same data dir is then served with QUIVER_READ_WORKERS=0, where every statement runs on the engine's one thread, for the peer.`,
    '',
    '| server | point p50 alone | p99 alone | point p50 during | p99 during | max during | analytic query ms | point queries failed |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const iso of isolations) {
    lines.push(
      `| QUIVER_READ_WORKERS=${iso.workers} | ${rangeOf(iso, (r) => r.aloneMs.p50)} | ${rangeOf(iso, (r) => r.aloneMs.p99)} | ${rangeOf(iso, (r) => r.duringMs.p50)} | ${rangeOf(iso, (r) => r.duringMs.p99)} | ${rangeOf(iso, (r) => r.duringMs.max)} | ${rangeOf(iso, (r) => r.analyticMs)} | ${iso.rounds.map((r) => failureText(r.failures)).join(' / ')} |`,
    );
  }
  if (isolations.some((iso) => iso.rounds.some((r) => r.failures.size > 0))) {
    lines.push(
      '',
      '*Point queries failed*: ECONNRESET is Node\'s HTTP server closing a keep-alive connection whose 5 s idle timer (started at its last response) ran out while the engine thread was blocked: ' +
        'when the thread runs again the timer fires before the request already waiting on that connection is read, and the client gets a reset instead of an answer.',
    );
  }
  if (withWorkers && without) {
    const p50 = (iso: Isolation, during: boolean) => median(iso.rounds.map((r) => (during ? r.duringMs.p50 : r.aloneMs.p50)));
    const p99 = (iso: Isolation, during: boolean) => median(iso.rounds.map((r) => (during ? r.duringMs.p99 : r.aloneMs.p99)));
    lines.push(
      '',
      `With ${withWorkers.workers} read workers, a point query's median latency goes from ${ms(p50(withWorkers, false))} ms to ${ms(p50(withWorkers, true))} ms while the analytic query runs (p99 ${ms(p99(withWorkers, false))} → ${ms(p99(withWorkers, true))} ms, medians over the rounds); ` +
        `with none, from ${ms(p50(without, false))} ms to ${ms(p50(without, true))} ms (p99 ${ms(p99(without, false))} → ${ms(p99(without, true))} ms): every point query waits for the analytic one.`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-bench-load-'));
  const cleanUp = () => {
    killAllServers();
    fs.rmSync(root, { recursive: true, force: true });
  };
  process.on('exit', cleanUp);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) process.on(signal, () => process.exit(code));

  const loadStart = os.loadavg()[0];
  const machine = machineLine();
  const provider = await LoadProvider.start(DIMS, PROVIDER_MS);
  const configPath = path.join(root, 'embedding.json');
  fs.writeFileSync(configPath, provider.configJson(MODEL));
  const dataDir = path.join(root, 'data');
  const start = (workers: number) =>
    startServer({ name: 'quiver', entry: 'src/api/server.ts', env: { QUIVER_DATA_DIR: dataDir, QUIVER_EMBEDDING_CONFIG: configPath, QUIVER_READ_WORKERS: String(workers) } });

  let server = await start(READ_WORKERS);
  const admin = new JsonClient(server.url, 1);
  const live = new LiveIds();
  console.log(`seeding ${fmt(ROWS)} rows of ${DIMS}-d ...`);
  const seedSeconds = await seed(admin, live);
  console.log(`  seeded in ${seedSeconds.toFixed(1)} s; OPTIMIZE TABLE ...`);
  const t0 = performance.now();
  await sql(admin, `OPTIMIZE TABLE ${TABLE}`);
  const optimizeSeconds = (performance.now() - t0) / 1000;
  const status = await indexStatus(admin);
  console.log(`  OPTIMIZE in ${optimizeSeconds.toFixed(1)} s; ${JSON.stringify(status)}`);
  const paths = await planPaths(admin);
  for (const [key, p] of paths) console.log(`  ${key}: ${p}`);

  console.log(`warm-up, ${WARMUP_SECONDS} s at ${WARMUP_CLIENTS} clients ...`);
  const warmClient = new JsonClient(server.url, WARMUP_CLIENTS);
  const warm = await runMixed({ client: warmClient, clients: WARMUP_CLIENTS, durationMs: WARMUP_SECONDS * 1000, mix: DEFAULT_MIX, bodies: new Bodies(3, DIMS, 'warm'), live });
  warmClient.close();
  if (warm.errors.count > 0) throw new Error(`warm-up errors: ${JSON.stringify(warm.errors.kept)}`);

  const steps: Step[] = [];
  for (const clients of CLIENTS) {
    console.log(`${clients} clients, ${STEP_SECONDS} s ...`);
    const s = await step(server, clients, live, 100 + clients);
    steps.push(s);
    const total = OP_KINDS.reduce((n, k) => n + s.run.latencies[k].length, 0);
    const q = summarize(s.run.latencies.query);
    console.log(
      `  ${fmt(total / (s.run.wallMs / 1000))} ops/s; query p50 ${ms(q.p50)} p99 ${ms(q.p99)}; insert p50 ${ms(summarize(s.run.latencies.insert).p50)}; ` +
        `RSS ${mib(s.samples.at(-1)?.rssBytes ?? null)} MiB; CPU ${s.cpu ? (s.cpu.process / (s.run.wallMs / 1000)).toFixed(2) : '–'} cores, engine thread ${s.cpu ? ((100 * s.cpu.main) / (s.run.wallMs / 1000)).toFixed(0) : '–'}%; max lag ${Math.max(...s.samples.map((x) => x.lagRows))} rows; errors ${s.run.errors.count}; 503s ${s.run.overloaded}`,
    );
    for (const e of s.run.errors.kept) console.log(`  error: ${e.op} ${e.status} ${e.code}: ${e.detail}`);
  }

  console.log('isolation ...');
  admin.close();
  const isolations: Isolation[] = [await isolation(server, READ_WORKERS, live)];
  await server.stop();
  server = await start(0);
  isolations.push(await isolation(server, 0, live));
  await server.stop();
  await provider.close();

  const text = report(
    { seedSeconds, optimizeSeconds, status, paths },
    steps,
    isolations,
    machine,
    loadStart,
    os.loadavg()[0],
    provider.requests,
  );
  console.log(`\n${text}\n`);
  const errorCount = steps.reduce((n, s) => n + s.run.errors.count, 0) + provider.failures;
  if (QUICK) console.log('BENCH_LOAD_QUICK=1: BENCHMARKS.md left as it is');
  else {
    writeSection(SECTION, text);
    console.log(`wrote the ${SECTION} section of ${BENCHMARKS_FILE}`);
  }
  if (errorCount > 0) throw new Error(`${errorCount} errors during the steps (provider failures: ${provider.failures}); see above`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
