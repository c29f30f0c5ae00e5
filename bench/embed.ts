/**
 * @module bench/embed
 * `npm run bench:embed`: what Quiver itself costs when INSERTs embed their rows through
 * EMBEDDING(), measured against a provider of known speed, plus the built-in model's load time
 * and throughput.
 *
 * A fake OpenAI-compatible provider (`lib/fake-embeddings-server.ts`, in this process) answers
 * every batch after BENCH_PROVIDER_MS (default 20) and records when each request was in flight.
 * Quiver's real server runs as a child process on a temp data dir with an embedding config
 * registering it as model `bench-embed` (256 dims, maxBatch 64, maxConcurrency 4, no retries,
 * so a failure fails the run instead of hiding in a retry). Into `docs (..., vec VECTOR(256) AS
 * (EMBEDDING(doc, 'bench-embed', 256)) STORED)` it inserts, through `POST /v1/sql`, statements
 * of 100 rows of distinct texts (bound as params), after a few warm-up statements:
 * 1. cold, one request at a time: every text is new, so each statement costs ceil(100/64) = 2
 *    provider requests. Engine overhead = wall time - the time the provider had a request in
 *    flight; the aim is under 10% of the wall time. Per statement the overhead is split into
 *    before the first provider request (HTTP in, parse, finding the texts: read from the
 *    statement, or a collecting run and its rollback; cache lookups, the SDK request), between
 *    requests, and after the last (decoding the answer, the run that inserts, COMMIT, HTTP
 *    out). The cache file is written in the background, during provider waits.
 * 2. cached: the same texts again; the provider must see 0 requests. Its time per statement
 *    (HTTP, parse, insert, COMMIT) is what a statement costs beside any embedding work: the
 *    floor under the cold pass's overhead.
 * 3. cold, BENCH_CLIENTS (default 4; 0 skips) requests at a time, on new texts.
 * Each pass also reports the server's CPU time per statement (from /proc/<pid>/stat), which
 * other work on the machine barely moves, unlike every wall-clock figure.
 * Stored vectors are checked against the provider's for a sample of rows, so a run that stored
 * placeholders cannot pass as fast.
 *
 * The built-in model `quiver-local-100d` is measured first, because the server reuses the file
 * it converts: its first load (converting the npm package's JSON in a fresh cache dir) and a
 * later load from the converted file, each in a fresh process (`lib/local-model-load.ts`), then
 * texts/s on short (12-word) and long (200-word) texts in this process through `Embeddings`.
 *
 * BENCH_ROWS (default 10,000) sets the rows per pass; BENCH_ENCODING=float has Quiver ask
 * for JSON numbers instead of base64 float32 (its default); BENCH_QUICK=1 makes a short run (1,000 rows, a
 * tenth of the model's texts); BENCH_CPU_PROF=<file.cpuprofile> runs the server under
 * V8's profiler and prints where its time went during the cold and cached passes. A quick or
 * profiled run only prints; a full run also writes its tables into BENCHMARKS.md between
 * `<!-- bench:embed:start -->` and `<!-- bench:embed:end -->`, leaving other sections alone.
 * Child processes are killed and temp dirs removed on exit, failure or SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Embeddings, LOCAL_MODEL_DIMS, LOCAL_MODEL_NAME } from '../src/embed/index.ts';
import { profileLines, summarizeProfile } from './lib/cpu-profile.ts';
import { FakeEmbeddingsServer, unionMs } from './lib/fake-embeddings-server.ts';
import { Random } from './lib/random.ts';
import { killAllServers, startServer } from './lib/server-process.ts';
import type { ServerProcess } from './lib/server-process.ts';
import { BENCHMARKS_FILE, writeSection } from './lib/benchmarks-file.ts';
import { machineFacts, type MachineFacts } from './lib/machine.ts';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

const MODEL = 'bench-embed';
const DIMS = 256;
const MAX_BATCH = 64;
const MAX_CONCURRENCY = 4;
const TIMEOUT_MS = 30_000;
const ROWS_PER_STATEMENT = 100;
const DEFAULT_ROWS = 10_000;
const QUICK_ROWS = 1_000;
const DEFAULT_PROVIDER_MS = 20;
const DEFAULT_CLIENTS = 4;
/** Statements before the first pass, on texts of their own: V8 optimises, SQLite's pages warm. */
const WARMUP_STATEMENTS = 10;
const QUICK_WARMUP_STATEMENTS = 2;
/** The aim: Quiver's share of an embedding INSERT's wall time, beside a 20 ms provider. */
const OVERHEAD_AIM = 0.1;
/** Rows whose stored vector is compared with the provider's after the passes. */
const CHECKED_ROWS = 20;
/** Stored vectors are float32 of values on a 1e-4 grid: far closer than this. */
const VECTOR_TOLERANCE = 1e-6;
const WORDS_PER_DOC = 16;
const DOC_SEED = 7;
/** USER_HZ, the unit of /proc/<pid>/stat's CPU times: 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Functions listed per table of the profile summary. */
const PROFILE_TOP = 25;

