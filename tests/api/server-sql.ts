/**
 * SQL against a real server process in tests: POST /v1/sql, every response checked against
 * openapi.yaml, and a 200 expected; answers each statement's rows.
 */
import { expect } from 'vitest';
import { checkedFetch } from './contract/checked.ts';
import type { ServerProcess } from './server-process.ts';

/** Runs `statement` on `server`; the rows of each of its statements. */
export async function serverSql(server: ServerProcess, statement: string, params: unknown[] = []): Promise<unknown[][][]> {
  const res = await checkedFetch(`${server.url}/v1/sql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sql: statement, params }),
  });
  const body = (await res.json()) as { results?: { rows: unknown[][] }[]; detail?: string };
  expect(res.status, body.detail).toBe(200);
  return body.results!.map((r) => r.rows);
}
