/**
 * @module registry
 * Which embedding models exist: the built-in `quiver-local-100d`, always, plus those of one JSON
 * config file. The file is found at the path in QUIVER_EMBEDDING_CONFIG (which must exist), else
 * at `<dataDir>/embedding.json` if that exists; with neither, only the built-in model is there.
 *
 * ```json
 * {
 *   "models": {
 *     "text-embedding-v4": {
 *       "provider": "openai",
 *       "baseURL": "https://dashscope.aliyuncs.com/compatible-mode/v1",
 *       "apiKeyEnv": "DASHSCOPE_API_KEY",
 *       "model": "text-embedding-v4",
 *       "dims": 1024,
 *       "canShorten": true,
 *       "maxBatch": 10,
 *       "maxConcurrency": 4,
 *       "timeoutMs": 30000,
 *       "maxRetries": 5
 *     },
 *     "nomic": { "provider": "openai", "baseURL": "http://127.0.0.1:11434/v1", "model": "nomic-embed-text", "dims": 768 }
 *   },
 *   "cache": { "maxBytes": 1073741824, "maxEntries": 1000000 },
 *   "chat": {
 *     "qwen-plus": {
 *       "provider": "openai",
 *       "baseURL": "https://dashscope.aliyuncs.com/compatible-mode/v1",
 *       "apiKeyEnv": "DASHSCOPE_API_KEY",
 *       "model": "qwen-plus",
 *       "timeoutMs": 120000,
 *       "maxRetries": 2,
 *       "maxTokens": 1024,
 *       "temperature": 0.2
 *     }
 *   }
 * }
 * ```
 *
 * A model's key is the name SQL uses; `model` is the endpoint's name for it (default: the key).
 * Only `provider` and `dims` are required; `baseURL` defaults to OpenAI's, the rest to the
 * DEFAULT_ constants below. `encodingFormat` ("base64", the default, or "float") and `cache`
 * (false to skip the persistent cache) are optional too. Keys starting with `$` are comments.
 *
 * The optional `chat` section names the OpenAI-compatible chat models /v1/chat may generate
 * with (src/chat); the first is the default. Only `provider` is required; `model` defaults to
 * the key, `timeoutMs` (one whole answer) and `maxRetries` to the DEFAULT_CHAT_ constants, and
 * `maxTokens` / `temperature` are sent only when set. Without the section /v1/chat answers
 * extractively.
 *
 * Secrets live only in the environment: `apiKeyEnv` names the variable, and a file holding a
 * key (a field like `apiKey`, or a value that looks like one) is refused with an error that
 * does not repeat it. Unknown fields are refused too, so a typo never silently becomes a default.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuiverError, MAX_VECTOR_DIMS, MIN_VECTOR_DIMS } from '../core/index.ts';
import type { EmbeddingProvider, ModelInfo, ProviderKind } from './provider.ts';
import { LOCAL_MODEL_NAME, LocalProvider } from './providers/local.ts';
import { OPENAI_DEFAULT_BASE_URL } from './providers/openai.ts';
import { ProviderThread } from './providers/provider-thread.ts';

export const EMBEDDING_CONFIG_ENV = 'QUIVER_EMBEDDING_CONFIG';
export const EMBEDDING_CONFIG_FILE = 'embedding.json';

export const DEFAULT_MAX_BATCH = 32;
export const MIN_MAX_BATCH = 1;
/** OpenAI's own limit on inputs per request. */
export const MAX_MAX_BATCH = 2048;
export const DEFAULT_MAX_CONCURRENCY = 4;
export const MIN_MAX_CONCURRENCY = 1;
export const MAX_MAX_CONCURRENCY = 64;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const MIN_TIMEOUT_MS = 100;
export const MAX_TIMEOUT_MS = 600_000;
export const DEFAULT_MAX_RETRIES = 5;
export const MIN_MAX_RETRIES = 0;
export const MAX_MAX_RETRIES = 20;

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Field names that can only mean a secret written into the file. */
const SECRET_FIELD = /^(api[-_]?key|key|token|access[-_]?token|secret|password|authorization|bearer)$/i;
/** Values shaped like the keys of the vendors we talk to. */
const SECRET_VALUE = /\b(?:sk-|hf_)[A-Za-z0-9_-]{8,}/;

