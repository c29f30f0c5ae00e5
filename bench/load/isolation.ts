/**
 * @module bench/load/isolation
 * Issue 6's concurrency measurement: point queries' latency while a ~5-second analytic query
 * runs, against the same point queries with nothing else running. Point queries are sent open
 * loop, at a fixed rate on a schedule, and each one's latency runs from its scheduled time, so
 * a server that stalls shows every query it stalled at its real wait, not only the one it held
 * (no coordinated omission). The analytic query scans the whole table computing a cosine
 * distance per row, `passes` times over (a recursive CTE counts the passes), grouped by
 * tenant: a read, so with read workers it runs on one of them.
 */
import type { JsonClient } from '../lib/json-client.ts';
import { TABLE, type Bodies, type LiveIds } from './workload.ts';

/** Point queries per second: enough for a p99 over 5 s, few enough to load nothing. */
export const POINT_RATE = 100;

export function analyticSql(): string {
  return (
    `WITH RECURSIVE passes(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM passes WHERE i < ?) ` +
    `SELECT d.tenant, count(*) AS n, avg(VEC_DISTANCE_COSINE(d.vec, ?)) AS mean_distance FROM passes, ${TABLE} d GROUP BY d.tenant`
  );
}

async function post(client: JsonClient, body: string): Promise<number> {
  const answer = await client.send('/v1/sql', body);
  if (answer.status !== 200) throw new Error(`POST /v1/sql answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  return answer.roundTripMs;
}

/** Runs the analytic query once with `passes`; resolves with its round trip in ms. */
export function runAnalytic(client: JsonClient, passes: number, vector: number[]): Promise<number> {
  return post(client, JSON.stringify({ sql: analyticSql(), params: [passes, vector] }));
}

/** Point queries' latencies (ms, from each one's scheduled send) and the ones that failed, by reason. */
export interface PointRun {
  latencies: number[];
  failures: Map<string, number>;
}

/**
 * Sends point queries for random live ids at POINT_RATE until `until` resolves (or `until` ms
 * pass). A query that fails (a non-200, a connection reset) is counted by reason, not retried:
 * the measurement reports it beside the latencies.
 */
export async function pointQueries(client: JsonClient, bodies: Bodies, live: LiveIds, until: Promise<unknown> | number): Promise<PointRun> {
  const ids = live.sample(bodies.source, 10_000);
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  const fail = (why: string) => failures.set(why, (failures.get(why) ?? 0) + 1);
  const inFlight: Promise<void>[] = [];
  let done = false;
  if (typeof until === 'number') setTimeout(() => (done = true), until);
  else void until.finally(() => (done = true));
  const t0 = performance.now();
  const interval = 1000 / POINT_RATE;
  for (let i = 0; !done; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (done) break;
    const sent = client.send('/v1/sql', bodies.point(ids[i % ids.length])).then(
      (answer) => (answer.status === 200 ? void latencies.push(performance.now() - due) : fail(`HTTP ${answer.status}`)),
      (e: unknown) => fail((e as NodeJS.ErrnoException).code ?? String(e)),
    );
    inFlight.push(sent.then(() => undefined));
  }
  await Promise.all(inFlight);
  return { latencies, failures };
}
