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
import http from 'node:http';

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
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  /** `url` is the server's base URL, e.g. `http://127.0.0.1:41234`; `sockets` caps concurrent requests. */
  constructor(url: string, sockets: number) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  /** Runs `sql` with `params`; throws on any status but 200. */
  query(sql: string, params?: unknown[]): Promise<SqlResponse> {
    return this.post(JSON.stringify(params === undefined ? { sql } : { sql, params }));
  }

  /** Posts a body already serialised as `{"sql": ..., "params": ...}` (the timed loops build these ahead). */
  post(body: string): Promise<SqlResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          path: '/v1/sql',
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) {
              let why = text.slice(0, 500);
              try {
                const problem = JSON.parse(text) as { code?: string; detail?: string };
                why = `${problem.code}: ${problem.detail}`;
              } catch {
                // Not problem+json: show the start of the body as it came.
              }
              reject(new Error(`POST /v1/sql answered ${res.statusCode} (${why})`));
              return;
            }
            try {
              resolve(JSON.parse(text) as SqlResponse);
            } catch (e) {
              reject(e);
            }
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
