/**
 * @module observe
 * Watches every request, outermost of the app's middleware: gives it a request id (the
 * client's `X-Request-Id` when well-formed, else a new UUID) echoed in `Quiver-Request-Id`,
 * times it, and once it is answered writes one JSON log line (pino) and counts it in the
 * metrics (metrics.ts). The line holds the id, method, route pattern, status, duration, the
 * key's name, /v1/sql's statement kinds and the error code of a problem answer; the SQL text
 * only at debug level; never a key, a bound value or a row, so nothing here reads the body or
 * the headers but the request id.
 */
import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';
import { PROBLEM_CONTENT_TYPE } from './problem.ts';

export const REQUEST_ID_HEADER = 'Quiver-Request-Id';
/** Letters, digits and `.-_:` up to 128: a UUID, a trace id, nothing that could forge a log line. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by /v1/sql (noteSql): the request's SQL text, logged at debug level only. */
    sqlText: string;
    /** Set by /v1/sql (noteSql): its statements' kinds, once they ran. */
    statementKinds: readonly string[];
  }
}

/** What /v1/sql tells the request log and metrics of its request. */
export function noteSql(c: Context, note: { sql?: string; kinds?: readonly string[] }): void {
  if (note.sql !== undefined) c.set('sqlText', note.sql);
  if (note.kinds !== undefined) c.set('statementKinds', note.kinds);
}

/**
 * The middleware; `app.use(observe(logger, metrics))` first, so it sees every answer,
 * problem+json ones included.
 */
export function observe(logger: Logger, metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const clientId = c.req.header('x-request-id');
    const requestId = clientId !== undefined && CLIENT_REQUEST_ID.test(clientId) ? clientId : randomUUID();
    await next();
    c.res.headers.set(REQUEST_ID_HEADER, requestId);
    const seconds = (performance.now() - started) / 1000;
    // After the handlers ran, the route pattern of the last one (a middleware's, `/v1/*`, when it answered).
    const route = c.req.routePath;
    const status = c.res.status;
    const errorCode = await problemCode(c.res);
    const kinds = c.get('statementKinds');
    metrics.observeRequest({ method: c.req.method, route, status, seconds });
    if (route === '/v1/sql') metrics.observeSql(kinds, errorCode);
    const caller = c.get('caller');
    const sql = logger.isLevelEnabled('debug') ? c.get('sqlText') : undefined;
    logger.info(
      { requestId, method: c.req.method, route, status, durationMs: Math.round(seconds * 1e6) / 1e3, key: caller?.name, kinds, errorCode, sql },
      'request',
    );
  };
}

/** The `code` of a problem+json answer; undefined for any other. */
async function problemCode(res: Response): Promise<string | undefined> {
  if (!res.headers.get('content-type')?.startsWith(PROBLEM_CONTENT_TYPE)) return undefined;
  const body = (await res.clone().json()) as { code?: unknown };
  return typeof body.code === 'string' ? body.code : undefined;
}
