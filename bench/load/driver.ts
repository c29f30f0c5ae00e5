/**
 * @module bench/load/driver
 * Runs the mixed workload (./workload.ts) against a server for a bounded time with a fixed
 * number of closed-loop clients — each sends its next request when the last one is answered —
 * and records every operation's latency, every error, and, once a second, the server's memory
 * and its vector index's lag. Shared by `npm run bench:load` and the soak.
 *
 * A response counts as an error unless it is a 200 whose body makes sense for its operation
 * (a query returns K rows, an insert an id, a delete changes exactly one row). The one
 * exception is 503 OVERLOADED, the server's documented back-pressure: the client waits the
 * `Retry-After` it was given and sends the same request again; such answers are counted apart,
 * and the operation's latency runs from its first send to its answer. Latencies are those of a
 * closed loop, so a stall delays the requests behind it instead of adding to their latency:
 * the percentiles understate what an open-loop client would see during one (coordinated
 * omission), and throughput shows it instead.
 */
import fs from 'node:fs';
import type { JsonClient } from '../lib/json-client.ts';
import { INDEX, K, OP_KINDS, TABLE, type Bodies, type LiveIds, type Mix, type OpKind } from './workload.ts';

/** Errors whose details are kept; beyond that only counted. */
const KEPT_ERRORS = 20;
const SAMPLE_EVERY_MS = 1_000;

export interface ErrorRecord {
  op: string;
  status: number;
  /** The problem+json code, or what went wrong with a 200. */
  code: string;
  detail: string;
}

/** A run's tally of errors, shared by the workload and the sampler. */
export class Errors {
  count = 0;
  readonly kept: ErrorRecord[] = [];

  add(record: ErrorRecord): void {
    this.count++;
    if (this.kept.length < KEPT_ERRORS) this.kept.push(record);
  }
}

interface SqlBody {
  results?: { rows: unknown[][]; changes: number; lastInsertId: number | null }[];
  code?: string;
  detail?: string;
}

/** The answer to one request after any 503 retries, or null after an error (recorded in `errors`). */
async function send(client: JsonClient, op: string, body: string, errors: Errors, counters: { overloaded: number }): Promise<SqlBody | null> {
  for (;;) {
    let answer;
    try {
      answer = await client.send('/v1/sql', body);
    } catch (e) {
      errors.add({ op, status: 0, code: 'NETWORK', detail: String(e) });
      return null;
    }
    let parsed: SqlBody;
    try {
      parsed = JSON.parse(answer.text) as SqlBody;
    } catch {
      errors.add({ op, status: answer.status, code: 'NOT_JSON', detail: answer.text.slice(0, 200) });
      return null;
    }
    if (answer.status === 503 && parsed.code === 'OVERLOADED') {
      counters.overloaded++;
      await new Promise((resolve) => setTimeout(resolve, (answer.retryAfterSeconds ?? 1) * 1000));
      continue;
    }
    if (answer.status !== 200) {
      errors.add({ op, status: answer.status, code: parsed.code ?? '?', detail: parsed.detail ?? answer.text.slice(0, 200) });
      return null;
    }
    return parsed;
  }
}

export interface RunOptions {
  client: JsonClient;
  clients: number;
  durationMs: number;
  mix: Mix;
  bodies: Bodies;
  live: LiveIds;
}

export interface RunResult {
  wallMs: number;
  /** Latency of every successful operation, ms, by kind. */
  latencies: Record<OpKind, number[]>;
  /** Query latencies by query shape key. */
  shapeLatencies: Map<string, number[]>;
  errors: Errors;
  /** 503 OVERLOADED answers that were retried. */
  overloaded: number;
}