const MODEL_FIELDS = new Set([
  'provider', 'baseURL', 'apiKeyEnv', 'model', 'dims', 'canShorten', 'maxBatch', 'maxConcurrency',
  'timeoutMs', 'maxRetries', 'encodingFormat', 'cache',
]);

/** Fields of a chat model in the `chat` section (used by /v1/chat, see src/chat). */
const CHAT_MODEL_FIELDS = new Set(['provider', 'baseURL', 'apiKeyEnv', 'model', 'timeoutMs', 'maxRetries', 'maxTokens', 'temperature']);
/** A whole answer, streamed or not, must arrive within this unless the config says otherwise. */
export const DEFAULT_CHAT_TIMEOUT_MS = 120_000;
/** Retries of a chat request after a 429, a 5xx or a dropped connection (the SDK's own backoff). */
export const DEFAULT_CHAT_MAX_RETRIES = 2;
export const MAX_CHAT_MAX_TOKENS = 1_000_000;

/** A mistake in the embedding config file; raised when opening, so a server refuses to start with it. */
export class EmbeddingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddingConfigError';
  }
}

/** Bounds of the persistent cache as the config file gives them. */
export interface CacheBounds {
  maxBytes?: number;
  maxEntries?: number;
}

/** One configured OpenAI-compatible model, validated. */
export interface OpenAIModelConfig {
  info: ModelInfo;
  baseURL: string;
  remoteModel: string;
  apiKeyEnv: string | undefined;
  encodingFormat: 'float' | 'base64';
}

/** One chat model of the `chat` section, validated: an OpenAI-compatible chat completions endpoint. */
export interface ChatModelConfig {
  /** The name requests use (`"model"` in /v1/chat). */
  name: string;
  baseURL: string;
  /** The endpoint's name for the model (default: the key). */
  remoteModel: string;
  apiKeyEnv: string | undefined;
  /** Deadline of one whole answer, streamed or not. */
  timeoutMs: number;
  maxRetries: number;
  /** Sent as `max_tokens` when set. */
  maxTokens: number | undefined;
  /** Sent as `temperature` when set. */
  temperature: number | undefined;
}

/** The config file, validated. */
export interface EmbeddingConfig {
  /** Where it was read from; undefined when there is no file. */
  path: string | undefined;
  models: OpenAIModelConfig[];
  cache: CacheBounds;
  /** Chat models for /v1/chat, in file order (the first is the default); empty without a `chat` section. */
  chat: ChatModelConfig[];
}

/** A model as SHOW EMBEDDING MODELS lists it: never a key, a key's variable or an endpoint. */
export interface ModelSummary {
  name: string;
  provider: ProviderKind;
  /** The endpoint's name for the model. */
  model: string;
  dims: number;
  canShorten: boolean;
  maxBatch: number;
  maxConcurrency: number;
  timeoutMs: number;
  maxRetries: number;
  cached: boolean;
}

/** The config file to read: explicit path, else QUIVER_EMBEDDING_CONFIG, else `<dataDir>/embedding.json` if present. */
export function findConfigPath(options: { configPath?: string; dataDir?: string; env: NodeJS.ProcessEnv }): string | undefined {
  const explicit = options.configPath ?? options.env[EMBEDDING_CONFIG_ENV];
  if (explicit) {
    if (!existsSync(explicit)) throw new EmbeddingConfigError(`embedding config ${explicit} does not exist`);
    return explicit;
  }
  if (options.dataDir) {
    const inDataDir = join(options.dataDir, EMBEDDING_CONFIG_FILE);
    if (existsSync(inDataDir)) return inDataDir;
  }
  return undefined;
}

/** Reads and validates the config file at `path` (none: only the built-in model). */
export function loadConfig(path: string | undefined): EmbeddingConfig {
  if (path === undefined) return { path, models: [], cache: {}, chat: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new EmbeddingConfigError(`embedding config ${path} is not readable JSON: ${(error as Error).message}`);
  }
  return parseConfig(raw, path);
}

