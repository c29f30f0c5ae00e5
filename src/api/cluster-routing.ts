/**
 * @module cluster-routing
 * Cluster mode, in front of /v1/sql and /v1/chat: any node takes any request.
 * - A write sent to a replica is forwarded to the primary (the engine refuses it with
 *   NOT_PRIMARY before running anything; the request is then sent on as it came, with its key),
 *   so a plain curl to any node succeeds, through an election too (it waits for the new
 *   primary). A forwarded request is never forwarded again.
 * - `Quiver-Consistency: strong` is served by the primary, forwarded like a write.
 * - `Quiver-Min-Position: N` (the Quiver-Position a write answered with) waits until this node
 *   has applied N, at most QUIVER_MIN_POSITION_WAIT_MS, then fails with 503 saying what to do.
 * - Every answer carries `Quiver-Position`: the log position this node had applied when it
 *   answered, which a later read may send back as its Quiver-Min-Position.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { QuiverError, isQuiverError } from '../core/index.ts';
import type { ClusterNode } from '../cluster/index.ts';
import type { Engine } from '../sql/index.ts';
import { problemResponse } from './problem.ts';

export const POSITION_HEADER = 'Quiver-Position';
export const MIN_POSITION_HEADER = 'Quiver-Min-Position';
export const CONSISTENCY_HEADER = 'Quiver-Consistency';
/** Set on a forwarded request: the node it came through. */
export const FORWARDED_HEADER = 'Quiver-Forwarded-By';

/** How often a forwarded request checks whether another node took over from the one it waits on. */
const TAKEOVER_CHECK_MS = 200;
/** Headers a forwarded request keeps; the rest (hop-by-hop, length) the fetch sets again. */
const FORWARDED_REQUEST_HEADERS = ['authorization', 'content-type', MIN_POSITION_HEADER.toLowerCase(), CONSISTENCY_HEADER.toLowerCase()];
/** Headers of the primary's answer passed back to the client. */
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'retry-after', 'www-authenticate', 'cache-control', POSITION_HEADER.toLowerCase()];

export interface ClusterRouting {
  node: Pick<ClusterNode, 'awaitPrimary' | 'isPrimary' | 'confirmPrimary' | 'currentPrimaryUrl'>;
  engine: Pick<Engine, 'appliedPosition' | 'waitForPosition'>;
  nodeId: string;
  minPositionWaitMs: number;
  /** How long a forwarded request may take at the primary. */
  forwardTimeoutMs: number;
  /** How long a request waits for a primary to be chosen before 503. */
  electionWaitMs: number;
}

export function clusterRouting(routing: ClusterRouting): MiddlewareHandler {
  return async (c, next) => {
    const forwarded = c.req.header(FORWARDED_HEADER) !== undefined;
    // A strong read is served by a primary that the log confirms is still one.
    if (readConsistency(c.req.header(CONSISTENCY_HEADER)) && !(routing.node.isPrimary && (await routing.node.confirmPrimary()))) {
      if (forwarded) throw new QuiverError('NOT_PRIMARY', 'this node is no longer the primary; the node that forwarded the read tries the next one', { retryAfterSeconds: 1 });
      replaceResponse(c, await forward(c, routing));
      return;
    }
    const min = readMinPosition(c.req.header(MIN_POSITION_HEADER));
    if (min !== undefined && !(await routing.engine.waitForPosition(min, routing.minPositionWaitMs))) {
      throw new QuiverError(
        'POSITION_NOT_REACHED',
        `this node has applied log position ${routing.engine.appliedPosition}, not yet ${min}, after waiting ${routing.minPositionWaitMs} ms (QUIVER_MIN_POSITION_WAIT_MS); retry, or send ${CONSISTENCY_HEADER}: strong to read from the primary`,
        { retryAfterSeconds: 1 },
      );
    }
    await next();
    if (isQuiverError(c.error) && c.error.code === 'NOT_PRIMARY' && !forwarded) {
      c.error = undefined;
      replaceResponse(c, await forward(c, routing));
      return;
    }
    c.res.headers.set(POSITION_HEADER, String(routing.engine.appliedPosition));
  };
}