/** The built-in model's workloads: the same sentences as the earlier bench/embed-model.ts, so figures compare. */
const LOCAL_WORKLOADS = [
  { label: 'short texts (12 words)', words: 12, count: 50_000 },
  { label: 'long texts (200 words)', words: 200, count: 2_000 },
] as const;
const LOCAL_WARMUP_TEXTS = 1_000;
const LOCAL_WORDS = [
  'the', 'database', 'vector', 'index', 'query', 'join', 'operator', 'column', 'store', 'row', 'PolarDB', 'IMCI',
  'HashMatch', 'embedding', 'search', 'plan', 'hybrid', 'table', 'scan', 'filter', 'result', 'of', 'and', 'in', 'a', 'is',
  'with', 'for', 'to', 'uses',
];

/** Words of the inserted documents; each document also carries its own number, so all are distinct. */
const DOC_WORDS = [
  'vector', 'index', 'segment', 'merge', 'graph', 'query', 'filter', 'recall', 'latency', 'embedding', 'provider', 'batch',
  'cache', 'table', 'column', 'row', 'insert', 'commit', 'transaction', 'snapshot', 'cosine', 'distance', 'neighbour',
  'layer', 'entry', 'point', 'search', 'hybrid', 'keyword', 'score', 'rank', 'document', 'chunk', 'token', 'model',
  'server', 'request', 'client', 'stream', 'page', 'disk', 'memory', 'thread', 'lock', 'queue', 'retry', 'timeout',
];

interface Settings {
  quick: boolean;
  rows: number;
  warmupStatements: number;
  providerMs: number;
  clients: number;
  /** How Quiver asks the provider to send vectors: base64 float32 (Quiver's default) or JSON numbers. */
  encoding: 'float' | 'base64';
  /** Where to write the server's CPU profile, when one is asked for. */
  cpuProfile: string | undefined;
  localScale: number;
}

/** One INSERT as the client saw it, on this process's performance.now() clock. */
interface StatementTiming {
  start: number;
  end: number;
  /** The engine's own execute time, as the server reports it (`timeMs`). */
  serverMs: number;
}

/** Means over a one-at-a-time pass's statements, in ms. */
interface StatementBreakdown {
  totalMs: number;
  providerMs: number;
  beforeMs: number;
  betweenMs: number;
  afterMs: number;
  serverMs: number;
  /** HTTP, body parsing and JSON answer: client time minus the server's execute time. */
  httpMs: number;
}

/** Where a provider request's time went, as the fake server saw it. */
interface RequestPhases {
  /** Arrival to answer written out. */
  totalMs: number;
  /** Arrival to the whole body read. */
  bodyMs: number;
  /** Parsing the body and building the answer (inside the delay). */
  buildMs: number;
  /** Arrival to the answer's sending, due at the delay; later when this process was busy. */
  sentMs: number;
  /** Writing the answer out. */
  writeMs: number;
}

interface PassFigures {
  label: string;
  rows: number;
  clients: number;
  wallMs: number;
  providerRequests: number;
  providerInputs: number;
  maxInFlight: number;
  /** Time with at least one provider request in flight. */
  providerBusyMs: number;
  /** Sum of every request's duration, over providerBusyMs: how much requests overlapped. */
  overlap: number;
  /** Medians over the pass's provider requests, in ms; undefined when there were none. */
  request: RequestPhases | undefined;
  /** Statements whose provider requests were not ceil(rows / maxBatch) (cold) or 0 (cached); one-at-a-time passes only. */
  unexpectedRequestCounts: number;
  /** CPU time the server process used during the pass (user + system), in ms; undefined where /proc is not. */
  serverCpuMs: number | undefined;
  /** The same for the server's main thread alone, where SQL runs. */
  engineCpuMs: number | undefined;
  breakdown: StatementBreakdown | undefined;
  /** performance.now() bounds of the pass, for the profile window. */
  from: number;
  to: number;
}

