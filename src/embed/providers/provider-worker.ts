/**
 * @module provider-worker
 * Entry point of the thread that talks to OpenAI-compatible embedding endpoints for one
 * Embeddings instance (started by provider-thread.ts, never imported by anything else). It
 * holds one OpenAIProvider per model and runs one attempt per message, so the SDK's request
 * building, the HTTP exchange, JSON parsing and base64 decoding stay off the thread that runs
 * SQL. Answers carry the vectors packed in one transferred Float32Array, or the ProviderError's
 * fields; a `cancel` aborts an attempt whose caller gave up.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ProviderError } from '../provider.ts';
import { OpenAIProvider } from './openai.ts';
import type { OpenAIProviderOptions } from './openai.ts';

/** A model as the thread builds it: OpenAIProviderOptions with only its key variable in `env`. */
export type ThreadModel = OpenAIProviderOptions;

export interface ThreadData {
  models: ThreadModel[];
}

export type ThreadRequest = { kind: 'embed'; id: number; model: number; texts: string[]; dims: number } | { kind: 'cancel'; id: number };

/** A ProviderError's fields, or the text of anything else that went wrong. */
export type ThreadFailure =
  | { provider: true; failure: ProviderError['failure']; message: string; status?: number; retryAfterMs?: number }
  | { provider: false; message: string };

/** `ready` once the modules are loaded, then one answer per `embed`. */
export type ThreadAnswer = { ready: true } | { id: number; ok: true; vectors: Float32Array } | { id: number; ok: false; error: ThreadFailure };

const port = parentPort;
if (port === null) throw new Error('provider-worker.ts must run in a worker thread');
const providers = (workerData as ThreadData).models.map((options) => new OpenAIProvider(options));
const running = new Map<number, AbortController>();

port.on('message', (request: ThreadRequest) => {
  if (request.kind === 'cancel') {
    running.get(request.id)?.abort();
    return;
  }
  const controller = new AbortController();
  running.set(request.id, controller);
  void embed(request, controller.signal).then((answer) => {
    running.delete(request.id);
    // An answer to a cancelled attempt is still sent: the caller has stopped waiting for it.
    if (answer.ok) port.postMessage(answer, [answer.vectors.buffer as ArrayBuffer]);
    else port.postMessage(answer);
  });
});
port.postMessage({ ready: true } satisfies ThreadAnswer);

async function embed(request: Extract<ThreadRequest, { kind: 'embed' }>, signal: AbortSignal): Promise<Exclude<ThreadAnswer, { ready: true }>> {
  try {
    const vectors = await providers[request.model].embed(request.texts, request.dims, signal);
    const packed = new Float32Array(vectors.length * request.dims);
    vectors.forEach((v, i) => packed.set(v, i * request.dims));
    return { id: request.id, ok: true, vectors: packed };
  } catch (error) {
    if (error instanceof ProviderError) {
      const { failure, message, status, retryAfterMs } = error;
      return { id: request.id, ok: false, error: { provider: true, failure, message, status, retryAfterMs } };
    }
    return { id: request.id, ok: false, error: { provider: false, message: error instanceof Error ? error.message : String(error) } };
  }
}
