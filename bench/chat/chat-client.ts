/**
 * @module bench/chat/chat-client
 * A small client for Quiver's `POST /v1/chat`, for the chat benchmark: node:http on one
 * keep-alive socket (a timed request never pays for a TCP handshake), bodies serialised before
 * the clock starts, the answer parsed after it stops. Only the fields the benchmark reads are
 * typed. A non-200 answer is thrown with its problem `code` and `detail`. Deliberately not the
 * OpenAPI client of the tests, for the same reasons as ../ann/sql-client.ts.
 */
import { JsonClient } from '../lib/json-client.ts';

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
  private readonly client: JsonClient;

  /** `url` is the server's base URL, e.g. `http://127.0.0.1:41234`. */
  constructor(url: string) {
    this.client = new JsonClient(url, 1);
  }

  /** Posts `body` (already JSON) to /v1/chat and times the round trip; throws on any status but 200. */
  async post(body: string): Promise<TimedChat> {
    const { roundTripMs, body: response } = await this.client.post<ChatResponse>('/v1/chat', body);
    return { roundTripMs, response };
  }

  close(): void {
    this.client.close();
  }
}