interface LocalModelFigures {
  convertMs: number;
  convertPeakRssBytes: number;
  loadMs: number;
  fileBytes: number;
  throughput: { label: string; words: number; textsPerSecond: number; wordsPerSecond: number }[];
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const whole = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name}=${JSON.stringify(raw)}: expected a whole number of at least ${min}`);
    return Number(raw);
  };
  const quick = env.BENCH_QUICK === '1';
  return {
    quick,
    rows: whole('BENCH_ROWS', quick ? QUICK_ROWS : DEFAULT_ROWS, 1),
    warmupStatements: quick ? QUICK_WARMUP_STATEMENTS : WARMUP_STATEMENTS,
    providerMs: whole('BENCH_PROVIDER_MS', DEFAULT_PROVIDER_MS, 0),
    clients: whole('BENCH_CLIENTS', DEFAULT_CLIENTS, 0),
    encoding: encodingOf(env.BENCH_ENCODING),
    cpuProfile: env.BENCH_CPU_PROF ? path.resolve(env.BENCH_CPU_PROF) : undefined,
    localScale: quick ? 0.1 : 1,
  };
}

/** Unset: Quiver's default (base64, as the openai SDK asks); BENCH_ENCODING=float measures JSON numbers. */
function encodingOf(raw: string | undefined): Settings['encoding'] {
  if (raw === undefined || raw === '' || raw === 'base64') return 'base64';
  if (raw === 'float') return 'float';
  throw new Error(`BENCH_ENCODING=${JSON.stringify(raw)}: expected float or base64`);
}

// ---------------------------------------------------------------------------------------------
// Child processes other than the servers (those are tracked by lib/server-process.ts)

const children = new Set<ChildProcess>();

/** Runs `node --import tsx <entry> ...args` to completion; resolves with its stdout. */
function runNode(entry: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${entry} exited with code ${code}, signal ${signal}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The built-in model

/** Sentences from a small technical vocabulary (three words unknown to the model), seeded as before. */
function localSentences(words: number, count: number, seed: number): string[] {
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  return Array.from({ length: count }, () => Array.from({ length: words }, () => LOCAL_WORDS[Math.floor(random() * LOCAL_WORDS.length)]).join(' '));
}

async function measureLocalModel(cacheDir: string, scale: number): Promise<LocalModelFigures> {
  const loadOnce = async () =>
    JSON.parse((await runNode('bench/lib/local-model-load.ts', [cacheDir])).trim().split('\n').pop()!) as {
      ms: number;
      converted: boolean;
      fileBytes: number;
      peakRssBytes: number;
    };
  const first = await loadOnce();
  const later = await loadOnce();
  if (!first.converted || later.converted) throw new Error('expected the first load to convert and the second to read the file');
  console.log(`built-in model: first load (convert) ${first.ms.toFixed(0)} ms, later load ${later.ms.toFixed(0)} ms`);

  const embeddings = Embeddings.open({ cacheDir, env: {} });
  try {
    await embeddings.warmUp(LOCAL_MODEL_NAME);
    await embeddings.embed(LOCAL_MODEL_NAME, LOCAL_MODEL_DIMS, localSentences(12, LOCAL_WARMUP_TEXTS, 1));
    const throughput: LocalModelFigures['throughput'] = [];
    for (const workload of LOCAL_WORKLOADS) {
      const count = Math.max(1, Math.round(workload.count * scale));
      const texts = localSentences(workload.words, count, 42);
      const started = performance.now();
      const vectors = await embeddings.embed(LOCAL_MODEL_NAME, LOCAL_MODEL_DIMS, texts);
      const seconds = (performance.now() - started) / 1000;
      if (vectors.length !== count) throw new Error(`${LOCAL_MODEL_NAME} returned ${vectors.length} vectors for ${count} texts`);
      throughput.push({ label: workload.label, words: workload.words, textsPerSecond: count / seconds, wordsPerSecond: (count * workload.words) / seconds });
      console.log(`built-in model, ${workload.label}: ${(count / seconds).toFixed(0)} texts/s`);
    }
    return { convertMs: first.ms, convertPeakRssBytes: first.peakRssBytes, loadMs: later.ms, fileBytes: later.fileBytes, throughput };
  } finally {
    embeddings.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Inserts through the server

interface SqlAnswer {
  results: { columns: string[]; rows: unknown[][]; changes: number }[];
  timeMs: number;
}

async function postSql(server: ServerProcess, body: string): Promise<SqlAnswer> {
  const res = await fetch(`${server.url}/v1/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`Quiver answered ${res.status}: ${text}`);
  return JSON.parse(text) as SqlAnswer;
}

function sqlBody(sql: string, params: unknown[] = []): string {
  return JSON.stringify({ sql, params });
}

