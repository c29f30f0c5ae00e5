/**
 * @module chat
 * `POST /v1/chat`: reads the JSON body, has src/chat retrieve and answer, and shapes the
 * answer — JSON, or with `"stream": true` server-sent events in OpenAI's
 * `chat.completion.chunk` shape with the sources in the first event (the contract is
 * src/chat/README-contract.md). Retrieval errors are ordinary problem+json 4xx/5xx. When the
 * chat provider fails, the answer is a 502 CHAT_FAILED problem that still reports the
 * retrieval (`sources`, `retrieval`, `timings`); once a stream has begun, a failure arrives as
 * an in-stream `{"error": ...}` event followed by `[DONE]`.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { ChunkWriter, answerJson, failedAnswerJson, parseChatRequest } from '../../chat/index.ts';
import type { ChatService, PreparedChat, StreamPiece } from '../../chat/index.ts';
import { QuiverError, isQuiverError } from '../../core/index.ts';
import { callerOf, requireRole, type Caller } from '../auth.ts';
import { bodyText, isUtf8Charset, parseJsonBody, parseMediaType } from '../body.ts';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../problem.ts';
import { methodNotAllowed } from './method-not-allowed.ts';

const ACCEPTED = 'send application/json such as {"question": "...", "table": "docs"}';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  // Proxies such as nginx would otherwise hold the tokens back until the answer is done.
  'x-accel-buffering': 'no',
};

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}

/**
 * Routes for `/v1/chat`, which needs the read role; `chatFor` gives the service whose SQL runs
 * with the caller's role; the body has been received by `readBody` (body.ts) before admission.
 */
export function chatRoutes(chatFor: (caller: Caller | null) => ChatService): Hono {
  return new Hono()
    .post('/v1/chat', requireRole('read'), async (c) => {
      const service = chatFor(callerOf(c));
      const request = parseChatRequest(readJsonBody(c));
      const prepared = await service.prepare(request);
      const started = performance.now();
      // Aborted when the client goes away, so a provider stops generating for nobody.
      const abort = new AbortController();
      c.req.raw.signal.addEventListener('abort', () => abort.abort(), { once: true });
      if (!request.stream) {
        try {
          const answer = await service.answer(prepared, abort.signal);
          return c.body(answerJson(answer), 200, { 'content-type': 'application/json' });
        } catch (e) {
          return failedAnswer(e, prepared, started);
        }
      }
      let pieces: AsyncGenerator<StreamPiece>;
      try {
        pieces = await service.stream(prepared, abort.signal);
      } catch (e) {
        return failedAnswer(e, prepared, started);
      }
      return new Response(eventStream(prepared, pieces, started, abort), { status: 200, headers: SSE_HEADERS });
    })
    .all('/v1/chat', methodNotAllowed(['POST']));
}

/** A provider failure as a 502 problem that keeps the retrieval; anything else is rethrown to the app's error handler. */
function failedAnswer(error: unknown, prepared: PreparedChat, started: number): Response {
  if (!isQuiverError(error) || error.code !== 'CHAT_FAILED') throw error;
  const problem = toProblem(error);
  const body = failedAnswerJson({ ...problem }, prepared, { retrievalMs: prepared.retrievalMs, generationMs: elapsed(started) });
  return new Response(body, { status: problem.status, headers: { 'content-type': PROBLEM_CONTENT_TYPE } });
}

/** The SSE body: sources first, then the answer's pieces, the last chunk, and [DONE]; pulled, so a slow client slows the provider read. */
function eventStream(prepared: PreparedChat, pieces: AsyncGenerator<StreamPiece>, started: number, abort: AbortController): ReadableStream<Uint8Array> {
  const writer = new ChunkWriter(prepared);
  const encoder = new TextEncoder();
  async function* events(): AsyncGenerator<string> {
    yield writer.first(prepared);
    try {
      for await (const piece of pieces) {
        if (piece.kind === 'delta') yield writer.delta(piece.text);
        else yield writer.last(piece.finishReason, piece.usage, { retrievalMs: prepared.retrievalMs, generationMs: elapsed(started) });
      }
    } catch (e) {
      if (abort.signal.aborted) return;
      if (!isQuiverError(e)) console.error('quiver: internal error while streaming POST /v1/chat:', e);
      yield writer.error({ ...toProblem(e) });
    }
    yield writer.done();
  }
  const iterator = events();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      abort.abort();
      await pieces.return(undefined);
      await iterator.return(undefined);
    },
  });
}

function readJsonBody(c: Context): unknown {
  const media = parseMediaType(c.req.header('content-type') ?? null);
  if (media === undefined) throw new QuiverError('UNSUPPORTED_MEDIA_TYPE', `the request has no content-type; ${ACCEPTED}`);
  if (media.essence !== 'application/json') throw new QuiverError('UNSUPPORTED_MEDIA_TYPE', `content-type ${media.essence} is not accepted; ${ACCEPTED}`);
  if (!isUtf8Charset(media.charset)) throw new QuiverError('UNSUPPORTED_MEDIA_TYPE', `charset ${media.charset} is not supported; send UTF-8 JSON`);
  const text = bodyText(c);
  if (text.trim() === '') throw new QuiverError('INVALID_JSON', `the request body is empty; ${ACCEPTED}`);
  return parseJsonBody(text);
}
