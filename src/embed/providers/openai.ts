/**
 * @module openai
 * Any OpenAI-compatible `POST /embeddings` endpoint through the official `openai` package:
 * OpenAI, Azure OpenAI (its `/openai/v1/` endpoint), DashScope's compatible mode, Ollama, vLLM,
 * LM Studio and Hugging Face TEI. One request per call and no retries of the SDK's own
 * (maxRetries: 0): the batcher owns retrying, so Retry-After and the retry budget are honoured
 * in one place. The key is read from the environment variable the config names, never from the
 * config, and anything the server echoes back is scrubbed of it before it becomes a message.
 * Vectors are asked for as base64 (decoded straight into each Float32Array, see toVector), over
 * the transport of http-fetch.ts rather than the global fetch: both cut the work between the
 * provider's answer and the statement's run.
 */
import OpenAI from 'openai';
import { ProviderError, parseRetryAfter } from '../provider.ts';
import { createHttpFetch } from './http-fetch.ts';
import type { EmbeddingProvider, ModelInfo } from '../provider.ts';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/** Keyless servers (Ollama, vLLM, LM Studio, TEI) still need the SDK to send something. */
const NO_KEY = 'no-key';
/** Longest provider message quoted in an error; bodies can be whole HTML pages. */
const MAX_MESSAGE_CHARS = 300;
/** Strings that look like keys of the vendors above, masked even when they are not ours. */
const KEY_LIKE = /\b(?:sk-|hf_)[A-Za-z0-9_*-]{8,}|(?<=Bearer\s+)\S+/gi;

/**
 * An `openai` client for an OpenAI-compatible endpoint, with nothing taken from OPENAI_*
 * variables; `fetch` replaces the global one (the embeddings client's, see http-fetch.ts).
 */
export function createOpenAIClient(options: {
  apiKey: string | undefined;
  baseURL: string;
  maxRetries: number;
  timeoutMs: number;
  fetch?: typeof fetch;
}): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey ?? NO_KEY,
    baseURL: options.baseURL,
    // Explicit nulls keep OPENAI_ORG_ID / OPENAI_PROJECT_ID in the environment out of it.
    organization: null,
    project: null,
    maxRetries: options.maxRetries,
    timeout: options.timeoutMs,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** A provider's message fit to quote in an error: keys masked, whitespace folded, length capped. */
export function scrubProviderMessage(text: string, apiKey: string | undefined): string {
  let out = text;
  if (apiKey && apiKey.length >= 4) out = out.split(apiKey).join('[redacted]');
  out = out.replace(KEY_LIKE, '[redacted]').replace(/\s+/g, ' ').trim();
  return out.length > MAX_MESSAGE_CHARS ? `${out.slice(0, MAX_MESSAGE_CHARS)}…` : out;
}

export interface OpenAIProviderOptions {
  model: ModelInfo;
  baseURL: string;
  /** The model name the endpoint knows, which may differ from the SQL name. */
  remoteModel: string;
  /** Name of the environment variable holding the key; none for keyless servers. */
  apiKeyEnv: string | undefined;
  /**
   * `base64` (the default, and what the openai SDK itself asks for) is smaller on the wire and
   * decodes without parsing numbers; a server that refuses it gets `float` instead.
   */
  encodingFormat: 'float' | 'base64';
  env: NodeJS.ProcessEnv;
}

/** An OpenAI-compatible embeddings endpoint. */
export class OpenAIProvider implements EmbeddingProvider {
  readonly model: ModelInfo;
  private client: OpenAI | undefined;
  private apiKey: string | undefined;
  /** What is asked for; base64 falls back to float for good when the server refuses it. */
  private encoding: 'float' | 'base64';

  constructor(private readonly options: OpenAIProviderOptions) {
    this.model = options.model;
    this.encoding = options.encodingFormat;
  }

  async embed(texts: string[], dims: number, signal: AbortSignal): Promise<Float32Array[]> {
    const client = this.connect();
    const shorten = this.model.canShorten && dims < this.model.dims;
    let response: OpenAI.CreateEmbeddingResponse;
    for (;;) {
      const encoding = this.encoding;
      try {
        response = await client.embeddings.create(
          {
            model: this.options.remoteModel,
            input: texts,
            encoding_format: encoding,
            ...(shorten ? { dimensions: dims } : {}),
          },
          { signal },
        );
        break;
      } catch (error) {
        // A server that refuses base64 by name gets numbers from now on, and this request again.
        if (encoding === 'base64' && refusesBase64(error)) {
          this.encoding = 'float';
          continue;
        }
        throw this.toProviderError(error);
      }
    }
    return this.vectorsOf(response, texts.length, dims);
  }