/** `count` distinct documents of WORDS_PER_DOC words, numbered and labelled `label`; seeded. */
function documents(label: string, count: number): string[] {
  const random = new Random(DOC_SEED);
  return Array.from({ length: count }, (_, i) => {
    const words = Array.from({ length: WORDS_PER_DOC }, () => DOC_WORDS[random.int(0, DOC_WORDS.length - 1)]);
    return `${label} ${i + 1}: ${words.join(' ')}`;
  });
}

/** Request bodies inserting `docs`, ROWS_PER_STATEMENT rows each; built before a pass so the client does no work during it. */
function insertBodies(docs: readonly string[]): { body: string; rows: number }[] {
  const bodies: { body: string; rows: number }[] = [];
  for (let i = 0; i < docs.length; i += ROWS_PER_STATEMENT) {
    const batch = docs.slice(i, i + ROWS_PER_STATEMENT);
    const sql = `INSERT INTO docs (doc) VALUES ${batch.map(() => '(?)').join(', ')}`;
    bodies.push({ body: sqlBody(sql, batch), rows: batch.length });
  }
  return bodies;
}

/**
 * CPU time used so far (user + system), in ms, by process `pid` (all its threads) or, with
 * `mainThread`, by its main thread alone (the engine's), from /proc; undefined where there is
 * no /proc. Unlike wall time it barely moves when other work shares the machine.
 */
function cpuMs(pid: number, mainThread = false): number | undefined {
  try {
    const stat = fs.readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * Sends `bodies` from `clients` concurrent clients (1: one at a time, in order) and measures;
 * `cold` says every text is new to the cache. The provider's counters are reset first.
 */
async function runPass(
  label: string,
  server: ServerProcess,
  provider: FakeEmbeddingsServer,
  bodies: readonly { body: string; rows: number }[],
  clients: number,
  cold: boolean,
): Promise<PassFigures> {
  provider.reset();
  const timings: StatementTiming[] = new Array(bodies.length);
  let next = 0;
  const client = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const start = performance.now();
      const answer = await postSql(server, bodies[i].body);
      timings[i] = { start, end: performance.now(), serverMs: answer.timeMs };
      if (answer.results[0].changes !== bodies[i].rows) throw new Error(`${label}: an INSERT of ${bodies[i].rows} rows changed ${answer.results[0].changes}`);
    }
  };
  const cpuBefore = cpuMs(server.pid);
  const engineBefore = cpuMs(server.pid, true);
  const from = performance.now();
  await Promise.all(Array.from({ length: clients }, client));
  const to = performance.now();
  const cpuAfter = cpuMs(server.pid);
  const engineAfter = cpuMs(server.pid, true);
  if (provider.failures > 0) throw new Error(`${label}: the provider answered ${provider.failures} requests with an error`);

  const intervals = provider.intervals;
  const busy = provider.busyMs(from, to);
  const durations = intervals.reduce((sum, r) => sum + (r.end - r.start), 0);
  let unexpected = 0;
  let breakdown: StatementBreakdown | undefined;
  if (clients === 1) {
    const parts = timings.map((t, i) => {
      const requests = provider.requestsBetween(t.start, t.end);
      if (requests.length !== (cold ? Math.ceil(bodies[i].rows / MAX_BATCH) : 0)) unexpected++;
      const totalMs = t.end - t.start;
      const providerMs = unionMs(requests, t.start, t.end);
      const first = requests.length > 0 ? Math.min(...requests.map((r) => r.start)) : t.end;
      const last = requests.length > 0 ? Math.max(...requests.map((r) => r.end)) : t.end;
      return {
        totalMs,
        providerMs,
        beforeMs: first - t.start,
        betweenMs: requests.length > 0 ? last - first - providerMs : 0,
        afterMs: requests.length > 0 ? t.end - last : 0,
        serverMs: t.serverMs,
        httpMs: totalMs - t.serverMs,
      };
    });
    // Means, not medians, so that the parts add up to the total.
    const m = (key: keyof StatementBreakdown) => parts.reduce((sum, p) => sum + p[key], 0) / parts.length;
    breakdown = {
      totalMs: m('totalMs'),
      providerMs: m('providerMs'),
      beforeMs: m('beforeMs'),
      betweenMs: m('betweenMs'),
      afterMs: m('afterMs'),
      serverMs: m('serverMs'),
      httpMs: m('httpMs'),
    };
  }
  const request: RequestPhases | undefined =
    intervals.length === 0
      ? undefined
      : {
          totalMs: median(intervals.map((r) => r.end - r.start)),
          bodyMs: median(intervals.map((r) => r.bodyRead - r.start)),
          buildMs: median(intervals.map((r) => r.built - r.bodyRead)),
          sentMs: median(intervals.map((r) => r.delayEnd - r.start)),
          writeMs: median(intervals.map((r) => r.end - r.delayEnd)),
        };
  return {
    label,
    request,
    rows: bodies.reduce((n, b) => n + b.rows, 0),
    clients,
    wallMs: to - from,
    providerRequests: provider.requests,
    providerInputs: provider.inputs,
    maxInFlight: provider.maxInFlight,
    providerBusyMs: busy,
    overlap: busy > 0 ? durations / busy : 0,
    unexpectedRequestCounts: unexpected,
    breakdown,
    serverCpuMs: cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined,
    engineCpuMs: engineBefore !== undefined && engineAfter !== undefined ? engineAfter - engineBefore : undefined,
    from,
    to,
  };
}