/** Validates a config document; `where` names it in errors. */
export function parseConfig(raw: unknown, where: string): EmbeddingConfig {
  const fail = (message: string): never => {
    throw new EmbeddingConfigError(`embedding config ${where}: ${message}`);
  };
  refuseSecrets(raw, '', fail);
  if (!isObject(raw)) return fail('must be a JSON object with a "models" object');
  checkFields(raw, new Set(['models', 'cache', 'chat']), '', fail);
  const models: OpenAIModelConfig[] = [];
  const modelsRaw = raw.models ?? {};
  if (!isObject(modelsRaw)) return fail('"models" must be an object of model name -> settings');
  const seen = new Map<string, string>();
  for (const [name, settings] of Object.entries(modelsRaw)) {
    if (name.startsWith('$')) continue;
    if (!MODEL_NAME.test(name)) fail(`model name "${name.slice(0, 64)}" must be 1-128 letters, digits or . _ : / @ + -, starting with a letter or digit`);
    if (name.toLowerCase() === LOCAL_MODEL_NAME) fail(`"${LOCAL_MODEL_NAME}" is the built-in model; choose another name`);
    const clash = seen.get(name.toLowerCase());
    if (clash) fail(`model names "${clash}" and "${name}" differ only in case; SQL would not tell them apart`);
    seen.set(name.toLowerCase(), name);
    models.push(parseModel(name, settings, (message) => fail(`model "${name}": ${message}`)));
  }
  const cacheRaw = raw.cache ?? {};
  if (!isObject(cacheRaw)) return fail('"cache" must be an object');
  checkFields(cacheRaw, new Set(['maxBytes', 'maxEntries']), 'cache.', fail);
  const cache: CacheBounds = {};
  if (cacheRaw.maxBytes !== undefined) cache.maxBytes = integerIn(cacheRaw.maxBytes, 'cache.maxBytes', 1, Number.MAX_SAFE_INTEGER, fail);
  if (cacheRaw.maxEntries !== undefined) cache.maxEntries = integerIn(cacheRaw.maxEntries, 'cache.maxEntries', 1, Number.MAX_SAFE_INTEGER, fail);
  const chatRaw = raw.chat ?? {};
  if (!isObject(chatRaw)) return fail('"chat" must be an object of chat model name -> settings');
  const chat: ChatModelConfig[] = [];
  const seenChat = new Map<string, string>();
  for (const [name, settings] of Object.entries(chatRaw)) {
    if (name.startsWith('$')) continue;
    if (!MODEL_NAME.test(name)) fail(`chat model name "${name.slice(0, 64)}" must be 1-128 letters, digits or . _ : / @ + -, starting with a letter or digit`);
    const clash = seenChat.get(name.toLowerCase());
    if (clash) fail(`chat model names "${clash}" and "${name}" differ only in case`);
    seenChat.set(name.toLowerCase(), name);
    chat.push(parseChatModel(name, settings, (message) => fail(`chat model "${name}": ${message}`)));
  }
  return { path: where, models, cache, chat };
}

