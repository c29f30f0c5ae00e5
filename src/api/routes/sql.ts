/**
 * @module sql
 * `POST /v1/sql`: validates the request, makes one call to the engine, shapes the answer
 * (DESIGN decision 7). The body is either JSON `{"sql": "...", "params": [...] | {...}}` or the
 * SQL itself as `application/sql` / `text/plain`, so `curl --data-binary @schema.sql` works.
 * Every refusal here is a 4xx QuiverError saying what to fix; none of them quotes a bound
 * parameter, because params may carry secrets or personal data.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { QuiverError } from '../../core/index.ts';
import type { Params } from '../../sql/index.ts';
import type { SqlEngine } from '../app.ts';
import { callerOf, roleOf } from '../auth.ts';
import { bodyText, isUtf8Charset, parseJsonBody, parseMediaType } from '../body.ts';
import { noteSql } from '../observe.ts';
import { executeResultJson } from '../result-json.ts';
import { methodNotAllowed } from './method-not-allowed.ts';

/** How each accepted media type carries the SQL. */
const BODY_FORMS: ReadonlyMap<string, 'json' | 'raw'> = new Map([
  ['application/json', 'json'],
  ['application/sql', 'raw'],
  ['text/plain', 'raw'],
]);

const ACCEPTED =
  'send application/json ({"sql": "...", "params": [...]}), or the SQL itself as application/sql or text/plain';

const JSON_FIELDS = new Set(['sql', 'params', 'timeoutMs']);

interface SqlRequest {
  sql: string;
  params: Params;
  /** Lowers the server's statement timeout for this request. */
  timeoutMs?: number;
}

/** Routes for `/v1/sql`; the body has been received by `readBody` (body.ts) before admission. */
export function sqlRoutes(engine: SqlEngine): Hono {
  return new Hono()
    .post('/v1/sql', async (c) => {
      const { sql, params, timeoutMs } = readSqlRequest(c);
      noteSql(c, { sql });
      const started = performance.now();
      const result = await engine.execute(sql, params, { role: roleOf(c), timeoutMs, client: callerOf(c)?.name });
      noteSql(c, { kinds: result.kinds });
      const timeMs = Math.round((performance.now() - started) * 1000) / 1000;
      return c.body(executeResultJson(result, timeMs), 200, { 'content-type': 'application/json' });
    })
    .all('/v1/sql', methodNotAllowed(['POST']));
}

function readSqlRequest(c: Context): SqlRequest {
  const media = parseMediaType(c.req.header('content-type') ?? null);
  if (media === undefined) throw new QuiverError('UNSUPPORTED_MEDIA_TYPE', `the request has no content-type; ${ACCEPTED}`);
  const form = BODY_FORMS.get(media.essence);
  if (form === undefined) {
    throw new QuiverError('UNSUPPORTED_MEDIA_TYPE', `content-type ${media.essence} is not accepted; ${ACCEPTED}`);
  }
  if (!isUtf8Charset(media.charset)) {
    throw new QuiverError('UNSUPPORTED_MEDIA_TYPE', `charset ${media.charset} is not supported; send UTF-8 text`);
  }

  const text = bodyText(c);
  if (form === 'raw') return { sql: requireSql(text, 'the request body'), params: [] };
  return parseJsonRequest(text);
}

function parseJsonRequest(text: string): SqlRequest {
  if (text.trim() === '') {
    throw new QuiverError('INVALID_JSON', 'the request body is empty; send a JSON object such as {"sql": "SELECT 1"}');
  }
  const body = parseJsonBody(text);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new QuiverError('BAD_REQUEST', `the body must be a JSON object such as {"sql": "SELECT 1"}; got ${kindOf(body)}`);
  }
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!JSON_FIELDS.has(key)) {
      throw new QuiverError('BAD_REQUEST', `unknown field ${JSON.stringify(key)}; the body takes "sql" and, optionally, "params" and "timeoutMs"`);
    }
  }
  if (!Object.hasOwn(fields, 'sql')) {
    throw new QuiverError('BAD_REQUEST', 'missing field "sql"; send {"sql": "SELECT 1"}');
  }
  if (typeof fields.sql !== 'string') {
    throw new QuiverError('BAD_REQUEST', `field "sql" must be a string; got ${kindOf(fields.sql)}`);
  }
  return { sql: requireSql(fields.sql, 'field "sql"'), params: readParams(fields.params), timeoutMs: readTimeout(fields.timeoutMs) };
}

function readParams(params: unknown): Params {
  if (params === undefined) return [];
  if (typeof params === 'object' && params !== null) return params as Params;
  throw new QuiverError(
    'BAD_REQUEST',
    `field "params" must be an array (for ? placeholders) or an object (for :name placeholders); got ${kindOf(params)}`,
  );
}

function readTimeout(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
  throw new QuiverError('BAD_REQUEST', `field "timeoutMs" must be a whole number of milliseconds, at least 1; got ${kindOf(value)}`);
}

function requireSql(sql: string, what: string): string {
  if (sql.trim() === '') throw new QuiverError('BAD_REQUEST', `${what} is empty; send at least one SQL statement`);
  return sql;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