/** The stored vectors of a sample of rows must be the provider's, not placeholders. */
async function checkStoredVectors(server: ServerProcess, provider: FakeEmbeddingsServer, expectedRows: number): Promise<void> {
  const count = await postSql(server, sqlBody('SELECT COUNT(*) FROM docs'));
  const rows = Number(count.results[0].rows[0][0]);
  if (rows !== expectedRows) throw new Error(`docs holds ${rows} rows; expected ${expectedRows}`);
  const ids = Array.from({ length: CHECKED_ROWS }, (_, i) => 1 + Math.floor((i * (expectedRows - 1)) / Math.max(1, CHECKED_ROWS - 1)));
  const sample = await postSql(server, sqlBody(`SELECT doc, vec FROM docs WHERE id IN (${ids.map(() => '?').join(', ')})`, ids));
  if (sample.results[0].rows.length !== new Set(ids).size) throw new Error(`docs ids are not 1..${expectedRows}: ${sample.results[0].rows.length} of ${new Set(ids).size} sampled ids found`);
  for (const [doc, vec] of sample.results[0].rows as [string, number[]][]) {
    const expected = provider.vectorOf(doc);
    const worst = Math.max(...expected.map((x, d) => Math.abs(x - vec[d])));
    if (vec.length !== DIMS || !(worst <= VECTOR_TOLERANCE)) {
      throw new Error(`the vector stored for ${JSON.stringify(doc)} is not the provider's (largest difference ${worst})`);
    }
  }
}

function embeddingConfig(provider: FakeEmbeddingsServer, encoding: Settings['encoding']): string {
  return JSON.stringify({
    models: {
      [MODEL]: {
        provider: 'openai',
        baseURL: provider.baseURL,
        dims: DIMS,
        canShorten: false,
        maxBatch: MAX_BATCH,
        maxConcurrency: MAX_CONCURRENCY,
        timeoutMs: TIMEOUT_MS,
        maxRetries: 0,
        encodingFormat: encoding,
      },
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Reporting

const fmt = (x: number, digits = 0) => x.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const seconds = (ms: number) => fmt(ms / 1000, 2);
const perStatement = (ms: number | undefined, p: PassFigures) => (ms === undefined ? '–' : (ms / (p.rows / ROWS_PER_STATEMENT)).toFixed(1));
const overheadShare = (p: PassFigures) => (p.wallMs - p.providerBusyMs) / p.wallMs;

function passTableLines(passes: readonly PassFigures[], settings: Settings): string[] {
  return [
    '| pass | rows | clients | wall s | rows/s | provider requests | provider busy s | engine overhead s | overhead % of wall | floor s | wall ÷ floor | server CPU ms / statement | engine thread CPU ms / statement |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...passes.map((p) => {
      // The provider alone: its requests, maxConcurrency at a time, at BENCH_PROVIDER_MS each.
      const floorMs = Math.ceil(p.providerRequests / MAX_CONCURRENCY) * settings.providerMs;
      return (
        `| ${p.label} | ${fmt(p.rows)} | ${p.clients} | ${seconds(p.wallMs)} | ${fmt(p.rows / (p.wallMs / 1000))} | ` +
        `${fmt(p.providerRequests)} | ${seconds(p.providerBusyMs)} | ${seconds(p.wallMs - p.providerBusyMs)} | ` +
        `${(100 * overheadShare(p)).toFixed(1)}% | ${seconds(floorMs)} | ${floorMs > 0 ? `${(p.wallMs / floorMs).toFixed(1)}x` : '–'} | ` +
        `${perStatement(p.serverCpuMs, p)} | ${perStatement(p.engineCpuMs, p)} |`
      );
    }),
  ];
}

function breakdownTableLines(passes: readonly PassFigures[]): string[] {
  const ms = (x: number) => x.toFixed(2);
  return [
    '| per statement (mean ms) | total | provider busy | before 1st request | between requests | after last request | engine execute (server timeMs) | HTTP + JSON (total − execute) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...passes.flatMap(({ label, breakdown: b, providerRequests }) => {
      if (!b) return [];
      const split = providerRequests > 0 ? [ms(b.providerMs), ms(b.beforeMs), ms(b.betweenMs), ms(b.afterMs)] : ['–', '–', '–', '–'];
      return [`| ${label} | ${ms(b.totalMs)} | ${split.join(' | ')} | ${ms(b.serverMs)} | ${ms(b.httpMs)} |`];
    }),
  ];
}