/**
 * Sends the request on to the primary as it came, and its answer back; through an election it
 * waits for the new primary (as long as a write waits for the log), then 503 NOT_PRIMARY. The
 * primary may be this node itself, elected while the request waited: it is sent to itself.
 */
async function forward(c: Context, routing: ClusterRouting): Promise<Response> {
  const headers = new Headers({ [FORWARDED_HEADER]: routing.nodeId });
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers.set(name, value);
  }
  const body = c.get('body') as Uint8Array | undefined;
  const deadline = Date.now() + routing.electionWaitMs;
  let answer: Response;
  for (;;) {
    const primary = await routing.node.awaitPrimary(Math.max(0, deadline - Date.now()));
    if (!primary) {
      return problemResponse(new QuiverError('NOT_PRIMARY', 'no node is the primary right now (one is being chosen); nothing was written. Retry shortly', { retryAfterSeconds: 1 }));
    }
    const takeover = watchTakeover(routing.node, primary);
    try {
      answer = await fetch(primary + c.req.path, {
        method: c.req.method,
        headers,
        body: body && body.length > 0 ? Buffer.from(body) : undefined,
        signal: AbortSignal.any([AbortSignal.timeout(routing.forwardTimeoutMs), takeover.signal]),
      });
      // NOT_PRIMARY: it ran nothing (it stepped down meanwhile), so the next primary may take it.
      if (answer.status !== 503) break;
      const text = await answer.text();
      if (!isNotPrimary(text) || Date.now() >= deadline) {
        answer = new Response(text, answer);
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    } catch (e) {
      if (takeover.signal.aborted) {
        return problemResponse(
          new QuiverError(
            'NOT_PRIMARY',
            `the primary at ${primary} stopped answering and another node took over; the write may or may not have been committed before it stopped: read before you retry it`,
            { retryAfterSeconds: 1 },
          ),
        );
      }
      // Refused: the request never reached the primary (it died), so trying the next one is safe;
      // any other failure may have run it, and only the client can tell whether to retry.
      if (!refused(e) || Date.now() >= deadline) {
        return problemResponse(
          new QuiverError('NOT_PRIMARY', `the primary at ${primary} could not be reached or did not answer (${e instanceof Error ? e.message : String(e)}); the write may not have run. Retry shortly`, { retryAfterSeconds: 1 }),
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      takeover.stop();
    }
  }
  const passed = new Headers();
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) passed.set(name, value);
  }
  // Streamed through: a chat's answer arrives as the primary writes it.
  return new Response(answer.body, { status: answer.status, headers: passed });
}

/**
 * Aborts when a node other than `primary` becomes the primary while a request forwarded there
 * waits: a primary that stopped answering (a hung machine) would otherwise hold it until the
 * forward's timeout, though the cluster has moved on.
 */
function watchTakeover(node: ClusterRouting['node'], primary: string): { signal: AbortSignal; stop: () => void } {
  const abort = new AbortController();
  const timer = setInterval(() => {
    const now = node.currentPrimaryUrl();
    if (now !== null && now !== primary) abort.abort();
  }, TAKEOVER_CHECK_MS);
  return { signal: abort.signal, stop: () => clearInterval(timer) };
}

function isNotPrimary(problem: string): boolean {
  try {
    return (JSON.parse(problem) as { code?: unknown }).code === 'NOT_PRIMARY';
  } catch {
    return false;
  }
}

function refused(e: unknown): boolean {
  return (e as { cause?: { code?: string } })?.cause?.code === 'ECONNREFUSED';
}

/** Sets the answer to `res` alone: Hono would merge the local error's headers (its Retry-After) into it. */
function replaceResponse(c: Context, res: Response): void {
  c.res = undefined as unknown as Response;
  c.res = res;
}

function readConsistency(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (v === 'strong') return true;
  if (v === 'eventual') return false;
  throw new QuiverError('BAD_REQUEST', `header ${CONSISTENCY_HEADER}: expected strong (read from the primary) or eventual (the default); got ${JSON.stringify(value)}`);
}

function readMinPosition(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value.trim())) {
    throw new QuiverError('BAD_REQUEST', `header ${MIN_POSITION_HEADER}: expected the whole number a write's ${POSITION_HEADER} header gave; got ${JSON.stringify(value)}`);
  }
  return Number(value.trim());
}
