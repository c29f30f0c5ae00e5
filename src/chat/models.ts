/**
 * @module models
 * The chat models /v1/chat generates with: any OpenAI-compatible chat completions endpoint
 * (OpenAI, Azure OpenAI, DashScope's compatible mode, Ollama, vLLM, LM Studio) through the
 * `openai` package, configured in the `chat` section of the embedding config file (see
 * src/embed/registry.ts; the first model is the default). Keys come only from the variable
 * `apiKeyEnv` names, and anything a provider says is scrubbed of key-like strings before it
 * becomes an error. Every failure is a CHAT_FAILED (502) naming the model, the status and the
 * provider's message; the SDK retries 429/5xx itself (`maxRetries`) and `timeoutMs` bounds the
 * whole answer, streamed or not.
 */
import OpenAI from 'openai';
import { causeMessage, createOpenAIClient, readChatConfig, scrubProviderMessage, type ChatModelConfig } from '../embed/index.ts';
import { QuiverError } from '../core/index.ts';
import type { ChatMessage } from './request.ts';


/** Token counts as the provider reports them. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface Completion {
  content: string;
  finishReason: string | null;
  usage: Usage | undefined;
}

/** One piece of a streamed answer: text, or the end with its finish reason and usage. */
export type StreamPiece = { kind: 'delta'; text: string } | { kind: 'end'; finishReason: string | null; usage: Usage | undefined };

export interface GenerationSettings {
  temperature?: number;
  maxTokens?: number;
}

/** A failed chat call; `detail` names the model and never holds a key. */
export class ChatFailedError extends QuiverError {
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super('CHAT_FAILED', detail, options);
  }
}

export interface ChatModelsOptions {
  dataDir?: string;
  configPath?: string;
  /** Where keys are read; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The configured chat models, by name (case-insensitive). */
export class ChatModels {
  private readonly byName = new Map<string, ChatModelConfig>();
  private readonly clients = new Map<string, OpenAI>();

  constructor(
    readonly configs: readonly ChatModelConfig[],
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    for (const c of configs) this.byName.set(c.name.toLowerCase(), c);
  }

  /** The `chat` section of the config file Embeddings.open reads (QUIVER_EMBEDDING_CONFIG or `<dataDir>/embedding.json`). */
  static open(options: ChatModelsOptions = {}): ChatModels {
    const env = options.env ?? process.env;
    return new ChatModels(readChatConfig({ dataDir: options.dataDir, configPath: options.configPath, env }), env);
  }

  /** The names requests may give, the default first. */
  get names(): string[] {
    return this.configs.map((c) => c.name);
  }

  /**
   * The model to generate with: `name`, or the default when none is asked for; undefined when
   * none is configured and none asked for (the caller then answers extractively).
   */
  resolve(name: string | undefined): ChatModelConfig | undefined {
    if (name === undefined) return this.configs[0];
    const found = this.byName.get(name.toLowerCase());
    if (found) return found;
    const known = this.configs.length ? `the configured chat models are: ${this.names.join(', ')}` : 'no chat model is configured (add a "chat" section to the embedding config)';
    throw new QuiverError('UNKNOWN_MODEL', `unknown chat model '${name.slice(0, 128)}'; ${known}`);
  }

  /** One whole answer. */
  async complete(model: ChatModelConfig, messages: readonly ChatMessage[], settings: GenerationSettings, signal?: AbortSignal): Promise<Completion> {
    const client = this.client(model);
    const deadline = this.deadline(model, signal);
    try {
      const response = await client.chat.completions.create(
        { ...this.body(model, messages, settings), stream: false },
        { signal: deadline.signal },
      );
      const choice = Array.isArray(response?.choices) ? response.choices[0] : undefined;
      const content = choice?.message?.content;
      if (typeof content !== 'string') throw new ChatFailedError(`chat model ${model.name} answered without a message`);
      return { content, finishReason: choice?.finish_reason ?? null, usage: usageOf(response.usage) };
    } catch (error) {
      throw this.failure(model, error, deadline);
    } finally {
      deadline.clear();
    }
  }