function localTableLines(local: LocalModelFigures): string[] {
  return [
    '| built-in model quiver-local-100d | value |',
    '|---|---:|',
    `| first load: convert the npm JSON (fresh cache dir, fresh process) | ${fmt(local.convertMs)} ms (peak RSS ${fmt(local.convertPeakRssBytes / 1048576)} MiB) |`,
    `| later load: read the converted file (fresh process) | ${fmt(local.loadMs)} ms |`,
    `| converted file | ${fmt(local.fileBytes / 1048576, 1)} MiB |`,
    ...local.throughput.map((t) => `| ${t.label} | ${fmt(t.textsPerSecond)} texts/s (${fmt(t.wordsPerSecond / 1000)}K words/s) |`),
  ];
}

function requestLine(r: RequestPhases, settings: Settings): string {
  return (
    `median provider request ${r.totalMs.toFixed(2)} ms from arrival to answer written: ${settings.providerMs} ms delay ` +
    `(body read ${r.bodyMs.toFixed(2)} ms and answer built ${r.buildMs.toFixed(2)} ms within it), answer sent at ${r.sentMs.toFixed(2)} ms, ` +
    `written out ${r.writeMs.toFixed(2)} ms later`
  );
}

function factsLine(facts: MachineFacts): string {
  return `${facts.date}; ${facts.cpu}, ${facts.cores} cores; Node ${facts.node}; SQLite ${facts.sqlite}; 1-min load average ${facts.loadAverage.toFixed(2)} at start.`;
}

/**
 * The aim, judged on the concurrent pass: a bulk load with as many clients as the provider has
 * request slots, where Quiver's work can overlap the provider's waits. One at a time it cannot
 * (a statement's own work, measured by the cached pass, waits for its vectors), so that pass's
 * share is given beside the least it could be.
 */
function verdict(passes: readonly PassFigures[], settings: Settings): string[] {
  const [cold, cached, concurrent] = passes;
  const lines: string[] = [];
  if (concurrent) {
    const share = overheadShare(concurrent);
    lines.push(
      `Engine overhead with ${concurrent.clients} clients: ${(100 * share).toFixed(1)}% of wall time with a ${settings.providerMs} ms provider ` +
        `(the aim: under ${100 * OVERHEAD_AIM}%): ${share < OVERHEAD_AIM ? 'met' : 'missed'}.`,
    );
  }
  const alone = cached.breakdown && cold.breakdown ? cached.breakdown.totalMs / (cached.breakdown.totalMs + cold.breakdown.providerMs) : undefined;
  lines.push(
    `One at a time: ${(100 * overheadShare(cold)).toFixed(1)}%` +
      (alone === undefined ? '.' : `; a statement's own work (the cached pass's total) beside its provider time puts that share at ${(100 * alone).toFixed(0)}% or more, whatever embedding costs.`),
  );
  return lines;
}

