/**
 * @module bench/chat/chat-client
 * A small client for Quiver's `POST /v1/chat`, for the chat benchmark: node:http on one
 * keep-alive socket (a timed request never pays for a TCP handshake), bodies serialised before
 * the clock starts, the answer parsed after it stops. Only the fields the benchmark reads are
 * typed. A non-200 answer is thrown with its problem `code` and `detail`. Deliberately not the
 * OpenAPI client of the tests, for the same reasons as ../ann/sql-client.ts.
 */
import http from 'node:http';

/** The part of a /v1/chat answer (mode `none`) the benchmark checks and records. */
export interface ChatResponse {
  mode: string;
  sources: { rowId: number; columns: Record<string, unknown>; distance: number | null; textScore: number | null }[];
  retrieval: { mode: string; requested: string; candidates: number; vectorHits: number; textHits: number };
  timings: { retrievalMs: number; generationMs: number };
  notes: string[];
}

export interface TimedChat {
  /** Client round trip: request written to last byte read, before JSON.parse. */
  roundTripMs: number;
  response: ChatResponse;
}

export class ChatClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly host: string;
  private readonly port: number;

  /** `url` is the server's base URL, e.g. `http://127.0.0.1:41234`. */
  constructor(url: string) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port);
  }

  /** Posts `body` (already JSON) to /v1/chat and times the round trip; throws on any status but 200. */
  post(body: string): Promise<TimedChat> {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          path: '/v1/chat',
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const roundTripMs = performance.now() - t0;
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) {
              let why = text.slice(0, 500);
              try {
                const problem = JSON.parse(text) as { code?: string; detail?: string };
                why = `${problem.code}: ${problem.detail}`;
              } catch {
                // Not problem+json: show the start of the body as it came.
              }
              reject(new Error(`POST /v1/chat answered ${res.statusCode} (${why})`));
              return;
            }
            try {
              resolve({ roundTripMs, response: JSON.parse(text) as ChatResponse });
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