function parseModel(name: string, settings: unknown, fail: (message: string) => never): OpenAIModelConfig {
  if (!isObject(settings)) return fail('settings must be an object');
  checkFields(settings, MODEL_FIELDS, '', fail);
  if (settings.provider !== 'openai') {
    return fail(`"provider" must be "openai" (any OpenAI-compatible endpoint); got ${JSON.stringify(settings.provider)}`);
  }
  const { baseURL, url } = parseBaseURL(settings.baseURL, fail);
  const apiKeyEnv = parseApiKeyEnv(settings.apiKeyEnv, fail);
  const remoteModel = settings.model ?? name;
  if (typeof remoteModel !== 'string' || remoteModel === '') fail('"model" must be a non-empty string');
  if (settings.dims === undefined) fail(`"dims" is required: the model's own dimension count`);
  const dims = integerIn(settings.dims, 'dims', MIN_VECTOR_DIMS, MAX_VECTOR_DIMS, fail);
  // base64 by default: it is what the openai SDK itself asks for, and a server refusing it by
  // name is asked again with float (providers/openai.ts).
  const encodingFormat = settings.encodingFormat ?? 'base64';
  if (encodingFormat !== 'float' && encodingFormat !== 'base64') fail('"encodingFormat" must be "float" or "base64"');
  const maxBatch = integerIn(settings.maxBatch ?? DEFAULT_MAX_BATCH, 'maxBatch', MIN_MAX_BATCH, MAX_MAX_BATCH, fail);
  const maxConcurrency = integerIn(settings.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY, 'maxConcurrency', MIN_MAX_CONCURRENCY, MAX_MAX_CONCURRENCY, fail);
  const timeoutMs = integerIn(settings.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs', MIN_TIMEOUT_MS, MAX_TIMEOUT_MS, fail);
  const maxRetries = integerIn(settings.maxRetries ?? DEFAULT_MAX_RETRIES, 'maxRetries', MIN_MAX_RETRIES, MAX_MAX_RETRIES, fail);
  const canShorten = booleanOr(settings.canShorten, false, 'canShorten', fail);
  const cache = booleanOr(settings.cache, true, 'cache', fail);
  const endpoint = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return {
    info: {
      name,
      provider: 'openai',
      dims,
      canShorten,
      maxBatch,
      maxConcurrency,
      timeoutMs,
      maxRetries,
      cache,
      identity: `openai:${endpoint}:${remoteModel as string}`,
    },
    baseURL,
    remoteModel: remoteModel as string,
    apiKeyEnv: apiKeyEnv as string | undefined,
    encodingFormat,
  };
}

/** An endpoint's `baseURL` (default OpenAI's): http(s), without credentials in it. */
function parseBaseURL(value: unknown, fail: (message: string) => never): { baseURL: string; url: URL } {
  const baseURL = value ?? OPENAI_DEFAULT_BASE_URL;
  if (typeof baseURL !== 'string') return fail('"baseURL" must be a URL string');
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    return fail('"baseURL" is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('"baseURL" must be http or https');
  if (url.username || url.password) fail('"baseURL" must not carry credentials; name the key\'s variable in "apiKeyEnv"');
  return { baseURL, url };
}

/** `apiKeyEnv`: the name of the variable holding the key, never the key. */
function parseApiKeyEnv(value: unknown, fail: (message: string) => never): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || !ENV_NAME.test(value))) {
    // Not echoed: a value that is not a variable name may well be the key itself.
    fail('"apiKeyEnv" must be the name of an environment variable (like DASHSCOPE_API_KEY), not the key');
  }
  return value as string | undefined;
}

function parseChatModel(name: string, settings: unknown, fail: (message: string) => never): ChatModelConfig {
  if (!isObject(settings)) return fail('settings must be an object');
  checkFields(settings, CHAT_MODEL_FIELDS, '', fail);
  if (settings.provider !== 'openai') {
    return fail(`"provider" must be "openai" (any OpenAI-compatible chat completions endpoint); got ${JSON.stringify(settings.provider)}`);
  }
  const { baseURL } = parseBaseURL(settings.baseURL, fail);
  const apiKeyEnv = parseApiKeyEnv(settings.apiKeyEnv, fail);
  const remoteModel = settings.model ?? name;
  if (typeof remoteModel !== 'string' || remoteModel === '') fail('"model" must be a non-empty string');
  const timeoutMs = integerIn(settings.timeoutMs ?? DEFAULT_CHAT_TIMEOUT_MS, 'timeoutMs', MIN_TIMEOUT_MS, MAX_TIMEOUT_MS, fail);
  const maxRetries = integerIn(settings.maxRetries ?? DEFAULT_CHAT_MAX_RETRIES, 'maxRetries', MIN_MAX_RETRIES, MAX_MAX_RETRIES, fail);
  const maxTokens = settings.maxTokens === undefined ? undefined : integerIn(settings.maxTokens, 'maxTokens', 1, MAX_CHAT_MAX_TOKENS, fail);
  let temperature: number | undefined;
  if (settings.temperature !== undefined) {
    const t = settings.temperature;
    if (typeof t !== 'number' || !(t >= 0 && t <= 2)) fail(`"temperature" must be a number from 0 to 2; got ${JSON.stringify(t)}`);
    temperature = t as number;
  }
  return { name, baseURL, remoteModel: remoteModel as string, apiKeyEnv, timeoutMs, maxRetries, maxTokens, temperature };
}