function writeBenchmarks(passes: readonly PassFigures[], local: LocalModelFigures, facts: MachineFacts, settings: Settings): void {
  const section = [
    '## Embedding inserts: Quiver\'s overhead beside the provider, and the built-in model',
    '',
    `\`npm run bench:embed\` (\`BENCH_ROWS\`, \`BENCH_PROVIDER_MS\`, \`BENCH_CLIENTS\`, \`BENCH_ENCODING\`, \`BENCH_QUICK\`, \`BENCH_CPU_PROF\`), ${factsLine(facts)}`,
    `A fake OpenAI-compatible provider in the driver process answers every batch ${settings.providerMs} ms after it arrives, with ${DIMS}-d vectors`,
    `${settings.encoding === 'float' ? 'as JSON numbers (`BENCH_ENCODING=float`)' : "as base64 float32, which Quiver asks for by default (as the openai SDK does)"}. Quiver's server (a child process, WAL, synchronous=FULL) has it`,
    `as model \`${MODEL}\` (maxBatch ${MAX_BATCH}, maxConcurrency ${MAX_CONCURRENCY}) and inserts, through \`POST /v1/sql\`, ${ROWS_PER_STATEMENT}-row statements of distinct texts into`,
    `\`docs (id INT AUTO_INCREMENT PRIMARY KEY, doc TEXT, vec VECTOR(${DIMS}) AS (EMBEDDING(doc, '${MODEL}', ${DIMS})) STORED)\`,`,
    `after ${settings.warmupStatements} warm-up statements; stored vectors are checked against the provider's.`,
    '*wall s* is the pass\'s elapsed time and *rows/s* the rows it inserted per second of it. *provider requests* are those the fake',
    `server received (cold: ceil(${ROWS_PER_STATEMENT}/${MAX_BATCH}) = 2 per statement; cached: must be 0). *provider busy s* is the time at least one`,
    'request was in flight (the union of each request\'s arrival-to-answer interval), and *engine overhead* is wall minus that:',
    'the time the client waited on Quiver rather than on the provider. *floor s* is what the provider alone would take',
    `(its requests, ${MAX_CONCURRENCY} at a time, ${settings.providerMs} ms each), and *wall ÷ floor* how far from it the pass ran: with several clients`,
    "Quiver's work overlaps the provider's waits, so its overhead hides inside *provider busy*, and this ratio shows what it still costs.",
    '*server CPU ms / statement* is the CPU time the server process used during the pass (from /proc, background cache writes',
    'included) per 100-row statement: unlike wall time, it hardly moves when other work shares the machine.',
    "*engine thread CPU* is the part of it spent on the server's main thread, where SQL runs and every write waits its turn (provider",
    'requests and cache writes have threads of their own). The aim (engine overhead under 10%) is judged on the concurrent pass, a bulk',
    "load at the provider's concurrency; one at a time, a statement's own work cannot overlap its provider wait.",
    '',
    ...passTableLines(passes, settings),
    '',
    'One statement of the one-at-a-time passes, on average, split at the provider\'s requests (cold): *before 1st request* is',
    'HTTP in, parsing, finding the texts (read from the statement\'s values, or else a run that collects the misses with',
    'placeholders and its rollback), the cache lookups and the SDK building its requests; *after last request* is decoding',
    'the last answer, the run that inserts, COMMIT (an fsync) and HTTP out; the cache file is written in the background,',
    'during provider waits. *engine execute* is the server\'s own `timeMs` for the statement (provider wait included), and',
    '*HTTP + JSON* the rest of the client\'s round trip. The cached pass\'s *total* is what a statement costs beside any',
    'embedding work (HTTP, parsing, the insert, COMMIT): the floor under the cold pass\'s overhead. `BENCH_CPU_PROF=<file>`',
    'prints where the server\'s time goes.',
    '',
    ...breakdownTableLines(passes),
    '',
    ...verdict(passes, settings),
    '',
    'The built-in model: the first load converts the npm package\'s 294 MB JSON into a binary file (once per machine), later',
    'loads read that file; each is timed in a fresh process. Throughput is through `Embeddings.embed` in one process,',
    'on seeded sentences from a 30-word technical vocabulary (three words unknown to the model, built from n-grams).',
    '',
    ...localTableLines(local),
  ].join('\n');

  writeSection('bench:embed', section);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const facts = machineFacts();
  console.log(factsLine(facts));
  console.log(
    `${settings.rows} rows per pass in ${ROWS_PER_STATEMENT}-row statements; provider ${settings.providerMs} ms per batch; ` +
      `vectors sent as ${settings.encoding}; concurrent pass: ${settings.clients === 0 ? 'skipped' : `${settings.clients} clients`}` +
      `${settings.quick ? '; quick run' : ''}`,
  );

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-bench-embed-'));
  const cleanUp = () => {
    killAllServers();
    for (const child of children) child.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  };
  // A child left running would hold its port, its memory and its temp dir; signals skip `finally`.
  process.on('exit', cleanUp);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) process.on(signal, () => process.exit(code));

  // First, so the server below finds the converted model file and loads it in milliseconds.
  const modelCacheDir = path.join(root, 'model-cache');
  const local = await measureLocalModel(modelCacheDir, settings.localScale);

  const provider = await FakeEmbeddingsServer.start({ dims: DIMS, delayMs: settings.providerMs });
  const configPath = path.join(root, 'embedding.json');
  fs.writeFileSync(configPath, embeddingConfig(provider, settings.encoding));
  const profileStartFile = settings.cpuProfile ? `${settings.cpuProfile}.start.json` : undefined;
  let server: ServerProcess | undefined;
  try {
    server = await startServer({
      name: 'quiver',
      entry: settings.cpuProfile ? 'bench/lib/profiled-server.ts' : 'src/api/server.ts',
      env: {
        QUIVER_DATA_DIR: path.join(root, 'data'),
        QUIVER_EMBEDDING_CONFIG: configPath,
        QUIVER_CACHE_DIR: modelCacheDir,
        ...(settings.cpuProfile ? { BENCH_PROFILE_FILE: settings.cpuProfile } : {}),
      },
    });
    // Returns once the server's built-in model is loaded, so that load is not inside a pass.
    await postSql(server, sqlBody(`SELECT EMBEDDING('warm-up', '${LOCAL_MODEL_NAME}')`));
    await postSql(
      server,
      sqlBody(`CREATE TABLE docs (id INT AUTO_INCREMENT PRIMARY KEY, doc TEXT, vec VECTOR(${DIMS}) AS (EMBEDDING(doc, '${MODEL}', ${DIMS})) STORED)`),
    );

    const warmup = insertBodies(documents('warm-up document', settings.warmupStatements * ROWS_PER_STATEMENT));
    await runPass('warm-up', server, provider, warmup, 1, true);
    const docs = documents('document', settings.rows);
    const passes: PassFigures[] = [];
    console.log('cold, one at a time ...');
    passes.push(await runPass('cold, one at a time', server, provider, insertBodies(docs), 1, true));
    console.log('cached, one at a time ...');
    passes.push(await runPass('cached (same texts), one at a time', server, provider, insertBodies(docs), 1, false));
    if (settings.clients > 0) {
      console.log(`cold, ${settings.clients} at a time ...`);
      passes.push(await runPass(`cold, ${settings.clients} at a time`, server, provider, insertBodies(documents('other document', settings.rows)), settings.clients, true));
    }
    await checkStoredVectors(server, provider, settings.warmupStatements * ROWS_PER_STATEMENT + settings.rows * passes.length);

    const [cold, cached] = passes;
    console.log(['', ...passTableLines(passes, settings), '', ...breakdownTableLines(passes), '', ...verdict(passes, settings), '', ...localTableLines(local)].join('\n'));
    for (const p of passes) {
      console.log(`${p.label}: most provider requests in flight at once ${p.maxInFlight}; overlap of requests ${p.overlap.toFixed(2)}x; texts sent ${fmt(p.providerInputs)}`);
      if (p.request) console.log(`  ${requestLine(p.request, settings)}`);
    }

    const problems: string[] = [];
    const expectedCold = Math.ceil(settings.rows / ROWS_PER_STATEMENT) * Math.ceil(ROWS_PER_STATEMENT / MAX_BATCH);
    if (cold.unexpectedRequestCounts > 0 || cold.providerRequests !== expectedCold) {
      problems.push(`cold pass: ${cold.providerRequests} provider requests, expected ${expectedCold} (${cold.unexpectedRequestCounts} statements off)`);
    }
    if (cached.providerRequests !== 0) problems.push(`cached pass: ${cached.providerRequests} provider requests, expected 0`);
    const concurrent = passes[2];
    if (concurrent && concurrent.providerRequests !== expectedCold) {
      problems.push(`concurrent pass: ${concurrent.providerRequests} provider requests, expected ${expectedCold}`);
    }

    await server.stop();
    if (settings.cpuProfile) {
      const { epochMs } = JSON.parse(fs.readFileSync(profileStartFile!, 'utf8')) as { epochMs: number };
      const epoch = (t: number) => performance.timeOrigin + t;
      for (const pass of [cold, cached]) {
        console.log(`\n${pass.label} (${seconds(pass.wallMs)} s under the profiler):`);
        const summary = summarizeProfile(settings.cpuProfile, epochMs, epoch(pass.from), epoch(pass.to));
        console.log(profileLines(summary, PROFILE_TOP).join('\n'));
      }
      console.log(`\nprofile written to ${settings.cpuProfile} (open in Chrome DevTools or speedscope)`);
    }

    if (problems.length > 0) {
      console.error(`${problems.join('\n')}\nBENCHMARKS.md left as it was`);
      return 1;
    }
    if (settings.quick || settings.cpuProfile) {
      console.log('quick or profiled run: BENCHMARKS.md left as it was');
      return 0;
    }
    writeBenchmarks(passes, local, facts, settings);
    console.log(`wrote ${path.relative(process.cwd(), BENCHMARKS_FILE) || BENCHMARKS_FILE}`);
    return 0;
  } finally {
    await server?.stop();
    await provider.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