/** Runs `options.clients` closed-loop clients for `options.durationMs`; resolves when the last is answered. */
export async function runMixed(options: RunOptions, errors = new Errors()): Promise<RunResult> {
  const { client, bodies, live, mix } = options;
  const latencies = Object.fromEntries(OP_KINDS.map((k) => [k, [] as number[]])) as Record<OpKind, number[]>;
  const shapeLatencies = new Map<string, number[]>();
  const counters = { overloaded: 0 };
  const t0 = performance.now();
  const end = t0 + options.durationMs;

  const one = async (): Promise<void> => {
    let kind = bodies.pick(mix);
    const deleting = kind === 'delete' ? live.take(bodies.source) : undefined;
    if (kind === 'delete' && deleting === undefined) kind = 'insert';
    const start = performance.now();
    if (kind === 'query') {
      const { shape, body } = bodies.query();
      const answer = await send(client, 'query', body, errors, counters);
      if (!answer) return;
      const rows = answer.results!.at(-1)!.rows.length;
      if (rows !== K) return errors.add({ op: 'query', status: 200, code: 'SHORT_ANSWER', detail: `WHERE ${shape.where}: ${rows} rows, expected ${K}` });
      const ms = performance.now() - start;
      latencies.query.push(ms);
      let list = shapeLatencies.get(shape.key);
      if (!list) shapeLatencies.set(shape.key, (list = []));
      list.push(ms);
    } else if (kind === 'insert') {
      const answer = await send(client, 'insert', bodies.insert(), errors, counters);
      if (!answer) return;
      const id = answer.results![0].lastInsertId;
      if (typeof id !== 'number') return errors.add({ op: 'insert', status: 200, code: 'NO_ID', detail: `lastInsertId ${id}` });
      latencies.insert.push(performance.now() - start);
      live.add(id);
    } else {
      const answer = await send(client, 'delete', bodies.delete(deleting!), errors, counters);
      if (!answer) return;
      const changes = answer.results![0].changes;
      if (changes !== 1) return errors.add({ op: 'delete', status: 200, code: 'WRONG_CHANGES', detail: `deleting live id ${deleting} changed ${changes} rows` });
      latencies.delete.push(performance.now() - start);
    }
  };

  const loop = async (): Promise<void> => {
    while (performance.now() < end) await one();
  };
  await Promise.all(Array.from({ length: options.clients }, loop));
  return { wallMs: performance.now() - t0, latencies, shapeLatencies, errors, overloaded: counters.overloaded };
}

/** One sample of the server's state. */
export interface Sample {
  /** ms since the sampler started. */
  atMs: number;
  /** VmRSS of the server process (all its threads), or null where /proc is missing. */
  rssBytes: number | null;
  lagRows: number;
  lagSeconds: number;
  tailRows: number;
  segments: number;
  indexRows: number;
  indexMemoryBytes: number;
}

/** The server's resident set size from /proc/<pid>/status; null off Linux. */
export function readRss(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time a process has used, in seconds: all its threads, and its main thread alone (Quiver's engine thread). */
export interface CpuSeconds {
  process: number;
  main: number;
}

/** Linux's USER_HZ, the unit of /proc's utime and stime; 100 on every common build. */
const CLOCK_TICKS = 100;

/** utime + stime of a /proc stat line, in seconds (fields 14 and 15; the name in parentheses may hold spaces). */
function statSeconds(file: string): number {
  const line = fs.readFileSync(file, 'utf8');
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** The CPU time `pid` has used from /proc; null off Linux. */
export function readCpu(pid: number): CpuSeconds | null {
  try {
    return { process: statSeconds(`/proc/${pid}/stat`), main: statSeconds(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return null;
  }
}

/** `SHOW INDEX STATUS FROM docs`, the row of index `vi`, by column name. */
export async function indexStatus(client: JsonClient): Promise<Record<string, unknown>> {
  const answer = await client.send('/v1/sql', JSON.stringify({ sql: `SHOW INDEX STATUS FROM ${TABLE}` }));
  if (answer.status !== 200) throw new Error(`SHOW INDEX STATUS answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  const result = (JSON.parse(answer.text) as { results: { columns: string[]; rows: unknown[][] }[] }).results[0];
  const row = result.rows.find((r) => r[0] === INDEX);
  if (!row) throw new Error(`SHOW INDEX STATUS FROM ${TABLE} lists no index ${INDEX}`);
  return Object.fromEntries(result.columns.map((c, i) => [c, row[i]]));
}

/** Samples RSS and index lag every second until `stop()`, which resolves with the samples. */
export function startSampler(client: JsonClient, pid: number, errors: Errors): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  const t0 = performance.now();
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const atMs = performance.now() - t0;
      const rssBytes = readRss(pid);
      try {
        const s = await indexStatus(client);
        samples.push({
          atMs,
          rssBytes,
          lagRows: Number(s.lag_rows),
          lagSeconds: Number(s.lag_seconds),
          tailRows: Number(s.tail_rows),
          segments: Number(s.segments),
          indexRows: Number(s.rows),
          indexMemoryBytes: Number(s.memory_bytes),
        });
      } catch (e) {
        errors.add({ op: 'index status', status: 0, code: 'SAMPLER', detail: String(e) });
      }
      const next = t0 + (Math.floor((performance.now() - t0) / SAMPLE_EVERY_MS) + 1) * SAMPLE_EVERY_MS;
      while (!stopped && performance.now() < next) await new Promise((resolve) => setTimeout(resolve, Math.min(100, next - performance.now())));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return samples;
    },
  };
}
