/**
 * @module openai
 * Any OpenAI-compatible `POST /embeddings` endpoint through the official `openai` package:
 * OpenAI, Azure OpenAI (its `/openai/v1/` endpoint), DashScope's compatible mode, Ollama, vLLM,
 * LM Studio and Hugging Face TEI. One request per call and no retries of the SDK's own
 * (maxRetries: 0): the batcher owns retrying, so Retry-After and the retry budget are honoured
 * in one place. The key is read from the environment variable the config names, never from the
 * config, and anything the server echoes back is scrubbed of it before it becomes a message.
 */
import OpenAI from 'openai';
import { ProviderError, parseRetryAfter } from '../provider.ts';
import type { EmbeddingProvider, ModelInfo } from '../provider.ts';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/** Keyless servers (Ollama, vLLM, LM Studio, TEI) still need the SDK to send something. */
const NO_KEY = 'no-key';
/** Longest provider message quoted in an error; bodies can be whole HTML pages. */
const MAX_MESSAGE_CHARS = 300;
/** Strings that look like keys of the vendors above, masked even when they are not ours. */
const KEY_LIKE = /\b(?:sk-|hf_)[A-Za-z0-9_*-]{8,}|(?<=Bearer\s+)\S+/gi;

/** An `openai` client for an OpenAI-compatible endpoint, with nothing taken from OPENAI_* variables. */
export function createOpenAIClient(options: { apiKey: string | undefined; baseURL: string; maxRetries: number; timeoutMs: number }): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey ?? NO_KEY,
    baseURL: options.baseURL,
    // Explicit nulls keep OPENAI_ORG_ID / OPENAI_PROJECT_ID in the environment out of it.
    organization: null,
    project: null,
    maxRetries: options.maxRetries,
    timeout: options.timeoutMs,
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
  /** `float` works everywhere; `base64` is smaller on the wire where supported. */
  encodingFormat: 'float' | 'base64';
  env: NodeJS.ProcessEnv;
}

/** An OpenAI-compatible embeddings endpoint. */
export class OpenAIProvider implements EmbeddingProvider {
  readonly model: ModelInfo;
  private client: OpenAI | undefined;
  private apiKey: string | undefined;

  constructor(private readonly options: OpenAIProviderOptions) {
    this.model = options.model;
  }

  async embed(texts: string[], dims: number, signal: AbortSignal): Promise<Float32Array[]> {
    const client = this.connect();
    const shorten = this.model.canShorten && dims < this.model.dims;
    let response: OpenAI.CreateEmbeddingResponse;
    try {
      response = await client.embeddings.create(
        {
          model: this.options.remoteModel,
          input: texts,
          encoding_format: this.options.encodingFormat,
          ...(shorten ? { dimensions: dims } : {}),
        },
        { signal },
      );
    } catch (error) {
      throw this.toProviderError(error);
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
    this.client = createOpenAIClient({ apiKey: key, baseURL, maxRetries: 0, timeoutMs: 2 * this.model.timeoutMs });
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

function retryAfterOf(headers: Headers): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  return parseRetryAfter(headers.get('retry-after'));
}

function causeMessage(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    const inner = (cause as { cause?: unknown }).cause;
    const innerCode = inner instanceof Error ? (inner as { code?: unknown }).code : undefined;
    return String(innerCode ?? code ?? cause.message);
  }
  return error.message;
}

/** A JSON array of numbers or base64 float32 little-endian, as a Float32Array; undefined if neither. */
function toVector(embedding: unknown): Float32Array | undefined {
  let vector: Float32Array;
  if (typeof embedding === 'string') {
    const bytes = Buffer.from(embedding, 'base64');
    if (bytes.length % 4 !== 0) return undefined;
    vector = new Float32Array(bytes.length / 4);
    for (let i = 0; i < vector.length; i++) vector[i] = bytes.readFloatLE(i * 4);
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