  /**
   * A streamed answer. Resolves once the provider has accepted the request (so an HTTP error
   * is thrown here, before anything is sent to the client); the pieces follow, and a failure
   * mid-stream is thrown from the iteration as a ChatFailedError.
   */
  async stream(model: ChatModelConfig, messages: readonly ChatMessage[], settings: GenerationSettings, signal?: AbortSignal): Promise<AsyncGenerator<StreamPiece>> {
    const client = this.client(model);
    const deadline = this.deadline(model, signal);
    let stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>;
    try {
      stream = await client.chat.completions.create(
        { ...this.body(model, messages, settings), stream: true, stream_options: { include_usage: true } },
        { signal: deadline.signal },
      );
    } catch (error) {
      deadline.clear();
      throw this.failure(model, error, deadline);
    }
    return this.pieces(model, stream, deadline);
  }

  private async *pieces(model: ChatModelConfig, stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>, deadline: Deadline): AsyncGenerator<StreamPiece> {
    let finishReason: string | null = null;
    let usage: Usage | undefined;
    try {
      for await (const chunk of stream) {
        const choice = Array.isArray(chunk?.choices) ? chunk.choices[0] : undefined;
        const text = choice?.delta?.content;
        if (typeof text === 'string' && text.length > 0) yield { kind: 'delta', text };
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        usage = usageOf(chunk?.usage) ?? usage;
      }
    } catch (error) {
      throw this.failure(model, error, deadline);
    } finally {
      deadline.clear();
    }
    yield { kind: 'end', finishReason, usage };
  }

  private body(model: ChatModelConfig, messages: readonly ChatMessage[], settings: GenerationSettings) {
    const temperature = settings.temperature ?? model.temperature;
    const maxTokens = settings.maxTokens ?? model.maxTokens;
    return {
      model: model.remoteModel,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
    };
  }

  private client(model: ChatModelConfig): OpenAI {
    const known = this.clients.get(model.name);
    if (known) return known;
    const key = model.apiKeyEnv ? this.env[model.apiKeyEnv] : undefined;
    if (model.apiKeyEnv && !key) {
      throw new ChatFailedError(`chat model ${model.name}: the environment variable ${model.apiKeyEnv}, which holds its API key, is not set`);
    }
    const client = createOpenAIClient({ apiKey: key, baseURL: model.baseURL, maxRetries: model.maxRetries, timeoutMs: model.timeoutMs });
    this.clients.set(model.name, client);
    return client;
  }

  /** The request's own signal, plus the model's deadline for the whole answer. */
  private deadline(model: ChatModelConfig, signal: AbortSignal | undefined): Deadline {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, model.timeoutMs);
    // A stream whose pieces are never read must not keep the process alive until the deadline.
    timer.unref();
    const onAbort = () => {
      clearTimeout(timer);
      controller.abort();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    return {
      signal: controller.signal,
      get timedOut() {
        return timedOut;
      },
      clear() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      },
    };
  }

  private failure(model: ChatModelConfig, error: unknown, deadline: Deadline): QuiverError {
    if (error instanceof QuiverError) return error;
    const scrub = (text: string) => this.scrub(model, text);
    const prefix = `chat model ${model.name}`;
    if (deadline.timedOut || error instanceof OpenAI.APIConnectionTimeoutError) {
      return new ChatFailedError(`${prefix} did not answer within ${model.timeoutMs} ms (timeoutMs)`, { cause: error });
    }
    if (error instanceof OpenAI.APIUserAbortError) return new ChatFailedError(`${prefix}: the request was cancelled`, { cause: error });
    if (error instanceof OpenAI.APIConnectionError) {
      return new ChatFailedError(`${prefix} could not be reached at its baseURL: ${scrub(causeMessage(error))}`, { cause: error });
    }
    if (error instanceof OpenAI.APIError) {
      const status = error.status === undefined ? '' : ` with HTTP ${error.status}`;
      return new ChatFailedError(`${prefix} failed${status}: ${scrub(error.message.replace(/^\d{3}\s*/, ''))}`, { cause: error });
    }
    return new ChatFailedError(`${prefix} answered with something that is not a chat completion`, { cause: error });
  }

  private scrub(model: ChatModelConfig, text: string): string {
    return scrubProviderMessage(text, model.apiKeyEnv ? this.env[model.apiKeyEnv] : undefined);
  }
}

interface Deadline {
  signal: AbortSignal;
  readonly timedOut: boolean;
  clear(): void;
}

function usageOf(usage: OpenAI.CompletionUsage | null | undefined): Usage | undefined {
  if (!usage || typeof usage.prompt_tokens !== 'number') return undefined;
  return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens ?? 0, totalTokens: usage.total_tokens ?? usage.prompt_tokens + (usage.completion_tokens ?? 0) };
}
