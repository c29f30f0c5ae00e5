/**
 * @module bench/ann/sql-client
 * A small client for Quiver's `POST /v1/sql`, for the end-to-end ANN benchmark: node:http with
 * a keep-alive agent (one socket per concurrent client, so a timed query never pays for a TCP
 * handshake), bodies sent as already-serialised JSON, and no client-side timeout, because
 * `OPTIMIZE TABLE` on 100,000 rows holds one request open for minutes (fetch's default
 * 300 s headers timeout could cut it off). A non-200 answer is thrown with its problem `code`
 * and `detail`. Deliberately not the OpenAPI client of the tests: bench code does not import
 * from tests/, and this path must cost as little client CPU as possible.
 */
import { JsonClient } from '../lib/json-client.ts';

/** One statement's result, as `POST /v1/sql` returns it. */
export interface StatementResult {
  columns: string[];
  rows: unknown[][];
  changes: number;
  lastInsertId: number | null;
}

export interface SqlResponse {
  results: StatementResult[];
  /** The server's own time for the request (parse, plan, execute; lock wait included). */
  timeMs: number;
}

export class SqlClient {
  private readonly client: JsonClient;

  /** `url` is the server's base URL, e.g. `http://127.0.0.1:41234`; `sockets` caps concurrent requests. */
  constructor(url: string, sockets: number) {
    this.client = new JsonClient(url, sockets);
  }

  /** Runs `sql` with `params`; throws on any status but 200. */
  query(sql: string, params?: unknown[]): Promise<SqlResponse> {
    return this.post(JSON.stringify(params === undefined ? { sql } : { sql, params }));
  }

  /** Posts a body already serialised as `{"sql": ..., "params": ...}` (the timed loops build these ahead). */
  async post(body: string): Promise<SqlResponse> {
    return (await this.client.post<SqlResponse>('/v1/sql', body)).body;
  }

  close(): void {
    this.client.close();
  }
}
