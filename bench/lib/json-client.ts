/**
 * @module bench/lib/json-client
 * A keep-alive HTTP client for the benchmarks: POSTs a JSON body already serialised (the timed
 * loops build them ahead), times the round trip to the last byte read, and turns any status but
 * 200 into an error naming the problem+json code and detail. No timeout: OPTIMIZE on 100,000
 * rows holds a request open for minutes.
 */
import http from 'node:http';

/** An answer as `send` returns it: status, Retry-After (seconds, when sent), round trip, body text and headers. */
export interface SentRequest {
  status: number;
  retryAfterSeconds: number | null;
  roundTripMs: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

export class JsonClient {
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

  /** POSTs `body` to `path`; resolves with the parsed answer and the round trip in ms, rejects any status but 200. */
  async post<T>(path: string, body: string): Promise<{ roundTripMs: number; body: T }> {
    const { status, roundTripMs, text } = await this.send(path, body);
    if (status !== 200) {
      let why = text.slice(0, 500);
      try {
        const problem = JSON.parse(text) as { code?: string; detail?: string };
        why = `${problem.code}: ${problem.detail}`;
      } catch {
        // Not problem+json: show the start of the body as it came.
      }
      throw new Error(`POST ${path} answered ${status} (${why})`);
    }
    return { roundTripMs, body: JSON.parse(text) as T };
  }

  /**
   * POSTs `body` to `path` (with `headers` besides the content type, e.g. cluster mode's
   * Quiver-Min-Position) and resolves with whatever came back, any status: for load drivers
   * that count errors and honour `Retry-After` instead of stopping at the first non-200.
   */
  send(path: string, body: string, headers: Record<string, string> = {}): Promise<SentRequest> {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          path,
          method: 'POST',
          agent: this.agent,
          headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const retryAfter = Number(res.headers['retry-after']);
            resolve({
              status: res.statusCode ?? 0,
              retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : null,
              roundTripMs: performance.now() - t0,
              text: Buffer.concat(chunks).toString('utf8'),
              headers: res.headers,
            });
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