  private connect(): OpenAI {
    if (this.client) return this.client;
    const { apiKeyEnv, env, baseURL } = this.options;
    const key = apiKeyEnv ? env[apiKeyEnv] : undefined;
    if (apiKeyEnv && !key) {
      throw new ProviderError('config', `the environment variable ${apiKeyEnv}, which holds its API key, is not set`);
    }
    this.apiKey = key;
    // The batcher retries and aborts at timeoutMs; the client's timeout is only a backstop.
    this.client = createOpenAIClient({ apiKey: key, baseURL, maxRetries: 0, timeoutMs: 2 * this.model.timeoutMs, fetch: createHttpFetch() });
    return this.client;
  }

  private vectorsOf(response: OpenAI.CreateEmbeddingResponse, count: number, dims: number): Float32Array[] {
    const data = Array.isArray(response?.data) ? response.data : undefined;
    if (!data || data.length !== count) {
      throw new ProviderError('response', `returned ${data ? data.length : 'no'} vectors for ${count} texts`);
    }
    const out = new Array<Float32Array>(count);
    for (let i = 0; i < data.length; i++) {
      const item = data[i];
      // OpenAI returns items in input order with their index; others may not, so trust index.
      const at = Number.isInteger(item.index) ? item.index : i;
      if (at < 0 || at >= count || out[at]) {
        throw new ProviderError('response', `returned an embedding with index ${item.index} for ${count} texts`);
      }
      const vector = toVector(item.embedding as unknown);
      if (!vector) throw new ProviderError('response', 'returned an embedding that is not a list of finite numbers');
      if (vector.length !== dims) {
        throw new ProviderError(
          'response',
          `returned ${vector.length}-dimensional vectors where ${dims} were expected; check "dims" in the embedding config`,
        );
      }
      out[at] = vector;
    }
    return out;
  }

  private toProviderError(error: unknown): unknown {
    if (error instanceof OpenAI.APIUserAbortError) return error;
    if (error instanceof OpenAI.APIConnectionError) {
      return new ProviderError('network', this.scrub(causeMessage(error)), { cause: error });
    }
    if (error instanceof OpenAI.APIError && error.status !== undefined) {
      const message = this.scrub(error.message.replace(/^\d{3}\s*/, ''));
      const headers = error.headers;
      const retryAfterMs = headers ? retryAfterOf(headers) : undefined;
      return new ProviderError('http', message, { status: error.status, retryAfterMs });
    }
    // Anything else (a body that is not JSON, a bug) is a final failure, without the raw error's text.
    return new ProviderError('response', `answered with something that is not an embeddings response`, { cause: error });
  }

  private scrub(text: string): string {
    return scrubProviderMessage(text, this.apiKey);
  }
}

/** A 400/422 whose message names the encoding: the server does not do base64. */
function refusesBase64(error: unknown): boolean {
  return error instanceof OpenAI.APIError && (error.status === 400 || error.status === 422) && /encoding|base64/i.test(error.message);
}

function retryAfterOf(headers: Headers): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  return parseRetryAfter(headers.get('retry-after'));
}

/** What failed underneath a network error (ECONNREFUSED, ETIMEDOUT, ...), for messages: the innermost code, else the cause's message. */
export function causeMessage(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    const inner = (cause as { cause?: unknown }).cause;
    const innerCode = inner instanceof Error ? (inner as { code?: unknown }).code : undefined;
    return String(innerCode ?? code ?? cause.message);
  }
  return error.message;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A JSON array of numbers or base64 float32 little-endian, as a Float32Array of finite values;
 * undefined if neither. Base64 is decoded straight into the vector's own memory: one pass, no
 * intermediate buffer, and a vector that owns its bytes (a view of a pooled Buffer would keep
 * its whole slab alive in the cache).
 */
export function toVector(embedding: unknown): Float32Array | undefined {
  let vector: Float32Array;
  if (typeof embedding === 'string') {
    const size = Buffer.byteLength(embedding, 'base64');
    if (size % 4 !== 0) return undefined;
    vector = new Float32Array(size / 4);
    const bytes = Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
    // byteLength counts characters; fewer bytes written means the text was not clean base64.
    if (bytes.write(embedding, 'base64') !== size) return undefined;
    if (!LITTLE_ENDIAN) bytes.swap32();
  } else if (Array.isArray(embedding)) {
    vector = new Float32Array(embedding.length);
    for (let i = 0; i < embedding.length; i++) {
      if (typeof embedding[i] !== 'number') return undefined;
      vector[i] = embedding[i];
    }
  } else return undefined;
  for (let i = 0; i < vector.length; i++) if (!Number.isFinite(vector[i])) return undefined;
  return vector;
}