/** Throws at the first field that holds a secret, naming where without repeating it. */
function refuseSecrets(value: unknown, path: string, fail: (message: string) => never): void {
  if (typeof value === 'string') {
    if (SECRET_VALUE.test(value)) fail(`${path || 'a value'} looks like an API key; keys belong in the environment, named by "apiKeyEnv"`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => refuseSecrets(item, `${path}[${i}]`, fail));
    return;
  }
  if (!isObject(value)) return;
  for (const [key, inner] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (SECRET_FIELD.test(key)) {
      fail(`"${at}" would put a secret in the file; set an environment variable instead and name it in "apiKeyEnv"`);
    }
    refuseSecrets(inner, at, fail);
  }
}

function checkFields(object: Record<string, unknown>, allowed: Set<string>, prefix: string, fail: (message: string) => never): void {
  for (const key of Object.keys(object)) {
    if (!allowed.has(key) && !key.startsWith('$')) fail(`unknown field "${prefix}${key}"; expected one of ${[...allowed].join(', ')}`);
  }
}

function integerIn(value: unknown, field: string, min: number, max: number, fail: (message: string) => never): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    return fail(`"${field}" must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
  return value;
}

function booleanOr(value: unknown, fallback: boolean, field: string, fail: (message: string) => never): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') return fail(`"${field}" must be true or false`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface ModelRegistryOptions {
  env: NodeJS.ProcessEnv;
  /** Where the built-in model's converted file lives. */
  cacheDir: string;
}

/** The models of one Embeddings instance, by SQL name (case-insensitive). */
export class ModelRegistry {
  private readonly byName = new Map<string, EmbeddingProvider>();
  private readonly summaries: ModelSummary[] = [];
  /** Where the OpenAI-compatible models run their requests. */
  private readonly thread = new ProviderThread();

  constructor(config: EmbeddingConfig, options: ModelRegistryOptions) {
    const local = new LocalProvider({ cacheDir: options.cacheDir });
    this.add(local, LOCAL_MODEL_NAME);
    for (const model of config.models) {
      const { info, baseURL, remoteModel, apiKeyEnv, encodingFormat } = model;
      this.add(this.thread.add({ model: info, baseURL, remoteModel, apiKeyEnv, encodingFormat, env: options.env }), remoteModel);
    }
  }

  /** Stops the providers' thread; requests in flight fail. */
  close(): void {
    this.thread.close();
  }

  private add(provider: EmbeddingProvider, remoteModel: string): void {
    const info = provider.model;
    this.byName.set(info.name.toLowerCase(), provider);
    this.summaries.push({
      name: info.name,
      provider: info.provider,
      model: remoteModel,
      dims: info.dims,
      canShorten: info.canShorten,
      maxBatch: info.maxBatch,
      maxConcurrency: info.maxConcurrency,
      timeoutMs: info.timeoutMs,
      maxRetries: info.maxRetries,
      cached: info.cache,
    });
  }

  /** The provider of model `name`; UNKNOWN_MODEL listing the models there are. */
  get(name: string): EmbeddingProvider {
    const provider = this.byName.get(name.toLowerCase());
    if (provider) return provider;
    const known = this.summaries.map((m) => m.name).join(', ');
    throw new QuiverError('UNKNOWN_MODEL', `unknown embedding model '${name.slice(0, 128)}'; the configured models are: ${known}`);
  }

  /** Every model, built-in first, in config order. */
  list(): ModelSummary[] {
    return this.summaries.map((m) => ({ ...m }));
  }

  /** The dims EMBEDDING() produces for `name` (its own when `dims` is undefined); EMBEDDING_DIMENSIONS if it cannot. */
  resolveDims(name: string, dims: number | undefined): number {
    const info = this.get(name).model;
    if (dims === undefined) return info.dims;
    if (!Number.isInteger(dims)) throw new QuiverError('EMBEDDING_DIMENSIONS', `dims must be an integer; got ${dims}`);
    if (info.canShorten) {
      if (dims < MIN_VECTOR_DIMS || dims > info.dims) {
        throw new QuiverError('EMBEDDING_DIMENSIONS', `model ${info.name} makes ${MIN_VECTOR_DIMS} to ${info.dims} dimensions; got ${dims}`);
      }
    } else if (dims !== info.dims) {
      throw new QuiverError(
        'EMBEDDING_DIMENSIONS',
        `model ${info.name} makes ${info.dims}-dimensional vectors and cannot shorten them; got ${dims}`,
      );
    }
    return dims;
  }
}
